/* mpi_util.h - starting MPI with the real argv, checking MPI calls, and
 * agreeing on success across ranks without burning the CPU. */
#ifndef PM_MPI_UTIL_H
#define PM_MPI_UTIL_H

#include <mpi.h>

#include "phases.h"   /* pm_now, for the callers of the polite waits */

/* MPI_Init_thread (MPI-2 and later) or MPI_Init, given the real argc/argv so that
 * implementations that read or strip arguments (MPICH-1's p4 device) work;
 * afterwards *argc and *argv are what MPI left for the program. */
int pm_mpi_start(int *argc, char ***argv, int required, int *provided);

/* The start of every MPI program of ours: name the program in messages,
 * start MPI with the real argv, learn the rank, read the PYTHON_MPI_*
 * settings.  Returns 0, or the exit status to return from main after a
 * failure (reported once, MPI already finalized). */
struct pm_settings;
int pm_begin(const char *prog, int *argc, char ***argv, int required, int *rank,
             struct pm_settings *cfg);

/* Print one line naming the failed call if rc is not MPI_SUCCESS; returns rc. */
int pm_mpi_check(int rc, const char *what);

/* MPI_Abort, once the launcher has read what this process wrote: when it
 * kills the job it stops reading, and the line saying why would be lost.
 * Waits at most a second; never returns. */
_Noreturn void pm_abort(MPI_Comm comm, int code);

/* Collective over comm: 0 if every rank passed failed == 0, else 1.  Ranks
 * that arrive early sleep between polls instead of spinning, so a node's
 * waiting ranks leave its cores to the one that is unpacking.  If the MPI
 * call itself fails, returns 1. */
int pm_agree_failed(MPI_Comm comm, int failed);

/* Barrier with the same polite wait. */
int pm_polite_barrier(MPI_Comm comm);

/* MPI_Bcast with the same polite wait; prints a line on failure. */
int pm_polite_bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm);

/* Collective over comm: root's *value reaches every rank, sent to each
 * directly (no rank forwards, so a sleeping one delays nobody else), while
 * the others wait asleep.  For a node's ranks, a few to a few hundred.
 * Returns MPI_SUCCESS or the error, after printing a line. */
int pm_polite_share(int *value, int root, MPI_Comm comm);

/* Collective: rank 0's NUL-terminated string (which it owns and passes in
 * as mine; others pass NULL) reaches every rank.  Returns mine on rank 0 and
 * a malloc'd copy elsewhere; NULL on failure or an empty string. */
char *pm_bcast_string(MPI_Comm comm, int rank, char *mine);

#endif
