#!/bin/bash
# bench_startup.sh - start-up on a simulated cluster with a simulated shared
# file system (bench/slowfs.c: one server thread, DELAY_US per request).
#
# The shared file system holds a Python installation (Debian's Python 3.11
# + numpy, as plain python3 uses it with PYTHONHOME) and the package root
# (the same tree as a .ptar bundle, for python-mpi).  For P ranks (4 per
# simulated node) it times, side by side, the job until every rank has
# imported numpy, and counts the requests the server saw:
#   python3      every rank imports from the shared file system
#   python-mpi   rank 0 reads the bundle; every node unpacks it to /dev/shm
# Prints a table and, where gnuplot is installed, bench/startup.png.
#   usage: bench/bench_startup.sh [DELAY_US] [P...]   (default 100; 1 2 4 8 16 32)
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
DELAY=${1:-100}; shift || true
PS=${*:-1 2 4 8 16 32}
[ "$(id -u)" = 0 ] || { echo "bench_startup: needs root (FUSE, namespaces)" >&2; exit 1; }
pkg-config --exists fuse3 && command -v fusermount3 >/dev/null ||
    { echo "bench_startup: needs FUSE: apt-get install fuse3 libfuse3-dev (and gnuplot-nox for the plot)" >&2; exit 1; }
TMP=$(mktemp -d /var/tmp/pympi-startup.XXXXXX)
MNT=$TMP/mnt
cleanup() { if mountpoint -q "$MNT"; then fusermount3 -u "$MNT" || umount -l "$MNT"; fi; rm -rf "$TMP"; }
trap cleanup EXIT
cc -std=c11 -D_GNU_SOURCE -O2 $(pkg-config --cflags fuse3) "$REPO/bench/slowfs.c" -o "$TMP/slowfs" $(pkg-config --libs fuse3)

mkdir -p "$TMP/shared/python" "$TMP/shared/pkgroot" "$MNT"
"$BIN/pkgroot" python "$TMP/shared/pkgroot/runtime.ptar" numpy >/dev/null
"$BIN/pkgroot" python "$TMP/rt.tar.zst" numpy >/dev/null
tar -C "$TMP/shared/python" -xf "$TMP/rt.tar.zst"

mount_fs() {
    rm -f "$TMP/count"
    "$TMP/slowfs" "$TMP/shared" "$MNT" "$DELAY" "$TMP/count" & FS_PID=$!
    for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
    echo "slowfs did not mount" >&2; exit 1
}
umount_fs() {
    fusermount3 -u "$MNT"; wait "$FS_PID" || true
    cat "$TMP/count" 2>/dev/null || echo "?"
}
# run P CMD...: seconds for the whole job, then the server's request count
run() {
    local p=$1; shift
    local ppn=$(( p < 4 ? p : 4 )) nodes=$(( (p + 3) / 4 ))
    mount_fs
    local s e
    s=$(date +%s%N)
    timeout 600 "$REPO/tests/cluster/mpirun-sim" -nodes "$nodes" -ppn "$ppn" "$@" >/dev/null
    e=$(date +%s%N)
    echo "$(echo "($e - $s) / 1000000000" | bc -l) $(umount_fs)"
}
CODE='import numpy'
printf '# delay %s us per request; 4 ranks per simulated node\n' "$DELAY" | tee "$TMP/table"
printf '%6s %12s %12s %10s %14s %14s\n' P "python3 (s)" "python-mpi" speed-up "python3 ops" "python-mpi ops" | tee -a "$TMP/table"
for p in $PS; do
    read -r tp op < <(run "$p" env PYTHONHOME="$MNT/python" /usr/bin/python3 -c "$CODE")
    read -r tm om < <(PYTHON_MPI_PKGROOT=$MNT/pkgroot PYTHON_MPI_PACKAGES=runtime.ptar run "$p" "$BIN/python-mpi" -c "$CODE")
    printf '%6s %12.2f %12.2f %9.1fx %14s %14s\n' "$p" "$tp" "$tm" "$(echo "$tp / $tm" | bc -l)" "$op" "$om" | tee -a "$TMP/table"
done
cp "$TMP/table" "$REPO/bench/startup.txt"
if command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal png size 800,500
set output "$REPO/bench/startup.png"
set title "Time until every rank has imported numpy (shared FS: 1 server thread, $DELAY us/request)"
set xlabel "ranks (4 per simulated node)"; set ylabel "seconds"
set logscale x 2; set key left top; set grid
plot "$TMP/table" using 1:2 with linespoints title "python3 from the shared FS", \
     "$TMP/table" using 1:3 with linespoints title "python-mpi (bundle broadcast)"
GP
    echo "plot: bench/startup.png"
fi
