#!/bin/bash
# test_security.sh - issue 12: on a node shared with other users, nobody
# else can run code as you or steer python-mpi's tools outside your tree.
#
# As root it makes two unprivileged users, a victim and an attacker, and
# installs the build where both can run it; each attack is set up as one
# user and sprung by the other's ordinary use of the installed commands
# (`runuser -u NAME --`).  Every attack is expected to be refused with its
# exact one-line message (docs/failures.md) and to leave no trace of
# success.  Both users and everything they made go at the end, whatever
# happens (trap).  Nothing is skipped silently: a check that cannot run is
# a failure, and the closing line counts skips.
#
#   BUILD=build bash tests/security/test_security.sh
#   SEC_REPO=/old/checkout BUILD=/old/checkout/build bash ...  (the same
#       attacks against another tree's build: every one should succeed there)
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=security; TAG=sec
. "$(dirname "$0")/two_users.sh"
SEC_CLEAN="/tmp/pmsec-$$-ww"
HOST=$(hostname)
R="rank [0-9?]+ on [^:]+"     # the rank/node part of every diagnostic
ACT=$INST/share/python-mpi/activate.sh
MPI1="timeout 120 mpiexec.mpich -n 1"   # split on purpose: as "$V" $MPI1 PROG...

# Bundles the attacker makes and shares (readable by the victim).
AD=/tmp/pmsec-$$-attacker
as "$A" mkdir -m 0755 "$AD"
mkbundle() {   # NAME PYTHON-CODE (builds with tarfile, as the attacker)
    as "$A" python3 - "$AD/$1" <<PY
import io, sys, tarfile
out = sys.argv[1]
def reg(t, name, data, mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; t.addfile(i, io.BytesIO(data))
def sym(t, name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
def hard(t, name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target; t.addfile(i)
def dir_(t, name, mode=0o755):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = mode; t.addfile(i)
mode = "w:gz" if out.endswith(".gz") else "w"
with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as t:
$2
PY
}
# The victim's own work directory (private) and a bundle of theirs.
VD=/tmp/pmsec-$$-victim
as "$V" mkdir -m 0700 "$VD"
out_is() {   # NAME EXPECTED-REGEX FILE: the first diagnostic line is the refusal
    grep -E '^(python-mpi|bcast): rank [0-9?]+ on [^:]+: ' "$3" | head -n 1 | grep -Eq "$2"
}

echo "# victim $V ($VU), attacker $A ($AU), build $BUILD from $SEC_REPO"

# --- 1. activate.sh and a prefix someone else made --------------------------
P1=/dev/shm/$V-py
as "$A" mkdir -p "$P1/bin"
for tool in mpiexec.mpich rm bcast python-mpi; do
    as "$A" sh -c "printf '#!/bin/sh\ntouch /tmp/pmsec-$$-pwned-1-$tool\nexit 0\n' > $P1/bin/$tool; chmod 755 $P1/bin/$tool"
done
as "$A" chmod -R a+rX "$P1"
mkbundle small.tar '    reg(t, "lib/python3/dist-packages/smallmod/__init__.py", b"X = 1\n")'
as "$V" bash -c 'source "$1" "$2" "mpiexec.mpich -n 1" || exit 1; python_mpi_runtime "$3"; python_mpi_cleanup' \
    x "$ACT" "$P1" "$AD/small.tar" >"$SEC/1.out" 2>&1
pwned=$(ls /tmp/pmsec-$$-pwned-1-* 2>/dev/null)
if [ -z "$pwned" ] && [ "$(cat "$SEC/1.out")" = "activate.sh: refusing to use $P1: $P1 is owned by uid $AU, not $VU" ] &&
   [ -x "$P1/bin/rm" ]; then
    t_ok "1: activate.sh refuses a predictable prefix another user made; none of its tools ran"
else t_fail "1: activate.sh prefix planted by another user" "$(cat "$SEC/1.out"; echo "ran: $pwned")"; fi
rm -f /tmp/pmsec-$$-pwned-1-*
# The documented way: "-" is the private per-user directory, 0700.
RUNTIME=$(t_runtime_bundle) && cp "$RUNTIME" "$SEC/runtime.tar.zst" && chmod 0644 "$SEC/runtime.tar.zst" || t_fail "runtime bundle"
as "$V" bash -c 'source "$1" - "mpiexec.mpich -n 1" && python_mpi_runtime "$3" && python_mpi_packages "$2" &&
    python-mpi -c "import smallmod, sys; print(\"prefix\", sys.prefix, smallmod.__file__.startswith(sys.prefix))" &&
    stat -c "mode %a %a" "$_PM_PREFIX" "${_PM_PREFIX%/*}"; python_mpi_cleanup' \
    x "$ACT" "$AD/small.tar" "$SEC/runtime.tar.zst" >"$SEC/1b.out" 2>&1
if grep -Eqx "prefix /dev/shm/python-mpi-$VU/py-[0-9]+ True" "$SEC/1b.out" && grep -qx "mode 700 700" "$SEC/1b.out"; then
    t_ok "1: activate.sh - puts the prefix in /dev/shm/python-mpi-UID (0700), and python-mpi runs on it"
else t_fail "1: activate.sh default prefix" "$(cat "$SEC/1b.out")"; fi

# --- 2. a hard link to a symbolic link ---------------------------------------
mkbundle hardsym.tar '    sym(t, "a/b/c/s", "../../..")
    hard(t, "h", "a/b/c/s")'
P2=$VD/p2
as "$V" $MPI1 bcast -p "$P2" "$AD/small.tar" >/dev/null 2>&1    # a prefix that already holds files
as "$V" $MPI1 bcast -p "$P2" "$AD/hardsym.tar" >"$SEC/2.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -L "$P2/h" ] && [ ! -e "$P2/h" ] &&
   out_is 2 "^bcast: $R: $AD/hardsym.tar: entry 'h': hard link to 'a/b/c/s', which is a symbolic link$" "$SEC/2.out"; then
    t_ok "2: a hard link to a symbolic link is refused (it would lead outside the tree)"
else t_fail "2: hard link to a symlink (rc=$rc)" "$(cat "$SEC/2.out"; ls -la "$P2" 2>&1 | head)"; fi
# ... and with a relocation manifest, the leader rewrote a victim's file
# through it: here, one in the victim's home.
as "$V" sh -c "echo 'secret /opt/attacker' > $VH/precious"
# The tree is 4 levels down ($VD/d1/p2b): a contained link 4 levels deep
# climbs to the tree's root, and the same text at the top climbs to /.
mkbundle hardsym-reloc.tar "    sym(t, 'a/b/c/d/s', '../../../..')
    hard(t, 'h', 'a/b/c/d/s')
    reg(t, '.python-mpi-relocate/x', b'python-mpi-relocate 1\nprefix /opt/attacker\ntext h${VH}/precious\n')"
P2b=$VD/d1/p2b
as "$V" mkdir -p "$VD/d1"
as "$V" $MPI1 bcast -p "$P2b" "$AD/small.tar" >/dev/null 2>&1
as "$V" $MPI1 bcast -p "$P2b" "$AD/hardsym-reloc.tar" >"$SEC/2b.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ "$(cat "$VH/precious")" = "secret /opt/attacker" ] &&
   out_is 2b "^bcast: $R: $AD/hardsym-reloc.tar: entry 'h': hard link to 'a/b/c/d/s', which is a symbolic link$" "$SEC/2b.out"; then
    t_ok "2: ... so a relocation manifest cannot rewrite a file outside the tree through it"
else t_fail "2: relocation through a hard-linked symlink (rc=$rc)" "$(cat "$SEC/2b.out"; cat "$VH/precious")"; fi
as "$V" pkgroot verify --python-mpi "$INST/bin/python-mpi" "$AD/hardsym.tar" >"$SEC/2c.out" 2>&1; rc=$?
if [ $rc = 1 ] && grep -qx "pkgroot: verify: $AD/hardsym.tar: h: hard link to 'a/b/c/s', which is a symbolic link (the unpacker refuses it)" "$SEC/2c.out"; then
    t_ok "2: pkgroot verify reports the hard link to a symbolic link"
else t_fail "2: pkgroot verify (rc=$rc)" "$(cat "$SEC/2c.out")"; fi

# --- 3. inherited PYTHON_MPI_HOME / PYTHONHOME --------------------------------
EVIL=/dev/shm/pmsec-$$-tree
as "$A" /usr/bin/python3 - "$EVIL" "/tmp/pmsec-$$-pwned-3" <<'PY'
import os, sys, sysconfig
tree, mark = sys.argv[1], sys.argv[2]
std = sysconfig.get_paths()["stdlib"]
lib = os.path.join(tree, "lib", os.path.basename(std))
os.makedirs(lib)
for name in os.listdir(std):
    if name != "encodings":
        os.symlink(os.path.join(std, name), os.path.join(lib, name))
enc = os.path.join(lib, "encodings")
os.mkdir(enc)
for name in os.listdir(os.path.join(std, "encodings")):
    if name.endswith(".py"):
        with open(os.path.join(std, "encodings", name)) as f:
            text = f.read()
        if name == "__init__.py":
            # builtins.open does not exist yet when encodings is imported
            text = ("import posix as _p\n_f = _p.open(%r, _p.O_WRONLY | _p.O_CREAT | _p.O_APPEND, 0o644)\n"
                    "_p.write(_f, b'ran as uid %%d\\n' %% _p.geteuid()); _p.close(_f)\n" % mark) + text
        with open(os.path.join(enc, name), "w") as f:
            f.write(text)
os.system("chmod -R a+rX " + tree)
PY
as "$V" env PYTHON_MPI_HOME="$EVIL" timeout 60 mpiexec.mpich -n 1 python-mpi -c 'print("ran")' >"$SEC/3.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "/tmp/pmsec-$$-pwned-3" ] &&
   out_is 3 "^python-mpi: $R: $EVIL: refusing to use PYTHON_MPI_HOME: $EVIL is owned by uid $AU, not $VU$" "$SEC/3.out"; then
    t_ok "3: an inherited PYTHON_MPI_HOME another user made is refused; none of its code ran"
else t_fail "3: PYTHON_MPI_HOME (rc=$rc)" "$(cat "$SEC/3.out" "/tmp/pmsec-$$-pwned-3" 2>&1)"; fi
rm -f "/tmp/pmsec-$$-pwned-3"
as "$V" env PYTHONHOME="$EVIL" timeout 60 mpiexec.mpich -n 1 python-mpi -c 'print("ran")' >"$SEC/3b.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "/tmp/pmsec-$$-pwned-3" ] &&
   grep -Eq "^python-mpi: $R: $EVIL: refusing to use PYTHONHOME: $EVIL is owned by uid $AU$" "$SEC/3b.out"; then
    t_ok "3: an inherited PYTHONHOME another user made is refused; none of its code ran"
else t_fail "3: PYTHONHOME (rc=$rc)" "$(cat "$SEC/3b.out" "/tmp/pmsec-$$-pwned-3" 2>&1)"; fi
rm -f "/tmp/pmsec-$$-pwned-3"
# The watcher's command line names no tree (ps shows every user's).
as "$V" env PYTHON_MPI_PACKAGES="$SEC/runtime.tar.zst" timeout 120 mpiexec.mpich -n 1 python-mpi \
    -c 'import time; open("'"$VD"'/3c.up", "w").close(); time.sleep(6)' >/dev/null 2>&1 &
jobpid=$!
for _ in $(seq 600); do [ -e "$VD/3c.up" ] && break; sleep 0.1; done
seen=$(as "$A" ps -eo args= | grep -- "^$INST/bin/python-mpi --python-mpi-reaper")   # ours, not other suites
wait $jobpid
if [ -e "$VD/3c.up" ] && [ -n "$seen" ] && ! printf '%s\n' "$seen" | grep -q "/dev/shm"; then
    t_ok "3: the clean-up watcher's command line, as another user sees it in ps, names no tree"
else t_fail "3: watcher argv" "seen by $A: ${seen:-no watcher found}"; fi

# --- 4. bcast -p checks every directory above the prefix ---------------------
as "$A" ln -s "$VH" "/tmp/pmsec-$$-link"
as "$V" $MPI1 bcast -p "/tmp/pmsec-$$-link/p4" "$AD/small.tar" >"$SEC/4.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$VH/p4" ] &&
   out_is 4 "^bcast: $R: /tmp/pmsec-$$-link/p4: refusing to use: /tmp/pmsec-$$-link is a symbolic link$" "$SEC/4.out"; then
    t_ok "4: bcast -p refuses a prefix under another user's symbolic link (nothing written where it leads)"
else t_fail "4: prefix under a planted symlink (rc=$rc)" "$(cat "$SEC/4.out"; ls -la "$VH")"; fi
WW=/tmp/pmsec-$$-ww
mkdir -m 0777 "$WW"; chmod 0777 "$WW"   # a shared scratch directory, not sticky
as "$V" $MPI1 bcast -p "$WW/p4" "$AD/small.tar" >"$SEC/4b.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$WW/p4" ] &&
   out_is 4b "^bcast: $R: $WW/p4: refusing to use: $WW is writable by other users \\(mode 0777\\)$" "$SEC/4b.out"; then
    t_ok "4: bcast -p refuses a prefix whose parent others can write (they could swap it)"
else t_fail "4: prefix under a world-writable parent (rc=$rc)" "$(cat "$SEC/4b.out")"; fi
# A user directory someone else made: python-mpi refuses it.  (The
# victim's own stays between its jobs, so the name is free only on a node
# where the victim has not run yet: as here once it is gone.)
rm -rf "/dev/shm/python-mpi-$VU"
as "$A" mkdir -m 0755 "/dev/shm/python-mpi-$VU"
as "$V" env PYTHON_MPI_PACKAGES="$AD/small.tar" timeout 60 mpiexec.mpich -n 1 python-mpi -c 'print("ran")' >"$SEC/4c.out" 2>&1; rc=$?
if [ $rc != 0 ] && ! grep -qx ran "$SEC/4c.out" &&
   out_is 4c "^python-mpi: $R: /dev/shm/python-mpi-$VU: refusing to use: /dev/shm/python-mpi-$VU is owned by uid $AU, not $VU$" "$SEC/4c.out"; then
    t_ok "4: python-mpi refuses a per-user directory that another user claimed"
else t_fail "4: claimed per-user directory (rc=$rc)" "$(cat "$SEC/4c.out")"; fi
rm -rf "/dev/shm/python-mpi-$VU"

# --- 5. node-cache stamps ------------------------------------------------------
mkbundle b5.tar '    reg(t, "b5-content", b"the real B\n")'
st=$(stat -c '%s %Y %i %d' "$AD/b5.tar"); read -r sz mt ino dev <<< "$st"
# forged stamps for b5.tar, in both the old and the new line format
mkbundle a5.tar "    reg(t, '.python-mpi-stamps', b'$sz $mt 0 $ino $dev 0000000000000000 $AD/b5.tar\n$sz $mt 0 0 0 $ino $dev 0000000000000000 $AD/b5.tar\n')
    reg(t, 'a5-content', b'A\n')"
touch -d "@$mt" "$AD/b5.tar"
P5=$VD/p5
as "$V" $MPI1 bcast -p "$P5" "$AD/a5.tar" >"$SEC/5.out" 2>&1; rc=$?
as "$V" $MPI1 bcast -p "$P5" "$AD/b5.tar" >"$SEC/5-b.out" 2>&1
if [ $rc != 0 ] && [ -f "$P5/b5-content" ] &&
   out_is 5 "^bcast: $R: $AD/a5.tar: entry '.python-mpi-stamps': the name '.python-mpi-stamps' is reserved for python-mpi's own files$" "$SEC/5.out"; then
    t_ok "5: a bundle cannot ship .python-mpi-stamps (forged stamps made a later bcast skip a bundle)"
else t_fail "5: forged stamps (rc=$rc)" "$(cat "$SEC/5.out" "$SEC/5-b.out"; ls -la "$P5")"; fi
# A bundle rewritten in place with its mtime restored is not 'already there'.
P5b=$VD/p5b
as "$V" python3 -c 'import tarfile, io, sys
with tarfile.open(sys.argv[1], "w") as t:
    i = tarfile.TarInfo("v"); d = b"version 1\n"; i.size = len(d); t.addfile(i, io.BytesIO(d))' "$VD/b5b.tar"
as "$V" $MPI1 bcast -p "$P5b" "$VD/b5b.tar" >/dev/null 2>&1
# in place (same inode, same size), then the exact old mtime put back
as "$V" python3 -c 'import os, sys
p = sys.argv[1]; st = os.stat(p); d = open(p, "rb").read(); i = d.index(b"version 1")
with open(p, "r+b") as f: f.seek(i); f.write(b"version 2")
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))' "$VD/b5b.tar"
as "$V" $MPI1 bcast -v -p "$P5b" "$VD/b5b.tar" >"$SEC/5b.out" 2>&1
if [ "$(cat "$P5b/v" 2>/dev/null)" = "version 2" ] && ! grep -q "nothing sent" "$SEC/5b.out"; then
    t_ok "5: a bundle rewritten with its mtime restored is delivered again (ctime is part of its identity)"
else t_fail "5: stale stamp" "$(cat "$SEC/5b.out" "$P5b/v" 2>&1)"; fi

# --- 6. PYTHON_MPI_TIMING=json:PATH and planted links ---------------------------
as "$V" sh -c "echo precious > $VH/timing-target"
TJ=/tmp/pmsec-$$-timing.json
# The old name was PATH.tmp.PID: a link for every possible pid.
as "$A" python3 -c 'import os, sys
for p in range(2, int(open("/proc/sys/kernel/pid_max").read()) + 1):
    os.symlink(sys.argv[2], "%s.tmp.%d" % (sys.argv[1], p))' "$TJ" "$VH/timing-target"
as "$V" env PYTHON_MPI_TIMING="json:$TJ" timeout 60 mpiexec.mpich -n 1 python-mpi -c pass >"$SEC/6.out" 2>&1; rc=$?
if [ $rc = 0 ] && [ "$(cat "$VH/timing-target")" = precious ] && [ -f "$TJ" ] && [ ! -L "$TJ" ] &&
   [ "$(stat -c %u "$TJ")" = "$VU" ] && grep -q '"python_mpi_timing": 1' "$TJ"; then
    t_ok "6: PYTHON_MPI_TIMING=json:PATH never writes through links planted at its temporary names"
else t_fail "6: timing file (rc=$rc)" "$(cat "$SEC/6.out"; echo "target: $(cat "$VH/timing-target")"; ls -la "$TJ")"; fi
find /tmp -maxdepth 1 -name "${TJ##*/}.tmp.*" -delete

# --- 7. the internal watcher mode ---------------------------------------------
as "$V" mkdir -p "$VH/work/important"
as "$V" sh -c "echo data > $VH/work/important/file"
as "$V" python-mpi --python-mpi-reaper "$VH/work/important" </dev/null >"$SEC/7.out" 2>&1; rc=$?
if [ $rc = 2 ] && [ -f "$VH/work/important/file" ] &&
   [ "$(cat "$SEC/7.out")" = "python-mpi-reaper: rank ? on $HOST: --python-mpi-reaper: refusing to act: unexpected arguments (no path is ever given on the command line)" ]; then
    t_ok "7: python-mpi --python-mpi-reaper DIR removes nothing (no path is taken from the command line)"
else t_fail "7: watcher with a path (rc=$rc)" "$(cat "$SEC/7.out"; ls -la "$VH/work" 2>&1)"; fi
as "$V" mkdir -p -m 0700 "/dev/shm/python-mpi-$VU/run7"
as "$V" sh -c "printf 'python-mpi-reaper 1 1 run7\n' | python-mpi --python-mpi-reaper 3</dev/shm" >"$SEC/7b.out" 2>&1; rc=$?
if [ $rc = 2 ] && [ -d "/dev/shm/python-mpi-$VU/run7" ] &&
   [ "$(cat "$SEC/7b.out")" = "python-mpi-reaper: rank ? on $HOST: --python-mpi-reaper: refusing to act: not started by python-mpi or bcast" ]; then
    t_ok "7: the watcher acts only when started by python-mpi or bcast (its pipe's other end is its parent's)"
else t_fail "7: watcher started by hand (rc=$rc)" "$(cat "$SEC/7b.out")"; fi
rm -rf "/dev/shm/python-mpi-$VU"

# --- 8. limits -----------------------------------------------------------------
as "$A" python3 - "$AD/grow.tar.gz" <<'PY'
import io, sys, tarfile
body = b"/p" * (2 << 20)           # 4 MiB, a few KiB compressed
man = b"python-mpi-relocate 1\nprefix /p\ntext big.txt\n"
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as t:
    for name, data in (("big.txt", body), (".python-mpi-relocate/x", man)):
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
PY
P8=$VD/p8
as "$V" $MPI1 bcast -p "$P8" "$AD/grow.tar.gz" >"$SEC/8.out" 2>&1; rc=$?
size=$(stat -c %s "$P8/big.txt" 2>/dev/null || echo 0)
if [ $rc != 0 ] && [ "$size" -le $((4 << 20)) ] && [ "$(stat -c %s "$AD/grow.tar.gz")" -lt 65536 ] &&
   out_is 8 "^bcast: $R: $P8/big.txt: cannot relocate: it would grow from 4194304 to [0-9]+ bytes \\(the limit is twice its size plus 64 KiB\\)$" "$SEC/8.out"; then
    t_ok "8: relocation cannot grow a small bundle's file without bound"
else t_fail "8: relocation growth (rc=$rc, big.txt $size bytes)" "$(cat "$SEC/8.out")"; fi
mkbundle dot.tar '    dir_(t, ".", 0o755)
    dir_(t, "./", 0o777)
    reg(t, "f", b"x\n")'
P8b=$VD/p8b
as "$V" $MPI1 bcast -p "$P8b" "$AD/dot.tar" >"$SEC/8b.out" 2>&1; rc=$?
if [ $rc = 0 ] && [ "$(stat -c %a "$P8b")" = 700 ] && [ -f "$P8b/f" ]; then
    t_ok "8: a '.' entry does not change the prefix's mode (stays 0700)"
else t_fail "8: '.' entry (rc=$rc, mode $(stat -c %a "$P8b" 2>&1))" "$(cat "$SEC/8b.out")"; fi
as "$A" python3 - "$AD/twomeg.tar.gz" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    i = tarfile.TarInfo("big"); d = bytes(2 << 20); i.size = len(d); t.addfile(i, io.BytesIO(d))
PY
P8c=$VD/p8c
as "$V" env PYTHON_MPI_MAX_UNPACKED=1M timeout 60 mpiexec.mpich -n 1 bcast -p "$P8c" "$AD/twomeg.tar.gz" >"$SEC/8c.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$P8c/big" ] &&
   out_is 8c "^bcast: $R: $AD/twomeg.tar.gz: entry 'big': the bundle unpacks to more than 1048576 bytes, the limit \\(PYTHON_MPI_MAX_UNPACKED, default the size of $P8c's file system\\)$" "$SEC/8c.out"; then
    t_ok "8: PYTHON_MPI_MAX_UNPACKED caps what a bundle may unpack to"
else t_fail "8: PYTHON_MPI_MAX_UNPACKED (rc=$rc)" "$(cat "$SEC/8c.out")"; fi
# By default the cap is the size of the node-local file system: a sparse
# entry larger than all of it (a few KiB of tar) is refused before writing.
read -r fsb fss <<< "$(stat -f -c '%b %S' "$VD")"; fs=$((fsb * fss))
if as "$A" sh -c "cd $AD && truncate -s $((fs + (1 << 30))) huge && tar --sparse -cf sparse.tar huge && rm huge"; then
    P8d=$VD/p8d
    as "$V" $MPI1 bcast -p "$P8d" "$AD/sparse.tar" >"$SEC/8d.out" 2>&1; rc=$?
    if [ $rc != 0 ] && [ ! -e "$P8d/huge" ] &&
       out_is 8d "^bcast: $R: $AD/sparse.tar: entry 'huge': the bundle unpacks to more than $fs bytes" "$SEC/8d.out"; then
        t_ok "8: by default no bundle unpacks to more than the node-local file system holds"
    else t_fail "8: default size cap (rc=$rc)" "$(cat "$SEC/8d.out"; ls -la "$P8d" 2>&1 | head -3)"; fi
else t_fail "8: could not make a sparse tar (GNU tar --sparse)"; fi

# --- 9. two users' parts bundles on one node at once ------------------------
# Each job's unpackers share a ring in /dev/shm (MPI-3 windows): two users'
# jobs of the same .ptar (lz4 parts), 2 ranks each, started together, 10
# times; one ends normally, the other with sys.exit(4) on rank 1.  Each
# must run on its own tree, in its own /dev/shm/python-mpi-UID, gone after.
"$INST/bin/pkgroot" python "$SEC/runtime.ptar" >/dev/null 2>&1 && chmod 0644 "$SEC/runtime.ptar" ||
    t_fail "9: pkgroot python runtime.ptar"
prog='import os, sys
r = os.environ["PMI_RANK"]
print(r, sys.prefix, os.stat(sys.prefix).st_uid, os.__file__.startswith(sys.prefix))
sys.exit(int(os.environ.get("END_" + r, "0")))'
t_empty_dir "/dev/shm/python-mpi-$VU" && t_empty_dir "/dev/shm/python-mpi-$AU" ||
    t_fail "9: /dev/shm/python-mpi-UID not empty before" "$(ls -A /dev/shm/python-mpi-"$VU" /dev/shm/python-mpi-"$AU")"
bad9=
for i in $(seq 10); do
    as "$V" env PYTHON_MPI_PACKAGES="$SEC/runtime.ptar" timeout 120 mpiexec.mpich -n 2 python-mpi -c "$prog" \
        >"$SEC/9v.out" 2>&1 &
    vpid=$!
    as "$A" env PYTHON_MPI_PACKAGES="$SEC/runtime.ptar" END_1=4 timeout 120 mpiexec.mpich -n 2 python-mpi -c "$prog" \
        >"$SEC/9a.out" 2>&1; arc=$?
    wait $vpid; vrc=$?
    # (rank 1's exit aborts the job, maybe before rank 0 prints: only rank
    # 1's line is sure there)
    for who in "v $VU $vrc 0 [01]" "a $AU $arc 4 1"; do
        read -r tag uid rc want ranks <<< "$who"
        n=$(grep -Ec "^$ranks /dev/shm/python-mpi-$uid/[^ ]+ $uid True$" "$SEC/9$tag.out")
        [ "$rc" = "$want" ] && [ "$n" = "$((${#ranks} > 1 ? 2 : 1))" ] ||
            bad9="run $i, uid $uid: rc $rc (want $want), $n rank(s) seen on their own tree
$(cat "$SEC/9$tag.out")"
    done
    # An aborted job's tree goes with its reaper, just after.
    t_wait_empty "/dev/shm/python-mpi-$VU" && t_wait_empty "/dev/shm/python-mpi-$AU" ||
        bad9="${bad9:-run $i: a tree was left: $(ls -A /dev/shm/python-mpi-"$VU" /dev/shm/python-mpi-"$AU" 2>&1)}"
    [ -z "$bad9" ] || break
done
if [ -z "$bad9" ]; then
    t_ok "9: two users' .ptar jobs at once on one node (x10): each on its own tree, sys.exit(4) and 0 kept, trees removed"
else t_fail "9: two users' .ptar jobs at once" "$bad9"; fi

t_done security
[ "$T_FAILED" -eq 0 ]
