/* trust.c - checking every component of a path before relying on it, and
 * opening files beneath a directory without following links (trust.h). */
#include "trust.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
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

/* Why could comp not be opened as a directory?  A directory of another
 * user that we may not enter (a stolen python-mpi-UID, 0700) is named by
 * its owner, not by the errno. */
static char *open_failure(int dir, const char *comp, const char *shown, int err, uid_t me)
{
    struct stat st;
    if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return pm_printf_alloc("%s is a symbolic link", shown);
        if (!S_ISDIR(st.st_mode))
            return pm_printf_alloc("%s is not a directory", shown);
        if (err == EACCES && st.st_uid != me)
            return pm_printf_alloc("%s is owned by uid %lu, not %lu", shown,
                                   (unsigned long)st.st_uid, (unsigned long)me);
    }
    return pm_printf_alloc("cannot open %s: %s", shown, strerror(err));
}

/* A growable string for the resolver. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static int sb_put(strbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s)
            return -1;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* The link's text, read through its directory: malloc'd, or NULL. */
static char *read_link_at(int dir, const char *comp)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlinkat(dir, comp, buf, cap);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        if (cap > 1 << 20) {
            errno = ENAMETOOLONG;
            return NULL;
        }
    }
}

/* Is gid a group of ours alone?  The user-private-group convention: our
 * primary group, named as we are, with no other member listed.  (Users
 * with it as their primary group cannot be listed without enumerating
 * the password database: the name is the site's promise.) */
static int group_alone(gid_t gid)
{
    struct passwd *pw = getpwuid(geteuid());
    if (!pw || pw->pw_gid != gid || !pw->pw_name)
        return 0;
    char *me = strdup(pw->pw_name);
    struct group *gr = me ? getgrgid(gid) : NULL;
    int alone = gr && gr->gr_name && strcmp(gr->gr_name, me) == 0;
    for (char **m = alone ? gr->gr_mem : NULL; m && *m; m++)
        if (strcmp(*m, me) != 0)
            alone = 0;
    free(me);
    return alone;
}

/* May others write to the directory dst: everybody, or a group that
 * flags do not trust and that is not ours alone? */
static int others_write(const struct stat *dst, unsigned flags)
{
    return (dst->st_mode & S_IWOTH) ||
           ((dst->st_mode & S_IWGRP) && !(flags & PM_TRUST_GROUP) && !group_alone(dst->st_gid));
}

/* The refusal for an entry (shown) of such a directory that is not sticky. */
static char *replaceable(const struct stat *dst, const char *dirname, const char *shown)
{
    return pm_printf_alloc("%s is writable by other users and not sticky (mode %04o): anyone there "
                           "can replace %s", dirname, (unsigned)(dst->st_mode & 07777), shown);
}

/* May the entry comp (lst; shown: its path) of the directory dir
 * (dirname) be used on the way?  Only if nobody else could have placed or
 * replaced it (trust.h): in a directory others may write to (everybody;
 * or a group not trusted by flags and not ours alone), a sticky one lets
 * them add names but not replace ours, so only a link of ours or of the
 * directory's owner is followed (fs.protected_symlinks); a directory that
 * is not sticky lets them replace any name, so none is used. */
static char *shared_refusal(int dir, const struct stat *lst, const char *shown, const char *dirname,
                            unsigned flags)
{
    struct stat dst;
    if (fstat(dir, &dst) != 0)
        return pm_printf_alloc("cannot stat %s: %s", dirname, strerror(errno));
    if (!others_write(&dst, flags))
        return NULL;
    if (!(dst.st_mode & S_ISVTX))
        return replaceable(&dst, dirname, shown);
    if (!S_ISLNK(lst->st_mode) || lst->st_uid == geteuid() || lst->st_uid == dst.st_uid)
        return NULL;
    return pm_printf_alloc("%s is a symbolic link owned by uid %lu in the shared sticky directory %s",
                           shown, (unsigned long)lst->st_uid, dirname);
}

/* Is a directory owned by neither us nor root refused?  (a) writable by
 * others, (b) below a directory everybody can write to.  real is
 * canonical: its string prefixes are its ancestors.  1 with *why (NULL:
 * out of memory), or 0. */
static int foreign_refused(const char *real, const struct stat *st, char **why)
{
    unsigned long uid = (unsigned long)st->st_uid;
    if (others_write(st, 0)) {
        *why = pm_printf_alloc("%s is owned by uid %lu and writable by other users (mode %04o): they can "
                               "put modules in it", real, uid, (unsigned)(st->st_mode & 07777));
        return 1;
    }
    char *up = strdup(real);
    int refused = !up;
    for (char *slash; !refused && (slash = strrchr(up, '/'));) {
        int top = slash == up;
        slash[top] = '\0';   /* the parent; "/" keeps its slash, and is the last */
        struct stat ast;
        if (stat(up, &ast) == 0 && (ast.st_mode & S_IWOTH)) {
            *why = pm_printf_alloc("%s is owned by uid %lu and lies in %s, which everybody can write to "
                                   "(mode %04o): anyone could have made it", real, uid, up,
                                   (unsigned)(ast.st_mode & 07777));
            refused = 1;
        }
        if (top)
            break;
    }
    free(up);
    return refused;
}

int pm_trust_input_check(const char *real, char **why)
{
    *why = NULL;
    struct stat st;
    if (stat(real, &st) != 0) {
        int err = errno;
        *why = pm_printf_alloc("cannot stat %s: %s", real, strerror(err));
        errno = err;
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = pm_printf_alloc("%s is not a directory", real);
        errno = ENOTDIR;
        return -1;
    }
    uid_t me = geteuid();
    int refused = 0;
    /* Root's group-writable directories are a site's (root:staff
     * /usr/local); one everybody writes to is nobody's code. */
    int writable = st.st_uid == 0 ? (st.st_mode & S_IWOTH) != 0 : others_write(&st, 0);
    if ((st.st_uid == me || st.st_uid == 0) && writable) {
        *why = pm_printf_alloc("%s is writable by other users (mode %04o): they can put modules in it",
                               real, (unsigned)(st.st_mode & 07777));
        refused = 1;
    } else if (st.st_uid != me && st.st_uid != 0) {
        refused = foreign_refused(real, &st, why);
    }
    if (!refused)
        return 0;
    errno = EPERM;
    return -1;
}

char *pm_trust_input_dir(const char *path, char **why)
{
    char *real = pm_trust_realpath(path, why);
    if (!real)
        return NULL;
    if (pm_trust_input_check(real, why) != 0) {
        int err = errno;
        free(real);
        errno = err;
        return NULL;
    }
    return real;
}

/* Why one step failed: the errno alone when the step was the whole path
 * (realpath's way), else which name. */
static char *step_failure(const char *path, const char *shown, int err)
{
    if (strcmp(path, shown) == 0)
        return strdup(strerror(err));
    return pm_printf_alloc("cannot resolve %s: %s", shown, strerror(err));
}

char *pm_trust_realpath(const char *path, char **why)
{
    return pm_trust_realpath_flags(path, 0, why);
}

char *pm_trust_realpath_flags(const char *path, unsigned flags, char **why)
{
    *why = NULL;
    strbuf todo = {0}, res = {0};   /* what is left to walk; what is resolved */
    int dir = -1, err = 0, links = 0;
    char *comp = NULL, *link = NULL, *shown = NULL;
    if (!path || !*path) {
        err = ENOENT;
        *why = strdup(strerror(err));
        goto fail;
    }
    if (path[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) {
            err = errno;
            *why = pm_printf_alloc("cannot learn the working directory: %s", strerror(err));
            goto fail;
        }
        int bad = sb_put(&todo, cwd, strlen(cwd)) != 0 || sb_put(&todo, "/", 1) != 0;
        free(cwd);
        if (bad)
            goto nomem;
    }
    if (sb_put(&todo, path, strlen(path)) != 0 || sb_put(&res, "", 0) != 0)
        goto nomem;
    dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        err = errno;
        *why = pm_printf_alloc("cannot open /: %s", strerror(err));
        goto fail;
    }
    size_t pos = 0;
    for (;;) {
        pos += strspn(todo.s + pos, "/");
        if (!todo.s[pos])
            break;
        size_t len = strcspn(todo.s + pos, "/");
        size_t rest = pos + len;
        free(comp);
        if (!(comp = strndup(todo.s + pos, len)))
            goto nomem;
        pos = rest;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            char *slash = strrchr(res.s, '/');
            if (!slash)
                continue;   /* "/.." is "/" */
            int up = openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (up < 0) {
                err = errno;
                *why = pm_printf_alloc("cannot resolve %s/..: %s", res.s, strerror(err));
                goto fail;
            }
            close(dir);
            dir = up;
            res.len = (size_t)(slash - res.s);
            res.s[res.len] = '\0';
            continue;
        }
        free(shown);
        if (!(shown = pm_printf_alloc("%s/%s", res.s, comp)))
            goto nomem;
        struct stat st;
        if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            err = errno;
            *why = step_failure(path, shown, err);
            goto fail;
        }
        if ((*why = shared_refusal(dir, &st, shown, *res.s ? res.s : "/", flags))) {
            err = EPERM;
            goto fail;
        }
        if (S_ISLNK(st.st_mode)) {
            if (++links > PM_TRUST_MAX_LINKS) {
                err = ELOOP;
                *why = pm_printf_alloc("more than %d symbolic links in %s (a loop?)", PM_TRUST_MAX_LINKS, path);
                goto fail;
            }
            free(link);
            if (!(link = read_link_at(dir, comp))) {
                err = errno;
                *why = pm_printf_alloc("cannot read the link %s: %s", shown, strerror(err));
                goto fail;
            }
            if (!*link) {
                err = ENOENT;
                *why = pm_printf_alloc("%s is an empty symbolic link", shown);
                goto fail;
            }
            /* The rest of the walk: the link's text, then what followed it. */
            strbuf next = {0};
            if (sb_put(&next, link, strlen(link)) != 0 ||   /* the rest starts at its '/' */
                sb_put(&next, todo.s + rest, strlen(todo.s + rest)) != 0) {
                free(next.s);
                goto nomem;
            }
            free(todo.s);
            todo = next;
            pos = 0;
            if (link[0] == '/') {
                int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root < 0) {
                    err = errno;
                    *why = pm_printf_alloc("cannot open /: %s", strerror(err));
                    goto fail;
                }
                close(dir);
                dir = root;
                res.len = 0;
                res.s[0] = '\0';
            }
            continue;
        }
        int more = todo.s[pos] != '\0';   /* a name, or a trailing '/', follows */
        if (!S_ISDIR(st.st_mode)) {
            if (more) {
                err = ENOTDIR;
                *why = pm_printf_alloc("%s is not a directory", shown);
                goto fail;
            }
        } else {
            int next = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0) {
                err = errno;   /* swapped for something else since the look */
                *why = step_failure(path, shown, err);
                goto fail;
            }
            close(dir);
            dir = next;
        }
        if (sb_put(&res, "/", 1) != 0 || sb_put(&res, comp, strlen(comp)) != 0)
            goto nomem;
    }
    if (!*res.s && sb_put(&res, "/", 1) != 0)
        goto nomem;
    close(dir);
    free(todo.s);
    free(comp);
    free(link);
    free(shown);
    return res.s;
nomem:
    err = ENOMEM;
    free(*why);
    *why = NULL;   /* the caller says "out of memory" */
fail:
    if (dir >= 0)
        close(dir);
    free(todo.s);
    free(res.s);
    free(comp);
    free(link);
    free(shown);
    errno = err;
    return NULL;
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
        real = pm_trust_realpath_flags(path, flags & PM_TRUST_GROUP, why);
        if (!real) {
            int err = errno;
            if (*why && strcmp(*why, strerror(err)) == 0) {   /* name the path */
                char *plain = *why;
                *why = pm_printf_alloc("cannot resolve %s: %s", path, plain);
                free(plain);
            }
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
                                : open_failure(dir, comp, shown, err, me);
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

int pm_trust_open_err(const char *path, unsigned flags, int *created, pm_err *err)
{
    char *why;
    int fd = pm_trust_open(path, flags, created, NULL, &why);
    if (fd < 0)
        pm_err_set(err, path, "refusing to use: %s", why ? why : "out of memory");
    free(why);
    return fd;
}

int pm_trust_env_dir(const char *var, unsigned flags, const char **value, pm_err *err)
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
        pm_err_set(err, v, "refusing to use %s: %s", var, why ? why : "out of memory");
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
            pm_err_set(err, v, "refusing to use %s: out of memory", var);
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
        /* ENOSYS: a kernel before 5.6; EPERM: a container whose seccomp
         * profile predates openat2 (the walk gives a real EPERM again). */
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
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

/* The umask without changing it, even for a moment (another thread may be
 * creating a file): Linux 4.7+ shows it in /proc/self/status. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[256];
        unsigned m;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &m) == 1) {
                fclose(f);
                return (mode_t)(m & 0777);
            }
        fclose(f);
    }
    mode_t m = umask(077);   /* no /proc: the classic read-and-restore */
    umask(m);
    return m;
}

mode_t pm_umask_mode(mode_t want)
{
    return want & ~current_umask() & 07777;
}

char *pm_trust_realpath_parent(const char *path, int *refused, char **why)
{
    *refused = 0;
    *why = NULL;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dirpart = slash ? (slash == path ? strdup("/") : strndup(path, (size_t)(slash - path)))
                          : strdup(".");
    char *dir = dirpart ? pm_trust_realpath(dirpart, why) : NULL;
    int eperm = !dir && errno == EPERM;
    free(dirpart);
    if (!dir && eperm && *why) {
        *refused = 1;
        return NULL;
    }
    free(*why);
    *why = NULL;
    char *out = dir ? pm_path_join(dir, base) : strdup(path);
    /* The file is an entry of dir: the rule above holds for it too. */
    struct stat dst;
    if (out && dir && stat(dir, &dst) == 0 && others_write(&dst, 0) && !(dst.st_mode & S_ISVTX)) {
        *why = replaceable(&dst, dir, out);
        *refused = *why != NULL;   /* else out of memory */
        free(out);
        out = NULL;
    }
    free(dir);
    return out;
}
