# activate.sh - job-script helper for python-mpi-bcast (bash and zsh).
#
#   source activate.sh - "LAUNCHER ARGS..."
#   bcast $PROJECT/py/runtime.tar.zst $PROJECT/py/mycode.tar.zst
#   srun -n 4096 python-mpi script.py          # many runs, one unpack
#   python_mpi_cleanup
#
# PREFIX is the node-local directory the bundles go to.  "-" (recommended)
# picks CHROOT/python-mpi-UID/py-JOBID-PID (CHROOT is $PYTHON_MPI_CHROOT,
# default /dev/shm), inside the per-user directory that only you can
# enter.  An explicit PREFIX is created 0700 if missing; an existing one
# must be yours and 0700.  In both cases every directory above it must be
# owned by root or you and not writable by others (a sticky, root-owned
# /dev/shm or /tmp is fine): on a shared node anyone can plant a name in
# /dev/shm, so a predictable PREFIX that someone else made is refused.
# LAUNCHER starts one bcast per node group, e.g. "srun -n 64
# --ntasks-per-node=1", "aprun -n 64 -N 1" or "mpiexec.mpich -n 4"; its
# program is looked up once, now, before PATH changes.  Sourcing defines:
#   bcast BUNDLE...        unpack bundles into PREFIX on every node (bcast
#                          checks PREFIX there); after the first success it
#                          sets PYTHONHOME, PYTHONUSERBASE and PATH to PREFIX
#   python_mpi_cleanup     restore the environment (as deactivate), then
#                          remove PREFIX on every node (through LAUNCHER);
#                          with "-" the per-user directory stays, 0700
#   python_mpi_deactivate  restore the environment: PATH, PYTHONHOME,
#                          PYTHONUSERBASE and PYTHON_MPI_PREFIX as they
#                          were before sourcing (set or not, exported or not)
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
# under srun, aprun and mpiexec.  PYTHON_MPI_PREFIX names the prefix.
# Every tool (rm, mktemp, the launcher, bcast, pkgroot) runs by the
# absolute path found at source time, never through PATH.  PYTHON_MPI_CHROOT
# and the directory of bcast and pkgroot are resolved under the rule of
# bcast/core/trust.h (_pm_resolve): no link another user could have planted in
# /tmp or /dev/shm, no entry of a directory others can write that is not
# sticky.
# Nothing is removed automatically: call python_mpi_cleanup at the end.

_pm_err() { echo "activate.sh: $*" >&2; }

if [ $# -lt 2 ] || [ -z "${1:-}" ] || [ -z "${2:-}" ]; then
    _pm_err "usage: source activate.sh PREFIX|- \"LAUNCHER ARGS...\""
    return 1
fi
case $1 in
    /*|-) ;;
    *) _pm_err "PREFIX must be an absolute path or -: $1"; return 1 ;;
esac

# The system's own tools, by absolute path, found before anything changes
# PATH (and never in PREFIX).
_pm_tool() { PATH=/usr/bin:/bin command -v "$1" 2>/dev/null; }
_PM_RM=$(_pm_tool rm) && _PM_MKDIR=$(_pm_tool mkdir) && _PM_MKTEMP=$(_pm_tool mktemp) &&
    _PM_STAT=$(_pm_tool stat) && _PM_ID=$(_pm_tool id) && _PM_READLINK=$(_pm_tool readlink) || {
    _pm_err "cannot find rm, mkdir, mktemp, stat, id and readlink in /usr/bin or /bin"
    return 1
}
_PM_GETENT=$(_pm_tool getent || true)

# _pm_resolve PATH: its canonical path on stdout (as pwd -P), resolved
# under the rule of bcast/core/trust.h's pm_trust_realpath, in the same words:
# an entry of a directory others may write to (everybody, or a group we
# are not alone in) is used only if nobody else could have placed or
# replaced it: in a sticky one (/tmp, /dev/shm) a symbolic link only if
# ours or the directory owner's, in one that is not sticky no entry at all.
# At most 40 links.  Else one line on stderr (the reason) and 1.
_pm_resolve() {
    local _pm_todo=$1 _pm_res="" _pm_c _pm_p _pm_d _pm_s _pm_du _pm_dg _pm_dm _pm_lu _pm_t _pm_n=0 _pm_me _pm_o
    _pm_me=$("$_PM_ID" -u) || return 1
    case $_pm_todo in
        "") echo "No such file or directory" >&2; return 1 ;;
        /*) ;;
        *) _pm_todo=$(pwd -P)/$_pm_todo || return 1 ;;
    esac
    while :; do
        case $_pm_todo in /*) _pm_todo=${_pm_todo#/}; continue ;; "") break ;; esac
        _pm_c=${_pm_todo%%/*}
        _pm_todo=${_pm_todo#"$_pm_c"}
        case $_pm_c in
            .) continue ;;
            ..) _pm_res=${_pm_res%/*}; continue ;;   # _pm_res holds no link
        esac
        _pm_d=${_pm_res:-/}
        _pm_p=$_pm_res/$_pm_c
        if [ ! -e "$_pm_p" ] && [ ! -L "$_pm_p" ]; then
            echo "cannot resolve $_pm_p: No such file or directory" >&2; return 1
        fi
        _pm_s=$("$_PM_STAT" -c '%u %g %a' -- "$_pm_d") || return 1
        _pm_du=${_pm_s%% *}; _pm_s=${_pm_s#* }
        _pm_dg=${_pm_s%% *}; _pm_dm=$((8#${_pm_s#* }))
        _pm_o=0
        if [ $((_pm_dm & 8#002)) != 0 ]; then _pm_o=1
        elif [ $((_pm_dm & 8#020)) != 0 ] && ! _pm_group_alone "$_pm_dg"; then _pm_o=1; fi
        if [ $_pm_o = 1 ] && [ $((_pm_dm & 8#1000)) = 0 ]; then
            printf '%s is writable by other users and not sticky (mode %04o): anyone there can replace %s\n' \
                "$_pm_d" $((_pm_dm & 8#7777)) "$_pm_p" >&2
            return 1
        fi
        if [ -L "$_pm_p" ]; then
            _pm_lu=$("$_PM_STAT" -c '%u' -- "$_pm_p") || return 1
            if [ $_pm_o = 1 ] && [ "$_pm_lu" != "$_pm_me" ] && [ "$_pm_lu" != "$_pm_du" ]; then
                echo "$_pm_p is a symbolic link owned by uid $_pm_lu in the shared sticky directory $_pm_d" >&2
                return 1
            fi
            _pm_n=$((_pm_n + 1))
            if [ $_pm_n -gt 40 ]; then echo "more than 40 symbolic links in $1 (a loop?)" >&2; return 1; fi
            _pm_t=$("$_PM_READLINK" -- "$_pm_p") || return 1
            if [ -z "$_pm_t" ]; then echo "$_pm_p is an empty symbolic link" >&2; return 1; fi
            case $_pm_t in /*) _pm_res="" ;; esac
            _pm_todo=$_pm_t$_pm_todo
            continue
        fi
        if [ ! -d "$_pm_p" ] && [ -n "$_pm_todo" ]; then echo "$_pm_p is not a directory" >&2; return 1; fi
        _pm_res=$_pm_p
    done
    printf '%s\n' "${_pm_res:-/}"
}

# _pm_group_alone GID: 0 if GID is ours alone (trust.c's rule: our primary
# group, named as we are, no other member listed).
_pm_group_alone() {
    local _pm_g _pm_name _pm_m
    [ "$1" = "$("$_PM_ID" -g)" ] && [ -n "$_PM_GETENT" ] || return 1
    _pm_name=$("$_PM_ID" -un) || return 1
    _pm_g=$("$_PM_GETENT" group "$1") || return 1
    [ "${_pm_g%%:*}" = "$_pm_name" ] || return 1
    _pm_m=${_pm_g##*:},
    while [ -n "$_pm_m" ]; do
        [ -z "${_pm_m%%,*}" ] || [ "${_pm_m%%,*}" = "$_pm_name" ] || return 1
        _pm_m=${_pm_m#*,}
    done
}

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
# bin), the build tree (scripts -> build/bin), or PATH.  Its directory, and
# the program itself, are resolved under _pm_resolve's rule: another user's
# link must not choose what this shell runs.
if [ -n "${PYTHON_MPI_BIN:-}" ] && [ -x "$PYTHON_MPI_BIN/bcast" ]; then
    _pm_bin=$PYTHON_MPI_BIN
elif [ -x "$_pm_here/../../bin/bcast" ]; then
    _pm_bin=$_pm_here/../../bin
elif [ -x "$_pm_here/../build/bin/bcast" ]; then
    _pm_bin=$_pm_here/../build/bin
elif _pm_bin=$(command -v bcast 2>/dev/null) && [ -n "$_pm_bin" ]; then
    _pm_bin=$(dirname "$_pm_bin")
else
    _pm_err "cannot find the bcast program (set PYTHON_MPI_BIN)"
    unset _pm_here _pm_bin
    return 1
fi
unset _pm_here
for _pm_p in "$_pm_bin" "$_pm_bin/bcast"; do
    _pm_r=$(_pm_resolve "$_pm_p" 2>&1) || {
        _pm_err "refusing to use $_pm_bin/bcast: $_pm_r"; unset _pm_bin _pm_p _pm_r; return 1; }
    [ "$_pm_p" = "$_pm_bin" ] && _PM_BCAST=$_pm_r/bcast
done
unset _pm_bin _pm_p _pm_r
# pkgroot, for python_mpi_devel: next to bcast, else on PATH (resolved so).
if [ -x "$(dirname "$_PM_BCAST")/pkgroot" ]; then
    _PM_PKGROOT=$(dirname "$_PM_BCAST")/pkgroot
else
    _PM_PKGROOT=$(command -v pkgroot 2>/dev/null || true)
fi
if [ -n "$_PM_PKGROOT" ] && ! _pm_r=$(_pm_resolve "$_PM_PKGROOT" 2>&1); then
    _pm_err "refusing to use $_PM_PKGROOT: $_pm_r"; unset _pm_r _PM_PKGROOT; return 1
fi
unset _pm_r

# _pm_trusted DIR [ancestors]: 0 if DIR is ours and 0700 (not checked with
# "ancestors"), and every directory above it is owned by root or us and not
# writable by others unless sticky and root-owned; else one line saying
# which component is at fault.
_pm_trusted() {
    local _pm_d=$1 _pm_p="" _pm_rest _pm_c _pm_s _pm_u _pm_m _pm_me
    _pm_me=$("$_PM_ID" -u)
    _pm_rest=${_pm_d#/}
    _pm_check_one() {   # PATH LAST
        if [ -L "$1" ]; then _pm_err "refusing to use $_pm_d: $1 is a symbolic link"; return 1; fi
        if [ ! -d "$1" ]; then _pm_err "refusing to use $_pm_d: $1 is not a directory"; return 1; fi
        _pm_s=$("$_PM_STAT" -c '%u %a' -- "$1") || return 1
        _pm_u=${_pm_s%% *}
        _pm_m=$((8#${_pm_s#* }))
        if [ "$2" = last ] && [ "$_pm_u" != "$_pm_me" ]; then
            _pm_err "refusing to use $_pm_d: $1 is owned by uid $_pm_u, not $_pm_me"; return 1
        fi
        if [ "$_pm_u" != 0 ] && [ "$_pm_u" != "$_pm_me" ]; then
            _pm_err "refusing to use $_pm_d: $1 is owned by uid $_pm_u"; return 1
        fi
        if [ "$2" = last ]; then
            if [ $((_pm_m & 8#7777)) != $((8#700)) ]; then
                _pm_err "refusing to use $_pm_d: $1 is not private (mode ${_pm_s#* }, not 700)"; return 1
            fi
        elif [ $((_pm_m & 8#022)) != 0 ] && { [ $((_pm_m & 8#1000)) = 0 ] || [ "$_pm_u" != 0 ]; }; then
            _pm_err "refusing to use $_pm_d: $1 is writable by other users (mode ${_pm_s#* })"; return 1
        fi
    }
    _pm_check_one / notlast || return 1
    while [ -n "$_pm_rest" ]; do
        _pm_c=${_pm_rest%%/*}
        _pm_rest=${_pm_rest#"$_pm_c"}
        _pm_rest=${_pm_rest#/}
        [ -z "$_pm_c" ] && continue
        _pm_p=$_pm_p/$_pm_c
        if [ -n "$_pm_rest" ]; then _pm_check_one "$_pm_p" notlast || return 1
        elif [ "${2:-}" != ancestors ]; then _pm_check_one "$_pm_p" last || return 1; fi
    done
    unset -f _pm_check_one
}

# _pm_make_private DIR: check every directory above DIR, create DIR 0700
# unless it is there (its parent must exist), then check DIR itself.
_pm_make_private() {
    _pm_trusted "$1" ancestors || return 1
    { [ -e "$1" ] || [ -L "$1" ]; } || "$_PM_MKDIR" -m 0700 -- "$1" 2>/dev/null || [ -e "$1" ] || {
        _pm_err "cannot create $1"; return 1; }
    _pm_trusted "$1"
}

if [ "$1" = - ]; then
    _pm_job=${SLURM_JOB_ID:-${PBS_JOBID:-${LSB_JOBID:-${COBALT_JOBID:-${FLUX_JOB_ID:-}}}}}
    _pm_job=$(printf '%s' "$_pm_job" | LC_ALL=C tr -c 'A-Za-z0-9._-' _)
    _pm_chroot=${PYTHON_MPI_CHROOT:-/dev/shm}
    # Resolved as python-mpi and bcast resolve it (trust.h), never cd && pwd -P:
    # another user's link must not choose where the prefix goes.
    if ! _pm_chroot=$(_pm_resolve "$_pm_chroot" 2>&1); then
        _pm_err "cannot use ${PYTHON_MPI_CHROOT:-/dev/shm} as PYTHON_MPI_CHROOT: $_pm_chroot"
        unset _pm_job _pm_chroot; return 1
    elif [ ! -d "$_pm_chroot" ]; then
        _pm_err "cannot use ${PYTHON_MPI_CHROOT:-/dev/shm} as PYTHON_MPI_CHROOT: $_pm_chroot is not a directory"
        unset _pm_job _pm_chroot; return 1
    fi
    _PM_PREFIX=$_pm_chroot/python-mpi-$("$_PM_ID" -u)
    _pm_make_private "$_PM_PREFIX" || { unset _pm_job _pm_chroot; return 1; }
    _PM_PREFIX=$_PM_PREFIX/py-${_pm_job:+$_pm_job-}$$
    unset _pm_job _pm_chroot
else
    _PM_PREFIX=$1
fi
_pm_make_private "$_PM_PREFIX" || { unset _PM_PREFIX; return 1; }

# The launcher's program, resolved now: PREFIX/bin may come first on PATH
# later, and a prefix's contents are only ever ours once bcast checked them.
_PM_LAUNCHER=$2
_PM_LAUNCH_PROG=${_PM_LAUNCHER%% *}
_PM_LAUNCH_ARGS=${_PM_LAUNCHER#"$_PM_LAUNCH_PROG"}
_PM_LAUNCH_PROG=$(command -v "$_PM_LAUNCH_PROG" 2>/dev/null) && [ -n "$_PM_LAUNCH_PROG" ] &&
    case $_PM_LAUNCH_PROG in /*) true ;; *) false ;; esac || {
    _pm_err "cannot find the launcher program of '$2' on PATH"
    unset _PM_PREFIX _PM_LAUNCHER _PM_LAUNCH_PROG _PM_LAUNCH_ARGS
    return 1
}
# Every variable this script sets or changes, as it was: restored by
# python_mpi_deactivate and python_mpi_cleanup, so that no entry names a
# prefix that is gone (another user could make it again).  For each: set
# or not, exported or not, its value.
# (The names are fixed: eval sees no user text but the values' names.)
_PM_SH=$(_pm_tool sh) || { _pm_err "cannot find sh in /usr/bin or /bin"
    unset _PM_PREFIX _PM_LAUNCHER _PM_LAUNCH_PROG _PM_LAUNCH_ARGS; return 1; }
for _pm_v in PATH PYTHONHOME PYTHONUSERBASE PYTHON_MPI_PREFIX; do
    if eval "[ -n \"\${$_pm_v+set}\" ]"; then
        eval "_PM_OLD_$_pm_v=\$$_pm_v"
        # a child sees only what is exported
        if "$_PM_SH" -c "[ -n \"\${$_pm_v+set}\" ]"; then
            eval "_PM_HAD_$_pm_v=exported"
        else
            eval "_PM_HAD_$_pm_v=set"
        fi
    else
        eval "_PM_HAD_$_pm_v="
    fi
done
unset _pm_v
export PYTHON_MPI_PREFIX=$_PM_PREFIX
_PM_ACTIVE=

# After a bcast succeeded on every node (each leader checked PREFIX there
# as this shell did here), and not before, PREFIX goes on the paths.
_pm_export() {
    [ -n "$_PM_ACTIVE" ] && return 0
    export PYTHONHOME=$_PM_PREFIX
    export PYTHONUSERBASE=$_PM_PREFIX
    export PATH=$_PM_PREFIX/bin${_PM_HAD_PATH:+:$_PM_OLD_PATH}
    _PM_ACTIVE=1
}

# The launcher string splits into words in both shells.
_pm_launch() {
    if [ -n "${ZSH_VERSION:-}" ]; then
        # shellcheck disable=SC2296
        "$_PM_LAUNCH_PROG" ${=_PM_LAUNCH_ARGS} "$@"
    else
        # shellcheck disable=SC2086
        "$_PM_LAUNCH_PROG" $_PM_LAUNCH_ARGS "$@"
    fi
}

bcast() {
    _pm_launch "$_PM_BCAST" -p "$_PM_PREFIX" "$@" || return 1
    _pm_export
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
    _pm_tmp=$("$_PM_MKTEMP" -d "${PYTHON_MPI_DEVEL_TMP:-${TMPDIR:-/tmp}}/python-mpi-devel.XXXXXX") || {
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
        "$_PM_RM" -f -- "$_pm_tmp/devel.tar"
    done
    "$_PM_RM" -rf -- "$_pm_tmp"
    return $_pm_rc
}

# Removes PREFIX on every node, and first puts back every variable as it
# was before activate.sh (python_mpi_deactivate): nothing names PREFIX
# after it, even if the removal fails.  The per-user directory that "-"
# put PREFIX in stays (0700, yours) for the next job: removing it would
# hand its name back to whoever makes it first.
python_mpi_cleanup() {
    case $_PM_PREFIX in
        /|"") _pm_err "refusing to remove '$_PM_PREFIX'"; return 1 ;;
        /dev/shm/?*|/tmp/?*|"${PYTHON_MPI_CHROOT:-/dev/shm}"/?*) ;;
        *) _pm_err "refusing to remove $_PM_PREFIX: not under /dev/shm, /tmp or \$PYTHON_MPI_CHROOT"; return 1 ;;
    esac
    # What the removal needs, kept across python_mpi_deactivate.
    local _pm_prefix=$_PM_PREFIX _pm_prog=$_PM_LAUNCH_PROG _pm_args=$_PM_LAUNCH_ARGS _pm_rm=$_PM_RM
    python_mpi_deactivate
    if [ -n "${ZSH_VERSION:-}" ]; then
        # shellcheck disable=SC2296
        "$_pm_prog" ${=_pm_args} "$_pm_rm" -rf -- "$_pm_prefix"
    else
        # shellcheck disable=SC2086
        "$_pm_prog" $_pm_args "$_pm_rm" -rf -- "$_pm_prefix"
    fi
}

# Every variable activate.sh set or changed back as it was (set or not,
# exported or not), and its functions and variables gone.
python_mpi_deactivate() {
    local _pm_v _pm_had
    for _pm_v in PATH PYTHONHOME PYTHONUSERBASE PYTHON_MPI_PREFIX; do
        eval "_pm_had=\$_PM_HAD_$_pm_v"
        case $_pm_had in
            exported) eval "export $_pm_v=\"\$_PM_OLD_$_pm_v\"" ;;
            set) eval "$_pm_v=\"\$_PM_OLD_$_pm_v\""; typeset -g +x "$_pm_v" ;;
            *) unset "$_pm_v" ;;
        esac
        unset "_PM_OLD_$_pm_v" "_PM_HAD_$_pm_v"
    done
    unset -f bcast python_mpi_cleanup python_mpi_deactivate _pm_launch _pm_err _pm_export \
        _pm_tool _pm_trusted _pm_make_private _pm_resolve _pm_group_alone python_mpi_runtime python_mpi_packages python_mpi_devel
    unset _PM_PREFIX _PM_LAUNCHER _PM_LAUNCH_PROG _PM_LAUNCH_ARGS _PM_BCAST _PM_PKGROOT _PM_ACTIVE \
        _PM_RM _PM_MKDIR _PM_MKTEMP _PM_STAT _PM_ID _PM_SH _PM_READLINK _PM_GETENT
}
