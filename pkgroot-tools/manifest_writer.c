/* manifest_writer.c - building a relocation manifest (see manifest_writer.h). */
#include "manifest_writer.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static int append(pk_manifest *m, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (m->len + la + lb + 2 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + la + lb + 2)
            cap *= 2;
        char *p = realloc(m->buf, cap);
        if (!p) {
            pm_error(NULL, "out of memory");
            return -1;
        }
        m->buf = p;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, a, la);
    memcpy(m->buf + m->len + la, b, lb);
    m->len += la + lb;
    m->buf[m->len++] = '\n';
    m->buf[m->len] = '\0';
    return 0;
}

int pk_manifest_init(pk_manifest *m, const char *prefix)
{
    memset(m, 0, sizeof *m);
    if (strchr(prefix, '\n') || strchr(prefix, '\r')) {
        pm_error(prefix, "a prefix holding a newline cannot be relocated");
        return -1;
    }
    /* pm_manifest_parse refuses it: every path would be rewritten. */
    if (prefix[0] != '/' || prefix[strspn(prefix, "/")] == '\0') {
        pm_error(prefix, "only an absolute prefix other than the root '/' can be relocated");
        return -1;
    }
    return append(m, PM_MANIFEST_MAGIC, "") == 0 && append(m, PM_MANIFEST_PREFIX, prefix) == 0 ? 0 : -1;
}

/* 0 after remembering path, or -1 after printing why: already listed. */
static int listed_before(pk_manifest *m, const char *path)
{
    char *key = malloc(strlen(path) + 1);
    if (!key) {
        pm_error(NULL, "out of memory");
        return -1;
    }
    size_t len = pm_manifest_key(path, key);
    int rc = 0;
    if (pk_nameset_get(&m->listed, key, len)) {
        pm_error(path, "refusing to list a file twice in the relocation manifest");
        rc = -1;
    } else if (pk_nameset_put(&m->listed, key, len, 1) != 0) {
        pm_error(NULL, "out of memory");
        rc = -1;
    }
    free(key);
    return rc;
}

int pk_manifest_add(pk_manifest *m, const char *path, int binary)
{
    if (strchr(path, '\n')) {
        /* Said on one line: the newline shown as \n. */
        char *shown = malloc(2 * strlen(path) + 1);
        size_t k = 0;
        for (const char *p = path; shown && *p; p++) {
            if (*p == '\n') {
                shown[k++] = '\\';
                shown[k++] = 'n';
            } else
                shown[k++] = *p;
        }
        if (shown)
            shown[k] = '\0';
        pm_error(shown ? shown : "?", "refusing a path holding a newline: it cannot be listed in the relocation manifest");
        free(shown);
        return -1;
    }
    if (listed_before(m, path) != 0)
        return -1;
    if (append(m, binary ? PM_MANIFEST_BINARY : PM_MANIFEST_TEXT, path) != 0)
        return -1;
    if (binary)
        m->nbinary++;
    else
        m->ntext++;
    return 0;
}

void pk_manifest_free(pk_manifest *m)
{
    free(m->buf);
    pk_nameset_free(&m->listed);
    memset(m, 0, sizeof *m);
}
