/* envfeed.h - PYTHON_MPI_ENV's bundles made while they are delivered: the
 * pm_feed of deliver.h, on rank 0.
 *
 * A state being made has its bundle files created empty (0600, in its
 * private temporary directory) before the delivery starts; when the
 * delivery reaches one, its pkgroot (beside python-mpi, posix_spawn, never
 * a shell or PATH; stdin and stdout /dev/null, no other descriptor of
 * ours but stderr) is started with `--out-fd 3`
 * writing into it, and rank 0 sends its bytes as they are written.  One
 * pkgroot runs at a time: each compresses on every core of rank 0's node.
 * A pkgroot outlives no python-mpi (it asks for SIGTERM when its parent
 * dies), and whatever is still running when the job stops is killed and
 * reaped (pm_envfeed_finish: SIGTERM, and SIGCONT for a stopped one). */
#ifndef PM_ENVFEED_H
#define PM_ENVFEED_H

#include "deliver.h"

/* A bundle to make: argv (NULL-terminated, taken: every string and the
 * array malloc'd; argv[0] pkgroot's absolute path, the first options
 * "--out-fd 3"), the file it fills (path, open read-write, taken), the
 * state's temporary directory it belongs to, maker (pkgroot's command, a
 * static string) and about (the directory it bundles: both for messages) and a directory to remove once
 * it is made (or NULL; taken).  0, or -1 after printing why (everything
 * taken is freed). */
int pm_envfeed_add(char **argv, const char *maker, const char *path, int fd, const char *state_tmp,
                   const char *about, char *rmdir_after);

/* The feed (its callbacks find a bundle by device and inode). */
const pm_feed *pm_envfeed(void);

/* Every bundle of the state in state_tmp: the ones still being made are
 * stopped (SIGTERM) and reaped, their files closed.  1 if each was made
 * whole (its pkgroot exited 0), else 0.  Forgets them. */
int pm_envfeed_finish(const char *state_tmp);

#endif
