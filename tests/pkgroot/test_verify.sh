#!/bin/bash
# test_verify.sh - `pkgroot verify`: good bundles pass (every compression,
# parts bundles, checked against the embedded libpython or a python-mpi
# binary); crafted bad ones each give the right one-line problem and exit
# 1: another Python's standard library, an extension module or bytecode
# for another ABI, a wrong .pyc magic number, "..", an absolute symlink,
# writing through a symlink, a FIFO, a truncated stream, a bad relocation
# manifest (one naming a missing file; one with 'prefix /', which
# python-mpi refuses with the same reason), a size limit, one name twice
# (the unpackers' race of issue 21).  The unsafe ones are refused by python-mpi's
# unpacker too.  Uses $PKGROOT (default $BUILD/bin/pkgroot).
set -u
. "$(dirname "$0")/../lib.sh"
PK=${PKGROOT:-$BIN/pkgroot}
case $PK in /*) ;; *) PK=$REPO/$PK ;; esac
PY=$PYTHON   # the Python python-mpi embeds: its bytecode is what verify accepts
TMP=$(mktemp -d /tmp/pympi-vf.XXXXXX)
SHM=$(mktemp -d /dev/shm/pympi-vf.XXXXXX)
trap 'rm -rf "$TMP" "$SHM"' EXIT

# --- good bundles ------------------------------------------------------------
RUNTIME=$(t_runtime_bundle) || t_fail "pkgroot python makes the runtime bundle"
if "$PK" verify "$RUNTIME" >"$TMP/o" 2>"$TMP/e" && [ ! -s "$TMP/e" ] &&
   grep -Eq "^$RUNTIME: [0-9]+ entries \([0-9]+ files, [0-9]+ directories, [0-9]+ links\), [0-9]+ bytes unpacked, largest lib/.*\.so \([0-9]+ bytes\)$" "$TMP/o" &&
   grep -q "^$RUNTIME: checked against Python $T_PYVER ($T_PYSOABI, bytecode $T_PYTAG) of the embedded libpython: ok$" "$TMP/o"; then
    t_ok "the runtime bundle passes: entries, files, bytes, largest file; Python $T_PYVER ok"
else t_fail "verify runtime" "$(cat "$TMP/o" "$TMP/e")"; fi
mkdir -p "$TMP/code/pkg/__pycache__"
echo 'x = 1' > "$TMP/code/pkg/__init__.py"
$PY -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
    "$TMP/code/pkg/__init__.py" "$TMP/code/pkg/__pycache__/__init__.$T_PYTAG.pyc"
for suf in tar tar.gz tar.bz2 tar.xz tar.zst ptar; do
    "$PK" dir "$TMP/good.$suf" "$TMP/code" >/dev/null && "$PK" verify "$TMP/good.$suf" >"$TMP/o" 2>"$TMP/e" &&
        [ ! -s "$TMP/e" ] && grep -q ": ok$" "$TMP/o" && t_ok "a good .$suf bundle passes" || t_fail "good .$suf" "$(cat "$TMP/o" "$TMP/e")"
done
grep -q " bytes unpacked from parts," "$TMP/o" && t_ok ".ptar: the files inside the parts are what is checked" || t_fail "ptar summary" "$(cat "$TMP/o")"
"$PK" verify "$RUNTIME" --python-mpi "$BIN/python-mpi" >"$TMP/o" 2>"$TMP/e" &&
    grep -q "checked against Python $T_PYVER ($T_PYSOABI, .*) of $BIN/python-mpi: ok$" "$TMP/o" &&
    t_ok "--python-mpi PATH: asks that binary which Python it embeds" || t_fail "--python-mpi" "$(cat "$TMP/o" "$TMP/e")"
rc=0; "$PK" verify "$RUNTIME" --python-mpi /bin/true >"$TMP/o" 2>"$TMP/e" || rc=$?
[ $rc = 1 ] && [ "$(grep -c . "$TMP/e")" = 1 ] && grep -q "/bin/true: cannot ask which Python it embeds" "$TMP/e" &&
    t_ok "--python-mpi of something else: one line, exit 1" || t_fail "--python-mpi /bin/true ($rc)" "$(cat "$TMP/e")"

# --- crafted bad bundles ------------------------------------------------------
$PY - "$TMP" "$T_PYTAG" "$T_PYSOABI" "$T_OTHER_VER" "$T_OTHER_TAG" "$T_OTHER_MAGIC" "$T_OLD_MAGIC" <<'PY'
import importlib.util, io, os, subprocess, sys, tarfile
tmp, tag, soabi, other, other_tag, other_magic, old_magic = sys.argv[1:]
arch = soabi[len(tag):]   # -x86_64-linux-gnu
good_magic = importlib.util.MAGIC_NUMBER
other_magic = int(other_magic).to_bytes(2, "little") + b"\r\n"
old_magic = int(old_magic).to_bytes(2, "little") + b"\r\n"
def add(t, name, data=b"", kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    if kind == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
def make(name, mode, entries):
    with tarfile.open(os.path.join(tmp, name), mode) as t:
        for e in entries:
            add(t, *e)
make("wrongver.tar", "w", [("lib/", b"", tarfile.DIRTYPE), ("lib/python%s/" % other, b"", tarfile.DIRTYPE),
                           ("lib/python%s/os.py" % other, b"# os\n"), ("lib/python%s/json/__init__.py" % other, b"")])
make("soabi.tar.gz", "w:gz", [("lib/python3/dist-packages/m/_x.%s%s.so" % (other_tag, arch), b"\x7fELF"),
                              ("lib/python3/dist-packages/m/_y.%s.so" % soabi, b"\x7fELF"),
                              ("lib/python3/dist-packages/m/_z.abi3.so", b"\x7fELF"),
                              ("lib/libfoo.so", b"\x7fELF")])
make("pyc.tar.xz", "w:xz", [("lib/python3/dist-packages/m/__pycache__/a.%s.pyc" % tag, other_magic + b"\0" * 12),
                            ("lib/python3/dist-packages/m/__pycache__/b.%s.pyc" % other_tag, other_magic + b"\0" * 12),
                            ("lib/python3/dist-packages/m/__pycache__/c.%s.opt-1.pyc" % tag, good_magic + b"\0" * 12),
                            ("lib/python3/dist-packages/m/sourceless.pyc", old_magic + b"\0" * 12)])
make("dotdot.tar", "w", [("a/", b"", tarfile.DIRTYPE), ("a/../../evil", b"x")])
make("abslink.tar", "w", [("lib/", b"", tarfile.DIRTYPE), ("lib/passwd", b"", tarfile.SYMTYPE, "/etc/passwd")])
make("through.tar", "w", [("real/", b"", tarfile.DIRTYPE), ("d", b"", tarfile.SYMTYPE, "real"), ("d/file", b"x")])
make("fifo.tar", "w", [("p", b"", tarfile.FIFOTYPE)])
make("manifest.tar", "w", [("lib/x.txt", b"/old/prefix\n"),
                           (".python-mpi-relocate/m", b"python-mpi-relocate 1\nprefix /old/prefix\ntext lib/x.txt\nbinary lib/nope.so\n")])
# "prefix /": python-mpi's relocation refuses it; verify once passed it.
make("prefix-root.tar", "w", [("lib/x.txt", b"/bin/sh\n"),
                              (".python-mpi-relocate/m", b"python-mpi-relocate 1\nprefix /\ntext lib/x.txt\n")])
# A file named twice: each listing is one more rewrite (issue 21).
make("named-twice.tar", "w", [("lib/x.txt", b"/dev/shm\n"),
                              (".python-mpi-relocate/m", b"python-mpi-relocate 1\nprefix /dev/shm\ntext lib/x.txt\ntext ./lib/x.txt\n")])
make("empty.tar", "w", [])
# A parts bundle whose second part holds an entry with "..".
inner = io.BytesIO()
with tarfile.open(fileobj=inner, mode="w") as t:
    add(t, "ok.txt", b"fine")
    add(t, "../escape", b"x")
part = subprocess.run(["zstd", "-q", "-c"], input=inner.getvalue(), stdout=subprocess.PIPE, check=True).stdout
ok = io.BytesIO()
with tarfile.open(fileobj=ok, mode="w") as t:
    add(t, "fine.txt", b"fine")
ok_part = subprocess.run(["zstd", "-q", "-c"], input=ok.getvalue(), stdout=subprocess.PIPE, check=True).stdout
make("parts.ptar", "w", [(".python-mpi-parts", b"python-mpi parts bundle, version 1\n"),
                         ("part-0000.tar.zst", ok_part), ("part-0001.tar.zst", part)])
# One name twice (issue 21): a file, then the same spelled "./f"; a
# directory may repeat.  And the unpackers' race: part 0 makes a/b/s a
# file and hard-links zz-evil.pth to it again and again, part 1 (another
# unpacker, at the same time) makes a/b/s a link that leads outside from
# zz-evil.pth's depth.
make("twice.tar", "w", [("f", b"1"), ("d/", b"", tarfile.DIRTYPE), ("d/", b"", tarfile.DIRTYPE), ("./f", b"2"),
                        ("f", b"3")])
def zst(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for e in entries:
            add(t, *e)
    return subprocess.run(["zstd", "-q", "-c"], input=b.getvalue(), stdout=subprocess.PIPE, check=True).stdout
D = "lib/python3/dist-packages"
p0 = zst([(D + "/a/b/s", b"import os\n")] + [(D + "/zz-evil.pth", b"", tarfile.LNKTYPE, D + "/a/b/s")] * 3)
p1 = zst([(D + "/a/b/s", b"", tarfile.SYMTYPE, "../../../../../X.pth")])
make("race.ptar", "w", [(".python-mpi-parts", b"python-mpi parts bundle, version 1\n"),
                        ("part-0000.tar.zst", p0), ("part-0001.tar.zst", p1)])
PY
head -c $(($(stat -c %s "$RUNTIME") / 2)) "$RUNTIME" > "$TMP/truncated.tar.zst"

# bad NAME EXPECTED-LINE...: exit 1, exactly these problem lines on stderr.
bad() {
    local name=$1 b=$TMP/$1; shift
    local rc=0; "$PK" verify "$b" >"$TMP/o" 2>"$TMP/e" || rc=$?
    local want; want=$(for l in "$@"; do printf 'pkgroot: verify: %s: %s\n' "$b" "$l"; done)
    if [ $rc = 1 ] && [ "$(cat "$TMP/e")" = "$want" ]; then
        t_ok "$name: exit 1, $# problem line(s) as expected"
    else t_fail "$name (rc=$rc)" "$(printf 'expected:\n%s\ngot:\n' "$want"; cat "$TMP/e")"; fi
}
T="the target Python (the embedded libpython)"
ROOT_PREFIX="line 2: expected 'prefix /ABSOLUTE/PATH', not the root '/'"   # pm_manifest_parse's reason
O=$T_OTHER_VER OT=$T_OTHER_TAG A=${T_PYSOABI#"$T_PYTAG"}   # A: -x86_64-linux-gnu
bad wrongver.tar "lib/python$O: the standard library of Python $O, but $T is $T_PYVER: python-mpi refuses the tree"
bad soabi.tar.gz "lib/python3/dist-packages/m/_x.$OT$A.so: extension module for $OT$A, but $T is $T_PYSOABI: it would not be imported"
bad pyc.tar.xz \
    "lib/python3/dist-packages/m/__pycache__/a.$T_PYTAG.pyc: bytecode magic number $T_OTHER_MAGIC (Python $O), but $T reads $T_PYMAGIC: recompiled on every start, or an ImportError without its source" \
    "lib/python3/dist-packages/m/__pycache__/b.$OT.pyc: bytecode for $OT, but $T is $T_PYTAG: never used" \
    "lib/python3/dist-packages/m/sourceless.pyc: bytecode magic number $T_OLD_MAGIC (Python $T_OLD_VER), but $T reads $T_PYMAGIC: recompiled on every start, or an ImportError without its source"
bad dotdot.tar "a/../../evil: path leads outside the destination (the unpacker refuses it)"
bad abslink.tar "lib/passwd: symbolic link to '/etc/passwd' leads outside the destination (the unpacker refuses it)"
bad through.tar "d/file: would be written through the symbolic link 'd' (the unpacker refuses it)"
bad fifo.tar "p: refusing to create a FIFO (the unpacker refuses it)"
bad manifest.tar ".python-mpi-relocate/m: lists 'lib/nope.so', which is not a regular file in the bundle"
bad prefix-root.tar ".python-mpi-relocate/m: $ROOT_PREFIX"
bad named-twice.tar ".python-mpi-relocate/m: line 4: './lib/x.txt' named twice (first on line 3, as 'lib/x.txt')"
bad empty.tar "no entries (the unpacker refuses an empty archive)"
bad parts.ptar "../escape: path leads outside the destination (the unpacker refuses it)"
TWICE="the unpackers of a parts bundle may write both at once"
bad twice.tar "./f: the name appears twice in the bundle (a file, then a file); $TWICE"
bad race.ptar \
    "lib/python3/dist-packages/zz-evil.pth: the name appears twice in the bundle (a hard link, then a hard link); $TWICE" \
    "lib/python3/dist-packages/a/b/s: the name appears twice in the bundle (a file, then a symbolic link); $TWICE"
rc=0; "$PK" verify "$TMP/truncated.tar.zst" >"$TMP/o" 2>"$TMP/e" || rc=$?
[ $rc = 1 ] && [ "$(grep -c . "$TMP/e")" = 1 ] && grep -Eq "^pkgroot: verify: $TMP/truncated.tar.zst: [^:]+: .*\(the unpacker stops here\)$" "$TMP/e" &&
    t_ok "a truncated bundle: one line naming the entry, exit 1" || t_fail "truncated ($rc)" "$(cat "$TMP/e")"
rc=0; "$PK" verify "$RUNTIME" --max-size 1M >"$TMP/o" 2>"$TMP/e" || rc=$?
[ $rc = 1 ] && grep -Eq "^pkgroot: verify: $RUNTIME: [0-9]+ bytes unpacked, more than --max-size 1M$" "$TMP/e" &&
    t_ok "--max-size: a bundle too big for the node is a problem" || t_fail "--max-size ($rc)" "$(cat "$TMP/e")"
rc=0; "$PK" verify "$TMP/missing.tar" >"$TMP/o" 2>"$TMP/e" || rc=$?
[ $rc = 1 ] && [ "$(cat "$TMP/e")" = "pkgroot: verify: $TMP/missing.tar: cannot open bundle: No such file or directory" ] &&
    t_ok "a missing bundle: one line, exit 1" || t_fail "missing ($rc)" "$(cat "$TMP/e")"
grep -q ": PROBLEMS (above)$" "$TMP/o" || [ ! -s "$TMP/o" ] && t_ok "the summary says when there are problems" || t_fail "summary" "$(cat "$TMP/o")"
for args in "" "a b" "--no-such-option x"; do
    rc=0; "$PK" verify $args >/dev/null 2>&1 || rc=$?
    [ $rc = 2 ] && t_ok "verify ${args:-(no bundle)}: usage, exit 2" || t_fail "usage '$args' ($rc)"
done

# --- what verify refuses, python-mpi's unpacker refuses too --------------------
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME PYTHON_MPI_PKGROOT
for b in dotdot.tar abslink.tar through.tar fifo.tar parts.ptar race.ptar; do
    rc=0; PYTHON_MPI_CHROOT=$SHM PYTHON_MPI_PACKAGES=$TMP/$b timeout 60 "$MPIEXEC" -n 1 "$BIN/python-mpi" -c 'pass' \
        >/dev/null 2>"$TMP/e" || rc=$?
    [ $rc != 0 ] && grep -q "$TMP/$b: " "$TMP/e" && t_empty_dir "$SHM" &&
        t_ok "python-mpi refuses $b as well" || t_fail "python-mpi and $b ($rc)" "$(cat "$TMP/e")"
done
# ... and a manifest verify refuses, python-mpi's relocation refuses with the same reason.
rc=0; PYTHON_MPI_CHROOT=$SHM PYTHON_MPI_PACKAGES=$TMP/prefix-root.tar timeout 60 "$MPIEXEC" -n 1 "$BIN/python-mpi" -c 'pass' \
    >/dev/null 2>"$TMP/e" || rc=$?
[ $rc != 0 ] && [ "$(grep -c . "$TMP/e")" = 1 ] && grep -qF "/.python-mpi-relocate/m: $ROOT_PREFIX" "$TMP/e" && t_empty_dir "$SHM" &&
    t_ok "python-mpi refuses prefix-root.tar's manifest with verify's reason" || t_fail "python-mpi and prefix-root.tar ($rc)" "$(cat "$TMP/e")"
t_done verify
