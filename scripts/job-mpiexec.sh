#!/bin/bash
# job-mpiexec.sh - the same without a batch system (plain mpiexec).
#   NP=64 HOSTS=n1,n2 PY=$HOME/py-bundles APP=script.py bash job-mpiexec.sh
#   (a) one run:      python-mpi broadcasts the bundles itself at start-up;
#   (b) many runs:    bcast unpacks them once per node (activate.sh), every
#                     run starts on the node-local copy, cleanup at exit.
# MPIEXEC names the implementation (mpiexec.mpich, mpiexec.openmpi): the
# `mpiexec` alternative may point to another MPI than python-mpi's.
set -euo pipefail
PY=${PY:-$HOME/py-bundles}          # made once: pkgroot python $PY/runtime.ptar numpy
RUNTIME=${RUNTIME:-runtime.ptar}
PACKAGES=${PACKAGES:-}              # optional: colon-separated user bundles in $PY
APP=${APP:-my_analysis.py}
MPIEXEC=${MPIEXEC:-mpiexec.mpich}
NP=${NP:-4}
NNODES=${NNODES:-1}                 # nodes in HOSTS
LAUNCH=${LAUNCH:-$MPIEXEC -n $NP${HOSTS:+ -hosts $HOSTS}}
LAUNCH_NODES=${LAUNCH_NODES:-$MPIEXEC -n $NNODES -ppn 1${HOSTS:+ -hosts $HOSTS}}
SHARE=${PYTHON_MPI_SHARE:-$(dirname "$(command -v python-mpi)")/../share/python-mpi}

bundles=$RUNTIME${PACKAGES:+:$PACKAGES}
IFS=: read -r -a list <<< "$bundles"
for b in "${list[@]}"; do
    [ -r "$PY/$b" ] || { echo "job-mpiexec.sh: $PY/$b: bundle missing or unreadable" >&2; exit 1; }
done

# (a) one run: rank 0 reads the bundles, every node gets them over MPI.
PYTHON_MPI_PKGROOT=$PY PYTHON_MPI_PACKAGES=$bundles $LAUNCH python-mpi "$APP" --step 0

# (b) several runs on one unpack per node.
# "-": a prefix in the per-user directory python-mpi keeps private
# (/dev/shm/python-mpi-UID/py-PID), never a guessable /dev/shm name.
source "$SHARE/activate.sh" - "$LAUNCH_NODES"
trap python_mpi_cleanup EXIT
python_mpi_runtime "$PY/$RUNTIME"
for b in "${list[@]:1}"; do python_mpi_packages "$PY/$b"; done
$LAUNCH python-mpi "$APP" --step 1
$LAUNCH python-mpi "$APP" --step 2
