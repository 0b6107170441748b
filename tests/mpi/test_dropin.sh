#!/bin/bash
# test_dropin.sh - python-mpi is a drop-in python3 where the two can be
# compared: processes a rank starts at any depth run as plain Python (a
# process manager's own launches start MPI), sys.executable is the path the
# program was started as (symlinks, venvs), the command line decides -E,
# -I, -X utf8 and -X dev, signal dispositions are python3's, and a lone
# process fails as python3 does.  Each check runs python-mpi and
# /usr/bin/python3 the same way, under $MPIEXEC where it says so.
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=dropin
TMP=$(mktemp -d /tmp/pympi-dropin.XXXXXX)
SHM=$(t_shm_scratch pympi-dropin-shm)
trap 'rm -rf "$TMP" "$SHM"' EXIT
PM=$BIN/python-mpi
PY3=$PYTHON   # the Python python-mpi embeds (lib.sh), to compare with
unset PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME PYTHON_MPI_PARENT
export PYTHON_MPI_CHROOT=$SHM
mkdir -p "$PYTHON_MPI_CHROOT" "$TMP/pkgs"
RUNTIME=$(t_runtime_bundle) && cp "$RUNTIME" "$TMP/pkgs/runtime.tar.zst" || t_fail "pkgroot python"
run() { timeout 60 "$MPIEXEC" "$@" >"$TMP/out" 2>"$TMP/err"; }

# --- descendants of a rank, at any depth --------------------------------
cat > "$TMP/child.py" <<'PY'
import ctypes, os, subprocess, sys
r = os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]
exe = sys.executable
probe = ("import sys, ctypes; i = ctypes.c_int(-1); "
         "ctypes.CDLL(None).MPI_Initialized(ctypes.byref(i)); print(i.value, sys.prefix)")
ways = [
    dict(args=[exe, "-c", probe]),                                    # a child
    dict(args=f"{exe} -c '{probe}'", shell=True),                     # through a shell
    dict(args=["bash", "-c", f"{exe} -c '{probe}'; true"]),           # a bash wrapper
    dict(args=["bash", "-c", f"exec sh -c \"{exe} -c '{probe}'\""], close_fds=False),  # deeper, PMI fd kept
]
got = []
for w in ways:
    p = subprocess.run(capture_output=True, text=True, **w)
    got.append((p.returncode, p.stdout.strip()))
os.system(f"{exe} -c '{probe}' > {os.environ['OUT']}.{r}")     # os.system
got.append((0, open(os.environ["OUT"] + "." + r).read().strip()))
ok = all(rc == 0 and out == "0 " + sys.prefix for rc, out in got)
# A copy of python-mpi (a venv's --copies) is the same program: the tree.
# Another program (another build of python-mpi, whose Python may not be
# the tree's) is a descendant too, but runs on its own Python.
import shutil
copy = os.environ["OUT"] + ".copy." + r
shutil.copyfile(exe, copy)
os.chmod(copy, 0o755)
p = subprocess.run([copy, "-c", probe], capture_output=True, text=True)
got.append((p.returncode, p.stdout.strip()))
ok = ok and p.returncode == 0 and p.stdout.strip() == "0 " + sys.prefix
other = os.environ.get("OTHER_PM")
if other:
    p = subprocess.run([other, "-c", probe], capture_output=True, text=True)
    got.append((p.returncode, p.stdout.strip()))
    ok = ok and p.returncode == 0 and p.stdout.startswith("0 ") and p.stdout.split()[1] != os.environ.get("PYTHON_MPI_HOME")
# A cleared environment (env={}) loses the rank's tree, not its lineage.
p = subprocess.run([exe, "-c", probe], env={}, capture_output=True, text=True)
got.append((p.returncode, p.stdout.strip()))
ok = ok and p.returncode == 0 and p.stdout.startswith("0 ")
os.write(1, ("%s %s %s\n" % ("child-ok" if ok else "child-bad", r, got)).encode())
PY
# "Another build of python-mpi": the same binary without its build id.
objcopy --remove-section=.note.gnu.build-id "$PM" "$TMP/other-pm" || t_fail "objcopy"
for bundle in "" runtime.tar.zst; do
    what=${bundle:-"no bundles"}
    if OTHER_PM=$TMP/other-pm OUT=$TMP/os PYTHON_MPI_PKGROOT=$TMP/pkgs PYTHON_MPI_PACKAGES=$bundle run -n 2 "$PM" "$TMP/child.py" &&
       [ "$(grep -c '^child-ok ' "$TMP/out")" = 2 ] && t_empty_dir "$PYTHON_MPI_CHROOT"; then
        t_ok "$what: processes a rank starts (child, shell, bash wrapper, sh in bash with the PMI fd, os.system) run as plain Python on its tree (a copy of python-mpi too; another build on its own Python), and with env={} as plain Python; the job exits 0"
    else t_fail "$what: descendants of a rank" "$(cat "$TMP/out" "$TMP/err")"; fi
done

# A process manager started from a rank launches real MPI processes.
cat > "$TMP/nested.py" <<PY
import os, subprocess, sys
probe = ("import ctypes; i = ctypes.c_int(-1); s = ctypes.c_int(0); l = ctypes.CDLL(None); "
         "l.MPI_Initialized(ctypes.byref(i)); print('nested', i.value)")
p = subprocess.run(["$MPIEXEC", "-n", "1", sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
print("outer", p.returncode, p.stdout.strip(), p.stderr[-500:])
PY
nested_py3=$(timeout 60 "$MPIEXEC" -n 1 sh -c "$MPIEXEC -n 1 $PY3 -c 'print(1)'" 2>/dev/null)
if [ "$nested_py3" != 1 ]; then
    t_skip "an mpiexec started by a rank starts MPI" "$MPIEXEC does not run inside one of its own jobs (python3 neither)"
elif run -n 1 "$PM" "$TMP/nested.py" && grep -q '^outer 0 nested 1' "$TMP/out"; then
    t_ok "an mpiexec started by a rank starts MPI in its python-mpi"
else t_fail "nested launcher" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- sys.executable and venvs ------------------------------------------------
ln -s "$PM" "$TMP/pm-link"
if [ "$("$TMP/pm-link" -c 'import sys; print(sys.executable)')" = "$TMP/pm-link" ]; then
    t_ok "sys.executable is the path python-mpi was started as (a symbolic link is not resolved)"
else t_fail "sys.executable through a link"; fi
for kind in symlinks copies; do
    v=$TMP/venv-$kind
    flag=--symlinks; [ $kind = copies ] && flag=--copies
    if "$PM" -m venv $flag --without-pip "$v" &&
       out=$(HOME=$TMP run -n 1 "$v/bin/python" -c 'import sys, site; print(sys.prefix, sys.executable, sys.prefix in sys.path[-1], site.ENABLE_USER_SITE)'; cat "$TMP/out") &&
       [ "$out" = "$v $v/bin/python True False" ]; then
        t_ok "a venv made by python-mpi -m venv $flag is a venv under $MPIEXEC (prefix, site-packages, no user site)"
    else t_fail "venv $flag" "$out $(cat "$TMP/err")"; fi
done

# --- the command line decides, as for python3 -------------------------------
same() {   # same NAME ENV... -- ARGS...: python-mpi and python3 print the same
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    local a b
    a=$(env "${envs[@]}" "$PM" "$@" 2>&1; echo "status $?")
    b=$(env "${envs[@]}" "$PY3" "$@" 2>&1; echo "status $?")
    if [ "$a" = "$b" ]; then t_ok "$name: as python3 ($(echo $a))"; else t_fail "$name" "python-mpi: $a
python3: $b"; fi
}
FLAGS='import sys; print(sys.flags.utf8_mode, sys.flags.dev_mode, sys.flags.ignore_environment, sys.flags.isolated)'
same "-X utf8" -- -X utf8 -c "$FLAGS"
same "-X dev" -- -X dev -c "$FLAGS"
same "-E ignores PYTHONUTF8 and PYTHONDEVMODE" PYTHONUTF8=1 PYTHONDEVMODE=1 -- -E -c "$FLAGS"
same "-I ignores PYTHONUTF8" PYTHONUTF8=1 -- -I -c "$FLAGS"
same "PYTHONUTF8=1 counts without -E" PYTHONUTF8=1 -- -c "$FLAGS"
# The allocator's name (3.13 moved the call to _testinternalcapi).
ALLOC='import _testcapi
try:
    name = _testcapi.pymem_getallocatorsname
except AttributeError:
    import _testinternalcapi
    name = _testinternalcapi.pymem_getallocatorsname
print(name())'
same "PYTHONMALLOC=debug counts without -E" PYTHONMALLOC=debug -- -c "$ALLOC"
same "-E ignores PYTHONMALLOC" PYTHONMALLOC=debug -- -E -c "$ALLOC"
same "PYTHONHOME=/nonexistent with -E starts" PYTHONHOME=/nonexistent -- -E -c 'import sys; print("started", sys.prefix)'
same "a lone process's sys.exit('message')" -- -c 'import sys; sys.exit("message")'
same "a lone process's exception" -- -c 'raise SystemExit(3)'

# --- signals -------------------------------------------------------------------
cat > "$TMP/sigs.py" <<'PY'
import ctypes, signal
class SA(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]
libc = ctypes.CDLL(None)
out = []
for s in range(1, 65):
    sa = SA()
    if libc.sigaction(s, None, ctypes.byref(sa)) != 0:
        continue
    h = sa.handler or 0
    if h != 0:
        g = signal.getsignal(s) if s < signal.NSIG else "rt"
        out.append("%d:%s:%s" % (s, {1: "IGN"}.get(h, "handler"), "py" if callable(g) else g))
print(" ".join(out))
PY
run -n 1 "$PY3" "$TMP/sigs.py"; want=$(cat "$TMP/out")
if run -n 1 "$PM" "$TMP/sigs.py" && [ "$(cat "$TMP/out")" = "$want" ]; then
    t_ok "under $MPIEXEC a rank's signal dispositions are python3's ($want)"
else t_fail "signal dispositions" "python-mpi: $(cat "$TMP/out" "$TMP/err")
python3: $want"; fi
if run -n 1 "$PM" -c 'import signal; signal.signal(signal.SIGUSR1, signal.getsignal(signal.SIGUSR1)); print(signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)' &&
   [ "$(cat "$TMP/out")" = True ]; then
    t_ok "signal.getsignal(SIGUSR1) is SIG_DFL and can be restored"
else t_fail "SIGUSR1" "$(cat "$TMP/out" "$TMP/err")"; fi
for sig in HUP USR1; do
    run -n 1 "$PM" -c "import os, signal, time; os.kill(os.getpid(), signal.SIG$sig); time.sleep(30)"; rc=$?
    if [ $rc != 0 ] && [ $rc != 124 ] && ! grep -q 'UCX' "$TMP/out" "$TMP/err"; then
        t_ok "SIG$sig ends a rank as it ends python3 (no debug mode, no handler)"
    else t_fail "SIG$sig (rc=$rc)" "$(head -5 "$TMP/out" "$TMP/err")"; fi
done
run -n 1 "$PM" -c 'import ctypes; ctypes.string_at(0)'; rc=$?
if [ $rc != 0 ] && ! grep -qiE 'UCX|backtrace|Caught signal' "$TMP/err"; then
    t_ok "a crash is reported by the launcher, without an MPI library's backtrace"
else t_fail "crash report (rc=$rc)" "$(head -20 "$TMP/err")"; fi
# Where the user asks the library for its fault handler, it stays.
if UCX_ERROR_SIGNALS=SEGV OMPI_MCA_opal_signal=11 run -n 1 "$PM" "$TMP/sigs.py" &&
   grep -qE '(^| )11:handler:None( |$)' "$TMP/out"; then
    t_ok "UCX_ERROR_SIGNALS / OMPI_MCA_opal_signal set by the user: the MPI library's SIGSEGV handler stays"
else t_fail "user signal settings" "$(cat "$TMP/out" "$TMP/err")"; fi

t_done $SUITE
