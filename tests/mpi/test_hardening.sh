#!/bin/bash
# test_hardening.sh - hostile bundles, private directories, integrity,
# resource exhaustion and faults (issue: hardening).  Each case checks the
# one error line, a prompt non-zero exit, and that nothing is left behind.
set -u
. "$(dirname "$0")/../lib.sh"
SIM=$REPO/tests/cluster

TMP=$(mktemp -d /tmp/pympi-hard.XXXXXX)
SHM=$(t_shm_scratch pympi-hard-shm)   # PYTHON_MPI_CHROOT, and the simulated nodes' /dev/shm
cleanup() { umount "$TMP/tiny" 2>/dev/null; chmod -R u+rwx "$TMP" "$SHM" 2>/dev/null; rm -rf "$TMP" "$SHM"; }
trap cleanup EXIT
ROOT=$TMP/pkgs
mkdir -p "$ROOT" "$SHM"
chmod 755 "$TMP" "$ROOT"
RUNTIME=$(t_runtime_bundle) || { t_fail "pkgroot python"; t_done hardening; exit 1; }
cp "$RUNTIME" "$ROOT/runtime.tar.zst"
cp "$REPO"/tests/fuzz/corpus/*.tar "$ROOT/"
export PYTHON_MPI_PKGROOT=$ROOT PYTHON_MPI_CHROOT=$SHM
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME PYTHON_MPI_PACKAGES
PM=$BIN/python-mpi

# bad NAME REGEX CMD...: see test_mpi.sh
bad() {
    local name=$1 re=$2; shift 2
    local start took rc lines
    start=$(date +%s)
    timeout 60 "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    took=$(( $(date +%s) - start ))
    lines=$(t_error_lines "$TMP/err")
    if [ $rc != 0 ] && [ $rc != 124 ] && [ "$lines" -ge 1 ] && grep -Eq "$re" "$TMP/err" &&
       [ -z "$(ls -A "$SHM" | grep -vx "${BAD_ALLOW:-}" | grep -vx "python-mpi-$(id -u)")" ] &&
       { [ "${BAD_ALLOW:-}" = "python-mpi-$(id -u)" ] || t_empty_dir "$SHM/python-mpi-$(id -u)"; }; then
        t_ok "$name: exit $rc in ${took}s, nothing left"
    else
        t_fail "$name (rc=$rc, ${took}s, $lines error lines)" "$(cat "$TMP/err"; ls -laR "$SHM" 2>/dev/null | head)"
    fi
    if [ -n "${BAD_ALLOW:-}" ] && ! [ -e "$SHM/$BAD_ALLOW" -o -L "$SHM/$BAD_ALLOW" ]; then
        t_fail "$name: the product removed a path it refused to use"
    fi
    rm -rf "${SHM:?}"/* 2>/dev/null
    return 0
}

# --- hostile bundles -----------------------------------------------------
for case in "dotdot.tar:entry 'a/../../canary': path leads outside" \
            "absolute.tar:entry '/tmp/x': path leads outside" \
            "symlink-escape.tar:entry 'a/l': symbolic link to '../../canary' leads outside" \
            "symlink-then-write.tar:entry 'l': symbolic link to '..' leads outside" \
            "hard-escape.tar:entry 'h': hard link to '../canary' leads outside" \
            "symlink-chain.tar:entry 'a/l2': symbolic link to 'l1/../canary' leads outside" \
            "fifo.tar:entry 'p': refusing to create a FIFO"; do
    b=${case%%:*} re=${case#*:}
    bad "hostile bundle $b refused" "$ROOT/$b: $re" \
        env PYTHON_MPI_PACKAGES=runtime.tar.zst:$b "$MPIEXEC" -n 2 "$PM" -c pass
    [ -e "$TMP/canary" ] && t_fail "$b created a file outside the destination"
done
# Hostile parts are refused by whichever unpacker takes them, with the
# node's unpackers a subset of its ranks (PYTHON_MPI_UNPACKERS).  Every part
# is hostile and an unpacker stops at its first, so each of the U
# unpackers, the leader and the others, refuses one; no other rank speaks.
/usr/bin/python3 - "$ROOT/hostile.ptar" <<'PY'
import io, subprocess, sys, tarfile
def tar(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()
zst = lambda raw: subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
parts = [("part-%04d.tar.zst" % i, zst(tar([("ok%d.txt" % i, b"ok"), ("../escape", b"x")]))) for i in range(4)]
with open(sys.argv[1], "wb") as f:
    f.write(tar([(".python-mpi-parts", b"python-mpi parts bundle, version 1\nparts 0000000004\n")] + parts))
PY
for nu in "4 1" "4 2" "8 2" "8 3"; do
    set -- $nu
    bad "-n $1, $2 unpacker(s): hostile parts are refused" \
        "rank 0 on [^:]+: $ROOT/hostile.ptar: entry '../escape': path leads outside the destination" \
        env PYTHON_MPI_UNPACKERS=$2 PYTHON_MPI_PACKAGES=runtime.tar.zst:hostile.ptar "$MPIEXEC" -n $1 "$PM" -c pass
    who=$(grep -F "$ROOT/hostile.ptar: entry '../escape': path leads outside the destination" "$TMP/err" |
          sed -E 's/^python-mpi: rank ([0-9]+) .*/\1/' | sort -n | paste -sd' ')
    [ "$who" = "$(seq -s' ' 0 $(($2 - 1)))" ] && t_ok "-n $1, $2 unpacker(s): each unpacker refused the part it took (ranks $who)" ||
        t_fail "-n $1, $2 unpacker(s): refusals from ranks '$who'" "$(cat "$TMP/err")"
done
/usr/bin/python3 - "$ROOT/setuid.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, mode, kind in [("lib/python3/dist-packages/open", 0o777, tarfile.DIRTYPE),
                             ("lib/python3/dist-packages/open/suid.py", 0o6777, tarfile.REGTYPE),
                             ("lib/python3/dist-packages/ro", 0o500, tarfile.DIRTYPE)]:
        ti = tarfile.TarInfo(name); ti.mode = mode; ti.type = kind
        t.addfile(ti, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
PY
if PYTHON_MPI_PACKAGES=runtime.tar.zst:setuid.tar timeout 60 "$MPIEXEC" -n 1 "$PM" -c '
import os, stat
home = os.environ["PYTHON_MPI_HOME"]
sp = os.path.join(home, "lib/python3/dist-packages")
mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode))
bad = [os.path.join(d, f) for d, ds, fs in os.walk(home) for f in ds + fs
       if not os.path.islink(os.path.join(d, f)) and os.stat(os.path.join(d, f)).st_mode & 0o7022]
print("modes", mode(sp + "/open/suid.py"), mode(sp + "/open"), mode(sp + "/ro"), len(bad), mode(os.path.dirname(home)))' >"$TMP/out" 2>"$TMP/err" &&
   grep -q '^modes 0o755 0o755 0o700 0 0o700$' "$TMP/out" && t_empty_dir "$SHM"; then
    t_ok "set-id and group/other write bits stripped (06777 -> 0755, 0777 -> 0755, 0500 dir -> 0700); user dir 0700; removed after"
else t_fail "mode sanitising" "$(cat "$TMP/out" "$TMP/err")"; fi
rm -rf "${SHM:?}"/*

# --- private directories ---------------------------------------------------
U=$SHM/python-mpi-$(id -u)
mkdir -p "$TMP/elsewhere"; ln -s "$TMP/elsewhere" "$U"
BAD_ALLOW=$(basename "$U") bad "a symlink planted as the user directory is refused" "$U: refusing to use: $U is a symbolic link" \
    env PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
t_check "nothing was written through the planted symlink" t_empty_dir "$TMP/elsewhere"
if [ "$(id -u)" = 0 ]; then
    mkdir -m 700 "$U"; chown 65534:65534 "$U"
    BAD_ALLOW=$(basename "$U") bad "a user directory owned by someone else is refused" "$U: refusing to use: $U is owned by uid 65534, not 0" \
        env PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
fi
# Two jobs with the same batch id on one node at once, and a dead job's tree.
mkdir -m 700 "$U"; mkdir -p "$U/123.dead-run/lib"; : > "$U/123.dead-run.lock"
export SLURM_JOB_ID=123
PYTHON_MPI_PACKAGES=runtime.tar.zst PYTHON_MPI_VERBOSE=1 timeout 60 "$MPIEXEC" -n 2 "$PM" -c 'import os, time; os.write(1, (os.environ["PYTHON_MPI_HOME"] + "\n").encode()); time.sleep(2)' >"$TMP/a" 2>"$TMP/a.err" &
PYTHON_MPI_PACKAGES=runtime.tar.zst PYTHON_MPI_VERBOSE=1 timeout 60 "$MPIEXEC" -n 2 "$PM" -c 'import os, time; os.write(1, (os.environ["PYTHON_MPI_HOME"] + "\n").encode()); time.sleep(2)' >"$TMP/b" 2>"$TMP/b.err"; rb=$?
wait $!; ra=$?
unset SLURM_JOB_ID
if [ $ra = 0 ] && [ $rb = 0 ] && [ "$(sort -u "$TMP/a" "$TMP/b" | wc -l)" = 2 ] && grep -q "^$U/123\." "$TMP/a"; then
    t_ok "two concurrent jobs with the same job id get separate directories named after it"
else t_fail "concurrent jobs" "$(cat "$TMP/a" "$TMP/b" "$TMP/a.err" "$TMP/b.err")"; fi
if grep -q "reclaimed $U/123.dead-run" "$TMP/a.err" "$TMP/b.err" && t_empty_dir "$SHM"; then
    t_ok "a dead job's directory (lock not held) is reclaimed; all removed after"
else t_fail "stale reclaim" "$(cat "$TMP/a.err" "$TMP/b.err"; ls -la "$U" 2>&1)"; fi
rm -rf "${SHM:?}"/*

# --- faults --------------------------------------------------------------------
start=$(date +%s)
PYTHON_MPI_PACKAGES=runtime.tar.zst timeout 60 "$MPIEXEC" -n 4 "$PM" -c '
import os, signal, time
if (os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]) == "1":
    os.kill(os.getpid(), signal.SIGKILL)
time.sleep(100)' >"$TMP/out" 2>&1; rc=$?
took=$(( $(date +%s) - start ))
if [ $rc != 0 ] && [ $rc != 124 ] && [ $took -lt 30 ] && t_wait_empty "$SHM"; then
    t_ok "a rank killed with SIGKILL ends the job in ${took}s, and the tree is removed"
else t_fail "SIGKILL (rc=$rc, ${took}s)" "$(tail -5 "$TMP/out"; ls -R "$SHM" | head)"; fi
rm -rf "${SHM:?}"/*
for sig in TERM INT; do
    # The launcher gets the signal (as at a time limit) and passes it on; its
    # own exit status is its business.  Ours: every rank gone, tree removed.
    # The marker is this suite's own: pgrep sees every suite on the machine.
    up=sig-test-up-$$
    PYTHON_MPI_PACKAGES=runtime.tar.zst timeout 60 "$MPIEXEC" -n 2 "$PM" -c "import time; print('$up', flush=True); time.sleep(100)" >"$TMP/out" 2>&1 &
    pid=$!
    # (whole lines: 3.13's KeyboardInterrupt traceback quotes the -c source)
    for _ in $(seq 600); do [ "$(grep -cx "$up" "$TMP/out")" = 2 ] && break; sleep 0.1; done   # up to 60 s: a loaded machine
    kill -$sig $pid; wait $pid; rc=$?
    if [ "$(grep -cx "$up" "$TMP/out")" = 2 ] && t_wait_empty "$SHM" && ! pgrep -f "$up" >/dev/null; then
        t_ok "SIG$sig from the launcher (time limit) still removes the tree"
    else t_fail "SIG$sig (rc=$rc)" "$(tail -5 "$TMP/out"; ls -R "$SHM" | head; ps -eo pid,ppid,pgid,stat,etimes,args | grep -F "$up" | grep -v grep)"; fi
    rm -rf "${SHM:?}"/*
done

# --- resources: node-local storage full ---------------------------------------
mkdir -p "$TMP/tiny"
# The runtime bundle (about 16 MB, 65 MB unpacked) fits a 24 MB file system
# as a file, not unpacked; a bundle larger than the node-local file system
# itself is refused before it is read (the default limit, issue 21).
if mount -t tmpfs -o size=24m tmpfs "$TMP/tiny" 2>/dev/null; then
    SHM_SAVE=$SHM; SHM=$TMP/tiny
    bad "node-local storage full" "rank 0 on [^:]+: $ROOT/runtime.tar.zst: entry '.*': cannot write under $TMP/tiny/.*No space left on device" \
        env PYTHON_MPI_CHROOT=$TMP/tiny PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
    umount "$TMP/tiny"
    mount -t tmpfs -o size=8m tmpfs "$TMP/tiny"
    bad "a bundle larger than the node-local file system" "rank 0 on [^:]+: $ROOT/runtime.tar.zst: the bundle is [0-9]+ bytes, more than the limit 8388608 \\(PYTHON_MPI_MAX_UNPACKED, default the size of the node-local file system\\)" \
        env PYTHON_MPI_CHROOT=$TMP/tiny PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
    SHM=$SHM_SAVE
    umount "$TMP/tiny"
else t_fail "mounting a tiny tmpfs needs root"; fi

# --- integrity (2 simulated nodes, so a leader receives over MPI) ---------
if [ "$(id -u)" = 0 ]; then
    "$MPICC" -shared -fPIC -o "$TMP/corrupt.so" "$REPO/tests/mpi/corrupt_bcast.c" || t_fail "build corrupt_bcast.so"
    head -c 3000000 /dev/urandom > "$TMP/blob"; tar -C "$TMP" -cf "$ROOT/plain.tar" blob
    LD_PRELOAD=$TMP/corrupt.so CLUSTER_SHM_DIR=$SHM timeout 60 "$SIM/mpirun-sim" -nodes 2 -ppn 1 \
        "$BIN/bcast" -p /dev/shm/bc "$ROOT/plain.tar" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc != 0 ] && grep -Eq "rank 1 on node2: $ROOT/plain.tar: checksum mismatch: received [0-9a-f]{16}, rank 0 read [0-9a-f]{16}" "$TMP/err" &&
       t_empty_dir "$SHM/node1" && t_empty_dir "$SHM/node2"; then
        t_ok "a byte corrupted in transit is caught by the leader's checksum; removed on every node"
    else t_fail "checksum (rc=$rc)" "$(cat "$TMP/err"; ls -R "$SHM" | head)"; fi
    rm -rf "${SHM:?}"/*
    # The same with a parts bundle on 2 nodes x 4 ranks, 2 unpackers each:
    # node2's leader receives into the node's shared ring, where its other
    # unpacker reads; the leader's checksum speaks for both.
    mkdir -p "$TMP/blobs"; split -b 700000 "$TMP/blob" "$TMP/blobs/b."
    "$BIN/pkgroot" dir "$ROOT/plain.ptar" "$TMP/blobs" --at . >/dev/null || t_fail "pkgroot dir plain.ptar"
    LD_PRELOAD=$TMP/corrupt.so CLUSTER_SHM_DIR=$SHM PYTHON_MPI_UNPACKERS=2 PYTHON_MPI_CHUNK=1M timeout 60 "$SIM/mpirun-sim" -nodes 2 -ppn 4 \
        "$BIN/bcast" -p /dev/shm/bc "$ROOT/plain.ptar" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc != 0 ] && grep -Eq "rank 4 on node2: $ROOT/plain.ptar: checksum mismatch: received [0-9a-f]{16}, rank 0 read [0-9a-f]{16}" "$TMP/err" &&
       t_empty_dir "$SHM/node1" && t_empty_dir "$SHM/node2"; then
        t_ok "the same through a node's shared ring (.ptar, 2 unpackers of 4 ranks): caught, removed on every node"
    else t_fail "checksum through the ring (rc=$rc)" "$(cat "$TMP/err"; ls -R "$SHM" | head)"; fi
    rm -rf "${SHM:?}"/*
    cc -shared -fPIC -o "$TMP/touch.so" "$REPO/tests/mpi/touch_on_read.c" -ldl || t_fail "build touch_on_read.so"
    cat > "$TMP/touch-rank0" <<SH
#!/bin/sh
[ "\${PMI_RANK:-\$OMPI_COMM_WORLD_RANK}" = 0 ] && export LD_PRELOAD=$TMP/touch.so
exec "\$@"
SH
    chmod +x "$TMP/touch-rank0"
    PYTHON_MPI_CHUNK=64K timeout 60 "$MPIEXEC" -n 2 "$TMP/touch-rank0" "$BIN/bcast" -p "$SHM/bc" "$ROOT/plain.tar" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc != 0 ] && grep -q "rank 0 on .*: $ROOT/plain.tar: bundle changed while being read" "$TMP/err" && t_empty_dir "$SHM"; then
        t_ok "a bundle changed while being read is an error, not a mixed environment"
    else t_fail "changed while read (rc=$rc)" "$(cat "$TMP/err")"; fi
    cp "$ROOT/plain.tar" "$ROOT/shrinks.tar"
    TOUCH_ON_READ=truncate PYTHON_MPI_CHUNK=64K timeout 60 "$MPIEXEC" -n 2 "$TMP/touch-rank0" "$BIN/bcast" -p "$SHM/bc" "$ROOT/shrinks.tar" >"$TMP/out" 2>"$TMP/err"; rc=$?
    if [ $rc != 0 ] && [ "$(t_error_lines "$TMP/err")" = 1 ] &&
       grep -q "rank 0 on .*: $ROOT/shrinks.tar: file shrank while being read ([0-9]* of [0-9]* bytes)" "$TMP/err" && t_empty_dir "$SHM"; then
        t_ok "a bundle that shrinks while being read (short read) is one error, every leader stops"
    else t_fail "short read (rc=$rc)" "$(cat "$TMP/err")"; fi
    # Storage fills up on node2 only: node1 unpacked fine, and must remove it too.
    mkdir -p "$SHM/node1" "$SHM/node2"
    # Big enough for MPICH's own shared memory, too small for the runtime.
    if mount -t tmpfs -o size=40m tmpfs "$SHM/node2"; then
        PYTHON_MPI_CHROOT=/dev/shm PYTHON_MPI_PACKAGES=runtime.tar.zst CLUSTER_SHM_DIR=$SHM timeout 60 "$SIM/mpirun-sim" -nodes 2 -ppn 2 \
            "$PM" -c pass >"$TMP/out" 2>"$TMP/err"; rc=$?
        if [ $rc != 0 ] && [ "$(t_error_lines "$TMP/err")" = 1 ] &&
           grep -q "rank 2 on node2: $ROOT/runtime.tar.zst: entry .*No space left on device" "$TMP/err" &&
           t_empty_dir "$SHM/node1" && t_empty_dir "$SHM/node2"; then
            t_ok "storage full on one node: one error naming node2, trees removed on both nodes"
        else t_fail "one node full (rc=$rc)" "$(cat "$TMP/err"; ls -R "$SHM" | head)"; fi
        umount "$SHM/node2"
    fi
    rm -rf "${SHM:?}"/*
fi

t_done hardening
