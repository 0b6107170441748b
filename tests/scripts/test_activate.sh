#!/bin/bash
# test_activate.sh - scripts/activate.sh in bash and zsh, with a recording
# launcher and bcast, and the job-script templates' syntax.
set -u
. "$(dirname "$0")/../lib.sh"
TMP=$(mktemp -d /tmp/pympi-act.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin" "$TMP/chroot"
cat > "$TMP/bin/bcast" <<'SH'
#!/bin/sh
printf '%s\n' "bcast $*" >> "$LOG"
[ -z "${FAIL:-}" ]
SH
cat > "$TMP/launch" <<'SH'
#!/bin/sh
printf '%s\n' "launch $1 $2 $3" >> "$LOG"
shift 3
exec "$@"
SH
chmod +x "$TMP/bin/bcast" "$TMP/launch"
ACT=$REPO/scripts/activate.sh
export LOG=$TMP/log PYTHON_MPI_BIN=$TMP/bin PYTHON_MPI_CHROOT=$TMP/chroot

for sh in bash zsh; do
    if ! command -v $sh >/dev/null; then t_fail "$sh is not installed"; continue; fi
    : > "$LOG"
    P=$TMP/chroot/prefix-$sh
    out=$($sh -c '
        export PYTHONHOME=/old/home
        source "$1" "$2" "$3 -n 4 --flag" || exit 9
        echo "before=$PYTHONHOME path=${PATH%%:*}"
        FAIL=1 bcast x.tar.zst; echo "failed-first=$PYTHONHOME"
        bcast a.tar.zst "b c.tar.zst" && echo bcast-ok
        echo "home=$PYTHONHOME base=$PYTHONUSERBASE path=${PATH%%:*}"
        mkdir -p "$2/lib"; python_mpi_cleanup && [ ! -e "$2" ] && echo cleaned
        echo "after=$PYTHONHOME base=${PYTHONUSERBASE-unset} fn=$(type bcast >/dev/null 2>&1 && echo yes || echo no)"
    ' x "$ACT" "$P" "$TMP/launch" 2>&1)
    [ "$(printf '%s\n' "$out" | sed -n 1p)" = "before=/old/home path=${PATH%%:*}" ] &&
        printf '%s\n' "$out" | grep -qx "failed-first=/old/home" &&
        t_ok "$sh: nothing from PREFIX on PATH or PYTHONHOME before a bcast succeeded" || t_fail "$sh: environment before bcast" "$out"
    printf '%s\n' "$out" | grep -qx "home=$P base=$P path=$P/bin" &&
        t_ok "$sh: sets PYTHONHOME, PYTHONUSERBASE, PATH after bcast" || t_fail "$sh: environment" "$out"
    [ "$(stat -c %a "$P" 2>/dev/null || echo gone)" = gone ] && t_ok "$sh: (prefix created 0700, removed by cleanup)" ||
        t_fail "$sh: prefix left" "$(ls -ld "$P")"
    grep -qx "launch -n 4 --flag" "$LOG" && grep -qx "bcast -p $P a.tar.zst b c.tar.zst" "$LOG" &&
        printf '%s\n' "$out" | grep -qx bcast-ok &&
        t_ok "$sh: bcast runs LAUNCHER words then bcast -p PREFIX BUNDLE..." || t_fail "$sh: bcast call" "$(cat "$LOG"; echo "$out")"
    printf '%s\n' "$out" | grep -q "^failed-first=" && [ "$(grep -c "^bcast -p $P x.tar.zst$" "$LOG")" = 1 ] &&
        t_ok "$sh: a failing bcast returns non-zero" || t_fail "$sh: failure propagation" "$out"
    printf '%s\n' "$out" | grep -qx cleaned && grep -qx "launch -n 4 --flag" "$LOG" &&
        t_ok "$sh: python_mpi_cleanup removes PREFIX through the launcher" || t_fail "$sh: cleanup" "$out"
    printf '%s\n' "$out" | grep -qx "after=/old/home base=unset fn=no" &&
        t_ok "$sh: python_mpi_cleanup restores the environment (as python_mpi_deactivate)" || t_fail "$sh: deactivate" "$out"
    out=$($sh -c 'source "$1" relative/dir "mpiexec -n 2"; echo "rc=$?"' x "$ACT" 2>&1)
    [ "$(printf '%s\n' "$out" | grep -c '^activate.sh: PREFIX must be an absolute path')" = 1 ] && printf '%s\n' "$out" | grep -qx "rc=1" &&
        t_ok "$sh: a relative PREFIX is refused with one line" || t_fail "$sh: relative prefix" "$out"
    out=$($sh -c 'source "$1" /dev/shm/x; echo "rc=$?"' x "$ACT" 2>&1)
    printf '%s\n' "$out" | grep -q '^activate.sh: usage' && printf '%s\n' "$out" | grep -qx "rc=1" &&
        t_ok "$sh: a missing launcher is a usage error" || t_fail "$sh: missing launcher" "$out"
    V=/var/tmp/pympi-act-$sh-$$
    out=$($sh -c 'source "$1" "$2" "$3"; python_mpi_cleanup; echo "rc=$?"' x "$ACT" "$V" "$TMP/launch" 2>&1)
    printf '%s\n' "$out" | grep -q "refusing to remove $V" && printf '%s\n' "$out" | grep -qx "rc=1" && [ -d "$V" ] &&
        t_ok "$sh: python_mpi_cleanup refuses a PREFIX outside node-local storage" || t_fail "$sh: cleanup refusal" "$out"
    rmdir "$V" 2>/dev/null
    # Refused before anything runs: a prefix another user made, one not
    # private, one under a directory others can write (not sticky).
    T2=$TMP/chroot/theirs-$sh; mkdir -m 700 "$T2"; chown 65534:65534 "$T2" 2>/dev/null
    L2=$TMP/chroot/loose-$sh; mkdir -m 755 "$L2"
    W2=$TMP/chroot/open-$sh; mkdir -m 777 "$W2"; chmod 777 "$W2"
    for bad in "$T2:$T2 is owned by uid 65534, not $(id -u)" "$L2:$L2 is not private (mode 755, not 700)" \
               "$W2/p:$W2 is writable by other users (mode 777)"; do
        d=${bad%%:*}; why=${bad#*:}; : > "$LOG"
        if [ "$d" = "$T2" ] && [ "$(id -u)" != 0 ]; then
            t_skip "$sh: refused: a prefix another user made" "needs root (chown)"; continue
        fi
        out=$($sh -c 'p=$PATH; source "$1" "$2" "$3"; echo "rc=$? same-path=$([ "$PATH" = "$p" ] && echo y) fn=$(type bcast >/dev/null 2>&1 && echo yes || echo no)"' x "$ACT" "$d" "$TMP/launch" 2>&1)
        [ "$out" = "activate.sh: refusing to use $d: $why
rc=1 same-path=y fn=no" ] && [ ! -s "$LOG" ] && [ ! -e "$W2/p" ] &&
            t_ok "$sh: refused: $why" || t_fail "$sh: refusal ($why)" "$out"
    done
    rm -rf "$T2" "$L2" "$W2"
    out=$($sh -c 'source "$1" - "$2"; echo "$_PM_PREFIX"' x "$ACT" "$TMP/launch" 2>&1)
    case $out in
        "$TMP/chroot/python-mpi-$(id -u)/py-"[0-9]*) [ "$(stat -c %a "$out")" = 700 ] && [ "$(stat -c %a "$TMP/chroot/python-mpi-$(id -u)")" = 700 ] &&
            t_ok "$sh: PREFIX - is private: CHROOT/python-mpi-UID/py-PID, both 0700" || t_fail "$sh: default prefix modes" "$out" ;;
        *) t_fail "$sh: default prefix" "$out" ;;
    esac
    rm -rf "$out"
    # Red-team #15: PYTHON_MPI_CHROOT is resolved under trust.h's rule, not
    # with cd && pwd -P: a link of ours in a private directory is followed,
    # any entry of a directory others can write and that is not sticky is
    # refused in one line (the same words as python-mpi), nothing made.
    C=$TMP/cr-$sh; mkdir -m 755 "$C" "$C/open"; chmod 777 "$C/open"; ln -s "$TMP/chroot" "$C/ours"
    ln -s "$TMP/chroot" "$C/open/via"; mkdir -m 755 "$C/open/dir"
    out=$(PYTHON_MPI_CHROOT=$C/ours/./ $sh -c 'source "$1" - "$2"; echo "$_PM_PREFIX"' x "$ACT" "$TMP/launch" 2>&1)
    case $out in
        "$TMP/chroot/python-mpi-$(id -u)/py-"[0-9]*) t_ok "$sh: PYTHON_MPI_CHROOT through a link of ours is resolved" ;;
        *) t_fail "$sh: chroot through our link" "$out" ;;
    esac
    rm -rf "$out"
    for e in via dir; do
        out=$(PYTHON_MPI_CHROOT=$C/open/$e $sh -c 'source "$1" - "$2"; echo "rc=$? fn=$(type bcast >/dev/null 2>&1 && echo yes || echo no)"' x "$ACT" "$TMP/launch" 2>&1)
        [ "$out" = "activate.sh: cannot use $C/open/$e as PYTHON_MPI_CHROOT: $C/open is writable by other users and not sticky (mode 0777): anyone there can replace $C/open/$e
rc=1 fn=no" ] && [ -z "$(ls -A "$C/open/dir")" ] &&
            t_ok "$sh: PYTHON_MPI_CHROOT: the $e in a 0777 non-sticky directory is refused in one line" ||
            t_fail "$sh: chroot $e in a 0777 directory" "$out"
    done
    out=$(PYTHON_MPI_CHROOT=$C/nowhere $sh -c 'source "$1" - "$2"; echo "rc=$?"' x "$ACT" "$TMP/launch" 2>&1)
    [ "$out" = "activate.sh: cannot use $C/nowhere as PYTHON_MPI_CHROOT: cannot resolve $C/nowhere: No such file or directory
rc=1" ] && t_ok "$sh: a missing PYTHON_MPI_CHROOT is named" || t_fail "$sh: missing chroot" "$out"
    # PYTHON_MPI_BIN under the same rule: a bcast in a 0777 directory is not run
    mkdir -m 755 "$C/open/bin"; cp "$TMP/bin/bcast" "$C/open/bin/bcast"
    out=$(PYTHON_MPI_BIN=$C/open/bin $sh -c 'source "$1" - "$2"; echo "rc=$?"' x "$ACT" "$TMP/launch" 2>&1)
    [ "$out" = "activate.sh: refusing to use $C/open/bin/bcast: $C/open is writable by other users and not sticky (mode 0777): anyone there can replace $C/open/bin
rc=1" ] && t_ok "$sh: PYTHON_MPI_BIN in a 0777 non-sticky directory is refused" || t_fail "$sh: PYTHON_MPI_BIN in a 0777 directory" "$out"
    rm -rf "$C"
    # Issue 21 (6): after python_mpi_cleanup, the environment is the one
    # before activate.sh, entry for entry (nothing names the removed
    # prefix), whether the variables were exported, set or unset; with "-"
    # the per-user directory stays, 0700, for the next job.
    for how in exported unset shellvar; do
        E=$TMP/env-$sh-$how; mkdir -p "$E"
        out=$($sh -c '
            case $3 in
                exported) export PYTHONHOME=/old/home PYTHONUSERBASE=/old/base PYTHON_MPI_PREFIX=/old/prefix ;;
                unset) unset PYTHONHOME PYTHONUSERBASE PYTHON_MPI_PREFIX ;;
                shellvar) unset PYTHONHOME PYTHONUSERBASE PYTHON_MPI_PREFIX; PYTHONHOME=/shell/home ;;
            esac
            env | grep -v "^_=" | sort > "$4/before"
            source "$1" - "$2" || exit 9
            p=$_PM_PREFIX
            bcast a.tar.zst || exit 8
            env | grep -q "$p" || echo "prefix-not-in-env"
            python_mpi_cleanup || echo "cleanup-failed"
            env | grep -v "^_=" | sort > "$4/after"
            [ -e "$p" ] && echo "prefix-left"
            echo "shellvar=${PYTHONHOME-unset}"
            echo "fn=$(type bcast >/dev/null 2>&1 && echo yes || echo no) vars=$(set | grep -c "^_PM_")"
        ' x "$ACT" "$TMP/launch -n 4 --flag" "$how" "$E" 2>&1)
        want_home=unset; [ $how = exported ] && want_home=/old/home; [ $how = shellvar ] && want_home=/shell/home
        if printf '%s\n' "$out" | grep -qx "shellvar=$want_home" && printf '%s\n' "$out" | grep -qx "fn=no vars=0" &&
           ! printf '%s\n' "$out" | grep -q "prefix-not-in-env\|cleanup-failed\|prefix-left" &&
           cmp -s "$E/before" "$E/after"; then
            t_ok "$sh ($how): python_mpi_cleanup leaves env as before activate.sh (diff empty), prefix gone"
        else
            t_fail "$sh ($how): environment after cleanup" "$out$(diff "$E/before" "$E/after")"
        fi
    done
    U=$TMP/chroot/python-mpi-$(id -u)
    [ -d "$U" ] && [ "$(stat -c %a "$U")" = 700 ] &&
        t_ok "$sh: with -, the per-user directory stays (0700) after python_mpi_cleanup" ||
        t_fail "$sh: per-user directory after cleanup" "$(ls -la "$U" 2>&1)"
done
# make install PREFIX=... DESTDIR=...: the layout activate.sh relies on.
D=$TMP/destdir
if make -s -C "$REPO" install PREFIX=/opt/pympi DESTDIR="$D" BUILD="$BUILD" >/dev/null 2>&1 &&
   [ -x "$D/opt/pympi/bin/python-mpi" ] && [ -x "$D/opt/pympi/bin/bcast" ] && [ -x "$D/opt/pympi/bin/pkgroot" ] &&
   [ -f "$D/opt/pympi/share/python-mpi/activate.sh" ] && [ -x "$D/opt/pympi/share/python-mpi/job-slurm.sh" ] &&
   [ -x "$D/opt/pympi/share/python-mpi/job-pbs-aprun.sh" ] && [ -x "$D/opt/pympi/share/python-mpi/job-mpiexec.sh" ] &&
   [ -f "$D/opt/pympi/share/man/man1/python-mpi.1" ] && [ -f "$D/opt/pympi/share/man/man1/bcast.1" ]; then
    t_ok "make install honours PREFIX and DESTDIR (programs, activate.sh, job templates, man pages)"
else t_fail "make install" "$(find "$D" 2>/dev/null | head)"; fi
out=$(env -u PYTHON_MPI_BIN bash -c 'source "$1" - "mpiexec.mpich -n 2" && type bcast | grep -o "_pm_launch.*"; echo "$_PM_BCAST"' x "$D/opt/pympi/share/python-mpi/activate.sh" 2>&1)
[ "$(printf '%s\n' "$out" | tail -n 1)" = "$D/opt/pympi/bin/bcast" ] &&
    t_ok "an installed activate.sh finds the installed bcast" || t_fail "installed activate.sh" "$out"

for j in "$REPO"/scripts/job-*.sh; do t_check "$(basename "$j") is valid bash" bash -n "$j"; done
for m in "$REPO"/docs/man/*.1; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 groff -man -ww -z "$m" 2>&1)
    [ -z "$out" ] && t_ok "man page $(basename "$m") renders without warnings" || t_fail "man page $(basename "$m")" "$out"
done
out=$(sh "$REPO/scripts/install-deps.sh" 2>&1); rc=$?
[ $rc = 0 ] && [ "$out" = "deps: all present" ] && t_ok "install-deps.sh is quiet when everything is present" || t_fail "install-deps" "$out"
t_done scripts
