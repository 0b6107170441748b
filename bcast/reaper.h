/* reaper.h - removes a node's unpacked tree even when its owner dies.
 *
 * A leader that unpacks into a fresh directory starts a small watcher (its
 * own executable, re-entered with --python-mpi-reaper), in a new session so
 * that the launcher's kill of the job's process group does not reach it,
 * and out of the leader's process tree (a first stage forks it and exits)
 * so that a kill of the task's descendants (Slurm's proctrack/linuxproc)
 * does not either, holding the read end of a pipe.  If the leader dies in any way (SIGKILL,
 * SIGTERM at the time limit, MPI_Abort from another rank, a crash) the pipe
 * reaches end-of-file and the watcher removes the tree.  A leader that ends
 * normally disarms it first.  posix_spawn (not fork) keeps the MPI
 * process's memory untouched, which matters with RDMA-registered pages. */
#ifndef PM_REAPER_H
#define PM_REAPER_H

#define PM_REAPER_FLAG "--python-mpi-reaper"

/* Start a watcher for dir; returns the pipe's write end, or -1 after
 * printing why (the caller may go on without one). */
int pm_reaper_start(const char *dir);

/* Tell the watcher to exit without removing anything, and close fd. */
void pm_reaper_disarm(int fd);

/* The watcher's main: call first thing in main() when argv[1] is
 * PM_REAPER_FLAG; argv[2] is the directory.  Never returns. */
void pm_reaper_main(int argc, char **argv) __attribute__((noreturn));

/* malloc'd absolute path of the running executable, or NULL. */
char *pm_self_exe(void);

#endif
