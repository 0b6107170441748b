/* topology.h - which ranks share a node, and one leader per node.
 *
 * Only leaders receive and unpack bundles; /dev/shm is per node, so the
 * grouping must match what the operating system shares, which is what
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) reports (MPI >= 3).  Older MPIs
 * group by MPI_Get_processor_name instead. */
#ifndef PM_TOPOLOGY_H
#define PM_TOPOLOGY_H

#include <mpi.h>
#include <stddef.h>

typedef struct pm_topology {
    MPI_Comm world;     /* not owned */
    MPI_Comm node;      /* ranks of this node, owned */
    MPI_Comm leaders;   /* node rank 0 of every node; MPI_COMM_NULL elsewhere */
    int rank, size;     /* in world */
    int node_rank, node_size;
    int nnodes;
} pm_topology;

/* Collective over world.  by_hostname forces the processor-name grouping
 * (the only one where MPI < 3).  Returns 0, or an MPI error code after
 * printing one line. */
int pm_topology_init(pm_topology *t, MPI_Comm world, int by_hostname);
void pm_topology_free(pm_topology *t);

/* Pure helper of the fallback: names holds n NUL-terminated names at the
 * given stride; returns the index of the first name equal to names[me],
 * which is a colour shared by exactly the ranks on the same node. */
int pm_node_color(const char *names, size_t stride, int n, int me);

#endif
