#!/bin/bash
# bench_fatnode.sh - one fat node: the runtime .ptar delivered to 1, 2, 4,
# 8, 16, 32 ranks on this machine, `bcast -t` total and the node's total
# peak RSS, against the goals of issue 15 (16 ranks cost at most 1.3x the
# time of 2 ranks and at most 2x their memory).
#
# Every round runs every rank count once, interleaved (machines are noisy;
# medians).  Memory is measured in rounds of their own, after the timings
# (bench/rss-rank around each rank): the sum of the ranks' peak RSS, and
# the same sum for an MPI program that does nothing (`bcast --version`:
# MPI_Init, MPI_Finalize).
# That floor is the MPI library's own (its code and shared-memory segments
# count in every rank's RSS), the same for any program: what delivery adds
# is the sum less the floor, and the memory goal is checked on that.
#   usage: bench/bench_fatnode.sh [ROUNDS]   (default 5)
#   env:   NP="1 2 4 8 16 32"   rank counts
#          BASE=REV             also time the bcast of git revision REV
#                               (built in a temporary directory), same rounds
#          PACKAGES="numpy"     what pkgroot python bundles
# Writes bench/fatnode.txt and, where /usr/bin/python3 has matplotlib
# (Debian: python3-matplotlib), bench/fatnode.png.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-5}
NP=${NP:-1 2 4 8 16 32}
TMP=$(mktemp -d /var/tmp/pympi-fat.XXXXXX)
OUT=/dev/shm/pympi-fat-$$
trap 'rm -rf "$TMP" "$OUT"' EXIT
MPIEXEC=mpiexec.mpich
echo "load before: $(uptime)"
echo "cpus: $(getconf _NPROCESSORS_ONLN) online; unpackers: ${PYTHON_MPI_UNPACKERS:-auto}"

"$BIN/pkgroot" python "$TMP/rt.ptar" ${PACKAGES-numpy} >/dev/null
echo "bundle: runtime .ptar, $(($(stat -c %s "$TMP/rt.ptar") >> 20)) MB, $("$BIN/pkgroot" ls "$TMP/rt.ptar" | tail -n 1)"
BASE_BCAST=
if [ -n "${BASE:-}" ]; then
    git -C "$REPO" archive --prefix=base/ "$BASE" | tar -x -C "$TMP"
    make -C "$TMP/base" -j2 build/bin/bcast >/dev/null
    BASE_BCAST=$TMP/base/build/bin/bcast
    echo "base: $BASE ($(git -C "$REPO" log -1 --format='%h %s' "$BASE" | cut -c1-70))"
fi

# "TOTAL UNPACK" seconds of one delivery to N ranks with the bcast at $1
deliver_time() {
    rm -rf "$OUT"
    timeout 300 "$MPIEXEC" -n "$2" "$1" -t -p "$OUT" "$TMP/rt.ptar" |
        sed -n 's/.* unpack \([0-9.]*\) s, total \([0-9.]*\) s$/\2 \1/p'
}
# sum of the ranks' peak RSS (KiB) for N ranks running CMD...
rss_sum() {
    local n=$1; shift
    rm -rf "$OUT" "$TMP/rss"; mkdir -p "$TMP/rss"
    timeout 300 "$MPIEXEC" -n "$n" "$REPO/bench/rss-rank" "$TMP/rss" "$@" >/dev/null
    cat "$TMP/rss"/rss.* | paste -sd+ | bc
}
declare -A t tu tb rss floor
for r in $(seq "$ROUNDS"); do
    for n in $NP; do
        # With BASE, the two take turns at going first (the first run after
        # a big job's exit meets a busier machine).
        if [ -n "$BASE_BCAST" ] && [ $((r % 2)) = 0 ]; then
            tb[$n]="${tb[$n]:-} $(deliver_time "$BASE_BCAST" "$n" | cut -d' ' -f1)"
        fi
        read -r total unpack < <(deliver_time "$BIN/bcast" "$n")
        t[$n]="${t[$n]:-} $total"; tu[$n]="${tu[$n]:-} $unpack"
        if [ -n "$BASE_BCAST" ] && [ $((r % 2)) = 1 ]; then
            tb[$n]="${tb[$n]:-} $(deliver_time "$BASE_BCAST" "$n" | cut -d' ' -f1)"
        fi
    done
    echo "timing round $r of $ROUNDS done"
done
# Memory in rounds of its own: the wrapped runs do not disturb the timings.
for r in $(seq "$ROUNDS"); do
    for n in $NP; do
        rss[$n]="${rss[$n]:-} $(rss_sum "$n" "$BIN/bcast" -p "$OUT" "$TMP/rt.ptar")"
        floor[$n]="${floor[$n]:-} $(rss_sum "$n" "$BIN/bcast" --version)"
    done
    echo "memory round $r of $ROUNDS done"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

{
    echo "# bench_fatnode.sh: runtime .ptar to N ranks on one node, $ROUNDS rounds, medians; $(getconf _NPROCESSORS_ONLN) CPUs"
    printf '# %4s %10s %10s %10s %10s %10s %10s\n' N "time_s" "rss_MB" "floor_MB" "own_MB" "base_s" "unpack_s"
    for n in $NP; do
        m=$(echo "${t[$n]}" | median)
        mr=$(echo "${rss[$n]}" | median); mf=$(echo "${floor[$n]}" | median)
        mb=$([ -n "$BASE_BCAST" ] && echo "${tb[$n]}" | median || echo "-")
        mu=$(echo "${tu[$n]}" | median)
        printf '%6s %10.3f %10.1f %10.1f %10.1f %10s %10.3f\n' "$n" "$m" "$(echo "$mr / 1024" | bc -l)" \
            "$(echo "$mf / 1024" | bc -l)" "$(echo "($mr - $mf) / 1024" | bc -l)" "$mb" "$mu"
    done
} > "$TMP/table"
cp "$TMP/table" "$REPO/bench/fatnode.txt"

printf '\n%6s %12s %10s %14s %14s %16s %10s' ranks "bcast -t (s)" "vs 2" "peak RSS (MB)" "MPI floor (MB)" "delivery's (MB)" "vs 2"
[ -z "$BASE_BCAST" ] && echo || printf ' %14s\n' "base -t (s)"
row2=$(awk '$1 == 2' "$TMP/table")
t2=$(echo "$row2" | awk '{print $2}'); own2=$(echo "$row2" | awk '{print $5}'); raw2=$(echo "$row2" | awk '{print $3}')
awk -v t2="$t2" -v own2="$own2" '!/^#/ {
    printf "%6s %12.3f %9.2fx %14.1f %14.1f %16.1f %9.2fx", $1, $2, (t2 > 0 ? $2 / t2 : 0), $3, $4, $5, (own2 > 0 ? $5 / own2 : 0)
    if ($6 != "-") printf " %14.3f", $6
    printf "\n" }' "$TMP/table"
row16=$(awk '$1 == 16' "$TMP/table")
if [ -n "$row2" ] && [ -n "$row16" ]; then
    tr=$(echo "$row16" | awk -v t2="$t2" '{printf "%.2f", $2 / t2}')
    mr=$(echo "$row16" | awk -v o="$own2" '{printf "%.2f", $5 / o}')
    rr=$(echo "$row16" | awk -v o="$raw2" '{printf "%.2f", $3 / o}')
    echo
    echo "GOAL time:   16 ranks / 2 ranks = ${tr}x   (goal <= 1.3x: $(awk -v r="$tr" 'BEGIN {print (r <= 1.3 ? "met" : "NOT met")}'))"
    echo "GOAL memory: 16 ranks / 2 ranks = ${mr}x of delivery's own peak RSS (goal <= 2x: $(awk -v r="$mr" 'BEGIN {print (r <= 2 ? "met" : "NOT met")}'))"
    echo "             (raw sum of peak RSS: ${rr}x; an MPI program that does nothing: $(echo "$row16" | awk '{print $4}') MB at 16 ranks, $(echo "$row2" | awk '{print $4}') MB at 2)"
fi
echo "(bcast -t: its 'total', max over ranks; mpiexec start-up excluded)"
echo "load after: $(uptime)"

if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    /usr/bin/python3 - "$TMP/table" "$REPO/bench/fatnode.png" <<'PY'
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
n = [int(r[0]) for r in rows]
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
a.plot(n, [float(r[1]) for r in rows], "o-", label="bcast -t total")
if rows[0][5] != "-":
    a.plot(n, [float(r[5]) for r in rows], "s--", label="before (every rank unpacks)")
a.set_xscale("log", base=2); a.set_xticks(n, [str(x) for x in n]); a.set_yscale("log")
a.set_xlabel("ranks on one node (2 CPUs)"); a.set_ylabel("seconds (log)"); a.grid(True, which="both"); a.legend()
a.set_title("runtime .ptar: delivery time")
b.plot(n, [float(r[2]) for r in rows], "o-", label="sum of peak RSS")
b.plot(n, [float(r[3]) for r in rows], "^:", label="MPI floor (bcast --version)")
b.plot(n, [float(r[4]) for r in rows], "s-", label="delivery's own (difference)")
b.set_xscale("log", base=2); b.set_xticks(n, [str(x) for x in n])
b.set_xlabel("ranks on one node (2 CPUs)"); b.set_ylabel("MB"); b.grid(True); b.legend()
b.set_title("node total peak RSS")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
PY
    echo "plot: bench/fatnode.png"
else
    echo "no plot: /usr/bin/python3 lacks matplotlib (apt-get install python3-matplotlib)"
fi
