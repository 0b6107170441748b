#!/bin/bash
#SBATCH --job-name=python-mpi
#SBATCH --nodes=64
#SBATCH --ntasks-per-node=32
#SBATCH --time=00:30:00
# job-slurm.sh - a Slurm job template (srun).  Edit PY, APP and the
# #SBATCH lines; then `sbatch job-slurm.sh`.
#   (a) one run:      python-mpi broadcasts the bundles itself at start-up;
#   (b) many runs:    bcast unpacks them once per node (activate.sh), every
#                     run starts on the node-local copy, cleanup at exit.
# LAUNCH (all ranks) and LAUNCH_NODES (one rank per node) name the launcher
# and its options (e.g. LAUNCH="srun --mpi=pmix" for Open MPI, or
# SLURM_MPI_TYPE=pmix); tests/cluster/test_slurm.sh runs this template with
# sbatch under a real Slurm.
set -euo pipefail
PY=${PY:-$HOME/py-bundles}          # made once: pkgroot python $PY/runtime.ptar numpy
RUNTIME=${RUNTIME:-runtime.ptar}
PACKAGES=${PACKAGES:-}              # optional: colon-separated user bundles in $PY
APP=${APP:-my_analysis.py}
: "${SLURM_JOB_ID:?job-slurm.sh: not inside a Slurm job (SLURM_JOB_ID unset)}"
: "${SLURM_JOB_NUM_NODES:?job-slurm.sh: SLURM_JOB_NUM_NODES unset}"
LAUNCH=${LAUNCH:-srun}
LAUNCH_NODES=${LAUNCH_NODES:-srun --ntasks-per-node=1 -n $SLURM_JOB_NUM_NODES}
SHARE=${PYTHON_MPI_SHARE:-$(dirname "$(command -v python-mpi)")/../share/python-mpi}

bundles=$RUNTIME${PACKAGES:+:$PACKAGES}
IFS=: read -r -a list <<< "$bundles"
for b in "${list[@]}"; do
    [ -r "$PY/$b" ] || { echo "job-slurm.sh: $PY/$b: bundle missing or unreadable" >&2; exit 1; }
done

# (a) one run: rank 0 reads the bundles, every node gets them over MPI.
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
