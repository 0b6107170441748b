#!/bin/sh
# probe-config.sh - what this machine's C library and kernel headers offer,
# for the Makefile:
#
#   CC=... CFLAGS=... LDFLAGS=... [PM_FORCE_FALLBACKS=1] sh scripts/probe-config.sh DIR
#
# writes DIR/pm_config.h (PM_HAVE_X 1 or 0, one per feature newer than
# glibc 2.28 / Linux 4.18, i.e. RHEL/Rocky 8) and, where the headers lack
# <linux/openat2.h> or SYS_openat2, DIR/compat/linux/openat2.h in their
# place (the Makefile puts DIR/compat on the include path; bcast/core/trust.c
# includes <linux/openat2.h> and calls openat2 only through syscall(), and
# falls back to a walk on ENOSYS).  Each probe compiles and links a tiny
# program with $CC; what the compiler said is kept in DIR/probe.log.
# PM_FORCE_FALLBACKS=1 answers "absent" to every probe: the build RHEL 8
# gets, on any machine (make check builds it: tests/portability/).
set -u
dir=${1:?usage: probe-config.sh DIR}
: "${CC:=cc}" "${CFLAGS:=}" "${LDFLAGS:=}" "${PM_FORCE_FALLBACKS:=}"
mkdir -p "$dir" || exit 1
tmp=$(mktemp -d "$dir/probe.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
log=$tmp/probe.log
: >"$log"

# probe NAME: compile and link the program on stdin; 1 if that worked.
probe() {
    cat >"$tmp/$1.c"
    if [ "$PM_FORCE_FALLBACKS" = 1 ]; then
        echo "$1: forced absent (PM_FORCE_FALLBACKS=1)" >>"$log"
        echo 0
        return
    fi
    # shellcheck disable=SC2086  # CC and the flags are word lists
    if $CC -std=c11 -D_GNU_SOURCE -Werror=implicit-function-declaration $CFLAGS \
           -o "$tmp/$1" "$tmp/$1.c" $LDFLAGS >>"$log" 2>&1; then
        echo "$1: yes" >>"$log"
        echo 1
    else
        echo "$1: no" >>"$log"
        echo 0
    fi
}

# glibc 2.34.  bcast/delivery/reaper.c looks it up when it runs (so that no binary
# needs more than glibc 2.28) and has a fallback; this answer lets
# tests/unit/test_reaper.c check that the lookup finds it where it is.
closefrom=$(probe addclosefrom_np <<'EOF'
#include <spawn.h>
int main(void)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    return posix_spawn_file_actions_addclosefrom_np(&fa, 4);
}
EOF
)
# Linux 5.6 headers.  Fallback: the structure and flags written out below.
openat2_h=$(probe linux_openat2_h <<'EOF'
#include <linux/openat2.h>
int main(void)
{
    struct open_how how = {0, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    return (int)how.resolve;
}
EOF
)
# glibc 2.32 (its list of syscall names).  Fallback: the kernel's number.
sys_openat2=$(probe sys_openat2 <<'EOF'
#include <sys/syscall.h>
int main(void)
{
    return (int)SYS_openat2;
}
EOF
)

cat >"$tmp/pm_config.h" <<EOF
/* pm_config.h - written by scripts/probe-config.sh: which features newer
 * than glibc 2.28 / Linux 4.18 this build found (1) or goes without (0).
 * Forced fallbacks (PM_FORCE_FALLBACKS=1): ${PM_FORCE_FALLBACKS:-0}. */
#ifndef PM_CONFIG_H
#define PM_CONFIG_H
#define PM_FORCED_FALLBACKS ${PM_FORCE_FALLBACKS:-0}
#define PM_HAVE_ADDCLOSEFROM_NP $closefrom
#define PM_HAVE_LINUX_OPENAT2_H $openat2_h
#define PM_HAVE_SYS_OPENAT2 $sys_openat2
#endif
EOF

mkdir -p "$tmp/compat/linux" || exit 1
if [ "$openat2_h" = 0 ] || [ "$sys_openat2" = 0 ]; then
    {
        echo "/* linux/openat2.h - written by scripts/probe-config.sh: what this system's"
        echo " * headers lack of openat2 (Linux 5.6, glibc 2.32): see pm_config.h. */"
        echo "#ifndef PM_COMPAT_LINUX_OPENAT2_H"
        echo "#define PM_COMPAT_LINUX_OPENAT2_H"
        echo "#include <sys/syscall.h>"
        if [ "$openat2_h" = 1 ]; then
            echo "#include_next <linux/openat2.h>"
        else
            cat <<'EOF'
#include <linux/types.h>
/* The kernel's ABI (include/uapi/linux/openat2.h), fixed since 5.6. */
struct open_how {
    __u64 flags;
    __u64 mode;
    __u64 resolve;
};
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20
EOF
        fi
        cat <<'EOF'
/* 437 in the table every architecture shares since Linux 5.1; elsewhere
 * (alpha, ia64, mips) a number no kernel has, so ENOSYS: the walk. */
#if !defined(SYS_openat2) && defined(__NR_openat2)
#define SYS_openat2 __NR_openat2
#elif !defined(SYS_openat2) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
    defined(__arm__) || defined(__powerpc__) || defined(__s390__) || defined(__riscv) || defined(__loongarch__))
#define SYS_openat2 437
#elif !defined(SYS_openat2)
#define SYS_openat2 (-1)
#endif
#endif
EOF
    } >"$tmp/compat/linux/openat2.h"
fi

# Replace what an earlier run wrote (a compat header no longer needed goes).
rm -rf "$dir/compat" && mv "$tmp/compat" "$dir/compat" &&
    mv "$log" "$dir/probe.log" && mv "$tmp/pm_config.h" "$dir/pm_config.h"
