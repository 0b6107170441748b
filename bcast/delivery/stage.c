/* stage.c - naming, creating, locking and removing the node-local job
 * directory. */
#include "stage.h"
#include "cache.h"
#include "jobdir.h"
#include "log.h"
#include "say.h"
#include "mpi_util.h"
#include "reaper.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A kept tree: create it if missing (and any missing directory above it,
 * 0700); it must be ours and private, and every directory above it
 * trusted (trust.h): a world-writable, non-sticky parent would let
 * another user rename our prefix away and put theirs in its place.  An
 * existing prefix that others can read is refused, not changed: it may
 * be shared on purpose, and the user decides. */
static int ensure_prefix(const char *dir, int *created)
{
    int made = 0;
    int fd = pm_trust_open_say(dir, PM_TRUST_CREATE_ALL | PM_TRUST_MINE | PM_TRUST_PRIVATE, &made);
    if (fd < 0)
        return -1;
    *created |= made;
    close(fd);
    return 0;
}

/* Is the directory fd empty but for python-mpi's lock (and, with
 * marker_too, the marker)?  Not if it cannot be read. */
static int is_empty_at(int fd, int marker_too)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return 0;
    }
    int empty = 1;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                strcmp(e->d_name, PM_TREE_LOCK) == 0 ||
                (marker_too && strcmp(e->d_name, PM_CHANGING) == 0);
    closedir(d);
    return empty;
}

static int is_empty_dir(const char *dir)
{
    char *why = NULL;
    int fd = pm_trust_open(dir, PM_TRUST_MINE, NULL, NULL, &why);
    free(why);
    if (fd < 0)
        return 0;
    int empty = is_empty_at(fd, 1);
    close(fd);
    return empty;
}

/* CHROOT/python-mpi-UID, the chroot resolved under the sticky-directory
 * rule (trust.h): another user's link in /tmp or /dev/shm is not our
 * chroot.  quiet: a failure is only a cache miss (the delivery that
 * follows says why). */
static char *chroot_userdir(const char *chroot, int quiet)
{
    char *why = NULL;
    char *real = pm_trust_realpath(chroot, &why);
    if (!real) {
        if (!quiet)
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

/* pm_reclaim_stale's report of each dead job's tree it removed. */
static void said_reclaimed(void *ctx, const char *dir)
{
    (void)ctx;
    pm_info(1, "reclaimed %s, left by a job that died", dir);
}

/* Sleep between 1 and 2 times ms milliseconds: two waiting runs do not
 * retry in step. */
static void nap(unsigned ms)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned)getpid();
    unsigned long long ns = (unsigned long long)ms * 1000000ull * (1000u + r % 1000u) / 1000u;
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Is fd still the directory that path names (not removed, not replaced)? */
static int still_named(const char *path, int fd)
{
    char *why = NULL;
    int again = pm_trust_open(path, PM_TRUST_MINE, NULL, NULL, &why);
    free(why);
    struct stat a, b;
    int same = again >= 0 && fstat(again, &a) == 0 && fstat(fd, &b) == 0 &&
               a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    if (again >= 0)
        close(again);
    return same;
}

/* One leader's try at the kept tree's lock.  Returns 0 with *lk held, 1 if
 * somebody else holds it (or the tree went away: the retry makes it
 * again), -1 on a failure (printed unless quiet). */
static int try_lock_tree(pm_stage *s, int deliver, int *lk)
{
    *lk = -1;
    char *why = NULL;
    if (deliver && ensure_prefix(s->dir, &s->created) != 0)
        return -1;
    int fd = pm_trust_open(s->dir, PM_TRUST_MINE, NULL, NULL, &why);
    if (fd < 0) {
        if (deliver)
            pm_error(s->dir, "refusing to use: %s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    free(why);
    int rc = -1;
    int l = openat(fd, PM_TREE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (l < 0) {
        if (deliver)
            pm_error(s->dir, "cannot open its lock " PM_TREE_LOCK ": %s", strerror(errno));
    } else if (flock(l, (deliver ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK || errno == EINTR)
            rc = 1;
        else if (deliver)
            pm_error(s->dir, "cannot lock " PM_TREE_LOCK ": %s", strerror(errno));
    } else {
        /* Locked: but a run that created the tree and failed may have
         * removed it meanwhile (holding the lock): then start again. */
        rc = still_named(s->dir, fd) ? 0 : 1;
    }
    if (rc == 0) {
        *lk = l;
        /* Ours from its creation only if nobody delivered before us. */
        if (s->created && !is_empty_at(fd, 0))
            s->created = 0;
    } else if (l >= 0) {
        close(l);
    }
    close(fd);
    return rc;
}

/* Leaders (collective over t->leaders): take the kept tree's lock on every
 * node at once, exclusive to deliver, shared to run on it.  Each only tries;
 * if any could not, all release and retry, so no two runs each hold one
 * node's lock and wait for the other's.  0 with s->tree_lock held on every
 * leader, or 1 on every leader. */
static int lock_tree(pm_stage *s, const pm_topology *t, int deliver)
{
    unsigned ms = 10;
    int said = 0;
    for (;;) {
        int lk;
        int r = try_lock_tree(s, deliver, &lk);
        int v[2] = {r < 0, r != 0};
        if (pm_mpi_check(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MAX, t->leaders),
                         "MPI_Allreduce(tree lock)") != MPI_SUCCESS)
            v[0] = 1;
        if (!v[1]) {
            s->tree_lock = lk;
            return 0;
        }
        if (lk >= 0)
            close(lk);
        if (v[0])
            return 1;
        if (!said)
            pm_info(1, "%s: in use by another run of this job: waiting", s->dir);
        said = 1;
        nap(ms);
        if (ms < 200)
            ms *= 2;
    }
}

/* Leaders, holding the exclusive lock: a tree whose last delivery did not
 * finish is emptied (ours entirely: python-mpi-UID/NAME) or refused (a
 * prefix the user named).  0, or -1 after printing why. */
static int settle_interrupted(pm_stage *s, int ours_entirely)
{
    int fd = pm_trust_open_say(s->dir, PM_TRUST_MINE, NULL);
    if (fd < 0)
        return -1;
    int rc = 0;
    int marked = pm_cache_interrupted(fd);
    if (marked < 0) {
        pm_error(s->dir, "cannot look for " PM_CHANGING ": %s", strerror(errno));
        rc = -1;
    } else if (marked && !ours_entirely) {
        pm_error(s->dir, "refusing to deliver: an earlier delivery into it was interrupted, so it "
                 "may hold parts of other bundles: remove it (rm -r %s) or use another prefix", s->dir);
        rc = -1;
    } else if (marked) {
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!d) {
            pm_error(s->dir, "cannot read: %s", strerror(errno));
            if (dup_fd >= 0)
                close(dup_fd);
            rc = -1;
        }
        /* Everything but the lock and the marker, which goes last (when
         * the next delivery completes). */
        for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                strcmp(e->d_name, PM_TREE_LOCK) == 0 || strcmp(e->d_name, PM_CHANGING) == 0)
                continue;
            char *shown = pm_path_join(s->dir, e->d_name);
            pm_err err = PM_ERR_INIT;
            rc = shown ? pm_rmtree_at(fd, e->d_name, shown, &err) : -1;
            pm_err_print(&err);
            if (!shown)
                pm_error(s->dir, "out of memory");
            free(shown);
        }
        if (d)
            closedir(d);
        if (rc == 0)
            pm_info(1, "%s: an earlier delivery into it was interrupted: emptied, delivering afresh", s->dir);
    }
    close(fd);
    return rc;
}

/* Collective over t->node: the leader sends the path it checked and the
 * directory's device and inode; every other rank opens the path, without
 * resolving anything itself, and refuses a different directory, then
 * holds it (reaper.h: a leader's watcher waits for them).  Sets s->dir on
 * those ranks.  Returns 1 on a rank that refused, else 0. */
static int share_tree(pm_stage *s, const pm_topology *t)
{
    if (t->node_size <= 1)
        return 0;
    int leader = t->node_rank == 0;
    uint64_t id[3] = {0, 0, 0};
    if (leader) {
        char *why = NULL;
        int fd = pm_trust_open(s->dir, PM_TRUST_MINE, NULL, NULL, &why);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            id[0] = 1;
            id[1] = (uint64_t)st.st_dev;
            id[2] = (uint64_t)st.st_ino;
        } else {
            pm_error(s->dir, "refusing to use: %s", fd >= 0 ? strerror(errno) : why ? why : "out of memory");
        }
        free(why);
        if (fd >= 0)
            close(fd);
    }
    if (pm_polite_bcast(id, 3, MPI_UINT64_T, 0, t->node) != MPI_SUCCESS)
        return 1;
    if (!id[0])
        return 1;   /* the leader said why */
    char *dir = pm_bcast_string(t->node, t->node_rank, leader ? s->dir : NULL);
    if (leader)
        return dir ? 0 : 1;
    free(s->dir);
    s->dir = dir;
    if (!dir)
        return 1;
    char *why = NULL;
    int fd = pm_trust_open(dir, PM_TRUST_MINE, NULL, NULL, &why);
    struct stat st;
    int bad = 1;
    if (fd < 0 || fstat(fd, &st) != 0)
        pm_error(dir, "refusing to use: %s", fd >= 0 ? strerror(errno) : why ? why : "out of memory");
    else if ((uint64_t)st.st_dev != id[1] || (uint64_t)st.st_ino != id[2])
        pm_error(dir, "refusing to use: not the directory the node's leader checked "
                 "(device %llu inode %llu, the leader's device %llu inode %llu)",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (unsigned long long)id[1], (unsigned long long)id[2]);
    else if (pm_reaper_hold(fd) != 0 && errno == EWOULDBLOCK)
        pm_error(dir, "refusing to use: its leader has ended and the tree is being removed");
    else
        bad = 0;   /* held, or cannot be (EMFILE...): the rank runs, unprotected */
    free(why);
    if (fd >= 0)
        close(fd);
    return bad;
}

int pm_stage_open(pm_stage *s, const pm_topology *t, const char *chroot,
                  const char *prefix, const char *fixed_name)
{
    pm_stage_init(s);
    int failed = 0;
    int leader = t->leaders != MPI_COMM_NULL;
    int kept = prefix || fixed_name;
    char *name = NULL;

    if (prefix) {
        if (prefix[0] != '/') {
            if (t->rank == 0)
                pm_error(prefix, "prefix must be an absolute path");
            failed = 1;
        } else if (leader && !(s->dir = strdup(prefix))) {
            pm_error(NULL, "out of memory");
            failed = 1;
        }
    } else {
        char *mine = t->rank != 0 ? NULL : fixed_name ? strdup(fixed_name) : pm_run_name();
        if (t->rank == 0 && !mine)
            pm_error(NULL, "out of memory");
        name = pm_bcast_string(t->world, t->rank, mine);
        if (!name) {
            failed = 1;
        } else if (leader) {
            char *userdir = chroot_userdir(chroot, 0);
            pm_err err = PM_ERR_INIT;
            if (!userdir || pm_userdir_ensure(userdir, &err) != 0) {
                failed = 1;
            } else if (!(s->dir = pm_path_join(userdir, name))) {
                pm_error(NULL, "out of memory");
                failed = 1;
            } else if (fixed_name) {
                /* made and locked below, with every node's leader */
            } else if (pm_reclaim_stale(userdir, said_reclaimed, NULL) >= 0 &&
                       (s->lock_fd = pm_run_lock(s->dir, &err)) < 0) {
                failed = 1;
            } else if (pm_mkdir_private(s->dir, &err) == 0) {
                s->owned = s->created = 1;
            } else {
                failed = 1;
            }
            pm_err_print(&err);
            free(userdir);
        }
    }
    free(name);
    failed = pm_agree_failed(t->world, failed);
    /* A kept tree: every leader holds its lock, then repairs or refuses
     * what an interrupted delivery left. */
    if (!failed && kept && leader) {
        failed = lock_tree(s, t, 1);
        if (!failed && settle_interrupted(s, !prefix) != 0)
            failed = 1;
    }
    /* From here on a leader's death, however it happens, removes what this
     * run created on its node.  Not the job's kept tree: another step of
     * the job may be waiting for its lock, and the watcher does not take
     * it (the marker makes the next run empty it instead). */
    if (!failed && leader && s->created && !fixed_name && pm_reaper_can_watch(s->dir) &&
        (s->reaper_fd = pm_reaper_start(s->dir, 0)) < 0)
        failed = 1;
    failed = pm_agree_failed(t->world, failed);
    /* The node's other ranks take the path and identity their leader
     * checked; they resolve nothing themselves. */
    if (!failed)
        failed = pm_agree_failed(t->world, share_tree(s, t));
    /* Empty now, so no link in it until this delivery makes its own: every
     * rank of the node must know (links.h).  The leader looks. */
    if (!failed) {
        s->fresh = leader && (s->created || is_empty_dir(s->dir));
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
    int leader = t->leaders != MPI_COMM_NULL;
    /* Only leaders resolve the chroot; the others get what they checked. */
    if (leader) {
        char *userdir = chroot_userdir(chroot, 1);
        /* Trust nothing in a shared chroot that is not ours. */
        pm_err err = PM_ERR_INIT;
        if (!userdir || pm_userdir_ensure(userdir, &err) != 0 || !(s->dir = pm_path_join(userdir, name))) {
            pm_err_print(&err);
            bad = 1;
        } else {
            char *why = NULL;
            int fd = pm_trust_open(s->dir, PM_TRUST_MINE, NULL, NULL, &why);
            free(why);   /* not there, or not ours: a miss, and a fresh delivery */
            if (fd < 0)
                bad = 1;
            else
                close(fd);
        }
        free(userdir);
    }
    /* Held shared until the run ends: no delivery changes it meanwhile. */
    if (!pm_agree_failed(t->world, bad) && leader)
        bad = lock_tree(s, t, 0);
    if (pm_agree_failed(t->world, bad) || !pm_cache_lookup(t, bundles, s->dir) ||
        pm_agree_failed(t->world, share_tree(s, t))) {
        pm_stage_free(s);
        return 0;
    }
    return 1;
}

/* After the run directory is gone: its lock.  The per-user directory
 * stays (0700, ours) for the user's next job: removing it would hand its
 * name back to every user of the node. */
static void forget_run(pm_stage *s)
{
    pm_err err = PM_ERR_INIT;
    (void)pm_run_unlock(s->dir, s->lock_fd, &err);
    pm_err_print(&err);
    s->lock_fd = -1;
}

/* The tree is removed by whoever made it; a failure is printed here. */
static int remove_tree(const char *dir)
{
    pm_err err = PM_ERR_INIT;
    int rc = pm_rmtree(dir, &err);
    pm_err_print(&err);
    return rc;
}

int pm_stage_remove(pm_stage *s, const pm_topology *t)
{
    int rc = 0;
    if (s->owned && t->leaders != MPI_COMM_NULL) {
        rc = remove_tree(s->dir);
        if (rc == 0)
            forget_run(s);
    }
    pm_stage_free(s);
    return rc;
}

int pm_stage_discard(pm_stage *s, const pm_topology *t)
{
    int rc = 0;
    /* A kept tree only while we hold its lock (else created is 0). */
    if (s->created && s->dir && t->leaders != MPI_COMM_NULL && (s->owned || s->tree_lock >= 0)) {
        rc = remove_tree(s->dir);
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
        forget_run(s);
    if (s->tree_lock >= 0)
        close(s->tree_lock);
    free(s->dir);
    pm_stage_init(s);
}

void pm_stage_init(pm_stage *s)
{
    memset(s, 0, sizeof *s);
    s->reaper_fd = -1;
    s->lock_fd = -1;
    s->tree_lock = -1;
}
