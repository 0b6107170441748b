/* manifest_writer.h - building the relocation manifest a conda bundle
 * carries at PM_MANIFEST_DIR/NAME, in the format bcast/core/manifest.h defines
 * (and python-mpi and `pkgroot verify` read with pm_manifest_parse). */
#ifndef PK_MANIFEST_WRITER_H
#define PK_MANIFEST_WRITER_H

#include "manifest.h"
#include "nameset.h"

#include <stddef.h>

typedef struct pk_manifest {
    char *buf;
    size_t len, cap;
    size_t ntext, nbinary;
    pk_nameset listed;   /* pm_manifest_key of every path added */
} pk_manifest;

/* The two header lines.  0, or -1 after printing why (out of memory, a
 * newline in prefix, a prefix not absolute or the root, which
 * pm_manifest_parse would refuse). */
int pk_manifest_init(pk_manifest *m, const char *prefix);
/* One file.  0, or -1 after printing why (a newline in path; a path
 * already added, in any spelling pm_manifest_key gives the same: the
 * parser refuses a file listed twice). */
int pk_manifest_add(pk_manifest *m, const char *path, int binary);
void pk_manifest_free(pk_manifest *m);

#endif
