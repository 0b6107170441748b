/* writer.h - writing a bundle: a tar archive, compressed by OUT's suffix,
 * that appears at OUT only when complete (written to a temporary file in
 * the same directory and renamed; removed on failure or on SIGINT/SIGTERM/
 * SIGHUP). */
#ifndef PK_WRITER_H
#define PK_WRITER_H

typedef struct pk_writer pk_writer;

/* 0 if OUT's suffix names a compression we write, else -1 after printing
 * why; lets commands refuse a bad OUT before doing any work. */
int pk_writer_check_suffix(const char *out);

/* A path inside the bundle from the user's spelling: "." and empty
 * components dropped ("" is the root), no leading '/', no "..".
 * malloc'd, or NULL (errno EINVAL if refused, ENOMEM). */
char *pk_bundle_path(const char *inner);

/* NULL after printing why (unknown suffix, cannot create). */
pk_writer *pk_writer_open(const char *out, int verbose);

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

/* Finish and rename into place (commit = 1), or discard (commit = 0).
 * Frees w.  Returns 0, or -1 after printing why. */
int pk_writer_close(pk_writer *w, int commit);

#endif
