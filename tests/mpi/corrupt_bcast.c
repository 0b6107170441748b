/* corrupt_bcast.c - fault injection through the MPI profiling interface.
 *
 * LD_PRELOADed into the ranks of a test, this flips one byte of the first
 * large byte broadcast a non-root rank receives, as a faulty network or
 * memory would: the leaders' checksums must catch it.  Chunks travel by
 * MPI_Bcast or by MPI_Ibcast completed in MPI_Wait or MPI_Test; all are
 * covered. */
#include <mpi.h>
#include <stddef.h>

static int done;
static MPI_Request pending = MPI_REQUEST_NULL;
static unsigned char *pending_buf;
static int pending_count;

static int wanted(int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int rank;
    return !done && type == MPI_BYTE && count > 65536 &&
           PMPI_Comm_rank(comm, &rank) == MPI_SUCCESS && rank != root;
}

static void corrupt(unsigned char *buf, int count)
{
    buf[count / 2] ^= 0x5a;
    done = 1;
}

int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int rc = PMPI_Bcast(buf, count, type, root, comm);
    if (rc == MPI_SUCCESS && wanted(count, type, root, comm))
        corrupt(buf, count);
    return rc;
}

int MPI_Ibcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm,
               MPI_Request *req)
{
    int rc = PMPI_Ibcast(buf, count, type, root, comm, req);
    if (rc == MPI_SUCCESS && pending == MPI_REQUEST_NULL && wanted(count, type, root, comm)) {
        pending = *req;
        pending_buf = buf;
        pending_count = count;
    }
    return rc;
}

int MPI_Wait(MPI_Request *req, MPI_Status *status)
{
    MPI_Request mine = *req;
    int rc = PMPI_Wait(req, status);
    if (rc == MPI_SUCCESS && mine != MPI_REQUEST_NULL && mine == pending && !done) {
        corrupt(pending_buf, pending_count);
        pending = MPI_REQUEST_NULL;
    }
    return rc;
}

int MPI_Test(MPI_Request *req, int *flag, MPI_Status *status)
{
    MPI_Request mine = *req;
    int rc = PMPI_Test(req, flag, status);
    if (rc == MPI_SUCCESS && *flag && mine != MPI_REQUEST_NULL && mine == pending && !done) {
        corrupt(pending_buf, pending_count);
        pending = MPI_REQUEST_NULL;
    }
    return rc;
}
