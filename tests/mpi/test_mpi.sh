#!/bin/bash
# test_mpi.sh - python-mpi and bcast under mpiexec on one node: 1, 2, 4 and 8
# ranks, every way of starting Python, exit status and abort, and every
# kind of bad input (one error line naming the file, prompt non-zero exit,
# nothing left behind).
set -u
. "$(dirname "$0")/../lib.sh"

TMP=$(mktemp -d /tmp/pympi-test.XXXXXX)
SHM=$(t_shm_scratch pympi-test-shm)   # PYTHON_MPI_CHROOT
trap 'chmod -R u+rwx "$TMP" "$SHM" 2>/dev/null; rm -rf "$TMP" "$SHM"' EXIT
ROOT=$TMP/pkgs
mkdir -p "$ROOT" "$SHM" "$TMP/code/hello"
RUNTIME=$(t_runtime_bundle) || { t_fail "pkgroot python makes the runtime bundle"; t_done mpi; exit 1; }
cp "$RUNTIME" "$ROOT/runtime.tar.zst"
cat > "$TMP/code/hello/__init__.py" <<'PY'
PY
cat > "$TMP/code/hello/__main__.py" <<'PY'
import sys, os
print("hello-main", (os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK")), sys.argv[1:])
PY
"$BIN/pkgroot" dir "$ROOT/code.tar.gz" "$TMP/code" >/dev/null || t_fail "pkgroot dir"

export PYTHON_MPI_PKGROOT=$ROOT PYTHON_MPI_CHROOT=$SHM
unset PYTHONHOME PYTHONPATH PYTHON_MPI_HOME
PM=$BIN/python-mpi
run() { timeout 60 "$MPIEXEC" "$@" >"$TMP/out" 2>"$TMP/err"; }

# --- plain interpreter -------------------------------------------------
unset PYTHON_MPI_PACKAGES
if run -n 1 "$PM" -c 'import sys; print(sys.executable); print(sys.prefix)' &&
   [ "$(sed -n 1p "$TMP/out")" = "$PM" ] && [ "$(sed -n 2p "$TMP/out")" = "$T_PYPREFIX" ]; then
    t_ok "no packages: plain MPI-enabled python3, sys.executable is python-mpi"
else t_fail "no packages: plain interpreter" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- versions ------------------------------------------------------------
# --version: python-mpi's, the embedded Python's and the MPI library's, one
# line each, with no MPI started (an MPI_Init would exit 99 here); -V and
# -VV are Python's, as python3's.
case $MPIEXEC in
    *openmpi*) mpi_re="^Open MPI v$(pkg-config --modversion ompi-c)[, ]" ;;
    *) mpi_re="^MPICH Version: $(pkg-config --modversion mpich)$" ;;
esac
"$MPICC" -shared -fPIC -o "$TMP/no_mpi_init.so" "$REPO/tests/mpi/no_mpi_init.c" || t_fail "build no_mpi_init.so"
if LD_PRELOAD=$TMP/no_mpi_init.so timeout 10 "$PM" --version >"$TMP/out" 2>"$TMP/err" && [ ! -s "$TMP/err" ] &&
   [ "$(wc -l < "$TMP/out")" = 3 ] && grep -qx "python-mpi (python-mpi-bcast) [0-9.]*" "$TMP/out" &&
   grep -qxF "Python $T_PYFULL (default home $T_PYPREFIX)" "$TMP/out" && sed -n 3p "$TMP/out" | grep -Eq "$mpi_re"; then
    t_ok "--version: python-mpi, Python $T_PYFULL and the MPI library, one line each, without MPI_Init"
else t_fail "--version" "$(cat "$TMP/out" "$TMP/err")"; fi
LD_PRELOAD=$TMP/no_mpi_init.so timeout 10 "$PM" -c pass >/dev/null 2>"$TMP/err"; rc=$?
[ $rc = 99 ] && grep -q "no_mpi_init: MPI initialised" "$TMP/err" &&
    t_ok "(control) the same injector stops python-mpi -c pass at MPI_Init" || t_fail "no_mpi_init control (rc=$rc)" "$(cat "$TMP/err")"
if run -n 1 "$PM" -V && [ "$(cat "$TMP/out")" = "Python $T_PYFULL" ] &&
   run -n 1 "$PM" -VV && [ "$(cat "$TMP/out")" = "$("$PYTHON" -VV)" ]; then
    t_ok "-V and -VV are Python's (Python $T_PYFULL; -VV as $PYTHON -VV)"
else t_fail "-V / -VV" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- the runtime delivered at 1, 2, 4 ranks ----------------------------
export PYTHON_MPI_PACKAGES=runtime.tar.zst:code.tar.gz
cat > "$TMP/check.py" <<PY
import os, sys, site, $T_PKG, hello
shm = "$SHM"
assert sys.prefix.startswith(shm + "/python-mpi-"), sys.prefix
assert $T_PKG.__file__.startswith(sys.prefix), $T_PKG.__file__
assert hello.__file__.startswith(sys.prefix), hello.__file__
assert site.USER_BASE == sys.prefix, site.USER_BASE
assert os.environ["PYTHONUSERBASE"] == sys.prefix
assert sys.executable == "$PM", sys.executable
os.write(1, ("rank-ok %s %s %s\n" % ((os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]), sys.argv[1:], $T_PKG_EXPR)).encode())
PY
for n in 1 2 4; do
    if run -n $n "$PM" "$TMP/check.py" a b && [ "$(grep -c "^rank-ok .* \['a', 'b'\] $T_PKG_RE$" "$TMP/out")" = $n ] &&
       t_empty_dir "$SHM"; then
        t_ok "-n $n: every rank imports $T_PKG and user code from the node-local tree, removed after"
    else t_fail "-n $n: runtime delivered" "$(cat "$TMP/out" "$TMP/err"; ls -R "$SHM" | head)"; fi
done

# --- a parts bundle: the node's unpackers share it -------------------------
# By default a node's unpackers are its first min(ranks, online CPUs) ranks.
"$BIN/pkgroot" python "$ROOT/runtime.ptar" "$T_PKG" >/dev/null || t_fail "pkgroot .ptar"
CPUS=$(getconf _NPROCESSORS_ONLN)
for n in 1 2 4; do
    u=$(( n < CPUS ? n : CPUS ))
    if PYTHON_MPI_PACKAGES=runtime.ptar:code.tar.gz PYTHON_MPI_VERBOSE=2 run -n $n "$PM" "$TMP/check.py" a b &&
       [ "$(grep -c "^rank-ok .* \['a', 'b'\] $T_PKG_RE$" "$TMP/out")" = $n ] &&
       [ "$(grep -c "runtime.ptar: [0-9]* entries (this rank's parts)" "$TMP/err")" = $u ] && t_empty_dir "$SHM"; then
        t_ok "-n $n .ptar: $u rank(s) unpack parts ($CPUS online CPUs); every rank imports $T_PKG"
    else t_fail "-n $n .ptar" "$(cat "$TMP/out" "$TMP/err")"; fi
done
total=$(grep "runtime.ptar: [0-9]* entries" "$TMP/err" | sed -E 's/.*: ([0-9]+) entries.*/\1/' | paste -sd+ | bc)
expect=$("$BIN/pkgroot" ls "$RUNTIME" | tail -n 1 | cut -d' ' -f1)
[ "$total" = "$expect" ] && t_ok ".ptar: the unpackers' shares add up to the whole tree ($total entries)" ||
    t_fail ".ptar shares ($total vs $expect)"

# Unpackers a subset of the node (PYTHON_MPI_UNPACKERS): the same tree as
# tar makes of the same files, links and modes included; exactly the
# first U ranks unpack, the others receive nothing.
mkdir -p "$TMP/ref" && tar -C "$TMP/ref" -xf "$RUNTIME"
tree_sig() {
    (cd "$1" && find . -mindepth 1 ! -name .python-mpi-stamps ! -name .python-mpi-lock -printf '%y %m %p %l\n' | LC_ALL=C sort &&
     find . -type f ! -name .python-mpi-stamps ! -name .python-mpi-lock -print0 | LC_ALL=C sort -z | xargs -0 md5sum)
}
tree_sig "$TMP/ref" > "$TMP/ref.sig"
for nu in "4 1" "4 2" "4 4" "8 1" "8 2" "8 3"; do
    set -- $nu; n=$1 u=$2 P=$SHM/u$1-$2
    if PYTHON_MPI_UNPACKERS=$u PYTHON_MPI_VERBOSE=2 timeout 60 "$MPIEXEC" -n $n "$BIN/bcast" -p "$P" "$ROOT/runtime.ptar" >"$TMP/out" 2>"$TMP/err" &&
       [ "$(grep "runtime.ptar: [0-9]* entries (this rank's parts)" "$TMP/err" | sed -E 's/^bcast: rank ([0-9]+) .*/\1/' | sort -n | paste -sd' ')" = "$(seq -s' ' 0 $((u - 1)))" ] &&
       tree_sig "$P" | cmp -s - "$TMP/ref.sig"; then
        t_ok "-n $n PYTHON_MPI_UNPACKERS=$u: ranks 0..$((u - 1)) unpack; the tree is tar's, byte for byte, links and modes"
    else t_fail "-n $n PYTHON_MPI_UNPACKERS=$u" "$(cat "$TMP/out" "$TMP/err"; tree_sig "$P" | diff - "$TMP/ref.sig" | head -5)"; fi
    rm -rf "$P"
done
rm -rf "$TMP/ref"

# Ranks with no part in a delivery sleep: each one's CPU time stays a small
# fraction of the unpacker's (spinning, they would burn their share of the
# cores for as long as it works, as much CPU as it).
mkdir -p "$TMP/big" "$TMP/cpu"
for i in 1 2 3 4; do mkdir -p "$TMP/big/c$i" && tar -C "$TMP/big/c$i" -xf "$RUNTIME"; done
"$BIN/pkgroot" dir "$TMP/big.ptar" "$TMP/big" --at . >/dev/null || t_fail "pkgroot dir big.ptar"
rm -rf "$TMP/big"
cat > "$TMP/cpu-rank" <<'SH'
#!/bin/bash
# cpu-rank DIR CMD...: bash's `times` after CMD (its CPU time on line 2)
dir=$1; shift
"$@"; rc=$?
times > "$dir/times.${PMI_RANK:-$OMPI_COMM_WORLD_RANK}"
exit $rc
SH
chmod +x "$TMP/cpu-rank"
cpu_of() {  # RANK: the CPU seconds cpu-rank saw, or nothing
    [ -f "$TMP/cpu/times.$1" ] &&
        sed -n 2p "$TMP/cpu/times.$1" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } } END { printf "%.3f\n", s }'
}
if PYTHON_MPI_UNPACKERS=1 timeout 120 "$MPIEXEC" -n 4 "$TMP/cpu-rank" "$TMP/cpu" "$BIN/bcast" -p "$SHM/cpu" "$TMP/big.ptar" >"$TMP/out" 2>"$TMP/err" &&
   [ -f "$SHM/cpu/c4/$T_PYSTDLIB/os.py" ]; then
    c0=$(cpu_of 0) c1=$(cpu_of 1) c2=$(cpu_of 2) c3=$(cpu_of 3)
    if [ -n "$c0" ] && [ -n "$c1" ] && [ -n "$c2" ] && [ -n "$c3" ] &&
       awk -v u="$c0" -v a="$c1" -v b="$c2" -v c="$c3" 'BEGIN { exit !(u >= 0.3 && a < 0.5 * u && b < 0.5 * u && c < 0.5 * u) }'; then
        t_ok "-n 4, 1 unpacker: the 3 others sleep (CPU s: unpacker $c0, others $c1 $c2 $c3)"
    else t_fail "non-unpackers sleep (CPU s: unpacker '$c0', others '$c1' '$c2' '$c3')"; fi
else t_fail "delivery of big.ptar to 4 ranks, 1 unpacker" "$(cat "$TMP/err")"; fi
rm -rf "$SHM/cpu" "$TMP/big.ptar"

# --- every way python3 can be started -----------------------------------
if run -n 2 "$PM" -c 'import sys; print("c-ok", sys.argv)' x && [ "$(grep -c "^c-ok \['-c', 'x'\]$" "$TMP/out")" = 2 ]; then
    t_ok "-c command with arguments"
else t_fail "-c" "$(cat "$TMP/out" "$TMP/err")"; fi
if run -n 2 "$PM" -m hello p q && [ "$(grep -c "^hello-main [01] \['p', 'q'\]$" "$TMP/out")" = 2 ]; then
    t_ok "-m module from a delivered bundle"
else t_fail "-m module" "$(cat "$TMP/out" "$TMP/err")"; fi
if printf 'import sys\nprint("stdin-ok", sys.argv)\n' | timeout 60 "$MPIEXEC" -n 1 "$PM" - z >"$TMP/out" 2>"$TMP/err" &&
   grep -q "^stdin-ok \['-', 'z'\]$" "$TMP/out"; then
    t_ok "- reads the program from standard input"
else t_fail "- (stdin)" "$(cat "$TMP/out" "$TMP/err")"; fi
if printf 'print(6 * 7)\n' | timeout 60 "$MPIEXEC" -n 1 "$PM" -q -i >"$TMP/out" 2>"$TMP/err" && grep -q '^42$' "$TMP/out"; then
    t_ok "interactive prompt (-i) evaluates input"
else t_fail "interactive" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- children started from sys.executable reuse the node's tree --------------
if run -n 2 "$PM" -c '
import os, subprocess, sys
out = subprocess.run([sys.executable, "-c", "import sys, '"$T_PKG; print(sys.prefix == $T_PKG"'.__file__[:len(sys.prefix)], sys.prefix)"],
                     capture_output=True, text=True, check=True).stdout.split()
assert out[0] == "True" and out[1] == sys.prefix, (out, sys.prefix)
assert os.path.isdir(sys.prefix)
os.write(1, b"child-ok\n")' && [ "$(grep -c '^child-ok$' "$TMP/out")" = 2 ] && t_empty_dir "$SHM"; then
    t_ok "a child started from sys.executable uses the parent's node-local tree, unpacks nothing, removes nothing"
else t_fail "sys.executable child" "$(cat "$TMP/out" "$TMP/err")"; fi

# --- exit status and abort ---------------------------------------------
run -n 1 "$PM" -c 'import sys; sys.exit(3)'; rc=$?
if [ $rc = 3 ] && t_empty_dir "$SHM"; then t_ok "exit status is Python's (3)"; else t_fail "exit status 3 (got $rc)"; fi
start=$(date +%s)
run -n 4 "$PM" -c '
import os, time
if (os.environ.get("PMI_RANK") or os.environ["OMPI_COMM_WORLD_RANK"]) == "2":
    raise RuntimeError("boom on rank 2")
time.sleep(120)'; rc=$?
took=$(( $(date +%s) - start ))
if [ $rc != 0 ] && [ $took -lt 30 ] && grep -q "RuntimeError: boom on rank 2" "$TMP/err" &&
   grep -q "rank 2 on .*aborting the job" "$TMP/err"; then
    t_ok "an exception on one rank aborts the whole job promptly (${took}s)"
else t_fail "abort on exception (rc=$rc, ${took}s)" "$(cat "$TMP/err")"; fi
rm -rf "${SHM:?}"/*

# --- bcast ------------------------------------------------------------
for n in 1 2 4; do
    P=$SHM/bc$n
    if timeout 60 "$MPIEXEC" -n $n "$BIN/bcast" -t -p "$P" "$ROOT/runtime.tar.zst" "$ROOT/code.tar.gz" >"$TMP/out" 2>"$TMP/err" &&
       [ -f "$P/$T_PYSTDLIB/os.py" ] && [ -f "$P/lib/python3/dist-packages/hello/__main__.py" ] &&
       grep -Eq '^bcast: .*read [0-9.]+ s, broadcast [0-9.]+ s, unpack [0-9.]+ s, total [0-9.]+ s$' "$TMP/out"; then
        t_ok "bcast -n $n -t unpacks into PREFIX and prints phase timings"
    else t_fail "bcast -n $n" "$(cat "$TMP/out" "$TMP/err")"; fi
done
printf '# bundles\n%s\n\n%s\n' "$ROOT/runtime.tar.zst" "$ROOT/code.tar.gz" > "$TMP/list"
if timeout 60 "$MPIEXEC" -n 2 "$BIN/bcast" -p "$SHM/bcf" -f "$TMP/list" >"$TMP/out" 2>"$TMP/err" &&
   [ -f "$SHM/bcf/lib/python3/dist-packages/hello/__init__.py" ]; then
    t_ok "bcast -f LISTFILE"
else t_fail "bcast -f" "$(cat "$TMP/out" "$TMP/err")"; fi
if PYTHONHOME=$SHM/bcf PYTHON_MPI_PACKAGES= run -n 2 "$PM" -c "import sys, $T_PKG, hello; print('home-ok', sys.prefix)" &&
   [ "$(grep -c "^home-ok $SHM/bcf$" "$TMP/out")" = 2 ]; then
    t_ok "python-mpi runs on a tree bcast unpacked earlier (PYTHONHOME)"
else t_fail "python-mpi on a bcast tree" "$(cat "$TMP/out" "$TMP/err")"; fi
"$BIN/bcast" --help >"$TMP/out" 2>&1 && grep -q '^usage: bcast' "$TMP/out" && t_ok "bcast --help" || t_fail "bcast --help"
"$BIN/bcast" >"$TMP/out" 2>&1; [ $? = 2 ] && t_ok "bcast with no bundles is a usage error (2)" || t_fail "bcast usage error"
rm -rf "${SHM:?}"/*

# --- the node cache: bcast once, then runs find the bundles there ---------
export SLURM_JOB_ID=4242
J=$SHM/python-mpi-$(id -u)/4242
timeout 60 "$MPIEXEC" -n 2 "$BIN/bcast" -t "$ROOT/runtime.ptar" >"$TMP/out" 2>"$TMP/err" || t_fail "bcast into the job directory" "$(cat "$TMP/err")"
if timeout 60 "$MPIEXEC" -n 2 "$BIN/bcast" -t "$ROOT/runtime.ptar" >"$TMP/out" 2>"$TMP/err" &&
   grep -q "^bcast: 1 bundle(s) already on all 1 node(s): nothing sent$" "$TMP/out"; then
    t_ok "bcast of a bundle the node already holds sends nothing"
else t_fail "bcast cache hit" "$(cat "$TMP/out" "$TMP/err")"; fi
if PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=2 run -n 2 "$PM" -c "import sys, $T_PKG; print(sys.prefix)" &&
   [ "$(grep -c "^$J\$" "$TMP/out")" = 2 ] && grep -q "already in $J on every node: nothing sent" "$TMP/err" &&
   ! grep -q "entries" "$TMP/err" && [ -f "$J/$T_PYSTDLIB/os.py" ]; then
    t_ok "python-mpi after bcast in the same job: uses the node's tree, no broadcast, no unpack, tree kept"
else t_fail "python-mpi cache hit" "$(cat "$TMP/out" "$TMP/err")"; fi
touch "$ROOT/runtime.ptar"
if PYTHON_MPI_PACKAGES=runtime.ptar PYTHON_MPI_VERBOSE=2 run -n 2 "$PM" -c 'import sys; print(sys.prefix)' &&
   ! grep -q "^$J\$" "$TMP/out" && grep -q "runtime.ptar: [0-9]* entries" "$TMP/err"; then
    t_ok "a bundle changed since (new mtime) is delivered again, not taken from the cache"
else t_fail "cache invalidation" "$(cat "$TMP/out" "$TMP/err")"; fi
unset SLURM_JOB_ID
rm -rf "${SHM:?}"/*

# --- PYTHON_MPI_TIMING ------------------------------------------------------
export PYTHON_MPI_PACKAGES=runtime.tar.zst
if PYTHON_MPI_TIMING=1 run -n 2 "$PM" -c "import $T_PKG" &&
   [ "$(grep -c '^python-mpi: timing: ' "$TMP/err")" = 10 ] &&
   grep -q '^python-mpi: timing: 2 rank(s) on 1 node(s), [0-9]* bundle bytes' "$TMP/err" &&
   grep -Eq '^python-mpi: timing:     unpack +[0-9.]+ \.\. +[0-9.]+$' "$TMP/err"; then
    t_ok "PYTHON_MPI_TIMING=1: one report (rank 0), every phase, min .. max"
else t_fail "PYTHON_MPI_TIMING=1" "$(cat "$TMP/err")"; fi
json_ok() {  # FILE RANKS: one report, every phase, 0 <= min <= max, sub-phases within stage
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) == 1, lines
r = json.loads(lines[0])
p = r["phases"]
assert r["ranks"] == int(sys.argv[2]) and r["nodes"] == 1 and r["bytes"] > 0, r
assert set(p) == {"mpi_init", "stage", "read", "bcast", "unpack", "python_init", "run", "teardown", "total"}, p
assert all(0 <= v["min"] <= v["max"] for v in p.values()), p
assert p["unpack"]["max"] <= p["stage"]["max"] <= p["total"]["max"], p
PY
}
if PYTHON_MPI_TIMING=json run -n 4 "$PM" -c pass && json_ok "$TMP/err" 4; then
    t_ok "PYTHON_MPI_TIMING=json: one JSON line on stderr with min <= max for every phase"
else t_fail "PYTHON_MPI_TIMING=json" "$(cat "$TMP/err")"; fi
if PYTHON_MPI_TIMING=json:$TMP/timing.json run -n 2 "$PM" -c pass && json_ok "$TMP/timing.json" 2 &&
   ! grep -q '^{' "$TMP/err" && [ -z "$(ls "$TMP" | grep 'timing.json.tmp')" ]; then
    t_ok "PYTHON_MPI_TIMING=json:PATH writes the report to PATH (complete, no temp left)"
else t_fail "PYTHON_MPI_TIMING=json:PATH" "$(cat "$TMP/err" "$TMP/timing.json")"; fi

# --- relocation (conda-style prefixes rewritten to the node's tree) --------
mkdir -p "$TMP/reloc/etc" "$TMP/reloc/.python-mpi-relocate"
printf 'root=/opt/conda/envs/demo\nlib=/opt/conda/envs/demo/lib\n' > "$TMP/reloc/etc/conf.txt"
printf 'python-mpi-relocate 1\nprefix /opt/conda/envs/demo\ntext etc/conf.txt\n' > "$TMP/reloc/.python-mpi-relocate/demo"
"$BIN/pkgroot" dir "$ROOT/reloc.tar.zst" "$TMP/reloc" --at . >/dev/null || t_fail "pkgroot dir reloc"
if PYTHON_MPI_PACKAGES=runtime.tar.zst:reloc.tar.zst run -n 2 "$PM" -c '
import os, sys
conf = open(os.path.join(sys.prefix, "etc/conf.txt")).read()
assert conf == "root=%s\nlib=%s/lib\n" % (sys.prefix, sys.prefix), conf
assert not os.path.exists(os.path.join(sys.prefix, ".python-mpi-relocate"))
print("relocated")' && [ "$(grep -c '^relocated$' "$TMP/out")" = 2 ]; then
    t_ok "a bundle's relocation manifest rewrites its install prefix to the node's tree, then goes"
else t_fail "relocation" "$(cat "$TMP/out" "$TMP/err")"; fi
printf 'python-mpi-relocate 1\nprefix /opt/conda/envs/demo\ntext ../../etc/passwd\n' > "$TMP/reloc/.python-mpi-relocate/demo"
"$BIN/pkgroot" dir "$ROOT/badreloc.tar.zst" "$TMP/reloc" --at . >/dev/null || t_fail "pkgroot dir badreloc"

# --- bad input ----------------------------------------------------------
# bad NAME EXPECT_REGEX CMD...: non-zero within the timeout, exactly one
# error line matching EXPECT_REGEX, and nothing left in the chroot.
bad() {
    local name=$1 re=$2; shift 2
    local start took rc
    start=$(date +%s)
    timeout 30 "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
    took=$(( $(date +%s) - start ))
    local lines; lines=$(t_error_lines "$TMP/err")
    if [ $rc != 0 ] && [ $rc != 124 ] && [ "$lines" = 1 ] && grep -Eq "$re" "$TMP/err" && t_empty_dir "$SHM"; then
        t_ok "$name: one line, exit $rc in ${took}s, nothing left"
    else
        t_fail "$name (rc=$rc, ${took}s, $lines error lines)" "$(cat "$TMP/err"; ls -laR "$SHM" 2>/dev/null | head)"
    fi
    rm -rf "${SHM:?}"/* 2>/dev/null
}
head -c 3000000 "$ROOT/runtime.tar.zst" > "$ROOT/truncated.tar.zst"
head -c 100000 /dev/urandom > "$ROOT/garbage.tar"
: > "$ROOT/empty.tar"
mkdir -p "$ROOT/adir.tar"
# A .ptar with a run of 0xFF inside an lz4 block of its second part: the
# bundle reads whole (rank 0's hash agrees), so lz4 itself must refuse it
# (the frames carry no checksum: pkgroot-tools/partpool.c).
/usr/bin/python3 - "$ROOT/runtime.ptar" "$ROOT/badlz4.ptar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    part = [m for m in t.getmembers() if m.name.endswith(".tar.lz4")][1]
b = bytearray(open(sys.argv[1], "rb").read())
b[part.offset_data + 64:part.offset_data + 64 + 4096] = b"\xff" * 4096
open(sys.argv[2], "wb").write(b)
PY
for n in 1 4; do
    bad "-n $n missing bundle" "rank 0 on .*: $ROOT/nope.tar.zst: cannot open bundle: No such file" \
        env PYTHON_MPI_PACKAGES=nope.tar.zst "$MPIEXEC" -n $n "$PM" -c pass
    bad "-n $n truncated bundle" "$ROOT/truncated.tar.zst: .*[Tt]runcated" \
        env PYTHON_MPI_PACKAGES=truncated.tar.zst "$MPIEXEC" -n $n "$PM" -c pass
    bad "-n $n corrupt lz4 part" "rank [0-9]+ on [^:]+: $ROOT/badlz4.ptar: .*lz4 decompression failed" \
        env PYTHON_MPI_PACKAGES=badlz4.ptar "$MPIEXEC" -n $n "$PM" -c pass
done
bad "missing package root" "/nonexistent/root: PYTHON_MPI_PKGROOT: No such file" \
    env PYTHON_MPI_PKGROOT=/nonexistent/root PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "relative bundle without a package root" "bundle 'runtime.tar.zst' is relative but PYTHON_MPI_PKGROOT is not set" \
    env -u PYTHON_MPI_PKGROOT PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "corrupt (not an archive)" "$ROOT/garbage.tar: .*(Unrecognized archive format|not a bundle)" \
    env PYTHON_MPI_PACKAGES=garbage.tar "$MPIEXEC" -n 2 "$PM" -c pass
bad "empty bundle" "$ROOT/empty.tar: " \
    env PYTHON_MPI_PACKAGES=empty.tar "$MPIEXEC" -n 2 "$PM" -c pass
bad "a directory as bundle" "$ROOT/adir.tar: not a regular file" \
    env PYTHON_MPI_PACKAGES=adir.tar "$MPIEXEC" -n 2 "$PM" -c pass
bad "second bundle corrupt after a good one" "$ROOT/garbage.tar: " \
    env PYTHON_MPI_PACKAGES=runtime.tar.zst:garbage.tar "$MPIEXEC" -n 2 "$PM" -c pass
bad "missing chroot" "$TMP/no-such-chroot: cannot use as PYTHON_MPI_CHROOT: No such file" \
    env PYTHON_MPI_CHROOT=$TMP/no-such-chroot PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "bad PYTHON_MPI_CHUNK" "PYTHON_MPI_CHUNK='abc'" \
    env PYTHON_MPI_CHUNK=abc PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
mkdir -p "$TMP/other/lib/python$T_OTHER_VER" && : > "$TMP/other/lib/python$T_OTHER_VER/os.py"
"$BIN/pkgroot" dir "$ROOT/other.tar" "$TMP/other" --at . >/dev/null || t_fail "pkgroot dir other"
bad "a runtime bundle of another Python" "rank 0 on [^:]+: $SHM/python-mpi-[0-9]+/[^:]+: the bundles carry the standard library of Python $T_OTHER_VER \\(lib/python$T_OTHER_VER\\), but python-mpi embeds Python $T_PYVER" \
    env PYTHON_MPI_PACKAGES=other.tar "$MPIEXEC" -n 2 "$PM" -c pass
bad "a relocation manifest naming a path outside the tree" "rank 0 on [^:]+: $SHM/python-mpi-[0-9]+/[^:]+/.python-mpi-relocate/demo: line 3: '../../etc/passwd' is not a path inside the tree" \
    env PYTHON_MPI_PACKAGES=runtime.tar.zst:badreloc.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "bad PYTHON_MPI_UNPACKERS" "PYTHON_MPI_UNPACKERS='0': expected auto or a number of ranks from 1 to 4096" \
    env PYTHON_MPI_UNPACKERS=0 PYTHON_MPI_PACKAGES=runtime.ptar "$MPIEXEC" -n 2 "$PM" -c pass
bad "bcast: bad PYTHON_MPI_UNPACKERS" "PYTHON_MPI_UNPACKERS='two': expected auto or a number of ranks from 1 to 4096" \
    env PYTHON_MPI_UNPACKERS=two "$MPIEXEC" -n 2 "$BIN/bcast" -p "$SHM/new" "$ROOT/runtime.ptar"
bad "bad PYTHON_MPI_TIMING" "PYTHON_MPI_TIMING='yes': expected 0, 1, text, json or json:PATH" \
    env PYTHON_MPI_TIMING=yes PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "PYTHON_MPI_TIMING=json:PATH in a missing directory" "$TMP/no-such-dir/t.json: PYTHON_MPI_TIMING: cannot create: No such file" \
    env PYTHON_MPI_TIMING=json:$TMP/no-such-dir/t.json PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
bad "bcast: corrupt bundle into a new prefix" "$ROOT/garbage.tar: " \
    "$MPIEXEC" -n 2 "$BIN/bcast" -p "$SHM/new" "$ROOT/garbage.tar"
bad "bcast: missing list file" "$TMP/nolist: cannot open list file" \
    "$MPIEXEC" -n 2 "$BIN/bcast" -p "$SHM/new" -f "$TMP/nolist"

# Permission cases need an ordinary user: root reads and writes anything.
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && ! $AS_NOBODY "$PM" --version >/dev/null 2>&1; then
    # (a Python under root's home, as pyenv's here: its libpython is not ours to open)
    t_skip "permission cases (2)" "python-mpi cannot start as another user: $T_PYLIBDIR is not readable by others"
elif [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$TMP" "$ROOT"; chmod 644 "$ROOT"/*.tar* 2>/dev/null
    cp "$ROOT/runtime.tar.zst" "$ROOT/secret.tar.zst"; chmod 000 "$ROOT/secret.tar.zst"
    bad "unreadable bundle" "$ROOT/secret.tar.zst: cannot open bundle: Permission denied" \
        $AS_NOBODY PYTHON_MPI_PACKAGES=secret.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
    mkdir -p "$TMP/rochroot"; chmod 755 "$TMP/rochroot"
    SHM_SAVE=$SHM; SHM=$TMP/rochroot
    bad "chroot not writable" "$TMP/rochroot/python-mpi-65534: refusing to use: cannot create $TMP/rochroot/python-mpi-65534: Permission denied" \
        $AS_NOBODY PYTHON_MPI_CHROOT=$TMP/rochroot PYTHON_MPI_PACKAGES=runtime.tar.zst "$MPIEXEC" -n 2 "$PM" -c pass
    SHM=$SHM_SAVE
else
    t_fail "permission cases need root and setpriv to run as another user"
fi

t_done mpi
