#!/bin/bash
# bench_slurm.sh - Slurm's own figures: time from `srun` to the first line
# of user code, 2 nodes x 2 ranks, on a real Slurm of simulated nodes
# (tests/cluster/slurm-cluster), side by side in one run:
#   python3              /usr/bin/python3, Debian's Python (its stdlib from
#                        the machine's file system)
#   python-mpi           no bundles: MPI_Init (PMI2) only
#   python-mpi runtime   PYTHON_MPI_PACKAGES=runtime.ptar (Python + numpy,
#                        delivered to both nodes before the user's code)
#   ... node cache       the same after `bcast runtime.ptar` in the same
#                        allocation: found on every node, nothing sent
# each launched as a job step inside one allocation (as a job script does)
# and (but the node cache) as a job of its own (`srun` outside any
# allocation: the allocation is part of the time).  The user's code's first line records time.time();
# "first"/"last" are the earliest/latest rank, from just before srun.
# Medians over ROUNDS, the programs alternating within each round.
#   usage: bench/bench_slurm.sh [ROUNDS]     (default 9; root; MPICH build)
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-9}
SC=$REPO/tests/cluster/slurm-cluster
[ "$(id -u)" = 0 ] || { echo "bench_slurm: needs root (namespaces)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/pympi-bench-slurm.XXXXXX)
CL=
cleanup() { [ -z "$CL" ] || "$SC" down "$CL"; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

CL=$("$SC" up -nodes 2 -cpus 2 -owner $$)
eval "$("$SC" env "$CL")"
export SLURM_MPI_TYPE=pmi2
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHONHOME PYTHON_MPI_VERBOSE
"$BIN/pkgroot" python "$TMP/runtime.ptar" numpy >/dev/null
cat > "$TMP/first.py" <<'PY'
import time; t = time.time()
import os
os.write(1, ("first %s %.6f\n" % (os.environ["SLURM_PROCID"], t)).encode())
PY

# One round of the three programs; prints "NAME FIRST LAST TOTAL" lines.
cat > "$TMP/round.sh" <<'SH'
set -eu
one() {   # one NAME ENV... -- CMD...
    local name=$1 s e out; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    s=$(date +%s.%N)
    out=$(env "${envs[@]}" srun -N 2 -n 4 --ntasks-per-node=2 "$@")
    e=$(date +%s.%N)
    [ "$(printf '%s\n' "$out" | grep -c '^first ')" = 4 ] || { echo "bench_slurm: $name: not 4 ranks: $out" >&2; exit 1; }
    printf '%s\n' "$out" | awk -v n="$name" -v s="$s" -v e="$e" '
        $1 == "first" { if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
        END { printf "%s %.3f %.3f %.3f\n", n, min - s, max - s, e - s }'
}
one python3 PYTHONNOUSERSITE=1 -- /usr/bin/python3 "$TMP/first.py"
one python-mpi PYTHON_MPI_PACKAGES= -- "$BIN/python-mpi" "$TMP/first.py"
one runtime PYTHON_MPI_PKGROOT="$TMP" PYTHON_MPI_PACKAGES=runtime.ptar -- "$BIN/python-mpi" "$TMP/first.py"
if [ -n "${SLURM_JOB_ID:-}" ]; then
    srun -N 2 -n 2 --ntasks-per-node=1 "$BIN/bcast" "$TMP/runtime.ptar"
    one cached PYTHON_MPI_PKGROOT="$TMP" PYTHON_MPI_PACKAGES=runtime.ptar -- "$BIN/python-mpi" "$TMP/first.py"
    srun -N 2 -n 2 --ntasks-per-node=1 rm -rf "/dev/shm/python-mpi-$(id -u)/$SLURM_JOB_ID"
fi
SH
export TMP BIN

# One warm-up round each way (page cache, first job), not counted.
timeout 300 salloc -N 2 --ntasks-per-node=2 bash "$TMP/round.sh" >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
    timeout 300 salloc -N 2 --ntasks-per-node=2 bash "$TMP/round.sh" 2>"$TMP/err" | sed 's/^/step /' >> "$TMP/all" ||
        { cat "$TMP/err" >&2; exit 1; }
    timeout 300 bash "$TMP/round.sh" 2>"$TMP/err" | sed 's/^/job /' >> "$TMP/all" ||
        { cat "$TMP/err" >&2; exit 1; }
    echo "round $r of $ROUNDS done" >&2
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v m="$1" -v n="$2" -v c="$3" '$1 == m && $2 == n {print $c}' "$TMP/all" | median; }
printf '# 2 nodes x 2 ranks, %s rounds, medians, seconds from srun; MPICH build (srun --mpi=pmi2), Slurm %s\n' \
    "$ROUNDS" "$(srun --version | awk '{print $2}')"
printf '%-22s %-34s %7s %7s %9s %9s\n' launch program first last "srun end" "last/py3"
for m in step job; do
    base=$(col $m python3 4)
    case $m in step) launch="srun in an allocation" ;; *) launch="srun (own job)" ;; esac
    for n in python3 python-mpi runtime cached; do
        case $n in
            python3) label="/usr/bin/python3" ;;
            python-mpi) label="python-mpi, no bundle" ;;
            runtime) label="python-mpi + runtime.ptar" ;;
            *) [ $m = step ] || continue; label="python-mpi + runtime, node cache" ;;
        esac
        last=$(col $m $n 4)
        printf '%-22s %-34s %7.3f %7.3f %9.3f %8.2fx\n' "$launch" "$label" "$(col $m $n 3)" "$last" "$(col $m $n 5)" \
            "$(echo "$last / $base" | bc -l)"
    done
done
