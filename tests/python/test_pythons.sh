#!/bin/bash
# test_pythons.sh - python-mpi built against each CPython the machine offers
# (pyenv's, found by tests/find-python.sh), side by side in its own build
# directory: each embeds its own Python (headers, libpython through an
# rpath, sys.base_prefix as home) and runs a job delivered from its own
# `pkgroot python`.  Pythons that cannot be embedded are refused by make in
# one line (too old, no libpython at all, only a static one, no static one
# for STATIC_PYTHON=1, no such program), and a static-only Python's non-PIC
# archive links (a non-PIE python-mpi).  A runtime bundle of another real
# Python is refused by python-mpi and by pkgroot verify, in one line.  Two
# Pythons in one build directory: the second rebuilds everything.
# CHECK_PYTHONS (default 3.12 3.13) must be there; each that is not is a
# counted skip.  Uses MPI (default mpich) and $MPIEXEC.
#   MPI=mpich bash tests/python/test_pythons.sh
set -u
. "$(dirname "$0")/../lib.sh"
MPI=${MPI:-mpich}
TMP=$(mktemp -d /tmp/pympi-pys.XXXXXX)
SHM=$(t_shm_scratch pympi-pys-shm)   # PYTHON_MPI_CHROOT
trap 'rm -rf "$TMP" "$SHM"' EXIT
FIND=$REPO/tests/find-python.sh
# Build dirs as the Makefile names them (MPICH: build-pyX.Y, Open MPI:
# build-openmpi-pyX.Y), so `make check`'s builds are reused.
[ "$MPI" = openmpi ] && SUFFIX=-openmpi || SUFFIX=
# The runner exports its cell's BUILD: each Python's build must take the
# directory the Makefile names for it, not the cell's.
mk() { env -u BUILD -u PKGROOT make -s -C "$REPO" -j2 MPI="$MPI" "$@"; }

# --- the Pythons make check needs ----------------------------------------------
for v in ${CHECK_PYTHONS:-3.12 3.13}; do
    if p=$(sh "$FIND" "$v"); then t_ok "CPython $v found: $p"
    else t_skip "CPython $v (make check-python and its suites)" "no CPython $v under pyenv's root"; fi
done

# --- every CPython 3.8 and newer: built, side by side, a delivered job -------
printf 'import sys\nWHO = "hello from %%d.%%d" %% sys.version_info[:2]\n' > "$TMP/hello.py"
mkdir -p "$TMP/code/hello" && mv "$TMP/hello.py" "$TMP/code/hello/__init__.py"
found=$(sh "$FIND" --all)
new=$(printf '%s\n' "$found" | awk '{split($1, v, "."); if (v[1] > 3 || (v[1] == 3 && v[2] >= 8)) print}')
[ -n "$new" ] || t_skip "every CPython 3.8 and newer" "none under pyenv's root"
# (fd 3: mpiexec reads its standard input)
while read -r xy py <&3; do
    [ -n "$xy" ] || continue
    b=$REPO/build$SUFFIX-py$xy
    read -r full prefix libdir <<< "$("$py" -I -c 'import platform, sys, sysconfig
print(platform.python_version(), sys.base_prefix, sysconfig.get_config_var("LIBDIR"))')"
    if ! mk PYTHON="$py" all >"$TMP/out" 2>&1; then
        t_fail "make PYTHON=$py" "$(tail -5 "$TMP/out")"; continue
    fi
    pm=$b/bin/python-mpi
    if [ "$("$pm" --version | sed -n 2p)" = "Python $full (default home $prefix)" ] &&
       ldd "$pm" | grep -q "libpython$xy\.so.* => $libdir/" &&
       readelf -d "$pm" | grep -E 'R(UN)?PATH' | grep -qF "[$libdir]"; then
        t_ok "$xy: build$SUFFIX-py$xy/ embeds Python $full (home $prefix, libpython from $libdir by its rpath)"
    else t_fail "$xy: what build$SUFFIX-py$xy embeds" "$("$pm" --version; ldd "$pm" | grep python; readelf -d "$pm" | grep PATH)"; fi
    rt=$TMP/rt$xy.tar.zst code=$TMP/code$xy.tar.gz
    if "$b/bin/pkgroot" python "$rt" >"$TMP/out" 2>&1 && "$b/bin/pkgroot" dir "$code" "$TMP/code" >>"$TMP/out" 2>&1 &&
       PYTHON_MPI_CHROOT=$SHM PYTHON_MPI_PACKAGES="$rt:$code" timeout 60 "$MPIEXEC" -n 2 "$pm" </dev/null -c '
import os, sys, hello
assert sys.prefix.startswith(os.environ["PYTHON_MPI_CHROOT"]) and hello.__file__.startswith(sys.prefix), sys.path
assert os.__file__ == os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "os.py"), os.__file__
print(hello.WHO, sys.version.split()[0])' >"$TMP/out" 2>&1 &&
       [ "$(grep -c "^hello from $xy $full$" "$TMP/out")" = 2 ] && t_empty_dir "$SHM"; then
        t_ok "$xy: 2 ranks run on its own runtime bundle and a code bundle, from the node-local tree"
    else t_fail "$xy: a delivered job" "$(cat "$TMP/out")"; fi
done 3<<< "$new"
# Debian's Python keeps build$SUFFIX/, next to the others.
v0=$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')
if mk all >"$TMP/out" 2>&1 && "$REPO/build$SUFFIX/bin/python-mpi" --version | grep -qxF "Python $v0 (default home /usr)"; then
    t_ok "Debian's Python (the default) still builds in build$SUFFIX/"
else t_fail "the default build" "$(cat "$TMP/out")"; fi

# --- refused at make time, in one line ---------------------------------------
# refused NAME REGEX MAKE-ARGS...: make fails, prints exactly one line (on
# stderr: make's own "*** ... Stop."), matching REGEX; no build directory.
refused() {
    local name=$1 re=$2; shift 2
    rm -rf "$TMP/refused"
    local rc=0; make -s -C "$REPO" BUILD="$TMP/refused" "$@" all >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
    if [ $rc != 0 ] && [ ! -s "$TMP/out" ] && [ "$(grep -c . "$TMP/err")" = 1 ] && grep -Eq "$re" "$TMP/err" &&
       [ ! -e "$TMP/refused" ]; then
        t_ok "$name: make refuses it in one line"
    else t_fail "$name (rc=$rc)" "$(cat "$TMP/out" "$TMP/err"; ls "$TMP/refused" 2>/dev/null)"; fi
}
old=$(printf '%s\n' "$found" | awk '{split($1, v, "."); if (v[1] < 3 || (v[1] == 3 && v[2] < 8)) print}')
[ -n "$old" ] || t_skip "a Python older than 3.8 is refused" "none under pyenv's root"
while read -r xy py <&3; do
    [ -n "$xy" ] || continue
    refused "Python $xy" "\*\*\* python-mpi: PYTHON=$py is Python $xy\.[0-9]+: python-mpi embeds CPython 3\.8 or newer\.  Stop\.$" \
        PYTHON="$py"
done 3<<< "$old"
refused "no such program" "python-mpi: PYTHON=$TMP/nope/python3: no such program" PYTHON="$TMP/nope/python3"
# Pythons built otherwise: Debian's, its sysconfig rewritten (the variables
# a build without --enable-shared has), libraries in directories of ours.
fake() {   # fake NAME LIBPL-ARCHIVE-OR-EMPTY: $TMP/NAME/python3
    local d=$TMP/$1
    mkdir -p "$d/mod" "$d/libpl" "$d/libdir"
    [ -n "$2" ] && ln -s "$2" "$d/libpl/"
    /usr/bin/python3 - "$d" <<'PY'
import sys, sysconfig
d = sys.argv[1]
v = dict(__import__(sysconfig._get_sysconfigdata_name()).build_time_vars)
v.update(Py_ENABLE_SHARED=0, CFLAGSFORSHARED="", LDLIBRARY=v["LIBRARY"], LIBPL=d + "/libpl", LIBDIR=d + "/libdir")
open(d + "/mod/_sysconfigdata_fake.py", "w").write("build_time_vars = %r\n" % v)
PY
    printf '#!/bin/sh\nPYTHONPATH=%s _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata_fake exec /usr/bin/python3 "$@"\n' "$d/mod" > "$d/python3"
    chmod 755 "$d/python3"
}
DEB_A=$(/usr/bin/python3 -c 'import sysconfig as s; print(s.get_config_var("LIBPL") + "/" + s.get_config_var("LIBRARY"))')
fake nolib ""
refused "no libpython at all" "PYTHON=$TMP/nolib/python3 has neither a shared nor a static libpython: it cannot be embedded" \
    PYTHON="$TMP/nolib/python3"
refused "STATIC_PYTHON=1 without a static libpython" "PYTHON=$TMP/nolib/python3 has no static libpython \(no libpython.*\): build without STATIC_PYTHON=1" \
    PYTHON="$TMP/nolib/python3" STATIC_PYTHON=1
if [ -f "$DEB_A" ]; then
    fake staticonly "$DEB_A"
    refused "only a static libpython" "PYTHON=$TMP/staticonly/python3 has no shared libpython \(built without --enable-shared\): make STATIC_PYTHON=1 links its static" \
        PYTHON="$TMP/staticonly/python3"
    # Debian's libpython3.X.a is not position-independent, as a static-only
    # build's is not: python-mpi links it as a non-PIE executable.
    if make -s -C "$REPO" -j2 BUILD="$TMP/bstatic" PYTHON="$TMP/staticonly/python3" STATIC_PYTHON=1 all >"$TMP/out" 2>&1 &&
       file "$TMP/bstatic/bin/python-mpi" | grep -q 'LSB executable' && ! ldd "$TMP/bstatic/bin/python-mpi" | grep -q libpython &&
       out=$(PYTHON_MPI_CHROOT=$SHM timeout 60 "$MPIEXEC" -n 2 "$TMP/bstatic/bin/python-mpi" -c 'import sys, json, _ctypes; print("static", sys.prefix)' 2>&1) &&
       [ "$(printf '%s\n' "$out" | grep -c '^static /usr$')" = 2 ]; then
        t_ok "a static-only Python's non-PIC archive: STATIC_PYTHON=1 links a non-PIE python-mpi that runs"
    else t_fail "static-only Python, STATIC_PYTHON=1" "$(tail -5 "$TMP/out"; printf '%s\n' "${out:-}")"; fi
else t_skip "a static-only Python" "no $DEB_A (libpython3-dev)"; fi

# --- two Pythons in one build directory -----------------------------------------
one=$(printf '%s\n' "$new" | awk 'NR == 1 {print $2}')
if [ -n "$one" ]; then
    v1=$("$one" -c 'import platform; print(platform.python_version())')
    if mk BUILD="$TMP/same" all >/dev/null 2>&1 && mk BUILD="$TMP/same" PYTHON="$one" all >/dev/null 2>&1 &&
       "$TMP/same/bin/python-mpi" --version | grep -q "^Python $v1 " &&
       "$TMP/same/bin/pkgroot" python "$TMP/same.tar" >/dev/null 2>&1 && "$TMP/same/bin/pkgroot" ls "$TMP/same.tar" | grep -q " lib/python${v1%.*}/os.py$" &&
       mk BUILD="$TMP/same" all >/dev/null 2>&1 && "$TMP/same/bin/python-mpi" --version | grep -q "^Python $v0 "; then
        t_ok "one BUILD=DIR for two Pythons ($v0, $v1, $v0): each make rebuilds for its own"
    else t_fail "two Pythons in one build directory" "$("$TMP/same/bin/python-mpi" --version 2>&1)"; fi
else t_skip "two Pythons in one build directory" "no CPython 3.8+ under pyenv's root"; fi

# --- a runtime bundle of another real Python ----------------------------------
read -r xa pa <<< "$(printf '%s\n' "$new" | tail -n 2 | head -n 1)"
read -r xb pb <<< "$(printf '%s\n' "$new" | tail -n 1)"
if [ -n "${xa:-}" ] && [ -n "${xb:-}" ] && [ "$xa" != "$xb" ]; then
    A=$REPO/build$SUFFIX-py$xa B=$REPO/build$SUFFIX-py$xb
    rm -rf "${TMP:?}"/shm/*
    rc=0; PYTHON_MPI_CHROOT=$SHM PYTHON_MPI_PACKAGES=$TMP/rt$xb.tar.zst timeout 60 "$MPIEXEC" -n 2 "$A/bin/python-mpi" -c pass \
        >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
    if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(t_error_lines "$TMP/err")" = 1 ] &&
       grep -Eq "^python-mpi: rank 0 on [^:]+: $SHM/python-mpi-[0-9]+/[^:]+: the bundles carry the standard library of Python $xb \(lib/python$xb\), but python-mpi embeds Python $xa: make the runtime bundle with this python-mpi's pkgroot$" "$TMP/err" &&
       t_empty_dir "$SHM"; then
        t_ok "python-mpi of $xa with the runtime bundle of $xb: one line, exit $rc, nothing left"
    else t_fail "python-mpi $xa with a $xb bundle (rc=$rc)" "$(cat "$TMP/err")"; fi
    rc=0; "$A/bin/pkgroot" verify "$TMP/rt$xb.tar.zst" --python-mpi "$A/bin/python-mpi" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ $rc = 1 ] && grep -q "lib/python$xb: the standard library of Python $xb, but .* is $xa: python-mpi refuses the tree" "$TMP/err" &&
        t_ok "pkgroot verify --python-mpi (Python $xa) of the $xb bundle says so" || t_fail "verify $xb bundle against $xa ($rc)" "$(cat "$TMP/err")"
else t_skip "a runtime bundle of another real Python" "fewer than two CPython 3.8+ under pyenv's root"; fi

t_done pythons
