/* timing.h - PYTHON_MPI_TIMING: how long each start-up phase took, as the
 * minimum and maximum over all ranks, reported once by rank 0 at exit
 * (the phases, the setting and the text: core/phases.h). */
#ifndef PM_TIMING_H
#define PM_TIMING_H

#include <mpi.h>

#include "phases.h"

/* Collective over comm: reduce every rank's times to min and max, and have
 * rank 0 print or write them.  Returns 0, or -1 after printing why. */
int pm_timing_report(const pm_timing *t, MPI_Comm comm, enum pm_timing_mode mode,
                     const char *path);

#endif
