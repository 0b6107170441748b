#!/bin/bash
# test_foreign.sh - red-team round 1, findings 7, 8, 3, 4 and 4b: our tools
# never run a program or import code another user chose (a pip/ package in
# the working directory, an external decompressor found on PATH), and never
# block on or trust a file another user controls (a FIFO, a bundle or list
# file of theirs in a directory everybody can write).
#
# As root: two users, a victim and an attacker (the pattern of
# test_security.sh); each attack set up by one and sprung by the other's
# ordinary use of the installed commands.  Every refusal is one line.
#
#   BUILD=build bash tests/security/test_foreign.sh
#   SEC_REPO=/work/main BUILD=/work/main/build bash ...  (the attacks against
#       another tree's build: there they work)
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=foreign; TAG=for
. "$(dirname "$0")/two_users.sh"
WW=/tmp/pmfor-$$-ww          # like /tmp: sticky, everybody writes
PROJ=/tmp/pmfor-$$-proj      # the attacker's, 0777, not sticky
SEC_CLEAN="$WW $PROJ /tmp/pmfor-$$-pwned-*"
finish() { sec_finish; }
mkdir -m 1777 "$WW"
# one_line FILE REGEX: exactly one line of output, matching
one_line() { [ "$(wc -l <"$1")" = 1 ] && grep -Eq "$2" "$1"; }
pwned() { ls /tmp/pmfor-$$-pwned-* 2>/dev/null; }
echo "# victim $V ($VU), attacker $A ($AU), build $BUILD from $SEC_REPO"

# A bundle of the victim's (their own sources) to start from.
as "$V" bash -c 'mkdir -p ~/src && echo "X = 1" > ~/src/mymod.py && umask 077 && pkgroot dir ~/mine.tar ~/src >/dev/null' ||
    t_fail "victim's own bundle"

# --- 7. pkgroot pip from a directory another user can write -------------------
as "$A" mkdir -p "$WW/pip"
as "$A" sh -c "echo 'open(\"/tmp/pmfor-$$-pwned-7\", \"w\")' > $WW/pip/__init__.py; cp $WW/pip/__init__.py $WW/pip/__main__.py; echo 'raise SystemExit(\"fake pip\")' >> $WW/pip/__main__.py"
as "$V" bash -c "cd $WW && pkgroot pip ~/out7.tar.zst no-such-project-$$" >"$SEC/7.out" 2>&1; rc=$?
if [ -z "$(pwned)" ] && [ $rc != 0 ] && ! grep -q "fake pip" "$SEC/7.out" && one_line "$SEC/7.out" '^pkgroot: .*pip exited with status' &&
   [ ! -e "$VH/out7.tar.zst" ]; then
    t_ok "7: pkgroot pip in a directory others write: their pip/ is never imported (-I, private cwd)"
else t_fail "7: pkgroot pip imported the working directory's pip" "rc=$rc $(cat "$SEC/7.out"; pwned)"; fi
rm -f /tmp/pmfor-$$-pwned-*
# relative paths still name the caller's files (pip runs elsewhere)
as "$V" bash -c "mkdir -p ~/w && cd ~/w && : > nope-1.0-py3-none-any.whl && pkgroot pip ~/out7b.tar ./nope-1.0-py3-none-any.whl --find-links ." >"$SEC/7b.out" 2>&1
if grep -q "located at $VH/w/nope-1.0-py3-none-any.whl is invalid" "$SEC/7b.out" && one_line "$SEC/7b.out" '^pkgroot: '; then
    t_ok "7: pip's relative operands are taken from the caller's directory"
else t_fail "7: relative operands" "$(cat "$SEC/7b.out")"; fi

# --- 8. external decompressors found on PATH -------------------------------------
EV=$VH/evil-bin
as "$V" mkdir -p "$EV"
for p in lrzip lzop grzip lz4 zstd gzip bzip2 xz uudecode lzip lzma; do
    as "$V" sh -c "printf '#!/bin/sh\ntouch /tmp/pmfor-$$-pwned-8-$p\nexit 1\n' > $EV/$p; chmod 755 $EV/$p"
done
as "$V" sh -c "printf 'LRZI\0\6\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > ~/b.tar.lrz"
as "$V" sh -c "printf '\211LZO\0\r\n\032\n\020\060\040\240\011\100\001\005\003\000\000\001\000\000\201\244\000\000\000\000\000\000\000\000\000' > ~/b.tar.lzo"
as "$V" sh -c "printf 'GRZipII\0\2\4:)\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > ~/b.tar.grz"
for f in b.tar.lrz b.tar.lzo b.tar.grz; do
    XPATH=$EV as "$V" timeout 60 mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p8 "$VH/$f" >"$SEC/8.out" 2>&1; rc1=$?
    XPATH=$EV as "$V" timeout 60 pkgroot verify "$VH/$f" >"$SEC/8v.out" 2>&1; rc2=$?
    XPATH=$EV as "$V" timeout 60 pkgroot ls "$VH/$f" >"$SEC/8l.out" 2>&1; rc3=$?
    if [ -z "$(pwned)" ] && [ $rc1 = 1 ] && [ $rc2 = 1 ] && [ $rc3 = 1 ] &&
       one_line "$SEC/8.out" "^bcast: rank 0 on [^:]+: $VH/$f: cannot read archive: Unrecognized archive format$" &&
       grep -q "Unrecognized archive format" "$SEC/8v.out" && one_line "$SEC/8l.out" "Unrecognized archive format$"; then
        t_ok "8: $f with fake decompressors first on PATH: refused in one line by bcast, verify, ls; nothing run"
    else t_fail "8: $f ran an external program" "$rc1 $rc2 $rc3 $(cat "$SEC/8.out" "$SEC/8v.out" "$SEC/8l.out"; pwned)"; fi
    rm -f /tmp/pmfor-$$-pwned-*
done
# the supported compressions still read (built in)
for c in gz bz2 xz zst; do
    as "$V" bash -c "umask 077; pkgroot dir ~/c.tar.$c ~/src >/dev/null" &&
    XPATH=$EV as "$V" timeout 60 mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p8c "$VH/c.tar.$c" >"$SEC/8c.out" 2>&1 &&
    [ -z "$(pwned)" ] && t_ok "8: .tar.$c is read by libarchive itself" || t_fail "8: .tar.$c" "$(cat "$SEC/8c.out"; pwned)"
done
as "$V" bash -c "umask 077; pkgroot --parts lz4 dir ~/c.ptar ~/src >/dev/null" &&
XPATH=$EV as "$V" timeout 60 mpiexec.mpich -n 2 bcast -p /dev/shm/$V-p8p "$VH/c.ptar" >"$SEC/8p.out" 2>&1 &&
XPATH=$EV as "$V" pkgroot verify "$VH/c.ptar" >>"$SEC/8p.out" 2>&1 && [ -z "$(pwned)" ] &&
    t_ok "8: an lz4 parts bundle is read by libarchive itself" || t_fail "8: lz4 parts" "$(cat "$SEC/8p.out"; pwned)"
rm -rf /dev/shm/$V-p8*

# --- 3. a FIFO (or device) as a bundle or list file: never blocks --------------------
as "$A" mkfifo "$WW/fifo.tar.zst"
fifo_case() {   # NAME EXPECTED-REGEX CMD...
    local name=$1 re=$2; shift 2
    as "$V" timeout 20 "$@" >"$SEC/3.out" 2>&1; local rc=$?
    if [ $rc != 124 ] && [ $rc != 0 ] && one_line "$SEC/3.out" "$re"; then t_ok "3: $name: one line, no wait"
    else t_fail "3: $name" "rc=$rc $(cat "$SEC/3.out")"; fi
}
NR="$WW/fifo.tar.zst: not a regular file"
fifo_case "bcast FIFO" "^bcast: rank 0 on [^:]+: $NR$" mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p3 "$WW/fifo.tar.zst"
fifo_case "bcast -f FIFO" "^bcast: rank 0 on [^:]+: $NR$" mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p3 -f "$WW/fifo.tar.zst"
fifo_case "pkgroot verify FIFO" "^pkgroot: verify: $NR$" pkgroot verify "$WW/fifo.tar.zst"
fifo_case "pkgroot ls FIFO" "$NR$" pkgroot ls "$WW/fifo.tar.zst"
fifo_case "python-mpi PYTHON_MPI_PACKAGES=FIFO" "^python-mpi: rank 0 on [^:]+: $NR$" \
    env PYTHON_MPI_PACKAGES="$WW/fifo.tar.zst" mpiexec.mpich -n 1 python-mpi -c 'print(1)'
fifo_case "bcast /dev/zero" "^bcast: rank 0 on [^:]+: /dev/zero: not a regular file" mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p3 /dev/zero
rm -rf /dev/shm/$V-p3

# --- 4. another user's bundle in a directory everybody can write --------------------
as "$A" bash -c "mkdir -p ~/e && echo 'import os; open(\"/tmp/pmfor-$$-pwned-4-%d\" % os.getuid(), \"w\"); X = 666' > ~/e/mymod.py && pkgroot dir $WW/code.tar ~/e >/dev/null && chmod 644 $WW/code.tar"
as "$V" pkgroot dir "$WW/code.tar" "$VH/src" >"$SEC/4p.out" 2>&1; rc=$?
if [ $rc != 0 ] && one_line "$SEC/4p.out" "^pkgroot: .*$WW/code.tar: cannot rename into place: Operation not permitted$" &&
   [ "$(stat -c %u "$WW/code.tar")" = "$AU" ] && [ -z "$(find "$WW" -user "$V")" ]; then
    t_ok "4: pkgroot over another user's OUT in /tmp fails in one line, non-zero, nothing left"
else t_fail "4: pkgroot over another user's OUT" "rc=$rc $(cat "$SEC/4p.out")"; fi
REF="refusing to read the (bundle|list file): it is owned by uid $AU and its directory"
refused() {   # NAME FILE: exactly the one refusal, and the attacker's code never ran
    if [ -z "$(pwned)" ] && one_line "$2" "$REF .* is writable by everybody \(move it to a directory that is yours\)$"; then
        t_ok "4: $1 refused in one line"
    else t_fail "4: $1" "$(cat "$2"; pwned)"; fi
    rm -f /tmp/pmfor-$$-pwned-*
}
as "$V" env PYTHON_MPI_PACKAGES="$WW/code.tar" timeout 60 mpiexec.mpich -n 2 python-mpi -c 'import mymod; print("X =", mymod.X)' >"$SEC/4.out" 2>&1
refused "python-mpi PYTHON_MPI_PACKAGES=/tmp/THEIRS (sticky)" "$SEC/4.out"
as "$V" timeout 60 mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p4 "$WW/code.tar" >"$SEC/4b.out" 2>&1
refused "bcast /tmp/THEIRS" "$SEC/4b.out"
as "$V" timeout 60 pkgroot verify "$WW/code.tar" >"$SEC/4v.out" 2>&1
refused "pkgroot verify /tmp/THEIRS" "$SEC/4v.out"
as "$A" sh -c "echo $VH/mine.tar > $WW/list.txt; chmod 644 $WW/list.txt"
as "$V" timeout 60 mpiexec.mpich -n 1 bcast -p /dev/shm/$V-p4 -f "$WW/list.txt" >"$SEC/4f.out" 2>&1
refused "bcast -f /tmp/THEIR-LIST" "$SEC/4f.out"

# --- 4b. the victim's bundle in a 0777 directory the attacker owns, swapped ----------
# Refused by the resolver (trust.h) before anything is opened: any name in a
# directory everybody can write, not sticky, can be replaced.
replaceable() {   # NAME FILE
    if [ -z "$(pwned)" ] && one_line "$2" "$PROJ is writable by other users and not sticky \(mode 0777\): anyone there can replace $PROJ/[a-z.]+$"; then
        t_ok "4b: $1 refused in one line"
    else t_fail "4b: $1" "$(cat "$2"; pwned)"; fi
}
as "$A" mkdir -m 0777 "$PROJ"
# pkgroot refuses to write there (anyone could replace the bundle), so the
# victim copies it in, as a user would; then the attacker swaps it.
as "$V" bash -c "umask 077; pkgroot dir $PROJ/code.tar ~/src" >"$SEC/4w.out" 2>&1
replaceable "pkgroot writing into a 0777 directory (not sticky)" "$SEC/4w.out"
as "$V" cp "$VH/mine.tar" "$PROJ/code.tar" || t_fail "4b: the victim's copy into $PROJ"
as "$A" bash -c "pkgroot dir ~/new.tar ~/e >/dev/null && chmod 644 ~/new.tar && mv -f ~/new.tar $PROJ/code.tar"
as "$V" env PYTHON_MPI_PACKAGES="$PROJ/code.tar" timeout 60 mpiexec.mpich -n 1 python-mpi -c 'import mymod; print(mymod.X)' >"$SEC/4c.out" 2>&1
replaceable "python-mpi: a bundle swapped in a 0777 directory (not sticky)" "$SEC/4c.out"

# --- still allowed: a bundle another user shares from their own directory ----------
SH=/tmp/pmfor-$$-shared
as "$A" mkdir -m 0755 "$SH"
as "$A" bash -c "mkdir -p ~/s && echo 'Y = 2' > ~/s/sharedmod.py && pkgroot dir $SH/shared.tar ~/s >/dev/null && chmod 644 $SH/shared.tar"
as "$V" env PYTHON_MPI_PACKAGES="$SH/shared.tar:$VH/mine.tar" timeout 60 mpiexec.mpich -n 1 python-mpi \
    -c 'import sharedmod, mymod; print(sharedmod.Y, mymod.X)' >"$SEC/ok.out" 2>&1
if [ "$(cat "$SEC/ok.out")" = "2 1" ]; then
    t_ok "a bundle another user shares from their own 0755 directory, and one's own: delivered"
else t_fail "shared bundle from the owner's directory" "$(cat "$SEC/ok.out")"; fi
rm -rf /dev/shm/$V-p*
finish
