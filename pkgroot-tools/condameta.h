/* condameta.h - which files of a conda prefix carry the prefix, as its
 * package records in conda-meta/ say (JSON, read with the embedded
 * Python's json module): "paths_data"."paths"[] entries with a
 * "prefix_placeholder", and their "file_mode"; for older records without
 * paths_data, the package's info/has_prefix if its extracted copy is still
 * in the package cache ("extracted_package_dir", or "link"."source"). */
#ifndef PK_CONDAMETA_H
#define PK_CONDAMETA_H

#include <stddef.h>

typedef struct pk_declared {
    char *path;     /* relative to the prefix, as in the records */
    int binary;     /* file_mode binary (else text) */
} pk_declared;

typedef struct pk_condameta {
    pk_declared *files;   /* sorted by path (pk_condameta_find) */
    size_t nfiles;
    size_t npackages;     /* package records read */
    size_t n_paths_data;  /* ... that had paths_data */
    char *has_prefix;     /* names of those read through info/has_prefix, ", "-separated */
    char *unknown;        /* names of those with neither: only the scan finds theirs */
} pk_condameta;

/* 0, or -1 after printing why (an unreadable or malformed record). */
int pk_condameta_read(const char *prefix, pk_condameta *m);
/* The record's entry for path, or NULL. */
const pk_declared *pk_condameta_find(const pk_condameta *m, const char *path);
void pk_condameta_free(pk_condameta *m);

#endif
