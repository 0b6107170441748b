/* unpackers.c - choosing a node's unpackers (see unpackers.h). */
#include "unpackers.h"
#include "mpi_util.h"

#include <unistd.h>

int pm_unpackers_count(int node_size, long cpus, int requested)
{
    long n = requested > 0 ? requested : cpus;
    if (n > node_size)
        n = node_size;
    return n < 1 ? 1 : (int)n;
}

int pm_unpackers_active(int n, uint64_t nparts)
{
    if (nparts == 0 || nparts >= (uint64_t)n)
        return n < 1 ? 1 : n;
    return (int)nparts;
}

void pm_unpackers_close(pm_unpackers *u)
{
    if (u->comm != MPI_COMM_NULL)
        (void)MPI_Comm_free(&u->comm);   /* best effort, like pm_topology_free */
    u->comm = MPI_COMM_NULL;
    u->n = 1;
    u->rank = -1;
}

int pm_unpackers_open(pm_unpackers *u, const pm_topology *t, int requested)
{
    u->comm = MPI_COMM_NULL;
    u->n = 1;
    u->rank = t->node_rank == 0 ? 0 : -1;
#if MPI_VERSION >= 3
    if (t->node_size == 1)
        return 0;
    int n = t->node_rank == 0 ? pm_unpackers_count(t->node_size, sysconf(_SC_NPROCESSORS_ONLN), requested) : 0;
    /* The leader's count, not each rank's own: ranks of an MPMD launch may
     * see different environments. */
    if (pm_polite_share(&n, 0, t->node) != MPI_SUCCESS || n < 1 || n > t->node_size) {
        pm_unpackers_close(u);
        u->rank = t->node_rank == 0 ? 0 : -1;
        return -1;
    }
    u->n = n;
    if (n == 1 || t->node_rank >= n) {
        u->rank = t->node_rank < n ? t->node_rank : -1;
        return 0;
    }
    /* Only the members take part: the others need not wait for them. */
    MPI_Group node, members;
    int range[1][3] = {{0, n - 1, 1}};
    int rc = MPI_Comm_group(t->node, &node);
    if (pm_mpi_check(rc, "MPI_Comm_group(node)") == MPI_SUCCESS) {
        rc = MPI_Group_range_incl(node, 1, range, &members);
        if (pm_mpi_check(rc, "MPI_Group_range_incl(unpackers)") == MPI_SUCCESS) {
            rc = MPI_Comm_create_group(t->node, members, 0, &u->comm);
            (void)pm_mpi_check(rc, "MPI_Comm_create_group(unpackers)");
            (void)MPI_Group_free(&members);
        }
        (void)MPI_Group_free(&node);
    }
    if (rc != MPI_SUCCESS) {
        pm_unpackers_close(u);
        u->rank = t->node_rank == 0 ? 0 : -1;
        return -1;
    }
    u->rank = t->node_rank;
#else
    (void)requested;
#endif
    return 0;
}
