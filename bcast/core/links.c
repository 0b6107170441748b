/* links.c - deferred symbolic links (see links.h). */
#include "links.h"

#include "strutil.h"
#include "treewrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct link_entry {
    char *label, *path, *target;
} link_entry;

struct pm_links {
    link_entry *v;
    size_t n, cap;
};

pm_links *pm_links_new(void)
{
    return calloc(1, sizeof(pm_links));
}

static void forget(pm_links *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].label);
        free(l->v[i].path);
        free(l->v[i].target);
    }
    l->n = 0;
}

void pm_links_free(pm_links *l)
{
    if (!l)
        return;
    forget(l);
    free(l->v);
    free(l);
}

int pm_links_add(pm_links *l, const char *label, const char *path, const char *target, pm_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        link_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            pm_err_set(err, label, "out of memory");
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    link_entry *e = &l->v[l->n];
    e->label = strdup(label);
    e->path = strdup(path);
    e->target = strdup(target);
    if (!e->label || !e->path || !e->target) {
        free(e->label);
        free(e->path);
        free(e->target);
        pm_err_set(err, label, "out of memory");
        return -1;
    }
    l->n++;
    return 0;
}

long pm_links_create(pm_links *l, const char *destdir, pm_err *err)
{
    if (!l || l->n == 0)
        return 0;
    char *why = NULL;
    pm_tree *t = pm_tree_open(destdir, &why);
    if (!t) {
        pm_err_set(err, l->v[0].label, "cannot open %s: %s", destdir, why ? why : "out of memory");
        free(why);
        return -1;
    }
    long made = 0;
    for (size_t i = 0; i < l->n; i++) {
        /* The unpacker's resolution (treewrite.h): each directory opened
         * beneath the root without following a link.  Nothing is replaced:
         * in a fresh tree a name taken already is the bundle's own doing. */
        link_entry *e = &l->v[i];
        const char *base;
        char *rel = pm_path_normal(e->path);
        int dir = rel && *rel ? pm_tree_parent(t, rel, &base) : (errno = rel ? EEXIST : ENOMEM, -1);
        if (dir < 0 || symlinkat(e->target, dir, base) != 0) {
            pm_err_set(err, e->label, "entry '%s': cannot create the symbolic link under %s: %s", e->path,
                       destdir, errno == ELOOP || errno == ENOTDIR
                           ? "its directory is a symbolic link"
                           : strerror(errno));
            free(rel);
            made = -1;
            break;
        }
        free(rel);
        made++;
    }
    pm_tree_close(t);
    forget(l);
    return made;
}
