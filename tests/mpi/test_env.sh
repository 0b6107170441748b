#!/bin/bash
# test_env.sh - PYTHON_MPI_ENV=DIR[:SRC...]: the first job streams the
# environment's bundles while pkgroot makes them and caches them, the next
# sends the cached ones (no pkgroot run); pip-like installs and removals, a
# conda-like change, an edited file of an editable install or of a source
# directory each make a new state; a SIGKILL of rank 0 while making leaves
# nothing a later job uses; a stream that fails half-way (pkgroot killed,
# the limit passed, bytes already sent rewritten in place) is one line and
# leaves nothing; pkgroot holds none of the launcher's descriptors; two jobs at once leave
# one copy; a venv and a (fake) conda prefix;
# the venv's own python and python-mpi see the same sys.path, files and
# versions; bad input (missing, not an environment, another Python, a
# cache that is not ours - planted by a second user) is one line and a
# prompt non-zero exit; 2 simulated nodes (a first job's stream, then the
# cache); Open MPI in make check's Open MPI cell.
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=env
TMP=$(mktemp -d /tmp/pympi-env.XXXXXX)
SHM=$(t_shm_scratch pympi-env-shm)   # PYTHON_MPI_CHROOT
ATT=
SHMS=
cleanup() {
    [ -n "$ATT" ] && userdel -r -f "$ATT" >/dev/null 2>&1
    [ -z "$SHMS" ] || { umount "$SHMS/node2" 2>/dev/null; umount "$SHMS" 2>/dev/null; }
    rm -rf "$TMP" "$SHM"
}
trap cleanup EXIT
PM=$BIN/python-mpi
# PYTHONUNBUFFERED would split a rank's line into several writes, which the
# launcher may interleave with another rank's.
unset PYTHONUNBUFFERED PYTHON_MPI_PACKAGES PYTHON_MPI_PKGROOT PYTHONHOME PYTHONPATH PYTHON_MPI_HOME PYTHON_MPI_PARENT \
      PYTHON_MPI_CACHE_STATES PYTHON_MPI_CACHE_MAX
export PYTHON_MPI_CHROOT=$SHM PYTHON_MPI_CACHE=$TMP/cache PYTHON_MPI_VERBOSE=1
mkdir -p "$PYTHON_MPI_CHROOT"
V=$TMP/venv SRC=$TMP/src EXT=$TMP/ext
SP=$V/lib/python$T_PYVER/site-packages
run() { timeout 120 "$MPIEXEC" -n 2 "$PM" "$@" >"$TMP/out" 2>"$TMP/err"; }
made() { grep -c "environment $1: making state" "$TMP/err"; }
cached() { grep -c "environment $1: cached state" "$TMP/err"; }
show() { sed 's/^/#   /' "$TMP/out" "$TMP/err" | tail -n 15; }

echo "# [${SECONDS}s]"
# --- a venv of the embedded Python, an editable install, a source dir ----
if ! "$PYTHON" -m venv --without-pip "$V" 2>"$TMP/venv.err"; then
    t_fail "$PYTHON -m venv" "$(cat "$TMP/venv.err")"; t_done $SUITE; exit 1
fi
mkdir -p "$SP/mypkg" "$SP/mypkg-1.0.dist-info" "$EXT/edpkg" "$SRC"
echo 'X = 1' > "$SP/mypkg/__init__.py"
printf 'Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0\n' > "$SP/mypkg-1.0.dist-info/METADATA"
echo 'E = 1' > "$EXT/edpkg/__init__.py"
echo "$EXT" > "$SP/__editable__.edpkg-0.1.pth"     # as pip install -e of a src layout writes
echo 'S = 1' > "$SRC/mymod.py"
cat > "$TMP/probe.py" <<'PY'
import importlib.metadata, os, sys
import edpkg, mypkg
tree = os.environ.get("PYTHON_MPI_HOME")
def canon(p):
    for a, b in [(os.environ["SP"], "SITE"), (os.environ["EXT"], "EXT0")] if not tree else \
                [(tree + "/lib/python3/dist-packages", "SITE"), (tree + "/lib/python-mpi-ext/0", "EXT0"), (tree + "/lib", "LIB")]:
        if p == a or p.startswith(a + "/"):
            return b + p[len(a):]
    return p.replace(sys.base_prefix + "/lib", "LIB") if not tree else p
local = not tree or all(m.__file__.startswith(tree + "/") for m in (edpkg, mypkg))
print("probe", sys.version.split()[0], importlib.metadata.version("mypkg"), mypkg.X, edpkg.E,
      canon(mypkg.__file__), canon(edpkg.__file__), "local" if local else "SHARED", " ".join(map(canon, sys.path[1:])))
PY
export SP EXT PYTHON_MPI_ENV=$V

echo "# [${SECONDS}s]"
# --- first job makes, second job sends the cache -------------------------
if run "$TMP/probe.py" && [ "$(made "$V")" = 1 ] && grep -q "runtime .*: making state" "$TMP/err" &&
   grep -q "making .*/00-python.ptar .*sent as it is written" "$TMP/err" &&
   grep -q "making .*/00-venv.ptar .*sent as it is written" "$TMP/err" &&
   [ "$(grep -c '^probe .* local ' "$TMP/out")" = 2 ]; then
    t_ok "first job: the runtime and the venv streamed while made, cached (module files in the node-local tree)"
else t_fail "first job makes and delivers" "$(show)"; fi
bundle=$(find "$TMP/cache" -name '00-venv.ptar' | head -n 1)
ino=$(stat -c %i "$bundle" 2>/dev/null)
perms=$(find "$TMP/cache" -mindepth 1 \( -type d ! -perm 0700 -o -type f ! -perm 0600 \) | wc -l)
t_check "the cache is private (0700 directories, 0600 files)" [ "$perms" = 0 ]
if run "$TMP/probe.py" && [ "$(cached "$V")" = 1 ] && ! grep -q "making" "$TMP/err" &&
   [ "$(stat -c %i "$bundle")" = "$ino" ] && [ "$(grep -c '^probe .* local ' "$TMP/out")" = 2 ]; then
    t_ok "second job: the cached bundles sent, no pkgroot run, the cached file untouched"
else t_fail "second job sends the cache" "$(show)"; fi

# While rank 0 waits for a bundle's first chunk, the node's other unpacker
# (rank 1) must sleep, not spin in the header's broadcast: pkgroot wants
# every core of rank 0's node.  Rank 0 unpacks every stream itself, so
# rank 1's CPU time stays well below rank 0's.
PYTHON_MPI_CACHE=$TMP/cache-cpu PYTHON_MPI_VERBOSE=0 timeout 120 "$MPIEXEC" -n 2 "$PM" -c '
import os; t = os.times(); print("cpu", os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK")), int(1000 * (t.user + t.system)))' \
    >"$TMP/cpu" 2>&1
c0=$(sed -n 's/^cpu 0 //p' "$TMP/cpu") c1=$(sed -n 's/^cpu 1 //p' "$TMP/cpu")
if [ -n "$c0" ] && [ -n "$c1" ] && [ $((2 * c1)) -lt "$c0" ]; then
    t_ok "first job: rank 1 sleeps while the bundles are made (CPU ${c1} ms, rank 0 ${c0} ms)"
else t_fail "rank 1 sleeps while the bundles are made" "CPU rank 0 ${c0:-?} ms, rank 1 ${c1:-?} ms $(tail -n 5 "$TMP/cpu")"; fi

echo "# [${SECONDS}s]"
# --- the venv's own python and python-mpi: the same view ----------------
if "$V/bin/python" "$TMP/probe.py" > "$TMP/own" 2>&1 &&
   [ "$(sed 's/ local / X /' "$TMP/own")" = "$(head -n 1 "$TMP/out" | sed 's/ local / X /')" ]; then
    t_ok "venv/bin/python and python-mpi: same versions, module files, sys.path tail (mapped to the tree)"
else t_fail "same view as the venv's python" "$(cat "$TMP/own"; head -n 1 "$TMP/out")"; fi

echo "# [${SECONDS}s]"
# --- each change makes a new state ---------------------------------------
change() {   # NAME EXPECT-IN-OUTPUT
    if run "$TMP/probe2.py" && [ "$(made "$V")" = 1 ] && ! grep -q "runtime .*: making" "$TMP/err" &&
       [ "$(grep -c "$2" "$TMP/out")" = 2 ]; then
        t_ok "$1: a new state made and delivered"
    else t_fail "$1 makes a new state" "$(show)"; fi
}
echo 'import importlib.util as u, edpkg, mymod; print("seen", u.find_spec("newpkg") is not None, edpkg.E, mymod.S)' > "$TMP/probe2.py"
export PYTHON_MPI_ENV=$V:$SRC
run "$TMP/probe2.py"   # the environment with SRC: a new environment, made once
cp -r "$SP/mypkg" "$SP/newpkg" && cp -r "$SP/mypkg-1.0.dist-info" "$SP/newpkg-1.0.dist-info" &&
    sed -i 's/mypkg/newpkg/' "$SP/newpkg-1.0.dist-info/METADATA"
change "pip install (a package and its .dist-info added)" "^seen True 1 1"
rm -rf "$SP/newpkg" "$SP/newpkg-1.0.dist-info"
change "pip uninstall (removed)" "^seen False 1 1"
sleep 0.01; echo 'E = 2' > "$EXT/edpkg/__init__.py"
change "a file of an editable install edited" "^seen False 2 1"
sleep 0.01; echo 'S = 2' > "$SRC/mymod.py"
change "a file of a source directory edited" "^seen False 2 2"
if run "$TMP/probe2.py" && [ "$(cached "$V")" = 1 ]; then t_ok "unchanged again: cached"
else t_fail "unchanged again: cached" "$(show)"; fi
most=$(for d in "$TMP/cache"/*/; do find "$d" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l; done | sort -n | tail -n 1)
t_check "old states removed: at most PYTHON_MPI_CACHE_STATES (3) per environment ($most)" [ "$most" = 3 ]
# PYTHON_MPI_CACHE_MAX bounds the whole cache: a job of another venv with a
# cap of one byte keeps only what it uses (its venv's state, the runtime's).
V2=$TMP/venv2
if "$PYTHON" -m venv --without-pip "$V2" 2>"$TMP/venv.err"; then
    PYTHON_MPI_ENV=$V2 PYTHON_MPI_CACHE_MAX=1 run -c 'print("two")'; rc=$?
    states=$(find "$TMP/cache" -mindepth 2 -maxdepth 2 -type d ! -name '.*' | wc -l)
    if [ "$rc" = 0 ] && [ "$(made "$V2")" = 1 ] && [ "$states" = 2 ] && [ "$(grep -c '^two' "$TMP/out")" = 2 ] &&
       grep -q "PYTHON_MPI_CACHE: removing the old state" "$TMP/err"; then
        t_ok "PYTHON_MPI_CACHE_MAX=1 over the whole cache: every state removed but the two the job uses"
    else t_fail "PYTHON_MPI_CACHE_MAX over the whole cache" "rc=$rc states=$states $(show)"; fi
else t_fail "$PYTHON -m venv (a second one)" "$(cat "$TMP/venv.err")"; fi
unset PYTHON_MPI_ENV

echo "# [${SECONDS}s]"
# --- PYTHON_MPI_ENV_CHECK=dirs: the cheaper check, and what it misses ----
export PYTHON_MPI_ENV_CHECK=dirs PYTHON_MPI_ENV=$V:$SRC
run "$TMP/probe2.py"   # its own states
mkdir -p "$SP/dirpkg" && echo 'D = 1' > "$SP/dirpkg/__init__.py"
echo 'import dirpkg, mymod; print("dirs", dirpkg.D, mymod.S)' > "$TMP/probe3.py"
if run "$TMP/probe3.py" && [ "$(made "$V")" = 1 ] && [ "$(grep -c '^dirs 1 2' "$TMP/out")" = 2 ]; then
    t_ok "PYTHON_MPI_ENV_CHECK=dirs: a package added is seen"
else t_fail "dirs: a package added" "$(show)"; fi
sleep 0.01; echo 'D = 2' > "$SP/dirpkg/__init__.py"
if run "$TMP/probe3.py" && [ "$(cached "$V")" = 1 ] && [ "$(grep -c '^dirs 1 2' "$TMP/out")" = 2 ]; then
    t_ok "PYTHON_MPI_ENV_CHECK=dirs: a file of the venv edited in place is not seen (as documented)"
else t_fail "dirs: an in-place edit" "$(show)"; fi
sleep 0.01; echo 'S = 3' > "$SRC/mymod.py"
if run "$TMP/probe3.py" && [ "$(made "$V")" = 1 ] && [ "$(grep -c '^dirs 2 3' "$TMP/out")" = 2 ]; then
    t_ok "PYTHON_MPI_ENV_CHECK=dirs: a source file edited is seen"
else t_fail "dirs: a source edit" "$(show)"; fi
unset PYTHON_MPI_ENV_CHECK PYTHON_MPI_ENV
rm -rf "$SP/dirpkg"

echo "# [${SECONDS}s]"
# --- a real pip install -e (setuptools' editable finder) -----------------
# The system's pip, setuptools and wheel, run by the venv's python.
if SYSPIP=$("$PYTHON" -c 'import importlib.util as u, os
s = [u.find_spec(m) for m in ("pip", "setuptools", "wheel")]
assert all(s)
print(os.path.dirname(os.path.dirname(s[0].origin)))' 2>/dev/null); then
    VP=$TMP/vpip PROJ=$TMP/proj
    "$PYTHON" -m venv --without-pip "$VP"
    mkdir -p "$PROJ/flatpkg" && echo 'F = 1' > "$PROJ/flatpkg/__init__.py"
    printf '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "flatpkg"\nversion = "0.1"\n[tool.setuptools]\npackages = ["flatpkg"]\n' > "$PROJ/pyproject.toml"
    if PYTHONPATH=$SYSPIP "$VP/bin/python" -m pip install -q --no-index --no-build-isolation --no-deps -e "$PROJ" >"$TMP/pip.out" 2>&1 &&
       ls "$VP/lib/python$T_PYVER/site-packages/"__editable___flatpkg*finder.py >/dev/null 2>&1; then
        echo 'import flatpkg, os; print("flat", flatpkg.F, flatpkg.__file__.startswith(os.environ["PYTHON_MPI_HOME"] + "/"))' > "$TMP/flat.py"
        if PYTHON_MPI_ENV=$VP run "$TMP/flat.py" && [ "$(grep -c '^flat 1 True' "$TMP/out")" = 2 ]; then
            t_ok "pip install -e (an editable finder naming the project): its package delivered, imported from the tree"
        else t_fail "pip install -e (finder)" "$(show)"; fi
        sleep 0.01; echo 'F = 2' > "$PROJ/flatpkg/__init__.py"
        if PYTHON_MPI_ENV=$VP run "$TMP/flat.py" && [ "$(made "$VP")" = 1 ] && [ "$(grep -c '^flat 2 True' "$TMP/out")" = 2 ]; then
            t_ok "a file of that editable project edited: a new state"
        else t_fail "pip -e project edited" "$(show)"; fi
    else
        t_fail "pip install -e of a setuptools project" "$(tail -n 5 "$TMP/pip.out")"
    fi
else
    t_skip "pip install -e (finder)" "$PYTHON has no pip, setuptools and wheel"
    t_skip "a file of that editable project edited" "$PYTHON has no pip, setuptools and wheel"
fi

echo "# [${SECONDS}s]"
# --- a conda prefix (fake) ----------------------------------------------
C=$TMP/conda CSP=$TMP/conda/lib/python$T_PYVER/site-packages
mkdir -p "$C/conda-meta" "$C/bin" "$CSP/cpkg"
echo 'C = 1' > "$CSP/cpkg/__init__.py"
printf '==> 2024-01-01 00:00:00 <==\n# cmd: conda create -p %s cpkg\n' "$C" > "$C/conda-meta/history"
echo "{\"name\": \"cpkg\", \"version\": \"1.0\", \"build\": \"0\", \"files\": [\"lib/python$T_PYVER/site-packages/cpkg/__init__.py\"]}" \
    > "$C/conda-meta/cpkg-1.0-0.json"
echo 'import cpkg, importlib.util as u; print("conda", cpkg.C, u.find_spec("dpkg2") is not None, cpkg.__file__.startswith("'"$PYTHON_MPI_CHROOT"'/"))' > "$TMP/conda.py"
if PYTHON_MPI_ENV=$C run "$TMP/conda.py" && [ "$(made "$C")" = 1 ] && [ "$(grep -c '^conda 1 False True' "$TMP/out")" = 2 ]; then
    t_ok "a conda prefix: made and delivered"
else t_fail "a conda prefix" "$(show)"; fi
# conda install: files under the prefix and a conda-meta record added
mkdir -p "$CSP/dpkg2" && echo 'D = 1' > "$CSP/dpkg2/__init__.py"
echo "{\"name\": \"dpkg2\", \"version\": \"2.0\", \"build\": \"0\", \"files\": [\"lib/python$T_PYVER/site-packages/dpkg2/__init__.py\"]}" \
    > "$C/conda-meta/dpkg2-2.0-0.json"
if PYTHON_MPI_ENV=$C run "$TMP/conda.py" && [ "$(made "$C")" = 1 ] && [ "$(grep -c '^conda 1 True True' "$TMP/out")" = 2 ]; then
    t_ok "conda install (files and conda-meta/): a new state"
else t_fail "conda install makes a new state" "$(show)"; fi

echo "# [${SECONDS}s]"
# --- PYTHON_MPI_PACKAGES after PYTHON_MPI_ENV ---------------------------
mkdir -p "$TMP/extra" && echo 'P = 7' > "$TMP/extra/extramod.py"
"$BIN/pkgroot" dir "$TMP/extra.tar" "$TMP/extra" >/dev/null 2>&1
if PYTHON_MPI_ENV=$V PYTHON_MPI_PACKAGES=$TMP/extra.tar run -c 'import extramod, mypkg; print("both", extramod.P, mypkg.X)' &&
   [ "$(grep -c '^both 7 1' "$TMP/out")" = 2 ]; then t_ok "PYTHON_MPI_ENV's bundles, then PYTHON_MPI_PACKAGES's"
else t_fail "PYTHON_MPI_ENV with PYTHON_MPI_PACKAGES" "$(show)"; fi

echo "# [${SECONDS}s]"
# --- two jobs at once: both work, one copy -------------------------------
# The embedded Python's own prefix with a source directory: the runtime
# cached, one small state made per round.
R=$TMP/racesrc; mkdir -p "$R"
PYHOME=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')
races=0 n=8
for i in $(seq $n); do
    echo "R = $i" > "$R/race.py"
    PYTHON_MPI_ENV=$PYHOME:$R timeout 120 "$MPIEXEC" -n 2 "$PM" -c 'import race; print("race", race.R)' >"$TMP/r1" 2>"$TMP/e1" &
    p1=$!
    PYTHON_MPI_ENV=$PYHOME:$R timeout 120 "$MPIEXEC" -n 2 "$PM" -c 'import race; print("race", race.R)' >"$TMP/r2" 2>"$TMP/e2"
    rc2=$?
    wait "$p1"; rc1=$?
    tmps=$(find "$TMP/cache" -name '.tmp-*' | wc -l)
    if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$(cat "$TMP/r1" "$TMP/r2" | grep -c "^race $i$")" = 4 ] && [ "$tmps" = 0 ]; then
        races=$((races + 1))
    else sed 's/^/#   /' "$TMP/e1" "$TMP/e2" | tail -n 8; fi
done
t_check "two jobs making the same state at once, $n times: both work, no temporary left ($races/$n)" [ "$races" = $n ]

echo "# [${SECONDS}s]"
# --- SIGKILL of rank 0 while making --------------------------------------
K=$TMP/cache-kill
PYTHON_MPI_CACHE=$K PYTHON_MPI_ENV=$V timeout 120 "$MPIEXEC" -n 2 "$PM" -c pass >"$TMP/kout" 2>"$TMP/kerr" &
job=$!
pk=
for _ in $(seq 300); do
    pk=$(pgrep -f "^$BIN/pkgroot .*$K/" | head -n 1)
    [ -n "$pk" ] && break
    sleep 0.05
done
if [ -n "$pk" ]; then
    rank0=$(ps -o ppid= -p "$pk" | tr -d ' ')
    kill -KILL "$rank0"
    wait "$job"; krc=$?
    for _ in $(seq 600); do kill -0 "$pk" 2>/dev/null || break; sleep 0.05; done   # the orphan finishes
    states=$(find "$K" -mindepth 2 -maxdepth 2 ! -name '.*' | wc -l)
    if [ "$krc" != 0 ] && [ "$states" = 0 ] &&
       PYTHON_MPI_CACHE=$K PYTHON_MPI_ENV=$V run -c 'import mypkg; print("after", mypkg.X)' &&
       grep -q "runtime .*: making state" "$TMP/err" && [ "$(grep -c '^after 1' "$TMP/out")" = 2 ]; then
        t_ok "rank 0 killed while making: the job fails, no state is left, the next job makes it afresh"
    else t_fail "SIGKILL of rank 0 while making" "rc=$krc states=$states $(show)"; fi
else
    wait "$job"
    t_fail "SIGKILL of rank 0 while making" "no pkgroot seen"
fi

echo "# [${SECONDS}s]"
# --- the stream fails half-way: one line, exit 1, no state, no pkgroot left --
# stream_fails NAME REGEX ENV...: a first job (its own cache) that fails.
stream_fails() {
    local name=$1 re=$2 C=$TMP/cache-$3; shift 3
    env PYTHON_MPI_CACHE="$C" PYTHON_MPI_ENV="$V" PYTHON_MPI_VERBOSE=0 "$@" timeout 60 "$MPIEXEC" -n 2 "$PM" -c 'print("ran")' >"$TMP/out" 2>"$TMP/err"; rc=$?
    local left; left=$(find "$C" -mindepth 2 | wc -l)
    if [ "$rc" != 0 ] && ! grep -q ran "$TMP/out" && [ "$(t_error_lines "$TMP/err")" = 1 ] &&
       grep -qE "^python-mpi: rank 0 on [^:]+: $re" "$TMP/err" && [ "$left" = 0 ] &&
       ! pgrep -f "^$BIN/pkgroot .*$C/" >/dev/null; then
        t_ok "$name: one line, exit $rc, no state or temporary left, no pkgroot running"
    else t_fail "$name" "rc=$rc left=$left $(show)"; fi
}
stream_fails "the bundle being made outgrows PYTHON_MPI_MAX_UNPACKED" \
    ".*00-python.ptar: the bundle being made is [0-9]+ bytes, more than the limit 3145728" limit PYTHON_MPI_MAX_UNPACKED=3M
# pkgroot killed once its bundle is on its way.
K=$TMP/cache-pkkill
PYTHON_MPI_CACHE=$K PYTHON_MPI_ENV=$V PYTHON_MPI_VERBOSE=0 timeout 120 "$MPIEXEC" -n 2 "$PM" -c 'print("ran")' >"$TMP/out" 2>"$TMP/err" &
job=$!
pk=
for _ in $(seq 600); do
    pk=$(pgrep -f "^$BIN/pkgroot .*$K/" | head -n 1)
    [ -n "$pk" ] && [ "$(find "$K" -name '00-python.ptar' -size +100k | wc -l)" = 1 ] && break
    pk=; sleep 0.02
done
if [ -n "$pk" ]; then
    # What pkgroot holds of python-mpi's: its bundle (3), stderr; stdin
    # /dev/null; none of the launcher's PMI socket or pipes.
    pkin=$(readlink "/proc/$pk/fd/0") pksock=$(find "/proc/$pk/fd" -lname 'socket:*' 2>/dev/null | wc -l)
    pkpipes=$(find "/proc/$pk/fd" -lname 'pipe:*' 2>/dev/null | wc -l)
    kill -KILL "$pk"; wait "$job"; krc=$?
    t_check "pkgroot's descriptors: stdin /dev/null, no socket, one pipe (stderr): $pkin, $pksock, $pkpipes" \
        [ "$pkin/$pksock/$pkpipes" = /dev/null/0/1 ]
    left=$(find "$K" -mindepth 2 | wc -l)
    if [ "$krc" != 0 ] && ! grep -q ran "$TMP/out" && [ "$(t_error_lines "$TMP/err")" = 1 ] && [ "$left" = 0 ] &&
       grep -qE "^python-mpi: rank 0 on [^:]+: [^ ]+: PYTHON_MPI_ENV: pkgroot python killed by signal 9" "$TMP/err"; then
        t_ok "pkgroot killed half-way through its stream: one line, exit $krc, no state or temporary left"
    else t_fail "pkgroot killed half-way" "rc=$krc left=$left $(show)"; fi
else
    wait "$job"; t_fail "pkgroot killed half-way" "never saw its bundle pass 100 KiB $(show)"
fi
# meddled K PID: a first job (its own cache K) while PID meddles with its
# stream; then krc (its exit) and left (what is in K).
meddled() {
    PYTHON_MPI_CACHE=$1 PYTHON_MPI_ENV=$V PYTHON_MPI_VERBOSE=0 timeout 60 "$MPIEXEC" -n 2 "$PM" -c 'print("ran")' \
        >"$TMP/out" 2>"$TMP/err"; krc=$?
    wait "$2"
    left=$(find "$1" -mindepth 2 | wc -l)
}
# pkgroot stopped (SIGSTOP, a debugger) and its file truncated meanwhile:
# the stream fails, and the SIGTERM that stops pkgroot must not wait for
# a SIGCONT that never comes.
K=$TMP/cache-stopped
( for _ in $(seq 3000); do
      f=$(find "$K" -path '*/.tmp-*/00-python.ptar' -size +6M 2>/dev/null | head -n 1)
      if [ -n "$f" ]; then
          pk=$(pgrep -f "^$BIN/pkgroot .*$K/" | head -n 1)
          [ -n "$pk" ] && kill -STOP "$pk" && : > "$f" && echo stopped
          exit 0
      fi
      sleep 0.002
  done ) >"$TMP/stopper" 2>&1 &
meddled "$K" $!
if ! grep -q stopped "$TMP/stopper"; then
    t_fail "pkgroot stopped, its stream truncated" "never saw the bundle pass 6 MiB $(show)"
elif [ "$krc" != 0 ] && [ "$krc" != 124 ] && [ "$(t_error_lines "$TMP/err")" = 1 ] && [ "$left" = 0 ] &&
     grep -qE "^python-mpi: rank 0 on [^:]+: [^ ]+00-python.ptar: the bundle being made shrank" "$TMP/err" &&
     ! pgrep -f "^$BIN/pkgroot .*$K/" >/dev/null; then
    t_ok "pkgroot stopped, its stream truncated: one line, exit $krc (no hang), nothing left, no pkgroot"
else t_fail "pkgroot stopped, its stream truncated" "rc=$krc left=$left $(show)"; fi
# Bytes already sent rewritten in place (the same user) while pkgroot still
# writes, or a copy renamed over the file (pkgroot writes on into the old
# one): the nodes verified the bytes read, and the state must not be cached
# from a file that no longer holds them.
# rewritten HOW NAME: HOW is "inplace" or "renamed".
rewritten() {
    local K=$TMP/cache-$1 krc left
    "$PYTHON" -c '
import glob, os, shutil, sys, time
end = time.time() + 60
while time.time() < end:
    for p in glob.glob(sys.argv[1] + "/*/.tmp-*/00-python.ptar"):
        try:
            if os.stat(p).st_size >= 6 << 20:
                if sys.argv[2] == "inplace":
                    fd = os.open(p, os.O_RDWR)
                    os.pwrite(fd, bytes(b ^ 0xff for b in os.pread(fd, 16, 4096)), 4096)
                else:
                    shutil.copyfile(p, p + ".new")
                    os.rename(p + ".new", p)
                print("rewrote", os.stat(p).st_size)
                sys.exit(0)
        except FileNotFoundError:
            pass
    time.sleep(0.001)
' "$K" "$1" >"$TMP/rewriter" 2>&1 &
    meddled "$K" $!
    if ! grep -q rewrote "$TMP/rewriter"; then
        t_fail "$2" "the rewriter never saw the bundle pass 6 MiB $(show)"
    elif [ "$krc" != 0 ] && ! grep -q ran "$TMP/out" && [ "$(t_error_lines "$TMP/err")" = 1 ] && [ "$left" = 0 ] &&
         grep -qE "^python-mpi: rank 0 on [^:]+: [^ ]+00-python.ptar: bundle rewritten while being sent" "$TMP/err"; then
        t_ok "$2: one line, exit $krc, no state cached from the file"
    else t_fail "$2" "rc=$krc left=$left $(show)"; fi
}
rewritten inplace "a stream's sent bytes rewritten in place"
rewritten renamed "a copy of a stream renamed over it while pkgroot writes on"

echo "# [${SECONDS}s]"
# --- bad input: one line, prompt non-zero exit, nothing written ----------
bad() {   # NAME REGEX ENV-ASSIGNMENTS...
    local name=$1 re=$2; shift 2
    local before t0 t1 rc
    before=$(find "$TMP/cache" | sort | md5sum)
    t0=$(date +%s)
    env "$@" timeout 60 "$MPIEXEC" -n 2 "$PM" -c 'print("ran")' >"$TMP/out" 2>"$TMP/err"; rc=$?
    t1=$(date +%s)
    if [ "$rc" != 0 ] && [ "$((t1 - t0))" -lt 20 ] && [ "$(t_error_lines "$TMP/err")" = 1 ] &&
       grep -qE "^python-mpi: rank 0 on [^:]+: $re" "$TMP/err" && ! grep -q ran "$TMP/out" &&
       [ "$(find "$TMP/cache" | sort | md5sum)" = "$before" ]; then
        t_ok "$name: one line, exit $rc, nothing written"
    else t_fail "$name" "rc=$rc $(show)"; fi
}
mkdir -p "$TMP/plain" "$TMP/v39/lib/python3.9/site-packages"; touch "$TMP/v39/pyvenv.cfg"
other=$(t_other_python | cut -d' ' -f1)
mkdir -p "$TMP/vo/lib/python$other/site-packages"; touch "$TMP/vo/pyvenv.cfg"
bad "DIR missing" "$TMP/nope: PYTHON_MPI_ENV: No such file" PYTHON_MPI_ENV="$TMP/nope"
bad "not a Python environment" "$TMP/plain: PYTHON_MPI_ENV: not a Python environment" PYTHON_MPI_ENV="$TMP/plain"
bad "a venv of another Python" "$TMP/vo: PYTHON_MPI_ENV: an environment of Python $other" PYTHON_MPI_ENV="$TMP/vo"
bad "a source directory missing" "$TMP/nosrc: PYTHON_MPI_ENV: the source directory" PYTHON_MPI_ENV="$V:$TMP/nosrc"
mkdir -p "$TMP/open"; chmod 0755 "$TMP/open"
bad "a cache directory others can read" "$TMP/open: PYTHON_MPI_CACHE: refusing .*not private" \
    PYTHON_MPI_ENV="$V" PYTHON_MPI_CACHE="$TMP/open"

bad "bad PYTHON_MPI_CACHE_STATES" "PYTHON_MPI_CACHE_STATES: '0' is not a number" PYTHON_MPI_ENV="$V" PYTHON_MPI_CACHE_STATES=0
bad "HOME unset, no PYTHON_MPI_CACHE" "PYTHON_MPI_ENV: no cache directory: set PYTHON_MPI_CACHE" \
    -u HOME -u PYTHON_MPI_CACHE PYTHON_MPI_ENV="$V"
# pkgroot fails: its own line, then ours; the temporary state is gone.
mkdir -p "$TMP/nosp/lib/python$T_PYVER"; touch "$TMP/nosp/pyvenv.cfg"
bad "pkgroot fails while making (a venv without site-packages)" "$TMP/nosp: PYTHON_MPI_ENV: pkgroot venv failed \(exit 1\)" \
    PYTHON_MPI_ENV="$TMP/nosp" PYTHON_MPI_VERBOSE=0
t_check "... and left no temporary state" [ "$(find "$TMP/cache" -name '.tmp-*' | wc -l)" = 0 ]
# A python-mpi without its pkgroot beside it.
mkdir -p "$TMP/lone" && cp "$PM" "$TMP/lone/python-mpi"
PM_SAVED=$PM PM=$TMP/lone/python-mpi
bad "no pkgroot beside python-mpi" "$TMP/lone/pkgroot: PYTHON_MPI_ENV: cannot make the bundles: no pkgroot beside python-mpi" \
    PYTHON_MPI_ENV="$V"
PM=$PM_SAVED
bad "bad PYTHON_MPI_ENV_CHECK" "PYTHON_MPI_ENV_CHECK: 'some' is not all or dirs" PYTHON_MPI_ENV="$V" PYTHON_MPI_ENV_CHECK=some
bad "bad PYTHON_MPI_CACHE_MAX" "PYTHON_MPI_CACHE_MAX: 'lots' is not a size" PYTHON_MPI_ENV="$V" PYTHON_MPI_CACHE_MAX=lots

# A second user plants a cache where ours is to be (a shared /tmp).
ATT=pmenva$$
if [ "$(id -u)" = 0 ] && useradd -M -s /bin/sh "$ATT" 2>/dev/null; then
    P=/tmp/pmenv-plant-$$ L=/tmp/pmenv-link-$$
    runuser -u "$ATT" -- sh -c "mkdir -m 0700 $P && cp -r '$TMP/cache/.' $P/ 2>/dev/null; chmod -R go-rwx $P; ln -s $P $L"
    bad "a cache planted by another user (uid $(id -u "$ATT"))" "$P: PYTHON_MPI_CACHE: refusing .*owned by uid" \
        PYTHON_MPI_ENV="$V" PYTHON_MPI_CACHE="$P"
    bad "a link to it planted by another user" "$L/x: PYTHON_MPI_CACHE: refusing" PYTHON_MPI_ENV="$V" PYTHON_MPI_CACHE="$L/x"
    rm -rf "$P" "$L"
else
    ATT=
    t_skip "a cache planted by another user" "needs root and useradd"
    t_skip "a link to it planted by another user" "needs root and useradd"
fi

echo "# [${SECONDS}s]"
# --- 2 simulated nodes ----------------------------------------------------
if [ "$(id -u)" = 0 ] && [ "$MPIEXEC" = mpiexec.mpich ]; then
    echo 'import os, socket, mypkg; print("node", socket.gethostname(), mypkg.__file__.startswith("/dev/shm/"), os.stat(mypkg.__file__).st_dev == os.stat("/dev/shm").st_dev)' > "$TMP/node.py"
    SIM=$REPO/tests/cluster
    mkdir -p "$TMP/trace"
    # A first job: the stream reaches both nodes.
    if PYTHON_MPI_CHROOT=/dev/shm PYTHON_MPI_CACHE=$TMP/cache-2n PYTHON_MPI_ENV=$V timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 2 \
           "$PM" "$TMP/node.py" >"$TMP/out" 2>"$TMP/err" && [ "$(grep -c '^node node[12] True True' "$TMP/out")" = 4 ] &&
       [ "$(grep '^node' "$TMP/out" | cut -d' ' -f2 | sort -u | wc -l)" = 2 ] &&
       grep -q "making .*00-python.ptar .*sent as it is written" "$TMP/err" && [ "$(find "$TMP/cache-2n" -name bundles | wc -l)" = 2 ]; then
        t_ok "2 simulated nodes, 2 ranks each: a first job's streams unpacked on each node, then cached"
    else t_fail "2 simulated nodes, first job" "$(show)"; fi
    # node2's /dev/shm holds 16 MB (MPI takes 4): its leader fails half-way through the
    # first job's stream, and the stream (and its pkgroot) stops there for
    # every node, long before the bundle is made.
    full=$(find "$TMP/cache-2n" -name 00-python.ptar -printf '%s\n' | head -n 1)
    SHMS=$TMP/shms
    if mkdir -p "$SHMS" && mount -t tmpfs -o size=256m pm-shms "$SHMS" && mkdir "$SHMS/node2" &&
       mount -t tmpfs -o size=16m pm-shm-node2 "$SHMS/node2"; then
        t0=$SECONDS
        CLUSTER_SHM_DIR=$SHMS PYTHON_MPI_CHROOT=/dev/shm PYTHON_MPI_CACHE=$TMP/cache-2f PYTHON_MPI_ENV=$V \
            timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 1 "$PM" -c 'print("ran")' >"$TMP/out" 2>"$TMP/err"; rc=$?
        sent=$(sed -n 's/.*00-python.ptar: the stream stops after \([0-9]*\) bytes: a node could not unpack it$/\1/p' "$TMP/err")
        left=$(find "$TMP/cache-2f" -mindepth 2 | wc -l)
        if [ "$rc" != 0 ] && ! grep -q ran "$TMP/out" && grep -q "^python-mpi: rank 1 on node2: " "$TMP/err" &&
           [ -n "$sent" ] && [ -n "$full" ] && [ "$sent" -lt "$full" ] && [ "$left" = 0 ] &&
           ! pgrep -f "^$BIN/pkgroot .*$TMP/cache-2f/" >/dev/null; then
            t_ok "a node that cannot unpack stops the stream for all: $sent of $full bytes sent, exit $rc, no state, no pkgroot ($((SECONDS - t0)) s)"
        else t_fail "a node failing half-way through a stream" "rc=$rc sent=$sent full=$full left=$left $(show)"; fi
        umount "$SHMS/node2" "$SHMS"; SHMS=
    else t_fail "a node failing half-way through a stream" "cannot mount the tmpfs for it"; fi
    if PYTHON_MPI_CHROOT=/dev/shm PYTHON_MPI_ENV=$V timeout 120 "$SIM/mpirun-sim" -nodes 2 -ppn 1 "$SIM/strace-rank" "$TMP/trace" \
           "$PM" "$TMP/node.py" >"$TMP/out" 2>"$TMP/err" && [ "$(grep -c '^node node[12] True True' "$TMP/out")" = 2 ] &&
       [ "$(grep '^node' "$TMP/out" | cut -d' ' -f2 | sort -u | wc -l)" = 2 ] && grep -q "cached state" "$TMP/err"; then
        t_ok "2 simulated nodes: the cached environment in each node's own /dev/shm"
    else t_fail "2 simulated nodes" "$(show)"; fi
    # Rank 0 alone looks at the environment, its editable and source
    # directories, the cache and the system Python.
    "$SIM/count-file-ops" "$TMP/trace" "$V/" "$EXT/" "$SRC/" "$TMP/cache/" "$T_PYPREFIX/lib/python3" > "$TMP/counts"
    r0=$(sed -n 's/^rank 0: //p' "$TMP/counts") r1=$(sed -n 's/^rank 1: //p' "$TMP/counts")
    if [ "${r0:-0}" -gt 1000 ] && [ "$r1" = 0 ]; then
        t_ok "rank 0 alone touches the environment and the cache ($r0 file calls); rank 1: 0"
    else t_fail "file calls under the environment per rank" "$(cat "$TMP/counts")"; fi
else
    t_skip "2 simulated nodes" "needs root and MPICH (tests/cluster)"
    t_skip "2 simulated nodes, first job" "needs root and MPICH (tests/cluster)"
    t_skip "a node failing half-way through a stream" "needs root and MPICH (tests/cluster)"
    t_skip "rank 0 alone touches the environment" "needs root and MPICH (tests/cluster)"
fi

# Open MPI: make check runs this whole suite in its Open MPI cell too
# (suites.list: all), with that cell's build.

t_done $SUITE
