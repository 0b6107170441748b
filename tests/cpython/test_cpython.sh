#!/bin/bash
# test_cpython.sh - CPython's own start-up tests pass under python-mpi as
# under python3 (issue 17), compared test by test.
#
# Runs `-m test` of the modules below under the Python python-mpi embeds
# (/usr/bin/python3) and under python-mpi, in three modes, each pair on
# the same run with the same environment (every PYTHON* variable unset,
# stdin /dev/null):
#   direct     python-mpi started by hand, no launcher
#   mpiexec    under `$MPIEXEC -n 1` (python3 too)
#   delivered  under `$MPIEXEC -n 1` with PYTHON_MPI_PACKAGES naming a
#              runtime bundle made by this build's `pkgroot python
#              --full-stdlib` (it carries the test package), so the tests
#              run from the node-local tree
# compare.py reads both runs' --junit-xml files and logs: a test that
# passes under python3 and not under python-mpi fails here, unless
# docs/cpython-differences.md lists it (with its reason) for that mode;
# a listed test that passes fails too.  Skips of python3 are counted and
# printed.  sigdump.py then compares the signal dispositions of a rank
# with python3's (each signal one test; the MPI library's own are listed
# as signal.NAME).  The counts in the summary line are tests.
#
#   CPYTHON_JOBS     regrtest -jN (default 0: the tests run in the rank
#                    itself; with -jN they run in worker processes, which
#                    are a rank's children, plain Python without MPI)
#   CPYTHON_SERIAL   1: run python3 and python-mpi one after the other
#                    (default: side by side, each on one core)
#   CPYTHON_MODES    the modes to run (default: all three)
#   CPYTHON_MODULES  the test modules (default: the list below)
#   CPYTHON_VERBOSE  1: an ok line for every passing test
#   CPYTHON_PYTHON   the python3 to compare with (default /usr/bin/python3)
#   CPYTHON_OUT      where results stay (default $BUILD/cpython: MODE-python3.xml,
#                    .log, .signals and the same for MODE-python-mpi)
set -u
. "$(dirname "$0")/../lib.sh"

SUITE=cpython
case $MPIEXEC in *openmpi*) MPI_NAME=openmpi ;; *) MPI_NAME=mpich ;; esac
MODULES=${CPYTHON_MODULES:-test_cmd_line test_cmd_line_script test_sys test_site test_embed
    test_runpy test_atexit test_subprocess test_sysconfig test_venv test_getpath}
MODES=${CPYTHON_MODES:-direct mpiexec delivered}
JOBS=${CPYTHON_JOBS:-0}
# The Python python-mpi embeds, whose own tests these are.
REF=${CPYTHON_PYTHON:-/usr/bin/python3}
PM=$BIN/python-mpi
EXPECTED=$REPO/docs/cpython-differences.md
OUT=${CPYTHON_OUT:-$BUILD/cpython}
# A run that hangs is a failure, not a stuck make check: regrtest kills a
# module after --timeout, timeout(1) the whole run.
PER_MODULE_TIMEOUT=600
RUN_TIMEOUT=1500

# shellcheck disable=SC2086  # the module list is meant to split
if ! "$REF" -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec("test." + m) is None for m in sys.argv[1:]))' $MODULES 2>/dev/null; then
    t_skip "CPython's test modules" "not installed for $REF (Debian: libpython3.11-testsuite)"
    t_done $SUITE
    exit
fi
ref_ver=$("$REF" -c 'import sys; print(sys.version.split()[0])')
pm_ver=$(env -u PYTHONHOME -u PYTHON_MPI_PACKAGES "$PM" -c 'import sys; print(sys.version.split()[0])' </dev/null 2>&1)
if [ "$ref_ver" != "$pm_ver" ]; then
    # Another Python's tests say nothing about this python-mpi.
    t_skip "CPython's tests" "python-mpi embeds Python '$pm_ver', $REF is $ref_ver (set CPYTHON_PYTHON)"
    t_done $SUITE
    exit
fi

rm -rf "$OUT"
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/pympi-cpython.XXXXXX)
SHM=$(t_shm_scratch pympi-cpython-shm)   # the delivered mode's PYTHON_MPI_CHROOT
trap 'rm -rf "$TMP" "$SHM"' EXIT

# The comparer first, on made-up results: a verdict it gets wrong here
# would make every line below meaningless.
if "$REF" "$REPO/tests/cpython/test_compare.py" >"$OUT/test_compare.log" 2>&1; then
    t_ok "compare.py gives every verdict right on made-up results"
else
    t_fail "compare.py gives every verdict right on made-up results" "$(tail -n 15 "$OUT/test_compare.log")"
fi

# The runtime with the test package, cached next to t_runtime_bundle's.
full_bundle() {
    local out=$BUILD/test-bundles/runtime-full.tar.zst
    mkdir -p "$BUILD/test-bundles"
    if [ ! -s "$out" ] || [ "$BIN/pkgroot" -nt "$out" ]; then
        "$BIN/pkgroot" python "$out" --full-stdlib >"$OUT/pkgroot.log" 2>&1 || return 1
    fi
    echo "$out"
}

# run MODE WHO PROGRAM: one `-m test` run, results in $OUT/MODE-WHO.*,
# its exit status in $OUT/MODE-WHO.rc.
run() {
    local mode=$1 who=$2 prog=$3 dir=$TMP/$1-$2 launch=() jobs=()
    mkdir -p "$dir"
    [ "$mode" = direct ] || launch=("$MPIEXEC" -n 1)
    [ "$JOBS" = 0 ] || jobs=(-j"$JOBS")
    # shellcheck disable=SC2086
    (
        cd "$dir" || exit 1
        for v in $(compgen -e); do case $v in PYTHON*) unset "$v" ;; esac; done
        if [ "$mode" = delivered ]; then
            export PYTHON_MPI_PACKAGES=$BUNDLE PYTHON_MPI_CHROOT=$CHROOT
        fi
        exec timeout -k 30 $RUN_TIMEOUT "${launch[@]}" "$prog" -m test "${jobs[@]}" -W \
            --timeout $PER_MODULE_TIMEOUT --junit-xml "$OUT/$mode-$who.xml" $MODULES
    ) </dev/null >"$OUT/$mode-$who.log" 2>&1
    echo $? >"$OUT/$mode-$who.rc"
}

# signals MODE WHO PROGRAM [child]: the signal dispositions of the program
# started as run starts it (or of a child it starts with sys.executable),
# in $OUT/MODE-WHO[-child].signals.
signals() {
    local mode=$1 who=$2 prog=$3 launch=() args=("$REPO/tests/cpython/sigdump.py")
    [ "$mode" = direct ] || launch=("$MPIEXEC" -n 1)
    [ "${4:-}" = child ] && args=(-c 'import subprocess, sys
sys.exit(subprocess.call([sys.executable] + sys.argv[1:]))' "${args[@]}")
    (
        cd "$TMP" || exit 1
        for v in $(compgen -e); do case $v in PYTHON*) unset "$v" ;; esac; done
        if [ "$mode" = delivered ]; then
            export PYTHON_MPI_PACKAGES=$BUNDLE PYTHON_MPI_CHROOT=$CHROOT
        fi
        exec timeout -k 10 120 "${launch[@]}" "$prog" "${args[@]}"
    ) </dev/null >"$OUT/$mode-$who${4:+-$4}.signals" 2>&1
}

# add_counts FILE: a comparer's "PASSED FAILED SKIPPED" into ours.
add_counts() {
    local p f s
    if read -r p f s <"$1" 2>/dev/null; then
        T_PASSED=$((T_PASSED + p)) T_FAILED=$((T_FAILED + f)) T_SKIPPED=$((T_SKIPPED + s))
    else
        t_fail "$2"
    fi
    rm -f "$1"
}

# regrtest's verdict is the run's exit status: 0 all passed, 2 some failed.
status_is_regrtest() {
    local log=$1 rc=$2 want
    case $(grep -a '^Tests result: ' "$log" | tail -n 1) in
        'Tests result: SUCCESS') want=0 ;;
        'Tests result: FAILURE'*) want=2 ;;
        *) return 1 ;;
    esac
    [ "$rc" = "$want" ]
}

how="tests in the rank"
[ "$JOBS" = 0 ] || how="regrtest -j$JOBS"
echo "# cpython: $(basename "$BUILD"), $MPIEXEC, Python $ref_ver, $how"
for mode in $MODES; do
    t0=$(date +%s)
    if [ "$mode" = delivered ]; then
        if ! BUNDLE=$(full_bundle); then
            t_fail "delivered: pkgroot python --full-stdlib" "$(tail -n 5 "$OUT/pkgroot.log")"
            continue
        fi
        if "$BIN/pkgroot" ls "$BUNDLE" | grep -q " lib/python${ref_ver%.*}/test/test_sys.py$"; then
            t_ok "delivered: the runtime bundle carries the test package"
        else
            t_fail "delivered: the runtime bundle carries the test package"
        fi
        CHROOT=$SHM
    fi
    if [ "${CPYTHON_SERIAL:-0}" = 1 ]; then
        run "$mode" python3 "$REF"
        run "$mode" python-mpi "$PM"
    else
        run "$mode" python3 "$REF" &
        run "$mode" python-mpi "$PM" &
        wait
    fi
    rc_ref=$(cat "$OUT/$mode-python3.rc" 2>/dev/null)
    rc_pm=$(cat "$OUT/$mode-python-mpi.rc" 2>/dev/null)
    if status_is_regrtest "$OUT/$mode-python3.log" "$rc_ref"; then
        t_ok "$mode: python3's exit status is regrtest's verdict ($rc_ref)"
    else
        t_fail "$mode: python3's exit status is regrtest's verdict" "status $rc_ref; $(tail -n 3 "$OUT/$mode-python3.log")"
    fi
    if status_is_regrtest "$OUT/$mode-python-mpi.log" "$rc_pm"; then
        t_ok "$mode: python-mpi's exit status is regrtest's verdict ($rc_pm)"
    else
        t_fail "$mode: python-mpi's exit status is regrtest's verdict" "status $rc_pm; $(tail -n 3 "$OUT/$mode-python-mpi.log")"
    fi
    verbose=()
    [ "${CPYTHON_VERBOSE:-0}" = 1 ] && verbose=(--verbose)
    "$REF" "$REPO/tests/cpython/compare.py" --mode "$mode" --mpi "$MPI_NAME" --expected "$EXPECTED" \
        --ref "$OUT/$mode-python3.xml" "$OUT/$mode-python3.log" \
        --pm "$OUT/$mode-python-mpi.xml" "$OUT/$mode-python-mpi.log" \
        --modules "$MODULES" --counts "$TMP/counts" "${verbose[@]}"
    add_counts "$TMP/counts" "$mode: compare.py ran"
    # A rank's signals (and its children's) are python3's but for those
    # the MPI library keeps.
    for child in "" child; do
        signals "$mode" python3 "$REF" $child
        signals "$mode" python-mpi "$PM" $child
        "$REF" "$REPO/tests/cpython/sigdump.py" --compare "$OUT/$mode-python3${child:+-child}.signals" \
            "$OUT/$mode-python-mpi${child:+-child}.signals" --mode "$mode" --mpi "$MPI_NAME" \
            --expected "$EXPECTED" --counts "$TMP/counts" --id-prefix "${child:+child.}signal."
        add_counts "$TMP/counts" "$mode: sigdump.py --compare ran"
    done
    if [ "$mode" = delivered ]; then
        if t_wait_empty "$CHROOT" 10; then
            t_ok "delivered: no tree left in PYTHON_MPI_CHROOT"
        else
            t_fail "delivered: no tree left in PYTHON_MPI_CHROOT" "$(ls -A "$CHROOT")"
        fi
    fi
    echo "# $mode: $(($(date +%s) - t0)) s (python3 and python-mpi)"
done
t_done $SUITE
