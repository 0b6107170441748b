/* topology.c - node grouping and leader selection (see topology.h). */
#include "topology.h"
#include "log.h"
#include "mpi_util.h"

#include <stdlib.h>
#include <string.h>

int pm_node_color(const char *names, size_t stride, int n, int me)
{
    const char *mine = names + (size_t)me * stride;
    for (int i = 0; i < me; i++)
        if (strncmp(names + (size_t)i * stride, mine, stride) == 0)
            return i;
    (void)n;
    return me;
}

static int split_by_hostname(pm_topology *t)
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    memset(name, 0, sizeof name);
    int rc = MPI_Get_processor_name(name, &len);
    if (pm_mpi_check(rc, "MPI_Get_processor_name"))
        return rc;
    char *all = calloc((size_t)t->size, sizeof name);
    if (!all) {
        pm_error(NULL, "out of memory gathering %d host names", t->size);
        return MPI_ERR_NO_MEM;
    }
    rc = MPI_Allgather(name, (int)sizeof name, MPI_CHAR, all, (int)sizeof name,
                       MPI_CHAR, t->world);
    if (!pm_mpi_check(rc, "MPI_Allgather(host names)")) {
        int color = pm_node_color(all, sizeof name, t->size, t->rank);
        rc = MPI_Comm_split(t->world, color, t->rank, &t->node);
        pm_mpi_check(rc, "MPI_Comm_split(node)");
    }
    free(all);
    return rc;
}

int pm_topology_init(pm_topology *t, MPI_Comm world, int by_hostname)
{
    int rc;
    memset(t, 0, sizeof *t);
    t->world = world;
    t->node = MPI_COMM_NULL;
    t->leaders = MPI_COMM_NULL;
    if ((rc = MPI_Comm_rank(world, &t->rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(world, &t->size)) != MPI_SUCCESS)
        return pm_mpi_check(rc, "MPI_Comm_rank/size");

#if MPI_VERSION >= 3
    if (!by_hostname) {
        rc = MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, t->rank,
                                 MPI_INFO_NULL, &t->node);
        if (pm_mpi_check(rc, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)"))
            return rc;
    } else
#else
    (void)by_hostname;
#endif
    if ((rc = split_by_hostname(t)) != MPI_SUCCESS)
        return rc;

    if ((rc = MPI_Comm_rank(t->node, &t->node_rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(t->node, &t->node_size)) != MPI_SUCCESS)
        return pm_mpi_check(rc, "MPI_Comm_rank/size(node)");

    /* Keyed by world rank, so world rank 0 (always node rank 0 of its node)
     * is rank 0 among the leaders: the root of every broadcast. */
    int leader = t->node_rank == 0;
    rc = MPI_Comm_split(world, leader ? 0 : MPI_UNDEFINED, t->rank, &t->leaders);
    if (pm_mpi_check(rc, "MPI_Comm_split(leaders)"))
        return rc;
    rc = MPI_Allreduce(&leader, &t->nnodes, 1, MPI_INT, MPI_SUM, world);
    return pm_mpi_check(rc, "MPI_Allreduce(node count)");
}

void pm_topology_free(pm_topology *t)
{
    /* Best effort: freeing communicators at teardown cannot be retried. */
    if (t->leaders != MPI_COMM_NULL)
        (void)MPI_Comm_free(&t->leaders);
    if (t->node != MPI_COMM_NULL)
        (void)MPI_Comm_free(&t->node);
}
