/* reaper.h - removes a node's unpacked tree even when its owner dies.
 *
 * A leader that unpacks into a fresh directory CHROOT/python-mpi-UID/NAME
 * starts a small watcher (its own executable, re-entered with
 * --python-mpi-reaper), in a new session so that the launcher's kill of the
 * job's process group does not reach it, holding the read end of a pipe.
 * If the leader dies in any way (SIGKILL, SIGTERM at the time limit,
 * MPI_Abort from another rank, a crash) the pipe reaches end-of-file and the
 * watcher removes the tree.  A leader that ends normally disarms it first.
 * The watcher also leaves the leader's process tree (a first stage forks it
 * and exits, the leader reaps that), so that a kill of the task's
 * descendants (Slurm's proctrack/linuxproc, after MPI_Abort) spares it.
 * posix_spawn (not fork) keeps the MPI process's memory untouched, which
 * matters with RDMA-registered pages.  The watcher gets none of the
 * leader's descriptors but its stderr (fds 0, 1 and 3 are its own): one
 * holding the launcher's PMI socket or output pipes would make it wait.
 * posix_spawn_file_actions_addclosefrom_np closes them where the C library
 * has it (glibc 2.34+, looked up at run time); with an older one (RHEL 8's
 * 2.28) posix_spawn gets a close action for each descriptor open.
 *
 * No path is on the watcher's command line (which every user can read in
 * ps): it gets the chroot as an open directory (fd 3) and the run's name,
 * and whether the leader created the per-user directory, as the first line
 * on the pipe (fd 0).  It acts only if fd 0 is a pipe whose other end its
 * parent, the same executable, holds; only on NAME (one plain component)
 * in python-mpi-EUID under that chroot, which must be ours and 0700; and it
 * removes the per-user directory (when empty) only if the leader made it.
 *
 * The node's other ranks run on the same tree, and may outlive their leader
 * (a leader killed, or ending with _exit from C, before a launcher that
 * does not kill the rest; a rank's forked children).  Each holds a shared
 * flock on the tree's directory (pm_reaper_hold) for as long as it lives;
 * the watcher takes it exclusive before it removes anything, so the tree
 * goes when the last of them has gone, not from under them (and a later
 * run's pm_reclaim_stale leaves it too).  While it waits the watcher's
 * stderr is /dev/null, not the launcher's pipe.  Not covered: processes
 * MPI_Comm_spawn'd onto their parent's tree, and programs a rank execs (the
 * hold is close-on-exec).  Under Slurm's proctrack/cgroup the step's
 * processes are killed together: a tree the watcher could not remove in
 * time is reclaimed by the user's next run on the node. */
#ifndef PM_REAPER_H
#define PM_REAPER_H

#include <spawn.h>

#define PM_REAPER_FLAG "--python-mpi-reaper"

/* Start a watcher for dir, which must be CHROOT/python-mpi-EUID/NAME;
 * made_userdir: this run created python-mpi-EUID.  Returns the pipe's write
 * end, or -1 after printing why. */
int pm_reaper_start(const char *dir, int made_userdir);

/* Is dir of the form the watcher accepts (CHROOT/python-mpi-EUID/NAME)? */
int pm_reaper_can_watch(const char *dir);

/* A rank that runs on the tree (not its leader) calls this with the tree's
 * directory open: a shared flock on a close-on-exec duplicate of dirfd
 * that is never closed, so it lasts as long as this process and what it
 * forks.  0, or -1 with errno (EWOULDBLOCK: the watcher is removing the
 * tree, its leader having gone). */
int pm_reaper_hold(int dirfd);

/* Tell the watcher to exit without removing anything, and close fd. */
void pm_reaper_disarm(int fd);

/* The watcher's main: call first thing in main() when argv[1] is
 * PM_REAPER_FLAG.  Never returns; exit status 0 (nothing to do, or done),
 * 1 (removal failed), 2 (refused: not started by python-mpi or bcast, or a
 * directory that is not ours; one line on stderr says which). */
void pm_reaper_main(int argc, char **argv) __attribute__((noreturn));

/* Tests only: 1, close the leader's descriptors as without closefrom
 * (from /proc/self/fd's list); 2, likewise but without /proc (each
 * number up to RLIMIT_NOFILE). */
extern int pm_reaper_force_fallback;

/* Does this process's C library have posix_spawn_file_actions_addclosefrom_np
 * (never, in a PM_FORCE_FALLBACKS=1 build)? */
int pm_reaper_has_closefrom(void);

/* A close action in fa for every descriptor from low up (closefrom where
 * the C library has it, else one per descriptor open now, as above): what
 * python-mpi spawns gets none of the launcher's PMI socket or output pipes.
 * 0 or an error number. */
int pm_spawn_close_from(posix_spawn_file_actions_t *fa, int low);

/* malloc'd absolute path of the running executable, or NULL. */
char *pm_self_exe(void);

#endif
