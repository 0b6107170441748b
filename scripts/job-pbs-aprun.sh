#!/bin/bash
#PBS -N python-mpi
#PBS -l nodes=64:ppn=32
#PBS -l walltime=00:30:00
# job-pbs-aprun.sh - a PBS job template for Cray ALPS (aprun).  Edit PY, APP,
# NODES/PPN and the #PBS lines; then `qsub job-pbs-aprun.sh`.
#   (a) one run:      python-mpi broadcasts the bundles itself at start-up;
#   (b) many runs:    bcast unpacks them once per node (activate.sh), every
#                     run starts on the node-local copy, cleanup at exit.
# LAUNCH (all ranks) and LAUNCH_NODES (one rank per node) name the launcher,
# so the template can be tried without ALPS (tests/scripts does).
set -euo pipefail
PY=${PY:-$HOME/py-bundles}          # made once: pkgroot python $PY/runtime.ptar numpy
RUNTIME=${RUNTIME:-runtime.ptar}
PACKAGES=${PACKAGES:-}              # optional: colon-separated user bundles in $PY
APP=${APP:-my_analysis.py}
: "${PBS_JOBID:?job-pbs-aprun.sh: not inside a PBS job (PBS_JOBID unset)}"
NODES=${NODES:-${PBS_NUM_NODES:-64}}
PPN=${PPN:-${PBS_NUM_PPN:-32}}
LAUNCH=${LAUNCH:-aprun -n $((NODES * PPN)) -N $PPN}
LAUNCH_NODES=${LAUNCH_NODES:-aprun -n $NODES -N 1}
SHARE=${PYTHON_MPI_SHARE:-$(dirname "$(command -v python-mpi)")/../share/python-mpi}
cd "${PBS_O_WORKDIR:-.}"

bundles=$RUNTIME${PACKAGES:+:$PACKAGES}
IFS=: read -r -a list <<< "$bundles"
for b in "${list[@]}"; do
    [ -r "$PY/$b" ] || { echo "job-pbs-aprun.sh: $PY/$b: bundle missing or unreadable" >&2; exit 1; }
done

# (a) one run, as in the original tool's README (aprun passes the environment).
PYTHON_MPI_PKGROOT=$PY PYTHON_MPI_PACKAGES=$bundles $LAUNCH python-mpi "$APP" --step 0

# (b) several runs on one unpack per node.
# "-": a prefix in the per-user directory python-mpi keeps private
# (/dev/shm/python-mpi-UID/py-JOBID-PID), never a guessable /dev/shm name.
source "$SHARE/activate.sh" - "$LAUNCH_NODES"
trap python_mpi_cleanup EXIT
python_mpi_runtime "$PY/$RUNTIME"
for b in "${list[@]:1}"; do python_mpi_packages "$PY/$b"; done
$LAUNCH python-mpi "$APP" --step 1
$LAUNCH python-mpi "$APP" --step 2
