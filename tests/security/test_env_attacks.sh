#!/bin/bash
# test_env_attacks.sh - red-team review of PYTHON_MPI_ENV=DIR[:SRC...] and
# its cache (interp/envcache.c), as a second local user and as the same
# user's mistakes.  A check that FAILS here is a finding of the review
# (it passes once fixed); the others are attacks that were tried and held.
#
# As root: two users (two_users.sh), a victim V with a venv and an
# attacker A.  Each check is one job of V ($MPIEXEC -n 1 python-mpi: the MPI it was built with), with
# PYTHON_MPI_CACHE where the check says, else the default cache.
#
#   BUILD=build bash tests/security/test_env_attacks.sh
#   PM_TEST_CASE='*cache*' ...   (one check alone: see tests/lib.sh)
set -u
. "$(dirname "$0")/../lib.sh"
SUITE=env_attacks; TAG=rtea
. "$(dirname "$0")/two_users.sh"
PY=$T_PYVER
echo "# victim $V ($VU), attacker $A ($AU), build $BUILD from $SEC_REPO, Python $PY"
# Names in /tmp unique to this run (two_users.sh removes the users' top-level
# files of /tmp at exit; SEC_CLEAN the rest).
R=/tmp/rtea$$
SEC_CLEAN="$R-*"

if ! as "$V" python3 -m venv --without-pip "$VH/venv" >"$SEC/venv.err" 2>&1; then
    t_fail "the victim's venv" "$(cat "$SEC/venv.err")"; sec_finish
fi
SP=$VH/venv/lib/python$PY/site-packages
as "$V" bash -c "mkdir -p ~/proj && echo 'P = 1' > ~/proj/pm.py && umask 077 && mkdir -p ~/.ssh && echo 'PRIVATE-KEY-OF-VICTIM' > ~/.ssh/id_rsa"
# job OUT ENVSPEC CODE [VAR=VALUE...]: one job of the victim, stdout and
# stderr into OUT; its exit status.
job() {
    local out=$1 spec=$2 code=$3; shift 3
    as "$V" env PYTHON_MPI_ENV="$spec" PYTHON_MPI_VERBOSE=1 "$@" \
        timeout 120 "$MPIEXEC" -n 1 "$INST/bin/python-mpi" -c "$code" >"$out" 2>&1
}
show() { grep -v '^ \|^---\|^$\|Exit code\|^Primary job\|^mpiexec\|^MPI\|^process' "$1" | tail -n "${2:-8}"; }

echo "# [${SECONDS}s]"
# --- 1. SRC: another user's directory in a directory everybody can write --
# The bundle rule (docs/failures.md, "owned by neither you nor root in a
# directory everybody can write": refused) has no counterpart for SRC: a
# victim who names /tmp/proj (say after mkdir -p, which succeeds when the
# attacker created it first) runs whatever the attacker put there, with no
# word.  Expected: refused, or at least a warning naming the directory.
mkdir -m 0777 "$R-src" && chown "$A" "$R-src"
as "$A" bash -c "echo 'import os; OWNER = os.getuid()' > $R-src/evilmod.py"
# verdict NAME OUT EXIT REFUSAL: the refusal in one line and a non-zero
# exit; worse, the attacker's module run as the victim with no word.
verdict() {
    if [ "$3" = 0 ] || ! grep -q "$4" "$2"; then
        t_fail "$1: refused in one line, non-zero exit" "exit $3: $(show "$2" 3)"
    elif grep -q 'ATTACKER CODE RAN' "$2" && ! grep -Eiq "$R-src.*(refus|warning|writable|owned)" "$2"; then
        t_fail "$1: refused or warned" "the attacker's module ran as the victim, silently: $(show "$2" 3)"
    else t_ok "$1: refused or warned"; fi
}
job "$SEC/o1" "$VH/venv:$R-src" "import evilmod; print('ATTACKER CODE RAN as', evilmod.OWNER)"
verdict "SRC owned by another user, 0777, in /tmp" "$SEC/o1" $? \
    "$R-src: PYTHON_MPI_ENV: refusing the source directory: .*writable by other users"

# refused_dir OUT EXIT DIR: refused in one line naming DIR, exit non-zero,
# the module never imported.
refused_dir() {
    [ "$2" != 0 ] && [ "$(grep -c "refusing the .*$3.*" "$1")" = 1 ] && ! grep -q 'RAN' "$1"
}
# (a) writable by others, (b) in a directory everybody writes to, (c) a link
# another user planted; and the victim's own 0777 directory.
mkdir -m 0755 "$R-src755" && chown "$A" "$R-src755"
as "$A" bash -c "echo 'X = 1' > $R-src755/evil2.py"
job "$SEC/o1c" "$VH/venv:$R-src755" "import evil2; print('RAN')"; rc=$?
if refused_dir "$SEC/o1c" "$rc" "$R-src755.*lies in /tmp"; then t_ok "SRC: another user's 0755 directory in sticky /tmp: refused"
else t_fail "SRC: another user's 0755 directory in sticky /tmp: refused" "exit $rc: $(show "$SEC/o1c" 3)"; fi
as "$V" mkdir -m 0700 "$VH/mine" && as "$V" bash -c "echo 'X = 1' > ~/mine/mine.py"
as "$A" ln -s "$VH/mine" "$R-alink"
job "$SEC/o1d" "$VH/venv:$R-alink" "import mine; print('RAN')"; rc=$?
if refused_dir "$SEC/o1d" "$rc" "$R-alink.*symbolic link owned by uid $AU"; then t_ok "SRC through the attacker's link in /tmp: refused"
else t_fail "SRC through the attacker's link in /tmp: refused" "exit $rc: $(show "$SEC/o1d" 3)"; fi
as "$V" mkdir -m 0777 "$VH/open" && as "$V" chmod 0777 "$VH/open"
job "$SEC/o1e" "$VH/venv:$VH/open" "print('RAN')"; rc=$?
if refused_dir "$SEC/o1e" "$rc" "$VH/open.*writable by other users"; then t_ok "SRC: the victim's own 0777 directory: refused"
else t_fail "SRC: the victim's own 0777 directory: refused" "exit $rc: $(show "$SEC/o1e" 3)"; fi
as "$V" chmod 0777 "$VH/venv"
job "$SEC/o1f" "$VH/venv" "print('RAN')"; rc=$?
as "$V" chmod 0755 "$VH/venv"
if refused_dir "$SEC/o1f" "$rc" "$VH/venv.*writable by other users"; then t_ok "DIR: a 0777 venv: refused"
else t_fail "DIR: a 0777 venv: refused" "exit $rc: $(show "$SEC/o1f" 3)"; fi
# A colleague's 0755 directory in their own home: trusted (as running it
# from there would be).
as "$A" bash -c "chmod 0755 ~ && mkdir -m 0755 ~/shared && echo 'C = 7' > ~/shared/colleague.py"
job "$SEC/o1g" "$VH/venv:$AH/shared" "import colleague; print('ran', colleague.C)"
t_check "SRC: a colleague's 0755 directory in their home: used" grep -q '^ran 7' "$SEC/o1g"

# For comparison: the victim's own directory INSIDE that 0777 one is
# refused (trust.h: no entry of a non-sticky shared directory is used),
# though the attacker can change it no more than the directory above.
mkdir -m 0700 "$R-src/vsub" && chown "$V" "$R-src/vsub"
job "$SEC/o1s" "$VH/venv:$R-src/vsub" "print('ran')"
t_check "SRC below another user's 0777 directory: refused" grep -q "writable by other users and not sticky" "$SEC/o1s"
rmdir "$R-src/vsub"

# The same directory named by a .pth of the victim's venv (an editable
# install of a shared checkout): python-mpi copies it into its bundles.
echo "$R-src" | as "$V" tee "$SP/shared.pth" >/dev/null
job "$SEC/o1b" "$VH/venv" "import evilmod; print('ATTACKER CODE RAN as', evilmod.OWNER)"
verdict "a .pth names another user's 0777 directory" "$SEC/o1b" $? \
    "$R-src: PYTHON_MPI_ENV: refusing the editable directory $SP/shared.pth names: "
as "$V" rm -f "$SP/shared.pth"
# ... and through the attacker's link: refused, not left silently as it is.
echo "$R-alink" | as "$V" tee "$SP/alink.pth" >/dev/null
job "$SEC/o1h" "$VH/venv" "print('RAN')"; rc=$?
if refused_dir "$SEC/o1h" "$rc" "alink.pth names: $R-alink is a symbolic link owned"; then t_ok "a .pth names a path through the attacker's link: refused"
else t_fail "a .pth names a path through the attacker's link: refused" "exit $rc: $(show "$SEC/o1h" 3)"; fi
as "$V" rm -f "$SP/alink.pth"

echo "# [${SECONDS}s]"
# --- 2. the cache path: planted links and shared parents ------------------
# A link of the attacker's in /tmp to a directory of the victim's: refused
# (trust rule) - but the mkdir -p before the check already created the
# victim's directory where the link leads (trust.h: "nothing is written
# where another user's link in /tmp or /dev/shm leads").
as "$V" mkdir -m 0700 "$VH/target"
as "$A" ln -s "$VH/target" "$R-link"
job "$SEC/o2" "$VH/venv" "print('ran')" PYTHON_MPI_CACHE="$R-link/cache"
rc=$?
t_check "cache under the attacker's link to a victim's directory: refused" \
    grep -q "PYTHON_MPI_CACHE: refusing to use the cache" "$SEC/o2"
if [ -e "$VH/target/cache" ]; then
    t_fail "cache under the attacker's link: nothing created where the link leads" \
        "the refused job made $VH/target/cache through $R-link (exit $rc): mkdir -p follows links before pm_trust_open checks"
else t_ok "cache under the attacker's link: nothing created where the link leads"; fi

# A parent the attacker owns, 0777 and not sticky: refused, and nothing of
# the victim's left in it.
mkdir -m 0777 "$R-par" && chown "$A" "$R-par"
job "$SEC/o2b" "$VH/venv" "print('ran')" PYTHON_MPI_CACHE="$R-par/cache"
t_check "cache in the attacker's 0777 directory: refused" \
    grep -q "PYTHON_MPI_CACHE: refusing to use the cache" "$SEC/o2b"
if [ -n "$(find "$R-par" -mindepth 1 -user "$V" 2>/dev/null)" ]; then
    t_fail "cache in the attacker's 0777 directory: nothing of the victim's left there" \
        "$(find "$R-par" -mindepth 1 -user "$V" -printf '%p %M\n')"
else t_ok "cache in the attacker's 0777 directory: nothing of the victim's left there"; fi

# The attacker creates the cache directory first (a real directory, or a
# link to one of theirs): refused.
as "$A" mkdir -m 0777 "$R-pre"
as "$A" bash -c "mkdir -m 0777 ~/c && chmod 0755 ~ && ln -s ~/c $R-prelink"
job "$SEC/o2c" "$VH/venv" "print('ran')" PYTHON_MPI_CACHE="$R-pre"
job "$SEC/o2d" "$VH/venv" "print('ran')" PYTHON_MPI_CACHE="$R-prelink"
if grep -q "refusing to use the cache" "$SEC/o2c" && grep -q "refusing to use the cache" "$SEC/o2d" &&
   ! grep -q '^ran' "$SEC/o2c" "$SEC/o2d" && [ -z "$(find "$AH/c" "$R-pre" -mindepth 1 2>/dev/null)" ]; then
    t_ok "a cache directory (or link) the attacker created first: refused, nothing written in it"
else t_fail "a cache directory the attacker created first: refused" "$(show "$SEC/o2c" 3) $(show "$SEC/o2d" 3)"; fi

echo "# [${SECONDS}s]"
# --- 3. the default cache, a first job: private all the way down ----------
# A .pth of the venv names ~/.ssh (a careless line, or a crafted finder):
# its files travel into the node tree, which must stay the victim's alone.
echo "$VH/.ssh" | as "$V" tee "$SP/zz-ssh.pth" >/dev/null
job "$SEC/o3" "$VH/venv" "import os, time; print('tree', os.environ['PYTHON_MPI_HOME'], flush=True); time.sleep(6)" &
jp=$!
for _ in $(seq 50); do grep -q '^tree ' "$SEC/o3" 2>/dev/null && break; sleep 0.2; done
tree=$(sed -n 's/^tree //p' "$SEC/o3")
# While the job runs, the attacker reads nothing of the cache nor of the
# node tree (a .pth or finder may deliver any of the victim's directories
# there: it must stay private).
leak=$(as "$A" bash -c "cat \$(find $VH/.cache -name '*.ptar' 2>/dev/null) 2>/dev/null | head -c 1; ls $tree 2>/dev/null;
    find /dev/shm -user $V -type f -readable 2>/dev/null | head -n 3")
copied=$(find "$tree" -name id_rsa 2>/dev/null | head -n 1)
wait "$jp"
as "$V" rm -f "$SP/zz-ssh.pth"
C=$VH/.cache/python-mpi
bad=$(find "$C" -mindepth 1 \( -type d ! -perm 0700 -o -type f ! -perm 0600 -o ! -user "$V" \) 2>/dev/null | head -n 3)
if [ -d "$C" ] && [ -z "$bad" ] && [ -n "$tree" ]; then
    t_ok "default cache: every directory 0700, every file 0600, all the victim's"
else t_fail "default cache is private" "bad: $bad; $(show "$SEC/o3" 3)"; fi
if [ -n "$tree" ] && [ -z "$leak" ]; then
    t_ok "the attacker reads nothing of the victim's cache or node tree during a job (~/.ssh delivered there: ${copied:-no})"
else t_fail "the attacker reads nothing of the victim's cache or node tree" "tree '$tree': $leak"; fi

echo "# [${SECONDS}s]"
# --- 4. SRC holds the cache (SRC=\$HOME, or PYTHON_MPI_CACHE inside SRC) ---
# The key walk and pkgroot dir would both take in the cache itself: each
# job's new state changes the key (never a cache hit) and the next state
# bundles every state kept so far (and SRC=$HOME ships ~/.ssh).  Expected:
# the combination refused in one line naming the cache and the directory,
# exit non-zero, no state made (the cache found by device and inode).
# cache_refused OUT EXIT CACHE SRC: is the job's answer that refusal?
states() { find "$1" -name bundles 2>/dev/null | sort | tr '\n' ' '; }
cache_refused() {
    [ "$2" != 0 ] && [ "$(grep -c "is inside the source directory $4:" "$1")" = 1 ] &&
        grep -q "PYTHON_MPI_CACHE $3 is inside .*move the cache (PYTHON_MPI_CACHE)" "$1" &&
        ! grep -q '^ran' "$1" && [ "$(states "$3")" = "$before" ]
}
as "$V" mkdir -m 0700 -p "$VH/proj/.pmcache"
before=
# proj_cache NAME OUT CACHE: venv:proj with PYTHON_MPI_CACHE=CACHE, which
# is proj/.pmcache: refused.
proj_cache() {
    job "$2" "$VH/venv:$VH/proj" "print('ran')" PYTHON_MPI_CACHE="$3"
    local rc=$?
    if cache_refused "$2" "$rc" "$VH/proj/.pmcache" "$VH/proj"; then t_ok "$1"
    else t_fail "$1" "exit $rc: $(show "$2" 3)"; fi
}
proj_cache "PYTHON_MPI_CACHE inside SRC: refused in one line, nothing cached" "$SEC/o4" "$VH/proj/.pmcache"
# Through a link of the victim's: the same directory, another spelling.
as "$V" ln -s "$VH/proj/.pmcache" "$VH/pmcache-link"
proj_cache "PYTHON_MPI_CACHE inside SRC through a link: refused" "$SEC/o4l" "$VH/pmcache-link"
as "$V" rm -rf "$VH/proj/.pmcache" "$VH/pmcache-link"
# SRC=$HOME with the default cache: the same (and ~/.ssh would travel).
before=$(states "$VH/.cache/python-mpi")
job "$SEC/o4h" "$VH/venv:$VH" "print('ran')"
rc=$?
if cache_refused "$SEC/o4h" "$rc" "$VH/.cache/python-mpi" "$VH"; then
    t_ok "SRC=\$HOME (default cache inside it): refused in one line, nothing cached"
else t_fail "SRC=\$HOME (default cache inside it): refused in one line, nothing cached" "exit $rc: $(show "$SEC/o4h" 3)"; fi

echo "# [${SECONDS}s]"
# --- 5. two jobs of the victim at once: the prune removes a chosen state --
# Job B has chosen the cached runtime state R1 (its list read) and is still
# making its environment (a big one takes minutes: here its pkgroot is
# stopped meanwhile); job A, of another python-mpi install (a reinstall is
# enough: the runtime key holds the binaries' inode and ctime) with
# PYTHON_MPI_CACHE_STATES=1 (or a PYTHON_MPI_CACHE_MAX that R1 does not
# fit beside A's state, or the default 3 and three such jobs), commits its
# own runtime state and prunes R1.  Expected: a state another running job
# has chosen stays until that job is done (or B still runs).
cp -a "$INST" "$SEC/inst2"
as "$V" bash -c "python3 -m venv --without-pip ~/venv2 && mkdir -p ~/big && head -c 40000000 /dev/urandom > ~/big/blob.bin"
job "$SEC/o5w" "$VH/venv" "print('warm')"
job "$SEC/o5b" "$VH/venv:$VH/big" "print('B ran')" &
bp=$!
pk=
for _ in $(seq 2000); do pk=$(pgrep -u "$VU" -x pkgroot | head -n 1) && [ -n "$pk" ] && break; sleep 0.01; done
if [ -n "$pk" ] && kill -STOP "$pk"; then
    as "$V" env PYTHON_MPI_ENV="$VH/venv2" PYTHON_MPI_CACHE_STATES=1 PYTHON_MPI_VERBOSE=1 \
        timeout 120 "$MPIEXEC" -n 1 "$SEC/inst2/bin/python-mpi" -c "print('A ran')" >"$SEC/o5a" 2>&1
    kill -CONT "$pk"
    wait "$bp"; rc=$?
    if [ "$rc" = 0 ] && grep -q '^B ran' "$SEC/o5b"; then
        t_ok "a job's chosen runtime state survives another job's prune"
    else
        t_fail "a job's chosen runtime state survives another job's prune" \
            "B exit $rc: $(grep 'cannot open bundle' "$SEC/o5b") (A: $(grep removing "$SEC/o5a"))"
    fi
else
    wait "$bp"
    t_fail "a job's chosen runtime state survives another job's prune" "set-up: no pkgroot of job B seen"
fi

echo "# [${SECONDS}s]"
# --- 6. bounded: a very deep SRC is one line and a prompt failure ---------
as "$V" python3 -c "
import os
os.chdir(os.path.expanduser('~')); os.mkdir('deep'); os.chdir('deep')
for i in range(3000):
    os.mkdir('d'); os.chdir('d')
"
for chk in all dirs; do
    job "$SEC/o6.$chk" "$VH/venv:$VH/deep" "print('ran')" PYTHON_MPI_ENV_CHECK=$chk
    rc=$?
    if [ "$rc" != 0 ] && grep -q "$VH/deep: PYTHON_MPI_ENV: cannot walk the environment" "$SEC/o6.$chk"; then
        t_ok "SRC 3000 directories deep (check $chk): one line, non-zero exit"
    else t_fail "SRC 3000 directories deep (check $chk)" "exit $rc: $(show "$SEC/o6.$chk" 3)"; fi
done

echo "# [${SECONDS}s]"
# --- 7. TOCTOU: SRC edited between the key walk and pkgroot's read -------
# The state is filed under the key of what the walk saw, but holds what
# pkgroot read later; a later job must still get the current files (the
# key holds each entry's ctime, which an edit always moves on).
as "$V" bash -c "mkdir -p ~/tt && echo 'V = 1' > ~/tt/ttmod.py && head -c 30000000 /dev/urandom > ~/tt/zblob.bin"
job "$SEC/o7a" "$VH/venv:$VH/tt" "import ttmod; print('got', ttmod.V)" &
bp=$!
pk=
for _ in $(seq 2000); do pk=$(pgrep -u "$VU" -x pkgroot | head -n 1) && [ -n "$pk" ] && break; sleep 0.01; done
[ -n "$pk" ] && kill -STOP "$pk"
as "$V" bash -c "echo 'V = 2' > ~/tt/ttmod.py"
[ -n "$pk" ] && kill -CONT "$pk"
wait "$bp"
job "$SEC/o7b" "$VH/venv:$VH/tt" "import ttmod; print('got', ttmod.V)"
as "$V" bash -c "echo 'V = 3' > ~/tt/ttmod.py"
job "$SEC/o7c" "$VH/venv:$VH/tt" "import ttmod; print('got', ttmod.V)"
if [ -n "$pk" ] && grep -q '^got 2' "$SEC/o7b" && grep -q '^got 3' "$SEC/o7c"; then
    t_ok "SRC edited while its state was made: later jobs still get the current files"
else t_fail "SRC edited while its state was made: later jobs get the current files" \
    "pkgroot '$pk'; $(grep -h '^got' "$SEC/o7a" "$SEC/o7b" "$SEC/o7c" | tr '\n' ' ')"; fi

echo "# [${SECONDS}s]"
# --- 8. two jobs at once, two environments, one cache --------------------
as "$V" bash -c "python3 -m venv --without-pip ~/venv3 && python3 -m venv --without-pip ~/venv4"
job "$SEC/o8a" "$VH/venv3" "print('three')" & p3=$!
job "$SEC/o8b" "$VH/venv4" "print('four')" & p4=$!
wait "$p3"; r3=$?; wait "$p4"; r4=$?
if [ "$r3$r4" = 00 ] && grep -q '^three' "$SEC/o8a" && grep -q '^four' "$SEC/o8b" &&
   job "$SEC/o8c" "$VH/venv3" "print('three')" && grep -q "environment $VH/venv3: cached state" "$SEC/o8c"; then
    t_ok "two jobs at once, two environments, one cache: both run, each state cached"
else t_fail "two jobs at once, two environments, one cache" "$r3 $r4: $(show "$SEC/o8a" 2) $(show "$SEC/o8b" 2)"; fi

echo "# [${SECONDS}s]"
# --- 9. bounded: the venv inside the editable project it installs --------
# `python -m venv .venv; pip install -e .` in a flat layout: the .pth names
# the project, which holds DIR; the editable directory is bundled whole,
# DIR with it (and walked twice by the key): every node gets the venv twice.
as "$V" bash -c "mkdir ~/p2 && python3 -m venv --without-pip ~/p2/.venv && head -c 20000000 /dev/urandom > ~/p2/.venv/lib/python$PY/site-packages/bigdep.bin && echo 'Q = 1' > ~/p2/q.py"
job "$SEC/o9a" "$VH/p2/.venv" "print('ran')"
echo "$VH/p2" | as "$V" tee "$VH/p2/.venv/lib/python$PY/site-packages/__editable__.p2-0.1.pth" >/dev/null
job "$SEC/o9b" "$VH/p2/.venv" "import q; print('ran', q.Q)"
b1=$(sed -n 's/.* bundle(s), \([0-9]*\) bytes to .*/\1/p' "$SEC/o9a"); b2=$(sed -n 's/.* bundle(s), \([0-9]*\) bytes to .*/\1/p' "$SEC/o9b")
if grep -q '^ran 1' "$SEC/o9b" && [ -n "$b1" ] && [ -n "$b2" ] && [ "$b2" -lt $((b1 + 5000000)) ]; then
    t_ok "venv inside its editable project: the venv is not delivered twice"
else t_fail "venv inside its editable project: the venv is not delivered twice" \
    "bytes without the .pth: ${b1:-?}, with it: ${b2:-?} (the 20 MB file of the venv twice)"; fi

echo "# [${SECONDS}s]"
# --- 10. the prune deletes nothing outside the cache ----------------------
# The victim's own mistakes in an environment's directory of the cache: a
# link to a directory of theirs, an old "state" holding a link to a file of
# theirs, a stale temporary one likewise.  A new state with
# PYTHON_MPI_CACHE_STATES=1 prunes: nothing where the links lead goes.
as "$V" bash -c "mkdir -p ~/important/sub && echo keep > ~/important/file && echo keep > ~/important/sub/f"
job "$SEC/o10w" "$VH/venv" "print('ran')"
ed=$(sed -n "s|.*environment $VH/venv: [a-z]* state \\(/[^ ]*\\)/[0-9a-f]* .*|\\1|p" "$SEC/o10w" | head -n 1)
as "$V" bash -c "ln -s ~/important '$ed/zzlink' && mkdir -m 0700 '$ed/aaold' '$ed/.tmp-x' &&
    ln -s ~/important/file '$ed/aaold/f' && ln -s ~/important '$ed/aaold/d' && ln -s ~/important/sub '$ed/.tmp-x/d' &&
    touch -h -d '3 days ago' '$ed/aaold' '$ed/.tmp-x' && touch ~/venv/lib/python$PY/site-packages/newfile.py"
job "$SEC/o10" "$VH/venv" "print('ran')" PYTHON_MPI_CACHE_STATES=1
if grep -q '^ran' "$SEC/o10" && [ ! -e "$ed/aaold" ] && [ ! -e "$ed/.tmp-x" ] &&
   [ -f "$VH/important/file" ] && [ -f "$VH/important/sub/f" ]; then
    t_ok "the prune removes old and stale entries, nothing where their links lead"
else t_fail "the prune removes old and stale entries, nothing where their links lead" \
    "envdir $ed: $(ls -a "$ed" | tr '\n' ' '); important: $(find "$VH/important" | tr '\n' ' '); $(show "$SEC/o10" 2)"; fi

echo "# [${SECONDS}s]"
# --- 11. the stream: a first job's bundle while its pkgroot writes it -----
# The victim's first job of a new environment streams its bundle from
# CACHE/ENV/.tmp-KEY-HOST-PID while pkgroot writes it (pkgroot stopped
# meanwhile, so the attacker has all the time).  The attacker can neither
# read nor write the file, list the directory, nor signal pkgroot; the job
# runs and its state is cached.
as "$V" bash -c "python3 -m venv --without-pip ~/venv11 && mkdir -p ~/s11 && echo 'E = 11' > ~/s11/m11.py && head -c 30000000 /dev/urandom > ~/s11/zblob.bin"
job "$SEC/o11" "$VH/venv11:$VH/s11" "import m11; print('got', m11.E)" & bp=$!
pk= f=
for _ in $(seq 2000); do
    pk=$(pgrep -u "$VU" -x pkgroot | head -n 1)
    if [ -n "$pk" ] && kill -STOP "$pk" 2>/dev/null; then
        f=$(readlink "/proc/$pk/fd/3" 2>/dev/null) && [ -n "$f" ] && break
        kill -CONT "$pk" 2>/dev/null
    fi
    pk= f=; sleep 0.01
done
got=
if [ -n "$f" ]; then
    as "$A" sh -c "cat '$f' >/dev/null 2>&1" && got="$got read;"
    as "$A" sh -c "echo x >> '$f' 2>/dev/null" && got="$got wrote;"
    as "$A" sh -c "ls '$(dirname "$f")' >/dev/null 2>&1" && got="$got listed;"
    as "$A" sh -c "kill -TERM $pk 2>/dev/null" && got="$got signalled;"
fi
[ -n "$pk" ] && kill -CONT "$pk"
wait "$bp"; rc=$?
if [ -n "$f" ] && [ -z "$got" ] && [ "$rc" = 0 ] && grep -q '^got 11' "$SEC/o11" &&
   job "$SEC/o11b" "$VH/venv11:$VH/s11" "print('again')" && grep -q "environment $VH/venv11: cached state" "$SEC/o11b"; then
    t_ok "a first job's stream: the attacker cannot read, write or list it nor signal its pkgroot; cached"
else t_fail "a first job's stream is the victim's alone" "file '$f', attacker:${got:- nothing}, exit $rc: $(show "$SEC/o11" 3)"; fi

echo "# [${SECONDS}s]"
t_done "$SUITE"
