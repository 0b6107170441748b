#!/bin/bash
# test_makers.sh - `pkgroot pip` and `pkgroot venv`: real wheels, an sdist,
# a requirements file with --find-links, a project directory and a venv,
# all offline; what is left out by default and kept by the options;
# scripts' shebangs; every bundle imported by python-mpi under mpiexec from
# /dev/shm; failures that leave one line, exit 1, no OUT and no temporary
# directory (pip's error, a build that fails, SIGTERM mid-build).
# Uses $PKGROOT (default $BUILD/bin/pkgroot) and $BUILD/bin/python-mpi;
# needs python3-pip, python3-setuptools, python3-wheel, python3-venv, zstd.
# The test packages are pure Python: built by the Python under test if it
# has setuptools and wheel, else by Debian's (a py3-none-any wheel installs
# anywhere); what pip must build from source itself is a counted skip for a
# Python without setuptools (pyenv's 3.12 and later).
set -u
. "$(dirname "$0")/../lib.sh"
PK=${PKGROOT:-$BIN/pkgroot}
case $PK in /*) ;; *) PK=$REPO/$PK ;; esac
PY=$PYTHON   # the Python python-mpi embeds, never PATH's python3
if "$PY" -c 'import setuptools, wheel' 2>/dev/null; then BUILDPY=$PY HAS_SETUPTOOLS=1
else BUILDPY=/usr/bin/python3 HAS_SETUPTOOLS=; fi
# needs_setuptools NAME: 0 if pip can build from source here, else a skip.
needs_setuptools() {
    [ -n "$HAS_SETUPTOOLS" ] && return 0
    t_skip "$1" "$PY has no setuptools/wheel: pip cannot build from source offline"; return 1
}
TMP=$(mktemp -d /tmp/pympi-mk.XXXXXX)
SHM=$(mktemp -d /dev/shm/pympi-mk.XXXXXX)
trap 'rm -rf "$TMP" "$SHM"' EXIT
PKTMP=$TMP/pktmp      # pkgroot's TMPDIR: must be empty after every run
mkdir -p "$PKTMP" "$TMP/src" "$TMP/wheels" "$TMP/sdists" "$TMP/out"
pk() { TMPDIR=$PKTMP "$PK" "$@"; }

# --- projects: mypkg (console script, tests/ and docs/ inside, needs depa),
# depa, and other (an sdist with a top-level package called "tests") -------
mkdir -p "$TMP/src/mypkg/mypkg/tests" "$TMP/src/mypkg/mypkg/docs" "$TMP/src/depa/depa" \
         "$TMP/src/other/other/tests" "$TMP/src/other/tests"
cat > "$TMP/src/mypkg/setup.py" <<'PY'
from setuptools import setup
setup(name="mypkg", version="1.0", packages=["mypkg", "mypkg.tests"], install_requires=["depa"],
      package_data={"mypkg": ["docs/*.txt"]},
      entry_points={"console_scripts": ["mypkg-hello = mypkg:main"]})
PY
printf 'import depa\ndef main():\n    print("hello from mypkg", depa.VALUE)\n' > "$TMP/src/mypkg/mypkg/__init__.py"
echo 'def test_x(): pass' > "$TMP/src/mypkg/mypkg/tests/__init__.py"
echo 'documentation' > "$TMP/src/mypkg/mypkg/docs/index.txt"
printf 'from setuptools import setup\nsetup(name="depa", version="2.0", packages=["depa"])\n' > "$TMP/src/depa/setup.py"
echo 'VALUE = 42' > "$TMP/src/depa/depa/__init__.py"
printf 'from setuptools import setup\nsetup(name="other", version="1.0", packages=["other", "other.tests", "tests"])\n' > "$TMP/src/other/setup.py"
echo 'NAME = "other"' > "$TMP/src/other/other/__init__.py"
touch "$TMP/src/other/other/tests/__init__.py" "$TMP/src/other/tests/__init__.py"

if "$BUILDPY" -m pip wheel -q --no-index --no-build-isolation --no-deps -w "$TMP/wheels" \
       "$TMP/src/mypkg" "$TMP/src/depa" >"$TMP/build.log" 2>&1 &&
   (cd "$TMP/src/other" && "$BUILDPY" setup.py -q sdist -d "$TMP/sdists") >>"$TMP/build.log" 2>&1 &&
   WHEEL=$(ls "$TMP"/wheels/mypkg-1.0-*.whl) && SDIST=$(ls "$TMP"/sdists/other-1.0.tar.gz); then
    t_ok "built two wheels and an sdist offline"
else t_fail "building the test packages" "$(tail -5 "$TMP/build.log")"; t_done makers; exit 1; fi
rm -rf "$TMP"/src/*/build "$TMP"/src/*/*.egg-info

# has BUNDLE REGEX: a path in the bundle's listing matches.
has() { "$PK" ls "$1" | awk '{print $4}' | grep -Eq "$2"; }
# clean BUNDLE: no trace of pkgroot's temporary directory anywhere in it.
clean() { ! tar -xOf "$1" | grep -aq "$PKTMP" && ! tar -tf "$1" | grep -q pkgroot-pip; }

# --- pip: a wheel, its dependency from --find-links ------------------------
B=$TMP/out/mypkg.tar.zst
if pk pip "$B" "$WHEEL" --find-links "$TMP/wheels" >"$TMP/o" 2>"$TMP/e"; then
    t_ok "pkgroot pip OUT WHEEL --find-links DIR"
else t_fail "pkgroot pip WHEEL" "$(cat "$TMP/e")"; fi
for want in '^lib/python3/dist-packages/mypkg/__init__.py$' '^lib/python3/dist-packages/depa/__init__.py$' \
            '^lib/python3/dist-packages/mypkg-1.0.dist-info/' '^bin/mypkg-hello$'; do
    has "$B" "$want" && t_ok "pip bundle has $want" || t_fail "pip bundle lacks $want" "$("$PK" ls "$B")"
done
has "$B" "^lib/python3/dist-packages/mypkg/__pycache__/__init__\.$T_PYTAG\.pyc$" &&
    t_ok "pip bundle has its own bytecode (pkgroot's, not pip's)" || t_fail "pip bundle lacks mypkg's pyc"
for unwanted in '^lib/python3/dist-packages/mypkg/tests/' '^lib/python3/dist-packages/mypkg/docs/' \
                '^local/' "^lib/python$T_PYVER/"; do
    has "$B" "$unwanted" && t_fail "pip bundle has $unwanted" || t_ok "pip bundle leaves out $unwanted"
done
[ "$(tar -xOf "$B" bin/mypkg-hello | head -n 1)" = '#!/usr/bin/env python3' ] &&
    t_ok "the script's shebang is #!/usr/bin/env python3" || t_fail "shebang" "$(tar -xOf "$B" bin/mypkg-hello | head -n 1)"
clean "$B" && t_ok "the temporary prefix appears nowhere in the bundle" || t_fail "temporary prefix in the bundle"
t_empty_dir "$PKTMP" && t_ok "the temporary directory is removed after success" || t_fail "leftovers" "$(ls -A "$PKTMP")"
mkdir -p "$TMP/x" && tar -C "$TMP/x" -xf "$B" &&
    out=$(env -i PATH=/usr/bin:/bin PYTHONPATH="$TMP/x/lib/python3/dist-packages" "$TMP/x/bin/mypkg-hello" 2>&1) &&
    [ "$out" = "hello from mypkg 42" ] && t_ok "the unpacked script runs (env python3, the bundle's packages)" ||
    t_fail "unpacked script" "${out:-}"

# --- the options keep what is left out by default; -v says what was -------
B2=$TMP/out/keep.tar
if pk pip "$B2" "$WHEEL" -f "$TMP/wheels" --keep-caches --keep-tests --keep-docs >/dev/null 2>"$TMP/e" &&
   has "$B2" '^lib/python3/dist-packages/mypkg/tests/__init__.py$' && has "$B2" '^lib/python3/dist-packages/mypkg/docs/index.txt$' &&
   clean "$B2"; then
    t_ok "--keep-tests --keep-docs keep them (pip compiles nothing: its .pyc would name the temporary prefix)"
else t_fail "--keep-*" "$(cat "$TMP/e")"; fi
out=$(pk -v pip "$TMP/out/v.tar" "$WHEEL" -f "$TMP/wheels" 2>&1)
printf '%s\n' "$out" | grep -Eq '^left out [0-9]+ files, [0-9]+ bytes: .*tests 1 \(--keep-tests\), docs 1 \(--keep-docs\)' &&
    [ "$(printf '%s\n' "$out" | grep -c '^left out')" = 1 ] && t_ok "-v: one line saying what was left out" || t_fail "-v summary" "$out"

# --- pip: a requirements file, an sdist, a project directory ---------------
printf 'mypkg==1.0\n' > "$TMP/req.txt"
pk pip "$TMP/out/req.tar.gz" -r "$TMP/req.txt" --find-links "$TMP/wheels" >/dev/null 2>"$TMP/e" &&
    has "$TMP/out/req.tar.gz" '^lib/python3/dist-packages/depa/__init__.py$' && has "$TMP/out/req.tar.gz" '^bin/mypkg-hello$' &&
    t_ok "pkgroot pip -r REQFILE --find-links DIR (resolves the dependency offline)" || t_fail "-r" "$(cat "$TMP/e")"
S=$TMP/out/other.tar.zst
if ! needs_setuptools "pkgroot pip SDIST"; then :
elif pk pip "$S" "$SDIST" >/dev/null 2>"$TMP/e" && has "$S" '^lib/python3/dist-packages/other/__init__.py$' &&
   has "$S" '^lib/python3/dist-packages/tests/__init__.py$' && ! has "$S" '^lib/python3/dist-packages/other/tests' && clean "$S"; then
    t_ok "pkgroot pip SDIST: built offline; a top-level package named tests is kept, other/tests left out"
else t_fail "sdist" "$(cat "$TMP/e"; "$PK" ls "$S")"; fi
needs_setuptools "pkgroot pip DIR" &&
{ pk pip "$TMP/out/dir.tar" "$TMP/src/depa" >/dev/null 2>"$TMP/e" && has "$TMP/out/dir.tar" '^lib/python3/dist-packages/depa/__init__.py$' &&
    t_ok "pkgroot pip DIR (a project directory)" || t_fail "pip DIR" "$(cat "$TMP/e")"; }
t_empty_dir "$PKTMP" && t_ok "no temporary directory left by any pip run" || t_fail "leftovers" "$(ls -A "$PKTMP")"

# --- venv -------------------------------------------------------------------
V=$TMP/venv
if $PY -m venv "$V" >"$TMP/e" 2>&1 && "$V/bin/python" -m pip install -q --no-index --find-links "$TMP/wheels" mypkg >>"$TMP/e" 2>&1; then
    t_ok "a venv made with $PY -m venv, mypkg installed into it"
else t_fail "making the venv" "$(cat "$TMP/e")"; fi
VB=$TMP/out/venv.tar.zst
if pk venv "$VB" "$V" >/dev/null 2>"$TMP/e"; then t_ok "pkgroot venv OUT VENVDIR"; else t_fail "pkgroot venv" "$(cat "$TMP/e")"; fi
for want in '^lib/python3/dist-packages/mypkg/__init__.py$' '^lib/python3/dist-packages/depa/__init__.py$' '^bin/mypkg-hello$'; do
    has "$VB" "$want" && t_ok "venv bundle has $want" || t_fail "venv bundle lacks $want"
done
for unwanted in '^lib/python3/dist-packages/(pip|setuptools|_distutils_hack|pkg_resources)/' 'dist-packages/(pip|setuptools)-.*dist-info' \
                'distutils-precedence.pth' '^bin/(python|pip|activate|Activate)' 'mypkg/tests' '\.opt-[12]\.pyc$'; do
    has "$VB" "$unwanted" && t_fail "venv bundle has $unwanted" || t_ok "venv bundle leaves out $unwanted"
done
[ "$(tar -xOf "$VB" bin/mypkg-hello | head -n 1)" = '#!/usr/bin/env python3' ] && ! tar -xOf "$VB" | grep -aq "$V/bin/python" &&
    t_ok "venv script: shebang rewritten, the venv's interpreter path gone" || t_fail "venv shebang"
pk venv "$TMP/out/venvk.tar" "$V" --keep-installers --keep-caches >/dev/null 2>&1 &&
    has "$TMP/out/venvk.tar" '^lib/python3/dist-packages/pip/__init__.py$' && ! has "$TMP/out/venvk.tar" '^bin/pip' &&
    has "$TMP/out/venvk.tar" "^lib/python3/dist-packages/mypkg/__pycache__/__init__\.$T_PYTAG\.pyc$" &&
    t_ok "--keep-installers keeps pip (never the venv's bin/pip), --keep-caches __pycache__" || t_fail "--keep-installers --keep-caches"

# --- every bundle works in python-mpi, imported from the node-local tree ----
RUNTIME=$(t_runtime_bundle) || t_fail "pkgroot python makes the runtime bundle"
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
export PYTHON_MPI_CHROOT=$SHM
for b in "$B" "$TMP/out/req.tar.gz" "$VB"; do
    out=$(PYTHON_MPI_PACKAGES="$RUNTIME:$b" timeout 60 "$MPIEXEC" -n 2 "$BIN/python-mpi" \
          -c 'import mypkg, depa; print(mypkg.__file__); print(depa.__file__)' 2>"$TMP/e")
    if [ "$(printf '%s\n' "$out" | grep -c "^$SHM/python-mpi-[0-9]*/.*/lib/python3/dist-packages/mypkg/__init__.py$")" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c "^$SHM/.*/lib/python3/dist-packages/depa/__init__.py$")" = 2 ]; then
        t_ok "$MPIEXEC -n 2 python-mpi imports mypkg and depa from /dev/shm ($(basename "$b"))"
    else t_fail "python-mpi with $(basename "$b")" "$out$(cat "$TMP/e")"; fi
done
unset PYTHON_MPI_CHROOT

# --- failures: one line, exit 1, no OUT, no temporary directory -------------
fails() {
    local name=$1 re=$2 out=$3; shift 3
    local rc=0; "$@" >"$TMP/o" 2>"$TMP/e" || rc=$?
    if [ $rc = 1 ] && [ "$(grep -c . "$TMP/e")" = 1 ] && grep -Eq "$re" "$TMP/e" &&
       [ -z "$(ls "$out"* 2>/dev/null)" ] && t_empty_dir "$PKTMP"; then
        t_ok "$name: one line, exit 1, no OUT, no temporary directory"
    else t_fail "$name (rc=$rc)" "$(cat "$TMP/e"; ls "$out"* 2>/dev/null; ls -A "$PKTMP")"; fi
}
fails "pip cannot find a package" "pip exited with status 1: ERROR: Could not find a version that satisfies the requirement no-such-pkg" \
    "$TMP/out/f1.tar.zst" pk pip "$TMP/out/f1.tar.zst" no-such-pkg --find-links "$TMP/wheels"
fails "a wheel's dependency missing offline" "pip exited with status 1: ERROR: .*depa" \
    "$TMP/out/f2.tar.zst" pk pip "$TMP/out/f2.tar.zst" "$WHEEL"
mkdir -p "$TMP/src/broken" && printf 'raise SystemExit("this package does not build")\n' > "$TMP/src/broken/setup.py"
needs_setuptools "a project that does not build" &&
fails "a project that does not build" "pip exited with status 1: .*did not run successfully.* this package does not build" \
    "$TMP/out/f3.tar" pk pip "$TMP/out/f3.tar" "$TMP/src/broken"
fails "a missing requirements file" "pip exited with status 1: ERROR: Could not open requirements file" \
    "$TMP/out/f4.tar" pk pip "$TMP/out/f4.tar" -r "$TMP/nonexistent.txt"
fails "unknown suffix" "f5.zip: unknown bundle suffix" "$TMP/out/f5.zip" pk pip "$TMP/out/f5.zip" "$WHEEL"
fails "OUT cannot be created (said before pip runs)" "$TMP/nowhere/f.tar: cannot create: No such file" \
    "$TMP/nowhere/f.tar" pk pip "$TMP/nowhere/f.tar" "$TMP/src/slow-never-built"
mkdir -p "$TMP/notvenv"
fails "venv: no pyvenv.cfg" "$TMP/notvenv: not a virtual environment \(no pyvenv.cfg\)" "$TMP/out/f6.tar" pk venv "$TMP/out/f6.tar" "$TMP/notvenv"
cp -a "$V" "$TMP/venv310" && sed -i "s/^version = .*/version = $T_OTHER_VER.12/" "$TMP/venv310/pyvenv.cfg"
fails "venv of another Python version" "a venv of Python $T_OTHER_VER \(pyvenv.cfg\), but python-mpi embeds Python $T_PYVER" \
    "$TMP/out/f7.tar" pk venv "$TMP/out/f7.tar" "$TMP/venv310"
rc=0; pk pip "$TMP/out/f8.tar" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] && [ ! -e "$TMP/out/f8.tar" ] && t_ok "pip with nothing to install is a usage error (2)" || t_fail "usage ($rc)"
rc=0; pk venv "$TMP/out/f9.tar" "$V" --no-such-option >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] && t_ok "an unknown option is a usage error (2)" || t_fail "unknown option ($rc)"

# --- SIGTERM while pip builds: pip and its build stopped, all removed -------
needs_setuptools "SIGTERM mid-build" || { t_done makers; exit; }
mkdir -p "$TMP/src/slow"
cat > "$TMP/src/slow/setup.py" <<PY
import os, time
open("$TMP/slow.pid", "w").write(str(os.getpid()))
time.sleep(60)
PY
TMPDIR=$PKTMP "$PK" pip "$TMP/out/slow.tar.zst" "$TMP/src/slow" >/dev/null 2>&1 & pid=$!
for _ in $(seq 200); do [ -s "$TMP/slow.pid" ] && break; sleep 0.1; done
seen=$(ls -A "$PKTMP")
# Gone, or a zombie (an orphan waits for PID 1 to reap it; some never do).
stopped() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -z "$st" ] || [ "${st#Z}" != "$st" ]; }
t0=$SECONDS
kill -TERM $pid 2>/dev/null; rc=0; wait $pid 2>/dev/null || rc=$?
took=$((SECONDS - t0)); sleep 0.2
if [ -n "$seen" ] && [ $rc = 143 ] && [ $took -lt 10 ] && t_empty_dir "$PKTMP" &&
   [ -z "$(ls "$TMP"/out/slow* 2>/dev/null)" ] && stopped "$(cat "$TMP/slow.pid")"; then
    t_ok "SIGTERM mid-build: exit 143 at once, pip and its build stopped, no temporary directory, no OUT"
else t_fail "SIGTERM mid-build (rc=$rc, ${took}s, seen '$seen')" "$(ls -A "$PKTMP" "$TMP/out" | grep slow)"; fi
t_done makers
