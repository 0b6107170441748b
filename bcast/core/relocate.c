/* relocate.c - applying `.python-mpi-relocate/` manifests after delivery:
 * the prefix a conda environment was installed at becomes the node-local
 * tree's path.  The tree is opened as a trusted directory (trust.h) and
 * every listed file's directory beneath it without following any symbolic
 * link (pm_openat_parent_beneath): a manifest cannot steer a rewrite
 * outside the tree.  A file is rewritten under its own name, never through
 * a temporary, and all of a delivery's rewrites share one budget of bytes
 * (relocate.h says why).  A file may grow by relocation to at most twice
 * its size plus MAX_GROWTH_SLACK. */
#include "relocate.h"

#include "fileio.h"
#include "jobdir.h"
#include "log.h"
#include "manifest.h"
#include "strutil.h"
#include "trust.h"
#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_GROWTH_SLACK ((size_t)64 << 10)

int pm_relocate_text(const char *data, size_t len, const char *from, const char *to,
                     char **out, size_t *out_len, const char **why)
{
    size_t fl = strlen(from), tl = strlen(to), hits = 0;
    *out = NULL;
    *out_len = 0;
    if (fl == 0) {
        *why = "empty prefix";
        return -1;
    }
    for (const char *p = data; (p = memmem(p, len - (size_t)(p - data), from, fl)); p += fl)
        hits++;
    if (hits == 0)
        return 0;
    size_t n = len - hits * fl + hits * tl;
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        *why = "out of memory";
        return -1;
    }
    char *w = buf;
    const char *r = data;
    for (const char *p; (p = memmem(r, len - (size_t)(r - data), from, fl)); r = p + fl) {
        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, to, tl);
        w += tl;
    }
    memcpy(w, r, len - (size_t)(r - data));
    *out = buf;
    *out_len = n;
    return 0;
}

int pm_relocate_binary(const char *data, size_t len, const char *from, const char *to,
                       char **out, size_t *out_len, const char **why)
{
    size_t fl = strlen(from), tl = strlen(to);
    *out = NULL;
    *out_len = 0;
    if (fl == 0) {
        *why = "empty prefix";
        return -1;
    }
    if (!memmem(data, len, from, fl))
        return 0;
    if (tl > fl) {
        *why = "the new location is longer than the prefix compiled into the file";
        return -1;
    }
    char *buf = malloc(len);
    if (!buf) {
        *why = "out of memory";
        return -1;
    }
    memcpy(buf, data, len);
    /* As conda does: every C string that contains the prefix has each
     * occurrence replaced and is padded back to its length with NULs. */
    for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), from, fl));) {
        char *end = memchr(p, '\0', len - (size_t)(p - buf));
        size_t slen = end ? (size_t)(end - p) : len - (size_t)(p - buf);
        char *rep;
        size_t rlen;
        if (pm_relocate_text(p, slen, from, to, &rep, &rlen, why) != 0) {
            free(buf);
            return -1;
        }
        memcpy(p, rep, rlen);
        memset(p + rlen, 0, slen - rlen);
        free(rep);
        p += slen;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* What one call of pm_relocate_tree may still read and write, in bytes
 * of listed files (relocate.h). */
typedef struct budget {
    uint64_t limit, read, written;
    pm_err *err;   /* where the reason goes */
} budget;

/* unpack.h's limit: max (PYTHON_MPI_MAX_UNPACKED), else the file
 * system's size. */
static uint64_t budget_limit(int treefd, uint64_t max)
{
    struct statvfs sv;
    if (max)
        return max;
    if (fstatvfs(treefd, &sv) != 0 || sv.f_blocks == 0)
        return UINT64_MAX;
    return (uint64_t)sv.f_blocks * sv.f_frsize;
}

static void over_budget(const char *path, const budget *b, const char *verb)
{
    pm_err_set(b->err, path, "cannot relocate: relocation would %s more than %llu bytes in all, the limit "
             "(PYTHON_MPI_MAX_UNPACKED, default the size of the tree's file system)", verb,
             (unsigned long long)b->limit);
}

/* The listed file base in dir, whole, never through a symbolic link nor
 * past what the budget still allows (EFBIG); counted. */
static int read_listed(int dir, const char *base, budget *b, char **data, size_t *len,
                       struct stat *st)
{
    uint64_t left = b->limit - b->read;
    size_t max = left > SIZE_MAX ? SIZE_MAX : (size_t)left;
    if (pm_read_file_at(dir, base, O_NOFOLLOW | O_NONBLOCK, max, data, len, st) != 0)
        return -1;
    b->read += *len;
    return 0;
}

/* Put data under base in dir in place of the file old describes: its name
 * unlinked, then a file of that name created afresh (O_EXCL: the tree is
 * ours, nothing else can be there) with old's mode and times.  No second
 * name exists at any moment, so none can outlive a kill.  0; -1 with
 * errno; -2 if base is no longer the file that was read. */
static int rewrite(int dir, const char *base, const struct stat *old, const char *data, size_t len)
{
    struct stat now;
    if (fstatat(dir, base, &now, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    if (now.st_dev != old->st_dev || now.st_ino != old->st_ino)
        return -2;
    if (unlinkat(dir, base, 0) != 0)
        return -1;
    int fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0)
        return -1;
    const struct timespec times[2] = {old->st_atim, old->st_mtim};
    int rc = pm_write_full(fd, data, len) == 0 && fchmod(fd, old->st_mode & 07777) == 0 &&
             futimens(fd, times) == 0 ? 0 : -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        (void)unlinkat(dir, base, 0);   /* nothing half-written stays */
    errno = saved;
    return rc;
}

static void cannot_read(const char *path, const budget *b)
{
    if (errno == EFBIG)
        over_budget(path, b, "read");
    else
        pm_err_set(b->err, path, "cannot relocate: %s", errno == ELOOP || errno == EXDEV
                 ? "it or a directory above it is a symbolic link"
                 : errno == EINVAL ? "not a regular file" : strerror(errno));
}

/* One listed file rewritten: 1, 0 if it did not hold the prefix, or -1
 * after printing why. */
static int relocate_file(const char *tree, int treefd, budget *b, const char *prefix,
                         const pm_manifest_file *f)
{
    char *path = pm_path_join(tree, f->path);
    char *data = NULL, *out = NULL;
    const char *base = NULL, *why = NULL;
    int dir = -1, rc = -1, r;
    size_t dlen = 0, olen = 0;
    struct stat st;
    if (!path) {
        pm_err_set(b->err, tree, "out of memory");
    } else if ((dir = pm_openat_parent_beneath(treefd, f->path, &base)) < 0 ||
               read_listed(dir, base, b, &data, &dlen, &st) != 0) {
        cannot_read(path, b);
    } else if ((f->binary ? pm_relocate_binary : pm_relocate_text)(data, dlen, prefix, tree, &out,
                                                                    &olen, &why) != 0) {
        pm_err_set(b->err, path, "cannot relocate from %s to %s: %s", prefix, tree, why);
    } else if (!out) {
        rc = 0;
    } else if (olen > 2 * dlen + MAX_GROWTH_SLACK) {
        pm_err_set(b->err, path, "cannot relocate: it would grow from %zu to %zu bytes (the limit is "
                 "twice its size plus 64 KiB)", dlen, olen);
    } else if ((uint64_t)olen > b->limit - b->written) {
        over_budget(path, b, "write");
    } else if ((r = rewrite(dir, base, &st, out, olen)) == -2) {
        pm_err_set(b->err, path, "cannot relocate: it changed while being relocated");
    } else if (r != 0) {
        pm_err_set(b->err, path, "cannot rewrite while relocating: %s", strerror(errno));
    } else {
        b->written += olen;
        rc = 1;
    }
    if (dir >= 0)
        close(dir);
    free(path);
    free(data);
    free(out);
    return rc;
}

/* The whole manifest is parsed before any file is touched (a bad line
 * anywhere leaves the tree as it came), and removed before too: it is
 * never applied twice. */
static long apply_manifest(const char *tree, int treefd, int mandir, const char *manifest,
                           const char *leaf, budget *b)
{
    char *text, *why = NULL;
    size_t len;
    if (pm_read_file_at(mandir, leaf, O_NOFOLLOW | O_NONBLOCK, PM_MANIFEST_MAX, &text, &len, NULL) != 0) {
        pm_err_set(b->err, manifest, "cannot read relocation manifest: %s",
                 errno == EFBIG ? "more than 64 MiB: too big to be one"
                 : errno == EINVAL ? "not a regular file"
                 : errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -1;
    }
    pm_manifest m;
    int parsed = pm_manifest_parse(text, len, &m, &why);
    free(text);
    if (parsed != 0) {
        pm_err_set(b->err, manifest, "%s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    long done = 0;
    if (unlinkat(mandir, leaf, 0) != 0) {
        pm_err_set(b->err, manifest, "cannot remove relocation manifest: %s", strerror(errno));
        done = -1;
    }
    for (size_t i = 0; done >= 0 && i < m.nfiles; i++) {
        int r = relocate_file(tree, treefd, b, m.prefix, &m.files[i]);
        done = r < 0 ? -1 : done + r;
    }
    pm_manifest_free(&m);
    return done;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir but "." and "..", sorted (every node applies them
 * in the same order).  0 with *names (free each and it), or -1 with errno. */
static int list_names(int dir, char ***names, size_t *n)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    char **v = NULL;
    size_t k = 0, cap = 0;
    int rc = d ? 0 : -1;
    if (!d && fd >= 0)
        close(fd);
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (k == cap) {
            char **w = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof *w);
            if (!w) {
                rc = -1;
                break;
            }
            v = w;
        }
        if (!(v[k] = strdup(e->d_name)))
            rc = -1;
        else
            k++;
    }
    if (rc == 0 && errno != 0)
        rc = -1;
    int saved = errno;
    if (d)
        closedir(d);
    if (rc == 0 && k)
        qsort(v, k, sizeof *v, by_name);
    if (rc != 0) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        v = NULL;
        k = 0;
    }
    *names = v;
    *n = k;
    errno = saved;
    return rc;
}

/* Every manifest, in name order, against one budget; then the directory
 * that held them. */
static long relocate_all(const char *tree, int treefd, uint64_t max, pm_err *err)
{
    char *dir = pm_path_join(tree, PM_MANIFEST_DIR);
    if (!dir) {
        pm_err_set(err, tree, "out of memory");
        return -1;
    }
    int mandir = pm_openat_beneath(treefd, PM_MANIFEST_DIR, O_RDONLY | O_DIRECTORY, 0);
    char **names = NULL;
    size_t n = 0;
    if (mandir < 0 || list_names(mandir, &names, &n) != 0) {
        int missing = mandir < 0 && errno == ENOENT;
        if (!missing)
            pm_err_set(err, dir, "cannot open: %s", errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        if (mandir >= 0)
            close(mandir);
        free(dir);
        return missing ? 0 : -1;
    }
    budget b = {budget_limit(treefd, max), 0, 0, err};
    long total = 0;
    for (size_t i = 0; i < n; i++) {
        char *manifest = total >= 0 ? pm_path_join(dir, names[i]) : NULL;
        if (total >= 0 && !manifest)
            pm_err_set(err, dir, "out of memory");
        long k = manifest ? apply_manifest(tree, treefd, mandir, manifest, names[i], &b) : -1;
        total = k < 0 ? -1 : total + k;
        free(manifest);
        free(names[i]);
    }
    free(names);
    close(mandir);
    if (total >= 0 && unlinkat(treefd, PM_MANIFEST_DIR, AT_REMOVEDIR) != 0) {
        pm_err_set(err, dir, "cannot remove: %s", strerror(errno));
        total = -1;
    }
    free(dir);
    return total;
}

long pm_relocate_tree(const char *tree, uint64_t max_bytes, pm_err *err)
{
    char *why = NULL;
    int treefd = pm_trust_open(tree, PM_TRUST_MINE, NULL, NULL, &why);
    if (treefd < 0) {
        pm_err_set(err, tree, "cannot relocate: refusing to use: %s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    long total = relocate_all(tree, treefd, max_bytes, err);
    /* What failed is not tried again by a later delivery (the reason
     * already set is the one kept). */
    if (total < 0)
        (void)pm_relocate_discard(treefd, err);
    close(treefd);
    return total;
}

/* The path fd was opened at, for messages (malloc'd), or NULL. */
static char *fd_path(int fd)
{
    char *link = pm_printf_alloc("/proc/self/fd/%d", fd), *buf = NULL;
    for (size_t cap = 256; link && cap <= ((size_t)1 << 20); cap *= 2) {
        char *b = realloc(buf, cap);
        if (!b)
            break;
        buf = b;
        ssize_t n = readlink(link, buf, cap);
        if (n < 0)
            break;
        if ((size_t)n < cap) {
            buf[n] = '\0';
            free(link);
            return buf;
        }
    }
    free(link);
    free(buf);
    return NULL;
}

int pm_relocate_discard(int treefd, pm_err *err)
{
    struct stat st;
    if (fstatat(treefd, PM_MANIFEST_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        return 0;
    char *tree = fd_path(treefd);
    char *shown = tree ? pm_path_join(tree, PM_MANIFEST_DIR) : NULL;
    int rc = pm_rmtree_at(treefd, PM_MANIFEST_DIR, shown ? shown : PM_MANIFEST_DIR, err) == 0 ? 1 : -1;
    free(shown);
    free(tree);
    return rc;
}

int pm_relocate_discard_tree(const char *tree, pm_err *err)
{
    char *why = NULL;
    int treefd = pm_trust_open(tree, PM_TRUST_MINE, NULL, NULL, &why);
    if (treefd < 0) {
        pm_err_set(err, tree, "cannot drop relocation manifests: refusing to use: %s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    int rc = pm_relocate_discard(treefd, err);
    close(treefd);
    return rc;
}
