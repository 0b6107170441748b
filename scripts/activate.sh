# activate.sh - job-script helper for python-mpi-bcast (bash and zsh).
#
#   source activate.sh PREFIX "LAUNCHER ARGS..."
#   bcast $PROJECT/py/runtime.tar.zst $PROJECT/py/mycode.tar.zst
#   srun -n 4096 python-mpi script.py          # many runs, one unpack
#   python_mpi_cleanup
#
# PREFIX is a node-local directory (e.g. /dev/shm/$USER-py); LAUNCHER starts
# one bcast per node group, e.g. "srun -n 64 --ntasks-per-node=1",
# "aprun -n 64 -N 1" or "mpiexec.mpich -n 4".  Sourcing sets PYTHONHOME,
# PYTHONUSERBASE and PATH to PREFIX and defines:
#   bcast BUNDLE...        unpack bundles into PREFIX on every node
#   python_mpi_cleanup     remove PREFIX on every node (through LAUNCHER)
#   python_mpi_deactivate  restore the environment
# and, for the three tiers of the original python-mpi-bcast paper:
#   python_mpi_runtime BUNDLE...   1. the Python runtime (pkgroot python)
#   python_mpi_packages BUNDLE...  2. the user's packages (pkgroot pip, venv,
#                                     conda, dir): change now and then
#   python_mpi_devel DIR...        3. the application's own code under
#                                     development: bundled now from this
#                                     shell's view of DIR (pkgroot dir, into
#                                     the site directory), broadcast, and
#                                     the temporary bundle removed; call it
#                                     again after editing DIR.
# The temporary bundle goes to $PYTHON_MPI_DEVEL_TMP (default $TMPDIR or
# /tmp): it must be readable by rank 0, which runs where this shell runs
# under srun, aprun and mpiexec.
# Nothing is removed automatically: call python_mpi_cleanup at the end.

_pm_err() { echo "activate.sh: $*" >&2; }

if [ $# -lt 2 ] || [ -z "${1:-}" ] || [ -z "${2:-}" ]; then
    _pm_err "usage: source activate.sh PREFIX \"LAUNCHER ARGS...\""
    return 1
fi
case $1 in
    /*) ;;
    *) _pm_err "PREFIX must be an absolute path: $1"; return 1 ;;
esac

if [ -n "${BASH_VERSION:-}" ]; then
    _pm_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
elif [ -n "${ZSH_VERSION:-}" ]; then
    # shellcheck disable=SC2296  # zsh's own expansion for the sourced file
    _pm_here=$(cd "$(dirname "${(%):-%x}")" && pwd)
else
    _pm_err "only bash and zsh are supported"
    return 1
fi

# The bcast binary: $PYTHON_MPI_BIN, the install tree (share/python-mpi ->
# bin), the build tree (scripts -> build/bin), or PATH.
if [ -n "${PYTHON_MPI_BIN:-}" ] && [ -x "$PYTHON_MPI_BIN/bcast" ]; then
    _PM_BCAST=$PYTHON_MPI_BIN/bcast
elif [ -x "$_pm_here/../../bin/bcast" ]; then
    _PM_BCAST=$(cd "$_pm_here/../../bin" && pwd)/bcast
elif [ -x "$_pm_here/../build/bin/bcast" ]; then
    _PM_BCAST=$(cd "$_pm_here/../build/bin" && pwd)/bcast
elif command -v bcast >/dev/null 2>&1; then
    _PM_BCAST=$(command -v bcast)
else
    _pm_err "cannot find the bcast program (set PYTHON_MPI_BIN)"
    return 1
fi
# pkgroot, for python_mpi_devel: next to bcast, else on PATH.
if [ -x "$(dirname "$_PM_BCAST")/pkgroot" ]; then
    _PM_PKGROOT=$(dirname "$_PM_BCAST")/pkgroot
else
    _PM_PKGROOT=$(command -v pkgroot 2>/dev/null || true)
fi
unset _pm_here

_PM_PREFIX=$1
_PM_LAUNCHER=$2
_PM_OLD_PYTHONHOME=${PYTHONHOME-__unset__}
_PM_OLD_PYTHONUSERBASE=${PYTHONUSERBASE-__unset__}
_PM_OLD_PATH=$PATH
export PYTHONHOME=$_PM_PREFIX
export PYTHONUSERBASE=$_PM_PREFIX
export PATH=$_PM_PREFIX/bin:$PATH

# The launcher string splits into words in both shells.
_pm_launch() {
    if [ -n "${ZSH_VERSION:-}" ]; then
        # shellcheck disable=SC2296
        ${=_PM_LAUNCHER} "$@"
    else
        # shellcheck disable=SC2086
        $_PM_LAUNCHER "$@"
    fi
}

bcast() {
    _pm_launch "$_PM_BCAST" -p "$_PM_PREFIX" "$@" || return 1
}

python_mpi_runtime() {
    [ $# -gt 0 ] || { _pm_err "usage: python_mpi_runtime BUNDLE..."; return 2; }
    bcast "$@"
}

python_mpi_packages() {
    [ $# -gt 0 ] || { _pm_err "usage: python_mpi_packages BUNDLE..."; return 2; }
    bcast "$@"
}

python_mpi_devel() {
    [ $# -gt 0 ] || { _pm_err "usage: python_mpi_devel DIR..."; return 2; }
    if [ -z "$_PM_PKGROOT" ]; then
        _pm_err "cannot find the pkgroot program (set PYTHON_MPI_BIN)"
        return 1
    fi
    local _pm_d _pm_tmp _pm_rc=0
    for _pm_d in "$@"; do
        if [ ! -d "$_pm_d" ]; then
            _pm_err "$_pm_d: not a directory"
            return 1
        fi
    done
    _pm_tmp=$(mktemp -d "${PYTHON_MPI_DEVEL_TMP:-${TMPDIR:-/tmp}}/python-mpi-devel.XXXXXX") || {
        _pm_err "cannot create a temporary directory in ${PYTHON_MPI_DEVEL_TMP:-${TMPDIR:-/tmp}}"
        return 1
    }
    for _pm_d in "$@"; do
        # one uncompressed bundle per directory: small, and made every run
        if ! "$_PM_PKGROOT" dir "$_pm_tmp/devel.tar" "$_pm_d" >/dev/null ||
           ! bcast "$_pm_tmp/devel.tar"; then
            _pm_rc=1
            break
        fi
        rm -f -- "$_pm_tmp/devel.tar"
    done
    rm -rf -- "$_pm_tmp"
    return $_pm_rc
}

python_mpi_cleanup() {
    case $_PM_PREFIX in
        /|"") _pm_err "refusing to remove '$_PM_PREFIX'"; return 1 ;;
        /dev/shm/?*|/tmp/?*|"${PYTHON_MPI_CHROOT:-/dev/shm}"/?*) ;;
        *) _pm_err "refusing to remove $_PM_PREFIX: not under /dev/shm, /tmp or \$PYTHON_MPI_CHROOT"; return 1 ;;
    esac
    _pm_launch rm -rf -- "$_PM_PREFIX"
}

python_mpi_deactivate() {
    if [ "$_PM_OLD_PYTHONHOME" = __unset__ ]; then unset PYTHONHOME; else export PYTHONHOME=$_PM_OLD_PYTHONHOME; fi
    if [ "$_PM_OLD_PYTHONUSERBASE" = __unset__ ]; then unset PYTHONUSERBASE; else export PYTHONUSERBASE=$_PM_OLD_PYTHONUSERBASE; fi
    export PATH=$_PM_OLD_PATH
    unset -f bcast python_mpi_cleanup python_mpi_deactivate _pm_launch _pm_err \
        python_mpi_runtime python_mpi_packages python_mpi_devel
    unset _PM_PREFIX _PM_LAUNCHER _PM_BCAST _PM_PKGROOT _PM_OLD_PYTHONHOME _PM_OLD_PYTHONUSERBASE _PM_OLD_PATH
}
