/* jobdir.c - creating, checking and removing node-local directories. */
#include "jobdir.h"
#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *pm_userdir_path(const char *chroot, uid_t uid)
{
    char *leaf = pm_printf_alloc("python-mpi-%lu", (unsigned long)uid);
    if (!leaf)
        return NULL;
    char *p = pm_path_join(chroot, leaf);
    free(leaf);
    return p;
}

char *pm_userdir_from_env(void)
{
    const char *chroot = getenv("PYTHON_MPI_CHROOT");
    char *why = NULL;   /* the sticky-directory rule (trust.h); callers say why */
    char *real = pm_trust_realpath(chroot && *chroot ? chroot : "/dev/shm", &why);
    free(why);
    char *u = real ? pm_userdir_path(real, geteuid()) : NULL;
    free(real);
    return u;
}

static void sanitize(char *s)
{
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            *s = '_';
    }
}

char *pm_batch_job_id(void)
{
    static const char *const vars[] = {
        "SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "COBALT_JOBID", "FLUX_JOB_ID",
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            char *s = strdup(v);
            if (s) {
                sanitize(s);
                /* Never ".", "..", or a hidden name: it becomes a path. */
                if (s[0] == '.')
                    s[0] = '_';
            }
            return s;
        }
    }
    return NULL;
}

char *pm_run_name(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Time, pid and host keep names apart across processes and nodes;
     * random bits keep two calls in one process apart as well. */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&ts;
    char *job = pm_batch_job_id();
    char *name = pm_printf_alloc("%s%s%s-%ld-%lx%08lx-%08x", job ? job : "", job ? "." : "",
                                 pm_log_node(), (long)getpid(),
                                 (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec,
                                 (unsigned)rnd);
    free(job);
    if (name)
        sanitize(name);
    return name;
}

int pm_userdir_ensure(const char *userdir, pm_err *err)
{
    int made;
    return pm_userdir_ensure_made(userdir, &made, err);
}

int pm_userdir_ensure_made(const char *userdir, int *made, pm_err *err)
{
    /* Someone else may have planted this name (or one above it) in a
     * world-writable chroot: every component is checked (trust.h). */
    int fd = pm_trust_open_err(userdir, PM_TRUST_CREATE | PM_TRUST_MINE, made, err);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        pm_err_set(err, userdir, "cannot stat: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0) {
        pm_err_set(err, userdir, "cannot make private (chmod 0700): %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int pm_mkdir_private(const char *path, pm_err *err)
{
    if (mkdir(path, 0700) != 0) {
        pm_err_set(err, path, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Remove name in dir and everything below it, through descriptors only:
 * never following a symbolic link, never leaving the file system dev.
 * shown: the path, for messages. */
static int rm_at(int dir, const char *name, const char *shown, dev_t dev, int top, pm_err *err)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        pm_err_set(err, shown, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dir, name, 0) != 0 && errno != ENOENT) {
            pm_err_set(err, shown, "cannot remove: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (!top && st.st_dev != dev) {
        pm_err_set(err, shown, "cannot remove: another file system is mounted there");
        return -1;
    }
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        pm_err_set(err, shown, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = pm_path_join(shown, e->d_name);
        if (!sub) {
            pm_err_set(err, shown, "out of memory");
            rc = -1;
            break;
        }
        /* Unpacked directories are always u+rwx (unpack.c), so depth-first
         * removal never meets a directory it cannot empty. */
        rc = rm_at(dirfd(d), e->d_name, sub, st.st_dev, 0, err);
        free(sub);
    }
    closedir(d);
    if (rc == 0 && unlinkat(dir, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        pm_err_set(err, shown, "cannot remove: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

int pm_rmtree_at(int dir, const char *name, const char *shown, pm_err *err)
{
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        pm_err_set(err, shown, "cannot remove: not a plain name");
        return -1;
    }
    return rm_at(dir, name, shown, 0, 1, err);
}

int pm_rmtree(const char *path, pm_err *err)
{
    const char *slash = strrchr(path, '/');
    while (slash && slash[1] == '\0' && slash != path) {   /* "dir/": strip */
        const char *p = slash;
        while (p > path && p[-1] == '/')
            p--;
        char *trimmed = strndup(path, (size_t)(p - path));
        int rc = trimmed ? pm_rmtree(trimmed, err) : (pm_err_set(err, path, "out of memory"), -1);
        free(trimmed);
        return rc;
    }
    if (slash == path && slash[1] == '\0') {
        pm_err_set(err, path, "refusing to remove the root directory");
        return -1;
    }
    char *parent = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!parent) {
        pm_err_set(err, path, "out of memory");
        return -1;
    }
    /* The parent's every component checked, then worked through by its
     * descriptor: nobody else can swap the tree for another path. */
    char *why = NULL;
    int dir = pm_trust_open(parent, PM_TRUST_CONTAINER, NULL, NULL, &why);
    int rc;
    if (dir < 0 && errno == ENOENT) {
        rc = 0;
    } else if (dir < 0) {
        pm_err_set(err, path, "refusing to remove: %s", why ? why : "out of memory");
        rc = -1;
    } else {
        rc = pm_rmtree_at(dir, slash ? slash + 1 : path, path, err);
        close(dir);
    }
    free(why);
    free(parent);
    return rc;
}

static char *lock_path(const char *dir)
{
    return pm_printf_alloc("%s.lock", dir);
}

int pm_run_lock(const char *dir, pm_err *err)
{
    char *path = lock_path(dir);
    if (!path) {
        pm_err_set(err, dir, "out of memory");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pm_err_set(err, path, "cannot create run lock: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        fd = -1;
    }
    free(path);
    return fd;
}

int pm_run_unlock(const char *dir, int fd, pm_err *err)
{
    char *path = lock_path(dir);
    int rc = 0;
    if (!path || (unlink(path) != 0 && errno != ENOENT)) {
        pm_err_set(err, path ? path : dir, "cannot remove%s: %s", path ? "" : " the run lock",
                   path ? strerror(errno) : "out of memory");
        rc = -1;
    }
    free(path);
    if (fd >= 0)
        close(fd);
    return rc;
}

int pm_reclaim_stale(const char *userdir, pm_reclaimed_fn said, void *ctx)
{
    DIR *d = opendir(userdir);
    if (!d)
        return 0;
    int reclaimed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".lock") != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        /* Got the lock: its owner is gone.  We keep holding it while we
         * remove the tree so two reclaimers do not race on it. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            char *lock = pm_path_join(userdir, e->d_name);
            char *dir = lock ? strndup(lock, strlen(lock) - 5) : NULL;
            /* Its leader is gone, but the node's other ranks of that run
             * may still run on the tree: they hold its directory shared
             * (reaper.h), and its watcher removes it after them. */
            char *leaf = strndup(e->d_name, len - 5);
            int tree = leaf ? openat(dirfd(d), leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            int in_use = tree >= 0 && flock(tree, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
            free(leaf);
            /* A tree that cannot be removed now stays for a later run:
             * the reason is not this run's failure. */
            if (dir && !in_use && pm_rmtree(dir, NULL) == 0) {
                if (said)
                    said(ctx, dir);
                (void)pm_run_unlock(dir, -1, NULL);
                reclaimed++;
            }
            if (tree >= 0)
                close(tree);
            free(dir);
            free(lock);
        }
        close(fd);
    }
    closedir(d);
    return reclaimed;
}
