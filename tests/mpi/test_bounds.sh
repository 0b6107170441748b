#!/bin/bash
# test_bounds.sh - bounded work for hostile bundles (issue 21, red team
# round 1 #1, #2, #13, #14, #16): bytes actually written (sparse maps),
# entries, link targets, one budget per node and delivery whatever the
# unpackers, and names that cannot forge a line or reach a terminal raw.
# Small and fast: 16 MiB under an 8M limit, a few hundred entries.
set -u
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d /tmp/pympi-bounds.XXXXXX)
cleanup() { chmod -R u+rwx "$TMP" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
chmod 700 "$TMP"
BCAST=$BIN/bcast PKGROOT=$BIN/pkgroot
unset PYTHON_MPI_MAX_UNPACKED PYTHON_MPI_MAX_ENTRIES PYTHON_MPI_UNPACKERS
export PYTHON_MPI_CHROOT=$TMP

# Hostile tars, made here (the red team's generators, smaller).
"$PYTHON" - "$TMP" <<'EOF'
import io, sys, tarfile
d = sys.argv[1]
def add(t, name, data=b"", **kw):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
# GNU sparse 0.1 in pax: real size 1 byte, map of 16 MiB of stored data.
n = 16 << 20
with tarfile.open(d + "/sparse.tar", "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("big.bin"); i.size = n; i.mode = 0o644
    i.pax_headers = {"GNU.sparse.size": "1", "GNU.sparse.numblocks": "1",
                     "GNU.sparse.map": "0,%d" % n}
    t.addfile(i, io.BytesIO(b"\0" * n))
# gzip'd: the bundle itself stays under the limit (a bundle bigger than
# it is refused before it is read, 7.).
import gzip, shutil
with open(d + "/sparse.tar", "rb") as f, gzip.open(d + "/sparse.tar.gz", "wb") as g:
    shutil.copyfileobj(f, g)
# 601 zero-byte entries: a file, hard links, directories, symlinks.
with tarfile.open(d + "/many.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "f0")
    for k in range(200):
        add(t, "h%d" % k, type=tarfile.LNKTYPE, linkname="f0")
        add(t, "d%d" % k, type=tarfile.DIRTYPE, mode=0o755)
        add(t, "s%d" % k, type=tarfile.SYMTYPE, linkname="f0")
# A symbolic link whose target the kernel cannot take (> 4095 bytes).
with tarfile.open(d + "/longlink.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "ok.txt", b"ok\n")
    add(t, "l", type=tarfile.SYMTYPE, linkname="x" * 5000)
# Names with a newline (a forged line) and an escape sequence.
with tarfile.open(d + "/nl.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "x\nbcast: rank 0 on vm: 1 bundle(s) unpacked FORGED\n\x1b[8m/../y")
with tarfile.open(d + "/esc.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "/abs\x1b[31mred\x9b2J\xff\x7f")
# Bytes that are not UTF-8 (latin-1 names in a GNU header).
with tarfile.open(d + "/inv.tar", "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
    add(t, "/inv\xff\xfe\xc2")
# Two bundles of 5 MiB each (incompressible), and a tree of 12 MiB.
import os
for name in ("five1", "five2"):
    with tarfile.open(d + "/%s.tar" % name, "w") as t:
        add(t, name + ".bin", os.urandom(5 << 20))
os.makedirs(d + "/src12/pkg")
for k in range(12):   # 32 KiB of noise, 32 times: lz4's parts stay small
    with open(d + "/src12/pkg/m%02d.bin" % k, "wb") as f:
        f.write(os.urandom(1 << 15) * 32)
# One directory of a 32 KB name (126 levels), its entry 2000 times; and
# 1500 directories of 750-byte names (1.1 MB): xz'd, a few KB each.
import lzma
deep = "/".join(["%03d" % k + "a" * 247 for k in range(126)])
def dirs(names):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for nm in names:
            add(t, nm, type=tarfile.DIRTYPE, mode=0o755, mtime=1)
    return out.getvalue()
mid = "/".join(["%03d" % k + "b" * 247 for k in range(3)])
for name, names in (("dirrep", [deep] * 2000), ("dirmany", ["%s/%d" % (mid, k) for k in range(1500)])):
    with lzma.open(d + "/%s.tar.xz" % name, "wb") as f:
        f.write(dirs(names))
    if name == "dirrep":
        with open(d + "/dirrep.tar", "wb") as f:
            f.write(dirs(names))
        with open(d + "/dirrep500.tar", "wb") as f:
            f.write(dirs(names[:500]))
# A small tar followed by a hole: 64 MiB (a sparse file).
with tarfile.open(d + "/hole.tar", "w") as t:
    add(t, "z.py", b"x = 1\n")
os.truncate(d + "/hole.tar", 64 << 20)
EOF
[ -s "$TMP/sparse.tar" ] || { t_fail "make the hostile tars"; t_done bounds; exit 1; }
"$PKGROOT" --parts lz4 dir "$TMP/mid.ptar" "$TMP/src12" >/dev/null 2>"$TMP/err" ||
    t_fail "pkgroot --parts stored dir" "$(cat "$TMP/err")"

# refused NAME REGEX PREFIX CMD...: a non-zero exit, at least one error line
# matching REGEX, and fewer than the limit's bytes left in PREFIX.
refused() {
    local name=$1 re=$2 prefix=$3; shift 3
    local rc lines kb
    timeout 120 "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    lines=$(t_error_lines "$TMP/err")
    kb=$(du -sk "$prefix" 2>/dev/null | cut -f1)
    if [ $rc != 0 ] && [ $rc != 124 ] && [ "$lines" -ge 1 ] && grep -Eq "$re" "$TMP/err" &&
       [ "${kb:-0}" -le 8200 ]; then
        t_ok "$name: exit $rc, ${kb:-0} KiB written"
    else
        t_fail "$name (rc=$rc, $lines error lines, ${kb:-0} KiB written)" "$(head -c 2000 "$TMP/err")"
    fi
    rm -rf "$prefix"
}

# 1. The bytes written count, not the size a header declares.
refused "sparse map of 16 MiB declared as 1 byte, under an 8M limit" \
    "sparse.tar.gz: entry 'big.bin': the bundle unpacks to more than 8388608 bytes" "$TMP/p1" \
    env PYTHON_MPI_MAX_UNPACKED=8M "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p1" "$TMP/sparse.tar.gz"

# 2. Entries are counted, every kind; the setting is honoured both ways.
refused "601 entries under PYTHON_MPI_MAX_ENTRIES=100" \
    "many.tar: entry '[^']*': the bundle has more than 100 entries, the limit \(PYTHON_MPI_MAX_ENTRIES" \
    "$TMP/p2" env PYTHON_MPI_MAX_ENTRIES=100 "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p2" "$TMP/many.tar"
if PYTHON_MPI_MAX_ENTRIES=601 "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p2" "$TMP/many.tar" >/dev/null 2>"$TMP/err" &&
   [ "$(find "$TMP/p2" -mindepth 1 ! -name '.python-mpi-*' | wc -l)" -eq 601 ]; then
    t_ok "601 entries under PYTHON_MPI_MAX_ENTRIES=601: delivered"
else
    t_fail "601 entries under PYTHON_MPI_MAX_ENTRIES=601" "$(cat "$TMP/err")"
fi
rm -rf "$TMP/p2"
if PYTHON_MPI_MAX_ENTRIES=lots "$BCAST" -p "$TMP/p2" "$TMP/many.tar" >/dev/null 2>"$TMP/err"; then
    t_fail "PYTHON_MPI_MAX_ENTRIES=lots accepted"
else
    t_check "PYTHON_MPI_MAX_ENTRIES=lots refused in one line" grep -q "PYTHON_MPI_MAX_ENTRIES='lots'" "$TMP/err"
fi
rm -rf "$TMP/p2"

# 3. A link target the kernel cannot take is refused when read, and by verify.
refused "symbolic link target of 5000 bytes" \
    "longlink.tar: entry 'l': symbolic link target of 5000 bytes, longer than the system allows \(4095\)" \
    "$TMP/p3" "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p3" "$TMP/longlink.tar"
if "$PKGROOT" verify "$TMP/longlink.tar" >/dev/null 2>"$TMP/err"; then
    t_fail "pkgroot verify accepts a 5000-byte link target"
else
    t_check "pkgroot verify refuses a 5000-byte link target" grep -q "longer than the system allows" "$TMP/err"
fi

# 4. One budget per node and delivery: 4 unpackers of a 12 MiB .ptar, and
#    two bundles of 5 MiB, each under an 8M limit.
for run in 1 2 3; do
    refused "12 MiB .ptar, 4 unpackers, 8M limit (run $run)" \
        "mid.ptar: entry '[^']*': the bundle unpacks to more than 8388608 bytes" "$TMP/p4" \
        env PYTHON_MPI_MAX_UNPACKED=8M PYTHON_MPI_UNPACKERS=4 "$MPIEXEC" -n 4 "$BCAST" -p "$TMP/p4" "$TMP/mid.ptar"
done
refused "two 5 MiB bundles of one delivery, 8M limit" \
    "five2.tar: entry 'five2.bin': the bundle unpacks to more than 8388608 bytes" "$TMP/p5" \
    env PYTHON_MPI_MAX_UNPACKED=8M "$MPIEXEC" -n 2 "$BCAST" -p "$TMP/p5" "$TMP/five1.tar" "$TMP/five2.tar"
if PYTHON_MPI_MAX_UNPACKED=13M PYTHON_MPI_UNPACKERS=4 "$MPIEXEC" -n 4 "$BCAST" -p "$TMP/p4" "$TMP/mid.ptar" \
       >/dev/null 2>"$TMP/err" && [ "$(find "$TMP/p4" -name 'm*.bin' | wc -l)" -eq 12 ]; then
    t_ok "12 MiB .ptar, 4 unpackers, 13M limit: delivered"
else
    t_fail "12 MiB .ptar, 4 unpackers, 13M limit" "$(cat "$TMP/err")"
fi
rm -rf "$TMP/p4"

# 5. Names cannot forge a line nor reach the terminal raw.
for b in nl esc inv; do
    timeout 60 "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p6" "$TMP/$b.tar" >"$TMP/out" 2>"$TMP/err"; rc=$?
    # one line of ours (a forged one would start as ours too); Open MPI's
    # launcher adds its own report of the failed process
    if [ $rc != 0 ] && [ "$(t_error_lines "$TMP/err")" -eq 1 ] &&
       ! grep -q "FORGED" "$TMP/out" && ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$TMP/err" &&
       ! LC_ALL=C grep -q $'\xc2[\x80-\x9f]' "$TMP/err" &&
       ! LC_ALL=C grep -q $'[\xff\xfe]' "$TMP/err"; then
        t_ok "$b.tar: one escaped line: $(head -c 160 "$TMP/err")"
    else
        t_fail "$b.tar (rc=$rc)" "$(cat -v "$TMP/err")"
    fi
    rm -rf "$TMP/p6"
done
timeout 60 "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p6" "$TMP/nl.tar" 2>"$TMP/err" >/dev/null
t_check "nl.tar: the newline shows as \\n and ESC as \\x1b" grep -q "entry 'x\\\\nbcast: rank 0 on vm: 1 bundle(s) unpacked FORGED\\\\n\\\\x1b\[8m/../y'" "$TMP/err"
rm -rf "$TMP/p6"
timeout 60 "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p6" "$TMP/inv.tar" 2>"$TMP/err" >/dev/null
t_check "inv.tar: bytes that are not UTF-8 show as \\xNN" grep -q "entry '/inv\\\\xff\\\\xfe\\\\xc2'" "$TMP/err"
rm -rf "$TMP/p6"

# 6. A directory's name is kept for its mtime once, however often the
#    bundle repeats it, and is counted as bytes (red team 2, row 1).
if [ -x /usr/bin/time ]; then
    PYTHON_MPI_MAX_UNPACKED=8M /usr/bin/time -o "$TMP/rss" -f %M "$BCAST" -p "$TMP/p7" "$TMP/dirrep.tar.xz" \
        >/dev/null 2>"$TMP/err"; rc=$?
    rss=$(tail -n 1 "$TMP/rss")
    # Kept 2000 times, the names alone are 64 MB.
    if [ $rc = 0 ] && [ "${rss:-999999}" -lt 40000 ]; then
        t_ok "a 32 KB directory entry 2000 times, 8M limit: delivered, max RSS ${rss} KiB"
    else
        t_fail "a 32 KB directory entry 2000 times (rc=$rc, max RSS ${rss:-?} KiB)" "$(cat "$TMP/err")"
    fi
else
    t_skip "a 32 KB directory entry 2000 times: no /usr/bin/time"
fi
rm -rf "$TMP/p7"
refused "1500 directories of 750-byte names (1.1 MB of names), 1M limit" \
    "dirmany.tar.xz: entry '[^']*': the bundle unpacks to more than 1048576 bytes" "$TMP/p7" \
    env PYTHON_MPI_MAX_UNPACKED=1M "$MPIEXEC" -n 1 "$BCAST" -p "$TMP/p7" "$TMP/dirmany.tar.xz"
# pkgroot verify: linear in the names (was 2.5 ms per entry here, so
# quadratic): 4 times the entries take about 4 times as long, not 16.
# A ratio of two runs side by side, not a time: the machine is shared.
verify_ms() {
    local start=$(date +%s%N)
    timeout 60 "$PKGROOT" verify "$1" >"$TMP/out" 2>"$TMP/err" || return 1
    grep -q ': ok$' "$TMP/out" || return 1
    echo $(( ($(date +%s%N) - start) / 1000000 ))
}
rc=0 ms=0 ms500=0
ms500=$(verify_ms "$TMP/dirrep500.tar") && ms=$(verify_ms "$TMP/dirrep.tar") || rc=1
if [ $rc = 0 ] && [ "$ms" -lt $((ms500 * 8)) ]; then
    t_ok "pkgroot verify of a 32 KB directory entry 2000 times: ok in $ms ms, 500 times in $ms500 ms (linear: under 8x)"
else
    t_fail "pkgroot verify of a 32 KB directory entry 2000 vs 500 times (rc=$rc, $ms vs $ms500 ms)" "$(cat "$TMP/err" "$TMP/out")"
fi

# 7. A bundle bigger than the limit is refused before it is read (red
#    team 2, row 7: a small tar followed by a hole).
refused "a 64 MiB bundle (a small tar and a hole), 8M limit" \
    "hole.tar: the bundle is 67108864 bytes, more than the limit 8388608 \(PYTHON_MPI_MAX_UNPACKED" \
    "$TMP/p8" env PYTHON_MPI_MAX_UNPACKED=8M "$MPIEXEC" -n 2 "$BCAST" -p "$TMP/p8" "$TMP/hole.tar"
if PYTHON_MPI_MAX_UNPACKED=65M "$MPIEXEC" -n 2 "$BCAST" -p "$TMP/p8" "$TMP/hole.tar" >/dev/null 2>"$TMP/err" &&
   [ -f "$TMP/p8/z.py" ]; then
    t_ok "the same bundle under a 65M limit: delivered"
else
    t_fail "the same bundle under a 65M limit" "$(cat "$TMP/err")"
fi
rm -rf "$TMP/p8"

t_done bounds
