#!/bin/bash
# bench_pyc.sh - what bytecode in the runtime bundle saves at start-up.
#
# The same runtime (Debian's Python + numpy) bundled three ways by pkgroot:
#   none       sources only: every rank compiles every module it imports
#              (ranks do not write bytecode into the shared tree:
#              PYTHONDONTWRITEBYTECODE=1, as this environment sets)
#   timestamp  classic pycs: the loader stats each source and compares
#   unchecked  unchecked-hash pycs (the default): never validated
#   sourceless NAME.pyc in place of NAME.py: no source is looked at
# Each is unpacked once per round with bcast; then P ranks of python-mpi
# import numpy on it, interleaved round by round.  Prints the median wall
# time per variant and ratios, and one rank's system calls per kind.
#   usage: bench/bench_pyc.sh [ROUNDS] [P]     (defaults 7 and 2)
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-7}
P=${2:-2}
TMP=$(mktemp -d /var/tmp/pympi-pyc.XXXXXX)
OUT=/dev/shm/pympi-bench-pyc-$$
trap 'rm -rf "$TMP" "$OUT"' EXIT
export PYTHONDONTWRITEBYTECODE=1
unset PYTHONUNBUFFERED PYTHON_MPI_PACKAGES PYTHON_MPI_HOME
PROG='import numpy, json, argparse, subprocess, decimal'
variants="none timestamp unchecked sourceless"
for v in $variants; do
    "$BIN/pkgroot" python --pyc "$v" "$TMP/rt-$v.tar.zst" numpy >/dev/null
done
echo "bundles: $(for v in $variants; do printf '%s %s MB  ' "$v" $(( $(stat -c %s "$TMP/rt-$v.tar.zst") >> 20 )); done)"

declare -A times
for r in $(seq "$ROUNDS"); do
    for v in $variants; do
        rm -rf "$OUT"
        mpiexec.mpich -n 1 "$BIN/bcast" -p "$OUT" "$TMP/rt-$v.tar.zst" >/dev/null
        s=$(date +%s%N)
        PYTHONHOME=$OUT mpiexec.mpich -n "$P" "$BIN/python-mpi" -c "$PROG"
        e=$(date +%s%N)
        times[$v]="${times[$v]:-} $(( (e - s) / 1000 ))"
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times[none]}" | median)
printf '%-12s %14s %16s\n' "variant" "median (s)" "none / this"
for v in $variants; do
    m=$(echo "${times[$v]}" | median)
    printf '%-12s %14.3f %15.2fx\n' "$v" "$(echo "$m / 1000000" | bc -l)" "$(echo "$base / $m" | bc -l)"
done
echo "(wall time of 'mpiexec -n $P python-mpi -c \"$PROG\"' on a tree already unpacked; $ROUNDS rounds)"

echo "system calls of one rank (strace -c), by variant; 'sources': stat or open of a .py that exists:"
for v in $variants; do
    rm -rf "$OUT"
    mpiexec.mpich -n 1 "$BIN/bcast" -p "$OUT" "$TMP/rt-$v.tar.zst" >/dev/null
    PYTHONHOME=$OUT strace -f -c -o "$TMP/sc-$v" "$BIN/python-mpi" -c "$PROG" 2>/dev/null
    PYTHONHOME=$OUT strace -f -qq -e trace=%file,%stat -o "$TMP/sf-$v" "$BIN/python-mpi" -c "$PROG" 2>/dev/null
    sources=$(grep -E '"[^"]*\.py"' "$TMP/sf-$v" | grep -vc ENOENT || true)
    awk -v v="$v" -v src="$sources" '$NF ~ /^(newfstatat|openat|read|getdents64|total)$/ {n[$NF] = $4}
        END {printf "  %-10s sources %4s  stat %s  openat %s  read %s  total %s\n", v, src, n["newfstatat"], n["openat"], n["read"], n["total"]}' "$TMP/sc-$v"
done
