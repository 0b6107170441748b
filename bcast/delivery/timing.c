/* timing.c - reducing per-phase times over the ranks and reporting them
 * (PYTHON_MPI_TIMING).  Min and max, not a mean: at scale the slowest rank
 * is the one everybody waits for, and the spread shows contention. */
#include "timing.h"

#include "log.h"
#include "mpi_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pm_timing_report(const pm_timing *t, MPI_Comm comm, enum pm_timing_mode mode,
                     const char *path)
{
    if (mode == PM_TIMING_OFF)
        return 0;
    int rank, size;
    double min[PM_NPHASES], max[PM_NPHASES];
    if (pm_mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank") ||
        pm_mpi_check(MPI_Comm_size(comm, &size), "MPI_Comm_size") ||
        pm_mpi_check(MPI_Reduce(t->t, min, PM_NPHASES, MPI_DOUBLE, MPI_MIN, 0, comm), "MPI_Reduce") ||
        pm_mpi_check(MPI_Reduce(t->t, max, PM_NPHASES, MPI_DOUBLE, MPI_MAX, 0, comm), "MPI_Reduce"))
        return -1;
    if (rank != 0)
        return 0;
    char *text = pm_timing_format(min, max, size, t->nnodes, t->bytes, mode);
    if (!text) {
        pm_error(NULL, "PYTHON_MPI_TIMING: out of memory");
        return -1;
    }
    int rc = 0;
    if (path) {
        pm_err e = PM_ERR_INIT;
        rc = pm_timing_write(path, text, &e);
        pm_err_print(&e);
    } else {
        /* One write per line, each with our prefix, like every message. */
        char *line = text;
        for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
            *nl = '\0';
            if (mode == PM_TIMING_JSON)
                fprintf(stderr, "%s\n", line);
            else
                fprintf(stderr, "%s: %s\n", pm_log_prog(), line);
        }
        fflush(stderr);
    }
    free(text);
    return rc;
}
