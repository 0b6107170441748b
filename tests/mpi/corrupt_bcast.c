/* corrupt_bcast.c - fault injection through the MPI profiling interface.
 *
 * LD_PRELOADed into the ranks of a test, this MPI_Bcast flips one byte of
 * the first large byte broadcast a non-root rank receives, as a faulty
 * network or memory would: the leaders' checksums must catch it. */
#include <mpi.h>

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    static int done;
    int rc = PMPI_Bcast(buf, count, type, root, comm);
    int rank;
    if (rc == MPI_SUCCESS && !done && type == MPI_BYTE && count > 65536 &&
        PMPI_Comm_rank(comm, &rank) == MPI_SUCCESS && rank != root) {
        ((unsigned char *)buf)[count / 2] ^= 0x5a;
        done = 1;
    }
    return rc;
}
