/* phases.h - the start-up phases python-mpi times, the PYTHON_MPI_TIMING
 * setting, the report's text, and the clock (MPI-free: settings.h and
 * pyrun.c need them; delivery/timing.h reduces the times over the ranks).
 *
 *   PYTHON_MPI_TIMING=1 (or text)   a few lines on stderr
 *   PYTHON_MPI_TIMING=json          one JSON line on stderr
 *   PYTHON_MPI_TIMING=json:PATH     the JSON written to PATH (atomically) */
#ifndef PM_PHASES_H
#define PM_PHASES_H

#include <stdint.h>

#include "err.h"

enum pm_phase {
    PM_PHASE_MPI_INIT,   /* MPI_Init_thread */
    PM_PHASE_STAGE,      /* bundles to every node: check, directories, delivery */
    PM_PHASE_READ,       /*   of which rank 0 reading the shared file system */
    PM_PHASE_BCAST,      /*   of which waiting in broadcasts */
    PM_PHASE_UNPACK,     /*   of which extracting */
    PM_PHASE_PY_INIT,    /* Python initialisation (site, encodings ...) */
    PM_PHASE_RUN,        /* the program itself */
    PM_PHASE_TEARDOWN,   /* waiting for every rank, removing the tree */
    PM_PHASE_TOTAL,      /* process start to the report */
    PM_NPHASES
};

enum pm_timing_mode { PM_TIMING_OFF, PM_TIMING_TEXT, PM_TIMING_JSON };

typedef struct pm_timing {
    double t[PM_NPHASES];   /* seconds spent by this rank */
    uint64_t bytes;         /* bundle bytes delivered (rank 0's count) */
    int nnodes;             /* 0 if not known (nothing was staged) */
} pm_timing;

/* Parse a PYTHON_MPI_TIMING value: 0 with *mode (and *path for json:PATH,
 * pointing into value) set, or -1 if it means nothing. */
int pm_timing_parse(const char *value, enum pm_timing_mode *mode, const char **path);

/* The report itself, from reduced values (unit-testable without MPI):
 * a malloc'd string, or NULL if out of memory. */
char *pm_timing_format(const double *min, const double *max, int nranks, int nnodes,
                       uint64_t bytes, enum pm_timing_mode mode);

/* Write text to PATH so that it appears complete or not at all (a new
 * temporary file beside it, then rename; PATH's directory resolved under
 * trust.h's sticky-directory rule).  0, or -1 with e set. */
int pm_timing_write(const char *path, const char *text, pm_err *e);

/* Seconds on a monotonic clock. */
double pm_now(void);

#endif
