#!/bin/bash
# glibc-floor.sh BIN...: dynamic symbols a binary takes from glibc with a version newer than GLIBC_2.28 (RHEL/Rocky 8),
# other than the ones glibc only re-versioned (stat family 2.33; libpthread/libdl moved into libc 2.34; the start).
# (A copy of the project's shared tools/glibc-floor.sh, so that make check runs it from a fresh clone;
# tests/portability/test_portability.sh runs it on every build's binaries.)
# Prints each offending symbol; exit 1 if any.
bad=0
moved='^(stat|fstat|lstat|fstatat|mknod|mknodat)(64)?$|^__libc_start_main$|^pthread_|^dl(open|sym|close|error|addr|info|vsym|mopen|iterate_phdr)$|^sem_|^__pthread|^thrd_|^mtx_|^cnd_|^tss_|^call_once$|^__libc_single_threaded$|^_dl_find_object$|^lib(c|pthread)_'
for b in "$@"; do
  while read -r sym ver; do
    v=${ver#GLIBC_}; maj=${v%%.*}; min=${v#*.}; min=${min%%.*}
    if [ "$maj" -gt 2 ] || { [ "$maj" = 2 ] && [ "$min" -gt 28 ]; }; then
      echo "$sym" | grep -qE "$moved" || { echo "$(basename "$b"): $sym@$ver"; bad=1; }
    fi
  done < <(objdump -T "$b" 2>/dev/null | awk '/\*UND\*/ && /GLIBC_/ {for (i=1;i<=NF;i++) if ($i ~ /^\(?GLIBC_/) {v=$i; gsub(/[()]/,"",v)}; print $NF, v}')
done
exit $bad
