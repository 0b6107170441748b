#!/bin/bash
# job-mpiexec.sh - the same without a batch system: python-mpi broadcasts
# the runtime itself (PYTHON_MPI_PACKAGES) for a single run.
#   NP=64 HOSTS=n1,n2 bash job-mpiexec.sh script.py args...
set -eu
export PYTHON_MPI_PKGROOT=${PYTHON_MPI_PKGROOT:-$HOME/py-bundles}
export PYTHON_MPI_PACKAGES=${PYTHON_MPI_PACKAGES:-runtime.tar.zst}
exec mpiexec.mpich -n "${NP:-4}" ${HOSTS:+-hosts "$HOSTS"} python-mpi "$@"
