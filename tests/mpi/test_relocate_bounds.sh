#!/bin/bash
# test_relocate_bounds.sh - relocation's work is bounded for hostile
# bundles, and leaves nothing behind (issue 21, items 3 and 4), run with
# the built bcast under mpiexec (MPICH by default) into prefixes under
# /dev/shm, with PYTHON_MPI_MAX_UNPACKED=8M:
#   A  a 12 KB bundle whose manifest names big.txt 100 times, prefix
#      /dev/shm (a prefix of every tree's path): refused in one line
#      before anything is rewritten (it grew big.txt to 86-338 MB);
#   B  the same file named once by each of 80 bundles' manifests: one
#      budget for all the passes, refused in one line at 8M;
#   C  a relocation of a 200 MB file killed (SIGKILL) mid-rewrite leaves
#      no FILE.relocate-PID, and the next delivery applies no old manifest.
#   D  `pkgroot verify` refuses A's bundle with the reason python-mpi gives.
# Against the build before issue 21 every check fails.
set -u
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d /tmp/pympi-relb.XXXXXX)
SHM=$(mktemp -d /dev/shm/pympi-relb.XXXXXX)
cleanup() {
    [ -n "${KILLME:-}" ] && kill -9 "$KILLME" 2>/dev/null
    rm -rf "$TMP" "$SHM"
}
trap cleanup EXIT
HOST=$(hostname)
R="rank 0 on $HOST"
LIMIT=$((8 << 20))
export PYTHON_MPI_MAX_UNPACKED=8M
unset PYTHON_MPI_PACKAGES PYTHON_MPI_HOME

# mkbundles OUTDIR N PREFIX BODY_MB NAMES [TAG [EVERY]]: N bundles
# TAG00.tar.gz ... (TAG: b); the first holds big.txt (BODY_MB MiB of
# 128-byte lines, every EVERY-th (1) starting with PREFIX) and every one a
# manifest .python-mpi-relocate/TAGNN listing big.txt NAMES times, from
# PREFIX.
mkbundles() {
    "$PYTHON" - "$@" <<'PY'
import io, sys, tarfile
out, n, prefix, mb, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
tag = sys.argv[6] if len(sys.argv) > 6 else "b"
every = int(sys.argv[7]) if len(sys.argv) > 7 else 1
line = (prefix.encode() + b"x" * 128)[:127] + b"\n"
lines = line + (b"x" * 127 + b"\n") * (every - 1)
body = lines * ((mb << 13) // every)
for i in range(n):
    man = b"python-mpi-relocate 1\nprefix " + prefix.encode() + b"\n" + b"text big.txt\n" * names
    files = [(".python-mpi-relocate/%s%02d" % (tag, i), man)]
    if i == 0:
        files.insert(0, ("big.txt", body))
    with tarfile.open("%s/%s%02d.tar.gz" % (out, tag, i), "w:gz", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            e = tarfile.TarInfo(name); e.size = len(data); e.mode = 0o644
            t.addfile(e, io.BytesIO(data))
PY
}

# deliver NAME PREFIX BUNDLE...: bcast -p PREFIX (fresh: a failure
# removes it, so the output is the one line) then again into PREFIX-kept,
# made first (a failure keeps it, so big.txt can be measured); sets rc,
# out (the first run's output) and size (big.txt after the second).
deliver() {
    local name=$1 prefix=$2; shift 2
    timeout 300 "$MPIEXEC" -n 1 "$BIN/bcast" -p "$prefix" "$@" >"$TMP/$name.out" 2>&1; rc=$?
    out=$TMP/$name.out
    mkdir -m 0700 "$prefix-kept"
    timeout 300 "$MPIEXEC" -n 1 "$BIN/bcast" -p "$prefix-kept" "$@" >"$TMP/$name-kept.out" 2>&1
    size=$(stat -c %s "$prefix-kept/big.txt" 2>/dev/null || echo 0)
}

# Leftovers of a relocation: temporaries, manifests.
leftovers() { find "$1" \( -name '*.relocate-*' -o -name .python-mpi-relocate \) 2>/dev/null; }

# --- A: one file named 100 times ---------------------------------------------
mkdir "$TMP/a"
mkbundles "$TMP/a" 1 /dev/shm 1 100
PA=$SHM/a
deliver a "$PA" "$TMP/a/b00.tar.gz"
want="bcast: $R: $PA/.python-mpi-relocate/b00: line 4: 'big.txt' named twice (first on line 3)"
if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(t_error_lines "$out")" = 1 ] && grep -qxF "$want" "$out" &&
   [ ! -e "$PA" ] && [ "$size" -le $LIMIT ] && [ "$(stat -c %s "$TMP/a/b00.tar.gz")" -lt 16384 ] &&
   [ -z "$(leftovers "$PA-kept")" ]; then
    t_ok "A: a manifest naming one file 100 times is refused in one line (big.txt $size bytes, limit $LIMIT)"
else
    t_fail "A: file named 100 times (rc=$rc, big.txt $size bytes, limit $LIMIT)" "$(cat "$out" "$TMP/a-kept.out"; leftovers "$PA-kept")"
fi

# --- D: pkgroot verify refuses A's bundle with the same reason -----------------
rc=0; "$BIN/pkgroot" verify "$TMP/a/b00.tar.gz" >"$TMP/d.out" 2>"$TMP/d.err" || rc=$?
want="pkgroot: verify: $TMP/a/b00.tar.gz: .python-mpi-relocate/b00: line 4: 'big.txt' named twice (first on line 3)"
if [ $rc = 1 ] && [ "$(cat "$TMP/d.err")" = "$want" ]; then
    t_ok "D: pkgroot verify refuses a manifest naming one file twice, in the same words"
else
    t_fail "D: pkgroot verify of the 100-names bundle (rc=$rc)" "$(cat "$TMP/d.err")"
fi

# --- B: 80 bundles, each manifest naming the same file once --------------------
mkdir "$TMP/b"
mkbundles "$TMP/b" 80 /dev/shm 1 1
PB=$SHM/b
deliver b "$PB" "$TMP"/b/b*.tar.gz
re="^bcast: $R: $PB/big\\.txt: cannot relocate: relocation would (read|write) more than $LIMIT bytes in all, the limit \\(PYTHON_MPI_MAX_UNPACKED, default the size of the tree's file system\\)\$"
if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(t_error_lines "$out")" = 1 ] && grep -Eq "$re" "$out" &&
   [ ! -e "$PB" ] && [ "$size" -le $LIMIT ] && [ -z "$(leftovers "$PB-kept")" ]; then
    t_ok "B: 80 manifests naming one file share one budget: refused at the limit (big.txt $size bytes)"
else
    t_fail "B: one file, 80 manifests (rc=$rc, big.txt $size bytes, limit $LIMIT)" "$(cat "$out" "$TMP/b-kept.out"; leftovers "$PB-kept")"
fi

# --- C: SIGKILL mid-rewrite -----------------------------------------------------
# 200 MiB, the prefix every 1 MiB (a few hundred KB compressed; few
# occurrences, so a sanitizer build's memmem is quick too): the rewrite
# takes long enough to be caught.  The kill comes when big.txt is
# no longer the file unpacked (rewritten under its name) or a
# big.txt.relocate-PID appears (before issue 21).
unset PYTHON_MPI_MAX_UNPACKED
OLD=/opt/conda-build-prefix-0123456789
mkdir "$TMP/c" "$TMP/c2"
mkbundles "$TMP/c" 1 $OLD 200 1 b 8192
mkbundles "$TMP/c2" 1 $OLD 1 0 next   # the next, unrelated bundle: it lists nothing
PC=$SHM/c
mkdir -m 0700 "$PC"
setsid "$MPIEXEC" -n 1 "$BIN/bcast" -p "$PC" "$TMP/c/b00.tar.gz" >"$TMP/c.out" 2>&1 &
KILLME=$!
ino= caught=0
for i in $(seq 3000); do   # up to 5 minutes
    now=$(stat -c %i "$PC/big.txt" 2>/dev/null)
    if [ -z "$ino" ] && [ -n "$now" ] && [ "$(stat -c %s "$PC/big.txt" 2>/dev/null)" = $((200 << 20)) ]; then
        ino=$now
    elif [ -n "$ino" ] && { [ "$now" != "$ino" ] || [ -n "$(find "$PC" -name '*.relocate-*')" ]; }; then
        # the rank itself: Open MPI's ranks are not in the launcher's group
        pkill -KILL -f -- "bcast -p $PC " 2>/dev/null
        kill -9 -- -"$KILLME" 2>/dev/null
        caught=1
        break
    fi
    kill -0 "$KILLME" 2>/dev/null || break
    sleep 0.05
done
kill -9 -- -"$KILLME" 2>/dev/null
{ wait "$KILLME"; } 2>/dev/null
KILLME=
tmps=$(find "$PC" -name '*.relocate-*')
if [ $caught = 0 ]; then
    t_skip "C: SIGKILL mid-rewrite" "the rewrite was not caught in time: $(tr '\n' ' ' < "$TMP/c.out")"
elif [ -z "$tmps" ]; then
    t_ok "C: a relocation killed mid-rewrite leaves no temporary"
else
    t_fail "C: a killed relocation left a temporary" "$(ls -la $tmps)"
fi
# The next delivery into the prefix, of another bundle whose big.txt holds
# the old prefix but which lists nothing: the killed one's manifest is never
# applied to it.  The prefix is marked as changing (a delivery is a
# transaction, issue 21): the next delivery refuses it in one line.
timeout 300 "$MPIEXEC" -n 1 "$BIN/bcast" -p "$PC" "$TMP/c2/next00.tar.gz" >"$TMP/c2.out" 2>&1; rc=$?
if [ $caught = 0 ]; then
    t_skip "C: the next delivery after the kill" "the rewrite was not caught in time (above)"
elif [ $rc = 1 ] && [ "$(t_error_lines "$TMP/c2.out")" = 1 ] &&
   grep -q "$PC: refusing to deliver: an earlier delivery into it was interrupted" "$TMP/c2.out" &&
   [ -z "$(find "$PC" -name '*.relocate-*')" ]; then
    t_ok "C: the next delivery refuses the interrupted prefix in one line; no old manifest applied"
else
    t_fail "C: the next delivery (rc=$rc)" "$(cat "$TMP/c2.out"; leftovers "$PC")"
fi

t_done relocate_bounds
