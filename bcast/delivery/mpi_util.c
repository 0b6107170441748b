/* mpi_util.c - MPI start-up, error checks and polite waits (see mpi_util.h). */
#include "mpi_util.h"
#include "log.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int pm_mpi_start(int *argc, char ***argv, int required, int *provided)
{
    int rc;
#if MPI_VERSION >= 2
    rc = MPI_Init_thread(argc, argv, required, provided);
#else
    (void)required;
    rc = MPI_Init(argc, argv);
    *provided = 0;
#endif
    return rc;
}

int pm_begin(const char *prog, int *argc, char ***argv, int required, int *rank,
             pm_settings *cfg)
{
    pm_log_init(prog);
    int provided;
    if (pm_mpi_check(pm_mpi_start(argc, argv, required, &provided), "MPI_Init_thread"))
        return 1;
    *rank = 0;
    if (pm_mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, rank), "MPI_Comm_rank"))
        pm_abort(MPI_COMM_WORLD, 1);
    pm_log_set_rank(*rank);
    char *err = NULL;
    if (pm_settings_load(cfg, &err) != 0) {
        /* The environment is the same everywhere: every rank stops, one
         * speaks. */
        if (*rank == 0)
            pm_error(NULL, "%s", err);
        free(err);
        MPI_Finalize();
        return 1;
    }
    pm_log_set_verbose(cfg->verbose);
    return 0;
}

_Noreturn void pm_abort(MPI_Comm comm, int code)
{
    if (code == 0)
        code = 1;
    /* stdout and stderr can be the same pipe; either way a second each
     * bounds the wait when nobody reads. */
    (void)fflush(stdout);
    (void)fflush(stderr);
    (void)pm_log_drain(STDERR_FILENO, 1.0);
    (void)pm_log_drain(STDOUT_FILENO, 1.0);
    MPI_Abort(comm, code);
    _exit(code);   /* an MPI_Abort that returns has failed to stop us */
}

int pm_mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return rc;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        len = 0;
    msg[len] = '\0';
    pm_error(NULL, "%s failed: %s", what, msg);
    return rc;
}

#if MPI_VERSION >= 3
/* Poll a request, sleeping 50 us doubling to 2 ms between tests. */
static int polite_wait(MPI_Request *req)
{
    long ns = 50000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            return rc;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 2000000)
            ns *= 2;
    }
}
#endif

int pm_agree_failed(MPI_Comm comm, int failed)
{
    int in = failed != 0, out = 1, rc;
#if MPI_VERSION >= 3
    MPI_Request req;
    rc = MPI_Iallreduce(&in, &out, 1, MPI_INT, MPI_MAX, comm, &req);
    if (rc == MPI_SUCCESS)
        rc = polite_wait(&req);
#else
    rc = MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, comm);
#endif
    if (pm_mpi_check(rc, "MPI_Allreduce(status)"))
        return 1;
    return out;
}

int pm_polite_barrier(MPI_Comm comm)
{
    int rc;
#if MPI_VERSION >= 3
    MPI_Request req;
    rc = MPI_Ibarrier(comm, &req);
    if (rc == MPI_SUCCESS)
        rc = polite_wait(&req);
#else
    rc = MPI_Barrier(comm);
#endif
    return pm_mpi_check(rc, "MPI_Barrier");
}

int pm_polite_bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    int rc;
#if MPI_VERSION >= 3
    MPI_Request req;
    rc = MPI_Ibcast(buf, count, type, root, comm, &req);
    if (rc == MPI_SUCCESS)
        rc = polite_wait(&req);
#else
    rc = MPI_Bcast(buf, count, type, root, comm);
#endif
    return pm_mpi_check(rc, "MPI_Bcast");
}

#define SHARE_TAG 0x5052   /* pm_polite_share's messages */

int pm_polite_share(int *value, int root, MPI_Comm comm)
{
    int rank, size;
    int rc = MPI_Comm_rank(comm, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(comm, &size);
    if (rc == MPI_SUCCESS && rank == root) {
        /* One int each: sent eagerly, and every receiver posts its
         * receive as soon as it arrives anyway. */
        for (int r = 0; rc == MPI_SUCCESS && r < size; r++)
            if (r != root)
                rc = MPI_Send(value, 1, MPI_INT, r, SHARE_TAG, comm);
    } else if (rc == MPI_SUCCESS) {
#if MPI_VERSION >= 3
        MPI_Request req;
        rc = MPI_Irecv(value, 1, MPI_INT, root, SHARE_TAG, comm, &req);
        if (rc == MPI_SUCCESS)
            rc = polite_wait(&req);
#else
        rc = MPI_Recv(value, 1, MPI_INT, root, SHARE_TAG, comm, MPI_STATUS_IGNORE);
#endif
    }
    return pm_mpi_check(rc, "sharing a value with the node");
}

char *pm_bcast_string(MPI_Comm comm, int rank, char *mine)
{
    unsigned long long len = mine ? strlen(mine) : 0;
    if (pm_mpi_check(MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, comm),
                     "MPI_Bcast(name length)"))
        return NULL;
    if (len == 0 || len > (1u << 20))
        return NULL;
    char *s = rank == 0 ? mine : malloc(len + 1);
    if (!s) {
        /* The others are already in the broadcast: it cannot be skipped. */
        pm_error(NULL, "out of memory for a %llu-byte string", len + 1);
        pm_abort(comm, 1);
    }
    int rc = MPI_Bcast(s, (int)len, MPI_CHAR, 0, comm);
    if (pm_mpi_check(rc, "MPI_Bcast(name)")) {
        if (rank != 0)
            free(s);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

