#!/bin/bash
# test_static_python.sh - the STATIC_PYTHON=1 build: python-mpi carries
# libpython inside, so a rank maps no libpython*.so at all (none to fetch
# from a shared file system), and extension modules (numpy, lib-dynload)
# still find the C API in the executable.
#   make STATIC_PYTHON=1 && BUILD=build-static bash tests/mpi/test_static_python.sh
set -u
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d /tmp/pympi-static.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PM=$BIN/python-mpi
RUNTIME=$(t_runtime_bundle) || { t_fail "pkgroot python makes the runtime bundle"; t_done static-python; exit 1; }

if ! ldd "$PM" | grep -q libpython; then
    t_ok "python-mpi needs no libpython shared library (ldd)"
else t_fail "ldd lists libpython" "$(ldd "$PM")"; fi

cat > "$TMP/maps.py" <<PY
import os, sys, $T_PKG, _ctypes, json
maps = open("/proc/self/maps").read()
libpy = sorted({l.split()[-1] for l in maps.splitlines() if "libpython" in l})
print("maps", (os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK")), len(libpy),
      $T_PKG.__file__.startswith(sys.prefix), $T_PKG_EXPR, json.dumps(libpy))
PY
if PYTHON_MPI_CHROOT=$TMP PYTHON_MPI_PACKAGES=$RUNTIME timeout 60 "$MPIEXEC" -n 2 "$PM" "$TMP/maps.py" >"$TMP/out" 2>"$TMP/err" &&
   [ "$(grep -c "^maps [01] 0 True $T_PKG_RE \[\]$" "$TMP/out")" = 2 ]; then
    t_ok "2 ranks import $T_PKG and C extensions from the delivered tree with no libpython mapped"
else t_fail "static python run" "$(cat "$TMP/out" "$TMP/err")"; fi

t_done static-python
