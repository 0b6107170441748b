#!/bin/bash
# bench_env.sh - PYTHON_MPI_ENV (issue 23) against the two-step way.
# For the runtime tree (PYTHON_MPI_ENV=the embedded Python's prefix) and a
# big venv (bench_bigenv.sh's tree: the runtime with numpy COPIES times
# over, in the venv's site-packages), each ROUNDS times interleaved, the
# wall time of:
#   two-step   pkgroot (python, and venv for the big one) + a job with
#              PYTHON_MPI_PACKAGES naming the result
#   first      a job with PYTHON_MPI_ENV and an empty cache: rank 0 walks,
#              and streams each bundle while its pkgroot makes it (the
#              leaders unpack as it grows), then caches it
#   making     of which its pkgroots ran (the feed's "made in" lines)
#   tail       first - making: what the job adds to making the bundles
#              (the two-step way adds bundles, a whole delivery)
#   bundles    a job with PYTHON_MPI_PACKAGES of ready bundles (delivery only)
#   cached     a job with PYTHON_MPI_ENV and the state cached
# and what rank 0's check of the environment costs: its time (the
# PYTHON_MPI_VERBOSE line) and its system calls (strace -c -f of rank 0,
# against the same job with PYTHON_MPI_PACKAGES), and the same for
# PYTHON_MPI_ENV_CHECK=dirs (one run).  Medians.
#   usage: bench/bench_env.sh [ROUNDS]   (default 3)
#   env:   COPIES=15 (0: the runtime only)   NP=2 ranks
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-3}
COPIES=${COPIES:-15}
NP=${NP:-2}
TMP=$(mktemp -d /var/tmp/pympi-benv.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# A copy of the programs: a rebuild meanwhile changes neither them nor the
# cache keys (which name the binaries).
mkdir "$TMP/bin" && cp "$BIN/python-mpi" "$BIN/pkgroot" "$TMP/bin/" && BIN=$TMP/bin
export PYTHON_MPI_CHROOT=/dev/shm
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHON_MPI_ENV PYTHON_MPI_CACHE PYTHON_MPI_VERBOSE
echo "load before: $(uptime)"
PY=${PYTHON:-/usr/bin/python3}
XY=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
HOMEPY=$("$PY" -c 'import sys; print(sys.base_prefix)')
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
job() { mpiexec.mpich -n "$NP" "$BIN/python-mpi" -c 'import sys' >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }; }

# The big venv: the runtime tree with numpy, COPIES times, in site-packages.
V=$TMP/venv
if [ "$COPIES" -gt 0 ]; then
    "$PY" -m venv --without-pip "$V"
    "$BIN/pkgroot" python "$TMP/rt.tar.zst" numpy >/dev/null
    mkdir -p "$TMP/one"; tar -C "$TMP/one" -xf "$TMP/rt.tar.zst"
    for i in $(seq -w 1 "$COPIES"); do
        mkdir "$V/lib/python$XY/site-packages/c$i" && cp -a "$TMP/one/." "$V/lib/python$XY/site-packages/c$i/"
    done
    rm -rf "$TMP/one" "$TMP/rt.tar.zst"
    echo "big venv: $(find "$V" | wc -l) entries, $(du -sm "$V" | cut -f1) MB"
fi

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
for r in $(seq "$ROUNDS"); do
    for env in runtime big; do
        [ "$env" = big ] && [ "$COPIES" = 0 ] && continue
        dir=$HOMEPY; [ "$env" = big ] && dir=$V
        # two-step: pkgroot, then a job delivering what it made
        rm -f "$TMP"/b-*.ptar
        t0=$(now)
        "$BIN/pkgroot" python "$TMP/b-rt.ptar" >/dev/null
        pk=$TMP/b-rt.ptar
        if [ "$env" = big ]; then "$BIN/pkgroot" venv "$TMP/b-env.ptar" "$V" >/dev/null; pk=$pk:$TMP/b-env.ptar; fi
        t1=$(now)
        PYTHON_MPI_PACKAGES=$pk job
        t2=$(now)
        add "$env pkgroot" "$(echo "$t1 - $t0" | bc)"
        add "$env two-step" "$(echo "$t2 - $t0" | bc)"
        add "$env bundles" "$(echo "$t2 - $t1" | bc)"
        # first job: an empty cache
        rm -rf "$TMP/cache"
        t0=$(now); PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_ENV=$dir PYTHON_MPI_VERBOSE=1 job; t1=$(now)
        add "$env first" "$(echo "$t1 - $t0" | bc)"
        making=$(grep -o 'made in [0-9.]* s' "$TMP/err" | awk '{s += $3} END {print s + 0}')
        add "$env making" "$making"
        add "$env tail" "$(echo "$t1 - $t0 - $making" | bc)"
        # cached
        t0=$(now); PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_ENV=$dir PYTHON_MPI_VERBOSE=1 job; t1=$(now)
        add "$env cached" "$(echo "$t1 - $t0" | bc)"
        add "$env check" "$(grep -o 'checked in [0-9.]* s' "$TMP/err" | awk '{s += $3} END {print s}')"
        add "$env entries" "$(grep -o '[0-9]* entries checked' "$TMP/err" | awk '{s += $1} END {print s}')"
    done
done

# Rank 0's system calls: cached PYTHON_MPI_ENV against the same bundles by
# PYTHON_MPI_PACKAGES (the difference is the check).
calls() {   # ENV-ASSIGNMENTS...
    env "$@" mpiexec.mpich -n 1 strace -f -c -o "$TMP/strace" "$BIN/python-mpi" -c 'import sys' >/dev/null 2>&1
    awk '$NF == "total" {print $4}' "$TMP/strace"
}
declare -A S
if command -v strace >/dev/null; then
    for env in runtime big; do
        [ "$env" = big ] && [ "$COPIES" = 0 ] && continue
        dir=$HOMEPY; [ "$env" = big ] && dir=$V
        rm -rf "$TMP/cache"
        PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_ENV=$dir job
        list=$(find "$TMP/cache" -name bundles | while read -r b; do sed "s|^|${b%/bundles}/|" "$b"; done | sort | paste -sd:)
        S[$env env]=$(calls PYTHON_MPI_CACHE="$TMP/cache" PYTHON_MPI_ENV="$dir")
        S[$env pkgs]=$(calls PYTHON_MPI_PACKAGES="$list")
        # The cheaper check: its own state, made once, then timed and counted.
        PYTHON_MPI_ENV_CHECK=dirs PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_ENV=$dir job
        PYTHON_MPI_ENV_CHECK=dirs PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_ENV=$dir PYTHON_MPI_VERBOSE=1 job
        S[$env dirs-check]=$(grep -o 'checked in [0-9.]* s' "$TMP/err" | awk '{s += $3} END {print s}')
        S[$env dirs]=$(calls PYTHON_MPI_ENV_CHECK=dirs PYTHON_MPI_CACHE="$TMP/cache" PYTHON_MPI_ENV="$dir")
    done
fi

echo
echo "medians of $ROUNDS rounds, seconds ($NP ranks, one node; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s %9s %9s %9s %9s %9s %9s %9s %9s %12s %12s %12s %12s\n' env pkgroot two-step first making tail bundles cached \
    check entries 'calls(env)' 'calls(pkgs)' 'check(dirs)' 'calls(dirs)'
for env in runtime big; do
    [ -n "${T[$env first]:-}" ] || continue
    printf '%-8s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.3f %9s %12s %12s %12s %12s\n' "$env" \
        "$(echo "${T[$env pkgroot]}" | median)" "$(echo "${T[$env two-step]}" | median)" \
        "$(echo "${T[$env first]}" | median)" "$(echo "${T[$env making]}" | median)" \
        "$(echo "${T[$env tail]}" | median)" "$(echo "${T[$env bundles]}" | median)" \
        "$(echo "${T[$env cached]}" | median)" "$(echo "${T[$env check]}" | median)" \
        "$(echo "${T[$env entries]}" | median)" "${S[$env env]:--}" "${S[$env pkgs]:--}" \
        "${S[$env dirs-check]:--}" "${S[$env dirs]:--}"
done
