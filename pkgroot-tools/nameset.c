/* nameset.c - an open-addressing hash set of names (see nameset.h). */
#include "nameset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static size_t slot(char *const *keys, size_t cap, const char *name, size_t len)
{
    size_t i = (size_t)hash(name, len) & (cap - 1);
    while (keys[i] && !(strncmp(keys[i], name, len) == 0 && keys[i][len] == '\0'))
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(pk_nameset *s)
{
    size_t cap = s->cap ? 2 * s->cap : 1024;
    char **keys = calloc(cap, sizeof *keys);
    char *vals = calloc(cap, 1);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->keys[i]) {
            size_t j = slot(keys, cap, s->keys[i], strlen(s->keys[i]));
            keys[j] = s->keys[i];
            vals[j] = s->vals[i];
        }
    free(s->keys);
    free(s->vals);
    s->keys = keys;
    s->vals = vals;
    s->cap = cap;
    return 0;
}

int pk_nameset_put(pk_nameset *s, const char *name, size_t len, char val)
{
    if ((s->n + 1) * 2 > s->cap && grow(s) != 0)
        return -1;
    size_t i = slot(s->keys, s->cap, name, len);
    if (!s->keys[i]) {
        if (!(s->keys[i] = strndup(name, len)))
            return -1;
        s->n++;
    }
    s->vals[i] = val;
    return 0;
}

char pk_nameset_get(const pk_nameset *s, const char *name, size_t len)
{
    if (!s->cap)
        return 0;
    size_t i = slot(s->keys, s->cap, name, len);
    return s->keys[i] ? s->vals[i] : 0;
}

int pk_nameset_find_prefix(const pk_nameset *s, const char *name, size_t *len)
{
    if (!s->n)
        return 0;
    /* One pass: the hash of each prefix is the running hash at its '/'. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t k = 0; name[k]; k++) {
        if (name[k] == '/') {
            for (size_t i = (size_t)h & (s->cap - 1); s->keys[i]; i = (i + 1) & (s->cap - 1))
                if (strncmp(s->keys[i], name, k) == 0 && s->keys[i][k] == '\0') {
                    *len = k;
                    return 1;
                }
        }
        h = (h ^ (unsigned char)name[k]) * 1099511628211ULL;
    }
    return 0;
}

void pk_nameset_free(pk_nameset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}
