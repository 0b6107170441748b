#!/bin/bash
# test_conda.sh - `pkgroot conda`: a realistic conda prefix built here (no
# conda on this machine): package records with paths_data, an older record
# read through the package cache's info/has_prefix, one with neither; text
# and binary files carrying the prefix, a script with the prefix in its
# shebang.  Checks the layout (packages only, and a runtime with its own
# standard library), what is left out, the relocation manifest line by
# line, and that python-mpi under mpiexec imports from /dev/shm with the
# prefix rewritten to the node-local tree.  Failures: one line, exit 1, no
# OUT.  Uses $PKGROOT (default $BUILD/bin/pkgroot) and $BUILD/bin/python-mpi.
set -u
. "$(dirname "$0")/../lib.sh"
PK=${PKGROOT:-$BIN/pkgroot}
case $PK in /*) ;; *) PK=$REPO/$PK ;; esac
TMP=$(mktemp -d /tmp/pympi-cd.XXXXXX)
SHM=$(mktemp -d /dev/shm/pympi-cd.XXXXXX)
trap 'rm -rf "$TMP" "$SHM"' EXIT
mkdir -p "$TMP/out"
# Long, as conda's own prefixes often are: binary relocation pads with NULs,
# so the node-local tree's path must not be longer.
P=$TMP/miniconda3/envs/an-environment-with-a-rather-long-name-so-that-binary-relocation-has-room-to-pad-the-node-local-path
PH=/opt/anaconda1anaconda2anaconda3   # conda's placeholder, replaced at install time
V=$T_PYVER B0=py$(echo "$T_PYVER" | tr -d .)_0   # the embedded Python's X.Y; conda's build string

# make_prefix DIR: a conda environment with package cpkg (paths_data),
# oldpkg (no paths_data; info/has_prefix in the package cache) and
# scanonly (no prefix metadata at all).
make_prefix() {
    local d=$1 sp=$1/lib/python$V/site-packages
    mkdir -p "$d/conda-meta" "$d/bin" "$d/lib" "$d/include" "$d/etc" "$d/share/doc/cpkg" "$d/share/man/man1" \
             "$d/share/cpkg" "$d/share/scanonly" "$d/pkgs" "$sp/cpkg/tests" "$sp/cpkg/__pycache__" "$sp/cpkg-1.0.dist-info" \
             "$TMP/miniconda3/pkgs/oldpkg-0.1-0/info"
    printf 'import os\nHERE = os.path.dirname(__file__)\nCONFIG = open(os.path.join(HERE, "config.txt")).read().strip()\n' > "$sp/cpkg/__init__.py"
    printf '%s/share/cpkg/data\n' "$d" > "$sp/cpkg/config.txt"
    # A module carrying the prefix (as _sysconfigdata does): relocated as
    # source, never as bytecode made before relocation.
    printf 'DATA = "%s/share/cpkg/data"\n' "$d" > "$sp/cpkg/_paths.py"
    echo 'def test_a(): pass' > "$sp/cpkg/tests/test_a.py"
    printf 'stale' > "$sp/cpkg/__pycache__/__init__.$T_PYTAG.pyc"
    printf 'Metadata-Version: 2.1\nName: cpkg\nVersion: 1.0\n' > "$sp/cpkg-1.0.dist-info/METADATA"
    # A shared library with the prefix as a NUL-terminated string in it.
    { printf '\177ELF\2\1\1\0junk\0'; printf '%s/lib/cpkg-plugins\0' "$d"; printf '\0%.0s' $(seq 64); } > "$d/lib/libcpkg.so"
    { printf '\177ELF\2\1\1\0'; printf '%s/lib\0' "$d"; } > "$d/lib/libundeclared.so"
    printf '!<arch>\n' > "$d/lib/libcpkg.a"
    printf '#define CPKG 1\n' > "$d/include/cpkg.h"
    printf '#!%s/bin/python%s\nimport cpkg\nprint(cpkg.CONFIG)\n' "$d" "$V" > "$d/bin/cpkg-run"
    printf '#!/bin/sh\nexport CPKG_HOME=%s/share/cpkg\n' "$d" > "$d/bin/cpkg-env.sh"
    chmod 755 "$d/bin/cpkg-run" "$d/bin/cpkg-env.sh"
    ln -s cpkg-run "$d/bin/cpkg"
    echo data > "$d/share/cpkg/data"
    printf 'prefix = %s\n' "$d" > "$d/etc/oldpkg.conf"
    printf 'see %s/share/cpkg\n' "$d" > "$d/share/scanonly/paths.txt"
    echo readme > "$d/share/doc/cpkg/README"; echo '.TH CPKG 1' > "$d/share/man/man1/cpkg.1"
    echo cached > "$d/pkgs/cpkg-1.0-$B0.tar.bz2"
    printf '%s text etc/oldpkg.conf\n' "$PH" > "$TMP/miniconda3/pkgs/oldpkg-0.1-0/info/has_prefix"
    printf '==> 2024-01-01 00:00:00 <==\n# cmd: conda create -p %s cpkg\n' "$d" > "$d/conda-meta/history"
    cat > "$d/conda-meta/cpkg-1.0-$B0.json" <<JSON
{"name": "cpkg", "version": "1.0", "build": "$B0", "channel": "https://conda.anaconda.org/test",
 "files": ["bin/cpkg", "bin/cpkg-env.sh", "bin/cpkg-run", "include/cpkg.h", "lib/libcpkg.a", "lib/libcpkg.so",
           "lib/python$V/site-packages/cpkg/__init__.py", "lib/python$V/site-packages/cpkg/config.txt"],
 "paths_data": {"paths_version": 1, "paths": [
   {"_path": "bin/cpkg", "path_type": "softlink", "size_in_bytes": 8},
   {"_path": "bin/cpkg-run", "path_type": "hardlink", "file_mode": "text", "prefix_placeholder": "$PH"},
   {"_path": "bin/cpkg-env.sh", "path_type": "hardlink"},
   {"_path": "include/cpkg.h", "path_type": "hardlink"},
   {"_path": "lib/libcpkg.a", "path_type": "hardlink"},
   {"_path": "lib/libcpkg.so", "path_type": "hardlink", "file_mode": "binary", "prefix_placeholder": "$PH"},
   {"_path": "lib/python$V/site-packages/cpkg/__init__.py", "path_type": "hardlink"},
   {"_path": "lib/python$V/site-packages/cpkg/config.txt", "path_type": "hardlink", "file_mode": "text", "prefix_placeholder": "$PH"}]},
 "link": {"source": "$TMP/miniconda3/pkgs/cpkg-1.0-$B0", "type": 1}}
JSON
    cat > "$d/conda-meta/oldpkg-0.1-0.json" <<JSON
{"name": "oldpkg", "version": "0.1", "build": "0", "files": ["etc/oldpkg.conf"],
 "link": {"source": "$TMP/miniconda3/pkgs/oldpkg-0.1-0", "type": 1}}
JSON
    printf '{"name": "scanonly", "version": "1.0", "build": "0", "files": ["share/scanonly/paths.txt"]}\n' > "$d/conda-meta/scanonly-1.0-0.json"
}
make_prefix "$P"
# The entries of a bundle, inside the parts of a .ptar too.
entries() {
    if [ "$(tar -tf "$1" | head -n 1)" = .python-mpi-parts ]; then
        tar -xOf "$1" --exclude=.python-mpi-parts | zstd -dcq | tar -ti "${@:2}"
    else tar -tf "$1" "${@:2}"; fi
}
member() {   # member BUNDLE PATH: its contents
    if [ "$(tar -tf "$1" | head -n 1)" = .python-mpi-parts ]; then
        tar -xOf "$1" --exclude=.python-mpi-parts | zstd -dcq | tar -xOi "$2"
    else tar -xOf "$1" "$2"; fi
}
has() { entries "$1" | grep -Eq "$2"; }

# --- a prefix of packages only: site-packages moves to the site directory ---
B=$TMP/out/condapk.tar.zst
if "$PK" conda "$B" "$P" >"$TMP/o" 2>"$TMP/e"; then t_ok "pkgroot conda OUT PREFIX (packages only)"
else t_fail "pkgroot conda" "$(cat "$TMP/e")"; fi
[ "$(grep -c . "$TMP/e")" = 1 ] && grep -q "warning: 1 binary file(s) carry the prefix but no package record declares them: left as they are, not relocated (first: lib/libundeclared.so)" "$TMP/e" &&
    t_ok "one warning line for the undeclared binary file carrying the prefix" || t_fail "undeclared binary warning" "$(cat "$TMP/e")"
for want in '^lib/python3/dist-packages/cpkg/__init__.py$' '^lib/python3/dist-packages/cpkg-1.0.dist-info/METADATA$' \
            '^lib/libcpkg.so$' '^bin/cpkg-run$' '^bin/cpkg$' '^etc/oldpkg.conf$' '^share/cpkg/data$' '^\.python-mpi-relocate/condapk$'; do
    has "$B" "$want" && t_ok "conda bundle has $want" || t_fail "conda bundle lacks $want" "$("$PK" ls "$B")"
done
[ "$(tar -xOf "$B" "lib/python3/dist-packages/cpkg/__pycache__/__init__.$T_PYTAG.pyc" | head -c 5)" != stale ] &&
    t_ok "the prefix's stale __pycache__ is replaced by fresh bytecode" || t_fail "stale pyc bundled"
has "$B" '^lib/python3/dist-packages/cpkg/_paths.py$' && ! has "$B" '_paths\..*pyc$' &&
    t_ok "a module carrying the prefix goes as source only (no bytecode holding the old prefix)" ||
    t_fail "_paths.py bytecode" "$("$PK" ls "$B" | grep _paths)"
for unwanted in '^conda-meta' '^pkgs' '^include' '\.a$' '^share/doc' '^share/man' 'cpkg/tests' "^lib/python$V"; do
    has "$B" "$unwanted" && t_fail "conda bundle has $unwanted" || t_ok "conda bundle leaves out $unwanted"
done
"$PK" ls "$B" | grep -q '^l .* bin/cpkg -> cpkg-run$' && t_ok "a link inside the prefix stays a link" || t_fail "bin/cpkg link"
[ "$(tar -xOf "$B" bin/cpkg-run | head -n 1)" = '#!/usr/bin/env python3' ] &&
    t_ok "a shebang into the prefix becomes #!/usr/bin/env python3" || t_fail "cpkg-run shebang" "$(tar -xOf "$B" bin/cpkg-run | head -n 1)"
tar -xOf "$B" .python-mpi-relocate/condapk > "$TMP/manifest"
[ "$(sed -n 1p "$TMP/manifest")" = "python-mpi-relocate 1" ] && [ "$(sed -n 2p "$TMP/manifest")" = "prefix $P" ] &&
    t_ok "manifest: format line, then the original prefix" || t_fail "manifest header" "$(head -2 "$TMP/manifest")"
for line in "text lib/python3/dist-packages/cpkg/config.txt" "binary lib/libcpkg.so" "text etc/oldpkg.conf" \
            "text share/scanonly/paths.txt" "text bin/cpkg-env.sh" "text lib/python3/dist-packages/cpkg/_paths.py"; do
    grep -qxF "$line" "$TMP/manifest" && t_ok "manifest lists '$line'" || t_fail "manifest lacks '$line'" "$(cat "$TMP/manifest")"
done
for path in bin/cpkg-run lib/libundeclared.so lib/python3/dist-packages/cpkg/__init__.py; do
    grep -q " $path$" "$TMP/manifest" && t_fail "manifest lists $path" || t_ok "manifest does not list $path"
done
[ "$(wc -l < "$TMP/manifest")" = 8 ] && t_ok "manifest: nothing else" || t_fail "manifest lines" "$(cat "$TMP/manifest")"
out=$("$PK" -v conda "$TMP/out/v.tar" "$P" 2>/dev/null)
printf '%s\n' "$out" | grep -Eq '^left out [0-9]+ files, [0-9]+ bytes: caches 2 \(--keep-caches\), tests 1 \(--keep-tests\), docs 2 \(--keep-docs\), .*static libraries 1 \(--keep-static\), headers 1 \(--keep-include\)' &&
    printf '%s\n' "$out" | grep -q "^relocation: 5 text and 1 binary files carry $P; 3 package records: 1 with paths_data, has_prefix: oldpkg; neither (scan only): scanonly$" &&
    t_ok "-v: what was left out, and how each package's prefix files were found" || t_fail "-v" "$out"
"$PK" conda "$TMP/out/keep.tar" "$P" --keep-include --keep-static --keep-conda-meta --keep-docs --keep-tests >/dev/null 2>&1 &&
    has "$TMP/out/keep.tar" '^include/cpkg.h$' && has "$TMP/out/keep.tar" '^lib/libcpkg.a$' && has "$TMP/out/keep.tar" '^conda-meta/history$' &&
    has "$TMP/out/keep.tar" '^share/doc/cpkg/README$' && has "$TMP/out/keep.tar" 'cpkg/tests/test_a.py$' &&
    t_ok "--keep-include --keep-static --keep-conda-meta --keep-docs --keep-tests keep them" || t_fail "--keep-*"
(cd "$TMP/miniconda3/envs" && "$PK" conda "$TMP/out/rel.tar" "./$(basename "$P")/" >/dev/null 2>&1) &&
    [ "$(tar -xOf "$TMP/out/rel.tar" .python-mpi-relocate/rel | sed -n 2p)" = "prefix $P" ] &&
    t_ok "a relative PREFIX is recorded as the absolute path" || t_fail "relative PREFIX"
"$PK" verify "$B" >"$TMP/o" 2>"$TMP/e" && grep -q "relocation (condapk): 5 text and 1 binary files from $P" "$TMP/o" &&
    t_ok "pkgroot verify accepts the bundle and its manifest" || t_fail "verify conda bundle" "$(cat "$TMP/o" "$TMP/e")"

# --- a runtime prefix: its own standard library, its layout kept ------------
# The embedded Python's, as conda lays it out: bin/pythonX.Y,
# lib/libpythonX.Y.so, lib/pythonX.Y/.
R=$TMP/miniconda3/envs/runtime-environment-with-a-rather-long-name-so-that-binary-relocation-has-room-to-pad-the-path
make_prefix "$R"
tar -C "$T_PYPREFIX/lib" --exclude=__pycache__ --exclude="python$V/dist-packages" --exclude="python$V/site-packages" \
    --exclude="python$V/test" --exclude="python$V/config-*" --exclude="python$V/sitecustomize.py" -cf - "python$V" |
    tar -C "$R/lib" -xf -
cp "$T_PYPREFIX/bin/python$V" "$R/bin/" && cp -L "$T_PYLIBDIR/libpython$V.so.1.0" "$R/lib/" &&
    ln -s "libpython$V.so.1.0" "$R/lib/libpython$V.so" || t_fail "copying the interpreter and libpython$V.so"
# conda's site.py searches lib/python3.X/site-packages; Debian's (copied
# here) does not: a sitecustomize stands in for the difference.
printf 'import os, site, sys\nsite.addsitedir(os.path.join(sys.prefix, "lib", "python%%d.%%d" %% sys.version_info[:2], "site-packages"))\n' \
    > "$R/lib/python$V/sitecustomize.py"
RB=$TMP/out/condart.ptar
if "$PK" conda "$RB" "$R" >/dev/null 2>"$TMP/e" && has "$RB" "^lib/python$V/os.py$" &&
   has "$RB" "^lib/python$V/site-packages/cpkg/__init__.py$" && ! has "$RB" '^lib/python3/dist-packages' &&
   has "$RB" "^lib/python$V/lib-dynload/" && ! has "$RB" "^lib/python$V/(idlelib|tkinter|ensurepip|config-)" &&
   has "$RB" "^bin/python$V$" && has "$RB" "^lib/libpython$V.so$" &&
   [ "$(member "$RB" "lib/python$V/site-packages/python-mpi-bcast.pth")" = ../../python3/dist-packages ] &&
   member "$RB" .python-mpi-relocate/condart | grep -qxF "text lib/python$V/site-packages/cpkg/config.txt"; then
    t_ok "runtime prefix: layout kept (lib/python$V/site-packages, its .pth for package bundles), stdlib trimmed as pkgroot python does"
else t_fail "conda runtime bundle" "$(cat "$TMP/e")"; fi

# --- python-mpi: imported from /dev/shm, the prefix relocated there ----------
RUNTIME=$(t_runtime_bundle) || t_fail "pkgroot python makes the runtime bundle"
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
export PYTHON_MPI_CHROOT=$SHM
cat > "$TMP/check.py" <<'PY'
import os, sys, cpkg
tree = os.environ["PYTHON_MPI_HOME"]
lib = open(os.path.join(tree, "lib", "libcpkg.so"), "rb").read()
print(cpkg.__file__)
print(cpkg.CONFIG)
import cpkg._paths
print("paths", cpkg._paths.DATA)
print("binary-ok" if (tree + "/lib/cpkg-plugins\0").encode() in lib else "binary-not-relocated")
print(os.__file__)
PY
for case in "$RUNTIME:$B" "$RB"; do
    out=$(PYTHON_MPI_PACKAGES=$case timeout 60 "$MPIEXEC" -n 2 "$BIN/python-mpi" "$TMP/check.py" 2>"$TMP/e")
    if [ "$(printf '%s\n' "$out" | grep -c "^$SHM/python-mpi-[0-9]*/.*/cpkg/__init__.py$")" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c "^$SHM/python-mpi-[0-9]*/[^/]*/share/cpkg/data$")" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c "^paths $SHM/python-mpi-[0-9]*/[^/]*/share/cpkg/data$")" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c "^binary-ok$")" = 2 ] &&
       [ "$(printf '%s\n' "$out" | grep -c "^$SHM/.*/lib/python$V/os.py$")" = 2 ]; then
        t_ok "$MPIEXEC -n 2 python-mpi: cpkg from /dev/shm, text (a module too) and binary prefix relocated ($(basename "${case##*:}"))"
    else t_fail "python-mpi with $(basename "${case##*:}")" "$out$(cat "$TMP/e")"; fi
done
unset PYTHON_MPI_CHROOT

# --- failures: one line, exit 1, no OUT --------------------------------------
fails() {
    local name=$1 re=$2 out=$3; shift 3
    local rc=0; "$@" >"$TMP/o" 2>"$TMP/e" || rc=$?
    if [ $rc = 1 ] && [ "$(grep -c . "$TMP/e")" = 1 ] && grep -Eq "$re" "$TMP/e" && [ -z "$(ls "$out"* 2>/dev/null)" ]; then
        t_ok "$name: one line, exit 1, no OUT"
    else t_fail "$name (rc=$rc)" "$(cat "$TMP/e"; ls "$out"* 2>/dev/null)"; fi
}
mkdir -p "$TMP/plain"
fails "not a conda prefix" "$TMP/plain: not a conda prefix \(no conda-meta/\)" "$TMP/out/f1.tar" "$PK" conda "$TMP/out/f1.tar" "$TMP/plain"
fails "a missing prefix" "$TMP/nope: not a conda prefix: No such file" "$TMP/out/f2.tar" "$PK" conda "$TMP/out/f2.tar" "$TMP/nope"
O=$T_OTHER_VER P310=$TMP/pyother; mkdir -p "$P310/conda-meta" "$P310/lib/python$O"; touch "$P310/lib/python$O/os.py"
fails "another Python's standard library" "holds the standard library of Python $O \(lib/python$O\), but python-mpi embeds Python $V" \
    "$TMP/out/f3.tar" "$PK" conda "$TMP/out/f3.tar" "$P310"
rm "$P310/lib/python$O/os.py"; mkdir -p "$P310/lib/python$O/site-packages/x"
fails "another Python's packages" "holds packages of Python $O \(lib/python$O\), but python-mpi embeds Python $V" \
    "$TMP/out/f4.tar" "$PK" conda "$TMP/out/f4.tar" "$P310"
printf 'at %s\n' "$P" > "$P/share/cpkg/bad
name.txt"
fails "a file carrying the prefix whose path holds a newline" 'share/cpkg/bad\\nname.txt: refusing a path holding a newline' \
    "$TMP/out/f5.tar.zst" "$PK" conda "$TMP/out/f5.tar.zst" "$P"
rm "$P/share/cpkg/bad"*
echo '{"name": "broken", ' > "$P/conda-meta/broken-1.0-0.json"
fails "an unreadable package record" "broken-1.0-0.json: cannot read the package record" "$TMP/out/f6.tar" "$PK" conda "$TMP/out/f6.tar" "$P"
rm "$P/conda-meta/broken-1.0-0.json"
t_done conda
