/* jobdir.h - the node-local directories bundles are unpacked into.
 *
 * Layout under the chroot (default /dev/shm), which every user of the node
 * shares:
 *     CHROOT/python-mpi-UID/          0700, owned by UID, never a symlink;
 *                                     kept between jobs (removing it would
 *                                     hand the name to the node's others)
 *     CHROOT/python-mpi-UID/JOBNAME/  one per run, removed at the end
 * JOBNAME starts with the batch system's job id when there is one and ends
 * with a token rank 0 makes, so two runs on one node never collide. */
#ifndef PM_JOBDIR_H
#define PM_JOBDIR_H

#include <sys/types.h>

#include "err.h"

/* malloc'd "CHROOT/python-mpi-UID" or NULL. */
char *pm_userdir_path(const char *chroot, uid_t uid);

/* The same for PYTHON_MPI_CHROOT (default /dev/shm), resolved as
 * settings.h and stage.h do, for euid; malloc'd or NULL. */
char *pm_userdir_from_env(void);

/* The batch job id from SLURM_JOB_ID, PBS_JOBID, LSB_JOBID, COBALT_JOBID or
 * FLUX_JOB_ID, with characters outside [A-Za-z0-9._-] replaced by '_';
 * malloc'd, or NULL when there is none. */
char *pm_batch_job_id(void);

/* A run name unique on every node: "[JOBID.]HOST-PID-TIME" (rank 0 calls
 * this and broadcasts the result).  malloc'd or NULL. */
char *pm_run_name(void);

/* Every function here that fails returns -1 with the reason in *err
 * (err.h; err may be NULL), and prints nothing. */

/* Create userdir if missing (0700) and check it and every directory above
 * it (trust.h): a directory, not a symlink, owned by us, made 0700. */
int pm_userdir_ensure(const char *userdir, pm_err *err);
/* The same; *made says whether this call created userdir. */
int pm_userdir_ensure_made(const char *userdir, int *made, pm_err *err);

/* mkdir path 0700; it must not exist yet. */
int pm_mkdir_private(const char *path, pm_err *err);

/* Liveness of a run directory: its leader holds flock(LOCK_EX) on
 * "DIR.lock" for as long as it lives; the kernel drops the lock when the
 * process dies however it dies.  Returns the lock's fd, or -1. */
int pm_run_lock(const char *dir, pm_err *err);
/* Remove "DIR.lock" and close fd (after the directory itself is gone). */
int pm_run_unlock(const char *dir, int fd, pm_err *err);
/* In userdir, remove every run directory whose lock nobody holds and that
 * no process holds shared (flock on the directory itself: the node's other
 * ranks of a run whose leader is gone, reaper.h): left by a job that died
 * where even the clean-up watcher could not run; said(ctx,
 * dir) for each (may be NULL).  Returns the number reclaimed. */
typedef void (*pm_reclaimed_fn)(void *ctx, const char *dir);
int pm_reclaim_stale(const char *userdir, pm_reclaimed_fn said, void *ctx);

/* rm -r path without following symlinks or crossing mounts; ENOENT is
 * success.  path's parent must be trusted (trust.h): the removal works
 * through its descriptor. */
int pm_rmtree(const char *path, pm_err *err);
/* The same for the plain name in the directory dir; shown names it in
 * reasons. */
int pm_rmtree_at(int dir, const char *name, const char *shown, pm_err *err);

#endif
