/* unpack.h - extracting one bundle from a stream of bytes into a directory.
 *
 * The bytes come from a pull callback (the broadcast, a file, a buffer):
 * nothing is staged in a temporary tarball.  A bundle is untrusted input:
 * absolute paths, ".." components, links leading outside the directory,
 * hard links to anything but a regular file already in the tree, names
 * reserved for python-mpi's own files (PM_RESERVED_PREFIX, manifest.h), devices and
 * FIFOs are refused; set-id bits and group/other write permission are
 * dropped; an entry for the destination itself ("." or "./") is skipped,
 * so the destination keeps its owner's mode; and a node's delivery may not
 * write more bytes or entries than the budget below allows.  The
 * destination is opened as a trusted directory (trust.h); libarchive
 * reads, and every entry is written beneath that descriptor by
 * treewrite.h, each name resolved once without following any link, so
 * that the unpackers of a parts bundle, writing one tree at once, cannot
 * lead each other outside it.  Messages name entries as the bundle does:
 * log.h escapes them. */
#ifndef PM_UNPACK_H
#define PM_UNPACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "links.h"

/* Parts bundles: an uncompressed tar whose first entry is this marker and
 * whose other entries are independently compressed tars ("parts"), so that
 * every rank of a node can unpack some parts in parallel. */
#define PM_PARTS_MARKER ".python-mpi-parts"
#define PM_PARTS_MARKER_TEXT "python-mpi parts bundle, version 1\n"
/* pkgroot writes the number of parts after the text, as this tag and ten
 * digits and a newline; bundles without it are read all the same. */
#define PM_PARTS_COUNT_TAG "parts "
#define PM_PARTS_COUNT_DIGITS 10

/* PM_RESERVED_PREFIX, the names python-mpi keeps in a tree: manifest.h. */
#include "manifest.h"

/* Bounded work: whatever a bundle says, a node writes at most
 *   - max_bytes (PYTHON_MPI_MAX_UNPACKED; 0: the size of the
 *     destination's file system, the default): every file's declared
 *     size before it is written, and any data a sparse map carries beyond
 *     it, block by block before the block is written (no block may reach
 *     past the limit either); plus the bytes of every symbolic link's name
 *     and target (deferred links are held in memory, links.h) and of every
 *     directory's name (kept for the last pass);
 *   - max_entries (PYTHON_MPI_MAX_ENTRIES; 0: half the destination file
 *     system's free inodes when the budget is made, or 2^24 if it counts
 *     none): files, directories, symbolic and hard links alike.
 * A budget is an object the caller owns.  A delivery makes one per node
 * (pm_budget_new, before any unpacker of the node writes) and hands it to
 * every pm_unpack* call of every bundle; the node's unpackers that share a
 * ring (ring.h) count in its two shared words (pm_budget_share: each adds
 * what it counted so far and then counts there), so the limit holds
 * however many unpackers take parts.  Where there is no shared window only
 * the node's leader unpacks (unpackers.h, deliver.c), so its own count is
 * the node's: the limit is never multiplied by the unpackers.  A call
 * given no budget (tools, tests) has one of its own, of the options'
 * limits.  The entry that would pass a limit is refused. */
typedef struct pm_budget pm_budget;
/* NULL if out of memory.  destdir: sized from its file system now (NULL,
 * or not known yet: at the first call, from the opened destination). */
pm_budget *pm_budget_new(const char *destdir, uint64_t max_bytes, uint64_t max_entries);
/* words: two zeroed 64-bit atomic words all of the node's unpackers map
 * (pm_ring_budget); NULL: nothing shared.  Only the first call counts. */
void pm_budget_share(pm_budget *b, _Atomic uint64_t *words);
void pm_budget_free(pm_budget *b);

/* Return the number of bytes at *buf (valid until the next call), 0 at the
 * end of the stream, or -1 if the source failed (the source reports why). */
typedef ssize_t (*pm_pull_fn)(void *ctx, const void **buf);

/* For a parts bundle: does this rank unpack part i (0 for the first after
 * the marker; size: its compressed bytes)?  The ranks of a node that share
 * a stream in memory take parts first come, first served (ring.h). */
typedef int (*pm_claim_fn)(void *ctx, uint64_t index, int64_t size);

/* How to unpack: every field may be left zero. */
typedef struct pm_unpack_opts {
    const char *label;      /* names the bundle in reasons (NULL: destdir) */
    pm_links *links;        /* NULL: symbolic links made as they come
                               (replacing what is at their name, a
                               directory excepted); or, when destdir was
                               empty before this delivery, collected to be
                               made at the end (links.h), where nothing may
                               be in their way */
    pm_budget *budget;      /* NULL: a budget of this call's own, of: */
    uint64_t max_bytes;     /*   0: the file system's size */
    uint64_t max_entries;   /*   0: half its free inodes */
    pm_claim_fn claim;      /* parts bundles: NULL takes every part */
    void *claim_ctx;
} pm_unpack_opts;

typedef struct pm_unpack_stats {
    uint64_t entries;   /* entries extracted */
    uint64_t bytes;     /* bytes of file data written */
} pm_unpack_stats;

/* Extract the stream into destdir (which must exist).  The working
 * directory is never used, and nothing is printed: returns 0 on success;
 * -1 on a bad or unsafe archive or a write failure, with the reason in
 * *err (err.h: the caller prints it); -2 when the pull callback failed
 * (err not set: the source reports its own failure).  An archive with no
 * entries is an error.  stats and err may be NULL. */
int pm_unpack(const char *destdir, pm_pull_fn pull, void *ctx, const pm_unpack_opts *o,
              pm_unpack_stats *stats, pm_err *err);

/* A parts bundle from the stream: this rank extracts the parts o->claim
 * gives it and skips the others, so the ranks of a node that all read the
 * same stream share the work.  Same returns as pm_unpack; a stream that
 * is not a parts bundle is an error. */
int pm_unpack_parts(const char *destdir, pm_pull_fn pull, void *ctx, const pm_unpack_opts *o,
                    pm_unpack_stats *stats, pm_err *err);

/* The same from a memory buffer (for tools, tests and the fuzzer). */
int pm_unpack_memory(const char *destdir, const void *data, size_t len, const pm_unpack_opts *o,
                     pm_unpack_stats *stats, pm_err *err);
int pm_unpack_parts_memory(const char *destdir, const void *data, size_t len, const pm_unpack_opts *o,
                           pm_unpack_stats *stats, pm_err *err);

/* Does a bundle start with the parts marker?  head: its first bytes. */
int pm_is_parts_bundle(const void *head, size_t len);

/* The number of parts the marker records (head: the first 1024 bytes or
 * fewer), or 0 if it records none.  Untrusted: it only bounds how many
 * ranks share the work, never which entries are unpacked. */
uint64_t pm_parts_count(const void *head, size_t len);

/* Pure check used for every entry: 0 if the relative path stays inside the
 * root (no leading '/', no ".." that climbs above the root), -1 otherwise.
 * For symlinks, pass the link's own path in base and its target in path:
 * the target is resolved from base's directory. */
int pm_path_is_contained(const char *base, const char *path);

struct archive_entry;
/* The rules above for one entry, checked without writing anything (the
 * unpacker applies them to every entry; `pkgroot verify` reuses them):
 * 0 if the entry would be extracted, else -1 with *why set to a malloc'd
 * reason such as "path leads outside the destination" (NULL if out of
 * memory).  Set-id bits and group/other write permission are not refused:
 * the unpacker drops them. */
int pm_entry_check(struct archive_entry *e, char **why);

#endif
