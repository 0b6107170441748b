/* trust.c - checking every component of a path before relying on it, and
 * opening files beneath a directory without following links (trust.h). */
#include "trust.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int pm_trust_force_walk;   /* tests: pretend openat2 is missing */

/* Is one directory, already opened, fit to be relied on?  shown: the path
 * up to it, for the reason. */
static int check_dir(const struct stat *st, int last, unsigned flags, uid_t me, int shared,
                     const char *shown, char **why)
{
    if (!S_ISDIR(st->st_mode)) {
        *why = pm_printf_alloc("%s is not a directory", shown);
        return -1;
    }
    if (last && (flags & PM_TRUST_MINE) && st->st_uid != me) {
        *why = pm_printf_alloc("%s is owned by uid %lu, not %lu", shown,
                               (unsigned long)st->st_uid, (unsigned long)me);
        return -1;
    }
    if ((flags & PM_TRUST_GROUP) && !shared) {
        /* Outside world-writable places only everybody's write counts. */
        int sticky_root = (st->st_mode & S_ISVTX) && st->st_uid == 0 && !last;
        if ((st->st_mode & S_IWOTH) && !sticky_root) {
            *why = pm_printf_alloc("%s is writable by everybody (mode %04o)", shown,
                                   (unsigned)(st->st_mode & 07777));
            return -1;
        }
        return 0;
    }
    if (st->st_uid != 0 && st->st_uid != me) {
        *why = pm_printf_alloc("%s is owned by uid %lu", shown, (unsigned long)st->st_uid);
        return -1;
    }
    /* A sticky root-owned directory (/tmp, /dev/shm) lets others add names
     * but not rename or remove ours; anything else writable by others
     * lets them swap what a name means. */
    int strict = last && !(flags & PM_TRUST_CONTAINER);
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) &&
        (strict || !(st->st_mode & S_ISVTX) || st->st_uid != 0)) {
        *why = pm_printf_alloc("%s is writable by other users (mode %04o)", shown,
                               (unsigned)(st->st_mode & 07777));
        return -1;
    }
    if (last && (flags & PM_TRUST_PRIVATE) && (st->st_mode & (S_IRWXG | S_IRWXO))) {
        *why = pm_printf_alloc("%s is not private (mode %04o, not 0700)", shown,
                               (unsigned)(st->st_mode & 07777));
        return -1;
    }
    return 0;
}

/* Why could comp not be opened as a directory? */
static char *open_failure(int dir, const char *comp, const char *shown, int err)
{
    struct stat st;
    if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return pm_printf_alloc("%s is a symbolic link", shown);
        if (!S_ISDIR(st.st_mode))
            return pm_printf_alloc("%s is not a directory", shown);
    }
    return pm_printf_alloc("cannot open %s: %s", shown, strerror(err));
}

int pm_trust_open(const char *path, unsigned flags, int *created, char **resolved, char **why)
{
    *why = NULL;
    if (created)
        *created = 0;
    if (resolved)
        *resolved = NULL;
    char *real = NULL;
    if (flags & PM_TRUST_RESOLVE) {
        real = realpath(path, NULL);
        if (!real) {
            int err = errno;
            *why = pm_printf_alloc("cannot resolve %s: %s", path, strerror(err));
            errno = err;
            return -1;
        }
        path = real;
    }
    uid_t me = geteuid();
    int err = 0;
    int shared = 0;   /* below a directory everybody may write to */
    int dir = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        err = errno;
        *why = pm_printf_alloc("cannot open %s: %s", path[0] == '/' ? "/" : ".", strerror(err));
        goto fail;
    }
    struct stat st;
    if (path[0] == '/') {
        if (fstat(dir, &st) != 0) {
            err = errno;
            *why = pm_printf_alloc("cannot stat /: %s", strerror(err));
            goto fail;
        }
        int only_root = path[strspn(path, "/")] == '\0';
        if (check_dir(&st, only_root, flags, me, shared, "/", why) != 0) {
            err = EACCES;
            goto fail;
        }
    }
    for (const char *p = path; *p;) {
        p += strspn(p, "/");
        if (!*p)
            break;
        size_t len = strcspn(p, "/");
        const char *rest = p + len;
        int last = rest[strspn(rest, "/")] == '\0';
        if (len == 1 && p[0] == '.') {
            p = rest;
            if (last) {   /* "dir/." : dir itself, already checked as not last */
                if (fstat(dir, &st) != 0 || check_dir(&st, 1, flags, me, shared, path, why) != 0) {
                    err = EACCES;
                    goto fail;
                }
            }
            continue;
        }
        char *shown = strndup(path, (size_t)(rest - path));
        char *comp = strndup(p, len);
        if (!shown || !comp) {
            free(shown);
            free(comp);
            err = ENOMEM;
            goto fail;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            *why = pm_printf_alloc("%s climbs with '..'", shown);
            free(shown);
            free(comp);
            err = EINVAL;
            goto fail;
        }
        int made = 0, mkdir_failed = 0;
        int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT &&
            ((flags & PM_TRUST_CREATE_ALL) || (last && (flags & PM_TRUST_CREATE)))) {
            if (mkdirat(dir, comp, 0700) == 0)
                made = 1;
            else if (errno != EEXIST)
                mkdir_failed = 1;
            if (!mkdir_failed)
                next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            err = errno;
            *why = mkdir_failed ? pm_printf_alloc("cannot create %s: %s", shown, strerror(err))
                                : open_failure(dir, comp, shown, err);
        } else if (fstat(next, &st) != 0) {
            err = errno;
            *why = pm_printf_alloc("cannot stat %s: %s", shown, strerror(err));
        } else if (check_dir(&st, last, flags, me, shared, shown, why) != 0) {
            err = EACCES;
        } else if (st.st_mode & S_IWOTH) {
            shared = 1;
        }
        free(shown);
        free(comp);
        close(dir);
        dir = next;
        if (err) {
            goto fail;
        }
        if (last && created)
            *created = made;
        p = rest;
    }
    if (resolved)
        *resolved = real;
    else
        free(real);
    return dir;
fail:
    if (dir >= 0)
        close(dir);
    free(real);
    errno = err ? err : EACCES;
    return -1;
}

int pm_trust_open_or_say(const char *path, unsigned flags, int *created)
{
    char *why;
    int fd = pm_trust_open(path, flags, created, NULL, &why);
    if (fd < 0)
        pm_error(path, "refusing to use: %s", why ? why : "out of memory");
    free(why);
    return fd;
}

int pm_trust_env_dir(const char *var, unsigned flags, const char **value)
{
    static char *kept[4];   /* resolved paths handed out: live until exit */
    static size_t nkept;
    *value = NULL;
    const char *v = getenv(var);
    if (!v || !*v)
        return 0;
    char *why = NULL, *res = NULL;
    int fd = pm_trust_open(v, flags & ~(unsigned)(PM_TRUST_CREATE | PM_TRUST_CREATE_ALL), NULL, &res, &why);
    if (fd < 0) {
        pm_error(v, "refusing to use %s: %s", var, why ? why : "out of memory");
        free(why);
        return -1;
    }
    close(fd);
    if (res && nkept < sizeof kept / sizeof kept[0]) {
        kept[nkept++] = res;
        *value = res;
    } else {
        free(res);
        *value = v;   /* unresolved, or too many calls: the checked spelling */
        if (flags & PM_TRUST_RESOLVE) {
            pm_error(v, "refusing to use %s: out of memory", var);
            return -1;
        }
    }
    return 0;
}

/* The O_NOFOLLOW walk for kernels without openat2. */
static int walk_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
    int dir = dup(dirfd);
    const char *p = rel;
    while (dir >= 0) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        const char *rest = p + len;
        int last = rest[strspn(rest, "/")] == '\0';
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            close(dir);
            errno = EXDEV;
            return -1;
        }
        char *comp = len ? strndup(p, len) : strdup(".");
        if (!comp) {
            close(dir);
            errno = ENOMEM;
            return -1;
        }
        int next = last ? openat(dir, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode)
                        : openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        free(comp);
        close(dir);
        errno = saved;
        if (last)
            return next;
        dir = next;
        p = rest;
    }
    return -1;
}

int pm_openat_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
    if (!rel || !*rel || rel[0] == '/') {
        errno = EINVAL;
        return -1;
    }
    if (!pm_trust_force_walk) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        long fd;
        do
            fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        while (fd < 0 && errno == EAGAIN);
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
    }
    return walk_beneath(dirfd, rel, flags, mode);
}

int pm_openat_parent_beneath(int dirfd, const char *rel, const char **base)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *base = rel;
        return dup(dirfd);
    }
    *base = slash + 1;
    char *dir = strndup(rel, (size_t)(slash - rel));
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = *dir ? pm_openat_beneath(dirfd, dir, O_RDONLY | O_DIRECTORY, 0) : (errno = EINVAL, -1);
    int saved = errno;
    free(dir);
    errno = saved;
    return fd;
}
