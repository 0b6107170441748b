/* strutil.h - heap strings, so no path ever lives in a fixed buffer, and
 * the small string tests every file would otherwise write again. */
#ifndef PM_STRUTIL_H
#define PM_STRUTIL_H

#include <stddef.h>

/* malloc'd result or NULL (out of memory or format error). */
char *pm_printf_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a + "/" + b, without doubling a trailing slash of a; malloc'd or NULL. */
char *pm_path_join(const char *a, const char *b);
/* Parse a decimal size with optional K/M/G suffix (powers of 1024).
 * Returns 0 on success, -1 if malformed or zero or over max. */
int pm_parse_size(const char *s, size_t max, size_t *out);

/* Does s end with suf?  (Every s ends with "", and suf with itself.) */
int pm_ends_with(const char *s, const char *suf);

/* readlink(2) into a buffer grown to fit; malloc'd or NULL (errno set). */
char *pm_readlink(const char *path);
/* The same for name relative to dirfd (readlinkat). */
char *pm_readlinkat(int dirfd, const char *name);

#endif
