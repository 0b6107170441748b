#!/bin/bash
# test_mpi4py.sh - mpi4py as users use it, on the Open MPI build (Debian's
# python3-mpi4py is built on Open MPI) and the simulated cluster: the
# runtime, numpy and mpi4py are broadcast, scripts import mpi4py after
# python-mpi started MPI, a raising rank aborts the job, and spawned
# children (mpi4py.futures) run on their parent's node-local tree.
#   MPIEXEC=mpiexec.openmpi BUILD=build-openmpi bash tests/mpi4py/test_mpi4py.sh
set -u
. "$(dirname "$0")/../lib.sh"
SIM=$REPO/tests/cluster

if [ "$(id -u)" != 0 ]; then
    t_skip "the simulated cluster" "needs root (unshare --uts --mount)"; t_done mpi4py; exit
fi
if ! /usr/bin/python3 -c 'import mpi4py' 2>/dev/null; then
    t_fail "Debian's python3-mpi4py is not installed"; t_done mpi4py; exit 1
fi
TMP=$(mktemp -d /tmp/pympi-mpi4py.XXXXXX)
SHM=$(t_shm_scratch pympi-mpi4py-shm)   # the simulated nodes' /dev/shm: $SHM/node1, $SHM/node2
trap 'rm -rf "$TMP" "$SHM"' EXIT
export CLUSTER_SHM_DIR=$SHM
ROOT=$TMP/pkgroot
mkdir -p "$ROOT" "$SHM"
"$BIN/pkgroot" python "$ROOT/runtime.tar.zst" numpy mpi4py >/dev/null ||
    { t_fail "pkgroot python runtime numpy mpi4py"; t_done mpi4py; exit 1; }
export PYTHON_MPI_PKGROOT=$ROOT PYTHON_MPI_PACKAGES=runtime.tar.zst
unset PYTHON_MPI_CHROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
PM=$BIN/python-mpi
sim() { timeout 120 "$SIM/mpirun-sim" "$@" >"$TMP/out" 2>"$TMP/err"; }
trees_gone() { t_wait_empty "$SHM/node1" && t_wait_empty "$SHM/node2"; }

# --- point to point, pickled and buffer collectives on 2 nodes x 2 ---------
cat > "$TMP/collectives.py" <<'PY'
import os, socket
from mpi4py import MPI
import numpy as np
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
assert MPI.Is_initialized() and not MPI.Is_finalized()
# point to point: pickled objects around a ring, and a numpy buffer
right, left = (rank + 1) % size, (rank - 1) % size
got = comm.sendrecv({"from": rank}, dest=right, source=left)
assert got == {"from": left}, got
buf = np.arange(8, dtype="i") * rank
if rank == 0:
    comm.Send([buf, MPI.INT], dest=size - 1, tag=3)
elif rank == size - 1:
    recv = np.empty(8, dtype="i")
    comm.Recv([recv, MPI.INT], source=0, tag=3)
    assert (recv == 0).all()
# pickled collectives
cfg = comm.bcast({"steps": 3} if rank == 0 else None, root=0)
names = comm.allgather(socket.gethostname())
# buffer collectives
total = np.zeros(4)
comm.Allreduce(np.full(4, rank, dtype="d"), total, op=MPI.SUM)
parts = np.empty(size * 2, dtype="d") if rank == 0 else None
comm.Gather(np.array([rank, rank], dtype="d"), parts, root=0)
ok = (cfg == {"steps": 3} and total[0] == size * (size - 1) / 2 and
      sorted(set(names)) == ["node1", "node2"] and
      (rank != 0 or list(parts) == [r for r in range(size) for _ in (0, 1)]))
here = os.path.dirname(MPI.__file__)
line = "coll %d %s %s %s %s" % (rank, socket.gethostname(), ok, here.startswith("/dev/shm/"),
                                 os.stat(here).st_dev == os.stat("/dev/shm").st_dev)
os.write(1, (line + "\n").encode())
PY
if sim -nodes 2 -ppn 2 "$PM" "$TMP/collectives.py" &&
   [ "$(grep -c '^coll [0-3] node[12] True True True$' "$TMP/out")" = 4 ] &&
   [ "$(grep -c '^coll [01] node1 ' "$TMP/out")" = 2 ] && trees_gone; then
    t_ok "mpi4py after python-mpi's MPI_Init: point to point, pickled and numpy collectives on 2 nodes; mpi4py from each node's /dev/shm; trees removed"
else t_fail "mpi4py collectives on the cluster" "$(cat "$TMP/out" "$TMP/err"; ls -R "$SHM" | head)"; fi

# --- python-mpi -m mpi4py: one rank raises, the whole job ends promptly ----
cat > "$TMP/raises.py" <<'PY'
import time
from mpi4py import MPI
if MPI.COMM_WORLD.Get_rank() == 3:
    raise ValueError("bad input on rank 3")
MPI.COMM_WORLD.Barrier()   # the others wait for rank 3 forever
time.sleep(300)
PY
start=$(date +%s)
sim -nodes 2 -ppn 2 "$PM" -m mpi4py "$TMP/raises.py"; rc=$?
took=$(( $(date +%s) - start ))
if [ $rc != 0 ] && [ $rc != 124 ] && [ $took -lt 30 ] && grep -q "ValueError: bad input on rank 3" "$TMP/err" &&
   ! pgrep -f "$TMP/raises.py" >/dev/null && trees_gone; then
    t_ok "python-mpi -m mpi4py: a raising rank aborts the job in ${took}s (exit $rc), trees removed"
else t_fail "-m mpi4py abort (rc=$rc, ${took}s)" "$(tail -5 "$TMP/err"; ls -R "$SHM" | head)"; fi

# --- mpi4py.futures: spawned workers use the parent's tree -----------------
cat > "$TMP/pool.py" <<'PY'
import os, sys
from mpi4py.futures import MPIPoolExecutor

def where(i):
    import numpy, socket
    return "%d %d %s %s" % (i, os.getpid(), socket.gethostname(), numpy.__file__)

if __name__ == "__main__":
    tree = os.environ["PYTHON_MPI_HOME"]
    with MPIPoolExecutor(max_workers=2) as pool:
        for line in pool.map(where, range(6)):
            print("task", line, flush=True)
    # the children are gone; the parent's tree must still be whole
    import xml.dom.minidom
    print("after", os.getpid(), os.path.isdir(tree), xml.dom.minidom.__file__.startswith(tree), flush=True)
PY
# Each of the 2 ranks (one per node) runs its own pool of 2 spawned workers.
if PYTHON_MPI_VERBOSE=1 sim -nodes 2 -ppn 1 "$PM" "$TMP/pool.py"; then
    parent_tree=$(grep -o 'into /dev/shm/[^ ]*' "$TMP/err" | head -n 1 | cut -c6-)
    deliveries=$(grep -c 'bundle(s), [0-9]* bytes to' "$TMP/err")
    in_tree=$(awk -v t="$parent_tree/" '$1=="task" && index($5, t) == 1' "$TMP/out" | wc -l)
    workers=$(awk '$1=="task" {print $3}' "$TMP/out" | sort -u)
    parents=$(awk '$1=="after" {print $2}' "$TMP/out" | sort -u)
    if [ "$deliveries" = 1 ] && [ "$(grep -c '^task ' "$TMP/out")" = 12 ] && [ "$in_tree" = 12 ] &&
       [ -z "$(comm -12 <(echo "$workers") <(echo "$parents"))" ] &&
       [ "$(grep -c '^after [0-9]* True True$' "$TMP/out")" = 2 ] && trees_gone; then
        t_ok "MPIPoolExecutor workers (MPI_Comm_spawn of sys.executable) import from the parent's tree: 1 delivery, $(echo "$workers" | wc -l) worker processes, tree intact after, removed at the end"
    else t_fail "MPIPoolExecutor on the parent's tree (deliveries=$deliveries, in tree=$in_tree)" "$(cat "$TMP/out" "$TMP/err")"; fi
else t_fail "MPIPoolExecutor run" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- a spawned program that is not python-mpi gets its arguments untouched,
#     and a python-mpi child that cannot see the tree fetches the bundles --
cp "$PM" "$TMP/other-python-mpi"      # another file: not "ours", no flag added
cat > "$TMP/spawn_other.py" <<'PY'
import sys
from mpi4py import MPI
child = MPI.COMM_SELF.Spawn(sys.argv[1], args=sys.argv[2:], maxprocs=1)
print("child-said", child.recv(source=0), flush=True)
child.Disconnect()
PY
cat > "$TMP/child.py" <<'PY'
import os, sys
from mpi4py import MPI
parent = MPI.Comm.Get_parent()
parent.send("%s %s" % (sys.argv[1:], os.environ.get("PYTHON_MPI_HOME", "-")), dest=0)
parent.Disconnect()
PY
# The flag carries a run name, looked up in the child's own
# /dev/shm/python-mpi-UID (issue 12: no tree path on a command line).
if PYTHON_MPI_VERBOSE=1 sim -nodes 1 -ppn 1 "$PM" "$TMP/spawn_other.py" "$TMP/other-python-mpi" \
        "--python-mpi-tree=no-such-run" "$TMP/child.py" a b &&
   grep -q "^child-said \['a', 'b'\] /dev/shm/python-mpi-" "$TMP/out" &&
   grep -q "/dev/shm/python-mpi-$(id -u)/no-such-run is not on every node of the spawned processes: fetching the bundles" "$TMP/err" &&
   [ "$(grep -c 'bundle(s), [0-9]* bytes to' "$TMP/err")" = 2 ] && trees_gone; then
    t_ok "a spawned python-mpi that cannot see the named tree fetches the bundles itself; other programs' arguments are untouched"
else t_fail "spawn fallback" "$(cat "$TMP/out" "$TMP/err")"; fi
# A path, or a name that is not one plain component, is no run name: refused
# with one line, and the child fetches the bundles itself.
if PYTHON_MPI_VERBOSE=1 sim -nodes 1 -ppn 1 "$PM" "$TMP/spawn_other.py" "$TMP/other-python-mpi" \
        "--python-mpi-tree=/etc" "$TMP/child.py" a b &&
   grep -q "^child-said \['a', 'b'\] /dev/shm/python-mpi-" "$TMP/out" &&
   grep -q "rank 0 on node1: /etc: refusing the parent's tree: not a run name$" "$TMP/err" &&
   [ "$(grep -c 'bundle(s), [0-9]* bytes to' "$TMP/err")" = 2 ] && trees_gone; then
    t_ok "a spawned python-mpi given a path instead of a run name refuses it and fetches the bundles itself"
else t_fail "spawn flag with a path" "$(cat "$TMP/out" "$TMP/err")"; fi

t_done mpi4py
