#!/bin/bash
# test_exit.sh - every way a program ends is a clean end of the whole job.
#
# A matrix of endings (normal end, sys.exit with None/0/N/a string, raise
# SystemExit, exit()/quit(), exceptions, KeyboardInterrupt, SIGINT and
# SIGTERM from outside, os._exit, os._exit in forked children, _exit from C
# (not caught: rank_end.h), a script's sys.exit(main()), -c, -m, -
# and the interactive prompt, non-daemon threads, atexit handlers, with and
# without a delivered tree, mpi4py on the Open MPI build) on the simulated
# cluster, 2 nodes x 2 ranks, each case run EXIT_REPEAT times (default 10;
# a flaky case is a failing case: no retries).  Each run asserts the exit
# status, the time to end, complete output, the abort line (naming rank,
# node and status) where a rank fails, MPI_Finalize exactly once per rank
# where all succeed (counted by an LD_PRELOADed wrapper), and that no node
# keeps a tree or a process.  The launcher is tests/cluster/mpirun-sim with $MPIEXEC
# (hydra through node-exec, or Open MPI with node-exec as its rsh agent).
set -u
. "$(dirname "$0")/../lib.sh"
SIM=$REPO/tests/cluster
REPEAT=${EXIT_REPEAT:-10}
SUITE=exit
case $MPIEXEC in *openmpi*) SUITE=exit-openmpi ;; esac

if [ "$(id -u)" != 0 ]; then
    t_skip "the simulated cluster" "needs root (unshare --uts --mount)"; t_done $SUITE; exit
fi
TMP=$(mktemp -d /tmp/pympi-exit.XXXXXX)
NODES=$(t_shm_scratch pympi-exit-nodes)   # run I's nodes: $NODES/I/node1, node2
trap 'rm -rf "$TMP" "$NODES"' EXIT
PM=$BIN/python-mpi
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHON_MPI_CHROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
"$MPICC" -shared -fPIC -o "$TMP/count_finalize.so" "$REPO/tests/exit/count_finalize.c" ||
    { t_fail "build count_finalize.so"; t_done $SUITE; exit 1; }

# A small packages-only bundle (a module for -m, a tree to remove) and the
# runtime, for the cases that run on a delivered tree.
mkdir -p "$TMP/code/endmod" "$TMP/pkgs"
cat > "$TMP/code/endmod/__init__.py" <<'PY'
PY
cat > "$TMP/code/endmod/__main__.py" <<'PY'
import os, sys
r = os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]
os.write(1, ("bye %s\n" % r).encode())
sys.exit(int(os.environ.get("END_CODE_" + r, "0")))
PY
"$BIN/pkgroot" dir "$TMP/pkgs/code.tar.zst" "$TMP/code" >/dev/null || t_fail "pkgroot dir"
RUNTIME=$(t_runtime_bundle) && cp "$RUNTIME" "$TMP/pkgs/runtime.tar.zst" || t_fail "pkgroot python"
"$BIN/pkgroot" python "$TMP/pkgs/runtime.ptar" >/dev/null || t_fail "pkgroot python .ptar"

# The preamble of every program: its rank, a pid file for the signal cases.
cat > "$TMP/pre.py" <<'PY'
import os, sys, time
r = os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]
open(os.path.join(os.environ["PIDDIR"], r + ".tmp"), "w").write(str(os.getpid()))
os.rename(os.path.join(os.environ["PIDDIR"], r + ".tmp"), os.path.join(os.environ["PIDDIR"], r))
def bye():
    os.write(1, ("bye %s\n" % r).encode())   # one write: ranks' lines never interleave
PY
PRE=$(cat "$TMP/pre.py")

# run_case NAME RC BYES ABORT_RANK SIGNAL ARGS...
#   RC          expected exit status, "nonzero", or "any"
#   BYES        expected number of "bye R" lines on stdout (- : not checked)
#   ABORT_RANK  rank whose abort line must appear once ("rank R on nodeN:
#               ... status S ...; aborting the job"), or - for none; when
#               none and RC is 0, every rank must finalize exactly once;
#               "unended": no rank may finalize or abort (the end did not run)
#   SIGNAL      "-": none; "INT:R"/"TERM:R": sent to rank R once every rank
#               runs; "TERM:all": to every rank
#   ARGS        python-mpi's arguments; stdin comes from $CASE_STDIN if set
# The repetitions run EXIT_JOBS at a time (default 3), each with its own
# nodes, pid files and finalize log: the jobs mostly wait, and a case
# that only fails when the machine is busy is a failing case too.
JOBS=${EXIT_JOBS:-3}

# one_run DIR RC BYES ABORT_RANK SIGNAL ARGS...: one repetition; leaves
# DIR/result ("ok", or why not) and DIR/ms (how long the job took).
one_run() {
    local dir=$1 want_rc=$2 want_byes=$3 abort_rank=$4 sig=$5; shift 5
    local nodes=$NODES/${dir##*/} pids=$dir/pids log=$dir/finalize
    # Its own TMPDIR too: Open MPI's session directory (/tmp/ompi.HOST.UID)
    # is not safe to create from concurrent mpiexecs.
    mkdir -p "$nodes" "$pids" "$dir/tmp"
    export TMPDIR=$dir/tmp
    local start end rc job
    start=$(date +%s%N)
    if [ -n "${CASE_STDIN-}" ]; then
        # The launchers give the program on stdin to rank 0; the other
        # ranks' stdin never ends under hydra (python3's -, too), so
        # theirs is /dev/null, as Open MPI does by itself.
        printf '%b' "$CASE_STDIN" | CLUSTER_SHM_DIR=$nodes PIDDIR=$pids PM_FINALIZE_LOG=$log \
            timeout 60 "$SIM/mpirun-sim" -nodes 2 -ppn 2 \
            sh -c '[ "${PMI_RANK:-$OMPI_COMM_WORLD_RANK}" = 0 ] || exec </dev/null; exec "$@"' sh \
            env LD_PRELOAD="$TMP/count_finalize.so" "$PM" "$@" >"$dir/out" 2>"$dir/err" &
    else
        CLUSTER_SHM_DIR=$nodes PIDDIR=$pids PM_FINALIZE_LOG=$log \
            timeout 60 "$SIM/mpirun-sim" -nodes 2 -ppn 2 \
            env LD_PRELOAD="$TMP/count_finalize.so" "$PM" "$@" >"$dir/out" 2>"$dir/err" </dev/null &
    fi
    job=$!
    local why=
    if [ "$sig" != - ]; then
        local j target=${sig#*:} signame=${sig%%:*} n=0
        for j in $(seq 300); do
            n=$(find "$pids" -maxdepth 1 -name '[0-9]' | wc -l)
            [ "$n" = 4 ] && break; sleep 0.1
        done
        [ "$n" = 4 ] || why="only $n of 4 ranks started"
        if [ "$target" = all ]; then
            for j in 0 1 2 3; do kill -"$signame" "$(cat "$pids/$j")" 2>/dev/null; done
        else
            kill -"$signame" "$(cat "$pids/$target")" 2>/dev/null
        fi
    fi
    wait "$job"; rc=$?
    end=$(date +%s%N)
    local took=$(( (end - start) / 1000000 )) byes trees= finals
    echo "$took" > "$dir/ms"
    byes=$(grep -c '^bye [0-3]$' "$dir/out")
    t_wait_empty "$nodes/node1/python-mpi-0" 10 && t_wait_empty "$nodes/node2/python-mpi-0" 10 ||
        trees=$(ls -R "$nodes"/node*/python-mpi-0 2>/dev/null | head -5)
    # Nothing of the job outlives it (a rank the launcher left running, a
    # watcher that does not exit): each of its processes has PIDDIR=$pids in
    # its environment.  Up to 10 s: a watcher may still be on its way out.
    local left= j
    for j in $(seq 100); do
        left=$(grep -lzxsF "PIDDIR=$pids" /proc/[0-9]*/environ | cut -d/ -f3 | tr '\n' ' ')
        [ -z "$left" ] && break; sleep 0.1
    done
    if [ -n "$why" ]; then :
    elif [ "$want_rc" = nonzero ] && [ "$rc" = 0 ]; then why="exit status 0, want non-zero"
    elif [ "$want_rc" != nonzero ] && [ "$want_rc" != any ] && [ "$rc" != "$want_rc" ]; then
        why="exit status $rc, want $want_rc"
    elif [ "$rc" = 124 ] || [ "$took" -gt 20000 ]; then why="took ${took} ms (hung?)"
    elif [ "$want_byes" != - ] && [ "$byes" != "$want_byes" ]; then why="$byes 'bye' lines, want $want_byes"
    elif [ -n "$trees" ]; then why="a node kept a tree: $trees"
    elif [ -n "$left" ]; then why="processes left 10 s after the job: $(ps -o pid,ppid,etimes,args -p "${left% }" | tr '\n' ';')"
    elif [ "$abort_rank" = unended ]; then
        [ ! -s "$log" ] || why="MPI_Finalize called: $(sort "$log" | tr '\n' ' ')"
        ! grep -q "aborting the job" "$dir/err" || why="an abort line: the end ran"
    elif [ "$abort_rank" != - ]; then
        [ "$(grep -cE "python-mpi: rank $abort_rank on node[12]: .*(status |_exit\()[0-9]+.*; aborting the job$" "$dir/err")" = 1 ] ||
            why="no (or more than one) abort line for rank $abort_rank"
    elif [ "$want_rc" = 0 ]; then
        finals=$(sort "$log" 2>/dev/null | tr '\n' ' ')
        [ "$finals" = "finalize 0 finalize 1 finalize 2 finalize 3 " ] ||
            why="MPI_Finalize calls: '$finals', want each rank once"
    fi
    echo "${why:-ok}" > "$dir/result"
}

run_case() {
    local name=$1 i max=0 failed=
    shift
    # CASE=glob: a case it does not name is not run at all (t_ok counts it).
    if ! t_case "$name (x$REPEAT)" && ! t_case "$name"; then t_ok "$name"; return; fi
    rm -rf "$TMP/runs" "${NODES:?}"/*
    for i in $(seq "$REPEAT"); do
        one_run "$TMP/runs/$i" "$@" &
        if [ $((i % JOBS)) = 0 ]; then wait; fi
    done
    wait
    for i in $(seq "$REPEAT"); do
        local r ms
        r=$(cat "$TMP/runs/$i/result" 2>/dev/null || echo "no result")
        ms=$(cat "$TMP/runs/$i/ms" 2>/dev/null || echo 0)
        [ "$ms" -gt "$max" ] && max=$ms
        if [ "$r" != ok ] && [ -z "$failed" ]; then
            failed="run $i of $REPEAT: $r
$(head -c 3000 "$TMP/runs/$i/out"; head -c 3000 "$TMP/runs/$i/err")"
        fi
    done
    if [ -n "$failed" ]; then t_fail "$name (x$REPEAT)" "$failed"
    else t_ok "$name (x$REPEAT, slowest ${max} ms)"; fi
}

sleepy="$PRE
time.sleep(300)"

# --- status 0 everywhere ---------------------------------------------------
run_case "normal end: every rank's output, status 0, finalize once" 0 4 - - -c "$PRE
bye()"
run_case "sys.exit() and sys.exit(None)" 0 4 - - -c "$PRE
bye(); sys.exit() if r in '01' else sys.exit(None)"
run_case "sys.exit(0)" 0 4 - - -c "$PRE
bye(); sys.exit(0)"
run_case "quit() and exit() with no status" 0 4 - - -c "$PRE
bye(); quit() if r in '01' else exit()"
run_case "os._exit(0): the rank still ends cleanly" 0 - - - -c "$PRE
bye(); os._exit(0)"
cat > "$TMP/main.py" <<PY
$PRE
def main():
    bye()
    return int(os.environ.get("END_CODE_" + r, "0"))
if __name__ == "__main__":
    sys.exit(main())
PY
run_case "a script ending in sys.exit(main())" 0 4 - - "$TMP/main.py"
run_case "non-daemon threads still running at sys.exit(0) finish first" 0 4 - - -c "$PRE
import threading
def late():
    time.sleep(0.5); bye()
threading.Thread(target=late).start()
sys.exit(0)"
ATEXIT="$PRE
import atexit, ctypes
def mpi_alive():
    lib = ctypes.CDLL(None); i = ctypes.c_int(0); f = ctypes.c_int(0)
    lib.MPI_Initialized(ctypes.byref(i)); lib.MPI_Finalized(ctypes.byref(f))
    return i.value == 1 and f.value == 0
def handler():
    if mpi_alive(): bye()
atexit.register(handler)"
run_case "atexit handlers run once, before MPI goes (sys.exit(0))" 0 4 - - -c "$ATEXIT
sys.exit(0)"
# -m: Py_RunMain returns instead of exiting: the same end.
export PYTHONPATH=$TMP/code
run_case "-m module, sys.exit(0) from the module" 0 4 - - -m endmod
unset PYTHONPATH
CASE_STDIN='import os, sys\nos.write(1, ("bye %s\\n" % (os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"])).encode())\nsys.exit(0)\n'
run_case "- (program on stdin, rank 0), sys.exit(0)" 0 1 - - -
CASE_STDIN='import os\nos.write(1, b"bye 0\\n")\nexit()\n'
run_case "interactive prompt: exit()" 0 1 - - -q -i
unset CASE_STDIN

# --- a failing rank ends the whole job --------------------------------------
run_case "sys.exit(3) on rank 1 while the others sleep" 3 - 1 - -c "$PRE
sys.exit(3) if r == '1' else time.sleep(300)"
run_case "sys.exit('a message') on rank 2: status 1" 1 - 2 - -c "$PRE
sys.exit('a message') if r == '2' else time.sleep(300)"
run_case "raise SystemExit(4) on rank 3" 4 - 3 - -c "$PRE
if r == '3': raise SystemExit(4)
time.sleep(300)"
run_case "exit(6) on rank 0" 6 - 0 - -c "$PRE
exit(6) if r == '0' else time.sleep(300)"
run_case "an uncaught exception on rank 1" 1 - 1 - -c "$PRE
if r == '1': raise RuntimeError('boom')
time.sleep(300)"
run_case "KeyboardInterrupt raised on rank 2: status 130" 130 - 2 - -c "$PRE
if r == '2': raise KeyboardInterrupt
time.sleep(300)"
run_case "SIGINT sent to rank 1: KeyboardInterrupt, status 130" 130 - 1 INT:1 -c "$sleepy"
run_case "SIGTERM sent to rank 3 (python3's default: the rank dies)" nonzero - - TERM:3 -c "$sleepy"
run_case "SIGTERM sent to every rank (a time limit)" nonzero - - TERM:all -c "$sleepy"
run_case "os._exit(3) on rank 1" 3 - 1 - -c "$PRE
os._exit(3) if r == '1' else time.sleep(300)"
run_case "os._exit(status=5) on rank 3, the others in a barrier" 5 - 3 - -c "$PRE
if r == '3': os._exit(status=5)
import ctypes
lib = ctypes.CDLL(None)
try: world = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, 'ompi_mpi_comm_world')))
except ValueError: world = ctypes.c_int(0x44000000)   # MPICH's MPI_COMM_WORLD
lib.MPI_Barrier(world)"
run_case "atexit handlers run before the abort (sys.exit(3) on rank 1)" 3 - 1 - -c "$ATEXIT
sys.exit(3) if r == '1' else time.sleep(300)"
export END_CODE_1=2
run_case "a script's sys.exit(main()) returning 2 on rank 1" 2 - 1 - "$TMP/main.py"
unset END_CODE_1
export PYTHONPATH=$TMP/code END_CODE_0=7
run_case "-m module, sys.exit(7) on rank 0" 7 - 0 - -m endmod
unset PYTHONPATH END_CODE_0
CASE_STDIN='import sys\nsys.exit(5)\n'
run_case "- (program on stdin, rank 0), sys.exit(5)" 5 - 0 - -
CASE_STDIN='exit(8)\n'
run_case "interactive prompt: exit(8)" 8 - 0 - -q -i
unset CASE_STDIN

# --- on a delivered tree: removed on every node, whatever the end -----------
export PYTHON_MPI_PKGROOT=$TMP/pkgs PYTHON_MPI_PACKAGES=code.tar.zst
run_case "packages bundle: -m from the tree, status 0, trees removed" 0 4 - - -m endmod
export END_CODE_2=9
run_case "packages bundle: -m, sys.exit(9) on rank 2, trees removed" 9 - 2 - -m endmod
unset END_CODE_2
export PYTHON_MPI_PACKAGES=runtime.tar.zst
run_case "runtime bundle: sys.exit(0), trees removed" 0 4 - - -c "$PRE
bye(); sys.exit(0)"
run_case "runtime bundle: os._exit(3) on rank 2, trees removed" 3 - 2 - -c "$PRE
os._exit(3) if r == '2' else time.sleep(300)"
run_case "runtime bundle: os._exit(0) everywhere, finalize once, trees removed" 0 4 - - -c "$PRE
bye(); os._exit(0)"
# A forked child's os._exit (multiprocessing's fork start method ends its
# children with it) leaves as under python3: the rank ends once, later.
FORKS="$PRE
import multiprocessing
ctx = multiprocessing.get_context('fork')
p = ctx.Process(target=os.getpid); p.start(); p.join()
assert p.exitcode == 0, p.exitcode
p = ctx.Process(target=sys.exit, args=(4,)); p.start(); p.join()
assert p.exitcode == 4, p.exitcode
pid = os.fork()
if pid == 0: os._exit(3)
assert os.waitpid(pid, 0)[1] == 3 << 8"
run_case "runtime bundle: os._exit in forked children (multiprocessing, os.fork) ends no rank" 0 4 - - -c "$FORKS
bye(); sys.exit(0)"
run_case "runtime bundle: forked children, then os._exit(6) on rank 1" 6 - 1 - -c "$FORKS
os._exit(6) if r == '1' else time.sleep(300)"
# _exit from C (here through ctypes: no extension to build) is libc's, not
# caught: no rank finalizes or aborts, and each leader's watcher removes
# its node's tree once the leader is gone.  What the launcher makes of
# ranks that leave without MPI_Finalize is its own affair (hydra may kill
# the ranks still running and end 255, or end 0): any status, and the
# ranks it killed say no "bye".
run_case "runtime bundle: _exit(0) from C on every rank: not caught, the watchers remove the trees" \
    any - unended - -c "$PRE
bye(); import ctypes; ctypes.CDLL(None)._exit(0)"
run_case "runtime bundle: SIGTERM to every rank, trees removed" nonzero - - TERM:all -c "$sleepy"
# A parts bundle (lz4 parts, unpacked by 2 ranks of each node through the ring).
export PYTHON_MPI_PACKAGES=runtime.ptar
run_case "runtime .ptar: sys.exit(0), trees removed" 0 4 - - -c "$PRE
bye(); sys.exit(0)"
run_case "runtime .ptar: sys.exit(6) on rank 3, trees removed" 6 - 3 - -c "$PRE
sys.exit(6) if r == '3' else time.sleep(300)"
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT

# --- mpi4py (Debian builds it on Open MPI only) -----------------------------
case $MPIEXEC in
    *openmpi*)
        run_case "mpi4py imported, sys.exit(0): python-mpi finalizes once" 0 4 - - -c "$PRE
from mpi4py import MPI
MPI.COMM_WORLD.Barrier(); bye(); sys.exit(0)"
        run_case "mpi4py.rc.finalize=True: mpi4py finalizes, python-mpi does not again" 0 4 - - -c "$PRE
import mpi4py; mpi4py.rc.finalize = True
from mpi4py import MPI
bye(); sys.exit(0)"
        run_case "mpi4py imported, sys.exit(3) on rank 1" 3 - 1 - -c "$PRE
from mpi4py import MPI
sys.exit(3) if r == '1' else time.sleep(300)"
        cat > "$TMP/m4.py" <<PY
$PRE
from mpi4py import MPI
if int(os.environ.get("END_CODE_" + r, "0")): raise RuntimeError("boom")
MPI.COMM_WORLD.Barrier(); bye()
PY
        run_case "python-mpi -m mpi4py script.py, status 0" 0 4 - - -m mpi4py "$TMP/m4.py"
        export END_CODE_3=1
        run_case "python-mpi -m mpi4py script.py, rank 3 raises" nonzero - - - -m mpi4py "$TMP/m4.py"
        unset END_CODE_3 ;;
    *) t_skip "mpi4py endings" "Debian's mpi4py is built on Open MPI: the Open MPI build runs them" ;;
esac

t_done $SUITE
