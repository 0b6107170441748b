#!/bin/bash
# test_pkgroot.sh - the bundle maker: runtime layout, every compression,
# directory bundles, listing, and clean failures (one line, no OUT left).
# Uses $PKGROOT (default build/bin/pkgroot); needs GNU tar with zstd.
set -eu
. "$(dirname "$0")/../lib.sh"
PK=${PKGROOT:-$BIN/pkgroot}
case $PK in /*) ;; *) PK=$REPO/$PK ;; esac
TMP=$(mktemp -d /tmp/pympi-pk.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# --- the runtime bundle -----------------------------------------------------
S=$T_PYSTDLIB
if "$PK" python "$TMP/rt.tar.zst" "$T_PKG" >"$TMP/out" 2>&1 && "$PK" ls "$TMP/rt.tar.zst" > "$TMP/ls"; then
    t_ok "pkgroot python OUT $T_PKG"
else t_fail "pkgroot python" "$(cat "$TMP/out")"; fi
# (Debian's sitecustomize.py is a link to /etc: bundled as the file)
for want in " $S/os.py$" " $S/lib-dynload/$" " $S/encodings/__init__.py$" \
            " $T_PKG_SITE/$T_PKG/__init__.py$" " $T_PKG_SITE/$T_PKG-[0-9.]*\.(egg|dist)-info/$" \
            $([ -e "$T_PYPREFIX/$S/sitecustomize.py" ] && echo "^-.*$S/sitecustomize.py$"); do
    grep -Eq "$want" "$TMP/ls" && t_ok "runtime bundle has '$want'" || t_fail "runtime bundle lacks '$want'"
done
# Package bundles' site directory on sys.path: Debian's site.py adds it, any
# other Python's gets a .pth from pkgroot.
if [ "$T_PKG_SITE" = lib/python3/dist-packages ]; then
    ! grep -q 'python-mpi-bcast\.pth$' "$TMP/ls" && t_ok "no .pth for Debian's Python (its site.py adds lib/python3/dist-packages)" ||
        t_fail "a .pth in a Debian runtime bundle"
else
    site=$("$PYTHON" -I -c 'import os, site, sys; print(os.path.relpath(site.getsitepackages([sys.base_prefix])[0], sys.base_prefix))')
    [ "$(tar -xOf "$TMP/rt.tar.zst" "$site/python-mpi-bcast.pth")" = "$(realpath -m --relative-to="/$site" /lib/python3/dist-packages)" ] &&
        t_ok "$site/python-mpi-bcast.pth puts lib/python3/dist-packages (package bundles) on sys.path" ||
        t_fail "the .pth for package bundles" "$(grep pth "$TMP/ls")"
fi
for unwanted in " $S/test/" " $S/idlelib/" " $S/config-$T_PYVER" "^[lh] .* -> /"; do
    grep -Eq "$unwanted" "$TMP/ls" && t_fail "runtime bundle has '$unwanted'" || t_ok "runtime bundle leaves out '$unwanted'"
done
tail -n 1 "$TMP/ls" | grep -Eq '^[0-9]+ entries, [0-9]+ bytes$' && t_ok "pkgroot ls ends with the totals" || t_fail "ls totals"
grep -Eq "^- .* $S/lib-dynload/[^/]+\.so$" "$TMP/ls" && t_ok "runtime bundle has the extension modules" || t_fail "no lib-dynload/*.so"
dups=$(sed '$d' "$TMP/ls" | awk '{print $4}' | sort | uniq -d)
[ -z "$dups" ] && t_ok "every path appears once (shared parent directories too)" || t_fail "duplicate entries" "$dups"
owners=$(tar --numeric-owner -tvf "$TMP/rt.tar.zst" | awk '{print $2}' | sort -u)
[ "$owners" = 0/0 ] && t_ok "entries are owned by 0/0" || t_fail "owners" "$owners"
src=$S/os.py
got=$(TZ=UTC tar --full-time -tvf "$TMP/rt.tar.zst" "$src" | awk '{print $4, $5}')
[ "$got" = "$(TZ=UTC date -r "$T_PYPREFIX/$src" '+%Y-%m-%d %H:%M:%S')" ] &&
    t_ok "mtimes are kept" || t_fail "mtime of $src" "$got"
# bytecode: every .py has its unchecked-hash pyc, made by the embedded
# Python (its magic number), and nothing else is a .pyc
mkdir -p "$TMP/pyc" && tar -C "$TMP/pyc" -xf "$TMP/rt.tar.zst" "$S"
if "$PYTHON" - "$TMP/pyc/$S" <<'PY'
import importlib.util, os, sys
root = sys.argv[1]
pys = pycs = 0
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        if f.endswith(".py"):
            pys += 1
            c = importlib.util.cache_from_source(p)
            h = open(c, "rb").read(16)
            assert h[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(h[4:8], "little") == 1, c
            assert h[8:16] == importlib.util.source_hash(open(p, "rb").read()), c
        elif f.endswith(".pyc"):
            pycs += 1
            assert os.path.basename(d) == "__pycache__" and ".opt-" not in f, p
assert pys > 500 and pycs == pys, (pys, pycs)
PY
then t_ok "pkgroot python: every .py has an unchecked-hash .pyc (embedded magic, source hash), no other .pyc"
else t_fail "unchecked-hash pycs"; fi
"$PK" python --pyc none "$TMP/nopyc.tar.zst" >/dev/null 2>&1 &&
    [ -z "$("$PK" ls "$TMP/nopyc.tar.zst" | grep -E '\.pyc$')" ] && t_ok "--pyc none: sources only" || t_fail "--pyc none"
"$PK" python --pyc=timestamp "$TMP/ts.tar" >/dev/null 2>&1 &&
    [ "$(tar -xOf "$TMP/ts.tar" "$S/__pycache__/os.$T_PYTAG.pyc" | head -c 8 | od -An -tu4 | awk '{print $2}')" = 0 ] &&
    t_ok "--pyc=timestamp: classic pycs (flags 0)" || t_fail "--pyc timestamp"
rc=0; out=$("$PK" python --pyc fast "$TMP/bad.tar" 2>&1) || rc=$?
[ $rc = 2 ] && [ "$out" = "pkgroot: rank ? on $(hostname): --pyc 'fast': expected unchecked, checked, timestamp, sourceless, keep or none" ] &&
    t_ok "--pyc with an unknown mode: one line, exit 2" || t_fail "--pyc bad (rc=$rc)" "$out"
# sourceless: NAME.pyc in place of every NAME.py that compiles (a link to
# a module too); python-mpi runs $T_PKG on it and never looks at a source.
mkdir -p "$TMP/slcode/pkg"
echo 'def f(): return 1 / 0' > "$TMP/slcode/pkg/__init__.py"; ln -s __init__.py "$TMP/slcode/pkg/alias.py"
echo 'print "python 2"' > "$TMP/slcode/pkg/old.py"
if "$PK" python --pyc sourceless "$TMP/sl.tar.zst" "$T_PKG" >"$TMP/out" 2>&1 &&
   "$PK" --pyc sourceless dir "$TMP/slcode.tar.zst" "$TMP/slcode" >>"$TMP/out" 2>&1 &&
   "$PK" ls "$TMP/sl.tar.zst" >"$TMP/ls" && "$PK" ls "$TMP/slcode.tar.zst" >"$TMP/ls2" &&
   [ "$(grep -c '\.py$' "$TMP/ls")" = 0 ] && grep -q "^- .* $S/os\.pyc$" "$TMP/ls" &&
   [ "$(grep -c '__pycache__' "$TMP/ls")" = 0 ] &&
   [ "$(awk '{print $1, $4}' "$TMP/ls2" | grep -E '\.pyc?$' | sort | tr '\n' ' ')" = \
     "- lib/python3/dist-packages/pkg/__init__.pyc - lib/python3/dist-packages/pkg/alias.pyc - lib/python3/dist-packages/pkg/old.py " ]; then
    t_ok "--pyc sourceless: NAME.pyc in place of NAME.py (links too), no __pycache__, a non-Python-3 file as it is"
else t_fail "--pyc sourceless bundles" "$(cat "$TMP/out"; grep -E '\.pyc?$' "$TMP/ls2")"; fi
if PYTHON_MPI_PACKAGES="$TMP/sl.tar.zst:$TMP/slcode.tar.zst" strace -ff -qq -e trace=%file,%stat -o "$TMP/strace" \
       "$MPIEXEC" -n 2 "$BIN/python-mpi" -c "
import ${T_PKG}, json, decimal, sys, traceback, pkg.alias
assert ${T_PKG}.__file__.endswith('$T_PKG/__init__.pyc') and sys.prefix in ${T_PKG}.__file__, ${T_PKG}.__file__
try:
    pkg.alias.f()
except ZeroDivisionError:
    assert '\"lib/python3/dist-packages/pkg/alias.py\", line 1, in f' in traceback.format_exc(), traceback.format_exc()
print('sourceless-ok', $T_PKG_EXPR)" >"$TMP/out" 2>&1 &&
   [ "$(grep -c "^sourceless-ok $T_PKG_RE$" "$TMP/out")" = 2 ] &&
   touched=$(cat "$TMP"/strace.* | grep -E '"/dev/shm/python-mpi-[^"]*\.py"' | grep -Ev 'ENOENT|^unlink' | wc -l); [ "$touched" = 0 ] &&
   [ "$(cat "$TMP"/strace.* | grep -cE '"/dev/shm/python-mpi-[^"]*\.pyc"')" -gt 100 ]; then
    # (the teardown's unlink of old.py, the one source, aside)
    t_ok "python-mpi on a sourceless runtime: $T_PKG imports, tracebacks name the module, no rank opens or stats a source"
else t_fail "python-mpi on a sourceless runtime (sources touched: ${touched:-?})" "$(cat "$TMP/out"; cat "$TMP"/strace.* | grep -E '\.py"' | grep -v ENOENT | head -5)"; fi
mkdir -p "$TMP/x"
if tar -C "$TMP/x" -xf "$TMP/rt.tar.zst" &&
   out=$(PYTHONHOME=$TMP/x "$PYTHON" -c "import $T_PKG, sys; print($T_PKG.__file__); print(sys.prefix)") &&
   [ "$(printf '%s\n' "$out" | sed -n 1p)" = "$TMP/x/$T_PKG_SITE/$T_PKG/__init__.py" ]; then
    t_ok "unpacked anywhere, the bundle works as PYTHONHOME ($T_PKG from it)"
else t_fail "bundle as PYTHONHOME" "${out:-}"; fi
"$PK" python "$TMP/full.tar" --full-stdlib >/dev/null 2>&1 && "$PK" ls "$TMP/full.tar" | grep -q " $S/test/" &&
    t_ok "--full-stdlib keeps the test suite" || t_fail "--full-stdlib"

# --- parts bundles (.ptar): independently compressed parts -------------
if "$PK" python "$TMP/rt.ptar" "$T_PKG" >"$TMP/out" 2>&1 && "$PK" ls "$TMP/rt.ptar" > "$TMP/ls" &&
   [ "$(sed -n 1p "$TMP/ls" | awk '{print $4}')" = .python-mpi-parts ] &&
   [ "$(grep -c ' part-[0-9]\{4\}\.tar\.lz4$' "$TMP/ls")" -ge 8 ]; then
    t_ok "pkgroot python OUT.ptar: the marker first, then >= 8 lz4 parts, the default ($(grep -c ' part-' "$TMP/ls"))"
else t_fail "pkgroot .ptar" "$(cat "$TMP/out"; head "$TMP/ls")"; fi
mkdir -p "$TMP/p" "$TMP/p/x"
if tar -C "$TMP/p" -xf "$TMP/rt.ptar" && for f in "$TMP"/p/part-*.tar.lz4; do tar -I lz4 -C "$TMP/p/x" -xf "$f" || false; done &&
   [ "$(find "$TMP/p/x" ! -type d | wc -l)" = "$(tar -tf "$TMP/rt.tar.zst" | grep -cv '/$')" ]; then
    t_ok ".ptar unpacks with plain tar too (tar -I lz4 for a part), to the same files as the single-stream bundle"
else t_fail ".ptar with plain tar"; fi
nparts=$(ls "$TMP"/p/part-*.tar.lz4 | wc -l)
# lz4 frames (the lz4 frame format's header): FLG's content-checksum bit
# (0x04) clear, since the delivery hashes the whole bundle and XXH32 cost
# the unpackers more than decompressing; BD's block size 5 (256 KiB).
flags=$(for f in "$TMP"/p/part-*.tar.lz4; do od -An -tx1 -j4 -N2 "$f"; done | sort | uniq -c | sed 's/^ *//')
if [ "$(printf '%s\n' "$flags" | wc -l)" = 1 ] && [ "$(printf '%s' "$flags" | awk '{print $2, $3}')" = "60 50" ]; then
    t_ok ".ptar lz4 parts: independent 256 KiB blocks, no frame checksum (FLG 60, BD 50 in every part)"
else t_fail ".ptar lz4 frame flags" "$flags"; fi
if [ "$(cat "$TMP/p/.python-mpi-parts")" = "$(printf 'python-mpi parts bundle, version 1\nparts %010d' "$nparts")" ]; then
    t_ok ".ptar: the marker records the number of parts ($nparts)"
else t_fail ".ptar marker count" "$(cat "$TMP/p/.python-mpi-parts"; echo "parts: $nparts")"; fi
# Parts are compressed by threads: the bytes must not depend on how many.
for j in 1 3 8; do "$PK" -j $j python "$TMP/rt-j$j.ptar" "$T_PKG" >/dev/null 2>"$TMP/err" || t_fail "pkgroot -j $j" "$(cat "$TMP/err")"; done
if cmp -s "$TMP/rt.ptar" "$TMP/rt-j1.ptar" && cmp -s "$TMP/rt.ptar" "$TMP/rt-j3.ptar" && cmp -s "$TMP/rt.ptar" "$TMP/rt-j8.ptar"; then
    t_ok "pkgroot -j 1, -j 3, -j 8 and the default make the same .ptar, byte for byte"
else t_fail "pkgroot -j: bundles differ" "$(cmp "$TMP/rt.ptar" "$TMP/rt-j1.ptar"; cmp "$TMP/rt.ptar" "$TMP/rt-j3.ptar")"; fi
rm -f "$TMP"/rt-j*.ptar
# --parts stored and zstd: the same entries in plain-tar or zstd parts,
# which bcast unpacks into the same tree as the single-stream bundle's.
for codec in stored:tar zstd:tar.zst; do
    c=${codec%%:*} suf=${codec#*:}
    if "$PK" --parts $c python "$TMP/rt-$c.ptar" "$T_PKG" >/dev/null 2>"$TMP/err" && tar -tf "$TMP/rt-$c.ptar" > "$TMP/st.list" &&
       [ "$(grep -c "^part-[0-9]\{4\}\.${suf//./\\.}\$" "$TMP/st.list")" = "$(($(wc -l < "$TMP/st.list") - 1))" ] &&
       [ "$("$PK" verify "$TMP/rt-$c.ptar" 2>&1 | sed -n '1s/^[^:]*: //p')" = "$("$PK" verify "$TMP/rt.ptar" 2>&1 | sed -n '1s/^[^:]*: //p')" ] &&
       timeout 120 "$MPIEXEC" -n 2 "$BIN/bcast" -p "$TMP/st" "$TMP/rt-$c.ptar" >/dev/null 2>"$TMP/err" &&
       mkdir -p "$TMP/st-ref" && tar -C "$TMP/st-ref" -xf "$TMP/rt.tar.zst" &&
       [ "$(cd "$TMP/st" && find . -type f ! -name .python-mpi-stamps ! -name .python-mpi-lock -print0 | sort -z | xargs -0 md5sum)" = \
         "$(cd "$TMP/st-ref" && find . -type f -print0 | sort -z | xargs -0 md5sum)" ]; then
        t_ok "--parts $c: part-NNNN.$suf parts, the same entries; bcast unpacks them into the same tree"
    else t_fail "--parts $c" "$(cat "$TMP/err"; head -3 "$TMP/st.list")"; fi
    rm -rf "$TMP/st" "$TMP/st-ref" "$TMP/rt-$c.ptar"
done
rc=0; "$PK" --parts brotli python "$TMP/bad.ptar" >/dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && [ "$(cat "$TMP/err")" = "pkgroot: rank ? on $(hostname): --parts 'brotli': expected zstd, lz4 or stored" ] && [ ! -e "$TMP/bad.ptar" ] &&
    t_ok "pkgroot --parts brotli: one line, exit 2" || t_fail "--parts bad (rc=$rc)" "$(cat "$TMP/err")"
for v in 0 -1 x 2x ""; do
    rc=0; "$PK" -j "$v" python "$TMP/bad.ptar" >/dev/null 2>"$TMP/err" || rc=$?
    if [ $rc = 2 ] && [ "$(cat "$TMP/err")" = "pkgroot: rank ? on $(hostname): -j '$v': expected a number of threads from 1 to 1024" ] && [ ! -e "$TMP/bad.ptar" ]; then
        t_ok "pkgroot -j '$v': one line, exit 2"
    else t_fail "pkgroot -j '$v' (rc=$rc)" "$(cat "$TMP/err")"; fi
done

# --- directory bundles, every compression ---------------------------------
mkdir -p "$TMP/code/pkg/sub"
echo 'x = 1' > "$TMP/code/pkg/__init__.py"; echo 'y = 2' > "$TMP/code/pkg/sub/m.py"
ln -s __init__.py "$TMP/code/pkg/alias.py"; ln -s /etc/hostname "$TMP/code/pkg/host.txt"
for suf in tar tar.gz tgz tar.bz2 tar.xz tar.zst tzst; do  # (.ptar: above)
    if "$PK" dir "$TMP/c.$suf" "$TMP/code" 2>"$TMP/err" && "$PK" ls "$TMP/c.$suf" > "$TMP/ls" &&
       grep -q "^- .* lib/python3/dist-packages/pkg/sub/m.py$" "$TMP/ls"; then
        t_ok "pkgroot dir -> .$suf round-trips through pkgroot ls"
    else t_fail "pkgroot dir .$suf" "$(cat "$TMP/err")"; fi
done
grep -q "^l .* lib/python3/dist-packages/pkg/alias.py -> __init__.py$" "$TMP/ls" &&
    t_ok "a symlink inside the tree is stored as a symlink" || t_fail "symlink kept" "$(cat "$TMP/ls")"
grep -q "^- .* lib/python3/dist-packages/pkg/host.txt$" "$TMP/ls" &&
    t_ok "a symlink leading outside the tree is stored as the file it points to" || t_fail "outside symlink dereferenced"
"$PK" dir "$TMP/root.tar" "$TMP/code" --at . >/dev/null && "$PK" ls "$TMP/root.tar" > "$TMP/ls" &&
    grep -q " pkg/sub/m.py$" "$TMP/ls" && ! grep -q ' \./' "$TMP/ls" &&
    t_ok "pkgroot dir --at . puts the contents at the root" || t_fail "--at ." "$(cat "$TMP/ls")"
"$PK" dir "$TMP/at.tar" "$TMP/code" --at ./a//b/ >/dev/null && "$PK" ls "$TMP/at.tar" | grep -q "^- .* a/b/pkg/sub/m.py$" &&
    t_ok "pkgroot dir --at cleans the path (./a//b/ is a/b)" || t_fail "--at a/b"
"$PK" dir "$TMP/code/self.tar" "$TMP/code" >/dev/null && "$PK" dir "$TMP/code/self.tar" "$TMP/code" >/dev/null &&
    ! "$PK" ls "$TMP/code/self.tar" | grep -q 'self\.tar' && t_ok "OUT inside DIR is never bundled into itself" || t_fail "self-inclusion"
rm -f "$TMP/code/self.tar"
out=$("$PK" dir "$TMP/v.tar" "$TMP/code" -v) && [ "$(printf '%s\n' "$out" | grep -c .)" = "$(("$(LC_ALL=C "$PK" ls "$TMP/v.tar" | wc -l)" - 1))" ] &&
    printf '%s\n' "$out" | grep -qx lib/python3/dist-packages/pkg/sub/m.py && t_ok "-v (after the operands) prints each path added" || t_fail "-v" "$out"
"$PK" dir "$TMP/r1.tar.zst" "$TMP/code" && sleep 1 && "$PK" dir "$TMP/r2.tar.zst" "$TMP/code" && cmp -s "$TMP/r1.tar.zst" "$TMP/r2.tar.zst" &&
    t_ok "bundles of the same tree are byte-identical" || t_fail "reproducible bundles"
# --exclude: a subdirectory (and all below it) left out, spelled loosely,
# repeatable; what only shares its prefix stays.
mkdir -p "$TMP/code/.venv/lib" "$TMP/code/pkg/subx"; echo v > "$TMP/code/.venv/lib/big"; echo k > "$TMP/code/pkg/subx/k.py"
if "$PK" dir "$TMP/ex.tar" "$TMP/code" --exclude ./.venv/ --exclude pkg//sub >/dev/null && "$PK" ls "$TMP/ex.tar" > "$TMP/ls" &&
   ! grep -q '\.venv' "$TMP/ls" && ! grep -q 'pkg/sub/\|pkg/sub$' "$TMP/ls" && grep -q " lib/python3/dist-packages/pkg/subx/k.py$" "$TMP/ls" &&
   grep -q " lib/python3/dist-packages/pkg/__init__.py$" "$TMP/ls"; then
    t_ok "pkgroot dir --exclude leaves those subdirectories out, nothing else"
else t_fail "pkgroot dir --exclude" "$(cat "$TMP/ls")"; fi
rm -rf "$TMP/code/.venv" "$TMP/code/pkg/subx"
mkdir -p "$TMP/u"; tar -C "$TMP/u" -xf "$TMP/c.tar.zst" && [ "$(cat "$TMP/u/lib/python3/dist-packages/pkg/sub/m.py")" = "y = 2" ] &&
    t_ok "contents survive a round trip through GNU tar" || t_fail "content round trip"

# --- failures: one line, non-zero, nothing left ----------------------------
fails() {
    local name=$1 re=$2 out=$3; shift 3
    local rc=0; "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ $rc != 0 ] && [ "$(grep -c . "$TMP/err")" = 1 ] && grep -Eq "$re" "$TMP/err" &&
       [ -z "$(ls "$out"* 2>/dev/null)" ]; then
        t_ok "$name: one line, exit $rc, no output left"
    else t_fail "$name (rc=$rc)" "$(cat "$TMP/err"; ls "$out"* 2>/dev/null)"; fi
}
fails "unknown suffix" "$TMP/bad.zip: unknown bundle suffix" "$TMP/bad.zip" "$PK" dir "$TMP/bad.zip" "$TMP/code"
fails "missing directory" "$TMP/nodir: cannot add: No such file" "$TMP/n.tar" "$PK" dir "$TMP/n.tar" "$TMP/nodir"
fails "unknown package" "package 'no_such_pkg_xyz' not found" "$TMP/p.tar.zst" "$PK" python "$TMP/p.tar.zst" no_such_pkg_xyz
fails "unwritable output directory" "$TMP/nowhere/o.tar: cannot create: No such file" "$TMP/nowhere/o.tar" "$PK" dir "$TMP/nowhere/o.tar" "$TMP/code"
fails "DIR is a file" "$TMP/code/pkg/__init__.py: cannot add: not a directory" "$TMP/f.tar" "$PK" dir "$TMP/f.tar" "$TMP/code/pkg/__init__.py"
fails "--at outside the bundle" "\.\./up: --at must be a relative path" "$TMP/up.tar" "$PK" dir "$TMP/up.tar" "$TMP/code" --at ../up
fails "--exclude outside DIR" "\.\./x: --exclude must be a path inside DIR" "$TMP/ex2.tar" "$PK" dir "$TMP/ex2.tar" "$TMP/code" --exclude ../x
fails "--exclude of DIR itself" "\./: --exclude must be a path inside DIR" "$TMP/ex3.tar" "$PK" dir "$TMP/ex3.tar" "$TMP/code" --exclude ./
fails "--exclude absolute" "/etc: --exclude must be a path inside DIR" "$TMP/ex4.tar" "$PK" dir "$TMP/ex4.tar" "$TMP/code" --exclude /etc
fails "a submodule instead of a package" "package '$T_PKG.sub': name a top-level module" "$TMP/s.tar" "$PK" python "$TMP/s.tar" "$T_PKG.sub"
fails "ls of a non-archive" "$TMP/code/pkg/__init__.py: " "$TMP/none" "$PK" ls "$TMP/code/pkg/__init__.py"
rc=0; "$PK" >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] && t_ok "no command is a usage error (2)" || t_fail "usage error ($rc)"
rc=0; "$PK" python "$TMP/o.tar" --no-such-option >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] && [ ! -e "$TMP/o.tar" ] &&
    t_ok "an unknown option is a usage error (2)" || t_fail "unknown option ($rc)"
"$PK" python "$TMP/slow.tar.xz" --full-stdlib "$T_PKG" >/dev/null 2>&1 & pid=$!
for _ in $(seq 100); do [ -n "$(ls "$TMP"/slow.tar.xz.tmp.* 2>/dev/null)" ] && break; sleep 0.1; done
seen=$(ls "$TMP"/slow.tar.xz.tmp.* 2>/dev/null || true)  # writing when killed?
kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
[ -n "$seen" ] && [ -z "$(ls "$TMP/slow.tar.xz"* 2>/dev/null)" ] && t_ok "killed mid-write (SIGTERM): no OUT, no OUT.tmp.* left" || t_fail "SIGTERM leftovers" "$(ls "$TMP"/slow*)"
"$PK" --help | grep -q '^usage: pkgroot' && t_ok "pkgroot --help" || t_fail "--help"
# Issue 21: bundles get the mode the umask gives, not 0644 whatever it is.
for m in 077:600 022:644 002:664; do
    got=$( (umask "${m%%:*}" && "$PK" dir "$TMP/um-${m%%:*}.ptar" "$TMP/code" >/dev/null &&
            "$PK" dir "$TMP/um-${m%%:*}.tar.zst" "$TMP/code" >/dev/null &&
            stat -c %a "$TMP/um-${m%%:*}.ptar" "$TMP/um-${m%%:*}.tar.zst" | tr '\n' ' ') 2>&1)
    [ "$got" = "${m#*:} ${m#*:} " ] && t_ok "umask ${m%%:*}: bundles are ${m#*:}" || t_fail "umask ${m%%:*}: bundle modes" "$got"
done
t_done pkgroot
