/* unpackers.h - which ranks of a node unpack parts bundles.
 *
 * Every bundle reaches a node at its leader (node rank 0).  A parts bundle
 * (unpack.h) can be unpacked by several ranks of the node at once, each
 * taking a share of its parts; but ranks beyond the node's CPUs would only
 * compete for them, and ranks beyond the number of parts would have
 * nothing to do.  So a node's unpackers are its first
 *     n = min(node size, PYTHON_MPI_UNPACKERS or the node's online CPUs)
 * ranks, and a bundle of P parts is unpacked by the first min(n, P) of
 * them.  The other ranks of the node take no part in a delivery: they
 * receive no bundle bytes, hold no buffers, and sleep in the vote that
 * ends each bundle (mpi_util.h). */
#ifndef PM_UNPACKERS_H
#define PM_UNPACKERS_H

#include "topology.h"

#include <stdint.h>

typedef struct pm_unpackers {
    MPI_Comm comm;  /* the node's unpackers, the leader at rank 0; owned;
                     * MPI_COMM_NULL elsewhere, and when n is 1 */
    int n;          /* the node's unpackers (known to every rank of it) */
    int rank;       /* this rank among them, or -1 */
} pm_unpackers;

/* Pure: the unpackers of a node of node_size ranks and cpus online CPUs;
 * requested > 0 (PYTHON_MPI_UNPACKERS) stands for cpus.  1..node_size. */
int pm_unpackers_count(int node_size, long cpus, int requested);

/* Pure: how many of a node's n unpackers unpack a parts bundle of nparts
 * parts (0: not known, then all n).  1..n. */
int pm_unpackers_active(int n, uint64_t nparts);

/* Collective over t->node: the leader counts the unpackers (its online
 * CPUs, requested), the others learn the count asleep, and the first n
 * make their communicator.  Before MPI-3 (no shared memory between
 * ranks) the leader alone unpacks.  Returns 0, or -1 after printing why;
 * the leader then unpacks alone (and must make the delivery fail). */
int pm_unpackers_open(pm_unpackers *u, const pm_topology *t, int requested);
void pm_unpackers_close(pm_unpackers *u);

#endif
