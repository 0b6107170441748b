#!/bin/bash
# bench_delivery.sh - delivering the runtime bundle (Debian's Python +
# numpy, made by pkgroot) to one node, against unpacking the same tree with
# tar from a local file.  Every contender runs ROUNDS times interleaved,
# into a fresh directory under /dev/shm; medians and ratios to `tar -xf`.
#   usage: bench/bench_delivery.sh [ROUNDS]   (default 7)
#   env:   NP="1 2" ranks per node for bcast;  PACKAGES="numpy" for pkgroot
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-7}
NP=${NP:-1 2}
TMP=$(mktemp -d /var/tmp/pympi-deliv.XXXXXX)
OUT=/dev/shm/pympi-bench-$$
trap 'rm -rf "$TMP" "$OUT"' EXIT

"$BIN/pkgroot" python "$TMP/rt.tar.zst" ${PACKAGES-numpy} >/dev/null
"$BIN/pkgroot" python "$TMP/rt.ptar" ${PACKAGES-numpy} >/dev/null
mkdir -p "$TMP/tree" && tar -C "$TMP/tree" -xf "$TMP/rt.tar.zst"
tar -C "$TMP/tree" -cf "$TMP/rt.tar" .
tar -C "$TMP/tree" -czf "$TMP/rt.tar.gz" .
files=$(find "$TMP/tree" | wc -l); mb=$(du -sm "$TMP/tree" | cut -f1)
rm -rf "$TMP/tree"
echo "tree: $files entries, $mb MB;  bundles: tar $(($(stat -c %s "$TMP/rt.tar") >> 20)) MB," \
     "tar.gz $(($(stat -c %s "$TMP/rt.tar.gz") >> 20)) MB, tar.zst $(($(stat -c %s "$TMP/rt.tar.zst") >> 20)) MB," \
     "ptar $(($(stat -c %s "$TMP/rt.ptar") >> 20)) MB"

declare -A name cmd
add() { name[$1]=$2; cmd[$1]=$3; }
add tar     "tar -xf (uncompressed)"   'tar -C "$OUT" -xf "$TMP/rt.tar"'
add targz   "tar -xzf (gzip)"          'tar -C "$OUT" -xzf "$TMP/rt.tar.gz"'
add zstdtar "zstd -dc | tar -xf"       'zstd -dcq "$TMP/rt.tar.zst" | tar -C "$OUT" -xf -'
order="tar targz zstdtar"
for n in $NP; do
    add "bcast$n" "bcast .tar.zst, $n rank/node" "mpiexec.mpich -n $n \"\$BIN/bcast\" -t -p \"\$OUT\" \"\$TMP/rt.tar.zst\""
    add "bcastp$n" "bcast .ptar, $n rank/node" "mpiexec.mpich -n $n \"\$BIN/bcast\" -t -p \"\$OUT\" \"\$TMP/rt.ptar\""
    order="$order bcast$n bcastp$n"
done
declare -A times
for r in $(seq "$ROUNDS"); do
    for k in $order; do
        rm -rf "$OUT"; mkdir -p "$OUT"; sync
        s=$(date +%s%N)
        eval "${cmd[$k]}" >"$TMP/out"
        e=$(date +%s%N)
        us=$(( (e - s) / 1000 ))
        # bcast: its own delivery time (-t), without mpiexec's start-up.
        t=$(sed -n 's/.* total \([0-9.]*\) s$/\1/p' "$TMP/out")
        [ -n "$t" ] && us=$(echo "$t * 1000000 / 1" | bc)
        times[$k]="${times[$k]:-} $us"
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times[tar]}" | median)
gz=$(echo "${times[targz]}" | median)
printf '%-28s %12s %10s %12s\n' "method ($ROUNDS rounds)" "median (s)" "vs tar -xf" "gzip+tar /"
for k in $order; do
    m=$(echo "${times[$k]}" | median)
    printf '%-28s %12.3f %9.2fx %11.2fx\n' "${name[$k]}" "$(echo "$m / 1000000" | bc -l)" \
        "$(echo "$m / $base" | bc -l)" "$(echo "$gz / $m" | bc -l)"
done
echo "(bcast: its -t 'total', from the first read on rank 0 to the last file written; mpiexec start-up excluded)"
