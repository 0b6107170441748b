/* verify.c - checking a bundle before a job depends on it (see verify.h).
 * Each problem is one line on stderr,
 *     pkgroot: verify: BUNDLE: ENTRY: reason
 * and a short summary goes to stdout.  The safety rules are the
 * unpacker's own (pm_entry_check, and its refusal to write through a
 * symbolic link), plus one name, one entry (across the parts of a .ptar,
 * whose unpackers run at once); the Python checks compare the bundle's
 * standard library version, extension modules' ABI tags and bytecode's
 * tags and magic number with the target Python (pytarget.h). */
#include "verify.h"
#include "archive_read.h"
#include "log.h"
#include "makers.h"
#include "manifest.h"
#include "nameset.h"
#include "pyembed.h"
#include "pytarget.h"
#include "strutil.h"
#include "treewrite.h"
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

typedef struct verdir {
    char *dir;      /* "lib/python3.10" */
    int has_os;
} verdir;

typedef struct manifest_copy {
    char *name, *text;
    size_t len;
} manifest_copy;

typedef struct verifier {
    const char *bundle;
    const pk_pytarget *py;
    unsigned long long entries, files, dirs, links, bytes, largest;
    char *largest_name;
    unsigned long long problems;
    pk_nameset names;          /* every entry: its type ('-', 'd', 'l', 'h') */
    pk_nameset twice;          /* names reported as appearing twice */
    pk_nameset symlinks;       /* the 'l' names: checked under each name's prefixes */
    size_t name_bytes;         /* kept in names (bounded: NAMES_MAX) */
    verdir *vdirs;             /* lib/pythonX.Y of other versions */
    size_t nvdirs;
    manifest_copy *mans;
    size_t nmans;
    int oom, too_big;
} verifier;

/* The names kept to compare later entries with: a bundle of more names
 * than this (real bundles hold a few MB) is refused, not held. */
#define NAMES_MAX ((size_t)1 << 30)

static void problem(verifier *v, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(verifier *v, const char *entry, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = NULL;
    if (vasprintf(&why, fmt, ap) < 0)
        why = NULL;
    va_end(ap);
    char *line = entry ? pm_printf_alloc("pkgroot: verify: %s: %s: %s\n", v->bundle, entry, why ? why : "?")
                       : pm_printf_alloc("pkgroot: verify: %s: %s\n", v->bundle, why ? why : "?");
    /* One write per line: problems never interleave mid-line. */
    if (line)
        fputs(line, stderr);
    else
        fprintf(stderr, "pkgroot: verify: %s: out of memory\n", v->bundle);
    free(line);
    free(why);
    v->problems++;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Python's version for a final magic number, to say more than a number. */
static const char *magic_version(unsigned m)
{
    static const struct { unsigned lo, hi; const char *v; } table[] = {
        {3360, 3379, "3.6"}, {3390, 3399, "3.7"}, {3400, 3419, "3.8"}, {3420, 3429, "3.9"},
        {3430, 3449, "3.10"}, {3450, 3499, "3.11"}, {3500, 3549, "3.12"}, {3550, 3599, "3.13"},
        {3600, 3649, "3.14"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (m >= table[i].lo && m <= table[i].hi)
            return table[i].v;
    return NULL;
}

/* Is comp[0..len) "pythonX.Y" (digits, one dot)? */
static int python_dir(const char *comp, size_t len)
{
    if (len < 9 || strncmp(comp, "python", 6) != 0)
        return 0;
    size_t i = 6, dots = 0, digits = 0;
    for (; i < len; i++) {
        if (comp[i] == '.')
            dots++;
        else if (comp[i] >= '0' && comp[i] <= '9')
            digits++;
        else
            return 0;
    }
    return dots == 1 && digits >= 2 && comp[6] != '.' && comp[len - 1] != '.';
}

static void note_version_dir(verifier *v, const char *name)
{
    /* lib/pythonX.Y[/rest] */
    if (strncmp(name, "lib/", 4) != 0)
        return;
    const char *comp = name + 4;
    size_t len = strcspn(comp, "/");
    if (!python_dir(comp, len))
        return;
    if (len - 6 == strlen(v->py->version) && strncmp(comp + 6, v->py->version, len - 6) == 0)
        return;
    size_t dlen = 4 + len;
    int has_os = strcmp(comp + len, "/os.py") == 0 || strcmp(comp + len, "/os.pyc") == 0;
    for (size_t i = 0; i < v->nvdirs; i++)
        if (strlen(v->vdirs[i].dir) == dlen && strncmp(v->vdirs[i].dir, name, dlen) == 0) {
            v->vdirs[i].has_os |= has_os;
            return;
        }
    verdir *d = realloc(v->vdirs, (v->nvdirs + 1) * sizeof *d);
    if (!d || !(d[v->nvdirs].dir = strndup(name, dlen))) {
        if (d)
            v->vdirs = d;
        v->oom = 1;
        return;
    }
    d[v->nvdirs].has_os = has_os;
    v->vdirs = d;
    v->nvdirs++;
}

/* Extension modules: NAME.TAG.so with a tag other than the target's is
 * never imported (abi3 and untagged ones are). */
static void check_extension(verifier *v, const char *name)
{
    const char *base = base_name(name);
    if (!pm_ends_with(base, ".so"))
        return;
    size_t stem = strlen(base) - 3;
    const char *dot = NULL;
    for (size_t i = 0; i < stem; i++)
        if (base[i] == '.')
            dot = base + i;
    if (!dot)
        return;
    const char *tag = dot + 1;
    size_t tlen = (size_t)(base + stem - tag);
    if (!(tlen > 8 && strncmp(tag, "cpython-", 8) == 0) && !(tlen > 4 && strncmp(tag, "pypy", 4) == 0))
        return;
    if (tlen == strlen(v->py->soabi) && strncmp(tag, v->py->soabi, tlen) == 0)
        return;
    problem(v, name, "extension module for %.*s, but the target Python (%s) is %s: it would not be imported",
            (int)tlen, tag, v->py->what, v->py->soabi);
}

/* Bytecode: a __pycache__ file tagged for another interpreter is never
 * read; a magic number other than the target's is recompiled from source,
 * or fails to import if there is none.  Returns 1 if the magic number
 * still needs checking. */
static int check_pyc_name(verifier *v, const char *name)
{
    const char *base = base_name(name);
    if (!pm_ends_with(base, ".pyc"))
        return 0;
    size_t dlen = (size_t)(base - name);
    int cached = dlen >= 12 && strncmp(base - 12, "__pycache__/", 12) == 0;
    if (cached) {
        /* mod.TAG.pyc or mod.TAG.opt-N.pyc */
        size_t end = strlen(base) - 4;
        const char *last = NULL, *prev = NULL;
        for (size_t i = 0; i < end; i++)
            if (base[i] == '.') {
                prev = last;
                last = base + i;
            }
        if (last && strncmp(last + 1, "opt-", 4) == 0) {
            end = (size_t)(last - base);
            last = prev;
        }
        if (last) {
            const char *tag = last + 1;
            size_t tlen = (size_t)(base + end - tag);
            if (!(tlen == strlen(v->py->cache_tag) && strncmp(tag, v->py->cache_tag, tlen) == 0)) {
                problem(v, name, "bytecode for %.*s, but the target Python (%s) is %s: never used",
                        (int)tlen, tag, v->py->what, v->py->cache_tag);
                return 0;
            }
        }
    }
    return 1;
}

static void check_magic(verifier *v, const char *name, struct archive *a)
{
    unsigned char head[4];
    size_t got = 0;
    while (got < 4) {
        la_ssize_t r = archive_read_data(a, head + got, 4 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < 4) {
        problem(v, name, "bytecode file shorter than its header");
        return;
    }
    if (memcmp(head, v->py->magic, 4) == 0)
        return;
    unsigned have = head[0] | (unsigned)head[1] << 8, want = v->py->magic[0] | (unsigned)v->py->magic[1] << 8;
    const char *hv = head[2] == '\r' && head[3] == '\n' ? magic_version(have) : NULL;
    problem(v, name, "bytecode magic number %u%s%s%s, but the target Python (%s) reads %u: %s", have,
            hv ? " (Python " : "", hv ? hv : "", hv ? ")" : "", v->py->what, want,
            "recompiled on every start, or an ImportError without its source");
}

static void keep_manifest(verifier *v, const char *name, struct archive_entry *e, struct archive *a)
{
    la_int64_t size = archive_entry_size(e);
    if (size > (la_int64_t)PM_MANIFEST_MAX) {
        problem(v, name, "relocation manifest of %lld bytes: too big to be one", (long long)size);
        return;
    }
    char *text = malloc((size_t)(size > 0 ? size : 0) + 1);
    manifest_copy *m = realloc(v->mans, (v->nmans + 1) * sizeof *m);
    if (m)
        v->mans = m;
    char *copy = strdup(name);
    if (!text || !m || !copy) {
        free(text);
        free(copy);
        v->oom = 1;
        return;
    }
    size_t got = 0;
    while (got < (size_t)size) {
        la_ssize_t r = archive_read_data(a, text + got, (size_t)size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    text[got] = '\0';
    v->mans[v->nmans].name = copy;
    v->mans[v->nmans].text = text;
    v->mans[v->nmans].len = got;
    v->nmans++;
}

static const char *type_name(char t)
{
    return t == 'd' ? "a directory" : t == 'l' ? "a symbolic link" : t == 'h' ? "a hard link" : "a file";
}

/* One entry of the bundle (or of one of its parts). */
static void check_entry(verifier *v, struct archive_entry *e, struct archive *a)
{
    const char *raw = archive_entry_pathname(e);
    char *why = NULL;
    v->entries++;
    if (pm_entry_check(e, &why) != 0) {
        problem(v, raw && *raw ? raw : "(no name)", "%s (the unpacker refuses it)",
                why ? why : "refused");
        free(why);
        return;
    }
    /* Names compared as the unpacker writes them: "./a//b/" is "a/b". */
    char *name = pm_path_normal(raw), *target = NULL;
    if (!name) {
        v->oom = 1;
        return;
    }
    mode_t type = archive_entry_filetype(e);
    int hard = archive_entry_hardlink(e) != NULL;
    char t = hard ? 'h' : type == AE_IFDIR ? 'd' : type == AE_IFLNK ? 'l' : '-';
    size_t nlen = strlen(name);
    if (nlen == 0)   /* "./": the destination itself, skipped by the unpacker */
        goto out;
    /* The unpacker refuses to write below a symbolic link that an earlier
     * entry made. */
    size_t plen;
    if (pk_nameset_find_prefix(&v->symlinks, name, &plen)) {
        problem(v, raw, "would be written through the symbolic link '%.*s' (the unpacker refuses it)",
                (int)plen, name);
        goto out;
    }
    /* The unpacker links only to a regular file already in the tree,
     * reached without a symbolic link: "a/b/c/s -> ../../.." is contained,
     * a hard link "h" to it is not. */
    if (hard) {
        if (!(target = pm_path_normal(archive_entry_hardlink(e)))) {
            v->oom = 1;
            goto out;
        }
        size_t tlen = strlen(target);
        if (pk_nameset_find_prefix(&v->symlinks, target, &plen)) {
            problem(v, raw, "hard link to '%s', which lies under the symbolic link '%.*s' "
                    "(the unpacker refuses it)", archive_entry_hardlink(e), (int)plen, target);
            goto out;
        }
        char tt = pk_nameset_get(&v->names, target, tlen);
        if (tt != '-' && tt != 'h') {
            problem(v, raw, "hard link to '%s', which %s (the unpacker refuses it)",
                    archive_entry_hardlink(e),
                    tt == 'l' ? "is a symbolic link" : tt == 'd' ? "is a directory"
                    : "is not a file earlier in the bundle");
            goto out;
        }
    }
    /* One name, one entry (a directory may repeat: it changes nothing).
     * Twice, what stays depends on the order, and the unpackers of a parts
     * bundle write both at once: a race a hostile bundle can win (issue 21,
     * a file swapped for a link while hard links to it are made). */
    char before = pk_nameset_get(&v->names, name, nlen);
    if (before && !(before == 'd' && t == 'd')) {
        if (!pk_nameset_get(&v->twice, name, nlen)) {
            problem(v, raw, "the name appears twice in the bundle (%s, then %s); the unpackers of "
                    "a parts bundle may write both at once", type_name(before), type_name(t));
            if (pk_nameset_put(&v->twice, name, nlen, 1) != 0)
                v->oom = 1;
        }
        goto out;
    }
    if ((v->name_bytes += nlen + 1) > NAMES_MAX) {
        v->too_big = 1;
        goto out;
    }
    if (pk_nameset_put(&v->names, name, nlen, t) != 0 ||
        (t == 'l' && pk_nameset_put(&v->symlinks, name, nlen, t) != 0))
        v->oom = 1;
    if (t == 'd')
        v->dirs++;
    else if (t == 'l' || t == 'h')
        v->links++;
    else {
        v->files++;
        unsigned long long size = archive_entry_size(e) > 0 ? (unsigned long long)archive_entry_size(e) : 0;
        v->bytes += size;
        if (size > v->largest || !v->largest_name) {
            free(v->largest_name);
            v->largest_name = strdup(name);
            v->largest = size;
        }
    }
    note_version_dir(v, name);
    if (t != '-')
        goto out;
    check_extension(v, name);
    if (check_pyc_name(v, name))
        check_magic(v, name, a);
    if (strncmp(name, PM_MANIFEST_DIR "/", sizeof PM_MANIFEST_DIR) == 0)
        keep_manifest(v, name, e, a);
out:
    free(name);
    free(target);
}

/* The manifest's form, read as python-mpi's relocation reads it
 * (pm_manifest_parse), and that it lists files the bundle holds. */
static void check_manifests(verifier *v, int summarise)
{
    for (size_t i = 0; i < v->nmans; i++) {
        const char *name = v->mans[i].name;
        pm_manifest m;
        char *why = NULL;
        if (pm_manifest_parse(v->mans[i].text, v->mans[i].len, &m, &why) != 0) {
            if (why)
                problem(v, name, "%s", why);
            else
                v->oom = 1;
            free(why);
            continue;
        }
        unsigned long long ntext = 0, nbinary = 0, bad = 0;
        for (size_t k = 0; k < m.nfiles; k++) {
            const char *path = m.files[k].path;
            if (pk_nameset_get(&v->names, path, strlen(path)) != '-') {
                problem(v, name, "lists '%s', which is not a regular file in the bundle", path);
                bad++;
            } else if (m.files[k].binary)
                nbinary++;
            else
                ntext++;
        }
        if (!bad && summarise &&
            printf("%s: relocation (%s): %llu text and %llu binary files from %s%s\n", v->bundle,
                   base_name(name), ntext, nbinary, m.prefix,
                   nbinary ? " (binary ones need a node-local tree path no longer than that)" : "") < 0)
            v->oom = 1;
        pm_manifest_free(&m);
    }
}

/* A part's bytes: the outer archive's current entry. */
static la_ssize_t part_read(struct archive *inner, void *client, const void **buf)
{
    (void)inner;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(client, buf, &size, &offset);
    if (r == ARCHIVE_EOF)
        return 0;
    return r == ARCHIVE_OK ? (la_ssize_t)size : -1;
}

/* Every entry of an open archive; the part's name for messages. */
static int walk(verifier *v, struct archive *a, const char *part)
{
    struct archive_entry *e;
    int r;
    unsigned long long n = 0;
    char *last = NULL;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        n++;
        free(last);
        last = archive_entry_pathname(e) ? strdup(archive_entry_pathname(e)) : NULL;
        check_entry(v, e, a);
        if (v->too_big)
            break;
    }
    int rc = 0;
    if (v->too_big) {
        problem(v, part, "the bundle's names add up to more than %zu bytes: refused, not checked further",
                NAMES_MAX);
        rc = -1;
    } else if (r != ARCHIVE_EOF) {
        const char *msg = archive_error_string(a);
        problem(v, last ? last : part ? part : NULL, "%s%s%s (the unpacker stops here)",
                part && last ? part : "", part && last ? ": " : "", msg ? msg : "unreadable");
        rc = -1;
    } else if (n == 0) {
        problem(v, part, "no entries (the unpacker refuses an empty archive)");
        rc = -1;
    }
    free(last);
    return rc;
}

static int verify_parts(verifier *v, int fd)
{
    struct archive *outer = pm_archive_reader(0);
    if (!outer || archive_read_open_fd(outer, fd, 1 << 16) != ARCHIVE_OK) {
        problem(v, NULL, "cannot read: %s", outer ? archive_error_string(outer) : "out of memory");
        if (outer)
            archive_read_free(outer);
        return -1;
    }
    struct archive_entry *e;
    int r, rc = 0;
    unsigned long long index = 0;
    while (rc == 0 && (r = archive_read_next_header(outer, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (index++ == 0) {
            if (!name || strcmp(name, PM_PARTS_MARKER) != 0) {
                problem(v, name, "a parts bundle must start with %s", PM_PARTS_MARKER);
                rc = -1;
            }
            continue;
        }
        char *part = strdup(name ? name : "?");
        struct archive *inner = pm_archive_reader(1);
        if (!part || !inner) {
            problem(v, NULL, "out of memory");
            rc = -1;
        } else if (archive_read_open(inner, outer, NULL, part_read, NULL) != ARCHIVE_OK) {
            problem(v, part, "cannot read this part: %s", archive_error_string(inner));
            rc = -1;
        } else {
            rc = walk(v, inner, part);
        }
        if (inner)
            archive_read_free(inner);
        free(part);
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        problem(v, NULL, "%s", archive_error_string(outer));
        rc = -1;
    }
    archive_read_free(outer);
    return rc;
}

static int verify_single(verifier *v, int fd)
{
    struct archive *a = pm_archive_reader(1);
    if (!a || archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
        problem(v, NULL, "cannot read: %s", a ? archive_error_string(a) : "out of memory");
        if (a)
            archive_read_free(a);
        return -1;
    }
    int rc = walk(v, a, NULL);
    archive_read_free(a);
    return rc;
}

/* The size of the file system bundles unpack into on this node. */
static unsigned long long shm_size(const char **where)
{
    const char *dir = getenv("PYTHON_MPI_CHROOT");
    *where = dir && *dir ? dir : "/dev/shm";
    struct statvfs sv;
    if (statvfs(*where, &sv) != 0)
        return 0;
    return (unsigned long long)sv.f_blocks * sv.f_frsize;
}

static void verifier_free(verifier *v)
{
    pk_nameset_free(&v->names);
    pk_nameset_free(&v->twice);
    pk_nameset_free(&v->symlinks);
    for (size_t i = 0; i < v->nvdirs; i++)
        free(v->vdirs[i].dir);
    free(v->vdirs);
    for (size_t i = 0; i < v->nmans; i++) {
        free(v->mans[i].name);
        free(v->mans[i].text);
    }
    free(v->mans);
    free(v->largest_name);
}

int pk_cmd_verify(char **args, int n, pk_make_opts *o)
{
    (void)n;
    const char *bundle = args[0], *python_mpi = o->python_mpi, *max_arg = o->max_size;
    size_t max = 0;
    if (max_arg && pm_parse_size(max_arg, (size_t)-1, &max) != 0) {
        pm_error(max_arg, "--max-size: a size such as 512M or 4G");
        return PK_USAGE_SAID;
    }
    pk_pytarget py;
    if (pk_pytarget_get(&py, python_mpi) != 0)
        return 1;
    if (pk_py_finish() != 0) {
        pk_pytarget_free(&py);
        return 1;
    }
    verifier v;
    memset(&v, 0, sizeof v);
    v.bundle = bundle;
    v.py = &py;
    int rc = 1, fd = -1;
    unsigned char head[512];
    /* Opened once, as python-mpi opens it: never blocks on a FIFO, only a
     * regular file nobody else could have put there (archive_read.h). */
    char *why = NULL;
    fd = pm_input_open(bundle, "bundle", NULL, &why);
    if (fd < 0) {
        problem(&v, NULL, "%s", why ? why : "out of memory");
        free(why);
        goto done;
    }
    ssize_t got = pread(fd, head, sizeof head, 0);
    if (got < 0) {
        problem(&v, NULL, "cannot read: %s", strerror(errno));
        goto done;
    }
    int parts = pm_is_parts_bundle(head, (size_t)got);
    if ((parts ? verify_parts(&v, fd) : verify_single(&v, fd)) != 0 && v.entries == 0)
        goto done;
    for (size_t i = 0; i < v.nvdirs; i++)
        problem(&v, v.vdirs[i].dir, v.vdirs[i].has_os
                ? "the standard library of Python %s, but the target Python (%s) is %s: python-mpi refuses the tree"
                : "a directory for Python %s, but the target Python (%s) is %s: never searched",
                v.vdirs[i].dir + 10, py.what, py.version);
    check_manifests(&v, 1);
    const char *where;
    unsigned long long limit = max ? (unsigned long long)max : shm_size(&where);
    if (limit && v.bytes > limit) {
        if (max)
            problem(&v, NULL, "%llu bytes unpacked, more than --max-size %s", v.bytes, max_arg);
        else
            problem(&v, NULL, "%llu bytes unpacked, more than all of %s here (%llu bytes)", v.bytes, where, limit);
    }
    if (v.oom)
        problem(&v, NULL, "out of memory: not every check ran");
    if (printf("%s: %llu entries (%llu files, %llu directories, %llu links), %llu bytes unpacked%s, "
               "largest %s (%llu bytes)\n"
               "%s: checked against Python %s (%s, bytecode %s) of %s: %s\n",
               bundle, v.entries, v.files, v.dirs, v.links, v.bytes, parts ? " from parts" : "",
               v.largest_name ? v.largest_name : "-", v.largest, bundle, py.version, py.soabi,
               py.cache_tag, py.what, v.problems ? "PROBLEMS (above)" : "ok") < 0 ||
        fflush(stdout) != 0) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        goto done;
    }
    rc = v.problems ? 1 : 0;
done:
    if (fd >= 0)
        close(fd);
    verifier_free(&v);
    pk_pytarget_free(&py);
    return v.problems ? 1 : rc;
}
