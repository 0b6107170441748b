#!/bin/bash
# test_trust_paths.sh - issue 21: paths a user hands over, modes, and the
# environment after activate.sh, on a node shared with another user.
#
# As root it makes two unprivileged users, a victim and an attacker, and
# installs the build where both can run it (as tests/security/
# test_security.sh does).  Checked:
#   - a symbolic link in a sticky shared directory (/tmp, /dev/shm) that
#     the other user made is not followed for PYTHONHOME (issue 21 item 5),
#     PYTHON_MPI_CHROOT, PYTHON_MPI_PKGROOT, a bundle path or bcast -p; one
#     of the victim's own, or root's, still is; no entry of a 0777
#     non-sticky directory is used (red-team 5); activate.sh resolves
#     PYTHON_MPI_CHROOT under the same rule (red-team 15);
#   - bundles (pkgroot) and PYTHON_MPI_TIMING=json:PATH follow the umask;
#   - a per-user directory another user made 0700 is named by its owner;
#   - pkgroot dir warns about another user's link to outside the tree;
#   - python_mpi_cleanup leaves the environment as it was before
#     activate.sh, and the per-user directory in place, 0700.
# Both users and everything they made go at the end (trap).
#
#   BUILD=build bash tests/security/test_trust_paths.sh
#   cp -a /work/main /tmp/m && SEC_REPO=/tmp/m BUILD=/tmp/m/build bash ...
#       (against another tree's build: the attacks should succeed there)
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=trust-paths; TAG=tp
. "$(dirname "$0")/two_users.sh"
SEC_CLEAN="/tmp/pmtp-$$-*"
R="rank [0-9?]+ on [^:]+"
ACT=$INST/share/python-mpi/activate.sh

MPI1="timeout 120 mpiexec.mpich -n 1"
first_is() {   # REGEX FILE: the first diagnostic line matches
    grep -E '^(python-mpi|bcast|pkgroot): ' "$2" | head -n 1 | grep -Eq "$1"
}
echo "# victim $V ($VU), attacker $A ($AU), build $BUILD from $SEC_REPO"

# A small bundle of the attacker's, whose module leaves a mark when imported.
AD=/tmp/pmtp-$$-attacker
as "$A" mkdir -m 0755 "$AD"
as "$A" python3 - "$AD/small.tar" "/tmp/pmtp-$$-pwned-pkg" <<'PY'
import io, sys, tarfile
code = ("open(%r, 'a').write('imported\\n')\n" % sys.argv[2]).encode()
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, data in (("lib/python3/dist-packages/smallmod/__init__.py", code),):
        i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
PY
VD=/tmp/pmtp-$$-victim
as "$V" mkdir -m 0700 "$VD"

# --- item 5: PYTHONHOME through another user's link in /dev/shm -------------
# The attacker's home holds a standard library whose encodings/__init__.py
# leaves a mark; /dev/shm/VICTIM-py is the attacker's link to it.
as "$A" chmod 0755 "$AH"
as "$A" /usr/bin/python3 - "$AH/evil" "/tmp/pmtp-$$-pwned-5" <<'PY'
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
            text = ("import posix as _p\n_f = _p.open(%r, _p.O_WRONLY | _p.O_CREAT | _p.O_APPEND, 0o644)\n"
                    "_p.write(_f, b'ran as uid %%d\\n' %% _p.geteuid()); _p.close(_f)\n" % mark) + text
        with open(os.path.join(enc, name), "w") as f:
            f.write(text)
os.system("chmod -R a+rX " + tree)
PY
L5=/dev/shm/$V-py
as "$A" ln -s "$AH/evil" "$L5"
as "$V" env PYTHONHOME="$L5" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "/tmp/pmtp-$$-pwned-5" ] && ! grep -qx ran "$SEC/5.out" &&
   first_is "^python-mpi: $R: $L5: refusing to use PYTHONHOME: $L5 is a symbolic link owned by uid $AU in the shared sticky directory /dev/shm$" "$SEC/5.out"; then
    t_ok "item 5: PYTHONHOME=/dev/shm/me-py, another user's link: refused, none of its code ran"
else t_fail "item 5: PYTHONHOME through another user's link (rc=$rc)" "$(cat "$SEC/5.out" "/tmp/pmtp-$$-pwned-5" 2>&1)"; fi
rm -f "/tmp/pmtp-$$-pwned-5" "$L5"
# The victim's own link there, and root's, are followed (to /usr: Python's home).
as "$V" ln -s /usr "$L5"
as "$V" env PYTHONHOME="$L5" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5b.out" 2>&1; rc=$?
[ $rc = 0 ] && grep -qx ran "$SEC/5b.out" && t_ok "item 5: PYTHONHOME through a link of one's own in /dev/shm is followed" ||
    t_fail "item 5: own link (rc=$rc)" "$(cat "$SEC/5b.out")"
rm -f "$L5"
LR=/tmp/pmtp-$$-rootlink
ln -s /usr "$LR"
as "$V" env PYTHONHOME="$LR" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5c.out" 2>&1; rc=$?
[ $rc = 0 ] && grep -qx ran "$SEC/5c.out" && t_ok "item 5: PYTHONHOME through root's link in /tmp is followed" ||
    t_fail "item 5: root's link (rc=$rc)" "$(cat "$SEC/5c.out")"

# Red-team #5: the same link in a world-writable directory that is NOT
# sticky (a misconfigured scratch): anyone can replace any entry there, so
# no entry of it is used, whoever owns it.
WW=/tmp/pmtp-$$-ww
mkdir -m 0777 "$WW"; chmod 0777 "$WW"
as "$A" ln -s "$AH/evil" "$WW/vpy"
as "$V" env PYTHONHOME="$WW/vpy" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5n.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "/tmp/pmtp-$$-pwned-5" ] && ! grep -qx ran "$SEC/5n.out" &&
   first_is "^python-mpi: $R: $WW/vpy: refusing to use PYTHONHOME: $WW is writable by other users and not sticky \(mode 0777\): anyone there can replace $WW/vpy$" "$SEC/5n.out"; then
    t_ok "red-team 5: PYTHONHOME through another user's link in a 0777 non-sticky directory: refused, none of its code ran"
else t_fail "red-team 5: PYTHONHOME through a link in a 0777 non-sticky directory (rc=$rc)" "$(cat "$SEC/5n.out" "/tmp/pmtp-$$-pwned-5" 2>&1)"; fi
rm -f "/tmp/pmtp-$$-pwned-5"
# ... and a bundle path there (PYTHON_MPI_PACKAGES), even the victim's own file
as "$V" cp "$AD/small.tar" "$WW/own.tar"
as "$V" env PYTHON_MPI_PACKAGES="$WW/own.tar" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5p.out" 2>&1; rc=$?
[ $rc != 0 ] && ! grep -qx ran "$SEC/5p.out" &&
    first_is "^python-mpi: $R: $WW/own.tar: refusing to read the bundle: $WW is writable by other users and not sticky \(mode 0777\): anyone there can replace $WW/own.tar$" "$SEC/5p.out" &&
    t_ok "red-team 5: a bundle in a 0777 non-sticky directory is refused (anyone can replace it)" ||
    t_fail "red-team 5: bundle in a 0777 non-sticky directory (rc=$rc)" "$(cat "$SEC/5p.out")"
rm -f "/tmp/pmtp-$$-pwned-pkg"
# ... and a file written there (anyone could replace it): pkgroot's OUT,
# PYTHON_MPI_TIMING's JSON (red-team 4b, the writing side)
as "$V" sh -c "mkdir -p $VD/src5 && echo 'X = 1' > $VD/src5/m.py"
as "$V" pkgroot dir "$WW/out.tar" "$VD/src5" >"$SEC/5o.out" 2>&1; rc=$?
[ $rc != 0 ] && [ ! -e "$WW/out.tar" ] &&
    first_is "^pkgroot: $R: $WW/out.tar: refusing to write the bundle: $WW is writable by other users and not sticky \(mode 0777\): anyone there can replace $WW/out.tar$" "$SEC/5o.out" &&
    t_ok "red-team 5: pkgroot does not write a bundle into a 0777 non-sticky directory" ||
    t_fail "red-team 5: pkgroot OUT in a 0777 non-sticky directory (rc=$rc)" "$(cat "$SEC/5o.out")"
as "$V" env PYTHON_MPI_TIMING="json:$WW/t.json" $MPI1 python-mpi -c 'print("ran")' >"$SEC/5t.out" 2>&1; rc=$?
[ ! -e "$WW/t.json" ] &&
    grep -Eq "^python-mpi: $R: $WW/t.json: PYTHON_MPI_TIMING: refusing to write: $WW is writable by other users and not sticky \(mode 0777\): anyone there can replace $WW/t.json$" "$SEC/5t.out" &&
    t_ok "red-team 5: PYTHON_MPI_TIMING=json:PATH is not written into a 0777 non-sticky directory" ||
    t_fail "red-team 5: timing JSON in a 0777 non-sticky directory (rc=$rc)" "$(cat "$SEC/5t.out")"

# Red-team #15: activate.sh resolves PYTHON_MPI_CHROOT as python-mpi does
# (no cd && pwd -P): another user's link in /tmp, or any entry of a 0777
# non-sticky directory, is refused in one line; the victim's own link is
# followed.
as "$A" ln -s /dev/shm "/tmp/pmtp-$$-c15"
as "$A" ln -s /dev/shm "$WW/c15"
for c in "/tmp/pmtp-$$-c15:/tmp/pmtp-$$-c15 is a symbolic link owned by uid $AU in the shared sticky directory /tmp" \
         "$WW/c15:$WW is writable by other users and not sticky (mode 0777): anyone there can replace $WW/c15"; do
    l=${c%%:*}; why=${c#*:}
    out=$(as "$V" env PYTHON_MPI_CHROOT="$l" bash -c 'source "$1" - "mpiexec.mpich -n 1"; echo "rc=$? prefix=${_PM_PREFIX:-none}"' x "$ACT" 2>&1)
    [ "$out" = "activate.sh: cannot use $l as PYTHON_MPI_CHROOT: $why
rc=1 prefix=none" ] && t_ok "red-team 15: activate.sh refuses PYTHON_MPI_CHROOT=$l (${why#"$l "})" ||
        t_fail "red-team 15: activate.sh with PYTHON_MPI_CHROOT=$l" "$out"
done
as "$V" ln -s /dev/shm "/tmp/pmtp-$$-v15"
out=$(as "$V" env PYTHON_MPI_CHROOT="/tmp/pmtp-$$-v15" bash -c 'source "$1" - "mpiexec.mpich -n 1" && echo "$_PM_PREFIX"' x "$ACT" 2>&1)
case $out in
    "/dev/shm/python-mpi-$VU/py-"[0-9]*) t_ok "red-team 15: activate.sh follows the victim's own link in /tmp for PYTHON_MPI_CHROOT"
        ;;
    *) t_fail "red-team 15: own chroot link" "$out" ;;
esac
rm -rf "/dev/shm/python-mpi-$VU"   # made by activate.sh -: the tests below expect none

# --- PYTHON_MPI_CHROOT through another user's link ----------------------------
AC=/tmp/pmtp-$$-achroot; LC=/tmp/pmtp-$$-chroot
as "$A" mkdir -m 1777 "$AC"
as "$A" ln -s "$AC" "$LC"
as "$V" env PYTHON_MPI_CHROOT="$LC" PYTHON_MPI_PACKAGES="$AD/small.tar" $MPI1 python-mpi -c 'print("ran")' \
    >"$SEC/c.out" 2>&1; rc=$?
if [ $rc != 0 ] && ! grep -qx ran "$SEC/c.out" && [ -z "$(ls -A "$AC")" ] &&
   first_is "^python-mpi: $R: $LC: cannot use as PYTHON_MPI_CHROOT: $LC is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/c.out"; then
    t_ok "PYTHON_MPI_CHROOT through another user's link in /tmp: refused, nothing made where it leads"
else t_fail "PYTHON_MPI_CHROOT through another user's link (rc=$rc)" "$(cat "$SEC/c.out"; ls -la "$AC")"; fi
LV=/tmp/pmtp-$$-vchroot
as "$V" ln -s /dev/shm "$LV"
as "$V" env PYTHON_MPI_CHROOT="$LV" PYTHON_MPI_PACKAGES="$AD/small.tar" $MPI1 python-mpi -c 'print("ran")' \
    >"$SEC/c2.out" 2>&1; rc=$?
[ $rc = 0 ] && grep -qx ran "$SEC/c2.out" && t_ok "PYTHON_MPI_CHROOT through one's own link in /tmp is followed" ||
    t_fail "PYTHON_MPI_CHROOT own link (rc=$rc)" "$(cat "$SEC/c2.out")"
rm -f "/tmp/pmtp-$$-pwned-pkg"

# --- PYTHON_MPI_PKGROOT and bundle paths through another user's link ---------
LP=/tmp/pmtp-$$-pkg
as "$A" ln -s "$AD" "$LP"
as "$V" env PYTHON_MPI_PKGROOT="$LP" PYTHON_MPI_PACKAGES=small.tar $MPI1 python-mpi -c 'import smallmod; print("ran")' \
    >"$SEC/p.out" 2>&1; rc=$?
if [ $rc != 0 ] && ! grep -qx ran "$SEC/p.out" && [ ! -e "/tmp/pmtp-$$-pwned-pkg" ] &&
   first_is "^python-mpi: $R: $LP/small.tar: refusing to read the bundle: $LP is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/p.out"; then
    t_ok "PYTHON_MPI_PKGROOT=/tmp/x, another user's link to their bundles: refused on rank 0, nothing imported"
else t_fail "PYTHON_MPI_PKGROOT through another user's link (rc=$rc)" "$(cat "$SEC/p.out")"; fi
rm -f "/tmp/pmtp-$$-pwned-pkg"
as "$V" $MPI1 bcast -p "$VD/pb" "$LP/small.tar" >"$SEC/pb.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$VD/pb/lib" ] &&
   first_is "^bcast: $R: $LP/small.tar: refusing to read the bundle: $LP is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/pb.out"; then
    t_ok "bcast: a bundle path through another user's link in /tmp is refused"
else t_fail "bcast bundle through another user's link (rc=$rc)" "$(cat "$SEC/pb.out")"; fi
# the victim's own copy through the victim's own link: delivered
as "$V" cp "$AD/small.tar" "$VD/mine.tar"
as "$V" ln -s "$VD" "/tmp/pmtp-$$-vpkg"
as "$V" env PYTHON_MPI_PKGROOT="/tmp/pmtp-$$-vpkg" PYTHON_MPI_PACKAGES=mine.tar $MPI1 python-mpi -c 'print("ran")' \
    >"$SEC/p2.out" 2>&1; rc=$?
[ $rc = 0 ] && grep -qx ran "$SEC/p2.out" && t_ok "PYTHON_MPI_PKGROOT through one's own link in /tmp is followed" ||
    t_fail "PYTHON_MPI_PKGROOT own link (rc=$rc)" "$(cat "$SEC/p2.out")"
# bcast -p through another user's link: refused (no link is followed there)
AP=/tmp/pmtp-$$-aprefix; LPP=/tmp/pmtp-$$-plink
as "$A" mkdir -m 0777 "$AP"
as "$A" ln -s "$AP" "$LPP"
as "$V" $MPI1 bcast -p "$LPP/p" "$VD/mine.tar" >"$SEC/pp.out" 2>&1; rc=$?
if [ $rc != 0 ] && [ -z "$(ls -A "$AP")" ] &&
   first_is "^bcast: $R: $LPP/p: refusing to use: $LPP is a symbolic link$" "$SEC/pp.out"; then
    t_ok "bcast -p through another user's link in /tmp is refused, nothing written where it leads"
else t_fail "bcast -p through another user's link (rc=$rc)" "$(cat "$SEC/pp.out"; ls -la "$AP")"; fi

# Other paths handed over: bcast's list file, pkgroot's tree and output,
# PYTHON_MPI_TIMING's file, each through another user's link in /tmp.
as "$A" sh -c "echo $AD/small.tar > $AD/list; chmod 644 $AD/list; ln -s $AD/list /tmp/pmtp-$$-list"
as "$V" $MPI1 bcast -p "$VD/pf" -f "/tmp/pmtp-$$-list" >"$SEC/f.out" 2>&1; rc=$?
[ $rc != 0 ] && [ ! -e "$VD/pf/lib" ] &&
    first_is "^bcast: $R: /tmp/pmtp-$$-list: refusing to read the list file: /tmp/pmtp-$$-list is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/f.out" &&
    t_ok "bcast -f: a list file through another user's link in /tmp is refused" ||
    t_fail "bcast -f through another user's link (rc=$rc)" "$(cat "$SEC/f.out")"
as "$A" sh -c "mkdir -p $AD/code/evilpkg && echo 'import os' > $AD/code/evilpkg/__init__.py && chmod -R a+rX $AD/code && ln -s $AD/code /tmp/pmtp-$$-src"
as "$V" pkgroot dir "$VD/src.tar" "/tmp/pmtp-$$-src" >"$SEC/ps.out" 2>&1; rc=$?
[ $rc != 0 ] && [ ! -e "$VD/src.tar" ] &&
    first_is "^pkgroot: $R: /tmp/pmtp-$$-src: refusing to bundle: /tmp/pmtp-$$-src is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/ps.out" &&
    t_ok "pkgroot dir: a source tree through another user's link in /tmp is refused" ||
    t_fail "pkgroot dir source through another user's link (rc=$rc)" "$(cat "$SEC/ps.out")"
as "$A" sh -c "mkdir -m 0777 $AD/drop && chmod 0777 $AD/drop && ln -s $AD/drop /tmp/pmtp-$$-out"
as "$V" sh -c "mkdir $VD/onedir && echo 'X = 1' > $VD/onedir/one.py"
as "$V" pkgroot dir "/tmp/pmtp-$$-out/b.tar" "$VD/onedir" >"$SEC/po.out" 2>&1; rc=$?
[ $rc != 0 ] && [ -z "$(ls -A "$AD/drop")" ] &&
    first_is "^pkgroot: $R: /tmp/pmtp-$$-out/b.tar: refusing to write the bundle: /tmp/pmtp-$$-out is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/po.out" &&
    t_ok "pkgroot: an output through another user's link in /tmp is refused, nothing written where it leads" ||
    t_fail "pkgroot output through another user's link (rc=$rc)" "$(cat "$SEC/po.out"; ls -la "$AD/drop")"
as "$V" env PYTHON_MPI_TIMING="json:/tmp/pmtp-$$-out/t.json" $MPI1 python-mpi -c 'print("ran")' >"$SEC/to.out" 2>&1; rc=$?
[ $rc != 0 ] && [ -z "$(ls -A "$AD/drop")" ] &&
    grep -Eq "^python-mpi: $R: /tmp/pmtp-$$-out/t.json: PYTHON_MPI_TIMING: refusing to write: /tmp/pmtp-$$-out is a symbolic link owned by uid $AU in the shared sticky directory /tmp$" "$SEC/to.out" &&
    t_ok "PYTHON_MPI_TIMING=json:PATH through another user's link in /tmp is refused, nothing written there" ||
    t_fail "timing JSON through another user's link (rc=$rc)" "$(cat "$SEC/to.out"; ls -la "$AD/drop")"

# --- modes follow the umask ---------------------------------------------------
as "$V" mkdir -p "$VD/src/pkg"
as "$V" sh -c "echo 'X = 1' > $VD/src/pkg/__init__.py"
for m in 077:600 022:644; do
    um=${m%%:*}; want=${m#*:}
    as "$V" sh -c "umask $um && pkgroot dir $VD/b-$um.tar.zst $VD/src >/dev/null && pkgroot dir $VD/b-$um.ptar $VD/src >/dev/null" \
        >"$SEC/m.out" 2>&1
    got="$(stat -c %a "$VD/b-$um.tar.zst" 2>&1) $(stat -c %a "$VD/b-$um.ptar" 2>&1)"
    [ "$got" = "$want $want" ] && t_ok "umask $um: pkgroot's bundles are $want (.tar.zst, .ptar)" ||
        t_fail "umask $um: bundle modes" "got $got; $(cat "$SEC/m.out")"
    as "$V" sh -c "umask $um && PYTHON_MPI_TIMING=json:$VD/t-$um.json $MPI1 python-mpi -c pass" >"$SEC/t.out" 2>&1
    got=$(stat -c %a "$VD/t-$um.json" 2>&1)
    [ "$got" = "$want" ] && t_ok "umask $um: PYTHON_MPI_TIMING=json:PATH is $want" ||
        t_fail "umask $um: timing JSON mode" "got $got; $(cat "$SEC/t.out")"
done

# --- a per-user directory another user made, 0700 -----------------------------
# The victim's own stays between jobs (issue 21): gone first, as after a
# reboot, so that the attacker can claim the name.
rm -rf "/dev/shm/python-mpi-$VU"
as "$A" mkdir -m 0700 "/dev/shm/python-mpi-$VU"
as "$V" env PYTHON_MPI_PACKAGES="$VD/mine.tar" $MPI1 python-mpi -c 'print("ran")' >"$SEC/s.out" 2>&1; rc=$?
if [ $rc != 0 ] && ! grep -qx ran "$SEC/s.out" &&
   first_is "^python-mpi: $R: /dev/shm/python-mpi-$VU: refusing to use: /dev/shm/python-mpi-$VU is owned by uid $AU, not $VU$" "$SEC/s.out"; then
    t_ok "a stolen per-user directory of mode 0700 is named by its owner, not 'Permission denied'"
else t_fail "stolen 0700 per-user directory (rc=$rc)" "$(cat "$SEC/s.out")"; fi
rm -rf "/dev/shm/python-mpi-$VU"

# --- pkgroot dir: another member's link to a private file ---------------------
TEAM=$SEC/team
mkdir -m 0777 "$TEAM"; chmod 0777 "$TEAM"   # a directory the team writes in
as "$V" sh -c "echo 'SECRET = 42' > $VH/private.py && chmod 600 $VH/private.py && echo 'X = 1' > $TEAM/mod.py"
as "$A" ln -s "$VH/private.py" "$TEAM/leak.py"
as "$V" ln -s "$VH/private.py" "$TEAM/mine.py"   # the victim's own: no warning
as "$V" pkgroot dir "$VD/team.tar" "$TEAM" >"$SEC/w.out" 2>&1; rc=$?
want="^pkgroot: $R: $TEAM/leak.py: warning: bundled the file outside the tree that this symbolic link, owned by uid $AU, points to: $VH/private.py \\(owned by uid $VU\\)$"
if [ $rc = 0 ] && [ "$(grep -c warning "$SEC/w.out")" = 1 ] && grep -Eq "$want" "$SEC/w.out"; then
    t_ok "pkgroot dir: another user's link to outside the tree is named in one warning (entry, owner, target)"
else t_fail "pkgroot dir warning (rc=$rc)" "$(cat "$SEC/w.out")"; fi

# --- activate.sh: python_mpi_cleanup restores the environment ---------------
as "$V" bash -c '
    export PYTHONUSERBASE=/old/base
    env | grep -v "^_=" | sort > "$3/env.before"
    source "$1" - "mpiexec.mpich -n 1" || exit 9
    p=$_PM_PREFIX
    python_mpi_packages "$2" >/dev/null || exit 8
    env | grep -q "$p" || echo "prefix not in env after bcast"
    python_mpi_cleanup >/dev/null || echo "cleanup failed"
    env | grep -v "^_=" | sort > "$3/env.after"
    [ -e "$p" ] && echo "prefix left"
    true
' x "$ACT" "$VD/mine.tar" "$VD" >"$SEC/a.out" 2>&1; rc=$?
U=/dev/shm/python-mpi-$VU
if [ $rc = 0 ] && [ ! -s "$SEC/a.out" ] && cmp -s "$VD/env.before" "$VD/env.after"; then
    t_ok "activate.sh: after python_mpi_cleanup the environment is the one before (no entry names the prefix)"
else t_fail "activate.sh environment after cleanup (rc=$rc)" "$(cat "$SEC/a.out"; diff "$VD/env.before" "$VD/env.after")"; fi
[ -d "$U" ] && [ "$(stat -c '%u %a' "$U")" = "$VU 700" ] &&
    t_ok "activate.sh -: the per-user directory stays, the victim's and 0700, after python_mpi_cleanup" ||
    t_fail "per-user directory after cleanup" "$(ls -ld "$U" 2>&1)"

# --- red team round 2, row 2: a team directory (group-writable, not sticky)
# The victim's private bundle in a 2770 directory of a group both belong to:
# the other member cannot read it but can rename theirs over it, so nothing
# in such a directory is used (trust.h); a sticky one would keep names apart.
G=tpg$$
if groupadd "$G" && usermod -a -G "$G" "$V" && usermod -a -G "$G" "$A"; then
    TD=/tmp/pmtp-$$-team
    mkdir -m 2770 "$TD" && chgrp "$G" "$TD"
    as "$V" cp "$VD/mine.tar" "$TD/code.tar"
    as "$A" sh -c "cp $AD/small.tar $TD/x.tar && mv -f $TD/x.tar $TD/code.tar" 2>/dev/null
    as "$V" env PYTHON_MPI_PACKAGES="$TD/code.tar" $MPI1 python-mpi -c 'print("ran")' >"$SEC/team.out" 2>&1; rc=$?
    if [ $rc != 0 ] && ! grep -qx ran "$SEC/team.out" &&
       first_is "^python-mpi: $R: $TD/code.tar: refusing to read the bundle: $TD is writable by other users and not sticky \(mode 2770\): anyone there can replace $TD/code.tar$" "$SEC/team.out"; then
        t_ok "a bundle in a team directory (2770, not sticky) another member can replace: refused in one line"
    else t_fail "team directory bundle (rc=$rc)" "$(cat "$SEC/team.out")"; fi
    chmod 3770 "$TD"   # sticky: members may add names, not replace ours
    rm -f "$TD/code.tar"
    as "$V" cp "$VD/mine.tar" "$TD/code.tar"
    as "$A" sh -c "cp $AD/small.tar $TD/x.tar && mv -f $TD/x.tar $TD/code.tar" 2>/dev/null
    as "$V" env PYTHON_MPI_PACKAGES="$TD/code.tar" $MPI1 python-mpi -c 'print("ran")' >"$SEC/team2.out" 2>&1
    if grep -qx ran "$SEC/team2.out" && [ "$(stat -c %u "$TD/code.tar")" = "$VU" ]; then
        t_ok "the same team directory made sticky (3770): the other member cannot replace it; the victim's own bundle is delivered"
    else t_fail "sticky team directory" "$(cat "$SEC/team2.out")"; fi
    rm -rf "$TD"
else
    t_fail "groupadd/usermod for the team directory case"
fi
groupdel "$G" 2>/dev/null

t_done trust-paths
[ "$T_FAILED" -eq 0 ]
