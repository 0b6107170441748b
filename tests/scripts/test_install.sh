#!/bin/bash
# test_install.sh - `make install MPI=X PREFIX=... DESTDIR=...` installs the
# build of that MPI (the installed python-mpi links X's library) and the
# installed tree works: python-mpi runs under X's mpiexec, bcast and
# pkgroot answer --version, the man pages and templates are there; make
# uninstall takes them away again.
#   MPI=openmpi MPIEXEC=mpiexec.openmpi BUILD=build-openmpi bash tests/scripts/test_install.sh
set -u
. "$(dirname "$0")/../lib.sh"
MPI=${MPI:-mpich}
TMP=$(mktemp -d /tmp/pympi-inst.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
D=$TMP/destdir
P=$D/opt/pympi
if make -s -C "$REPO" install MPI="$MPI" PYTHON="$PYTHON" BUILD="$BUILD" PREFIX=/opt/pympi DESTDIR="$D" >"$TMP/out" 2>&1; then
    t_ok "make install MPI=$MPI PYTHON=$PYTHON PREFIX=/opt/pympi DESTDIR=..."
else t_fail "make install MPI=$MPI" "$(cat "$TMP/out")"; fi
case $MPI in
    openmpi) want=libmpi.so.40; other=libmpich ;;
    *) want=libmpich; other=libmpi.so.40 ;;
esac
libs=$(ldd "$P/bin/python-mpi" "$P/bin/bcast" 2>&1)
if [ "$(printf '%s\n' "$libs" | grep -c "$want")" = 2 ] && ! printf '%s\n' "$libs" | grep -q "$other"; then
    t_ok "installed python-mpi and bcast link $want, not $other"
else t_fail "installed binaries' MPI" "$libs"; fi
if out=$(timeout 60 "$MPIEXEC" -n 2 "$P/bin/python-mpi" -c 'import sys; print("inst", sys.executable)' 2>&1) &&
   [ "$(printf '%s\n' "$out" | grep -c "^inst $P/bin/python-mpi$")" = 2 ]; then
    t_ok "the installed python-mpi runs under $MPIEXEC (sys.executable is the installed one)"
else t_fail "installed python-mpi run" "$out"; fi
"$P/bin/bcast" --version | grep -q '^bcast (python-mpi-bcast) ' && "$P/bin/pkgroot" --version | grep -q '^pkgroot (python-mpi-bcast) ' &&
    "$P/bin/python-mpi" --version | grep -qxF "Python $T_PYFULL (default home $T_PYPREFIX)" &&
    t_ok "installed bcast and pkgroot --version; python-mpi --version: Python $T_PYFULL" || t_fail "--version"
missing=
for f in share/man/man1/python-mpi.1 share/man/man1/bcast.1 share/man/man1/pkgroot.1 share/python-mpi/activate.sh \
         share/python-mpi/job-slurm.sh share/python-mpi/job-pbs-aprun.sh share/python-mpi/job-mpiexec.sh; do
    [ -s "$P/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && t_ok "man pages, activate.sh and the job templates installed" || t_fail "not installed:$missing"
# make uninstall takes away exactly what install put there (a file of the
# user's beside ours stays, and so do the shared directories).
: > "$P/bin/users-own"
if make -s -C "$REPO" uninstall MPI="$MPI" PYTHON="$PYTHON" BUILD="$BUILD" PREFIX=/opt/pympi DESTDIR="$D" >"$TMP/out" 2>&1 &&
   [ "$(cd "$P" && find . -type f | sort | tr '\n' ' ')" = "./bin/users-own " ] && [ ! -e "$P/share/python-mpi" ]; then
    t_ok "make uninstall removes every installed file, and nothing else"
else t_fail "make uninstall" "$(cat "$TMP/out"; cd "$P" && find . | sort)"; fi
t_done install
