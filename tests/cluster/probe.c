/* probe.c - what tests/cluster/test_cluster.sh asks of every rank of a
 * simulated cluster job: its host, its node communicator, what its node's
 * /dev/shm holds, a multi-MB MPI_Bcast and an MPI_Allreduce across nodes,
 * and the environment it got.  Usage: probe TAG PKGDIR_ABS PKGDIR_REL
 * COMMONFILE.  Owned by tests/cluster/.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBYTES (3 * 1024 * 1024 + 17)

static void open_close(int dirfd, const char *path, int flags)
{
    int fd = dirfd >= 0 ? openat(dirfd, path, flags) : open(path, flags);
    if (fd < 0) { perror(path); MPI_Abort(MPI_COMM_WORLD, 2); }
    close(fd);
}

int main(int argc, char **argv)
{
    int rank, size, nsize, i;
    char host[256], path[4096];
    MPI_Comm node;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 5) MPI_Abort(MPI_COMM_WORLD, 1);
    const char *tag = argv[1], *abs = argv[2], *rel = argv[3], *common = argv[4];
    gethostname(host, sizeof host);

    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &nsize);
    int *members = malloc(nsize * sizeof *members);
    MPI_Allgather(&rank, 1, MPI_INT, members, 1, MPI_INT, node);

    /* Markers: visible exactly to the ranks of my node. */
    snprintf(path, sizeof path, "/dev/shm/cluster-marker-%s.%d", tag, rank);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) { perror(path); MPI_Abort(MPI_COMM_WORLD, 2); }
    dprintf(fd, "%s\n", host);
    close(fd);
    MPI_Barrier(MPI_COMM_WORLD);
    int markers_ok = 1;
    for (int r = 0; r < size; r++) {
        int same = 0;
        for (i = 0; i < nsize; i++) same |= members[i] == r;
        snprintf(path, sizeof path, "/dev/shm/cluster-marker-%s.%d", tag, r);
        if ((access(path, F_OK) == 0) != same) markers_ok = 0;
    }

    /* Bcast a few MB from rank 0. */
    unsigned char *buf = malloc(NBYTES);
    for (i = 0; i < NBYTES; i++) buf[i] = rank == 0 ? (unsigned char)(i * 131 + 7) : 0;
    MPI_Bcast(buf, NBYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
    int bcast_ok = 1;
    for (i = 0; i < NBYTES; i++) if (buf[i] != (unsigned char)(i * 131 + 7)) bcast_ok = 0;

    /* Allreduce across nodes. */
    long in[2] = { rank, bcast_ok }, out[2];
    MPI_Allreduce(in, out, 2, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    int allreduce_ok = out[0] == (long)size * (size - 1) / 2 && out[1] == size;

    /* Known file operations for count-file-ops: rank 0 touches PKGDIR
       5 times (2 absolute, 1 relative, the directory, 1 dirfd-relative);
       every rank stats COMMONFILE once. */
    if (rank == 0) {
        snprintf(path, sizeof path, "%s/known.txt", abs);
        open_close(-1, path, O_RDONLY);
        open_close(-1, path, O_RDONLY);
        snprintf(path, sizeof path, "%s/known.txt", rel);
        open_close(-1, path, O_RDONLY);
        int dfd = open(abs, O_RDONLY | O_DIRECTORY);
        if (dfd < 0) { perror(abs); MPI_Abort(MPI_COMM_WORLD, 2); }
        open_close(dfd, "known.txt", O_RDONLY);
        close(dfd);
    }
    struct stat st;
    if (stat(common, &st) != 0) { perror(common); MPI_Abort(MPI_COMM_WORLD, 2); }

    const char *env = getenv("PYTHON_MPI_CLUSTER_PROBE");
    printf("RESULT rank=%d size=%d host=%s nodesize=%d bcast=%s markers=%s allreduce=%s env=%s\n",
           rank, size, host, nsize, bcast_ok ? "ok" : "BAD", markers_ok ? "ok" : "BAD",
           allreduce_ok ? "ok" : "BAD", env ? env : "(unset)");
    fflush(stdout);
    MPI_Comm_free(&node);
    free(members);
    free(buf);
    MPI_Finalize();
    return 0;
}
