#!/bin/bash
# test_slurm.sh - python-mpi under a real Slurm (tests/cluster/slurm-cluster:
# slurmctld and one slurmd per simulated node, each node with its own
# hostname and private /dev/shm).  With the MPICH build the tasks talk PMI2
# (`srun --mpi=pmi2`), with the Open MPI build PMIx (`srun --mpi=pmix`, and
# mpi4py in the bundle):
#   * srun -N 2 -n 4: one unpack per node, every rank importing from its own
#     node's /dev/shm, run directories named after SLURM_JOB_ID, no tree left;
#   * salloc + srun, non-interactively; bcast once, then srun steps that
#     reuse the node cache (nothing sent the second time);
#   * sbatch --wait of the INSTALLED job-slurm.sh (make install PREFIX=...):
#     its one-run and many-runs parts;
#   * every ending (sys.exit(0), an exception, sys.exit(3), os._exit(3),
#     KeyboardInterrupt) x10 ends the step promptly with one line from
#     python-mpi, without srun -K; a SIGKILLed rank with srun -K; scancel
#     and a time limit leave no tree on any node;
#   * MPICH only, with STATIC_BUILD (the STATIC_PYTHON=1 build): srun
#     --bcast puts python-mpi itself on each node, and a rank (strace)
#     opens nothing from the install prefix; what it still opens outside
#     the node is listed;
#   * the cluster comes down with nothing left running or listening, also
#     when its owner dies without its trap, or a job is still running.
#   MPIEXEC=mpiexec.openmpi BUILD=build-openmpi bash tests/cluster/test_slurm.sh
#   BUILD=build STATIC_BUILD=build-static bash tests/cluster/test_slurm.sh
set -u
. "$(dirname "$0")/../lib.sh"
SIM=$REPO/tests/cluster
SC=$SIM/slurm-cluster
case $MPIEXEC in
    *openmpi*) MPI=openmpi SRUN_MPI=pmix ;;
    *) MPI=mpich SRUN_MPI=pmi2 ;;
esac
NAME=slurm-$MPI
START=$(date +%s)

if [ "$(id -u)" != 0 ]; then t_skip "a Slurm cluster of simulated nodes" "needs root"; t_done "$NAME"; exit; fi
for t in slurmctld slurmd srun sbatch salloc scancel sbcast ss; do
    command -v $t >/dev/null || { t_fail "$t is not installed (scripts/install-deps.sh)"; t_done "$NAME"; exit 1; }
done

TMP=$(mktemp -d /tmp/pympi-slurm-test.XXXXXX)
CL=
cleanup() {
    [ -z "$CL" ] || "$SC" down "$CL" || echo "# slurm-cluster down $CL failed"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One elapsed-seconds figure with two decimals.
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./'; }

# --------------------------------------------------------------- the cluster
# 5 CPUs a node: the time-limit job holds one per node for a minute and
# the sbatch job two, while every other test runs 2 ranks per node
# (--ntasks-per-node=2) beside them.
t0=$(now)
if CL=$("$SC" up -nodes 2 -cpus 5 -owner $$ 2>"$TMP/up.err"); then
    t_ok "slurm-cluster up: slurmctld + 2 slurmd nodes idle ($(since "$t0") s)"
else
    t_fail "slurm-cluster up" "$(cat "$TMP/up.err")"; CL=; t_done "$NAME"; exit 1
fi
eval "$("$SC" env "$CL")"
PORTS=$("$SC" ports "$CL")
SPACES=$(cat "$CL"/ids/*.uts)
SHM1=$("$SC" shm "$CL" s1) && SHM2=$("$SC" shm "$CL" s2) || t_fail "each node's /dev/shm"
echo "# cluster $CL, ports $PORTS"
# No authentication (auth/none): nothing of it may listen beyond loopback.
bound=$(for p in $PORTS; do ss -Htln "sport = :$p" | awk '{print $4}'; done | sort | tr '\n' ' ')
want=$(for p in $PORTS; do echo "127.0.0.1:$p"; done | sort | tr '\n' ' ')
[ "$bound" = "$want" ] && t_ok "slurmctld and both slurmd listen on 127.0.0.1 only ($bound)" ||
    t_fail "daemons' listening addresses" "got: $bound; want: $want"

if srun --mpi=list 2>&1 | grep -qw "$SRUN_MPI"; then
    t_ok "srun --mpi=list offers $SRUN_MPI"
else t_fail "srun --mpi=list lacks $SRUN_MPI" "$(srun --mpi=list 2>&1)"; fi
export SLURM_MPI_TYPE=$SRUN_MPI

# --- bundles, programs -------------------------------------------------------
PY=$TMP/py
mkdir -p "$PY"
if [ $MPI = openmpi ]; then
    "$BIN/pkgroot" python "$PY/runtime.tar.zst" numpy mpi4py >/dev/null || t_fail "pkgroot python numpy mpi4py"
else
    RUNTIME=$(t_runtime_bundle) && cp "$RUNTIME" "$PY/runtime.tar.zst" || t_fail "pkgroot python numpy"
fi
export PYTHON_MPI_PKGROOT=$PY PYTHON_MPI_PACKAGES=runtime.tar.zst
unset PYTHON_MPI_CHROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME PYTHON_MPI_VERBOSE
PM=$BIN/python-mpi

cat > "$TMP/where.py" <<'PY'
import os, socket, sys, numpy
e = os.environ
line = ["where", e["SLURM_PROCID"], socket.gethostname(), e["SLURM_JOB_ID"], os.stat("/dev/shm").st_dev,
        os.stat(numpy.__file__).st_dev, sys.prefix]
if "mpi4py" in sys.argv[1:] and "PMIX_RANK" in e:
    from mpi4py import MPI
    w = MPI.COMM_WORLD
    node = w.Split_type(MPI.COMM_TYPE_SHARED)
    hosts = sorted(set(node.allgather(socket.gethostname())))
    line += ["mpi4py", w.rank, w.size, w.allreduce(w.rank + 1), node.size, ",".join(hosts)]
os.write(1, (" ".join(map(str, line)) + "\n").encode())  # one write: no interleaving
PY
cat > "$TMP/hang.py" <<'PY'
import os, sys, time
os.write(1, ("up %s %s %s\n" % (os.environ["SLURM_PROCID"], os.environ["SLURM_JOB_ID"], sys.prefix)).encode())
time.sleep(600)
PY
cat > "$TMP/fail.py" <<'PY'
import os, sys, time
r = int(os.environ["SLURM_PROCID"])
os.write(1, ("start %d %s\n" % (r, os.environ["SLURM_JOB_ID"])).encode())
if sys.argv[1] == "zero":
    os.write(1, ("bye %d\n" % r).encode())
    sys.exit(0)
if r == 1:
    time.sleep(0.5)
    if sys.argv[1] == "raise":
        raise RuntimeError("rank 1 fails")
    if sys.argv[1] == "_exit":
        os._exit(3)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), 9)
    if sys.argv[1] == "interrupt":
        raise KeyboardInterrupt
    sys.exit(3)
time.sleep(120)
PY

# Does node N's /dev/shm still hold a tree of job J (python-mpi's run
# directories J.*, bcast's J)?
trees_of() {   # trees_of JOB -> the leftovers, one per line
    local j=$1 s
    for s in "$SHM1" "$SHM2"; do
        ls -d "$s"/python-mpi-0/"$j" "$s"/python-mpi-0/"$j".* 2>/dev/null || true
    done
}
wait_no_trees() {   # wait_no_trees JOB [SECS]

    for _ in $(seq $((${2:-10} * 10))); do [ -z "$(trees_of "$1")" ] && return 0; sleep 0.1; done
    [ -z "$(trees_of "$1")" ]
}
# Processes of job J still on a node: its tasks (and python-mpi's
# watchers) carry SLURM_JOB_ID=J; its slurmstepd is named [J.STEP].
job_procs() {
    local j=$1 p
    for p in $("$SC" pids "$CL"); do
        if { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_JOB_ID=$j" ||
           grep -q "slurmstepd: \[$j\." "/proc/$p/cmdline" 2>/dev/null; then
            echo "$p"
        fi
    done
}
wait_no_procs() {

    for _ in $(seq $((${2:-10} * 10))); do [ -z "$(job_procs "$1")" ] && return 0; sleep 0.1; done
    [ -z "$(job_procs "$1")" ]
}

# --- started first, checked last: a time limit (Slurm's limits are whole
# minutes, enforced every 30 s by slurmctld: it ends within 60..95 s), and
# sbatch --wait (it polls after 2, 10, 42, 74... s) ---------------------------
( timeout 180 srun -N 2 -n 2 --ntasks-per-node=1 --time=1 "$PM" "$TMP/hang.py" >"$TMP/tl.out" 2>"$TMP/tl.err"
  echo "$? $(now)" > "$TMP/tl.rc" ) &
TL_PID=$!
TL_T0=$(now)

INST=$TMP/inst
cat > "$TMP/app.py" <<'PY'
import os, socket, sys, numpy
e = os.environ
os.write(1, ("app %s %s %s %s %s %s\n" % (sys.argv[2], e["SLURM_PROCID"], socket.gethostname(), e["SLURM_JOB_ID"],
             sys.prefix, numpy.__file__.startswith(sys.prefix))).encode())
PY
# Open MPI: the LAUNCH override names srun's PMIx plugin (MPICH: the
# template's defaults, MpiDefault=pmi2).
launch=()
[ $MPI = openmpi ] && launch=(LAUNCH="srun --mpi=pmix" LAUNCH_NODES="srun --mpi=pmix --ntasks-per-node=1 -n 2")
SB_T0=$(now)
( if make -s -C "$REPO" install MPI=$MPI BUILD="$BUILD" PREFIX="$INST" >"$TMP/inst.out" 2>&1; then
      env -u PYTHON_MPI_PKGROOT -u PYTHON_MPI_PACKAGES -u SLURM_MPI_TYPE "${launch[@]}" PATH="$INST/bin:$PATH" \
          PY="$PY" RUNTIME=runtime.tar.zst APP="$TMP/app.py" \
          timeout 240 sbatch --wait --parsable -N 2 --ntasks-per-node=2 -o "$TMP/job.out" \
          "$INST/share/python-mpi/job-slurm.sh" >"$TMP/sb.id" 2>"$TMP/sb.err"
      echo "$? $(now)" > "$TMP/sb.rc"
  else echo "install $(now)" > "$TMP/sb.rc"; fi ) &
SB_PID=$!

# --- srun -N 2 -n 4 ------------------------------------------------------------
check_where() {   # check_where FILE JOB: 4 ranks, 2 per node, own /dev/shm, run dir JOB.*
    local f=$1 j=$2
    [ "$(grep -c '^where ' "$f")" = 4 ] &&
    awk -v j="$j" '$1 == "where" && ($4 != j || $5 != $6 || $7 !~ ("^/dev/shm/python-mpi-0/" j "\\.")) {bad = 1}
        $1 == "where" && (($2 < 2 && $3 != "s1") || ($2 >= 2 && $3 != "s2")) {bad = 1} END {exit bad}' "$f" &&
    [ "$(awk '$1 == "where" {print $3, $5}' "$f" | sort -u | wc -l)" = 2 ] &&
    [ "$(awk '$1 == "where" {print $5}' "$f" | sort -u | wc -l)" = 2 ]
}
t0=$(now)
if PYTHON_MPI_VERBOSE=2 timeout 120 srun -N 2 -n 4 --ntasks-per-node=2 "$PM" "$TMP/where.py" mpi4py >"$TMP/out" 2>"$TMP/err"; then
    t_ok "srun --mpi=$SRUN_MPI -N 2 -n 4 python-mpi runs ($(since "$t0") s)"
else t_fail "srun -N 2 -n 4 python-mpi" "$(cat "$TMP/out" "$TMP/err")"; fi
grep -h -E '^where|entries' "$TMP/out" "$TMP/err" | sed 's/^/#   /'
JOB=$(awk '$1 == "where" {print $4; exit}' "$TMP/out")
if [ -n "$JOB" ] && check_where "$TMP/out" "$JOB"; then
    t_ok "ranks 0,1 on s1 and 2,3 on s2 import numpy from their own node's /dev/shm; run directories $JOB.* (SLURM_JOB_ID)"
else t_fail "placement, node-local imports, run directory names" "$(cat "$TMP/out")"; fi
unpacks=$(grep -E 'runtime\.tar\.zst: [0-9]+ entries' "$TMP/err" | sed -E 's/.* on ([^:]+): .*/\1/' | sort | tr '\n' ' ')
[ "$unpacks" = "s1 s2 " ] && t_ok "exactly one unpack per node (s1, s2)" || t_fail "one unpack per node" "$unpacks"
if [ $MPI = openmpi ]; then
    # mpi4py RANK SIZE SUM(rank+1) NODE_SIZE NODE_HOSTS
    if [ "$(grep -c ' mpi4py [0-3] 4 10 2 s[12]$' "$TMP/out")" = 4 ]; then
        t_ok "mpi4py under srun --mpi=pmix: allreduce over 4 ranks; COMM_TYPE_SHARED groups each node's 2 ranks"
    else t_fail "mpi4py under srun" "$(cat "$TMP/out")"; fi
fi
wait_no_trees "$JOB" && t_ok "no tree of job $JOB left on s1 or s2" || t_fail "trees left" "$(trees_of "$JOB")"

# --- salloc + srun (as a script would) ------------------------------------
if timeout 120 salloc -N 2 --ntasks-per-node=2 srun "$PM" "$TMP/where.py" >"$TMP/out" 2>"$TMP/err" &&
   j=$(awk '$1 == "where" {print $4; exit}' "$TMP/out") && check_where "$TMP/out" "$j"; then
    t_ok "salloc -N 2 srun python-mpi: 4 ranks on both nodes from node-local trees"
else t_fail "salloc srun" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- bcast once, then srun steps on the node cache ------------------------
cat > "$TMP/steps.sh" <<'SH'
set -u
one="srun -N 2 -n 2 --ntasks-per-node=1"
J=/dev/shm/python-mpi-0/$SLURM_JOB_ID
echo "job $SLURM_JOB_ID"
$one "$BCAST" -t "$PY/runtime.tar.zst" || exit 11
$one "$BCAST" -t "$PY/runtime.tar.zst" || exit 12
for s in 1 2 3; do PYTHON_MPI_VERBOSE=1 srun "$PM" -c 'import os, sys, numpy; os.write(1, ("step %s %s %s\n" % (os.environ["SLURM_PROCID"], sys.prefix, numpy.__file__.startswith(sys.prefix))).encode())' || exit 13; done
$one sh -c 'test -f "$1/$2/os.py" && echo "kept $(hostname)"' sh "$J" "$PYSTDLIB" || exit 14
$one rm -rf "$J" || exit 15
SH
if BCAST=$BIN/bcast PM=$PM PY=$PY PYSTDLIB=$T_PYSTDLIB timeout 180 salloc -N 2 --ntasks-per-node=2 bash "$TMP/steps.sh" >"$TMP/out" 2>"$TMP/err"; then
    t_ok "salloc bash -c '...': bcast twice, 3 srun steps, cleanup"
else t_fail "salloc with steps (rc=$?)" "$(cat "$TMP/out" "$TMP/err")"; fi
j=$(sed -n 's/^job //p' "$TMP/out")
sed 's/^/#   /' "$TMP/out" | grep -E 'bcast|kept' || true
if [ "$(grep -c '^bcast: [0-9]* bytes to 2 node(s): ' "$TMP/out")" = 1 ] &&
   grep -qx 'bcast: 1 bundle(s) already on all 2 node(s): nothing sent' "$TMP/out"; then
    t_ok "bcast: the first one unpacks on both nodes, the second sends nothing"
else t_fail "bcast node cache" "$(cat "$TMP/out" "$TMP/err")"; fi
if [ "$(grep -c "^step [0-3] /dev/shm/python-mpi-0/$j True$" "$TMP/out")" = 12 ] &&
   [ "$(grep -c "already in /dev/shm/python-mpi-0/$j on every node: nothing sent" "$TMP/err")" = 3 ] &&
   ! grep -q 'entries' "$TMP/err" && [ "$(grep -c '^kept s[12]$' "$TMP/out")" = 2 ]; then
    t_ok "3 srun steps run on bcast's job tree /dev/shm/python-mpi-0/$j on both nodes, nothing sent, tree kept"
else t_fail "steps on the node cache" "$(cat "$TMP/out" "$TMP/err")"; fi
[ -n "$j" ] && wait_no_trees "$j" && t_ok "the job tree removed from both nodes at the end" || t_fail "job tree left" "$(trees_of "$j")"

# --- a failing rank ends the step promptly -----------------------------------
# Rank 1 fails 0.5 s in; the others would sleep 120 s.  Prompt: under 20 s.
# Every ending of issue 11 that srun alone would not end, repeated
# (SLURM_EXIT_REPEAT, default 10: a flaky case is a failing case), without
# --kill-on-bad-exit: python-mpi's own MPI_Abort ends the step.
REPEAT=${SLURM_EXIT_REPEAT:-10}
for how in zero raise exit _exit interrupt; do
    case $how in
        zero) what="sys.exit(0) on every rank" ;; raise) what="an uncaught exception on rank 1" ;;
        exit) what="sys.exit(3) on rank 1" ;; _exit) what="os._exit(3) on rank 1" ;;
        interrupt) what="KeyboardInterrupt on rank 1" ;;
    esac
    bad= max=0
    for i in $(seq "$REPEAT"); do
        t0=$(now)
        timeout 30 srun -N 2 -n 4 --ntasks-per-node=2 "$PM" "$TMP/fail.py" $how >"$TMP/out" 2>"$TMP/err"; rc=$?
        took=$(since "$t0")
        [ "$(echo "$took > $max" | bc)" = 1 ] && max=$took
        j=$(awk '$1 == "start" {print $3; exit}' "$TMP/out")
        if [ $how = zero ]; then
            [ $rc = 0 ] && [ "$(grep -c '^bye [0-3]$' "$TMP/out")" = 4 ] || bad="run $i: rc=$rc, $(grep -c '^bye' "$TMP/out") of 4 bye lines"
        elif [ $rc = 0 ] || [ $rc = 124 ] || [ "$(echo "$took < 20" | bc)" != 1 ]; then
            bad="run $i: rc=$rc after $took s"
        elif [ "$(grep -cE '^python-mpi: rank 1 on s1: .*(status |_exit\()[0-9]+.*; aborting the job$' "$TMP/err")" != 1 ]; then
            bad="run $i: no abort line from rank 1"
        fi
        if [ -z "$bad" ] && ! { [ -n "$j" ] && wait_no_trees "$j" 10 && wait_no_procs "$j" 10; }; then
            bad="run $i: leftovers of job $j: $(trees_of "$j"; job_procs "$j")"
        fi
        [ -n "$bad" ] && break
    done
    if [ -z "$bad" ]; then
        t_ok "$what (x$REPEAT): the step ends in at most $max s, no tree or process left on any node"
    else t_fail "$what (x$REPEAT)" "$bad
$(grep -v '^ ' "$TMP/err" | head -n 12)"; fi
done

# A rank killed by a signal, which python-mpi cannot intercept: srun's own
# --kill-on-bad-exit ends the step (without it, srun --mpi=pmi2 lets the
# other ranks run on; --mpi=pmix cancels the step by itself).
for how in kill; do
    t0=$(now)
    timeout 30 srun --kill-on-bad-exit=1 -N 2 -n 4 --ntasks-per-node=2 "$PM" "$TMP/fail.py" $how >"$TMP/out" 2>"$TMP/err"; rc=$?
    took=$(since "$t0")
    j=$(awk '$1 == "start" {print $3; exit}' "$TMP/out")
    case $how in _exit) what="os._exit(3)" ;; *) what="SIGKILL" ;; esac
    if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(echo "$took < 20" | bc)" = 1 ] &&
       [ -n "$j" ] && wait_no_trees "$j" 10 && wait_no_procs "$j" 10; then
        t_ok "$what on rank 1 under srun --kill-on-bad-exit=1: the step ends in $took s (rc=$rc), no tree or process left"
    else t_fail "$what under srun -K (rc=$rc after $took s)" "$(grep -v '^ ' "$TMP/err" | head -n 12; trees_of "$j"; job_procs "$j")"; fi
done

# --- scancel -----------------------------------------------------------------
timeout 120 srun -N 2 -n 4 --ntasks-per-node=2 "$PM" "$TMP/hang.py" >"$TMP/sc.out" 2>"$TMP/sc.err" &
sc_pid=$!
for _ in $(seq 600); do [ "$(grep -c '^up ' "$TMP/sc.out")" = 4 ] && break; sleep 0.1; done
j=$(awk '$1 == "up" {print $3; exit}' "$TMP/sc.out")
if [ -n "$j" ] && [ -n "$(trees_of "$j")" ]; then
    t0=$(now)
    scancel "$j"
    wait $sc_pid; rc=$?
    took=$(since "$t0")
    if [ $rc != 0 ] && [ $rc != 124 ] && wait_no_trees "$j" 10 && wait_no_procs "$j" 10; then
        t_ok "scancel of a running 4-rank job: srun ends in $took s, no tree or process left on any node"
    else t_fail "scancel (rc=$rc)" "$(cat "$TMP/sc.err"; trees_of "$j"; job_procs "$j")"; fi
else t_fail "the job to cancel did not start" "$(cat "$TMP/sc.out" "$TMP/sc.err")"; kill $sc_pid 2>/dev/null; fi

# --- python-mpi itself off the shared file system: srun --bcast ---------------
if [ -n "${STATIC_BUILD:-}" ] && [ $MPI = mpich ]; then
    SINST=$TMP/inst-static
    case $STATIC_BUILD in /*) ;; *) STATIC_BUILD=$REPO/$STATIC_BUILD ;; esac
    if make -s -C "$REPO" install STATIC_PYTHON=1 BUILD="$STATIC_BUILD" PREFIX="$SINST" >"$TMP/inst.out" 2>&1; then
        cat > "$TMP/exe.py" <<'PY'
import os, socket, sys
exe = os.readlink("/proc/self/exe")
libpy = [l for l in open("/proc/self/maps") if "libpython" in l]
os.write(1, ("exe %s %s %s %s %d\n" % (os.environ["SLURM_PROCID"], socket.gethostname(), exe,
             os.stat(exe).st_dev == os.stat("/dev/shm").st_dev, len(libpy))).encode())
PY
        cat > "$TMP/bc.sh" <<'SH'
set -u
E=/dev/shm/python-mpi.$SLURM_JOB_ID
echo "job $SLURM_JOB_ID"
srun --bcast="$E" "$SINST/bin/python-mpi" "$TMP/exe.py" || exit 11
srun "$SIM/strace-rank" "$TMP/trace" "$E" "$TMP/where.py" || exit 12
srun -N 2 -n 2 --ntasks-per-node=1 rm -f "$E" || exit 13
SH
        export SINST SIM TMP
        if timeout 240 salloc -N 2 --ntasks-per-node=2 bash "$TMP/bc.sh" >"$TMP/out" 2>"$TMP/err"; then
            t_ok "srun --bcast=/dev/shm/python-mpi.JOB of the installed STATIC_PYTHON=1 python-mpi, then a run under strace"
        else t_fail "srun --bcast (rc=$?)" "$(cat "$TMP/out" "$TMP/err")"; fi
        j=$(sed -n 's/^job //p' "$TMP/out")
        grep '^exe ' "$TMP/out" | sed 's/^/#   /'
        # exe RANK HOST EXE EXE_ON_NODE_SHM LIBPYTHON_MAPPINGS
        if [ "$(grep -c "^exe [0-3] s[12] /dev/shm/python-mpi.$j True 0$" "$TMP/out")" = 4 ] &&
           [ "$(grep -c '^where ' "$TMP/out")" = 4 ]; then
            t_ok "every rank's executable is Slurm's copy in its own node's /dev/shm (no libpython mapped)"
        else t_fail "ranks run the broadcast executable" "$(cat "$TMP/out")"; fi
        if [ -n "$j" ] && [ ! -e "$SHM1/python-mpi.$j" ] && [ ! -e "$SHM2/python-mpi.$j" ]; then
            t_ok "the copies removed by the job's last step (Slurm itself leaves them)"
        else t_fail "srun --bcast copies left" "$(ls "$SHM1" "$SHM2")"; fi
        "$SIM/count-file-ops" "$TMP/trace" "$SINST" > "$TMP/c.prefix"
        "$SIM/count-file-ops" "$TMP/trace" /usr/lib/python3 > "$TMP/c.stdlib"
        "$SIM/count-file-ops" "$TMP/trace" "$PY/" > "$TMP/c.root"
        if [ "$(awk '{s += $3} END {print NR, s + 0}' "$TMP/c.prefix")" = "4 0" ] &&
           [ "$(awk '{s += $3} END {print NR, s + 0}' "$TMP/c.stdlib")" = "4 0" ] &&
           [ "$(grep -v '^rank 0:' "$TMP/c.root" | awk '{s += $3} END {print NR, s + 0}')" = "3 0" ]; then
            t_ok "strace: no rank opens anything under the install prefix or /usr/lib/python3*; ranks 1-3 nothing under the package root"
        else t_fail "file accesses" "$(cat "$TMP/c.prefix" "$TMP/c.stdlib" "$TMP/c.root")"; fi
        # What a rank still opens outside its node, by kind (calls per rank).
        COUNT_FILE_OPS_PATHS=1 "$SIM/count-file-ops" "$TMP/trace" / >/dev/null 2>"$TMP/paths"
        echo "# file-name syscalls per rank outside the node (srun --bcast, STATIC_PYTHON=1):"
        awk -v tmp="$TMP" -v py="$PY/" -v home="${HOME:-/root}/" -v cwd="$(pwd -P)/" '
            { p = $2
              if (p ~ /^\/(dev\/shm|proc|sys|dev|run)(\/|$)/ || p ~ /^\/?(pipe|socket|anon_inode):/) k = "node"
              else if (index(p, py) == 1) k = "bundles"
              else if (index(p, tmp) == 1) k = "script-dir"
              else if (p ~ /^\/(usr\/)?lib(64)?\//) k = "system-libs"
              else if (p ~ /^\/etc\//) k = "etc"
              else if (p ~ /^\/usr\/share\//) k = "usr-share"
              else if (index(p, cwd) == 1) k = "cwd"
              else if (index(p, home) == 1) k = "home"
              else k = "other"
              n[$1 " " k]++; ks[k] = 1; rs[$1] = 1 }
            END { for (r in rs) { s = "#   rank " r ":"; for (k in ks) if (k != "node") s = s " " k "=" (n[r " " k] + 0); print s } }' "$TMP/paths" | sort
        echo "# distinct paths outside the node and the system libraries (rank 1):"
        awk '$1 == 1 {print $2}' "$TMP/paths" |
            grep -v -E '^/(dev/shm|proc|sys|dev|run)(/|$)|^/?(pipe|socket|anon_inode):|^/(usr/)?lib(64)?/' |
            sort | uniq -c | sed 's/^/#   /'
    else t_fail "make install STATIC_PYTHON=1" "$(cat "$TMP/inst.out")"; fi
elif [ $MPI = openmpi ]; then
    t_skip "srun --bcast of a STATIC_PYTHON=1 build" "tested with the MPICH build"
else
    t_skip "srun --bcast of a STATIC_PYTHON=1 build" "no STATIC_BUILD given (make slurm-tests gives it)"
fi

# --- sbatch --wait of the installed job-slurm.sh (started at the top) ----------
wait $SB_PID
read -r rc end < "$TMP/sb.rc"
jid=$(cat "$TMP/sb.id" 2>/dev/null)
if [ "$rc" = install ]; then
    t_fail "make install PREFIX=$INST" "$(cat "$TMP/inst.out")"
elif [ "$rc" = 0 ] && [ -n "$jid" ]; then
    t_ok "sbatch --wait of the installed job-slurm.sh: job $jid completed ($(echo "$end - $SB_T0" | bc) s, sbatch polls)"
else t_fail "sbatch job-slurm.sh (rc=$rc)" "$(cat "$TMP/sb.err" "$TMP/job.out" 2>&1)"; fi
if [ "$rc" != install ]; then
    sed 's/^/#   /' "$TMP/job.out" | head -n 20
    # app STEP RANK HOST JOB PREFIX NUMPY_IN_PREFIX
    if [ "$(awk -v j="$jid" '$1 == "app" && $2 == 0 && $5 == j && $6 ~ ("^/dev/shm/python-mpi-0/" j "\\.") && $7 == "True"' "$TMP/job.out" | wc -l)" = 4 ] &&
       [ "$(awk '$1 == "app" && $2 == 0 {print $4}' "$TMP/job.out" | sort -u | tr '\n' ' ')" = "s1 s2 " ]; then
        t_ok "(a) one run: 4 ranks on s1 and s2 on python-mpi's own tree $jid.*"
    else t_fail "(a) one run" "$(cat "$TMP/job.out")"; fi
    # activate.sh's private prefix: /dev/shm/python-mpi-UID/py-JOBID-PID
    pre="/dev/shm/python-mpi-$(id -u)/py-$jid-"
    if [ "$(awk -v p="$pre" '$1 == "app" && ($2 == 1 || $2 == 2) && index($6, p) == 1 && $7 == "True"' "$TMP/job.out" | wc -l)" = 8 ] &&
       [ "$(awk '$1 == "app" && ($2 == 1 || $2 == 2) {print $6}' "$TMP/job.out" | sort -u | wc -l)" = 1 ] &&
       [ "$(awk '$1 == "app" && $2 == 2 {print $4}' "$TMP/job.out" | sort -u | tr '\n' ' ')" = "s1 s2 " ]; then
        t_ok "(b) many runs: steps 1 and 2, 4 ranks each, on bcast's private prefix ${pre}PID"
    else t_fail "(b) many runs" "$(cat "$TMP/job.out")"; fi
    if [ -n "$jid" ] && ! ls -d "$SHM1/python-mpi-$(id -u)/py-$jid-"* "$SHM2/python-mpi-$(id -u)/py-$jid-"* >/dev/null 2>&1 &&
       wait_no_trees "$jid"; then
        t_ok "after the job: bcast's prefix and python-mpi's tree gone from both nodes"
    else t_fail "job leftovers" "$(ls -dR "$SHM1"/* "$SHM2"/* 2>&1 | head)"; fi
fi

# --- the time limit (started at the top) ----------------------------------------
wait $TL_PID
read -r rc end < "$TMP/tl.rc"
took=$(echo "$end - $TL_T0" | bc)
j=$(awk '$1 == "up" {print $3; exit}' "$TMP/tl.out")
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "CANCELLED .* DUE TO TIME LIMIT" "$TMP/tl.err" &&
   [ -n "$j" ] && wait_no_trees "$j" 10 && wait_no_procs "$j" 10; then
    t_ok "srun --time=1: killed by its time limit after $took s (rc=$rc); no tree or process left on any node"
else t_fail "time limit (rc=$rc after $took s)" "$(cat "$TMP/tl.out" "$TMP/tl.err"; trees_of "$j")"; fi

nothing_left() {   # nothing_left PIDS PORTS SPACES DIR: none alive, none listening, dir gone
    local p left=
    for p in $1; do [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && left="$left pid $p"; done
    for p in $2; do [ -n "$(ss -Htln "sport = :$p")" ] && left="$left port $p"; done
    for p in /proc/[0-9]*; do
        printf '%s\n' "$3" | grep -qxF "$(readlink "$p/ns/uts" 2>/dev/null)" && left="$left ${p#/proc/}"
    done
    [ ! -e "$4" ] || left="$left $4"
    [ -z "$left" ] || { echo "$left"; return 1; }
}

# --- a second cluster beside the first (as another engineer's), then its
# owner dies without its trap: the -owner watcher takes it down -----------------
bash -c 'd=$("$1" up -owner $$) && echo "$d" && cat "$d/ports" && cat "$d"/ids/*.pid "$d"/ids/*.uts && exec sleep 600' x "$SC" >"$TMP/own" 2>&1 &
owner=$!
for _ in $(seq 300); do [ "$(wc -l < "$TMP/own")" -ge 8 ] && break; sleep 0.1; done
d=$(sed -n 1p "$TMP/own")
if [ -n "$d" ] && [ -d "$d" ]; then
    p2=$(sed -n 2p "$TMP/own")
    hosts=$(SLURM_CONF=$d/slurm.conf timeout 60 srun -N 2 -n 2 hostname 2>&1 | sort | tr '\n' ' ')
    both=$(printf '%s\n' $PORTS $p2 | sort | uniq -d)
    st1=$(sinfo -h -o '%D' 2>&1)   # the first cluster still answers
    if [ "$hosts" = "s1 s2 " ] && [ -z "$both" ] && [ "$d" != "$CL" ] && [ "$st1" = 2 ]; then
        t_ok "a second cluster runs beside the first (ports $p2 vs $PORTS, own directory)"
    else t_fail "second cluster beside the first" "hosts=$hosts common ports=$both first: $st1"; fi
    kill -9 $owner; wait $owner 2>/dev/null
    pids=$(sed -n '3,5p' "$TMP/own"); spaces=$(sed -n '6,$p' "$TMP/own")
    for _ in $(seq 150); do nothing_left "$pids" "$p2" "$spaces" "$d" >/dev/null && break; sleep 0.1; done
    if left=$(nothing_left "$pids" "$p2" "$spaces" "$d"); then
        t_ok "its owner killed with SIGKILL (no trap): the watcher took that cluster down, nothing left"
    else t_fail "after the owner's death" "$left"; "$SC" down "$d"; fi
else t_fail "second cluster" "$(cat "$TMP/own")"; kill -9 $owner 2>/dev/null; fi

# --- teardown: nothing left running or listening --------------------------------
# A job still running when the cluster comes down is ended with it.
timeout 120 srun -N 2 -n 4 --ntasks-per-node=2 "$PM" "$TMP/hang.py" >"$TMP/out" 2>&1 &
for _ in $(seq 600); do [ "$(grep -c '^up ' "$TMP/out")" = 4 ] && break; sleep 0.1; done
[ "$(grep -c '^up ' "$TMP/out")" = 4 ] || t_fail "the last job did not start" "$(cat "$TMP/out")"
all=$("$SC" pids "$CL" | tr '\n' ' ')
t0=$(now)
if "$SC" down "$CL" 2>"$TMP/err"; then
    t_ok "slurm-cluster down with a job running ($(since "$t0") s)"
else t_fail "slurm-cluster down" "$(cat "$TMP/err")"; fi
wait
CL=
if left=$(nothing_left "$all" "$PORTS" "$SPACES" "$(dirname "$SLURM_CONF")"); then
    t_ok "after down: none of the $(echo $all | wc -w) processes alive, ports $PORTS closed, no process in the nodes' namespaces, directory gone"
else t_fail "left after down" "$left"; fi
unset SLURM_CONF

echo "# $NAME took $(( $(date +%s) - START )) s"
t_done "$NAME"
