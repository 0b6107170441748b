/* jobdir.c - creating, checking and removing node-local directories. */
#include "jobdir.h"
#include "log.h"
#include "strutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

int pm_userdir_ensure(const char *userdir)
{
    if (mkdir(userdir, 0700) != 0 && errno != EEXIST) {
        pm_error(userdir, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(userdir, &st) != 0) {
        pm_error(userdir, "cannot stat: %s", strerror(errno));
        return -1;
    }
    /* Someone else may have planted this name in a world-writable chroot. */
    if (S_ISLNK(st.st_mode)) {
        pm_error(userdir, "refusing to use: it is a symbolic link");
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        pm_error(userdir, "refusing to use: not a directory");
        return -1;
    }
    if (st.st_uid != geteuid()) {
        pm_error(userdir, "refusing to use: owned by uid %lu, not %lu",
                 (unsigned long)st.st_uid, (unsigned long)geteuid());
        return -1;
    }
    if ((st.st_mode & 07777) != 0700 && chmod(userdir, 0700) != 0) {
        pm_error(userdir, "cannot make private (chmod 0700): %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pm_mkdir_private(const char *path)
{
    if (mkdir(path, 0700) != 0) {
        pm_error(path, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT) {
        pm_error(path, "cannot remove: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pm_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        pm_error(path, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0) {
            pm_error(path, "cannot remove: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    /* Unpacked directories are always u+rwx (unpack.c), so depth-first
     * removal never meets a directory it cannot empty. */
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0 ? 0 : -1;
}

static char *lock_path(const char *dir)
{
    return pm_printf_alloc("%s.lock", dir);
}

int pm_run_lock(const char *dir)
{
    char *path = lock_path(dir);
    if (!path) {
        pm_error(dir, "out of memory");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pm_error(path, "cannot create run lock: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        fd = -1;
    }
    free(path);
    return fd;
}

void pm_run_unlock(const char *dir, int fd)
{
    char *path = lock_path(dir);
    if (path && unlink(path) != 0 && errno != ENOENT)
        pm_error(path, "cannot remove: %s", strerror(errno));
    free(path);
    if (fd >= 0)
        close(fd);
}

int pm_reclaim_stale(const char *userdir)
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
            if (dir && pm_rmtree(dir) == 0) {
                pm_info(1, "reclaimed %s, left by a job that died", dir);
                pm_run_unlock(dir, -1);
                reclaimed++;
            }
            free(dir);
            free(lock);
        }
        close(fd);
    }
    closedir(d);
    return reclaimed;
}
