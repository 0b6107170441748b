#!/bin/bash
#SBATCH --job-name=python-mpi
#SBATCH --nodes=64
#SBATCH --ntasks-per-node=32
#SBATCH --time=00:30:00
# job-slurm.sh - a Slurm job: unpack the Python runtime once per node with
# bcast, run several python-mpi programs on it, clean up.
#   sbatch job-slurm.sh    (edit PY and PREFIX below)
set -eu
PY=${PY:-$HOME/py-bundles}                      # made with: pkgroot python $PY/runtime.tar.zst numpy
PREFIX=/dev/shm/$USER-py-$SLURM_JOB_ID
source "$(dirname "$(command -v python-mpi)")/../share/python-mpi/activate.sh" \
    "$PREFIX" "srun --ntasks-per-node=1 -n $SLURM_JOB_NUM_NODES"
trap python_mpi_cleanup EXIT
bcast -t "$PY/runtime.tar.zst"
srun python-mpi my_analysis.py --step 1
srun python-mpi my_analysis.py --step 2
