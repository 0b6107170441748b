#!/bin/bash
# run-suites.sh - run the suites of tests/suites.list that a make target
# asks for (tests/tests.mk starts it; tests/README.md explains it):
#
#   run-suites.sh target NAME   the suites of target NAME (make mpi-tests)
#   run-suites.sh cell default  this MPI's default-Python cell (make check-build)
#   run-suites.sh cell other    this MPI's cell for another Python (make check-python)
#   run-suites.sh cell after    what runs once after every cell (make check-after)
#   run-suites.sh quick         the quick suites of the default cell (make check-quick)
#   run-suites.sh matrix        every cell, each by a sub-make (make check)
#
# From make's environment: MPI MPIEXEC BUILD PYTHON MAKE CC UNIT_BINS
# FUZZ_SECONDS TXN_KILLS CHECK_MPIS CHECK_PYTHONS, and the selection: SUITE (a suite's,
# a target's or a unit's name) and CASE (a glob over case names; without *
# or ? it matches the names containing it).  Under `make -n` it prints what
# it would run.  A suite that fails does not stop the others of the cell;
# the cell fails at its end, naming them.
set -u
cd "$(dirname "$0")/.." || exit 1
LIST=tests/suites.list
MODE=${1:?mode}; ARG=${2:-}
MAKE=${MAKE:-make}
SUITE=${SUITE:-}
CASE=${CASE:-}

# `make -n`: MAKEFLAGS' first word holds the one-letter flags.
DRY=0
case ${MAKEFLAGS:-} in -*|"") ;; *) case ${MAKEFLAGS%% *} in *n*) DRY=1 ;; esac ;; esac

die() { echo "run-suites: $*" >&2; exit 2; }

# The case filter, a glob, for the units (tests/case_filter.c) and for
# tests/lib.sh alike.
if [ -n "$CASE" ]; then
    case $CASE in *[*?]*) PM_TEST_CASE=$CASE ;; *) PM_TEST_CASE="*$CASE*" ;; esac
    export PM_TEST_CASE
fi

# SUITE naming one unit (tests/unit/NAME.c): the unit suite, that binary only.
UNIT_ONLY=
if [ -n "$SUITE" ] && [ -f "tests/unit/$SUITE.c" ]; then UNIT_ONLY=$SUITE; fi

# A SUITE that names nothing is a mistake, not an empty run.
if [ -n "$SUITE" ] && [ -z "$UNIT_ONLY" ] &&
   ! awk -v s="$SUITE" '$1 !~ /^#/ && ($1 == s || $2 == s) { f = 1 } END { exit !f }' "$LIST"; then
    die "SUITE=$SUITE: no such suite, target or unit in $LIST (or tests/unit/)"
fi

# selected NAME TARGET: does SUITE pick this line?
selected() {
    [ -z "$SUITE" ] || [ "$SUITE" = "$1" ] || [ "$SUITE" = "$2" ] ||
        { [ -n "$UNIT_ONLY" ] && [ "$1" = unit ]; }
}
# in_cell MPICOL PYCOL KIND MPI: does the line run in that cell?
# KIND: default, other (another Python), after.  Another Python's cells
# have one MPI, the first: they run every line of python all, whatever its
# mpi column (as make check-python always did).
in_cell() {
    case $3:$1 in other:*|*:all|*:"$4") ;; *) return 1 ;; esac
    case $3:$2 in default:all|default:default|other:all|after:after) return 0 ;; esac
    return 1
}
has_flag() { case ,$1, in *,"$2",*) return 0 ;; esac; return 1; }

# The lines wanted, "name target mpi python flags command", in list order.
pick() {
    local kind=$1 name target mpi py flags cmd
    while read -r name target mpi py flags cmd; do
        case $name in ''|'#'*) continue ;; esac
        [ -n "$cmd" ] || die "$LIST: $name: no command"
        selected "$name" "$target" || continue
        case $kind in
            target:*) [ "$target" = "${kind#target:}" ] || continue ;;
            quick) in_cell "$mpi" "$py" default "$MPI" && has_flag "$flags" quick || continue ;;
            *) in_cell "$mpi" "$py" "$kind" "${2:-$MPI}" || continue ;;
        esac
        printf '%s\n' "$name"$'\t'"$target"$'\t'"$mpi"$'\t'"$py"$'\t'"$flags"$'\t'"$cmd"
    done < "$LIST"
}

# The builds a suite needs, each made once per run.
BUILT=,
build() {
    local what=$1
    case $BUILT in *,"$what",*) return 0 ;; esac
    BUILT=$BUILT$what,
    case $what in
        units) if [ -n "${PM_TEST_CASE:-}" ]; then
                   submake $UNIT_BINS "$BUILD/tests/case_filter.so" || return 1
                   export PM_CASE_FILTER=$BUILD/tests/case_filter.so
                   case $BUILD in /*) ;; *) PM_CASE_FILTER=$PWD/$PM_CASE_FILTER ;; esac
               else submake $UNIT_BINS; fi ;;
        fuzz) submake "$BUILD/fuzz/fuzz_unpack" && mkdir -p "$BUILD/fuzz/corpus" ;;
        static) submake STATIC_PYTHON=1 all ;;
    esac
}
# A sub-make computes its cell's variables itself: what we export would win
# over the Makefile's ?= (another cell's MPIEXEC, the static build's BUILD).
submake() {
    if [ $DRY = 1 ]; then echo "$MAKE --no-print-directory $*"; return 0; fi
    cellmake "$@"
}
# Cells run under `make -n` too (MAKEFLAGS says so): their plan is printed.
cellmake() {
    env -u MPI -u MPIEXEC -u BUILD -u PKGROOT -u STATIC_BUILD -u UNIT_BINS -u FIRST_CELL -u CHECK_MPIS \
        $MAKE --no-print-directory "$@"
}

# run_lines FIRST_CELL: run each picked line (stdin); the counts at the end.
run_lines() {
    local first=$1 name target mpi py flags cmd rc failed='' ran=0 skipped=0 static='' bld t0
    local lines line
    # Read first, whole: a suite that reads an inherited descriptor (a unit
    # run as another user did) must not eat the list.
    mapfile -t lines
    [ ${#lines[@]} -gt 0 ] || { echo "run-suites: no suite selected${SUITE:+ (SUITE=$SUITE)} here"; return 0; }
    for line in "${lines[@]}"; do
        IFS=$'\t' read -r name target mpi py flags cmd <<< "$line"
        static=
        if has_flag "$flags" root && [ "$(id -u)" != 0 ]; then
            echo "ok - $name # SKIP needs root"
            echo "$name: 0 passed, 0 failed, 1 skipped"
            skipped=$((skipped + 1)); continue
        fi
        # A listed suite whose file is missing fails loudly.
        case $cmd in *tests/*.sh*)
            local f=${cmd#*tests/}; f=tests/${f%%.sh*}.sh
            [ -f "$f" ] || { echo "not ok - $name: $f is listed in $LIST but missing"; failed="$failed $name"; continue; } ;;
        esac
        has_flag "$flags" units && { build units || { failed="$failed $name"; continue; }; }
        has_flag "$flags" fuzz && { build fuzz || { failed="$failed $name"; continue; }; }
        if has_flag "$flags" static || { has_flag "$flags" static-mpich && [ "$MPI" = mpich ]; }; then
            build static || { failed="$failed $name"; continue; }
            static=$BUILD-static
        fi
        # test_static_python's build is the static one.
        bld=$BUILD; has_flag "$flags" static && bld=$static
        if [ $DRY = 1 ]; then
            echo "MPI=$MPI MPIEXEC=$MPIEXEC BUILD=$bld ${static:+STATIC_BUILD=$static }FIRST_CELL=$first $cmd"; continue
        fi
        t0=$SECONDS
        ( export FIRST_CELL=$first BUILD=$bld PKGROOT=$bld/bin/pkgroot
          [ -z "$static" ] || export STATIC_BUILD=$static
          eval "$cmd" ) </dev/null; rc=$?
        ran=$((ran + 1))
        echo "--- $name: $(( SECONDS - t0 ))s"
        [ $rc = 0 ] || failed="$failed $name"
    done
    [ $DRY = 1 ] && return 0
    echo "suites: $ran run$([ -z "$failed" ] || echo ", failed:$failed")$([ $skipped = 0 ] || echo ", $skipped skipped (need root)")"
    [ -z "$failed" ]
}

export MPI MPIEXEC BUILD PYTHON MAKE CC UNIT_BINS FUZZ_SECONDS CHECK_PYTHONS
if [ -n "$UNIT_ONLY" ]; then UNIT_BINS=$BUILD/tests/$UNIT_ONLY; fi

case $MODE in
    target)
        pick "target:$ARG" | run_lines 1 ;;
    cell)
        case $ARG in default) first=$([ "$MPI" = mpich ] && echo 1 || echo 0) ;; other|after) first=0 ;;
            *) die "cell default|other|after" ;; esac
        pick "$ARG" | run_lines "$first" ;;
    quick)
        # The quick suites build only what they use: no apt-get here.
        for pc in "$([ "$MPI" = openmpi ] && echo ompi-c || echo mpich)" libarchive libxxhash cmocka; do
            pkg-config --exists "$pc" 2>/dev/null || miss="${miss:-} $pc"
        done
        [ -z "${miss:-}" ] || { echo "make check-quick: missing (pkg-config):$miss - make deps installs them (as root)"; exit 1; }
        submake all || exit 1
        # FIRST_CELL=0: test_transaction's SIGKILL points (45 s) are counted skips.
        pick quick | run_lines 0 ;;
    matrix)
        # make check: each MPI's default-Python cell, then (with the first
        # MPI) each of CHECK_PYTHONS, then what runs once after them; a cell
        # with no selected suite is not even built.
        set -- ${CHECK_MPIS:-mpich}; first_mpi=$1
        for m in ${CHECK_MPIS:-mpich}; do
            [ -n "$(pick default "$m")" ] || continue
            echo "=== make check-build MPI=$m"
            cellmake MPI="$m" check-build || exit 1
        done
        if [ -n "$(pick other "$first_mpi")" ]; then
            for v in ${CHECK_PYTHONS:-}; do
                if p=$(sh tests/find-python.sh "$v"); then
                    echo "=== make check-python MPI=$first_mpi PYTHON=$p"
                    cellmake MPI="$first_mpi" PYTHON="$p" check-python || exit 1
                else echo "=== make check-python: no CPython $v found (# SKIP, counted by python-tests)"; fi
            done
        fi
        if [ -n "$(pick after "$first_mpi")" ]; then
            echo "=== make check-after MPI=$first_mpi"
            cellmake MPI="$first_mpi" check-after || exit 1
        fi ;;
    *) die "unknown mode $MODE" ;;
esac
