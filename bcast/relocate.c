/* relocate.c - applying `.python-mpi-relocate/` manifests after delivery:
 * the prefix a conda environment was installed at becomes the node-local
 * tree's path.  The new content goes to a temporary file in the same
 * directory and is renamed over the old, so a file is never half-rewritten.
 * The tree is opened as a trusted directory (trust.h) and every file
 * beneath it without following any symbolic link (pm_openat_beneath): a
 * manifest cannot steer a rewrite outside the tree.  A file may grow by
 * relocation to at most twice its size plus MAX_GROWTH_SLACK. */
#include "relocate.h"

#include "log.h"
#include "strutil.h"
#include "trust.h"
#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_DIR ".python-mpi-relocate"
#define MANIFEST_MAGIC "python-mpi-relocate 1"
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

/* The file base in directory dir, never through a symbolic link. */
static int read_file(int dir, const char *base, char **data, size_t *len, mode_t *mode)
{
    int fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;   /* shrank under us */
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    int saved = errno;
    close(fd);
    if (!buf) {
        errno = saved ? saved : ENOMEM;
        return -1;
    }
    *data = buf;
    *len = got;
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
    int rc = fd < 0 ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
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

/* Relative, no "..", no empty or absolute path: stays in the tree. */
static int safe_relative(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        if (n >= strlen(PM_RESERVED_PREFIX) && strncmp(c, PM_RESERVED_PREFIX, strlen(PM_RESERVED_PREFIX)) == 0)
            return 0;   /* python-mpi's own files (stamps, manifests) */
        c += n;
        if (*c == '/')
            c++;
    }
    return 1;
}

static long apply_manifest(const char *tree, int treefd, int mandir, const char *manifest,
                           const char *leaf)
{
    char *text;
    size_t len;
    mode_t mode;
    if (read_file(mandir, leaf, &text, &len, &mode) != 0) {
        pm_error(manifest, "cannot read relocation manifest: %s", strerror(errno));
        return -1;
    }
    long done = 0;
    char *prefix = NULL;
    int lineno = 0;
    char *save = NULL;
    /* NUL-terminate: the manifest is text, one entry per line. */
    char *z = realloc(text, len + 1);
    if (!z) {
        free(text);
        pm_error(manifest, "out of memory");
        return -1;
    }
    text = z;
    text[len] = '\0';
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, MANIFEST_MAGIC) != 0) {
                pm_error(manifest, "line 1: not a python-mpi relocation manifest (version 1)");
                done = -1;
                break;
            }
            continue;
        }
        if (lineno == 2) {
            if (strncmp(line, "prefix /", 8) != 0 || strlen(line) < 9) {
                pm_error(manifest, "line 2: expected 'prefix /ABSOLUTE/PATH'");
                done = -1;
                break;
            }
            prefix = line + 7;
            continue;
        }
        int binary = strncmp(line, "binary ", 7) == 0;
        if (!binary && strncmp(line, "text ", 5) != 0) {
            pm_error(manifest, "line %d: expected 'text PATH' or 'binary PATH'", lineno);
            done = -1;
            break;
        }
        const char *rel = line + (binary ? 7 : 5);
        if (!safe_relative(rel)) {
            pm_error(manifest, "line %d: '%s' is not a path inside the tree", lineno, rel);
            done = -1;
            break;
        }
        char *path = pm_path_join(tree, rel);
        char *data = NULL, *out = NULL;
        const char *base = NULL;
        int dir = -1;
        size_t dlen = 0, olen = 0;
        mode_t fmode;
        const char *why = NULL;
        int rc = -1;
        if (!path) {
            pm_error(manifest, "out of memory");
        } else if ((dir = pm_openat_parent_beneath(treefd, rel, &base)) < 0 ||
                   read_file(dir, base, &data, &dlen, &fmode) != 0) {
            pm_error(path, "cannot relocate: %s", errno == ELOOP || errno == EXDEV
                     ? "it or a directory above it is a symbolic link" : strerror(errno));
        } else if ((binary ? pm_relocate_binary : pm_relocate_text)(data, dlen, prefix, tree, &out,
                                                                     &olen, &why) != 0) {
            pm_error(path, "cannot relocate from %s to %s: %s", prefix, tree, why);
        } else if (out && olen > 2 * dlen + MAX_GROWTH_SLACK) {
            pm_error(path, "cannot relocate: it would grow from %zu to %zu bytes (the limit is "
                     "twice its size plus 64 KiB)", dlen, olen);
        } else if (out && replace_file(dir, base, out, olen, fmode) != 0) {
            pm_error(path, "cannot rewrite while relocating: %s", strerror(errno));
        } else {
            done += out != NULL;
            rc = 0;
        }
        if (dir >= 0)
            close(dir);
        free(path);
        free(data);
        free(out);
        if (rc != 0) {
            done = -1;
            break;
        }
    }
    if (done >= 0 && lineno < 2) {
        pm_error(manifest, "truncated relocation manifest");
        done = -1;
    }
    free(text);
    if (done >= 0 && unlinkat(mandir, leaf, 0) != 0) {
        pm_error(manifest, "cannot remove applied manifest: %s", strerror(errno));
        done = -1;
    }
    return done;
}

long pm_relocate_tree(const char *tree)
{
    char *dir = pm_path_join(tree, MANIFEST_DIR);
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
    int mandir = pm_openat_beneath(treefd, MANIFEST_DIR, O_RDONLY | O_DIRECTORY, 0);
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
    if (total >= 0 && unlinkat(treefd, MANIFEST_DIR, AT_REMOVEDIR) != 0) {
        pm_error(dir, "cannot remove: %s", strerror(errno));
        total = -1;
    }
    close(treefd);
    free(dir);
    return total;
}
