/* writer.c - the bundle writer (see writer.h), on libarchive. */
#include "writer.h"
#include "cleanup.h"
#include "fileio.h"
#include "log.h"
#include "partpool.h"
#include "pyc.h"
#include "scan.h"
#include "strutil.h"
#include "trust.h"
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parts bundles (.ptar): an uncompressed outer tar whose first entry is
 * the marker PM_PARTS_MARKER (which records the number of parts) and whose
 * other entries are independently compressed tars (lz4 unless told
 * otherwise) of about PART_BYTES of files each, so that every rank of a
 * node can unpack some of them in parallel (bcast/core/unpack.c).  Each part's
 * tar is built here and compressed by a pool of threads (partpool.h). */
#define PART_BYTES ((unsigned long long)1 << 20)

struct pk_writer {
    char *final;            /* OUT with its directory resolved (trust.h) */
    struct archive *a;      /* where entries go: the bundle, or the part */
    struct archive *outer;  /* parts bundles: the bundle itself */
    pk_pool *pool;          /* parts bundles: compresses the parts */
    enum pk_part_codec codec; /* parts bundles: how the parts are compressed */
    unsigned char *part;    /* parts bundles: the part's tar so far */
    size_t part_len, part_cap;
    unsigned long long part_bytes;
    unsigned nparts;
    int nparts_final;       /* a parts bundle: its count goes in at the end */
    char *out, *tmp;
    int fd;
    int streamed;           /* fd was handed over (pk_writer_set_stream_fd) */
    int verbose;
    unsigned long long entries;
    char **dirs;            /* directory entries written, to write each once */
    size_t ndirs, dirs_cap;
    dev_t self_dev[2];      /* the temporary file and an existing OUT: never */
    ino_t self_ino[2];      /* bundled, even when OUT lies inside the tree */
    int nself;
    pk_scan forbid;         /* pk_writer_forbid: what no content may hold */
    const char *forbid_what;
    int has_forbid;
    enum pk_pyc_mode pyc;   /* pk_writer_set_pyc */
    unsigned long long pycs, pyc_failed;
};

static enum pk_pyc_mode default_pyc = PK_PYC_KEEP;   /* for writers opened later */
static int default_threads;                          /* 0: the online CPUs */
static int stream_fd = -1;                           /* pk_writer_set_stream_fd */
static enum pk_part_codec default_codec = PK_PART_LZ4;   /* .ptar parts (partpool.h) */

/* A name, then suf: ".tar" alone is no bundle name with a suffix. */
static int has_suffix(const char *s, const char *suf)
{
    return strlen(s) > strlen(suf) && pm_ends_with(s, suf);
}

/* Every bundle suffix and its filter, longest first where one ends
 * another (".tar.zst" before ".tar"): the one list for set_filter and
 * pk_bundle_stem. */
static const struct {
    const char *suffix;
    int (*add_filter)(struct archive *);
} suffixes[] = {
    {".ptar", archive_write_add_filter_none},   /* parts bundle: the parts are compressed */
    {".tar.zst", archive_write_add_filter_zstd}, {".tzst", archive_write_add_filter_zstd},
    {".tar.gz", archive_write_add_filter_gzip},  {".tgz", archive_write_add_filter_gzip},
    {".tar.bz2", archive_write_add_filter_bzip2}, {".tbz2", archive_write_add_filter_bzip2},
    {".tar.xz", archive_write_add_filter_xz},    {".txz", archive_write_add_filter_xz},
    {".tar", archive_write_add_filter_none},
};
#define NSUFFIXES (sizeof suffixes / sizeof suffixes[0])

/* The entry of suffixes OUT ends with, or NSUFFIXES. */
static size_t suffix_of(const char *out)
{
    size_t i = 0;
    while (i < NSUFFIXES && !has_suffix(out, suffixes[i].suffix))
        i++;
    return i;
}

static int set_filter(struct archive *a, const char *out)
{
    size_t i = suffix_of(out);
    return i < NSUFFIXES ? suffixes[i].add_filter(a) : ARCHIVE_FATAL - 1; /* unknown suffix */
}

int pk_writer_check_suffix(const char *out)
{
    struct archive *a = archive_write_new();
    if (!a) {
        pm_error(out, "out of memory");
        return -1;
    }
    int r = set_filter(a, out);
    archive_write_free(a);
    if (r == ARCHIVE_FATAL - 1) {
        pm_error(out, "unknown bundle suffix: use .tar.zst, .ptar (parallel parts), .tar.gz, .tar.bz2, .tar.xz or .tar");
        return -1;
    }
    return 0;
}

char *pk_bundle_stem(const char *out)
{
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    size_t n = strlen(base), i = suffix_of(base);
    return strndup(base, i < NSUFFIXES ? n - strlen(suffixes[i].suffix) : n);
}

char *pk_bundle_path(const char *inner)
{
    if (inner[0] == '/') {
        errno = EINVAL;
        return NULL;
    }
    char *out = malloc(strlen(inner) + 1);
    if (!out) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = 0;
    for (const char *p = inner; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            free(out);
            errno = EINVAL;
            return NULL;
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (n > 0)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    out[n] = '\0';
    return out;
}

/* A child's path: parent "" is the bundle root (pm_path_join would make "/d"). */
static char *child_path(const char *parent, const char *d)
{
    return *parent ? pm_path_join(parent, d) : strdup(d);
}

static la_ssize_t part_write(struct archive *a, void *client, const void *buf, size_t n)
{
    pk_writer *w = client;
    if (w->part_len + n > w->part_cap) {
        size_t cap = w->part_cap ? w->part_cap : (size_t)1 << 20;
        while (cap < w->part_len + n)
            cap *= 2;
        unsigned char *p = realloc(w->part, cap);
        if (!p) {
            archive_set_error(a, ENOMEM, "out of memory for a part");
            return -1;
        }
        w->part = p;
        w->part_cap = cap;
    }
    memcpy(w->part + w->part_len, buf, n);
    w->part_len += n;
    return (la_ssize_t)n;
}

static int part_open(pk_writer *w)
{
    w->part = NULL;
    w->part_len = w->part_cap = 0;
    w->part_bytes = 0;
    w->a = archive_write_new();
    if (!w->a || archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
        archive_write_open(w->a, w, NULL, part_write, NULL) != ARCHIVE_OK) {
        pm_error(w->out, "cannot start a part: %s", w->a ? archive_error_string(w->a) : "out of memory");
        return -1;
    }
    return 0;
}

/* The pool's sink: a compressed part, in order, into the bundle as
 * part-NNNN.tar.zst. */
static int part_append(void *ctx, const void *data, size_t len)
{
    pk_writer *w = ctx;
    char name[32];
    snprintf(name, sizeof name, "part-%04u%s", w->nparts++, pk_part_codec_suffix(w->codec));
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        pm_error(w->out, "out of memory");
        return -1;
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = 0;
    if (archive_write_header(w->outer, e) != ARCHIVE_OK ||
        archive_write_data(w->outer, data, len) != (la_ssize_t)len) {
        pm_error(w->out, "adding %s: %s", name, archive_error_string(w->outer));
        rc = -1;
    }
    archive_entry_free(e);
    return rc;
}

/* The current part's tar is complete: to the pool, which compresses it
 * and appends it in its turn. */
static int part_flush(pk_writer *w)
{
    int rc = archive_write_close(w->a) == ARCHIVE_OK ? 0 : -1;
    if (rc != 0)
        pm_error(w->out, "finishing a part: %s", archive_error_string(w->a));
    archive_write_free(w->a);
    w->a = NULL;
    unsigned char *part = w->part;
    w->part = NULL;
    if (rc != 0) {
        free(part);
        return -1;
    }
    if (w->codec == PK_PART_STORED) {
        rc = part_append(w, part, w->part_len);
        free(part);
        return rc;
    }
    return pk_pool_submit(w->pool, part, w->part_len);
}

/* The marker's text: the count is written at the end (patch_count). */
static const char marker_text[] = PM_PARTS_MARKER_TEXT PM_PARTS_COUNT_TAG "0000000000\n";

static int add_marker(pk_writer *w)
{
    const char *text = marker_text;
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -1;
    archive_entry_set_pathname(e, PM_PARTS_MARKER);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)(sizeof marker_text - 1));
    int rc = archive_write_header(w->outer, e) == ARCHIVE_OK &&
             archive_write_data(w->outer, text, sizeof marker_text - 1) == (la_ssize_t)(sizeof marker_text - 1)
             ? 0 : -1;
    archive_entry_free(e);
    if (rc != 0)
        pm_error(w->out, "writing the parts marker: %s", archive_error_string(w->outer));
    return rc;
}

/* Once the bundle is complete: the number of parts into the marker's
 * text, which is the first entry's data (after its 512-byte header). */
static int patch_count(pk_writer *w)
{
    const size_t at = 512 + sizeof PM_PARTS_MARKER_TEXT PM_PARTS_COUNT_TAG - 1;
    char now[sizeof marker_text - 1], digits[PM_PARTS_COUNT_DIGITS + 1];
    if (pread(w->fd, now, sizeof now, 512) != (ssize_t)sizeof now || memcmp(now, marker_text, sizeof now) != 0) {
        pm_error(w->tmp, "the parts marker is not where it was written");
        return -1;
    }
    snprintf(digits, sizeof digits, "%0*u", PM_PARTS_COUNT_DIGITS, w->nparts);
    if (pwrite(w->fd, digits, PM_PARTS_COUNT_DIGITS, (off_t)at) != PM_PARTS_COUNT_DIGITS) {
        pm_error(w->tmp, "cannot record the number of parts: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int add_tree_resolved(pk_writer *w, const char *src, const char *dest,
                             const char *const *skip, pk_entry_fn fn, void *ctx);

/* OUT with its directory resolved under the sticky-directory rule
 * (trust.h): a bundle is not written where another user's link in /tmp
 * leads.  0 with *final malloc'd, or -1 after saying why. */
static int resolve_out(const char *out, char **final)
{
    int refused;
    char *why;
    *final = pm_trust_realpath_parent(out, &refused, &why);
    if (!*final && refused)
        pm_error(out, "refusing to write the bundle: %s", why);
    else if (!*final)
        pm_error(out, "out of memory");
    free(why);
    return *final ? 0 : -1;
}

pk_writer *pk_writer_open(const char *out, int verbose)
{
    pk_writer *w = calloc(1, sizeof *w);
    if (!w) {
        pm_error(out, "out of memory");
        return NULL;
    }
    w->fd = -1;
    w->verbose = verbose;
    w->pyc = default_pyc;
    w->a = archive_write_new();
    w->out = strdup(out);
    if (resolve_out(out, &w->final) != 0)
        goto fail;
    w->tmp = pm_printf_alloc("%s.tmp.XXXXXX", w->final);
    if (!w->a || !w->out || !w->tmp) {
        pm_error(out, "out of memory");
        goto fail;
    }
    if (pk_writer_check_suffix(out) != 0)
        goto fail;
    if (set_filter(w->a, out) != ARCHIVE_OK || archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK) {
        pm_error(out, "libarchive: %s", archive_error_string(w->a));
        goto fail;
    }
    struct stat st;
    if (stream_fd >= 0) {
        /* The reader (python-mpi's rank 0) reads the bundle as it grows:
         * it must start empty, and only ever grow. */
        w->fd = stream_fd;
        w->streamed = 1;
        stream_fd = -1;
        if (fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0 ||
            lseek(w->fd, 0, SEEK_CUR) != 0) {
            pm_error(out, "--out-fd: not an empty regular file open at its start");
            goto fail;
        }
    } else {
        /* Created and registered with signals held: no moment in which a
         * signal could leave the temporary file behind. */
        pk_cleanup_hold();
        w->fd = mkstemp(w->tmp);
        if (w->fd >= 0)
            pk_cleanup_file(w->tmp);
        pk_cleanup_release();
        if (w->fd < 0) {
            pm_error(out, "cannot create: %s", strerror(errno));
            goto fail;
        }
        if (fstat(w->fd, &st) != 0 || fchmod(w->fd, pm_umask_mode(0666)) != 0) {
            pm_error(w->tmp, "cannot prepare: %s", strerror(errno));
            goto fail;
        }
    }
    w->self_dev[0] = st.st_dev;
    w->self_ino[0] = st.st_ino;
    w->nself = 1;
    if (stat(w->final, &st) == 0) {
        w->self_dev[1] = st.st_dev;
        w->self_ino[1] = st.st_ino;
        w->nself = 2;
    }
    if (archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK) {
        pm_error(out, "cannot write: %s", archive_error_string(w->a));
        goto fail;
    }
    if (has_suffix(out, ".ptar")) {
        w->outer = w->a;
        w->a = NULL;
        w->codec = default_codec;
        int threads = w->codec == PK_PART_STORED ? 1
                      : default_threads > 0 ? default_threads : pk_pool_default_threads();
        w->pool = pk_pool_new(threads, w->codec, w->out, part_append, w);
        if (!w->pool || add_marker(w) != 0 || part_open(w) != 0)
            goto fail;
    }
    return w;
fail:
    (void)pk_writer_close(w, 0);
    return NULL;
}

int pk_writer_forbid(pk_writer *w, const char *needle, const char *what)
{
    if (w->has_forbid)
        pk_scan_free(&w->forbid);
    w->has_forbid = 0;
    if (!*needle)
        return 0;
    if (pk_scan_init(&w->forbid, needle) != 0) {
        pm_error(w->out, "out of memory");
        return -1;
    }
    w->forbid_what = what;
    w->has_forbid = 1;
    return 0;
}

/* Bytes of the current entry: written, and checked against the needle. */
static int put_bytes(pk_writer *w, const char *name, const void *buf, size_t n)
{
    if (archive_write_data(w->a, buf, n) != (la_ssize_t)n) {
        pm_error(w->out, "writing %s: %s", name, archive_error_string(w->a));
        return -1;
    }
    if (w->has_forbid)
        pk_scan_feed(&w->forbid, buf, n);
    return 0;
}

static int forbidden(pk_writer *w, const char *name)
{
    if (!w->has_forbid || !w->forbid.found)
        return 0;
    pm_error(w->out, "entry '%s' contains %s (%s): refusing to bundle it", name,
             w->forbid_what, w->forbid.needle);
    return 1;
}

/* Contents of a regular file, already open (fd, see open_entry), into the
 * current entry: never reopened by path, which a swap could redirect. */
static int copy_file(pk_writer *w, int fd, const char *path, const char *name)
{
    char buf[1 << 16];
    for (;;) {
        ssize_t n = pm_read_full(fd, buf, sizeof buf);
        if (n < 0) {
            pm_error(path, "read failed: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        if (put_bytes(w, name, buf, (size_t)n) != 0)
            return -1;
    }
    return 0;
}

static int dir_written(const pk_writer *w, const char *name)
{
    for (size_t i = 0; i < w->ndirs; i++)
        if (strcmp(w->dirs[i], name) == 0)
            return 1;
    return 0;
}

static int remember_dir(pk_writer *w, const char *name)
{
    if (w->ndirs == w->dirs_cap) {
        size_t cap = w->dirs_cap ? 2 * w->dirs_cap : 256;
        char **d = realloc(w->dirs, cap * sizeof *d);
        if (!d) {
            pm_error(w->out, "out of memory");
            return -1;
        }
        w->dirs = d;
        w->dirs_cap = cap;
    }
    if (!(w->dirs[w->ndirs] = strdup(name))) {
        pm_error(w->out, "out of memory");
        return -1;
    }
    w->ndirs++;
    return 0;
}

static int is_self(const pk_writer *w, const struct stat *st)
{
    for (int i = 0; i < w->nself; i++)
        if (st->st_dev == w->self_dev[i] && st->st_ino == w->self_ino[i])
            return 1;
    return 0;
}

/* THE place every regular file enters the bundle (from disk: src; or from
 * memory: data, len), whatever command or maker adds it.  e is its header,
 * ready but for the size.  A hook that adds derived files (compiled .pyc
 * next to each .py) belongs here. */
static int put_file(pk_writer *w, struct archive_entry *e, const char *name, const char *src,
                    int fd, const void *data, size_t len)
{
    if (data)
        archive_entry_set_size(e, (la_int64_t)len);
    if (w->has_forbid)
        pk_scan_reset(&w->forbid);
    if (archive_write_header(w->a, e) != ARCHIVE_OK) {
        pm_error(w->out, "adding %s: %s", name, archive_error_string(w->a));
        return -1;
    }
    int rc = 0;
    if (data)
        rc = len > 0 ? put_bytes(w, name, data, len) : 0;
    else if (archive_entry_size(e) > 0)
        rc = copy_file(w, fd, src, name);
    if (rc == 0 && forbidden(w, name))
        rc = -1;
    return rc;
}

void pk_writer_set_pyc(pk_writer *w, enum pk_pyc_mode mode)
{
    w->pyc = mode;
}

void pk_writer_set_default_pyc(enum pk_pyc_mode mode)
{
    default_pyc = mode;
}

void pk_writer_set_default_threads(int threads)
{
    default_threads = threads;
}

void pk_writer_set_stream_fd(int fd)
{
    stream_fd = fd;
}

void pk_writer_set_default_part_codec(enum pk_part_codec codec)
{
    default_codec = codec;
}

/* With our own bytecode, whatever the tree had is left out: another mode,
 * another interpreter's, or stale. */
static int replaced_by_pyc(const pk_writer *w, const char *base)
{
    return w->pyc != PK_PYC_KEEP && (strcmp(base, "__pycache__") == 0 || has_suffix(base, ".pyc"));
}

/* The bytecode of the module at name, made by the embedded Python now so
 * that no rank compiles it at start-up, from its source data (len bytes:
 * what the bundle holds, read once; never the path again).  0 with *pyc;
 * 1 if it is not Python 3 (a few packages ship such files: they go as they
 * are); -1 after printing why. */
static int compile_module(pk_writer *w, const char *name, const char *data, size_t len,
                          time_t mtime, char **pyc, size_t *pyc_len)
{
    int rc = pk_pyc_compile(data, len, name, mtime, w->pyc, pyc, pyc_len);
    w->pycs += rc == 0;
    w->pyc_failed += rc == 1;
    return rc;
}

/* The .py just added at name gets its pyc next to it, in __pycache__. */
static int add_pyc(pk_writer *w, const char *name, const char *data, size_t len, time_t mtime)
{
    char *pyc = NULL, *path = NULL;
    size_t pyc_len;
    int rc = compile_module(w, name, data, len, mtime, &pyc, &pyc_len);
    if (rc == 0)
        rc = (path = pk_pyc_path(name)) ? pk_writer_add_data(w, path, pyc, pyc_len, 0644, mtime) : -1;
    free(pyc);
    free(path);
    return rc < 0 ? -1 : 0;
}

/* --pyc sourceless: NAME.pyc in place of NAME.py.  Returns 1 when the
 * source does not compile and is to be added itself. */
static int add_sourceless(pk_writer *w, const char *name, const char *data, size_t len,
                          time_t mtime)
{
    char *pyc = NULL, *path = NULL;
    size_t pyc_len;
    int rc = compile_module(w, name, data, len, mtime, &pyc, &pyc_len);
    if (rc == 0) {
        path = pm_printf_alloc("%sc", name);
        if (!path)
            pm_error(name, "out of memory");
        rc = path ? pk_writer_add_data(w, path, pyc, pyc_len, 0644, mtime) : -1;
    }
    free(pyc);
    free(path);
    return rc;
}

/* Bookkeeping after each entry: the directory list, -v, parts. */
static int entry_added(pk_writer *w, const char *name, mode_t type, unsigned long long size)
{
    if (S_ISDIR(type) && remember_dir(w, name) != 0)
        return -1;
    w->entries++;
    if (w->verbose && printf("%s\n", name) < 0) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        return -1;
    }
    if (w->outer) {
        w->part_bytes += 512 + (S_ISREG(type) ? size : 0);
        if (w->part_bytes >= PART_BYTES && (part_flush(w) != 0 || part_open(w) != 0))
            return -1;
    }
    return 0;
}


/* The file an entry's bytes come from, opened once: a regular file
 * (follow = 0) with O_NOFOLLOW and the same inode as lst (what the walk's
 * lstat judged), or a link's target (follow = 1), whose fstat goes to *st.
 * A file swapped meanwhile for a link or another file (in a directory
 * others write to) is refused, never read by path again.  The descriptor,
 * or -1 after printing why; *gone = 1 when a followed link leads to no
 * regular file (the caller skips it, as before). */
static int open_entry(int dfd, const char *base, const char *src, const struct stat *lst,
                      int follow, struct stat *st, int *gone)
{
    *gone = 0;
    int fd = pm_open_regular_at(dfd, base, follow ? 0 : O_NOFOLLOW, st);
    if (fd < 0 && follow && (errno == ENOENT || errno == EINVAL || errno == ELOOP)) {
        *gone = 1;
        return -1;
    }
    if (fd >= 0 && !follow && (st->st_dev != lst->st_dev || st->st_ino != lst->st_ino)) {
        close(fd);
        fd = -1;
        errno = ESTALE;
    }
    if (fd < 0 && !follow && (errno == ELOOP || errno == EINVAL || errno == ENOENT || errno == ESTALE))
        pm_error(src, "changed while being read (replaced by another file or a link)");
    else if (fd < 0)
        pm_error(src, "cannot open: %s", strerror(errno));
    return fd;
}

/* One entry: src on disk, name in the bundle, rel its path below the tree
 * root (to judge whether a symlink stays inside); data/len: a regular
 * file's new contents, or NULL; source_only: no bytecode for it.  A file
 * from disk is opened once, as base relative to its directory's
 * descriptor dfd (open_entry); that descriptor gives the owner warning,
 * the bytes bundled and the source of its bytecode.  src: for messages. */
static int add_entry(pk_writer *w, int dfd, const char *base, const char *src, const char *name,
                     const char *rel, const struct stat *lst, const char *data, size_t len,
                     int source_only)
{
    struct stat st = *lst;
    char *target = NULL, *own = NULL;
    int fd = -1, rc = 0, gone;
    if (S_ISLNK(st.st_mode)) {
        target = pm_readlinkat(dfd, base);
        if (!target && (errno == EINVAL || errno == ENOENT)) {   /* no longer the link lstat saw */
            pm_error(src, "changed while being read (replaced by another file or a link)");
            return -1;
        }
        if (!target) {
            pm_error(src, "cannot read link: %s", strerror(errno));
            return -1;
        }
        if (pm_path_is_contained(rel, target) != 0) {
            /* Outside the tree: store what it points to instead. */
            char *shown = target;
            target = NULL;
            fd = open_entry(dfd, base, src, lst, 1, &st, &gone);
            if (fd < 0) {
                free(shown);
                if (!gone)
                    return -1;
                /* Said even without -v: the bundle lacks something. */
                pm_error(src, "skipped: a link to outside the tree, not to a regular file");
                return 0;
            }
            /* In a group-writable team directory another member's link
             * can point at a file only we may read: say so (not fatal,
             * the file is bundled as documented; pkgroot.1).  The owner
             * is the opened file's, so a retargeted link cannot hide it. */
            if (lst->st_uid != geteuid())
                pm_error(src, "warning: bundled the file outside the tree that this symbolic link, "
                         "owned by uid %lu, points to: %s (owned by uid %lu)",
                         (unsigned long)lst->st_uid, shown, (unsigned long)st.st_uid);
            free(shown);
        } else if (w->has_forbid && strstr(target, w->forbid.needle)) {
            pm_error(w->out, "entry '%s' is a link to %s (%s): refusing to bundle it", name,
                     w->forbid_what, target);
            free(target);
            return -1;
        }
    } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        pm_error(src, "skipped: not a regular file, directory or link");
        return 0;
    } else if (S_ISREG(st.st_mode) && !data && (fd = open_entry(dfd, base, src, lst, 0, &st, &gone)) < 0) {
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        data = NULL;
    /* A module, or a link to one inside the tree (imported under its own
     * name): its bytecode is made now (--pyc), from the bytes bundled. */
    size_t nl = strlen(name);
    struct stat tst;
    int module = w->pyc < PK_PYC_KEEP && !source_only && nl > 3 && strcmp(name + nl - 3, ".py") == 0;
    if (module && S_ISLNK(st.st_mode)) {
        /* An inside link: its target, opened once for mtime and source. */
        fd = pm_open_regular_at(dfd, base, 0, &tst);
        module = fd >= 0;
    }
    time_t src_mtime = !module ? 0 : S_ISREG(st.st_mode) ? st.st_mtime : tst.st_mtime;
    const char *cdata = data;   /* the module's source */
    size_t clen = len;
    if (module && !data) {
        if (pm_read_fd(fd, SIZE_MAX, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0, &own, &clen) != 0) {
            pm_error(src, "cannot read: %s", strerror(errno));
            rc = -1;
            goto out;
        }
        cdata = own;
        if (S_ISREG(st.st_mode)) {   /* what is bundled is what was compiled */
            data = own;
            len = clen;
        }
    }
    if (module && w->pyc == PK_PYC_SOURCELESS) {
        rc = add_sourceless(w, name, cdata, clen, src_mtime);
        if (rc <= 0)
            goto out;
        rc = 0;
    }
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        pm_error(src, "out of memory");
        rc = -1;
        goto out;
    }
    archive_entry_copy_stat(e, &st);
    archive_entry_set_pathname(e, name);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_nlink(e, 1);
    if (target)
        archive_entry_set_symlink(e, target);
    if (!S_ISREG(st.st_mode))
        archive_entry_set_size(e, 0);
    if (S_ISREG(st.st_mode)) {
        rc = put_file(w, e, name, src, fd, data, len);
    } else if (archive_write_header(w->a, e) != ARCHIVE_OK) {
        pm_error(w->out, "adding %s: %s", name, archive_error_string(w->a));
        rc = -1;
    }
    archive_entry_free(e);
    if (rc == 0)
        rc = entry_added(w, name, st.st_mode,
                         data ? len : (unsigned long long)(st.st_size > 0 ? st.st_size : 0));
    if (rc == 0 && module && w->pyc != PK_PYC_SOURCELESS)
        rc = add_pyc(w, name, cdata, clen, src_mtime);
out:
    if (fd >= 0)
        close(fd);
    free(own);
    free(target);
    return rc;
}

static int skipped(const char *rel, const char *const *skip)
{
    for (; skip && *skip; skip++) {
        size_t n = strlen(*skip);
        if (n && (*skip)[n - 1] == '*') {
            if (strncmp(rel, *skip, n - 1) == 0)
                return 1;
        } else if (strcmp(rel, *skip) == 0) {
            return 1;
        }
    }
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* The subdirectory d of dfd that the walk's lstat saw as st, opened
 * O_NOFOLLOW (a swapped-in link is refused, never followed; follow = 1:
 * the tree's top, stat'd through links), and the same inode; -1 after
 * printing why. */
static int open_subdir(int dfd, const char *d, const char *src, const struct stat *st, int follow)
{
    struct stat dst;
    int fd = openat(dfd, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd >= 0 && (fstat(fd, &dst) != 0 || dst.st_dev != st->st_dev || dst.st_ino != st->st_ino)) {
        close(fd);
        fd = -1;
        errno = ESTALE;
    }
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT || errno == ESTALE))
        pm_error(src, "changed while being read (replaced by another file or a link)");
    else if (fd < 0)
        pm_error(src, "cannot open: %s", strerror(errno));
    return fd;
}

/* Depth-first, sorted, so bundles of the same tree list the same way.
 * dfd: src's descriptor; every entry is looked at relative to it, so a
 * directory swapped for a link while the walk is below it changes nothing. */
static int add_dir(pk_writer *w, int dfd, const char *src, const char *name, const char *rel,
                   const char *const *skip, pk_entry_fn fn, void *ctx)
{
    struct dirent **list;
    int n = scandirat(dfd, ".", &list, NULL, by_name);
    if (n < 0) {
        pm_error(src, "cannot list: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *d = list[i]->d_name;
        if (rc == 0 && strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
            char *csrc = pm_path_join(src, d);
            char *cname = child_path(name, d);
            char *crel = child_path(rel, d);
            struct stat st;
            if (!csrc || !cname || !crel) {
                pm_error(src, "out of memory");
                rc = -1;
            } else if (skipped(crel, skip)) {
                /* left out */
            } else if (fstatat(dfd, d, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                pm_error(csrc, "cannot stat: %s", strerror(errno));
                rc = -1;
            } else if (is_self(w, &st)) {
                /* OUT (or its temporary file) inside the tree being bundled */
            } else {
                pk_entry pe = {csrc, crel, cname, &st, NULL, 0, 0};
                int verdict = fn ? fn(ctx, &pe) : PK_ADD;
                if (verdict < 0)
                    rc = -1;
                else if (verdict == PK_ADD && !replaced_by_pyc(w, d)) {
                    rc = add_entry(w, dfd, d, csrc, cname, crel, &st, pe.data, pe.len, pe.source_only);
                    if (rc == 0 && S_ISDIR(st.st_mode)) {
                        int cfd = open_subdir(dfd, d, csrc, &st, 0);
                        rc = cfd < 0 ? -1 : add_dir(w, cfd, csrc, cname, crel, skip, fn, ctx);
                        if (cfd >= 0)
                            close(cfd);
                    }
                }
                free(pe.data);
            }
            free(csrc);
            free(cname);
            free(crel);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int pk_writer_add_tree(pk_writer *w, const char *src, const char *dest,
                       const char *const *skip)
{
    return pk_writer_add_tree_with(w, src, dest, skip, NULL, NULL);
}

/* Entries for dest's parent directories not written yet, like st (a
 * directory's stat: mode 0755 is used). */
static int add_parents(pk_writer *w, const char *src, const char *dest, const struct stat *st)
{
    char *prefix = strdup(dest);
    if (!prefix) {
        pm_error(src, "out of memory");
        return -1;
    }
    for (char *p = strchr(prefix, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        struct stat dst = *st;
        dst.st_mode = S_IFDIR | 0755;
        int rc = dir_written(w, prefix) ? 0 : add_entry(w, AT_FDCWD, src, src, prefix, prefix, &dst, NULL, 0, 0);
        *p = '/';
        if (rc != 0) {
            free(prefix);
            return -1;
        }
    }
    free(prefix);
    return 0;
}

/* A tree to bundle, resolved under the sticky-directory rule (trust.h):
 * not the code another user's link in /tmp leads to. */
int pk_writer_add_tree_with(pk_writer *w, const char *src, const char *dest,
                            const char *const *skip, pk_entry_fn fn, void *ctx)
{
    char *why = NULL;
    char *real = pm_trust_realpath(src, &why);
    if (!real && errno == EPERM) {
        pm_error(src, "refusing to bundle: %s", why ? why : "out of memory");
        free(why);
        return -1;
    }
    free(why);   /* missing, ...: the stat below says why */
    int rc = add_tree_resolved(w, real ? real : src, dest, skip, fn, ctx);
    free(real);
    return rc;
}

static int add_tree_resolved(pk_writer *w, const char *src, const char *dest,
                             const char *const *skip, pk_entry_fn fn, void *ctx)
{
    struct stat st;
    if (stat(src, &st) != 0) {
        pm_error(src, "cannot add: %s", strerror(errno));
        return -1;
    }
    if (!*dest && !S_ISDIR(st.st_mode)) {
        pm_error(src, "cannot add at the bundle root: not a directory");
        return -1;
    }
    /* Parent directories of dest, so the bundle unpacks on its own; once
     * each, however many trees share them (lib/, lib/python3/, ...). */
    if (add_parents(w, src, dest, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        const char *base = strrchr(dest, '/');
        base = base ? base + 1 : dest;
        pk_entry pe = {src, base, dest, &st, NULL, 0, 0};
        int verdict = fn ? fn(ctx, &pe) : PK_ADD;
        int rc = verdict < 0 ? -1 : verdict == PK_SKIP ? 0
               : add_entry(w, AT_FDCWD, src, src, dest, base, &st, pe.data, pe.len, pe.source_only);
        free(pe.data);
        return rc;
    }
    if (*dest && !dir_written(w, dest) && add_entry(w, AT_FDCWD, src, src, dest, "", &st, NULL, 0, 0) != 0)
        return -1;
    int dfd = open_subdir(AT_FDCWD, src, src, &st, 1);
    if (dfd < 0)
        return -1;
    int rc = add_dir(w, dfd, src, dest, "", skip, fn, ctx);
    close(dfd);
    return rc;
}

int pk_writer_add_data(pk_writer *w, const char *name, const void *data, size_t len,
                       mode_t perm, time_t mtime)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = S_IFDIR | 0755;
    st.st_mtime = mtime;
    if (add_parents(w, name, name, &st) != 0)
        return -1;
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        pm_error(name, "out of memory");
        return -1;
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_nlink(e, 1);
    int rc = put_file(w, e, name, NULL, -1, data ? data : "", len);
    archive_entry_free(e);
    return rc == 0 ? entry_added(w, name, S_IFREG, len) : -1;
}

int pk_writer_close(pk_writer *w, int commit)
{
    if (!w)
        return -1;
    int rc = 0;
    if (commit && w->entries == 0) {
        pm_error(w->out, "nothing to bundle");
        commit = 0;
        rc = -1;
    }
    if (w->outer) {
        /* The last part, unless it is empty; then every part in place. */
        if (commit && w->a && w->part_bytes > 0 && part_flush(w) != 0) {
            commit = 0;
            rc = -1;
        }
        if (commit && pk_pool_finish(w->pool) != 0) {
            commit = 0;
            rc = -1;
        }
        pk_pool_free(w->pool);
        w->pool = NULL;
        if (w->a)
            archive_write_free(w->a);
        w->a = w->outer;
        w->outer = NULL;
        w->nparts_final = 1;
    }
    free(w->part);
    if (w->a) {
        if (w->fd >= 0 && archive_write_close(w->a) != ARCHIVE_OK && commit) {
            pm_error(w->out, "finishing: %s", archive_error_string(w->a));
            commit = 0;
            rc = -1;
        }
        archive_write_free(w->a);
    }
    if (w->fd >= 0) {
        /* A streamed bundle's start was read long ago: its count stays 0
         * ("not said"), so the bytes cached are the bytes delivered. */
        if (commit && w->nparts_final && !w->streamed && patch_count(w) != 0) {
            commit = 0;
            rc = -1;
        }
        if (commit && fsync(w->fd) != 0) {
            pm_error(w->out, "fsync: %s", strerror(errno));
            commit = 0;
            rc = -1;
        }
        if (close(w->fd) != 0 && commit) {
            pm_error(w->out, "close: %s", strerror(errno));
            commit = 0;
            rc = -1;
        }
        if (commit && !w->streamed && rename(w->tmp, w->final) != 0) {
            pm_error(w->out, "cannot rename into place: %s", strerror(errno));
            commit = 0;
            rc = -1;
        }
        /* A streamed bundle's file is its reader's: the exit status says
         * whether it is whole. */
        if (!commit && !w->streamed && unlink(w->tmp) != 0)
            pm_error(w->tmp, "cannot remove: %s", strerror(errno));
        if (!w->streamed)
            pk_cleanup_file(NULL);
    }
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i]);
    free(w->dirs);
    if (w->has_forbid)
        pk_scan_free(&w->forbid);
    free(w->out);
    free(w->final);
    free(w->tmp);
    free(w);
    return rc;
}
