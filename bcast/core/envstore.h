/* envstore.h - PYTHON_MPI_ENV's cache directory: CACHE/ENVID/KEY, one
 * directory per state of an environment, holding its bundles and their
 * list ("bundles", one name a line).
 *
 * The cache (PYTHON_MPI_CACHE, default $HOME/.cache/python-mpi) is made
 * 0700 and used only if trust.h finds it ours, private, with nobody else
 * above it; every directory and bundle in it must be ours, and a
 * directory private, or it is refused.  A state is made in a temporary
 * directory beside it (ENVID/.tmp-KEY-NODE-PID), delivered from there and
 * renamed into place (commit) or removed (discard); a state is never seen
 * half-made.  The oldest states beyond PYTHON_MPI_CACHE_STATES per
 * environment, or PYTHON_MPI_CACHE_MAX bytes in the whole cache, are
 * removed (prune), but never one that a
 * running job uses: a job holds a shared flock(2) on the list of every
 * state it read until pm_envstore_release or its exit, and the prune
 * removes only what it can lock exclusively.  The lock is on the list, a
 * regular file, not on the directory: NFS emulates flock on files with
 * POSIX locks that every client sees, while its directories lock only
 * on one node.  Nothing is printed: a reason goes back in a pm_err. */
#ifndef PM_ENVSTORE_H
#define PM_ENVSTORE_H

#include "err.h"

#include <stdint.h>
#include <sys/types.h>

#define PM_ENVSTORE_STATES_DEFAULT 3
#define PM_ENVSTORE_MAX_DEFAULT ((uint64_t)8 << 30)
/* A temporary directory this old is a crash's leftover. */
#define PM_ENVSTORE_STALE_TMP_SECONDS (24 * 3600)

typedef struct pm_envstore {
    char *root;        /* resolved, trusted, private */
    unsigned states;   /* PYTHON_MPI_CACHE_STATES (1 to 1000) */
    uint64_t max;      /* PYTHON_MPI_CACHE_MAX, bytes */
    int check_dirs;    /* PYTHON_MPI_ENV_CHECK=dirs */
} pm_envstore;

/* The cache from the environment (the variables above and
 * PYTHON_MPI_ENV_CHECK), made if missing (mkdir -p, 0700) and checked.
 * The part of the path that exists is resolved by trust.h's rules first
 * and the rest made by pm_trust_open's walk, so nothing is created through
 * a link another user could plant, nor in a directory another user can
 * write or owns: a refused cache leaves nothing behind.  0, or -1 with
 * the reason in *err; pm_envstore_close frees it either way. */
int pm_envstore_open(pm_envstore *s, pm_err *err);
void pm_envstore_close(pm_envstore *s);

/* path (not followed) is a directory of ours with no group or other bits:
 * 1, else 0 with the reason in *err. */
int pm_envstore_dir_ok(const char *path, pm_err *err);

/* mkdir path 0700 (there already is fine), then pm_envstore_dir_ok. */
int pm_envstore_mkdir(const char *path, pm_err *err);

/* The bundles of a complete state, appended to *list ("STATE/NAME\n"
 * each), the state's mtime set to now (the newest: the last pruned).
 * The state's list is locked shared first (waiting for a prune that is
 * removing it) and the name checked to be still that directory; the lock
 * is kept (a descriptor of this process, O_CLOEXEC) until
 * pm_envstore_release or exit, so no prune removes the state meanwhile.
 * 0; 1 if there is no state (or it was pruned before we locked it);
 * -1 with the reason in *err if it is not a private directory of ours,
 * has no list, cannot be locked, or names a bundle that is not a regular
 * file of ours in it (nothing added to *list then, no lock kept). */
int pm_envstore_read(const char *state, char **list, pm_err *err);

/* Drop every lock pm_envstore_read took (the job is done with its
 * states).  Idempotent. */
void pm_envstore_release(void);

/* A new file (O_EXCL, no link followed) holding data, fsync'd: 0, or -1
 * with the reason in *err (the file may be left: it is in a temporary
 * directory, removed whole). */
int pm_envstore_write_new(const char *path, const char *data, mode_t mode, pm_err *err);

/* ENVID/.tmp-KEY-NODE-PID, malloc'd or NULL. */
char *pm_envstore_tmp_name(const char *envdir, const char *key, const char *node, long pid);

/* Keep the newest states of envdir within the caps - keep (the one in
 * use) always, and counted first - and remove the others (each locked
 * exclusively, never waiting, then renamed away and removed: a job that
 * lists it finds it whole or not at all); one whose list another job
 * holds (pm_envstore_read) is kept and counted as kept;
 * temporaries older than a day go too.  removed, if not NULL, is told each
 * state removed.  Best effort: returns how many states it removed. */
typedef void (*pm_envstore_removed_fn)(const char *envdir, const char *name, void *ctx);
size_t pm_envstore_prune(const char *envdir, const char *keep, unsigned states, uint64_t max,
                         pm_envstore_removed_fn removed, void *ctx);

/* The whole cache within max bytes (PYTHON_MPI_CACHE_MAX): every
 * environment's states, newest first, kept while they fit; the others
 * removed as pm_envstore_prune removes them, unless a job holds them
 * (they are kept, and count).  The environments' directories stay.
 * Best effort: returns how many states it removed. */
size_t pm_envstore_prune_cache(const char *root, uint64_t max, pm_envstore_removed_fn removed, void *ctx);

/* The end of a state made in tmp: renamed to state if delivered, else
 * removed; tmp is gone after it.  Returns 0 (renamed), 1 (another job
 * made the state meanwhile: ours removed), 2 (not delivered: removed), or
 * -1 with the reason in *err (could not rename: removed). */
int pm_envstore_commit(const char *tmp, const char *state, int delivered, pm_err *err);

#endif
