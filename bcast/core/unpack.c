/* unpack.c - safe streaming extraction: libarchive reads, treewrite.h
 * writes beneath the destination's descriptor (see unpack.h). */
#include "unpack.h"
#include "archive_read.h"
#include "log.h"
#include "manifest.h"
#include "strutil.h"
#include "treewrite.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The budget (unpack.h): what this node may still write.  count[] is this
 * process's own; shared, once set, the node's words in the ring, which
 * every unpacker adds to before it writes. */
enum { B_BYTES, B_ENTRIES };
struct pm_budget {
    uint64_t max[2];     /* as asked: 0 for the file system's figures */
    uint64_t limit[2];
    uint64_t count[2];
    _Atomic uint64_t *shared;
    int sized;           /* limits from the file system's figures */
};

/* When a file system does not count inodes (f_files 0), entries are still
 * bounded. */
#define ENTRIES_FALLBACK ((uint64_t)1 << 24)

/* The limits, from the destination's file system (NULL: not known). */
static void budget_size(pm_budget *b, const struct statvfs *sv)
{
    b->limit[B_BYTES] = b->max[B_BYTES] ? b->max[B_BYTES]
                        : sv && sv->f_blocks ? (uint64_t)sv->f_blocks * sv->f_frsize : UINT64_MAX;
    b->limit[B_ENTRIES] = b->max[B_ENTRIES] ? b->max[B_ENTRIES]
                          : sv && sv->f_files ? (uint64_t)sv->f_ffree / 2 : ENTRIES_FALLBACK;
    b->sized = sv != NULL;
}

static void budget_init(pm_budget *b, uint64_t max_bytes, uint64_t max_entries)
{
    memset(b, 0, sizeof *b);
    b->max[B_BYTES] = max_bytes;
    b->max[B_ENTRIES] = max_entries;
}

pm_budget *pm_budget_new(const char *destdir, uint64_t max_bytes, uint64_t max_entries)
{
    pm_budget *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    budget_init(b, max_bytes, max_entries);
    struct statvfs sv;
    budget_size(b, destdir && statvfs(destdir, &sv) == 0 ? &sv : NULL);
    return b;
}

void pm_budget_share(pm_budget *b, _Atomic uint64_t *words)
{
    if (!b || !words || b->shared)
        return;
    atomic_fetch_add(&words[B_BYTES], b->count[B_BYTES]);
    atomic_fetch_add(&words[B_ENTRIES], b->count[B_ENTRIES]);
    b->shared = words;
}

void pm_budget_free(pm_budget *b)
{
    free(b);
}

/* A budget that could not be sized when it was made is sized from the
 * open destination. */
static void budget_ready(pm_budget *b, int dest)
{
    struct statvfs sv;
    if (!b->sized)
        budget_size(b, fstatvfs(dest, &sv) == 0 ? &sv : NULL);
}

/* Count n more of what against the limit: 0, or -1 if it would pass it
 * (the count stays: the bundle is refused). */
static int charge(pm_budget *b, int what, uint64_t n)
{
    uint64_t total;
    if (b->shared)
        total = atomic_fetch_add(&b->shared[what], n) + n;
    else
        total = b->count[what] += n;
    return total < n || total > b->limit[what] ? -1 : 0;
}

/* One call's work: the options, its budget and where the reason goes. */
typedef struct job {
    const char *destdir;
    const char *label;
    pm_links *links;
    pm_budget *budget;
    pm_err *err;
} job;

static void over_bytes(const job *j, const char *name)
{
    pm_err_set(j->err, j->label, "entry '%s': the bundle unpacks to more than %llu bytes, the limit "
               "(PYTHON_MPI_MAX_UNPACKED, default the size of %s's file system)",
               name, (unsigned long long)j->budget->limit[B_BYTES], j->destdir);
}

/* Depth reached after walking path's components from start depth; -1 as
 * soon as a ".." climbs above the root, or (leading_only) when a ".."
 * follows a normal component. */
static long walk_depth(const char *path, long depth, int leading_only)
{
    const char *p = path;
    int seen_name = 0;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0 || (leading_only && seen_name))
                return -1;
        } else if (!(len == 1 && p[0] == '.')) {
            depth++;
            seen_name = 1;
        }
        p += len;
    }
    return depth;
}

int pm_path_is_contained(const char *base, const char *path)
{
    if (!path || path[0] == '/' || (base && base[0] == '/'))
        return -1;
    if (!base)
        return walk_depth(path, 0, 0) < 0 ? -1 : 0;
    /* A symlink's target is resolved from the directory holding the link,
     * which is a real directory (nothing is ever written through a link).
     * Its leading ".." therefore climb real directories and can be
     * counted; but a ".." after a name could climb out of whatever that
     * name is, another link included ("l1 -> ..", "l2 -> l1/../x"), so it
     * is refused. */
    long depth = walk_depth(base, 0, 0);
    if (depth < 1)
        return -1;
    return walk_depth(path, depth - 1, 1) < 0 ? -1 : 0;
}

/* Does path have a ".." component?  The writer resolves names one real
 * directory at a time and never climbs (libarchive refused them too). */
static int has_dotdot(const char *path)
{
    for (const char *p = path; *p;) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += len;
    }
    return 0;
}

typedef struct pull_state {
    pm_pull_fn pull;
    void *ctx;
    int pull_failed;
} pull_state;

static la_ssize_t read_cb(struct archive *a, void *client, const void **buf)
{
    pull_state *ps = client;
    ssize_t n = ps->pull(ps->ctx, buf);
    if (n < 0) {
        ps->pull_failed = 1;
        archive_set_error(a, EIO, "transfer failed");
        return -1;
    }
    return n;
}

/* Does path name one of python-mpi's own files?  Any component starting
 * with PM_RESERVED_PREFIX, except PM_MANIFEST_DIR at the top and the
 * plain names directly in it (allow_manifest: the entry itself). */
static int reserved(const char *path, int allow_manifest)
{
    size_t plen = strlen(PM_RESERVED_PREFIX);
    int depth = 0, in_manifests = 0;
    for (const char *p = path; *p;) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        if (len == 0)
            break;
        int dot = len == 1 && p[0] == '.';
        if (!dot) {
            if (depth == 0 && allow_manifest && len == strlen(PM_MANIFEST_DIR) &&
                strncmp(p, PM_MANIFEST_DIR, len) == 0)
                in_manifests = 1;
            else if (len >= plen && strncmp(p, PM_RESERVED_PREFIX, plen) == 0)
                return 1;
            else if (in_manifests && (depth > 1 || p[0] == '.'))
                return 1;   /* only plain names directly in the manifest directory */
            depth++;
        }
        p += len;
    }
    return 0;
}

int pm_entry_check(struct archive_entry *e, char **why)
{
    *why = NULL;
    const char *name = archive_entry_pathname(e);
    if (!name || !*name) {
        *why = strdup("entry with an empty name");
        return -1;
    }
    if (pm_path_is_contained(NULL, name) != 0) {
        *why = strdup("path leads outside the destination");
        return -1;
    }
    if (has_dotdot(name)) {
        *why = strdup("path contains '..'");
        return -1;
    }
    mode_t type = archive_entry_filetype(e);
    const char *hard = archive_entry_hardlink(e);
    int manifest_ok = !hard && (type == AE_IFDIR || type == AE_IFREG);
    if (reserved(name, manifest_ok) || (hard && reserved(hard, 0))) {
        *why = pm_printf_alloc("the name '%s' is reserved for python-mpi's own files",
                               reserved(name, manifest_ok) ? name : hard);
        return -1;
    }
    /* "." or "./": the destination itself, which keeps its own mode (only
     * a directory may name it; the unpacker skips it). */
    if (walk_depth(name, 0, 0) == 0 && (type != AE_IFDIR || hard)) {
        *why = strdup("names the destination itself but is not a directory");
        return -1;
    }
    if (hard) {
        if (pm_path_is_contained(NULL, hard) != 0 || walk_depth(hard, 0, 0) == 0) {
            *why = pm_printf_alloc("hard link to '%s' leads outside the destination", hard);
            return -1;
        }
        if (has_dotdot(hard)) {
            *why = pm_printf_alloc("hard link to '%s': its path contains '..'", hard);
            return -1;
        }
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        /* The kernel takes targets shorter than PATH_MAX; a longer one
         * could never be made, only kept in memory until it fails. */
        if (target && strlen(target) >= PATH_MAX) {
            *why = pm_printf_alloc("symbolic link target of %zu bytes, longer than the "
                                   "system allows (%d)", strlen(target), PATH_MAX - 1);
            return -1;
        }
        if (!target || pm_path_is_contained(name, target) != 0) {
            *why = pm_printf_alloc("symbolic link to '%s' leads outside the destination",
                                   target ? target : "");
            return -1;
        }
    } else if (type != AE_IFREG && type != AE_IFDIR) {
        *why = pm_printf_alloc("refusing to create a %s",
                               type == AE_IFIFO ? "FIFO" :
                               type == AE_IFCHR ? "character device" :
                               type == AE_IFBLK ? "block device" :
                               type == AE_IFSOCK ? "socket" : "special file");
        return -1;
    }
    return 0;
}

/* Validate the entry and sanitize its mode.  Returns 0, or -1 after
 * printing why the entry is refused. */
static int prepare_entry(struct archive_entry *e, const job *j)
{
    char *why;
    if (pm_entry_check(e, &why) != 0) {
        const char *name = archive_entry_pathname(e);
        const char *reason = why ? why : "refused (out of memory saying why)";
        if (!name || !*name)
            pm_err_set(j->err, j->label, "%s", reason);
        else
            pm_err_set(j->err, j->label, "entry '%s': %s", name, reason);
        free(why);
        return -1;
    }
    mode_t type = archive_entry_filetype(e);

    /* Nothing in a shared /dev/shm should be set-id or writable by others;
     * the owner always keeps rwx on directories so the tree can be removed. */
    mode_t mode = archive_entry_perm(e) & ~(mode_t)(S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH);
    if (type == AE_IFDIR)
        mode |= S_IRWXU;
    else if (type == AE_IFREG)
        mode |= S_IRUSR | S_IWUSR;
    archive_entry_set_perm(e, mode);
    return 0;
}

/* A write failure: the entry, the node-local destination and the reason
 * (with its errno, which the storage-full case must show). */
static void write_error(const pm_tree *t, const job *j, const char *name)
{
    int err;
    const char *why = pm_tree_why(t, &err);
    if (err)
        pm_err_set(j->err, j->label, "entry '%s': cannot write under %s: %s (%s)", name, j->destdir, why, strerror(err));
    else
        pm_err_set(j->err, j->label, "entry '%s': cannot write under %s: %s", name, j->destdir, why);
}

/* The entry's times for futimens; NULL if it has none. */
static const struct timespec *entry_times(struct archive_entry *e, struct timespec ts[2])
{
    if (!archive_entry_mtime_is_set(e) && !archive_entry_atime_is_set(e))
        return NULL;
    ts[0].tv_sec = ts[1].tv_sec = 0;
    ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    }
    if (archive_entry_mtime_is_set(e)) {
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    }
    return ts;
}

/* A regular file: created beneath the tree, its data written at
 * libarchive's block offsets (holes stay holes), then size, mode, time. */
static int write_file(pm_tree *t, struct archive *in, struct archive_entry *e, const char *rel,
                      const job *j, const char *name, const pull_state *ps, pm_unpack_stats *st)
{
    mode_t mode = archive_entry_perm(e);
    int fd = pm_tree_create(t, rel, mode);
    if (fd < 0) {
        write_error(t, j, name);
        return -1;
    }
    off_t end = 0;
    la_int64_t size = archive_entry_size(e);
    /* The declared size was charged before the entry; a sparse map can
     * carry more data than that: every block is counted, before it is
     * written, and none may reach past the limit. */
    uint64_t charged = size > 0 ? (uint64_t)size : 0, written = 0;
    while (size > 0) {
        const void *buf;
        size_t len;
        la_int64_t offset;
        int r = archive_read_data_block(in, &buf, &len, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            if (!ps->pull_failed)   /* the source reports its own failure */
                pm_err_set(j->err, j->label, "entry '%s': %s", name, archive_error_string(in));
            close(fd);
            return -1;
        }
        uint64_t reach = (uint64_t)offset + len;
        if (offset < 0 || reach < len || reach > j->budget->limit[B_BYTES] ||
            (written + len > charged && charge(j->budget, B_BYTES, written + len - charged) != 0)) {
            over_bytes(j, name);
            close(fd);
            return -1;
        }
        written += len;
        if (written > charged)
            charged = written;
        if (pm_tree_write(t, fd, buf, len, (off_t)offset) != 0) {
            write_error(t, j, name);
            close(fd);
            return -1;
        }
        if ((off_t)(offset + (la_int64_t)len) > end)
            end = (off_t)(offset + (la_int64_t)len);
        st->bytes += len;
    }
    struct timespec ts[2];
    if (pm_tree_finish_file(t, fd, end, size > 0 ? (off_t)size : 0, mode, entry_times(e, ts)) != 0) {
        write_error(t, j, name);
        return -1;
    }
    return 0;
}

/* One entry, checked and sanitised, at rel (normalised, not the root). */
static int write_entry(pm_tree *t, struct archive *in, struct archive_entry *e, const char *rel,
                       const job *j, const char *name, const pull_state *ps, pm_unpack_stats *st)
{
    const char *hard = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    int rc;
    if (hard) {
        /* Only to a regular file already in the tree, reached without
         * following a link: a hard link to a contained symlink ("a/b/c/s
         * -> ../../..") would copy it to a depth where it leads outside. */
        char *target = pm_path_normal(hard);
        if (!target) {
            pm_err_set(j->err, j->label, "out of memory");
            return -1;
        }
        rc = pm_tree_hardlink(t, rel, target);
        free(target);
        if (rc == -2) {
            int err;
            pm_err_set(j->err, j->label, "entry '%s': hard link to '%s', %s", name, hard, pm_tree_why(t, &err));
            return -1;
        }
    } else if (type == AE_IFLNK) {
        /* A link's name and target take memory (deferred: this process's)
         * and the file system's: counted as bytes. */
        if (charge(j->budget, B_BYTES, strlen(name) + strlen(archive_entry_symlink(e))) != 0) {
            over_bytes(j, name);
            return -1;
        }
        if (j->links)
            return pm_links_add(j->links, j->label, name, archive_entry_symlink(e), j->err);
        rc = pm_tree_symlink(t, rel, archive_entry_symlink(e));
    } else if (type == AE_IFDIR) {
        struct timespec ts[2];
        const struct timespec *times = entry_times(e, ts);
        size_t kept = pm_tree_dir_bytes(t);
        rc = pm_tree_mkdir(t, rel, archive_entry_perm(e),
                           times && archive_entry_mtime_is_set(e) ? &times[1] : NULL);
        /* Its name is kept for the last pass (memory): counted as bytes. */
        if (rc == 0 && charge(j->budget, B_BYTES, pm_tree_dir_bytes(t) - kept) != 0) {
            over_bytes(j, name);
            return -1;
        }
    } else {
        return write_file(t, in, e, rel, j, name, ps, st);
    }
    if (rc != 0)
        write_error(t, j, name);
    return rc;
}

/* The destination, entered by its descriptor after every component of its
 * path was checked (trust.h): what was checked is what is written into.
 * NULL with the reason set. */
static pm_tree *open_tree(const job *j)
{
    char *why = NULL;
    pm_tree *t = pm_tree_open(j->destdir, &why);
    if (!t)
        pm_err_set(j->err, j->label, "cannot enter %s: %s", j->destdir, why ? why : "out of memory");
    else
        budget_ready(j->budget, pm_tree_root(t));
    free(why);
    return t;
}

/* The directories' times, once their contents are written. */
static int close_tree(pm_tree *t, const job *j, int ok)
{
    const char *dir;
    if (ok && pm_tree_finish_dirs(t, &dir) != 0) {
        write_error(t, j, dir);
        ok = 0;
    }
    pm_tree_close(t);
    return ok ? 0 : -1;
}

/* One archive from the stream into the open tree, counting its entries and
 * bytes against the budget (shared by a parts bundle's parts, a
 * delivery's bundles and the node's unpackers). */
static int unpack_into(pm_tree *t, const job *j, pm_pull_fn pull, void *ctx, pm_unpack_stats *st)
{
    memset(st, 0, sizeof *st);
    pull_state ps = {pull, ctx, 0};
    int rc = -1;
    char *rel = NULL;

    struct archive *in = archive_read_new();
    if (!in) {
        pm_err_set(j->err, j->label, "out of memory creating an archive reader");
        goto done;
    }
    if (pm_archive_filters(in) != ARCHIVE_OK ||
        archive_read_support_format_tar(in) != ARCHIVE_OK) {
        pm_err_set(j->err, j->label, "libarchive: %s", archive_error_string(in));
        goto done;
    }
    if (archive_read_open(in, &ps, NULL, read_cb, NULL) != ARCHIVE_OK) {
        if (!ps.pull_failed)
            pm_err_set(j->err, j->label, "cannot read archive: %s", archive_error_string(in));
        goto done;
    }

    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            if (!ps.pull_failed)
                pm_err_set(j->err, j->label, "%s%s", archive_error_string(in),
                           st->entries ? "" : " (not a bundle?)");
            goto done;
        }
        if (prepare_entry(e, j) != 0)
            goto done;
        const char *name = archive_entry_pathname(e);
        free(rel);
        if (!(rel = pm_path_normal(name))) {
            pm_err_set(j->err, j->label, "out of memory");
            goto done;
        }
        if (charge(j->budget, B_ENTRIES, 1) != 0) {
            pm_err_set(j->err, j->label, "entry '%s': the bundle has more than %llu entries, the limit "
                       "(PYTHON_MPI_MAX_ENTRIES, default half the free inodes of %s's file system)",
                       name, (unsigned long long)j->budget->limit[B_ENTRIES], j->destdir);
            goto done;
        }
        if (!*rel) {   /* "./": the destination keeps its mode */
            st->entries++;
            continue;
        }
        la_int64_t size = archive_entry_size(e);
        if (size > 0 && charge(j->budget, B_BYTES, (uint64_t)size) != 0) {
            over_bytes(j, name);
            goto done;
        }
        if (write_entry(t, in, e, rel, j, name, &ps, st) != 0)
            goto done;
        st->entries++;
    }
    if (st->entries == 0) {
        pm_err_set(j->err, j->label, "archive has no entries (empty or not a bundle)");
        goto done;
    }
    rc = 0;
done:
    if (ps.pull_failed)
        rc = -2;
    free(rel);
    if (in)
        archive_read_free(in);
    return rc;
}

/* The call's job: its options, and a budget of its own when the caller
 * gave none (outside a delivery). */
static void job_begin(job *j, pm_budget *own, const char *destdir, const pm_unpack_opts *o, pm_err *err)
{
    j->destdir = destdir;
    j->label = o && o->label ? o->label : destdir;
    j->links = o ? o->links : NULL;
    j->err = err;
    j->budget = o && o->budget ? o->budget : own;
    if (j->budget == own)
        budget_init(own, o ? o->max_bytes : 0, o ? o->max_entries : 0);
}

int pm_unpack(const char *destdir, pm_pull_fn pull, void *ctx, const pm_unpack_opts *o,
              pm_unpack_stats *stats, pm_err *err)
{
    pm_unpack_stats local;
    pm_budget own;
    job j;
    job_begin(&j, &own, destdir, o, err);
    pm_tree *t = open_tree(&j);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!t)
        return -1;
    int rc = unpack_into(t, &j, pull, ctx, stats ? stats : &local);
    int crc = close_tree(t, &j, rc == 0);
    return rc != 0 ? rc : crc;
}

int pm_is_parts_bundle(const void *head, size_t len)
{
    /* A tar header starts with the NUL-padded name of the first entry. */
    static const char marker[] = PM_PARTS_MARKER;
    return len >= 512 && memcmp(head, marker, sizeof marker) == 0;
}

uint64_t pm_parts_count(const void *head, size_t len)
{
    static const char text[] = PM_PARTS_MARKER_TEXT PM_PARTS_COUNT_TAG;
    const char *p = (const char *)head + 512, *end = (const char *)head + len;
    if (!pm_is_parts_bundle(head, len) || len < 512 + sizeof text - 1 ||
        memcmp(p, text, sizeof text - 1) != 0)
        return 0;
    uint64_t n = 0;
    int digits = 0;
    for (p += sizeof text - 1; p < end && *p >= '0' && *p <= '9' && digits < 19; p++, digits++)
        n = n * 10 + (uint64_t)(*p - '0');
    return digits > 0 && p < end && *p == '\n' ? n : 0;
}

/* A part's bytes come from the outer archive's current entry. */
static ssize_t outer_pull(void *ctx, const void **buf)
{
    struct archive *outer = ctx;
    size_t size;
    la_int64_t offset;
    int r = archive_read_data_block(outer, buf, &size, &offset);
    if (r == ARCHIVE_EOF)
        return 0;
    return r == ARCHIVE_OK ? (ssize_t)size : -1;
}

int pm_unpack_parts(const char *destdir, pm_pull_fn pull, void *ctx, const pm_unpack_opts *o,
                    pm_unpack_stats *stats, pm_err *err)
{
    pm_unpack_stats local = {0, 0};
    pm_unpack_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    pm_budget own;
    job j;
    job_begin(&j, &own, destdir, o, err);
    pull_state ps = {pull, ctx, 0};
    int rc = -1;
    unsigned long long index = 0;
    pm_tree *t = NULL;   /* opened for the first part this rank takes */
    struct archive *outer = archive_read_new();
    if (!outer || archive_read_support_format_tar(outer) != ARCHIVE_OK) {
        pm_err_set(err, j.label, "out of memory creating an archive reader");
        goto done;
    }
    if (archive_read_open(outer, &ps, NULL, read_cb, NULL) != ARCHIVE_OK) {
        if (!ps.pull_failed)
            pm_err_set(err, j.label, "cannot read archive: %s", archive_error_string(outer));
        goto done;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(outer, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            if (!ps.pull_failed)
                pm_err_set(err, j.label, "%s", archive_error_string(outer));
            goto done;
        }
        const char *name = archive_entry_pathname(e);
        if (index == 0) {
            if (!name || strcmp(name, PM_PARTS_MARKER) != 0) {
                pm_err_set(err, j.label, "not a parts bundle (no %s first)", PM_PARTS_MARKER);
                goto done;
            }
        } else if (!o || !o->claim || o->claim(o->claim_ctx, index - 1, archive_entry_size(e))) {
            if (!t && !(t = open_tree(&j)))
                goto done;
            pm_unpack_stats ps_part;
            int urc = unpack_into(t, &j, outer_pull, outer, &ps_part);
            if (urc == -2 && !ps.pull_failed)
                pm_err_set(err, j.label, "part '%s': %s", name ? name : "?", archive_error_string(outer));
            if (urc != 0)
                goto done;
            st->entries += ps_part.entries;
            st->bytes += ps_part.bytes;
        }
        index++;
    }
    if (index == 0) {
        pm_err_set(err, j.label, "archive has no entries (empty or not a bundle)");
        goto done;
    }
    rc = 0;
done:
    if (t && close_tree(t, &j, rc == 0) != 0 && rc == 0)
        rc = -1;
    if (ps.pull_failed)
        rc = -2;
    if (outer)
        archive_read_free(outer);
    return rc;
}

typedef struct mem_src {
    const void *data;
    size_t len;
    int done;
} mem_src;

static ssize_t mem_pull(void *ctx, const void **buf)
{
    mem_src *m = ctx;
    if (m->done)
        return 0;
    m->done = 1;
    *buf = m->data;
    return (ssize_t)m->len;
}

int pm_unpack_memory(const char *destdir, const void *data, size_t len, const pm_unpack_opts *o,
                     pm_unpack_stats *stats, pm_err *err)
{
    mem_src m = {data, len, 0};
    return pm_unpack(destdir, mem_pull, &m, o, stats, err);
}

int pm_unpack_parts_memory(const char *destdir, const void *data, size_t len, const pm_unpack_opts *o,
                           pm_unpack_stats *stats, pm_err *err)
{
    mem_src m = {data, len, 0};
    return pm_unpack_parts(destdir, mem_pull, &m, o, stats, err);
}
