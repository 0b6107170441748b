/* writer.h - writing a bundle: a tar archive, compressed by OUT's suffix,
 * that appears at OUT only when complete (written to a temporary file in
 * the same directory and renamed; removed on failure or on SIGINT/SIGTERM/
 * SIGHUP). */
#ifndef PK_WRITER_H
#define PK_WRITER_H

#include "partpool.h"
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

typedef struct pk_writer pk_writer;

/* 0 if OUT's suffix names a compression we write, else -1 after printing
 * why; lets commands refuse a bad OUT before doing any work. */
int pk_writer_check_suffix(const char *out);

/* OUT's file name without its directory and bundle suffix
 * ("/p/numpy.tar.zst" -> "numpy"); malloc'd or NULL. */
char *pk_bundle_stem(const char *out);

/* A path inside the bundle from the user's spelling: "." and empty
 * components dropped ("" is the root), no leading '/', no "..".
 * malloc'd, or NULL (errno EINVAL if refused, ENOMEM). */
char *pk_bundle_path(const char *inner);

/* NULL after printing why (unknown suffix, cannot create). */
pk_writer *pk_writer_open(const char *out, int verbose);

/* Refuse any file content or link target containing needle (which must
 * outlive w): adding it fails, naming the entry and what (e.g. "the
 * temporary install prefix").  One needle per writer. */
int pk_writer_forbid(pk_writer *w, const char *needle, const char *what);

/* Add the tree at src (a directory, or a single file) as dest inside the
 * bundle (a pk_bundle_path; "" = the root, for directories only).  Parent
 * directories of dest get entries once per bundle.  skip, if not NULL, is
 * a NULL-terminated list of paths relative to src to leave out (a
 * trailing '*' matches a prefix).  Symbolic links are stored as links
 * when they stay inside src, and as the file they point to otherwise (a
 * bundle never links outside itself: bcast's unpacker refuses such links).
 * The bundle being written, and OUT if it already exists, are never added.
 * Returns 0, or -1 after printing why. */
int pk_writer_add_tree(pk_writer *w, const char *src, const char *dest,
                       const char *const *skip);

/* What a maker sees of each entry below a tree's root before it is added,
 * and may change. */
typedef struct pk_entry {
    const char *src;        /* the path on disk */
    const char *rel;        /* the path below the tree's root */
    const char *name;       /* the path in the bundle */
    const struct stat *st;  /* lstat(src) */
    char *data;             /* out: new contents for a regular file
                             * (malloc'd; the writer frees it) */
    size_t len;
    int source_only;        /* out: a .py whose contents change on the node
                             * (relocation): no bytecode, it goes as source */
} pk_entry;

enum { PK_ADD = 0, PK_SKIP = 1 };

/* PK_ADD, PK_SKIP (for a directory: all below it too), or -1 after
 * printing why (adding the tree fails). */
typedef int (*pk_entry_fn)(void *ctx, pk_entry *e);

/* pk_writer_add_tree, asking fn (if not NULL) about every entry below src
 * that skip does not already leave out. */
int pk_writer_add_tree_with(pk_writer *w, const char *src, const char *dest,
                            const char *const *skip, pk_entry_fn fn, void *ctx);

/* A regular file from memory at name (a pk_bundle_path), with its parent
 * directories.  mtime: for the file and new parents (reproducible bundles
 * need a stable one).  Returns 0, or -1 after printing why. */
int pk_writer_add_data(pk_writer *w, const char *name, const void *data, size_t len,
                       mode_t perm, time_t mtime);

/* Compile every .py added from now on into __pycache__ (pyc.h), leaving
 * out the tree's own __pycache__ and *.pyc; PK_PYC_KEEP (the default) adds
 * files as they are, PK_PYC_NONE leaves all bytecode out. */
enum pk_pyc_mode;
void pk_writer_set_pyc(pk_writer *w, enum pk_pyc_mode mode);
/* The mode of writers opened from now on (pkgroot --pyc). */
void pk_writer_set_default_pyc(enum pk_pyc_mode mode);
/* Threads compressing the parts of .ptar writers opened from now on
 * (pkgroot -j); 0: the online CPUs.  The bundle is the same for any. */
void pk_writer_set_default_threads(int threads);
/* How .ptar writers opened from now on compress their parts (pkgroot
 * --parts; see enum pk_part_codec). */
void pk_writer_set_default_part_codec(enum pk_part_codec codec);

/* The next writer opened writes its bundle to fd (pkgroot --out-fd): an
 * empty regular file at offset 0, written from start to end and never
 * rewritten (a parts bundle's count stays 0), so a reader can send its
 * bytes while they are written; nothing is renamed or removed (OUT only
 * names the format); the exit status says whether the bundle is whole. */
void pk_writer_set_stream_fd(int fd);

/* Finish and rename into place (commit = 1), or discard (commit = 0).
 * Frees w.  Returns 0, or -1 after printing why. */
int pk_writer_close(pk_writer *w, int commit);

#endif
