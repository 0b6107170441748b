/* links.c - deferred symbolic links (see links.h). */
#include "links.h"

#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int pm_links_add(pm_links *l, const char *label, const char *path, const char *target)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        link_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            pm_error(label, "out of memory");
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
        pm_error(label, "out of memory");
        return -1;
    }
    l->n++;
    return 0;
}

/* Open the directory that will hold path's last component, walking from
 * root one component at a time with O_NOFOLLOW (a link planted by an
 * earlier entry is never followed) and creating what is missing.  Returns
 * the fd and sets *base to the last component, or -1 with errno. */
static int open_parent(int root, char *path, const char **base)
{
    int dir = dup(root);
    char *p = path;
    for (char *slash; dir >= 0 && (slash = strchr(p, '/'));) {
        *slash = '\0';
        if (*p && strcmp(p, ".") != 0) {
            int next = openat(dir, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT && mkdirat(dir, p, 0755) == 0)
                next = openat(dir, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int saved = errno;
            close(dir);
            errno = saved;
            dir = next;
        }
        *slash = '/';
        p = slash + 1;
    }
    *base = p;
    return dir;
}

long pm_links_create(pm_links *l, const char *destdir)
{
    if (!l || l->n == 0)
        return 0;
    char *why = NULL;
    int root = pm_trust_open(destdir, PM_TRUST_MINE, NULL, NULL, &why);
    if (root < 0) {
        pm_error(l->v[0].label, "cannot open %s: %s", destdir, why ? why : "out of memory");
        free(why);
        return -1;
    }
    long made = 0;
    for (size_t i = 0; i < l->n; i++) {
        link_entry *e = &l->v[i];
        const char *base;
        int dir = open_parent(root, e->path, &base);
        if (dir < 0 || symlinkat(e->target, dir, base) != 0) {
            pm_error(e->label, "entry '%s': cannot create the symbolic link under %s: %s", e->path,
                     destdir, errno == ELOOP || errno == ENOTDIR
                         ? "its directory is a symbolic link"
                         : strerror(errno));
            if (dir >= 0)
                close(dir);
            made = -1;
            break;
        }
        close(dir);
        made++;
    }
    close(root);
    forget(l);
    return made;
}
