/* relocate.c - applying `.python-mpi-relocate/` manifests after delivery:
 * the prefix a conda environment was installed at becomes the node-local
 * tree's path.  The new content goes to a temporary file in the same
 * directory and is renamed over the old, so a file is never half-rewritten.
 * The tree is opened as a trusted directory (trust.h) and every file
 * beneath it without following any symbolic link (pm_openat_beneath): a
 * manifest cannot steer a rewrite outside the tree.  A file may grow by
 * relocation to at most twice its size plus MAX_GROWTH_SLACK. */
#include "relocate.h"

#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* The regular file base in directory dir, never through a symbolic link;
 * its mode. */
static int read_file(int dir, const char *base, size_t max, char **data, size_t *len, mode_t *mode)
{
    struct stat st;
    if (pm_read_file_at(dir, base, O_NOFOLLOW, max, data, len, &st) != 0)
        return -1;
    *mode = st.st_mode & 07777;
    return 0;
}

/* Replace base in dir with data, atomically, keeping its mode. */
static int replace_file(int dir, const char *base, const char *data, size_t len, mode_t mode)
{
    char *tmp = pm_printf_alloc("%s.relocate-%ld", base, (long)getpid());
    if (!tmp)
        return -1;
    int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode | S_IWUSR);
    int rc = fd < 0 || pm_write_full(fd, data, len) != 0 ? -1 : 0;
    if (rc == 0 && fchmod(fd, mode) != 0)
        rc = -1;
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0 && renameat(dir, tmp, dir, base) != 0)
        rc = -1;
    if (rc != 0) {
        int saved = errno;
        if (fd >= 0)
            unlinkat(dir, tmp, 0);
        errno = saved;
    }
    free(tmp);
    return rc;
}

/* One listed file rewritten: 1, 0 if it did not hold the prefix, or -1
 * after printing why. */
static int relocate_file(const char *tree, int treefd, const char *manifest, const char *prefix,
                         const pm_manifest_file *f)
{
    char *path = pm_path_join(tree, f->path);
    char *data = NULL, *out = NULL;
    const char *base = NULL;
    int dir = -1;
    size_t dlen = 0, olen = 0;
    mode_t fmode;
    const char *why = NULL;
    int rc = -1;
    if (!path) {
        pm_error(manifest, "out of memory");
    } else if ((dir = pm_openat_parent_beneath(treefd, f->path, &base)) < 0 ||
               read_file(dir, base, SIZE_MAX, &data, &dlen, &fmode) != 0) {
        pm_error(path, "cannot relocate: %s", errno == ELOOP || errno == EXDEV
                 ? "it or a directory above it is a symbolic link" : strerror(errno));
    } else if ((f->binary ? pm_relocate_binary : pm_relocate_text)(data, dlen, prefix, tree, &out,
                                                                    &olen, &why) != 0) {
        pm_error(path, "cannot relocate from %s to %s: %s", prefix, tree, why);
    } else if (out && olen > 2 * dlen + MAX_GROWTH_SLACK) {
        pm_error(path, "cannot relocate: it would grow from %zu to %zu bytes (the limit is "
                 "twice its size plus 64 KiB)", dlen, olen);
    } else if (out && replace_file(dir, base, out, olen, fmode) != 0) {
        pm_error(path, "cannot rewrite while relocating: %s", strerror(errno));
    } else {
        rc = out != NULL;
    }
    if (dir >= 0)
        close(dir);
    free(path);
    free(data);
    free(out);
    return rc;
}

/* The whole manifest is parsed before any file is touched: a bad line
 * anywhere leaves the tree as it came. */
static long apply_manifest(const char *tree, int treefd, int mandir, const char *manifest,
                           const char *leaf)
{
    char *text, *why = NULL;
    size_t len;
    mode_t mode;
    if (read_file(mandir, leaf, PM_MANIFEST_MAX, &text, &len, &mode) != 0) {
        pm_error(manifest, "cannot read relocation manifest: %s",
                 errno == EFBIG ? "more than 64 MiB: too big to be one" : strerror(errno));
        return -1;
    }
    pm_manifest m;
    int parsed = pm_manifest_parse(text, len, &m, &why);
    free(text);
    if (parsed != 0) {
        pm_error(manifest, "%s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    long done = 0;
    for (size_t i = 0; done >= 0 && i < m.nfiles; i++) {
        int r = relocate_file(tree, treefd, manifest, m.prefix, &m.files[i]);
        done = r < 0 ? -1 : done + r;
    }
    pm_manifest_free(&m);
    if (done >= 0 && unlinkat(mandir, leaf, 0) != 0) {
        pm_error(manifest, "cannot remove applied manifest: %s", strerror(errno));
        done = -1;
    }
    return done;
}

long pm_relocate_tree(const char *tree)
{
    char *dir = pm_path_join(tree, PM_MANIFEST_DIR);
    if (!dir) {
        pm_error(tree, "out of memory");
        return -1;
    }
    char *why = NULL;
    int treefd = pm_trust_open(tree, PM_TRUST_MINE, NULL, NULL, &why);
    if (treefd < 0) {
        pm_error(tree, "cannot relocate: refusing to use: %s", why ? why : "out of memory");
        free(why);
        free(dir);
        return -1;
    }
    int mandir = pm_openat_beneath(treefd, PM_MANIFEST_DIR, O_RDONLY | O_DIRECTORY, 0);
    int dup_fd = mandir >= 0 ? dup(mandir) : -1;
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int missing = mandir < 0 && errno == ENOENT;
        if (!missing)
            pm_error(dir, "cannot open: %s", errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        if (dup_fd >= 0)
            close(dup_fd);
        if (mandir >= 0)
            close(mandir);
        close(treefd);
        free(dir);
        return missing ? 0 : -1;
    }
    long total = 0;
    for (struct dirent *e; total >= 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char *manifest = pm_path_join(dir, e->d_name);
        long n = manifest ? apply_manifest(tree, treefd, mandir, manifest, e->d_name) : -1;
        total = n < 0 ? -1 : total + n;
        free(manifest);
    }
    closedir(d);
    close(mandir);
    if (total >= 0 && unlinkat(treefd, PM_MANIFEST_DIR, AT_REMOVEDIR) != 0) {
        pm_error(dir, "cannot remove: %s", strerror(errno));
        total = -1;
    }
    close(treefd);
    free(dir);
    return total;
}
