/* manifest.h - the relocation manifest a conda bundle carries at
 * .python-mpi-relocate/NAME (NAME: the bundle's name without its suffix,
 * so bundles sharing a tree never collide), which python-mpi applies on
 * each node after delivery (bcast/relocate.h):
 *     python-mpi-relocate 1
 *     prefix /the/original/prefix
 *     text PATH | binary PATH      (PATH as stored in the bundle)
 * One line per file: a path holding a newline cannot be listed. */
#ifndef PK_MANIFEST_H
#define PK_MANIFEST_H

#include <stddef.h>

#define PK_MANIFEST_DIR ".python-mpi-relocate"

typedef struct pk_manifest {
    char *buf;
    size_t len, cap;
    size_t ntext, nbinary;
} pk_manifest;

/* The two header lines.  0, or -1 after printing why (out of memory, a
 * newline in prefix). */
int pk_manifest_init(pk_manifest *m, const char *prefix);
/* One file.  0, or -1 after printing why. */
int pk_manifest_add(pk_manifest *m, const char *path, int binary);
void pk_manifest_free(pk_manifest *m);

#endif
