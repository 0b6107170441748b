#!/bin/bash
# test_modules.sh - the environment-module files `make install` writes work
# as a site uses them: in a clean shell (env -i, no login files), Lmod's
# bash init, `module use` the directory, `module load python-mpi-bcast`
# puts the installed python-mpi first on PATH and its man page on MANPATH,
# runs under the MPI it was built for, sets no PYTHON_MPI_* job variable,
# and `module unload` gives PATH and MANPATH back exactly.  Checked for the
# Lmod .lua file and the Tcl one; Debian's lmod and environment-modules
# packages conflict, so the Tcl file is read by Lmod (its tcl2lua) and, when
# ENVMOD_CMD names environment-modules' modulecmd.tcl (or it is installed),
# by environment-modules too; else that part is a counted skip.  Also: a
# second version swaps (Lmod) or is refused (environment-modules: conflict),
# DESTDIR and MODULEFILESDIR, make uninstall, and the PREFIX refusals.
#   MPI=mpich MPIEXEC=mpiexec.mpich BUILD=build bash tests/scripts/test_modules.sh
set -u
. "$(dirname "$0")/../lib.sh"
MPI=${MPI:-mpich}
LMOD_INIT=${LMOD_INIT:-/usr/share/lmod/lmod/init/bash}
if [ -z "${ENVMOD_CMD:-}" ]; then
    for f in /usr/lib/x86_64-linux-gnu/modulecmd.tcl /usr/lib/modulecmd.tcl /usr/share/modules/libexec/modulecmd.tcl; do
        [ -f "$f" ] && { ENVMOD_CMD=$f; break; }
    done
fi
TMP=$(mktemp -d /tmp/pympi-mod.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
P=$TMP/prefix
mkdir -p "$TMP/home"
mk() { make -s -C "$REPO" "$@" MPI="$MPI" PYTHON="$PYTHON" BUILD="$BUILD" >"$TMP/out" 2>&1; }

if mk install PREFIX="$P"; then t_ok "make install PREFIX=$P"
else t_fail "make install PREFIX=$P" "$(cat "$TMP/out")"; t_done modules; exit 1; fi
VERSION=$("$P/bin/python-mpi" --version | sed -n 's/^python-mpi (python-mpi-bcast) //p')
LUA=$P/share/modulefiles/python-mpi-bcast/$VERSION.lua
TCL=$P/share/modulefiles-tcl/python-mpi-bcast/$VERSION
if [ -n "$VERSION" ] && [ -s "$LUA" ] && [ -s "$TCL" ] && head -1 "$TCL" | grep -q '^#%Module' &&
   grep -qF "local root = \"$P\"" "$LUA" && grep -qxF "set root {$P}" "$TCL" && ! grep -q '@[A-Z]*@' "$LUA" "$TCL"; then
    t_ok "module files python-mpi-bcast/$VERSION(.lua) installed, naming PREFIX, version of python-mpi --version"
else t_fail "module files" "$(ls -R "$P/share" 2>&1)"; fi

# One shell session: NAME (lmod or envmod), a modulefiles directory.  It
# prints key=value lines for the checks below.  The clean environment keeps
# only what the MPI launcher needs (lib.sh's Open MPI switches).
cat > "$TMP/session.sh" <<'EOF'
set -u
case $1 in
    lmod) . "$LMOD_INIT" ;;
    envmod) module() { eval "$(tclsh "$ENVMOD_CMD" bash "$@")"; } ;;
esac
echo "path0=$PATH"
echo "man0=${MANPATH-unset}"
echo "prog0=$(command -v python-mpi)"
module use "$2"
echo "avail=$(module -t avail 2>&1 | grep "python-mpi-bcast/." | tr '\n' ' ')"
module load python-mpi-bcast 2>"$HOME/load.err" || echo "loadfailed=$(cat "$HOME/load.err")"
echo "prog=$(command -v python-mpi)"
echo "man=$(man -w python-mpi 2>&1)"
echo "root=${PYTHON_MPI_BCAST_ROOT-unset}"
echo "jobvars=$(env | grep '^PYTHON_MPI_' | grep -v '^PYTHON_MPI_BCAST_ROOT=' | tr '\n' ' ')"
echo "list=$(module -t list 2>&1 | grep python-mpi-bcast | tr '\n' ' ')"
# ranks' lines may merge: count words
echo "run=$(timeout 60 "$MPIEXEC" -n 2 python-mpi -c 'print("ok")' 2>&1 | tr '\n' ' ')"
module unload python-mpi-bcast
echo "path1=$PATH"
echo "man1=${MANPATH-unset}"
echo "root1=${PYTHON_MPI_BCAST_ROOT-unset}"
echo "list1=$(module -t list 2>&1 | grep python-mpi-bcast | tr '\n' ' ')"
EOF
session() {
    local ompi=() v
    for v in OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe; do
        [ -n "${!v+set}" ] && ompi+=("$v=${!v}")
    done
    env -i HOME="$TMP/home" PATH=/usr/bin:/bin TERM=dumb LC_ALL=C MPIEXEC="$MPIEXEC" LMOD_INIT="$LMOD_INIT" \
        ENVMOD_CMD="${ENVMOD_CMD:-}" "${ompi[@]}" bash --norc --noprofile "$TMP/session.sh" "$@" 2>&1
}
val() { printf '%s\n' "$OUT" | sed -n "s/^$1=//p"; }

# check_session WHO TOOL DIR: every check of one loader and one file.
check_session() {
    local who=$1 mt
    OUT=$(session "$2" "$3")
    if [ -z "$(val loadfailed)" ] && [ "$(val avail)" = "python-mpi-bcast/$VERSION " ] &&
       [ "$(val list)" = "python-mpi-bcast/$VERSION " ]; then
        t_ok "$who: module avail lists python-mpi-bcast/$VERSION; module load python-mpi-bcast loads it"
    else t_fail "$who: avail, load" "$OUT"; fi
    if [ -z "$(val prog0)" ] && [ "$(val prog)" = "$P/bin/python-mpi" ]; then
        t_ok "$who: command -v python-mpi is the installed one"
    else t_fail "$who: python-mpi on PATH" "$OUT"; fi
    if ! command -v man >/dev/null 2>&1; then t_skip "$who: man -w python-mpi" "no man here"
    elif mt=$(val man) && [ "$mt" = "$P/share/man/man1/python-mpi.1" ] && [ "$(val man0)" = unset ]; then
        t_ok "$who: man -w python-mpi is the installed page (MANPATH)"
    else t_fail "$who: man -w python-mpi" "$OUT"; fi
    if [ "$(val root)" = "$P" ] && [ -z "$(val jobvars)" ]; then
        t_ok "$who: PYTHON_MPI_BCAST_ROOT is PREFIX; no PYTHON_MPI_* job variable set"
    else t_fail "$who: variables" "$OUT"; fi
    if [ "$(val run | grep -ow ok | wc -l)" = 2 ]; then
        t_ok "$who: after module load, $MPIEXEC -n 2 python-mpi -c 'print(\"ok\")' prints ok twice"
    else t_fail "$who: run" "$OUT"; fi
    if [ "$(val path1)" = "$(val path0)" ] && [ "$(val man1)" = "$(val man0)" ] && [ "$(val root1)" = unset ] &&
       [ -z "$(val list1)" ]; then
        t_ok "$who: module unload gives PATH and MANPATH back exactly, unsets PYTHON_MPI_BCAST_ROOT"
    else t_fail "$who: unload" "$OUT"; fi
}

# A site copies the files into its own tree (they name PREFIX absolutely)
# beside a second version: Lmod swaps versions, environment-modules'
# conflict refuses the second while one is loaded.
SITE=$TMP/site
mkdir -p "$SITE/lua/python-mpi-bcast" "$SITE/tcl/python-mpi-bcast"
cp "$LUA" "$SITE/lua/python-mpi-bcast/"; cp "$LUA" "$SITE/lua/python-mpi-bcast/9.9.9.lua"
cp "$TCL" "$SITE/tcl/python-mpi-bcast/"; cp "$TCL" "$SITE/tcl/python-mpi-bcast/9.9.9"
cat > "$TMP/swap.sh" <<'EOF'
set -u
case $1 in
    lmod) . "$LMOD_INIT" ;;
    envmod) module() { eval "$(tclsh "$ENVMOD_CMD" bash "$@")"; } ;;
esac
module use "$2"
module load python-mpi-bcast/$3 && echo "first=$(command -v python-mpi)"
module load python-mpi-bcast/9.9.9 2>/dev/null && echo second=loaded
echo "list=$(module -t list 2>&1 | grep python-mpi-bcast | tr '\n' ' ')"
echo "path=$PATH"
EOF
swap() {
    env -i HOME="$TMP/home" PATH=/usr/bin:/bin TERM=dumb LC_ALL=C LMOD_INIT="$LMOD_INIT" ENVMOD_CMD="${ENVMOD_CMD:-}" \
        bash --norc --noprofile "$TMP/swap.sh" "$1" "$2" "$VERSION" 2>&1
}

if [ -r "$LMOD_INIT" ]; then
    check_session "Lmod, the .lua file" lmod "$P/share/modulefiles"
    check_session "Lmod, the Tcl file" lmod "$P/share/modulefiles-tcl"
    OUT=$(swap lmod "$SITE/lua")
    if [ "$(val first)" = "$P/bin/python-mpi" ] && [ "$(val list)" = "python-mpi-bcast/9.9.9 " ] &&
       [ "$(val path)" = "$P/bin:/usr/bin:/bin" ]; then
        t_ok "Lmod: the .lua file copied into a site's tree works; loading another version swaps (one on PATH)"
    else t_fail "Lmod: site copy, version swap" "$OUT"; fi
else
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do t_skip "Lmod check $i" "no Lmod ($LMOD_INIT; Debian: apt-get install lmod)"; done
fi
if [ -n "${ENVMOD_CMD:-}" ] && [ -f "$ENVMOD_CMD" ] && command -v tclsh >/dev/null 2>&1; then
    check_session "environment-modules, the Tcl file" envmod "$P/share/modulefiles-tcl"
    OUT=$(swap envmod "$SITE/tcl")
    if [ "$(val first)" = "$P/bin/python-mpi" ] && [ -z "$(val second)" ] &&
       [ "$(val list)" = "python-mpi-bcast/$VERSION " ] && [ "$(val path)" = "$P/bin:/usr/bin:/bin" ]; then
        t_ok "environment-modules: the Tcl file copied into a site's tree works; another version conflicts"
    else t_fail "environment-modules: site copy, conflict" "$OUT"; fi
else
    for i in 1 2 3 4 5 6 7; do
        t_skip "environment-modules check $i" "no modulecmd.tcl (it conflicts with Debian's lmod; set ENVMOD_CMD)"
    done
fi

if mk uninstall PREFIX="$P" && [ ! -e "$LUA" ] && [ ! -e "$TCL" ] && [ ! -e "$(dirname "$LUA")" ] &&
   [ ! -e "$(dirname "$TCL")" ] && [ -z "$(find "$P" -type f)" ]; then
    t_ok "make uninstall removes the module files and their python-mpi-bcast directories"
else t_fail "make uninstall" "$(cat "$TMP/out"; find "$P")"; fi

# Staged (DESTDIR) into a site's module tree: the files name PREFIX, not
# DESTDIR, and uninstall with the same variables takes them away.
D=$TMP/destdir
if mk install PREFIX=/opt/pympi DESTDIR="$D" MODULEFILESDIR=/site/lmod TCL_MODULEFILESDIR=/site/tcl &&
   grep -qF 'local root = "/opt/pympi"' "$D/site/lmod/python-mpi-bcast/$VERSION.lua" &&
   grep -qxF 'set root {/opt/pympi}' "$D/site/tcl/python-mpi-bcast/$VERSION" &&
   ! grep -rqF "$D" "$D/site" && [ ! -e "$D/opt/pympi/share/modulefiles" ]; then
    t_ok "DESTDIR, MODULEFILESDIR, TCL_MODULEFILESDIR: files where asked, naming PREFIX (not DESTDIR)"
else t_fail "DESTDIR, MODULEFILESDIR" "$(cat "$TMP/out"; find "$D")"; fi
if mk uninstall PREFIX=/opt/pympi DESTDIR="$D" MODULEFILESDIR=/site/lmod TCL_MODULEFILESDIR=/site/tcl &&
   [ -z "$(find "$D" -type f)" ] && [ ! -e "$D/site/lmod/python-mpi-bcast" ] && [ ! -e "$D/site/tcl/python-mpi-bcast" ]; then
    t_ok "make uninstall with the same MODULEFILESDIR removes them"
else t_fail "uninstall MODULEFILESDIR" "$(cat "$TMP/out"; find "$D")"; fi

# A PREFIX the module files cannot name is refused before anything is written.
R=$TMP/refused
if ! mk install PREFIX=opt/pympi DESTDIR="$R" && grep -qxF 'make install: PREFIX=opt/pympi: not an absolute path (the module files name it)' "$TMP/out" &&
   ! mk install PREFIX='/opt/py mpi' DESTDIR="$R" &&
   grep -q '^make install: PREFIX=/opt/py mpi: only letters, digits and ' "$TMP/out" && [ ! -e "$R" ]; then
    t_ok "make install refuses a relative PREFIX and one with a space, in one line, writing nothing"
else t_fail "PREFIX refusals" "$(cat "$TMP/out"; find "$R" 2>&1 | head)"; fi
t_done modules
