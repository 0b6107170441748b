#!/bin/bash
# test_pkgroot_race.sh - red-team round 2, row 6: `pkgroot dir` of a
# directory another user writes to.  The walk's lstat sees the attacker's
# regular file (no warning); if the file is then read by path, a symbolic
# link to the victim's private file swapped in meanwhile (renameat2
# RENAME_EXCHANGE, atomic) puts the victim's secret into the bundle with no
# warning.  Every file must be read from one descriptor, opened O_NOFOLLOW
# and checked to be the inode lstat saw (else: "changed while being read").
#
# As root: two users (two_users.sh).  The attacker exchanges the two
# entries continuously for the whole run; the victim bundles the directory
# RUNS times (half with --pyc timestamp: the bytecode's source too).  A
# bundle may hold the secret only with the documented warning (the lstat
# itself saw the link).  Then the same with a directory of the tree swapped
# for a link to the victim's private directory (the walk works beneath
# each directory's descriptor).  A race, repeated, no retries.
#
#   BUILD=build bash tests/security/test_pkgroot_race.sh
#   SEC_REPO=/work/main BUILD=/work/main/build bash ...  (against another build)
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=pkgroot_race; TAG=pkr
. "$(dirname "$0")/two_users.sh"
RUNS=${RUNS:-30}
PROJ=$SEC/proj; SWAP=$SEC/swap
echo "# victim $V ($VU), attacker $A ($AU), build $BUILD from $SEC_REPO, $RUNS runs"

as "$V" bash -c 'umask 077; printf "TOKEN = \"s3cr3t-of-victim\"\n" > ~/secret.py' || t_fail "victim's secret"
mkdir -m 0755 "$PROJ" "$SWAP" && chown "$A" "$PROJ" "$SWAP"
as "$A" bash -c "cd $PROJ && echo 'X = 1' > mod.py && { echo 'Y = 2'; head -c 300000 /dev/urandom | base64 -w 76 | sed 's/^/# /'; } > leak.py &&
    ln -s $VH/secret.py $SWAP/leak.py" || t_fail "attacker's tree"
cat >"$SEC/swap.py" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
end = time.time() + float(sys.argv[3])
while time.time() < end and not os.path.exists(sys.argv[4]):
    if libc.renameat2(-100, a, -100, b, 2) != 0:   # AT_FDCWD, RENAME_EXCHANGE
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
PY
chmod 0644 "$SEC/swap.py"
# race LABEL X Y: RUNS bundles of PROJ while the attacker exchanges X and Y.
race() {
    local label=$1 swp i pyc silent=0 warned=0 refused=0 clean=0 bad=
    rm -f "$SEC/stop"
    as "$A" python3 "$SEC/swap.py" "$2" "$3" 120 "$SEC/stop" &
    swp=$!
    for i in $(seq "$RUNS"); do
        pyc=; [ $((i % 2)) = 0 ] && pyc="--pyc timestamp"
        as "$V" bash -c "rm -rf ~/t.tar ~/x; mkdir ~/x; pkgroot $pyc dir ~/t.tar $PROJ >/dev/null 2>~/err; echo rc=\$?
            [ -e ~/t.tar ] && tar -C ~/x -xf ~/t.tar && grep -rlaq s3cr3t-of-victim ~/x && echo LEAK; cat ~/err" >"$SEC/run.$i" 2>&1
        if grep -q '^LEAK' "$SEC/run.$i"; then
            if grep -q 'warning: bundled the file outside the tree' "$SEC/run.$i"; then warned=$((warned + 1))
            else silent=$((silent + 1)); bad="$bad run $i: $(tr '\n' ' ' <"$SEC/run.$i")"; fi
        elif grep -q '^rc=0' "$SEC/run.$i"; then clean=$((clean + 1))
        elif [ "$(grep -vc 'skipped: a link\|warning: bundled\|^rc=' "$SEC/run.$i")" = 1 ] &&
             grep -Eq "^pkgroot: .*$PROJ/[a-z/.]*: changed while being read \(replaced by another file or a link\)$" "$SEC/run.$i"; then
            refused=$((refused + 1))
        else bad="$bad run $i: $(tr '\n' ' ' <"$SEC/run.$i")"; fi
    done
    touch "$SEC/stop"; wait "$swp"
    echo "# $label: $clean clean, $warned with the warning, $refused refused (changed while being read), $silent silent leaks"
    if [ "$silent" = 0 ] && [ -z "$bad" ]; then
        t_ok "pkgroot dir, $label: the victim's secret never bundled without a warning ($RUNS runs)"
    else t_fail "pkgroot dir, $label: the victim's secret bundled with no warning, or another failure" "$bad"; fi
}

race "a file swapped for a link to the victim's secret" "$PROJ/leak.py" "$SWAP/leak.py"
# The same through a directory: the attacker's sub/ (their own secret.py)
# swapped for a link to the victim's private directory, while the walk is
# below it or between its lstat and its listing.
as "$V" bash -c 'umask 077; mkdir ~/priv && cp ~/secret.py ~/priv/secret.py' || t_fail "victim's private directory"
as "$A" bash -c "rm -f $PROJ/leak.py $SWAP/leak.py; mkdir $PROJ/sub && echo 'Z = 3' > $PROJ/sub/secret.py &&
    ln -s $VH/priv $SWAP/sub" || t_fail "attacker's sub/"
race "a directory swapped for a link to the victim's private directory" "$PROJ/sub" "$SWAP/sub"
sec_finish
