/* manifest.c - reading a relocation manifest (see manifest.h). */
#include "manifest.h"

#include "strutil.h"

#include <stdlib.h>
#include <string.h>

/* Relative, no "..", no empty or absolute path, no python-mpi's own
 * names: a file inside the tree that a bundle may carry. */
static int inside_tree(const char *p)
{
    size_t plen = strlen(PM_RESERVED_PREFIX);
    if (!*p || *p == '/')
        return 0;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        if (n >= plen && strncmp(c, PM_RESERVED_PREFIX, plen) == 0)
            return 0;   /* stamps, locks, the manifests themselves */
        c += n;
        if (*c == '/')
            c++;
    }
    return 1;
}

static int starts_with(const char *s, const char *pre)
{
    return strncmp(s, pre, strlen(pre)) == 0;
}

static int add_file(pm_manifest *m, size_t *cap, const char *path, int binary, unsigned line)
{
    if (m->nfiles == *cap) {
        size_t n = *cap ? 2 * *cap : 64;
        pm_manifest_file *f = realloc(m->files, n * sizeof *f);
        if (!f)
            return -1;
        m->files = f;
        *cap = n;
    }
    m->files[m->nfiles++] = (pm_manifest_file){path, binary, line};
    return 0;
}

/* The lines of m->buf (len bytes, NUL-terminated): 0, or -1 with *why
 * set (NULL: out of memory). */
static int parse_lines(pm_manifest *m, size_t len, char **why)
{
    char *p = m->buf, *end = m->buf + len;
    unsigned line = 0, seen = 0;
    size_t cap = 0;
    for (; p < end; p++) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *eol = '\0';
        line++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            *why = pm_printf_alloc("line %u: a NUL byte: not a text file", line);
            return -1;
        }
        if (p == eol)
            continue;
        if (++seen == 1) {
            if (strcmp(p, PM_MANIFEST_MAGIC) != 0) {
                *why = pm_printf_alloc("line %u: not a python-mpi relocation manifest (version 1)", line);
                return -1;
            }
        } else if (seen == 2) {
            const char *prefix = p + strlen(PM_MANIFEST_PREFIX);
            if (!starts_with(p, PM_MANIFEST_PREFIX) || prefix[0] != '/') {
                *why = pm_printf_alloc("line %u: expected 'prefix /ABSOLUTE/PATH'", line);
                return -1;
            }
            /* Every absolute path in every listed file would be rewritten. */
            if (prefix[1] == '\0') {
                *why = pm_printf_alloc("line %u: expected 'prefix /ABSOLUTE/PATH', not the root '/'", line);
                return -1;
            }
            m->prefix = prefix;
        } else {
            int binary = starts_with(p, PM_MANIFEST_BINARY);
            if (!binary && !starts_with(p, PM_MANIFEST_TEXT)) {
                *why = pm_printf_alloc("line %u: expected 'text PATH' or 'binary PATH'", line);
                return -1;
            }
            const char *path = p + strlen(binary ? PM_MANIFEST_BINARY : PM_MANIFEST_TEXT);
            if (!inside_tree(path)) {
                *why = pm_printf_alloc("line %u: '%s' is not a path inside the tree", line, path);
                return -1;
            }
            if (add_file(m, &cap, path, binary, line) != 0)
                return -1;
        }
        p = eol;
    }
    if (seen < 2) {
        *why = pm_printf_alloc("line %u: truncated relocation manifest (no 'prefix' line)", line + 1);
        return -1;
    }
    return 0;
}

size_t pm_manifest_key(const char *path, char *key)
{
    size_t k = 0;
    for (const char *c = path; *c;) {
        size_t n = strcspn(c, "/");
        if (n && !(n == 1 && c[0] == '.')) {   /* "" and "." name nothing */
            if (k)
                key[k++] = '/';
            memcpy(key + k, c, n);
            k += n;
        }
        c += n;
        if (*c == '/')
            c++;
    }
    key[k] = '\0';
    return k;
}

typedef struct keyed {
    const char *key;
    const pm_manifest_file *f;
} keyed;

/* By key, then by line: a name's first listing comes first. */
static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->f->line > y->f->line) - (x->f->line < y->f->line);
}

/* Each file listed once: relocating one twice would apply the prefix
 * twice (and a prefix that the tree's path starts with grows the file
 * every time).  Sorted, not hashed: a hostile manifest cannot make this
 * slow.  0, or -1 with *why naming the earliest line that repeats one
 * (NULL: out of memory). */
static int refuse_repeats(const pm_manifest *m, char **why)
{
    if (m->nfiles < 2)
        return 0;
    size_t room = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        room += strlen(m->files[i].path) + 1;
    keyed *k = malloc(m->nfiles * sizeof *k);
    char *keys = malloc(room), *w = keys;
    if (!k || !keys) {
        free(k);
        free(keys);
        return -1;
    }
    for (size_t i = 0; i < m->nfiles; i++) {
        k[i] = (keyed){w, &m->files[i]};
        w += pm_manifest_key(m->files[i].path, w) + 1;
    }
    qsort(k, m->nfiles, sizeof *k, by_key);
    const pm_manifest_file *again = NULL, *first = NULL;
    for (size_t i = 1, start = 0; i < m->nfiles; i++) {
        if (strcmp(k[i].key, k[start].key) != 0) {
            start = i;
        } else if (!again || k[i].f->line < again->line) {
            again = k[i].f;
            first = k[start].f;
        }
    }
    int rc = 0;
    if (again) {
        rc = -1;
        *why = strcmp(again->path, first->path) == 0
             ? pm_printf_alloc("line %u: '%s' named twice (first on line %u)", again->line, again->path,
                               first->line)
             : pm_printf_alloc("line %u: '%s' named twice (first on line %u, as '%s')", again->line,
                               again->path, first->line, first->path);
    }
    free(k);
    free(keys);
    return rc;
}

int pm_manifest_parse(const char *data, size_t len, pm_manifest *m, char **why)
{
    memset(m, 0, sizeof *m);
    *why = NULL;
    if (len > PM_MANIFEST_MAX) {
        *why = pm_printf_alloc("%zu bytes: too big to be a relocation manifest (the limit is %zu MiB)",
                               len, PM_MANIFEST_MAX >> 20);
        return -1;
    }
    if (!(m->buf = malloc(len + 1)))
        return -1;
    if (len)
        memcpy(m->buf, data, len);
    m->buf[len] = '\0';
    if (parse_lines(m, len, why) != 0 || refuse_repeats(m, why) != 0) {
        pm_manifest_free(m);
        return -1;
    }
    return 0;
}

void pm_manifest_free(pm_manifest *m)
{
    free(m->buf);
    free(m->files);
    memset(m, 0, sizeof *m);
}
