#!/usr/bin/python3
"""model.py - extrapolate bench_startup.sh's measurements to large jobs.

Reads bench/startup.txt (P, times, server requests) and models:

  python3     every rank's metadata requests queue at one server:
                  T(P) = T_local + P * ops_per_rank * delay
  python-mpi  rank 0 alone asks the server; the bundle is broadcast in a
              pipelined tree over the nodes, each node unpacks it once:
                  T(P) = T_local + ops_rank0 * delay + B / read_bw
                         + (chunks + log2(nodes) - 1) * (chunk / net_bw + latency)
                         + T_unpack
where ops_per_rank, ops_rank0 and the delay come from the measurements,
T_local (a rank's start-up with nothing shared) is the P=1 python-mpi time
less its delivery, and the network figures are assumptions printed below.

Ranks per node: a node of ppn ranks (and, on a cluster, as many cores)
unpacks with U = min(ppn, cores, parts) unpackers; the others sleep.  From
bench_fatnode.sh's delivery to 1 rank (bench/fatnode.txt)
T_unpack(U) = s + p / U, with p its unpack phase (the parts' extraction,
which the unpackers share) and s the rest (rank 0 reading, hashing, the
directory, the votes); without fatnode.txt, the earlier constant.
Set beside the original tool's published runs (its README): Cray XC30,
12,288 ranks importing scipy in 54 s; Cray XT, 262,144 ranks with about
14 s in broadcast and unpack.
"""
import math
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "startup.txt")
rows, delay_us = [], None
for line in open(path):
    if line.startswith("# delay"):
        delay_us = float(line.split()[2])
    parts = line.split()
    if parts and parts[0].isdigit() and len(parts) >= 6:
        p, tp, tm, _, op, om = parts[:6]
        rows.append((int(p), float(tp), float(tm), int(op), int(om)))
if not rows or delay_us is None:
    sys.exit("model.py: no measurements in %s (run bench/bench_startup.sh)" % path)

delay = delay_us * 1e-6
ops_per_rank = max(op / p for p, _, _, op, _ in rows)          # python3
ops_rank0 = max(om for *_, om in rows)                          # python-mpi, whole job
t_local = min(tm for _, _, tm, _, _ in rows) - ops_rank0 * delay
B = 25.6e6            # the runtime .ptar (Python 3.11 + numpy, lz4 parts), bytes
chunk = 4 * 2**20
net_bw, latency = 5e9, 5e-6           # assumed interconnect: 5 GB/s, 5 us
read_bw = 1e9                          # assumed shared-FS streaming read
t_unpack = 0.14                        # measured: bench_delivery.sh, .ptar
parts = 53                             # the runtime .ptar's parts
ppns = (32, 64, 128)

# T_unpack(U) = s + p / U from the one-node measurement with one rank:
# its unpack phase (what unpackers share) and the rest (rank 0 reading,
# the directory, the votes).
fat = {}
fpath = os.path.join(here, "fatnode.txt")
if os.path.exists(fpath):
    for line in open(fpath):
        f = line.split()
        if f and f[0].isdigit() and len(f) >= 7:
            fat[int(f[0])] = (float(f[1]), float(f[6]))
if 1 in fat and 0 < fat[1][1] <= fat[1][0]:
    p_par = fat[1][1]
    s_ser = fat[1][0] - p_par
    src = "bench/fatnode.txt: 1 rank, total %.3f s of which unpack %.3f s" % fat[1]
else:
    s_ser, p_par = 0.3 * t_unpack, 0.7 * t_unpack
    src = "no bench/fatnode.txt: T_unpack %.2f s split 30/70" % t_unpack


def unpack_time(ppn):
    u = max(1, min(ppn, parts))          # as many cores as ranks on a cluster node
    return s_ser + p_par / u

print("measured: delay %.0f us/request, python3 %.0f requests per rank, "
      "python-mpi %d requests per job" % (delay_us, ops_per_rank, ops_rank0))
print("unpack:   T_unpack(U) = %.3f + %.3f / U s (%s)" % (s_ser, p_par, src))
print("assumed:  a core per rank, network %.0f GB/s + %.0f us, shared-FS read %.0f GB/s"
      % (net_bw / 1e9, latency * 1e6, read_bw / 1e9))
print("\n%9s %14s %s" % ("ranks", "python3 (s)",
                        " ".join("%16s" % ("python-mpi, %d/node" % n) for n in ppns)))
for P in (1000, 4096, 12288, 32768, 100000, 262144):
    plain = t_local + P * ops_per_rank * delay
    cols = []
    for ppn in ppns:
        nodes = max(1, P // ppn)
        chunks = math.ceil(B / chunk)
        bcast = (chunks + math.log2(nodes) - 1) * (chunk / net_bw + latency) if nodes > 1 else 0.0
        cols.append(t_local + ops_rank0 * delay + B / read_bw + bcast + unpack_time(ppn))
    print("%9d %14.1f %s" % (P, plain, " ".join("%16.2f" % c for c in cols)))
print("\nper node: %s" % ", ".join("%d ranks -> %d unpackers, %.3f s" % (n, min(n, parts), unpack_time(n))
                                  for n in ppns))
print("\npublished (original python-mpi-bcast): Cray XC30, 12,288 ranks import scipy in 54 s;"
      "\n  Cray XT, 262,144 ranks spend about 14 s in broadcast and unpack.")
print("The model's python3 column is the metadata wall a shared server imposes; its\n"
      "python-mpi columns grow only with log2(nodes), the shape of the published runs;\n"
      "more ranks per node mean fewer nodes in the tree and more unpackers per node\n"
      "(at most the bundle's parts); the ranks that do not unpack cost nothing.")
