#!/bin/bash
# bench_bigenv.sh - a big environment: the runtime tree (Debian's Python +
# numpy, made by pkgroot python) COPIES times over, about 1 GB in 43,000
# entries, made into a .ptar by `pkgroot dir --at .` (lz4 parts, the
# default; and with --parts zstd and --parts stored), delivered by bcast
# to one node against unpacking the same tree with tar from a local file
# (`tar -xf`, `tar -xzf`, `zstd -dc | tar -xf`).  Goal (issue 15): bcast
# with 2 ranks at most 0.8x the time of `tar -xf`, net of MPI start-up.
#
# Every contender runs ROUNDS times interleaved, into a fresh directory
# under /dev/shm, from files in the page cache; medians and ratios to
# `tar -xf`.  Also: how long pkgroot takes to make the bundle (seconds,
# MB/s of tree, cores used), and bcast's peak RSS against the small
# runtime's (it must stay flat).
#   usage: bench/bench_bigenv.sh [ROUNDS]   (default 3)
#   env:   COPIES=15   NP="2" ranks for bcast   PACKAGES="numpy"
#          BASE=REV    also the bcast of git revision REV (built in a
#                      temporary directory), in the same rounds
# Writes bench/bigenv.txt and, where /usr/bin/python3 has matplotlib,
# bench/bigenv.png.  Needs about 5 GB in /var/tmp and 2 GB in /dev/shm.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
ROUNDS=${1:-3}
COPIES=${COPIES:-15}
NP=${NP:-2}
TMP=$(mktemp -d /var/tmp/pympi-bigenv.XXXXXX)
SRC=$(mktemp -d /dev/shm/pympi-bigenv-src.XXXXXX)   # the tree, in memory: pkgroot is timed, not the disk
OUT=/dev/shm/pympi-bigenv-$$
trap 'rm -rf "$TMP" "$SRC" "$OUT"' EXIT
MPIEXEC=mpiexec.mpich
echo "load before: $(uptime)"

"$BIN/pkgroot" python "$TMP/rt.tar.zst" ${PACKAGES-numpy} >/dev/null
"$BIN/pkgroot" python "$TMP/rt.ptar" ${PACKAGES-numpy} >/dev/null
mkdir -p "$SRC/one" "$SRC/tree"
tar -C "$SRC/one" -xf "$TMP/rt.tar.zst"
for i in $(seq -w 1 "$COPIES"); do mkdir "$SRC/tree/c$i" && cp -a "$SRC/one/." "$SRC/tree/c$i/"; done
rm -rf "$SRC/one"
entries=$(find "$SRC/tree" | wc -l); mb=$(du -sm "$SRC/tree" | cut -f1)
echo "tree: the runtime $COPIES times, $entries entries, $mb MB"

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# pkgroot: the bundle, timed (bash's `time`: wall, and CPU of the process),
# tree and bundle in memory, ROUNDS times interleaved, medians: the
# default (lz4 parts) on every core and with one thread, which must give
# the same bytes, and --parts zstd.
TIMEFORMAT='%R %U %S'
declare -A pkw pkc
for r in $(seq "$ROUNDS"); do
    for v in default j1 zstd; do
        case $v in
            default) args=(dir "$SRC/pk-$v.ptar") ;;
            j1) args=(-j 1 dir "$SRC/pk-$v.ptar") ;;
            zstd) args=(--parts zstd dir "$SRC/pk-$v.ptar") ;;
        esac
        rm -f "$SRC/pk-$v.ptar"
        t=$( { time "$BIN/pkgroot" "${args[@]}" "$SRC/tree" --at . >/dev/null 2>"$TMP/pkerr"; } 2>&1 ) ||
            { cat "$TMP/pkerr" >&2; exit 1; }
        read -r w u sy <<<"$t"
        pkw[$v]="${pkw[$v]:-} $w"
        pkc[$v]="${pkc[$v]:-} $(echo "$u + $sy" | bc)"
    done
done
cmp -s "$SRC/pk-default.ptar" "$SRC/pk-j1.ptar" && same=identical || same=DIFFERENT
mv "$SRC/pk-default.ptar" "$TMP/big.ptar"
mv "$SRC/pk-zstd.ptar" "$TMP/big-zstd.ptar"
rm -f "$SRC/pk-j1.ptar"
pkline() {   # variant: "S s, MB/s of tree, cores busy" from its medians
    local w c
    w=$(echo "${pkw[$1]}" | median); c=$(echo "${pkc[$1]}" | median)
    printf '%.2f s, %.0f MB/s of tree, %.2f cores busy' "$w" "$(echo "$mb / $w" | bc -l)" "$(echo "$c / $w" | bc -l)"
}
printf 'pkgroot dir --at . -> .ptar (lz4 parts, the default: %d MB, %s parts; tree and bundle in /dev/shm; medians of %s):\n' \
    "$(($(stat -c %s "$TMP/big.ptar") >> 20))" "$(tar -tf "$TMP/big.ptar" | grep -c '^part-')" "$ROUNDS"
echo "    $(pkline default)"
echo "    -j 1: $(pkline j1); the two bundles: $same"
echo "    --parts zstd ($(($(stat -c %s "$TMP/big-zstd.ptar") >> 20)) MB): $(pkline zstd)"
"$BIN/pkgroot" --parts stored dir "$TMP/big-stored.ptar" "$SRC/tree" --at . >/dev/null
tar -C "$SRC/tree" -cf "$TMP/big.tar" .
tar -C "$SRC/tree" -cf - . | gzip -c > "$TMP/big.tar.gz"
tar -C "$SRC/tree" -cf - . | zstd -q -T0 -o "$TMP/big.tar.zst"
rm -rf "$SRC"
echo "bundles: tar $(($(stat -c %s "$TMP/big.tar") >> 20)) MB, tar.gz $(($(stat -c %s "$TMP/big.tar.gz") >> 20)) MB," \
     "tar.zst $(($(stat -c %s "$TMP/big.tar.zst") >> 20)) MB, ptar (lz4 parts) $(($(stat -c %s "$TMP/big.ptar") >> 20)) MB," \
     "ptar with zstd parts $(($(stat -c %s "$TMP/big-zstd.ptar") >> 20)) MB," \
     "ptar with stored parts $(($(stat -c %s "$TMP/big-stored.ptar") >> 20)) MB"
cat "$TMP"/big.* > /dev/null   # all in the page cache, for everyone alike

declare -A name cmd mpicpu
add() { name[$1]=$2; cmd[$1]=$3; }
add tar     "tar -xf (uncompressed)"   'tar -C "$OUT" -xf "$TMP/big.tar"'
add targz   "tar -xzf (gzip)"          'tar -C "$OUT" -xzf "$TMP/big.tar.gz"'
add zstdtar "zstd -dc | tar -xf"       'zstd -dcq "$TMP/big.tar.zst" | tar -C "$OUT" -xf -'
order="tar targz zstdtar"
for n in $NP; do
    add "bcast$n" "bcast .ptar (lz4), $n ranks" "timeout 600 $MPIEXEC -n $n \"\$BIN/bcast\" -t -p \"\$OUT\" \"\$TMP/big.ptar\""
    add "zstd$n" "bcast .ptar zstd, $n ranks" "timeout 600 $MPIEXEC -n $n \"\$BIN/bcast\" -t -p \"\$OUT\" \"\$TMP/big-zstd.ptar\""
    add "stored$n" "bcast .ptar stored, $n ranks" "timeout 600 $MPIEXEC -n $n \"\$BIN/bcast\" -t -p \"\$OUT\" \"\$TMP/big-stored.ptar\""
    order="$order bcast$n zstd$n stored$n"
done
if [ -n "${BASE:-}" ]; then
    git -C "$REPO" archive --prefix=base/ "$BASE" | tar -x -C "$TMP"
    make -C "$TMP/base" -j2 build/bin/bcast >/dev/null
    echo "base: $BASE ($(git -C "$REPO" log -1 --format='%h %s' "$BASE" | cut -c1-70))"
    for n in $NP; do
        add "base$n" "bcast .ptar, $n ranks, BASE" "timeout 600 $MPIEXEC -n $n \"\$TMP/base/build/bin/bcast\" -t -p \"\$OUT\" \"\$TMP/big.ptar\""
        order="$order base$n"
    done
fi
# CPU into $CPU: seconds (user + system) of every process this shell has
# waited for, mpiexec's ranks included (bash's `times`, second line; run
# in this shell, not a subshell, which has no children of its own).
children_cpu() {
    times > "$TMP/times"
    CPU=$(sed -n 2p "$TMP/times" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } } END { printf "%.3f", s }')
}
declare -A times cpu
for r in $(seq "$ROUNDS"); do
    # Every other round backwards: no contender always follows the same one.
    if [ $((r % 2)) = 0 ]; then o=$(echo $order | tr ' ' '\n' | tac | tr '\n' ' '); else o=$order; fi
    for k in $o; do
        rm -rf "$OUT"; mkdir -p "$OUT"
        children_cpu; c0=$CPU
        s=$(date +%s%N)
        eval "${cmd[$k]}" >"$TMP/out"
        e=$(date +%s%N)
        children_cpu; c1=$CPU
        us=$(( (e - s) / 1000 ))
        # bcast: its own delivery time (-t), without mpiexec's start-up.
        t=$(sed -n 's/.* total \([0-9.]*\) s$/\1/p' "$TMP/out")
        [ -n "$t" ] && us=$(echo "$t * 1000000 / 1" | bc)
        times[$k]="${times[$k]:-} $us"
        cpu[$k]="${cpu[$k]:-} $(echo "($c1 - $c0) * 1000000 / 1" | bc)"
    done
    echo "round $r of $ROUNDS done"
done
# The same for MPI alone (start-up and shut-down of as many ranks), so
# that bcast's CPU can be told net of it.
for n in $NP; do
    children_cpu; c0=$CPU
    timeout 300 "$MPIEXEC" -n "$n" "$BIN/bcast" --version >/dev/null
    children_cpu; c1=$CPU
    mpicpu[$n]=$(echo "$c1 - $c0" | bc)
done
rm -rf "$OUT"

# Peak RSS per rank: the big bundle against the runtime (flat, or not).
rss() {
    rm -rf "$OUT" "$TMP/rss"; mkdir -p "$TMP/rss"
    timeout 600 "$MPIEXEC" -n "$1" "$REPO/bench/rss-rank" "$TMP/rss" "$BIN/bcast" -p "$OUT" "$2" >/dev/null
    cat "$TMP/rss"/rss.* | awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1024}'
}
n1=${NP%% *}
rss_big=$(rss "$n1" "$TMP/big.ptar"); rss_rt=$(rss "$n1" "$TMP/rt.ptar")
rm -rf "$OUT"

base=$(echo "${times[tar]}" | median)
{
    echo "# bench_bigenv.sh: $entries entries, $mb MB; $ROUNDS rounds, medians: seconds, ratio to tar -xf, CPU seconds of all its processes"
    for k in $order; do
        m=$(echo "${times[$k]}" | median)
        c=$(echo "${cpu[$k]}" | median)
        printf '%-10s %10.3f %8.2f %8.3f  %s\n' "$k" "$(echo "$m / 1000000" | bc -l)" "$(echo "$m / $base" | bc -l)" \
            "$(echo "$c / 1000000" | bc -l)" "${name[$k]}"
    done
} > "$TMP/table"
cp "$TMP/table" "$REPO/bench/bigenv.txt"
echo
printf '%-28s %12s %10s %10s\n' "method ($ROUNDS rounds)" "median (s)" "vs tar -xf" "CPU (s)"
awk '!/^#/ { n = $5; for (i = 6; i <= NF; i++) n = n " " $i; printf "%-28s %12.3f %9.2fx %10.3f\n", n, $2, $3, $4 }' "$TMP/table"
for n in $NP; do echo "(CPU: every process; MPI start-up and shut-down alone, $n ranks: ${mpicpu[$n]} s)"; done
for n in $NP; do
    for v in bcast zstd stored; do
        r=$(awk -v k="$v$n" '$1 == k {print $3}' "$TMP/table")
        # On a loaded machine the ranks wait for cores; their CPU time does
        # not: with a core each, bcast would take its CPU (less MPI's own)
        # divided among the ranks.
        est=$(awk -v k="$v$n" -v n="$n" -v m="${mpicpu[$n]}" '$1 == "tar" {t = $4} $1 == k {b = $4}
            END {if (t > 0) printf "%.2f", (b - m) / n / t}' "$TMP/table")
        echo "GOAL: ${name[$v$n]} / tar -xf = ${r}x (goal <= 0.8x: $(awk -v r="$r" 'BEGIN {print (r <= 0.8 ? "met" : "NOT met")}'));" \
             "from CPU seconds (a core per rank, as on an idle machine): ${est}x"
    done
done
echo "peak RSS per rank (MB), $n1 ranks: big .ptar $rss_big; runtime .ptar $rss_rt"
echo "(bcast: its -t 'total', from the first read on rank 0 to the last file written; mpiexec start-up excluded)"
echo "load after: $(uptime)"

if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    /usr/bin/python3 - "$TMP/table" "$REPO/bench/bigenv.png" "$entries" "$mb" <<'PY'
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [l.split(None, 4) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
fig, ax = plt.subplots(figsize=(8, 3.8))
names = [r[4].strip() for r in rows]
secs = [float(r[1]) for r in rows]
bars = ax.barh(names, secs, color=["#888"] * 3 + ["#c84" if "BASE" in n else "#28c" if "stored" in n else "#86c" if "zstd" in n else "#2a6"
                                                 for n in names[3:]])
tar = secs[0]
ax.axvline(0.8 * tar, color="r", ls="--", label="goal: 0.8 x tar -xf")
for b, s in zip(bars, secs):
    ax.text(s, b.get_y() + b.get_height() / 2, " %.2f s (%.2fx)" % (s, s / tar), va="center")
ax.invert_yaxis()
ax.set_xlabel("seconds (median)")
ax.set_xlim(0, max(secs) * 1.35)
ax.set_title("A %s MB, %s-entry environment into /dev/shm (2 CPUs)" % (sys.argv[4], sys.argv[3]))
ax.legend(loc="lower right")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
PY
    echo "plot: bench/bigenv.png"
else
    echo "no plot: /usr/bin/python3 lacks matplotlib (apt-get install python3-matplotlib)"
fi
