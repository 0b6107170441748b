/* nameset.h - a set of entry names with one byte each (the entry's type),
 * for checks that look back at earlier entries (verify: writing through a
 * symbolic link, manifest paths that must be files). */
#ifndef PK_NAMESET_H
#define PK_NAMESET_H

#include <stddef.h>

typedef struct pk_nameset {
    char **keys;
    char *vals;
    size_t cap, n;
} pk_nameset;

/* Add or overwrite.  0, or -1 if out of memory. */
int pk_nameset_put(pk_nameset *s, const char *name, size_t len, char val);
/* The value for name[0..len), or 0 if absent. */
char pk_nameset_get(const pk_nameset *s, const char *name, size_t len);
/* 1 with *len its length if a proper prefix of name that ends before a
 * '/' is in s (the shortest), else 0: one pass over name, however deep. */
int pk_nameset_find_prefix(const pk_nameset *s, const char *name, size_t *len);
void pk_nameset_free(pk_nameset *s);

#endif
