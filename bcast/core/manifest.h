/* manifest.h - the relocation manifest: the one definition of its format.
 * pkgroot writes it (pkgroot-tools/manifest_writer.h, with these names),
 * python-mpi applies it after delivery (relocate.h) and `pkgroot verify`
 * checks it, both through pm_manifest_parse, so what verify passes is
 * what python-mpi accepts.
 *
 * A bundle that needs relocation (a conda environment) holds
 * PM_MANIFEST_DIR/NAME (NAME: the bundle's name without its suffix, so
 * bundles sharing a tree never collide), text with one entry a line:
 *     python-mpi-relocate 1           PM_MANIFEST_MAGIC
 *     prefix /the/original/prefix     an absolute path, not "/" alone
 *     text PATH | binary PATH         one line per file to rewrite
 * PATH is relative to the tree: not empty, not absolute, no ".." and no
 * component starting with PM_RESERVED_PREFIX (python-mpi's own files,
 * below).  Empty lines are skipped; a path holding a newline cannot be
 * listed; a NUL byte is refused.  Each file is listed once: a second line
 * naming it (as text or binary, spelled the same or with other "." or
 * empty components, "./a" or "a//b") is refused, since every listing is
 * one more rewrite and a prefix the tree's path starts with ("/dev/shm")
 * grows the file by each (issue 21).  Two manifests (two bundles) naming
 * one file are not a manifest's to see: relocation's budget bounds them
 * (relocate.h). */
#ifndef PM_MANIFEST_H
#define PM_MANIFEST_H

#include <stddef.h>

/* Names python-mpi keeps in a tree (stamps, locks, markers): no entry of a
 * bundle may have a component that starts with this, except the
 * relocation manifests (PM_MANIFEST_DIR at the top, plain files directly
 * in it), which pkgroot writes (unpack.h); the manifests' own names are
 * checked against it here. */
#define PM_RESERVED_PREFIX ".python-mpi-"

#define PM_MANIFEST_DIR ".python-mpi-relocate"
#define PM_MANIFEST_MAGIC "python-mpi-relocate 1"
#define PM_MANIFEST_PREFIX "prefix "
#define PM_MANIFEST_TEXT "text "
#define PM_MANIFEST_BINARY "binary "
/* A manifest is small; a bigger one is refused rather than read. */
#define PM_MANIFEST_MAX ((size_t)64 << 20)

typedef struct pm_manifest_file {
    const char *path;   /* relative to the tree; inside the pm_manifest */
    int binary;         /* 1: "binary PATH", 0: "text PATH" */
    unsigned line;      /* its line number, for messages */
} pm_manifest_file;

typedef struct pm_manifest {
    char *buf;                  /* owned: the text the strings point into */
    const char *prefix;         /* the original prefix, absolute */
    pm_manifest_file *files;    /* owned: nfiles entries, in manifest order */
    size_t nfiles;
} pm_manifest;

/* Parse data[0..len) (need not be NUL-terminated).  0 with *m filled (free
 * it with pm_manifest_free); or -1 with *m empty and *why a malloc'd
 * one-line reason starting with the line it concerns ("line 2: ...",
 * "line 9: 'a' named twice (first on line 3)"), or NULL if out of memory.  Nothing is looked up: that the files exist is
 * the caller's to check. */
int pm_manifest_parse(const char *data, size_t len, pm_manifest *m, char **why);

/* The spelling of path that every spelling of the same name shares: its
 * components without "" and "." ("./a//b/" gives "a/b").  key has room
 * for strlen(path) + 1 bytes; returns strlen(key).  Names that differ
 * here can still be one file (hard links): relocation rewrites each name
 * once, from the content it had (relocate.h). */
size_t pm_manifest_key(const char *path, char *key);

/* Frees what pm_manifest_parse gave; m may be all zeros.  m is zeroed. */
void pm_manifest_free(pm_manifest *m);

#endif
