/* stage.c - naming, creating and removing the node-local job directory. */
#include "stage.h"
#include "cache.h"
#include "jobdir.h"
#include "log.h"
#include "mpi_util.h"
#include "reaper.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An explicit prefix: create it if missing (and any missing directory
 * above it, 0700); it and every directory above it must be trusted
 * (trust.h): a world-writable, non-sticky parent would let another user
 * rename our prefix away and put theirs in its place. */
static int ensure_prefix(const char *dir, int *created)
{
    int fd = pm_trust_open_or_say(dir, PM_TRUST_CREATE_ALL | PM_TRUST_MINE, created);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Nothing in dir (or it cannot be read: then not "empty"). */
static int is_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int empty = 1;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static char *chroot_userdir(const char *chroot)
{
    /* Resolved under the sticky-directory rule (trust.h): another user's
     * link in /tmp or /dev/shm is not our chroot. */
    char *why = NULL;
    char *real = pm_trust_realpath(chroot, &why);
    if (!real) {
        pm_error(chroot, "cannot use as PYTHON_MPI_CHROOT: %s", why ? why : "out of memory");
        free(why);
        return NULL;
    }
    char *u = pm_userdir_path(real, geteuid());
    free(real);
    if (!u)
        pm_error(NULL, "out of memory");
    return u;
}

int pm_stage_open(pm_stage *s, const pm_topology *t, const char *chroot,
                  const char *prefix, const char *fixed_name)
{
    pm_stage_init(s);
    int failed = 0, made_userdir = 0;
    char *name = NULL;

    if (prefix) {
        if (prefix[0] != '/') {
            if (t->rank == 0)
                pm_error(prefix, "prefix must be an absolute path");
            failed = 1;
        } else if (!(s->dir = strdup(prefix))) {
            pm_error(NULL, "out of memory");
            failed = 1;
        }
        if (!failed && t->leaders != MPI_COMM_NULL && ensure_prefix(s->dir, &s->created) != 0)
            failed = 1;
    } else {
        char *mine = t->rank != 0 ? NULL : fixed_name ? strdup(fixed_name) : pm_run_name();
        if (t->rank == 0 && !mine)
            pm_error(NULL, "out of memory");
        name = pm_bcast_string(t->world, t->rank, mine);
        if (!name) {
            failed = 1;
        } else if (t->leaders != MPI_COMM_NULL) {
            char *userdir = chroot_userdir(chroot);
            if (!userdir || pm_userdir_ensure_made(userdir, &made_userdir) != 0) {
                failed = 1;
            } else if (!(s->dir = pm_path_join(userdir, name))) {
                pm_error(NULL, "out of memory");
                failed = 1;
            } else if (fixed_name) {
                failed = ensure_prefix(s->dir, &s->created) != 0;
            } else if (pm_reclaim_stale(userdir) >= 0 &&
                       (s->lock_fd = pm_run_lock(s->dir)) < 0) {
                failed = 1;
            } else if (pm_mkdir_private(s->dir) == 0) {
                s->owned = s->created = 1;
            } else {
                failed = 1;
            }
            free(userdir);
        }
    }
    /* From here on a leader's death, however it happens, removes what this
     * run created on its node. */
    if (!failed && s->created && pm_reaper_can_watch(s->dir) &&
        (s->reaper_fd = pm_reaper_start(s->dir, made_userdir)) < 0)
        failed = 1;
    failed = pm_agree_failed(t->world, failed);
    /* Non-leaders learn the path too: the same string on every node. */
    if (!failed && !prefix && t->leaders == MPI_COMM_NULL) {
        char *userdir = chroot_userdir(chroot);
        s->dir = userdir ? pm_path_join(userdir, name) : NULL;
        free(userdir);
        if (!s->dir)
            failed = 1;
        failed = pm_agree_failed(t->world, failed);
    } else if (!failed && !prefix) {
        failed = pm_agree_failed(t->world, 0);
    }
    free(name);
    /* Empty now, so no link in it until this delivery makes its own: every
     * rank of the node must know (links.h).  The leader looks. */
    if (!failed) {
        s->fresh = t->leaders != MPI_COMM_NULL && (s->created || is_empty_dir(s->dir));
        failed = pm_agree_failed(t->world, pm_mpi_check(MPI_Bcast(&s->fresh, 1, MPI_INT, 0, t->node),
                                                        "MPI_Bcast(fresh)") != MPI_SUCCESS);
    }
    if (failed) {
        pm_stage_discard(s, t);
        return 1;
    }
    return 0;
}

int pm_stage_find_cached(pm_stage *s, const pm_topology *t, const char *chroot,
                         const char *name, const pm_pkglist *bundles)
{
    pm_stage_init(s);
    int bad = 0;
    char *userdir = NULL;
    /* Every rank derives the same path from node-local facts only. */
    char *unresolved = NULL;
    char *real = pm_trust_realpath(chroot, &unresolved);
    free(unresolved);   /* a miss: pm_stage_open says why */
    if (!real || !(userdir = pm_userdir_path(real, geteuid())) || !(s->dir = pm_path_join(userdir, name)))
        bad = 1;
    free(real);
    if (!bad && t->leaders != MPI_COMM_NULL) {
        /* Trust nothing in a shared chroot that is not ours. */
        char *why = NULL;
        int fd = pm_userdir_ensure(userdir) != 0 ? -1 : pm_trust_open(s->dir, PM_TRUST_MINE, NULL, NULL, &why);
        free(why);   /* not there, or not ours: a miss, and a fresh delivery */
        if (fd < 0)
            bad = 1;
        else
            close(fd);
    }
    free(userdir);
    if (pm_agree_failed(t->world, bad) || !pm_cache_lookup(t, bundles, s->dir)) {
        pm_stage_free(s);
        return 0;
    }
    return 1;
}

/* The per-user directory goes too once its last run is gone; another
 * run of ours still in it keeps it (ENOTEMPTY). */
static void remove_userdir_if_empty(const char *jobdir)
{
    char *parent = strdup(jobdir);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent) {
        *slash = '\0';
        if (rmdir(parent) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
            pm_error(parent, "cannot remove: %s", strerror(errno));
    }
    free(parent);
}

/* After the run directory is gone: its lock, then the user's directory if
 * no other run of ours is in it. */
static void forget_run(pm_stage *s)
{
    pm_run_unlock(s->dir, s->lock_fd);
    s->lock_fd = -1;
    remove_userdir_if_empty(s->dir);
}

int pm_stage_remove(pm_stage *s, const pm_topology *t)
{
    int rc = 0;
    if (s->owned && t->leaders != MPI_COMM_NULL) {
        rc = pm_rmtree(s->dir);
        if (rc == 0)
            forget_run(s);
    }
    pm_stage_free(s);
    return rc;
}

int pm_stage_discard(pm_stage *s, const pm_topology *t)
{
    int rc = 0;
    if (s->created && s->dir && t->leaders != MPI_COMM_NULL) {
        rc = pm_rmtree(s->dir);
        if (rc == 0 && s->owned)
            forget_run(s);
    }
    pm_stage_free(s);
    return rc;
}

void pm_stage_free(pm_stage *s)
{
    pm_reaper_disarm(s->reaper_fd);
    if (s->lock_fd >= 0)
        pm_run_unlock(s->dir, s->lock_fd);
    free(s->dir);
    pm_stage_init(s);
}

void pm_stage_init(pm_stage *s)
{
    memset(s, 0, sizeof *s);
    s->reaper_fd = -1;
    s->lock_fd = -1;
}
