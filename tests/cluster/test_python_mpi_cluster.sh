#!/bin/bash
# test_python_mpi_cluster.sh - python-mpi on a simulated cluster: 4 ranks on
# 2 nodes, each node with its own hostname and private /dev/shm.  Shows
# exactly one unpack per node, every rank importing numpy from its own
# node's /dev/shm, and ranks other than 0 opening nothing under the package
# root or the system Python (their file syscalls counted with strace).
set -u
. "$(dirname "$0")/../lib.sh"
SIM=$REPO/tests/cluster

if [ "$(id -u)" != 0 ]; then
    t_skip "the simulated cluster" "needs root (unshare --uts --mount)"; t_done cluster-python; exit
fi
TMP=$(mktemp -d /tmp/pympi-cluster.XXXXXX)
NODES=$(t_shm_scratch pympi-cluster-nodes)   # the simulated nodes' /dev/shm
trap 'rm -rf "$TMP" "$NODES"' EXIT
ROOT=$TMP/pkgroot
mkdir -p "$ROOT"
RUNTIME=$(t_runtime_bundle) || { t_fail "pkgroot python"; t_done cluster-python; exit 1; }
cp "$RUNTIME" "$ROOT/runtime.tar.zst"
export PYTHON_MPI_PKGROOT=$ROOT PYTHON_MPI_PACKAGES=runtime.tar.zst
unset PYTHON_MPI_CHROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
PM=$BIN/python-mpi

cat > "$TMP/where.py" <<PY
import os, socket, sys, $T_PKG as pkg
shm = os.stat("/dev/shm").st_dev
np = os.stat(pkg.__file__).st_dev
line = " ".join(map(str, ["where", (os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]), socket.gethostname(), shm, np,
                          pkg.__file__.startswith("/dev/shm/"), sys.prefix.startswith("/dev/shm/")]))
os.write(1, (line + "\n").encode())  # one write: ranks' lines never interleave
PY

# --- one unpack per node; numpy from the node's own /dev/shm -------------
if PYTHON_MPI_VERBOSE=2 timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err"; then
    t_ok "4 ranks on 2 simulated nodes run"
else
    t_fail "4 ranks on 2 simulated nodes run" "$(cat "$TMP/out" "$TMP/err")"
fi
cat "$TMP/out" "$TMP/err" | sed 's/^/#   /' | grep -E 'where|entries' || true
unpacks=$(grep -E 'runtime\.tar\.zst: [0-9]+ entries' "$TMP/err" | sed -E 's/.* on ([^:]+): .*/\1/' | sort)
if [ "$(printf '%s\n' "$unpacks" | wc -l)" = 2 ] && [ "$(printf '%s\n' "$unpacks" | sort -u | wc -l)" = 2 ]; then
    t_ok "exactly one unpack per node ($(echo $unpacks))"
else t_fail "one unpack per node" "$unpacks"; fi
# where RANK HOST SHM_DEV NUMPY_DEV NUMPY_IN_SHM PREFIX_IN_SHM
if [ "$(grep -c '^where ' "$TMP/out")" = 4 ] &&
   awk '$1=="where" && ($4!=$5 || $6!="True" || $7!="True") {bad=1} END {exit bad}' "$TMP/out" &&
   [ "$(awk '$1=="where" {print $3}' "$TMP/out" | sort -u | wc -l)" = 2 ] &&
   [ "$(awk '$1=="where" {print $3, $4}' "$TMP/out" | sort -u | wc -l)" = 2 ] &&
   [ "$(awk '$1=="where" {print $4}' "$TMP/out" | sort -u | wc -l)" = 2 ]; then
    t_ok "every rank imports $T_PKG from its own node's /dev/shm (2 hosts, 2 distinct tmpfs)"
else t_fail "numpy from the node's own /dev/shm" "$(cat "$TMP/out")"; fi

# --- a parts bundle: on each node, the unpackers share it ----------------
"$BIN/pkgroot" python "$ROOT/runtime.ptar" "$T_PKG" >/dev/null || t_fail "pkgroot .ptar"
expect=$("$BIN/pkgroot" ls "$RUNTIME" | tail -n 1 | cut -d' ' -f1)
if PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=2 timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c '^where .* True True$' "$TMP/out")" = 4 ]; then
    per_node=$(grep "runtime.ptar: [0-9]* entries (this rank's parts)" "$TMP/err" |
               sed -E 's/.* on ([^:]+): .*: ([0-9]+) entries.*/\1 \2/' | awk '{s[$1] += $2; n[$1]++} END {for (k in s) print k, n[k], s[k]}' | sort)
    u=$(( $(getconf _NPROCESSORS_ONLN) < 2 ? 1 : 2 ))   # the unpackers: min(ranks, CPUs)
    if [ "$(printf '%s\n' "$per_node" | awk -v e="$expect" -v u=$u '$2 == u && $3 == e' | wc -l)" = 2 ]; then
        t_ok ".ptar on 2 nodes: $u rank(s) of each node unpack a share, each node gets all $expect entries"
    else t_fail ".ptar shares per node" "$per_node"; fi
else t_fail ".ptar on the simulated cluster" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- 2 nodes x 4 ranks, the unpackers a subset of each node ------------------
# Exactly node ranks 0..U-1 of each node unpack, their shares add up to the
# whole tree on each node, and every rank imports numpy from its node.
for u in 1 2 3; do
    if PYTHON_MPI_UNPACKERS=$u PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=2 timeout 120 \
           "$SIM/mpirun-sim" -nodes 2 -ppn 4 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
       [ "$(grep -c '^where .* True True$' "$TMP/out")" = 8 ]; then
        shares=$(grep "runtime.ptar: [0-9]* entries (this rank's parts)" "$TMP/err" |
                 sed -E 's/.*rank ([0-9]+) on ([^:]+): .*: ([0-9]+) entries.*/\2 \1 \3/' | sort -k1,1 -k2n)
        got=$(printf '%s\n' "$shares" | awk '{r[$1] = r[$1] " " $2; s[$1] += $3} END {for (k in r) print k r[k] " =" s[k]}' | sort)
        want=$(printf 'node1 %s =%s\nnode2 %s =%s' "$(seq -s' ' 0 $((u - 1)))" "$expect" "$(seq -s' ' 4 $((u + 3)))" "$expect")
        if [ "$got" = "$want" ]; then
            t_ok "2 nodes x 4, PYTHON_MPI_UNPACKERS=$u: node ranks 0..$((u - 1)) of each node unpack, all $expect entries on each"
        else t_fail "2x4 unpackers=$u" "$(printf 'got:\n%s\nwant:\n%s' "$got" "$want")"; fi
    else t_fail "2 nodes x 4, PYTHON_MPI_UNPACKERS=$u" "$(cat "$TMP/out" "$TMP/err")"; fi
done
# The node cache with one unpacker of four: bcast fills both nodes, then
# python-mpi finds everything there and sends nothing.
mkdir -p "$NODES"
if SLURM_JOB_ID=98 CLUSTER_SHM_DIR=$NODES PYTHON_MPI_UNPACKERS=1 timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 4 \
       "$BIN/bcast" "$ROOT/runtime.ptar" >/dev/null 2>"$TMP/err" &&
   SLURM_JOB_ID=98 CLUSTER_SHM_DIR=$NODES PYTHON_MPI_UNPACKERS=1 PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=1 timeout 120 \
       "$SIM/mpirun-sim" -nodes 2 -ppn 4 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c '^where .* True True$' "$TMP/out")" = 8 ] && grep -q "already in .* on every node: nothing sent" "$TMP/err" &&
   [ -f "$NODES/node2/python-mpi-0/98/$T_PYSTDLIB/os.py" ]; then
    t_ok "cache: bcast with 1 unpacker of 4 per node, then python-mpi on 2x4 sends nothing"
else t_fail "cache with 1 unpacker" "$(cat "$TMP/out" "$TMP/err")"; fi
rm -rf "$NODES"

# --- the node cache needs every node: one node without the bundles is a miss ---
mkdir -p "$NODES"
if SLURM_JOB_ID=99 CLUSTER_SHM_DIR=$NODES timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$BIN/bcast" "$ROOT/runtime.ptar" >/dev/null 2>"$TMP/err" &&
   [ -f "$NODES/node1/python-mpi-0/99/$T_PYSTDLIB/os.py" ] && [ -f "$NODES/node2/python-mpi-0/99/$T_PYSTDLIB/os.py" ]; then
    rm -rf "$NODES/node2/python-mpi-0/99"
    if SLURM_JOB_ID=99 CLUSTER_SHM_DIR=$NODES PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=2 timeout 120 \
           "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
       [ "$(grep -c '^where .* True True$' "$TMP/out")" = 4 ] && grep -q "on node2: .*runtime.ptar: [0-9]* entries" "$TMP/err" &&
       ! grep -q "nothing sent" "$TMP/err" && [ -f "$NODES/node1/python-mpi-0/99/$T_PYSTDLIB/os.py" ]; then
        t_ok "cache: with node2 missing the bundles, python-mpi delivers to all; node1's job tree is kept"
    else t_fail "cache partial miss" "$(cat "$TMP/out" "$TMP/err")"; fi
else t_fail "bcast into both nodes' job directories" "$(cat "$TMP/err")"; fi
rm -rf "$NODES"

# --- the MPI-1/2 fallback: grouping by processor name gives the same nodes -----
if PYTHON_MPI_NODE_GROUPING=hostname PYTHON_MPI_VERBOSE=2 timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c '^where ' "$TMP/out")" = 4 ] &&
   [ "$(grep -E 'runtime\.tar\.zst: [0-9]+ entries' "$TMP/err" | sed -E 's/.* on ([^:]+): .*/\1/' | sort -u | wc -l)" = 2 ] &&
   [ "$(grep -cE 'runtime\.tar\.zst: [0-9]+ entries' "$TMP/err")" = 2 ]; then
    t_ok "hostname grouping (the MPI < 3 fallback): one unpack on each of the 2 nodes"
else t_fail "hostname grouping" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- file accesses per rank ------------------------------------------------
mkdir -p "$TMP/trace"
if timeout 180 "$SIM/mpirun-sim" -nodes 2 -ppn 2 "$SIM/strace-rank" "$TMP/trace" "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c '^where ' "$TMP/out")" = 4 ]; then
    t_ok "4 ranks on 2 nodes run under strace"
else t_fail "run under strace" "$(cat "$TMP/out" "$TMP/err")"; fi
"$SIM/count-file-ops" "$TMP/trace" "$ROOT" "$T_PYPREFIX/lib/python3" > "$TMP/counts"
echo "# file syscalls under $ROOT or $T_PYPREFIX/lib/python3*, per rank:"; sed 's/^/#   /' "$TMP/counts"
all=$("$SIM/count-file-ops" "$TMP/trace" / | sed 's/^/#   all file syscalls: /')
printf '%s\n' "$all"
r0=$(sed -n 's/^rank 0: //p' "$TMP/counts")
others=$(grep -v '^rank 0:' "$TMP/counts" | awk '{s += $3} END {print s + 0}')
nothers=$(grep -vc '^rank 0:' "$TMP/counts")
if [ "${r0:-0}" -gt 0 ] && [ "$nothers" = 3 ] && [ "$others" = 0 ]; then
    t_ok "rank 0 alone opens the package root ($r0 calls); ranks 1-3: 0 under the root or the system Python"
else t_fail "file accesses per rank" "$(cat "$TMP/counts")"; fi

t_done cluster-python
