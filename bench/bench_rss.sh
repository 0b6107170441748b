#!/bin/bash
# bench_rss.sh - peak memory of bcast against bundle size.
#
# Delivers uncompressed bundles of 64 MiB, 1 GiB and 4 GiB (one file of
# zeros each: compressible content, but the bundle itself has the full
# size) from rank 0 to a second simulated node, and prints each rank's peak
# RSS.  Memory is bounded by the chunk size, so the figures must be flat.
#   usage: bench/bench_rss.sh [SIZES_MIB...]   (default: 64 1024 4096)
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
SIZES=${*:-64 1024 4096}
TMP=$(mktemp -d /var/tmp/pympi-rss.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
if [ "$(id -u)" = 0 ]; then
    launch=("$REPO/tests/cluster/mpirun-sim" -nodes 2 -ppn 1)
    export CLUSTER_SHM_SIZE=6g
    where="2 simulated nodes, 1 rank each"
else
    launch=(mpiexec.mpich -n 2); where="2 ranks on one node"
fi
echo "bcast peak RSS ($where, chunk ${PYTHON_MPI_CHUNK:-4M})"
printf '%10s %14s %14s %10s\n' "bundle" "rank 0 (KiB)" "rank 1 (KiB)" "seconds"
for mib in $SIZES; do
    truncate -s "${mib}M" "$TMP/zeros"
    tar -C "$TMP" -cf "$TMP/b.tar" zeros
    rm -f "$TMP/zeros"
    mkdir -p "$TMP/rss"; rm -f "$TMP"/rss/*
    start=$(date +%s.%N)
    "${launch[@]}" "$REPO/bench/rss-rank" "$TMP/rss" "$BIN/bcast" -p /dev/shm/rss-bench "$TMP/b.tar"
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    printf '%8s M %14s %14s %10.2f\n' "$mib" "$(cat "$TMP/rss/rss.0")" "$(cat "$TMP/rss/rss.1")" "$secs"
    rm -f "$TMP/b.tar"
    [ "$(id -u)" = 0 ] || rm -rf /dev/shm/rss-bench
done
