# two_users.sh - the set-up every two-user suite shares (sourced after
# tests/lib.sh, as root):
#     SUITE=name; TAG=xx
#     . "$(dirname "$0")/two_users.sh"
# A victim V and an attacker A (names unique per run: several suites may
# run at once), their uids VU and AU and homes VH and AH; SEC, a scratch
# directory both can read; the build installed in INST=$SEC/inst where
# both can run it (the worktree may not be readable by them); and
#     as USER CMD...   CMD as USER in a login-like, minimal environment
#                      (no PYTHON* of ours; XPATH, if set, first on PATH).
# At exit, whatever happens: every process and top-level file of the two
# users in /dev/shm, /tmp and /var/tmp, the users, SEC, and the paths the
# suite lists in SEC_CLEAN.  A failed set-up: one failure and the closing
# line; not root: one counted skip and the closing line.
SEC_REPO=${SEC_REPO:-$REPO}
sec_finish() { t_done "$SUITE"; exit; }

if [ "$(id -u)" != 0 ]; then
    t_skip "the $SUITE suite" "needs root (it creates two users with useradd)"; sec_finish
fi
V=${TAG}v$$; A=${TAG}a$$
SEC=$(mktemp -d "/tmp/pm$TAG.XXXXXX")
chmod 0755 "$SEC"
SEC_CLEAN=
sec_cleanup() {
    local u uid p
    for u in "$V" "$A"; do
        uid=$(id -u "$u" 2>/dev/null) || continue
        # only processes of the users this suite made, each by its pid
        for p in $(pgrep -u "$uid" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        find /dev/shm /tmp /var/tmp -xdev -mindepth 1 -maxdepth 1 -uid "$uid" -exec rm -rf {} + 2>/dev/null
        userdel -r -f "$u" >/dev/null 2>&1
    done
    # shellcheck disable=SC2086  # a list of paths
    rm -rf "$SEC" $SEC_CLEAN
}
trap sec_cleanup EXIT
trap 'exit 1' INT TERM

for u in "$V" "$A"; do
    useradd -m -s /bin/bash "$u" || { t_fail "useradd $u"; sec_finish; }
done
VU=$(id -u "$V"); AU=$(id -u "$A")
VH=/home/$V; AH=/home/$A
INST=$SEC/inst
if ! make -s -C "$SEC_REPO" install PREFIX="$INST" BUILD="$BUILD" >"$SEC/install.log" 2>&1 ||
   [ ! -x "$INST/bin/bcast" ]; then
    t_fail "make install PREFIX=$INST" "$(tail -5 "$SEC/install.log")"; sec_finish
fi
chmod -R a+rX "$INST"
as() {
    local u=$1; shift
    runuser -u "$u" -- env -i HOME="/home/$u" USER="$u" LOGNAME="$u" LANG=C.UTF-8 \
        PATH="${XPATH:+$XPATH:}$INST/bin:/usr/bin:/bin" "$@"
}
