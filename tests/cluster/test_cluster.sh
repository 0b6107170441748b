#!/bin/bash
# test_cluster.sh - self-test of the simulated cluster harness in tests/cluster.
#
# Owned by tests/cluster/.  Proves that node-exec, mpirun-sim, strace-rank and
# count-file-ops do what the project's multi-node tests rely on:
#   * one hostname per simulated node, ranks placed K per node in order;
#   * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) groups exactly one node's ranks;
#   * /dev/shm is private per node and the host's /dev/shm stays clean;
#   * CLUSTER_SHM_DIR exposes each node's /dev/shm to the host afterwards;
#   * a multi-MB MPI_Bcast and an MPI_Allreduce across nodes are correct;
#   * the environment (PYTHON_MPI_*) reaches every rank;
#   * strace works inside the namespaces and count-file-ops counts per rank;
#   * every job ends within 60 s.
# Needs root (namespaces), mpicc.mpich, mpiexec.mpich, unshare, strace.
# Prints "ok - ..." / "not ok - ..." and finally "cluster: N passed, M failed" (tests/lib.sh);
# exits non-zero if anything failed.
# shellcheck disable=SC2012,SC2317  # ls on our own plain names; trap function
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
# The harness's own checks, in lib.sh's words.
check() { t_check "$@"; }
finish() { t_done cluster; exit $?; }

tmp=$(mktemp -d /tmp/test_cluster.XXXXXX)
shmdir=
tag=ct$$
cleanup() {
    rm -rf "$tmp"
    [ -z "$shmdir" ] || rm -rf "$shmdir"
    rm -f /dev/shm/cluster-marker-"$tag".* 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in mpicc.mpich mpiexec.mpich unshare strace; do
    if ! command -v "$tool" >/dev/null; then
        t_fail "prerequisite $tool is installed"; finish
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    t_skip "the simulated cluster" "needs root (unshare --uts --mount)"; finish
fi

# ---------------------------------------------------------------- program
if mpicc.mpich -O1 -Wall -o "$tmp/probe" "$here/probe.c" 2> "$tmp/cc.err"; then
    t_ok "compile probe with mpicc.mpich"
else
    cat "$tmp/cc.err" >&2; t_fail "compile probe with mpicc.mpich"; finish
fi
mkdir -p "$tmp/pkgroot" "$tmp/common"
echo known > "$tmp/pkgroot/known.txt"
echo common > "$tmp/common/file"

# ---------------------------------------------------------------- helpers
# run_job LABEL NODES PPN [CMD-PREFIX...]: runs the probe, leaves the output in
# $tmp/LABEL.out and the exit status in $rc.
run_job() {
    local label=$1 nodes=$2 ppn=$3; shift 3
    local t0=$SECONDS
    rc=0
    (cd "$tmp" && PYTHON_MPI_CLUSTER_PROBE="probe-$label" \
        timeout -k 5 60 "$here/mpirun-sim" -nodes "$nodes" -ppn "$ppn" -- \
        "$@" "$tmp/probe" "$tag" "$tmp/pkgroot" pkgroot "$tmp/common/file") \
        > "$tmp/$label.out" 2> "$tmp/$label.err" || rc=$?
    if [ "$rc" -eq 0 ]; then
        t_ok "$label: job exits 0 within 60 s ($((SECONDS - t0)) s)"
    else
        t_fail "$label: job exits 0 within 60 s (status $rc$([ "$rc" -eq 124 ] && echo ', timed out'))"
        sed 's/^/# /' "$tmp/$label.out" "$tmp/$label.err" | head -40
    fi
}

field() {   # field LABEL KEY -> values of KEY, one per RESULT line, rank order
    awk -v k="$2" '$1 == "RESULT" {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = substr($i, length(kv[1]) + 2) }
        print v["rank"], v[k] }' "$tmp/$1.out" | sort -n | cut -d' ' -f2-
}

no_host_markers() {
    local f
    for f in /dev/shm/cluster-marker-"$tag".*; do [ -e "$f" ] && return 1; done
    return 0
}

# check_job LABEL NODES PPN: the assertions common to every probe run.
check_job() {
    local label=$1 nodes=$2 ppn=$3 n=$(($2 * $3))
    local lines hosts want_hosts r
    lines=$(grep -c '^RESULT ' "$tmp/$label.out" || true)
    check "$label: $n ranks report" [ "$lines" -eq "$n" ]
    hosts=$(field "$label" host | sort -u | wc -l)
    check "$label: $nodes distinct hostnames" [ "$hosts" -eq "$nodes" ]
    want_hosts=$(for ((r = 0; r < n; r++)); do echo "node$((r / ppn + 1))"; done)
    check "$label: ranks placed $ppn per node in order on node1..node$nodes" \
        [ "$(field "$label" host)" = "$want_hosts" ]
    check "$label: MPI_COMM_TYPE_SHARED comm size is $ppn on every rank" \
        [ "$(field "$label" nodesize | sort -u)" = "$ppn" ]
    check "$label: /dev/shm markers visible exactly within each node" \
        [ "$(field "$label" markers | sort -u)" = ok ]
    check "$label: 3 MB MPI_Bcast data correct on every rank" \
        [ "$(field "$label" bcast | sort -u)" = ok ]
    check "$label: MPI_Allreduce across nodes correct" \
        [ "$(field "$label" allreduce | sort -u)" = ok ]
    check "$label: PYTHON_MPI_* environment reaches every rank" \
        [ "$(field "$label" env | sort -u)" = "probe-$label" ]
    check "$label: host /dev/shm has no markers afterwards" \
        no_host_markers
}

# ---------------------------------------------------------------- tests
# Argument checking.
rc=0; "$here/mpirun-sim" -nodes 0 -ppn 1 true 2>/dev/null || rc=$?
check "mpirun-sim rejects -nodes 0 with status 2" [ "$rc" -eq 2 ]

# 2 nodes x 2 and 3 nodes x 2, each node with a fresh tmpfs on /dev/shm.
run_job 2x2 2 2
check_job 2x2 2 2
run_job 3x2 3 2
check_job 3x2 3 2

# CLUSTER_SHM_DIR: each node's /dev/shm is a host directory we can inspect.
shmdir=$(mktemp -d /dev/shm/test_cluster.XXXXXX)
CLUSTER_SHM_DIR=$shmdir run_job shmdir 2 2
check_job shmdir 2 2
check "shmdir: node1's /dev/shm holds exactly the markers of ranks 0 1" \
    [ "$(cd "$shmdir/node1" 2>/dev/null && ls cluster-marker-"$tag".* | tr '\n' ' ')" \
      = "cluster-marker-$tag.0 cluster-marker-$tag.1 " ]
check "shmdir: node2's /dev/shm holds exactly the markers of ranks 2 3" \
    [ "$(cd "$shmdir/node2" 2>/dev/null && ls cluster-marker-"$tag".* | tr '\n' ' ')" \
      = "cluster-marker-$tag.2 cluster-marker-$tag.3 " ]
check "shmdir: marker written on node2 names node2" \
    [ "$(cat "$shmdir/node2/cluster-marker-$tag.3" 2>/dev/null)" = node2 ]

# strace-rank + count-file-ops inside the namespaces.
run_job strace 2 2 "$here/strace-rank" "$tmp/trace"
check_job strace 2 2
check "strace: one trace file per rank" \
    [ "$(cd "$tmp/trace" 2>/dev/null && ls trace.* | sort -t. -k2 -n | tr '\n' ' ')" \
      = "trace.0 trace.1 trace.2 trace.3 " ]
counts=$("$here/count-file-ops" "$tmp/trace" "$tmp/pkgroot" 2>&1 | tr '\n' ' ' || true)
check "count-file-ops: only rank 0 touches the package dir, 5 times [$counts]" \
    [ "$counts" = "rank 0: 5 rank 1: 0 rank 2: 0 rank 3: 0 " ]
counts=$("$here/count-file-ops" "$tmp/trace" "$tmp/common/" /nonexistent 2>&1 | tr '\n' ' ' || true)
check "count-file-ops: every rank stats the common file once [$counts]" \
    [ "$counts" = "rank 0: 1 rank 1: 1 rank 2: 1 rank 3: 1 " ]
counts=$("$here/count-file-ops" "$tmp/trace" "$tmp/pkgroot" "$tmp/common/" 2>&1 | tr '\n' ' ' || true)
check "count-file-ops: several prefixes add up [$counts]" \
    [ "$counts" = "rank 0: 6 rank 1: 1 rank 2: 1 rank 3: 1 " ]

finish
