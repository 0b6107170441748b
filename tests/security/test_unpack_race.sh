#!/bin/bash
# test_unpack_race.sh - issue 21, item 1: a hostile .ptar races the node's
# unpackers against each other to make a hard link that is a symbolic link.
#
# Part 0 makes lib/python3/dist-packages/a/b/s a plain file and then
# hard-links zz-evil.pth to it again and again; part 1 (another unpacker,
# at the same time) replaces a/b/s with a symbolic link that is contained
# where it is, ../../../../../X.pth, but leads outside the tree from
# zz-evil.pth's depth.  Were a hard link made to whatever the name is by
# then (check, then link by name), zz-evil.pth would end as that link, and
# the next python-mpi would run an attacker's .pth as the victim.  With 4
# unpackers, parts 2 and 3 swap a/b/s back to a file and to a link again.
#
# Delivered with `bcast -p` into a prefix that already holds files (so
# links are made as they come, not deferred), 20 times with 2 unpackers and
# 20 with 4, no retries; after every run, failed or not: no symbolic link
# under the prefix resolves outside it and no zz-evil.pth is one.  As root
# it runs as a user of its own (unprivileged: the writer's linkat through
# /proc/self/fd is what such a user may do), else as the caller.
#
#   BUILD=build bash tests/security/test_unpack_race.sh
#   BUILD=/old/checkout/build bash ...   (the build before the fix: fails)
#   RACE_RUNS=N (default 20), RACE_LINKS=N hard links in part 0 (10000)
set -u
. "$(dirname "$0")/../lib.sh"
RUNS=${RACE_RUNS:-20}
LINKS=${RACE_LINKS:-10000}

TMP=$(mktemp -d /tmp/pmrace.XXXXXX)
chmod 0755 "$TMP"
U=
cleanup() {
    if [ -n "$U" ] && uid=$(id -u "$U" 2>/dev/null); then
        for p in $(pgrep -u "$uid" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        find /dev/shm /tmp /var/tmp -xdev -mindepth 1 -maxdepth 1 -uid "$uid" -exec rm -rf {} + 2>/dev/null
        userdel -r -f "$U" >/dev/null 2>&1
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_user() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    U=pmr$$
    if ! useradd -m -s /bin/bash "$U"; then
        t_fail "useradd $U"; t_done unpack-race; exit 1
    fi
    as_user() {
        runuser -u "$U" -- env -i HOME="/home/$U" USER="$U" LOGNAME="$U" LANG=C.UTF-8 \
            PATH="/usr/bin:/bin" "$@"
    }
fi

# The hostile bundle with NPARTS parts (tarfile and the zstd command line,
# as any user could make it).
mkrace() {
    python3 - "$1" "$2" "$LINKS" <<'PY'
import io, subprocess, sys, tarfile
out, nparts, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
D = "lib/python3/dist-packages"
def entry(name, kind, target="", data=b""):
    i = tarfile.TarInfo(name); i.mtime = 1000000000; i.mode = 0o755 if kind == "d" else 0o644
    i.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE, "f": tarfile.REGTYPE}[kind]
    i.linkname = target; i.size = len(data)
    return i, (io.BytesIO(data) if kind == "f" else None)
def part(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            t.addfile(*e)
    return subprocess.run(["zstd", "-q", "-1", "-c"], input=b.getvalue(), stdout=subprocess.PIPE, check=True).stdout
s = D + "/a/b/s"
parts = [part([entry(D + "/a", "d"), entry(D + "/a/b", "d"), entry(s, "f", data=b"import os\n")] +
              [entry(D + "/zz-evil.pth", "h", s) for _ in range(n)])]
# Padding first, so that the swap lands while part 0 is making its links.
for k in range(1, nparts):
    swap = entry(s, "l", "../../../../../X.pth") if k % 2 else entry(s, "f", data=b"import os\n")
    parts.append(part([entry("pad%d/%d" % (k, j), "f", data=b"x") for j in range(50 * k)] + [swap]))
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    m = b"python-mpi parts bundle, version 1\nparts %010d\n" % len(parts)
    i = tarfile.TarInfo(".python-mpi-parts"); i.size = len(m); t.addfile(i, io.BytesIO(m))
    for k, p in enumerate(parts):
        i = tarfile.TarInfo("part-%04d.tar.zst" % k); i.size = len(p); t.addfile(i, io.BytesIO(p))
PY
}

# Symbolic links under $1 that resolve outside it, and zz-evil.pth links.
escapes() {
    local p=$1 l r
    while IFS= read -r -d '' l; do
        r=$(realpath -m -- "$l")
        case $r in "$p"|"$p"/*) ;; *) echo "$l -> $(readlink -- "$l") (resolves to $r)" ;; esac
    done < <(find "$p" -type l -print0)
    find "$p" -name zz-evil.pth -type l -printf '%p is a symbolic link\n'
}

for n in 2 4; do
    B=$TMP/race$n.ptar
    if ! mkrace "$B" "$n"; then t_fail "$n unpackers: make the hostile bundle"; continue; fi
    chmod 0644 "$B"
    bad=0 failed=0 first=
    for r in $(seq "$RUNS"); do
        P=$(as_user mktemp -d /dev/shm/pmrace.XXXXXX)
        as_user sh -c 'echo kept > "$1/keep"' sh "$P"   # not fresh: links made as they come
        rc=0
        as_user env PYTHON_MPI_UNPACKERS=$n timeout 120 "$MPIEXEC" -n "$n" "$BIN/bcast" -p "$P" "$B" \
            >"$TMP/out" 2>"$TMP/err" || rc=$?
        [ $rc = 0 ] || failed=$((failed + 1))
        out=$(escapes "$P")
        if [ -n "$out" ]; then
            bad=$((bad + 1))
            [ -n "$first" ] || first="run $r (exit $rc): $out"
        fi
        rm -rf "$P"
    done
    if [ $bad = 0 ]; then
        t_ok "$n unpackers, $RUNS runs into a prefix that holds files: no link leads outside ($failed refused)"
    else
        t_fail "$n unpackers: a link outside the tree after $bad of $RUNS runs" "$first"
    fi
done
t_done unpack-race
