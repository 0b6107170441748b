# lib.sh - shared helpers for the shell test suites (sourced, bash).
#
# Each suite prints "ok - NAME" / "not ok - NAME" lines and ends with one
# "SUITE: N passed, M failed" line; it exits non-zero if anything failed.

# An unbuffered Python writes a print's text and its newline separately, so
# two ranks' lines can interleave: tests count whole lines.
unset PYTHONUNBUFFERED

T_PASSED=0
T_FAILED=0
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
        export OMPI_MCA_rmaps_base_oversubscribe=1
        # Not OMPI_MCA_odls_base_sigkill_timeout=0, although it would save 2 s
        # in every job that ends with a failing rank: with it, orterun now and
        # then leaves a rank running, orphaned (test_hardening's SIGINT to the
        # launcher, 3 runs in 14).
        ;;
    *) MPICC=${MPICC:-mpicc.mpich} ;;
esac
export MPIEXEC

# The Python under test: the one the build embeds, which the Makefile
# exports as PYTHON (Debian's by default).  Suites ask it what to expect
# (its X.Y, prefix, tags) and never assume a version.
PYTHON=${PYTHON:-/usr/bin/python3}
# The installed package the suites bundle and import: numpy where the
# Python has it (Debian's: python3-numpy), else pip, which every CPython
# install made with ensurepip has (pyenv's, python.org's: no numpy there,
# and no index to fetch it from).  T_PKG_EXPR uses it; T_PKG_VALUE is what
# the installed package gives, so a bundled copy must give the same.
T_PYINFO=$("$PYTHON" -I -c '
import importlib.util, os, platform, sys, sysconfig
prefix = os.path.normpath(sys.base_prefix)
pkg = "numpy" if importlib.util.find_spec("numpy") else "pip"
expr = "float(numpy.arange(4).sum())" if pkg == "numpy" else "pip.__version__"
site = os.path.relpath(os.path.dirname(os.path.dirname(importlib.util.find_spec(pkg).origin)), prefix)
magic = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
print("%d.%d" % sys.version_info[:2], platform.python_version(), prefix, sys.implementation.cache_tag,
      sysconfig.get_config_var("SOABI"), magic, sysconfig.get_config_var("LIBDIR"), pkg, site,
      eval(expr, {pkg: __import__(pkg)}), expr)') || T_PYINFO=
read -r T_PYVER T_PYFULL T_PYPREFIX T_PYTAG T_PYSOABI T_PYMAGIC T_PYLIBDIR T_PKG T_PKG_SITE T_PKG_VALUE \
    T_PKG_EXPR <<< "$T_PYINFO"
T_PKG_RE=$(printf '%s' "$T_PKG_VALUE" | sed 's/[].[*^$\\]/\\&/g')   # T_PKG_VALUE as a regex
T_PYSTDLIB=lib/python$T_PYVER   # the standard library, below the prefix and in bundles
# Other CPython versions than ours, for bundles that must be refused:
# "X.Y cache-tag magic" (CPython's final magic numbers); N=0 or 1.
t_other_python() {
    local v n=${1:-0}
    for v in 3.10:3439 3.9:3425 3.8:3413 3.11:3495; do
        [ "${v%:*}" = "$T_PYVER" ] && continue
        [ "$n" -gt 0 ] && { n=$((n - 1)); continue; }
        echo "${v%:*} cpython-$(echo "${v%:*}" | tr -d .) ${v#*:}"; return 0
    done
}
read -r T_OTHER_VER T_OTHER_TAG T_OTHER_MAGIC <<< "$(t_other_python 0)"
read -r T_OLD_VER T_OLD_TAG T_OLD_MAGIC <<< "$(t_other_python 1)"

# CASE= (make check CASE=glob; tests/README.md): PM_TEST_CASE, a glob over
# the names given to t_ok, t_fail and t_skip.  The suite's steps still run
# (they are imperative), but a check whose name does not match is neither
# printed nor counted: the closing line counts it "filtered".  A costly step
# may ask first: `t_case NAME || skip the step`.
T_FILTERED=0
t_case() { [ -z "${PM_TEST_CASE:-}" ] || [[ $1 == $PM_TEST_CASE ]]; }
t_filtered() { t_case "$1" && return 1; T_FILTERED=$((T_FILTERED + 1)); }

t_ok() { t_filtered "$1" && return 0; T_PASSED=$((T_PASSED + 1)); echo "ok - $1"; }
t_fail() {
    t_filtered "$1" && return 0
    T_FAILED=$((T_FAILED + 1)); echo "not ok - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
    return 0
}
# t_check NAME CMD...: passes when CMD exits 0.
t_check() { local n=$1; shift; if "$@"; then t_ok "$n"; else t_fail "$n"; fi; }
# t_skip NAME REASON: a check that cannot run here, counted, never silent.
T_SKIPPED=0
t_skip() { t_filtered "$1" && return 0; T_SKIPPED=$((T_SKIPPED + 1)); echo "ok - $1 # SKIP $2"; }
t_done() {
    echo "$1: $T_PASSED passed, $T_FAILED failed$([ "$T_SKIPPED" = 0 ] || echo ", $T_SKIPPED skipped")$(
        [ "$T_FILTERED" = 0 ] || echo ", $T_FILTERED filtered (CASE=${PM_TEST_CASE})")"
    [ "$T_FAILED" -eq 0 ]
}

# t_shm_scratch NAME: a new private directory (mode 0700) on the host's
# /dev/shm when that is a tmpfs with 4 GiB free, else under /tmp, for the
# trees a suite unpacks: the simulated nodes' /dev/shm (CLUSTER_SHM_DIR:
# node-exec binds NAME/HOST over the node's /dev/shm, so the node sees only
# its own) and PYTHON_MPI_CHROOT.  A node's /dev/shm is a tmpfs; on this
# machine's /tmp (a disk) making the test runtime's 2,900 files costs 2 s of
# system time against 0.07 s.  The suite removes it (trap ... EXIT).
t_shm_scratch() {
    local d
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
       [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt 4194304 ] 2>/dev/null &&
       d=$(mktemp -d "/dev/shm/$1.XXXXXX" 2>/dev/null); then
        echo "$d"
    else
        mktemp -d "/tmp/$1.XXXXXX"
    fi
}

# The runtime bundle (Python + $T_PKG) made by pkgroot, cached in the build
# tree and remade when pkgroot changes.
t_runtime_bundle() {
    local dir=$BUILD/test-bundles out=$BUILD/test-bundles/runtime.tar.zst
    mkdir -p "$dir"
    if [ ! -s "$out" ] || [ "$BIN/pkgroot" -nt "$out" ]; then
        "$BIN/pkgroot" python "$out" "$T_PKG" >/dev/null || return 1
    fi
    echo "$out"
}

# Lines of a file that look like our one-line diagnostics.
t_error_lines() { grep -c -E '^(python-mpi|bcast): rank [0-9?]+ on [^:]+: ' "$1" || true; }

# Is a directory empty (or absent)?
# Empty but for per-user directories python-mpi-UID, which stay (empty,
# 0700) between jobs so that their names are never handed to other users.
t_empty_dir() {
    [ -d "$1" ] || return 0
    local e
    for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        case ${e##*/} in python-mpi-[0-9]*) [ -d "$e" ] && [ ! -L "$e" ] && [ -z "$(ls -A "$e")" ] && continue ;; esac
        return 1
    done
}

# Wait up to SECS (default 10) for a directory to become empty: after a
# kill, the reaper removes the tree asynchronously.
t_wait_empty() {
    local i
    for i in $(seq $((${2:-10} * 10))); do t_empty_dir "$1" && return 0; sleep 0.1; done
    t_empty_dir "$1"
}
