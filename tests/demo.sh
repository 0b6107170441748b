#!/bin/bash
# demo.sh - the README's first command: bundle Debian's Python + numpy with
# pkgroot, then start examples/where_am_i.py on 4 ranks over 2 simulated
# nodes (own hostname and /dev/shm each), the runtime broadcast from rank 0.
set -eu
. "$(dirname "$0")/lib.sh"
DEMO=$BUILD/demo
mkdir -p "$DEMO/pkgroot"
echo "== pkgroot python $DEMO/pkgroot/runtime.tar.zst numpy"
RUNTIME=$(t_runtime_bundle)
cp "$RUNTIME" "$DEMO/pkgroot/runtime.tar.zst"
"$BIN/pkgroot" ls "$DEMO/pkgroot/runtime.tar.zst" | tail -n 1

export PYTHON_MPI_PKGROOT=$DEMO/pkgroot PYTHON_MPI_PACKAGES=runtime.tar.zst PYTHON_MPI_VERBOSE=2
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    echo "== 4 ranks on 2 simulated nodes (node1, node2), each with a private /dev/shm"
    launch=("$REPO/tests/cluster/mpirun-sim" -nodes 2 -ppn 2)
else
    echo "== 4 ranks on this node (simulated nodes need root)"
    launch=("$MPIEXEC" -n 4)
fi
"${launch[@]}" "$BIN/python-mpi" "$REPO/examples/where_am_i.py" 2>&1 | sort -s -k1,1 -t: | sed 's/^/   /'
echo "== done: every rank read Python and numpy from its own node's /dev/shm; only rank 0 read the bundle"
