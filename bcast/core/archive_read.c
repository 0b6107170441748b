/* archive_read.c - safe opening and reading of bundles (see archive_read.h). */
#include "archive_read.h"
#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*filter_fn)(struct archive *);

/* Whether libarchive reads this filter itself: asked on a scratch reader,
 * because ARCHIVE_WARN means the external program was registered instead
 * and a registration cannot be taken back. */
static int built_in(filter_fn add)
{
    struct archive *probe = archive_read_new();
    if (!probe)
        return 0;
    int ok = add(probe) == ARCHIVE_OK;
    archive_read_free(probe);
    return ok;
}

int pm_archive_filters(struct archive *a)
{
    static const filter_fn filters[] = {
        archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz, archive_read_support_filter_zstd,
        archive_read_support_filter_lz4,
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (built_in(filters[i]) && filters[i](a) != ARCHIVE_OK)
            return ARCHIVE_FATAL;
    return ARCHIVE_OK;
}

struct archive *pm_archive_reader(int compressed)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        (compressed && pm_archive_filters(a) != ARCHIVE_OK)) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static char *dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *base = path;
        return strdup(".");
    }
    *base = slash[1] ? slash + 1 : ".";
    return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

int pm_input_open(const char *path, const char *what, struct stat *st, char **why)
{
    *why = NULL;
    char *trust_why = NULL;
    char *real = pm_trust_realpath(path, &trust_why);
    if (!real && (errno == EPERM || errno == ENOMEM)) {
        int err = errno;
        *why = trust_why ? pm_printf_alloc("refusing to read the %s: %s", what, trust_why) : NULL;
        free(trust_why);
        errno = err;
        return -1;
    }
    free(trust_why);   /* missing, unreadable ...: opening it says so */
    const char *use = real ? real : path, *base;
    int dirfd = -1, fd = -1, err = 0;
    char *dir = dir_of(use, &base);
    struct stat dst, fst;
    if (!dir) {
        err = ENOMEM;
        goto done;
    }
    if (real && real[0] == '/' && real[1]) {
        /* The resolved path has no links: one now is a swap (a directory
         * of the path renamed and replaced since), so none is followed. */
        int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dirfd = root < 0 ? -1 : pm_openat_parent_beneath(root, real + 1, &base);
        if (root >= 0) {
            int saved = errno;
            close(root);
            errno = saved;
        }
    } else {
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dirfd < 0 || fstat(dirfd, &dst) != 0) {
        err = errno;
        *why = pm_printf_alloc("cannot open %s: %s", what, strerror(err));
        goto done;
    }
    /* Non-blocking: opening a FIFO would wait for a writer, a device may
     * be anything; a resolved name that is a link now was swapped. */
    fd = openat(dirfd, base, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (real ? O_NOFOLLOW : 0));
    if (fd < 0 || fstat(fd, &fst) != 0) {
        err = errno;
        *why = pm_printf_alloc("cannot open %s: %s", what, strerror(err));
        goto done;
    }
    if (!S_ISREG(fst.st_mode)) {
        err = EINVAL;
        *why = strdup("not a regular file");
        goto done;
    }
    /* protected_regular's rule, for any directory others can write. */
    if (fst.st_uid != geteuid() && fst.st_uid != 0 && (dst.st_mode & S_IWOTH)) {
        err = EPERM;
        *why = pm_printf_alloc("refusing to read the %s: it is owned by uid %ld and its directory %s "
                               "is writable by everybody (move it to a directory that is yours)",
                               what, (long)fst.st_uid, dir);
        goto done;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        err = errno;
        *why = pm_printf_alloc("cannot open %s: %s", what, strerror(err));
        goto done;
    }
    if (st)
        *st = fst;
done:
    if (err && fd >= 0) {
        close(fd);
        fd = -1;
    }
    if (dirfd >= 0)
        close(dirfd);
    free(dir);
    free(real);
    errno = err;
    return fd;
}

int pm_input_open_err(const char *path, const char *what, struct stat *st, pm_err *err)
{
    char *why = NULL;
    int fd = pm_input_open(path, what, st, &why);
    if (fd < 0) {
        int saved = errno;
        pm_err_set(err, path, "%s", why ? why : "out of memory");
        free(why);
        errno = saved;
    }
    return fd;
}
