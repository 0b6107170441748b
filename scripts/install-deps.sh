#!/bin/sh
# install-deps.sh [mpich] [openmpi] - install the Debian packages that
# building and testing need, only those missing, quietly when none are.
# Used by `make check` and `make demo`, so a fresh machine needs nothing
# beyond make.
set -eu
[ $# -gt 0 ] || set -- mpich
pkgs="build-essential pkg-config libarchive-dev libxxhash-dev libcmocka-dev
      libpython3-dev python3-numpy zstd lz4 strace util-linux procps bc
      clang libclang-rt-14-dev zsh shellcheck groff-base
      python3-pip python3-venv python3-setuptools python3-wheel
      libpython3.11-testsuite slurm-wlm iproute2 lmod"
# slurm-wlm: tests/cluster/slurm-cluster runs its daemons with a config of
# its own (with no /etc/slurm/slurm.conf Debian's init scripts start none).
# srun --mpi=pmix (Open MPI) loads libpmix.so, which libpmix-dev provides.
# lmod: tests/scripts/test_modules.sh loads the installed module files
# with it, the .lua one and the Tcl one (Lmod reads both).  Debian's
# environment-modules conflicts with lmod, so it is not installed: that
# suite uses its modulecmd.tcl only when ENVMOD_CMD names one.
for mpi in "$@"; do
    case $mpi in
        mpich) pkgs="$pkgs mpich libmpich-dev" ;;
        openmpi) pkgs="$pkgs openmpi-bin libopenmpi-dev python3-mpi4py libpmix-dev" ;;
        *) echo "install-deps: unknown MPI '$mpi' (mpich or openmpi)" >&2; exit 2 ;;
    esac
done

missing=
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $status in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
if [ -z "$missing" ]; then
    echo "deps: all present"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
else
    echo "install-deps: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is wanted
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
