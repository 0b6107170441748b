#!/bin/bash
# test_jobs.sh - the job-script templates for sites without Slurm run end
# to end (job-pbs-aprun.sh with its LAUNCH override pointed at
# mpiexec.mpich, the batch system's variables faked; job-mpiexec.sh), and
# activate.sh's three tiers with real bcast, pkgroot and python-mpi, in
# bash and zsh.  job-slurm.sh runs under a real Slurm in
# tests/cluster/test_slurm.sh; here only its checks before any launch.
set -u
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d /tmp/pympi-jobs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PY=$TMP/py
mkdir -p "$PY" "$TMP/code/jobmod" "$TMP/dev/devmod" "$TMP/devtmp"
RUNTIME=$(t_runtime_bundle) || { t_fail "pkgroot python makes the runtime bundle"; t_done jobs; exit 1; }
cp "$RUNTIME" "$PY/runtime.tar.zst"
echo 'WHO = "tier 2"' > "$TMP/code/jobmod/__init__.py"
"$BIN/pkgroot" dir "$PY/code.tar" "$TMP/code" >/dev/null || t_fail "pkgroot dir code"
cat > "$TMP/app.py" <<'PY'
import os, sys, jobmod
rank = os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK")
os.write(1, ("app %s %s %s %s\n" % (sys.argv[2], rank, sys.prefix, jobmod.__file__.startswith(sys.prefix))).encode())
PY
export PATH=$BIN:$PATH PYTHON_MPI_SHARE=$REPO/scripts PY APP=$TMP/app.py \
       RUNTIME=runtime.tar.zst PACKAGES=code.tar
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHONHOME PYTHON_MPI_HOME PYTHON_MPI_CHROOT

# Each template: step 0 on python-mpi's own per-run tree, steps 1 and 2 on
# the prefix bcast filled, which is gone at the end.
# PREFIX is a pattern: the templates use activate.sh's private default,
# /dev/shm/python-mpi-UID/py-JOBID-PID.
check_job() {   # NAME PREFIX-PATTERN SCRIPT
    local name=$1 prefix=$2 script=$3 rc p
    timeout 120 bash "$REPO/scripts/$script" >"$TMP/out" 2>"$TMP/err"; rc=$?
    p=$(awk '$2 == 1 {print $4; exit}' "$TMP/out")
    if [ $rc = 0 ] &&
       [ "$(grep -c "^app 0 [01] /dev/shm/python-mpi-$(id -u)/[^ ]* True$" "$TMP/out")" = 2 ] &&
       [ "$(grep -c "^app [12] [01] $prefix True$" "$TMP/out")" = 4 ] && [ -n "$p" ] && [ ! -e "$p" ]; then
        t_ok "$name: one run with PYTHON_MPI_PACKAGES, two on bcast's prefix (runtime + packages), prefix removed"
    else t_fail "$name (rc=$rc)" "$(cat "$TMP/out" "$TMP/err")"; fi
}
PBS_JOBID=777.sdb PBS_O_WORKDIR=$TMP LAUNCH="mpiexec.mpich -n 2" LAUNCH_NODES="mpiexec.mpich -n 1" \
    check_job "job-pbs-aprun.sh (aprun)" "/dev/shm/python-mpi-$(id -u)/py-777.sdb-[0-9]*" job-pbs-aprun.sh
# job-mpiexec.sh's prefix carries its pid: checked by pattern.
if NP=2 timeout 120 bash "$REPO/scripts/job-mpiexec.sh" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c "^app 0 [01] /dev/shm/python-mpi-$(id -u)/" "$TMP/out")" = 2 ] &&
   [ "$(grep -c "^app [12] [01] /dev/shm/python-mpi-$(id -u)/py-[0-9]* True$" "$TMP/out")" = 4 ] &&
   p=$(awk '$2 == 1 {print $4; exit}' "$TMP/out") && [ ! -e "$p" ]; then
    t_ok "job-mpiexec.sh: one run with PYTHON_MPI_PACKAGES, two on bcast's prefix, prefix removed"
else t_fail "job-mpiexec.sh" "$(cat "$TMP/out" "$TMP/err")"; fi

out=$(SLURM_JOB_ID=1 SLURM_JOB_NUM_NODES=1 RUNTIME=nope.ptar LAUNCH="mpiexec.mpich -n 2" bash "$REPO/scripts/job-slurm.sh" 2>&1); rc=$?
[ $rc = 1 ] && [ "$out" = "job-slurm.sh: $PY/nope.ptar: bundle missing or unreadable" ] &&
    t_ok "a missing bundle: one line naming it, exit 1, before any launch" || t_fail "missing bundle (rc=$rc)" "$out"
out=$(env -u SLURM_JOB_ID bash "$REPO/scripts/job-slurm.sh" 2>&1); rc=$?
[ $rc != 0 ] && printf '%s\n' "$out" | grep -q "not inside a Slurm job" &&
    t_ok "outside a Slurm job: one line, non-zero" || t_fail "outside Slurm (rc=$rc)" "$out"

# --- activate.sh's tiers: runtime, packages, code under development -------
echo 'V = 1' > "$TMP/dev/devmod/__init__.py"
for sh in bash zsh; do
    command -v $sh >/dev/null || { t_fail "$sh is not installed"; continue; }
    P=/dev/shm/pympi-tiers-$sh-$$
    out=$($sh -c '
        source "$1" "$2" "mpiexec.mpich -n 1" || exit 9
        python_mpi_runtime "$3/runtime.tar.zst" && python_mpi_packages "$3/code.tar" || exit 8
        python_mpi_devel "$4/dev" || exit 7
        mpiexec.mpich -n 2 python-mpi -c "import devmod, jobmod, sys; print(\"v\", devmod.V, jobmod.WHO, devmod.__file__.startswith(sys.prefix))"
        echo "V = 2" > "$4/dev/devmod/__init__.py"
        python_mpi_devel "$4/dev" || exit 6
        mpiexec.mpich -n 2 python-mpi -c "import devmod; print(\"v\", devmod.V)"
        python_mpi_devel "$4/no-such-dir"; echo "rc=$?"
        python_mpi_cleanup
        python_mpi_deactivate
        type python_mpi_devel >/dev/null 2>&1 && echo still-defined
    ' x "$REPO/scripts/activate.sh" "$P" "$PY" "$TMP" 2>&1)
    echo 'V = 1' > "$TMP/dev/devmod/__init__.py"
    if [ "$(printf '%s\n' "$out" | grep -c '^v 1 tier 2 True$')" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c '^v 2$')" = 2 ]; then
        t_ok "$sh: tiers 1-3 (runtime, packages, code under development); an edit shows after python_mpi_devel"
    else t_fail "$sh: tiers" "$out"; fi
    printf '%s\n' "$out" | grep -qx "activate.sh: $TMP/no-such-dir: not a directory" && printf '%s\n' "$out" | grep -qx "rc=1" &&
        t_ok "$sh: python_mpi_devel of a missing directory: one line, non-zero" || t_fail "$sh: devel missing dir" "$out"
    [ ! -e "$P" ] && ! printf '%s\n' "$out" | grep -q still-defined &&
        [ -z "$(ls -d "${TMPDIR:-/tmp}"/python-mpi-devel.* 2>/dev/null)" ] &&
        t_ok "$sh: no temporary bundle left, prefix removed, functions gone after deactivate" ||
        t_fail "$sh: leftovers" "$(ls -d "$P" "${TMPDIR:-/tmp}"/python-mpi-devel.* 2>&1)"
done

t_check "job templates pass shellcheck" shellcheck -S warning "$REPO"/scripts/job-*.sh
t_done jobs
