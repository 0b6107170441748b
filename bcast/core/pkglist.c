/* pkglist.c - parsing bundle lists (see pkglist.h). */
#include "pkglist.h"
#include "strutil.h"
#include "trust.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pm_pkglist_init(pm_pkglist *l)
{
    memset(l, 0, sizeof *l);
}

void pm_pkglist_free(pm_pkglist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    pm_pkglist_init(l);
}

static int set_err(char **err, char *msg)
{
    *err = msg ? msg : strdup("out of memory");
    return -1;
}

int pm_pkglist_add(pm_pkglist *l, const char *name, const char *root,
                   int require_root, char **err)
{
    *err = NULL;
    if (!*name)
        return set_err(err, strdup("empty bundle name"));
    char *path;
    if (name[0] == '/') {
        path = strdup(name);
    } else if (root && *root) {
        path = pm_path_join(root, name);
    } else if (require_root) {
        return set_err(err, pm_printf_alloc(
            "bundle '%s' is relative but PYTHON_MPI_PKGROOT is not set", name));
    } else {
        path = strdup(name);
    }
    if (!path)
        return set_err(err, NULL);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) {
            free(path);
            return set_err(err, NULL);
        }
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->n++] = path;
    return 0;
}

int pm_pkglist_parse(pm_pkglist *l, const char *spec, const char *root,
                     int require_root, char **err)
{
    *err = NULL;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            char *item = strndup(p, len);
            if (!item)
                return set_err(err, NULL);
            int rc = pm_pkglist_add(l, item, root, require_root, err);
            free(item);
            if (rc)
                return rc;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return 0;
}

int pm_pkglist_parse_lines(pm_pkglist *l, const char *text, const char *root,
                           char **err)
{
    *err = NULL;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b && *b != '#') {
            char *item = strndup(b, (size_t)(e - b));
            if (!item)
                return set_err(err, NULL);
            int rc = pm_pkglist_add(l, item, root, 0, err);
            free(item);
            if (rc)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int pm_pkglist_resolve(pm_pkglist *l, char **err)
{
    *err = NULL;
    for (size_t i = 0; i < l->n; i++) {
        char *why = NULL;
        char *real = pm_trust_realpath(l->paths[i], &why);
        if (real) {
            free(l->paths[i]);
            l->paths[i] = real;
        } else if (errno == EPERM || errno == ENOMEM) {
            int rc = set_err(err, why ? pm_printf_alloc("%s: refusing to read the bundle: %s", l->paths[i], why)
                                      : NULL);
            free(why);
            return rc;
        }
        free(why);   /* missing, unreadable ...: opening it says so */
    }
    return 0;
}
