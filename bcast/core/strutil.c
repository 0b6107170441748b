/* strutil.c - heap string helpers (see strutil.h). */
#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *pm_printf_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

char *pm_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 0 && a[la - 1] == '/')
        la--;   /* "/" itself becomes "" + "/" + b */
    while (*b == '/')
        b++;
    return pm_printf_alloc("%.*s/%s", (int)la, a, b);
}

int pm_ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && memcmp(s + ls - lf, suf, lf) == 0;
}

int pm_parse_size(const char *s, size_t max, size_t *out)
{
    /* strtoull would skip blanks and take a sign: digits only. */
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mult = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1ULL << 10; end++; break;
    case 'm': case 'M': mult = 1ULL << 20; end++; break;
    case 'g': case 'G': mult = 1ULL << 30; end++; break;
    default: return -1;
    }
    if (*end != '\0' || v == 0 || v > max / mult)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

char *pm_readlinkat(int dirfd, const char *name)
{
    for (size_t cap = 128; cap <= (1u << 20); cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlinkat(dirfd, name, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
    errno = ENAMETOOLONG;
    return NULL;
}

char *pm_readlink(const char *path)
{
    return pm_readlinkat(AT_FDCWD, path);
}
