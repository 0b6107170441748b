/* count_finalize.c - how many times each rank finalizes MPI.
 *
 * LD_PRELOADed into the ranks of tests/exit, it appends "finalize RANK" to
 * $PM_FINALIZE_LOG on every MPI_Finalize (one write per line, O_APPEND, so
 * the ranks of every node can share the file), then finalizes. */
#include <mpi.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int MPI_Finalize(void)
{
    const char *path = getenv("PM_FINALIZE_LOG");
    int rank = -1;
    if (PMPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS)
        rank = -1;
    if (path) {
        char line[64];
        int n = snprintf(line, sizeof line, "finalize %d\n", rank);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (n > 0 && write(fd, line, (size_t)n) != n)
                perror("count_finalize: write");
            close(fd);
        }
    }
    return PMPI_Finalize();
}
