#!/bin/bash
# test_portability.sh - builds where our users are (issue 22): RHEL/Rocky 8
# (glibc 2.28, GNU ld 2.30, Linux 4.18 headers) as well as today's Debian,
# with gcc and clang.  Checks, on the build under test ($BUILD):
#   - no binary takes a glibc symbol newer than 2.28 (glibc-floor.sh; a
#     newer function is looked up at run time or has a probe and fallback);
#   - python-mpi exports its MPI_Comm_spawn wrappers and kill, and
#     nothing else of ours; no linker option newer than ld 2.30 is used;
#   - the probes (scripts/probe-config.sh) found what this system has;
# then makes two more builds with this make, each with the cmocka units:
#   - $BUILD-clang (build-clang/): make CC=clang WERROR=1 (all, the floor
#     again, units);
#   - $BUILD-fallback: make PM_FORCE_FALLBACKS=1 WERROR=1, every probe
#     answered "absent" as on RHEL 8 (compat headers, the reaper's
#     fallback; test_reaper runs it with and without /proc).
set -u
. "$(dirname "$0")/../lib.sh"
MAKE=${MAKE:-make}
FLOOR=$REPO/tests/portability/glibc-floor.sh
TMP=$(mktemp -d /tmp/pympi-port.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$REPO" || exit 1
REL=${BUILD#"$REPO"/}   # as make check names it (build, build-san, ...)

# floor NAME DIR: the glibc floor of DIR's python-mpi, bcast and pkgroot.
floor() {
    local bins=("$2"/bin/python-mpi "$2"/bin/bcast "$2"/bin/pkgroot) out
    if ! command -v objdump >/dev/null; then
        t_skip "$1: no glibc symbol newer than 2.28" "no objdump (binutils)"; return
    fi
    if ! ls "${bins[@]}" >/dev/null 2>&1; then
        t_fail "$1: binaries missing" "$(ls -l "${bins[@]}" 2>&1)"; return
    fi
    if out=$(bash "$FLOOR" "${bins[@]}" 2>&1) && [ -z "$out" ]; then
        t_ok "$1: python-mpi, bcast, pkgroot take no glibc symbol newer than 2.28"
    else t_fail "$1: glibc symbols newer than 2.28 (RHEL 8): probe, look up at run time, or do without" "$out"; fi
}

floor "$REL" "$BUILD"

if command -v nm >/dev/null; then
    # Functions only: an MPI's data (Open MPI's ompi_mpi_comm_world) is
    # copied into the executable and so exported with it.
    ours=$(nm -D --defined-only "$BIN/python-mpi" 2>&1 | awk '$2 == "T" && $NF !~ /@/ {print $NF}' | sort | paste -sd' ')
    if [ "$ours" = "MPI_Comm_spawn MPI_Comm_spawn_multiple kill" ]; then
        t_ok "python-mpi exports MPI_Comm_spawn, MPI_Comm_spawn_multiple, kill and no other function (not _exit)"
    else t_fail "python-mpi's exports: '$ours'" "$(nm -D --defined-only "$BIN/python-mpi" 2>&1 | head)"; fi
else t_skip "python-mpi's exports" "no nm (binutils)"; fi

# GNU ld 2.30 (RHEL 8) lacks --export-dynamic-symbol (2.35); the build says
# what python-mpi exports with --dynamic-list.  The link command, as make
# would run it:
link=$("$MAKE" --no-print-directory -n -W interp/exports.dynamic-list BUILD="$REL" "$REL/bin/python-mpi" 2>&1 |
       grep -e ' -o [^ ]*/bin/python-mpi ')
if [ -n "$link" ] && ! grep -q -e '--export-dynamic-symbol' <<< "$link" && grep -q -e '--dynamic-list=' <<< "$link"; then
    t_ok "python-mpi's link: --dynamic-list (GNU ld 2.30 has it), no --export-dynamic-symbol (2.35+)"
else t_fail "python-mpi's link uses an option newer than GNU ld 2.30 (RHEL 8)" "$link"; fi

# A probe that fails for a wrong reason (flags, quoting) would quietly take
# the fallback: what it found must be what this system has.
conf=$BUILD/config/pm_config.h
have() { grep -q "^#define $1 1\$" "$conf"; }
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -z "$glibc" ]; then
    t_skip "probe: posix_spawn_file_actions_addclosefrom_np" "not glibc"
else
    want=0; printf '2.34\n%s\n' "$glibc" | sort -V -C && want=1
    got=0; have PM_HAVE_ADDCLOSEFROM_NP && got=1
    if [ "$want" = "$got" ]; then
        t_ok "probe: posix_spawn_file_actions_addclosefrom_np $([ $got = 1 ] || echo "not ")found (glibc $glibc)"
    else t_fail "probe: posix_spawn_file_actions_addclosefrom_np: found $got with glibc $glibc" "$(cat "$BUILD/config/probe.log")"; fi
fi
want=0; echo '#include <linux/openat2.h>' | ${CC:-cc} -E - >/dev/null 2>&1 && want=1
got=0; have PM_HAVE_LINUX_OPENAT2_H && got=1
if [ "$want" = "$got" ] && { [ $got = 0 ] || [ ! -e "$BUILD/config/compat/linux/openat2.h" ] || ! have PM_HAVE_SYS_OPENAT2; }; then
    t_ok "probe: <linux/openat2.h> $([ $got = 1 ] || echo "not ")found, compat header only where needed"
else t_fail "probe: <linux/openat2.h>: found $got, the preprocessor $want" "$(cat "$BUILD/config/probe.log"; ls -R "$BUILD/config")"; fi

# The layers (docs/architecture.md): one direction, no cycle (layers.py,
# which must also catch a broken rule: an upward include planted in a
# copy); the per-layer include path refuses a delivery header in the core;
# pkgroot and the core's units link neither MPI nor, where they do not
# embed Python, libpython.
if out=$(/usr/bin/python3 scripts/layers.py --check 2>&1); then
    t_ok "layers: $(tail -1 <<< "$out" | sed 's/^layers: //')"
else t_fail "layers: a broken rule (python3 scripts/layers.py)" "$out"; fi
mkdir -p "$TMP/tree/scripts" && cp -r bcast interp pkgroot-tools python-mpi.c "$TMP/tree/" &&
    cp scripts/layers.py "$TMP/tree/scripts/" && printf '#include "deliver.h"\n' >> "$TMP/tree/bcast/core/log.c"
if out=$(/usr/bin/python3 "$TMP/tree/scripts/layers.py" --check 2>&1); then
    t_fail "layers: an upward include (core -> delivery) passed" "$out"
elif grep -q 'bcast/core/log.c (core) includes bcast/delivery/deliver.h (delivery): not downward' <<< "$out"; then
    t_ok "layers: an upward include planted in a copy is named"
else t_fail "layers: an upward include, wrong report" "$out"; fi
if out=$(printf '#include "mpi_util.h"\n' | ${CC:-cc} -fsyntax-only -Ibcast/core -I"$BUILD/config" -x c - 2>&1); then
    t_fail "the core's include path reaches a delivery header" "$out"
else t_ok "the core's include path (-Ibcast/core) cannot reach a delivery header"; fi
needed() { readelf -d "$1" 2>/dev/null | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}' | paste -sd' '; }
if command -v readelf >/dev/null; then
    bad=
    for b in "$BIN/pkgroot" "$BUILD"/tests/test_unpack "$BUILD"/tests/test_trust "$BUILD"/tests/test_relocate; do
        [ -x "$b" ] || { bad="$bad $b: missing;"; continue; }
        n=$(needed "$b")
        case " $n " in *mpi*|*open-pal*|*ucp*) bad="$bad $b: $n;";; esac
        case "$b" in */bin/pkgroot) ;; *) case " $n " in *python*) bad="$bad $b: $n;";; esac;; esac
    done
    [ -z "$bad" ] && t_ok "pkgroot and the core's units link no MPI; the units no libpython" ||
        t_fail "a lower layer links a higher one's library" "$bad"
else t_skip "what pkgroot and the core's units link" "no readelf (binutils)"; fi

# sub NAME LOG MAKE-ARGS...: one more build with this make.
sub() {
    local name=$1 log=$TMP/$2; shift 2
    # A units run that ran none (a selection leaking in) is no pass.
    if "$MAKE" --no-print-directory WERROR=1 SUITE= CASE= "$@" >"$log" 2>&1 &&
       { [ "${*: -1}" != unit ] || grep -qE '^unit: [1-9][0-9]* passed, 0 failed' "$log"; }; then
        t_ok "$name$(grep -E '^unit: ' "$log" | tail -1 | sed 's/^unit:/ (units:/; s/$/)/')"
        return 0
    fi
    t_fail "$name" "$(grep -E 'error|warning|FAILED|not ok' "$log" | head -20; tail -5 "$log")"
    return 1
}

if command -v clang >/dev/null; then
    B=$REL-clang
    sub "make CC=clang WERROR=1: warning-free" clang-all CC=clang BUILD="$B" all &&
        floor "$B" "$B"
    sub "the clang build's units" clang-unit CC=clang BUILD="$B" unit
else
    t_skip "make CC=clang WERROR=1" "no clang"
    t_skip "the clang build's units" "no clang"
fi

B=$REL-fallback
if sub "make PM_FORCE_FALLBACKS=1 WERROR=1: every fallback, warning-free, units pass" fallback-unit \
        PM_FORCE_FALLBACKS=1 BUILD="$B" unit; then
    reaper=$("$B/tests/test_reaper" 2>&1)
    if ! grep -q '^#define PM_HAVE_[A-Z0-9_]* 1$' "$B/config/pm_config.h" &&
       [ -e "$B/config/compat/linux/openat2.h" ] &&
       [ "$(grep -c '^\[       OK \] fallback_' <<< "$reaper")" = 4 ] &&
       grep -q '^\[  SKIPPED \] 2 test(s)' <<< "$reaper" && ! grep -q '^\[  FAILED  \]' <<< "$reaper"; then
        t_ok "PM_FORCE_FALLBACKS=1: every probe answered absent, compat <linux/openat2.h> used, the reaper's fallbacks pass"
    else t_fail "PM_FORCE_FALLBACKS=1 build" "$(cat "$B/config/pm_config.h"; ls -R "$B/config"; echo "$reaper" | tail -15)"; fi
fi

t_done portability
