# lib.sh - shared helpers for the shell test suites (sourced, bash).
#
# Each suite prints "ok - NAME" / "not ok - NAME" lines and ends with one
# "SUITE: N passed, M failed" line; it exits non-zero if anything failed.

# An unbuffered Python writes a print's text and its newline separately, so
# two ranks' lines can interleave: tests count whole lines.
unset PYTHONUNBUFFERED

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
BIN=$BUILD/bin
MPIEXEC=${MPIEXEC:-mpiexec.mpich}
# Open MPI refuses root and more ranks than cores unless told; tests run as
# root on 2-core machines with up to 4 ranks.
# MPICC compiles test helpers (PMPI injectors) against the same MPI.
case $MPIEXEC in
    *openmpi*|*orterun*)
        MPICC=${MPICC:-mpicc.openmpi}
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        export OMPI_MCA_rmaps_base_oversubscribe=1 ;;
    *) MPICC=${MPICC:-mpicc.mpich} ;;
esac
export MPIEXEC

t_ok() { T_PASSED=$((T_PASSED + 1)); echo "ok - $1"; }
t_fail() {
    T_FAILED=$((T_FAILED + 1)); echo "not ok - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
    return 0
}
# t_skip NAME REASON: a check that cannot run here, counted.
t_skip() { T_SKIPPED=$((T_SKIPPED + 1)); echo "ok - $1 # SKIP $2"; }
# t_check NAME CMD...: passes when CMD exits 0.
t_check() { local n=$1; shift; if "$@"; then t_ok "$n"; else t_fail "$n"; fi; }
t_done() {
    if [ "$T_SKIPPED" -gt 0 ]; then
        echo "$1: $T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
    else
        echo "$1: $T_PASSED passed, $T_FAILED failed"
    fi
    [ "$T_FAILED" -eq 0 ]
}

# The runtime bundle (Python + numpy) made by pkgroot, cached in the build
# tree and remade when pkgroot changes.
t_runtime_bundle() {
    local dir=$BUILD/test-bundles out=$BUILD/test-bundles/runtime.tar.zst
    mkdir -p "$dir"
    if [ ! -s "$out" ] || [ "$BIN/pkgroot" -nt "$out" ]; then
        "$BIN/pkgroot" python "$out" numpy >/dev/null || return 1
    fi
    echo "$out"
}

# Lines of a file that look like our one-line diagnostics.
t_error_lines() { grep -c -E '^(python-mpi|bcast): rank [0-9?]+ on [^:]+: ' "$1" || true; }

# Is a directory empty (or absent)?
t_empty_dir() { [ ! -d "$1" ] || [ -z "$(ls -A "$1")" ]; }

# Wait up to SECS (default 10) for a directory to become empty: after a
# kill, the reaper removes the tree asynchronously.
t_wait_empty() {
    local i
    for i in $(seq $((${2:-10} * 10))); do t_empty_dir "$1" && return 0; sleep 0.1; done
    t_empty_dir "$1"
}
