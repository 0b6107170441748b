/* envmake.c - PYTHON_MPI_ENV's bundles made by pkgroot (see envmake.h). */
#include "envmake.h"
#include "envfeed.h"
#include "err.h"
#include "jobdir.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const pm_envmaker_name[] = {"python", "venv", "conda", "dir", "ext", "pth"};

int pm_envpiece_add(pm_envpiece *p, enum pm_envmaker kind, char *path)
{
    if (!path)
        return -1;
    if (p->n == PM_ENVPIECE_MAX) {
        pm_error(path, "PYTHON_MPI_ENV: more than %zu directories", p->n);
        free(path);
        return -1;
    }
    p->items[p->n].kind = kind;
    p->items[p->n].exclude = NULL;
    p->items[p->n++].path = path;
    return 0;
}

int pm_envitem_exclude(pm_envitem *it, const char *rel)
{
    size_t n = 0;
    while (it->exclude && it->exclude[n])
        n++;
    char **more = realloc(it->exclude, (n + 2) * sizeof *more);
    char *copy = more ? strdup(rel) : NULL;
    if (more)
        it->exclude = more;
    if (!copy) {
        pm_error(it->path, "out of memory");
        return -1;
    }
    more[n] = copy;
    more[n + 1] = NULL;
    return 0;
}

void pm_envpiece_free(pm_envpiece *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].path);
        for (char **x = p->items[i].exclude; x && *x; x++)
            free(*x);
        free(p->items[i].exclude);
    }
    free(p->pth_at);
    pm_envexts_free(&p->exts);
    p->n = 0;
}

static char *pkgroot_path(void)
{
    char *self = pm_readlink("/proc/self/exe");
    char *slash = self ? strrchr(self, '/') : NULL;
    char *pk = NULL;
    if (slash) {
        *slash = '\0';
        pk = pm_path_join(self, "pkgroot");
    }
    free(self);
    if (pk && access(pk, X_OK) != 0) {
        pm_error(pk, "PYTHON_MPI_ENV: cannot make the bundles: no pkgroot beside python-mpi: %s",
                 strerror(errno));
        free(pk);
        return NULL;
    }
    if (!pk)
        pm_error("/proc/self/exe", "PYTHON_MPI_ENV: cannot find python-mpi's own directory");
    return pk;
}

int pm_envmaker_find(pm_envmaker_tool *m)
{
    if (!(m->pkgroot = pkgroot_path()))
        return -1;
    if (stat(m->pkgroot, &m->pk_st) != 0 || stat("/proc/self/exe", &m->self_st) != 0) {
        pm_error(m->pkgroot, "PYTHON_MPI_ENV: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The overlay's files into pthdir, mode as in the tree (the temporary
 * directory above is private).  *any: there is one to make. */
static int make_overlay(const pm_envpiece *p, const char *root, const char *pthdir, int *any)
{
    if (mkdir(pthdir, 0755) != 0 || chmod(pthdir, 0755) != 0) {
        pm_error(pthdir, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return -1;
    }
    pm_err err = PM_ERR_INIT;
    int rc = pm_envscan_overlay(&p->exts, p->site, root, pthdir, any, &err);
    pm_err_print(&err);
    return rc;
}

/* One item's bundle: its file created empty in tmp, and the pkgroot that
 * fills it queued (envfeed.h): pkgroot --out-fd 3 [--pyc unchecked] MAKER
 * OUT [PATH] [--at AT] [--exclude REL]...  pthdir (MK_PTH, taken) is
 * removed once it is made. */
static int plan_one(const pm_envmaker_tool *m, const pm_envpiece *p, const pm_envitem *it, const char *out,
                    const char *at, char *pthdir, const char *tmp)
{
    size_t nx = 0;
    while (it->exclude && it->exclude[nx])
        nx++;
    char **argv = calloc(12 + 2 * nx, sizeof *argv);
    size_t a = 0;
    int ok = argv != NULL;
#define ARG(x) do { if (ok && !(argv[a++] = strdup(x))) ok = 0; } while (0)
    ARG(m->pkgroot);
    ARG("--out-fd");
    ARG("3");
    /* Fresh bytecode: the venv's bundle holds the unchecked .pyc of a
     * finder that the overlay (MK_PTH) replaces. */
    if (it->kind == MK_DIR || it->kind == MK_EXT || it->kind == MK_PTH) {
        ARG("--pyc");
        ARG("unchecked");
    }
    const char *maker = it->kind == MK_EXT || it->kind == MK_PTH ? "dir" : pm_envmaker_name[it->kind];
    ARG(maker);
    ARG(out);
    if (it->kind != MK_PYTHON)
        ARG(it->kind == MK_PTH ? pthdir : it->path);
    if (at || it->kind == MK_PTH) {
        ARG("--at");
        ARG(at ? at : p->pth_at);
    }
    for (size_t i = 0; i < nx; i++) {
        ARG("--exclude");
        ARG(it->exclude[i]);
    }
#undef ARG
    if (!ok) {
        pm_error(it->path, "out of memory");
        goto fail;
    }
    /* Above 3: pkgroot's 3 is made from it (dup2 of a descriptor onto
     * itself would keep its FD_CLOEXEC on older C libraries). */
    int fd0 = open(out, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int fd = fd0 >= 0 ? fcntl(fd0, F_DUPFD_CLOEXEC, 4) : -1;
    if (fd < 0)
        pm_error(out, "PYTHON_MPI_CACHE: cannot create: %s", strerror(errno));
    if (fd0 >= 0)
        close(fd0);
    if (fd >= 0)
        return pm_envfeed_add(argv, maker, out, fd, tmp, it->path, pthdir);
fail:
    for (size_t i = 0; argv && i < a; i++)
        free(argv[i]);
    free(argv);
    free(pthdir);
    return -1;
}

int pm_envmaker_plan(const pm_envmaker_tool *m, const pm_envpiece *p, const char *tmp, const char *root,
                     char **names)
{
    size_t ext = 0;
    for (size_t i = 0; i < p->n; i++) {
        const pm_envitem *it = &p->items[i];
        const char *suffix = it->kind == MK_PTH ? "tar" : "ptar";
        char *name = pm_printf_alloc("%02zu-%s.%s", i, pm_envmaker_name[it->kind], suffix);
        char *out = name ? pm_path_join(tmp, name) : NULL;
        char *at = it->kind == MK_EXT ? pm_printf_alloc("lib/python-mpi-ext/%zu", ext++) : NULL;
        char *pthdir = it->kind == MK_PTH ? pm_path_join(tmp, "pth") : NULL;
        int rc = out && (it->kind != MK_EXT || at) && (it->kind != MK_PTH || pthdir) ? 0 : -1;
        if (rc != 0)
            pm_error(it->path, "out of memory");
        int any = 1;
        /* The overlay is made now: whether there is one decides the list. */
        if (rc == 0 && it->kind == MK_PTH)
            rc = make_overlay(p, root, pthdir, &any);
        if (rc == 0 && any) {
            rc = plan_one(m, p, it, out, at, pthdir, tmp);
            pthdir = NULL;   /* taken */
        }
        if (rc == 0 && any) {
            char *more = pm_printf_alloc("%s%s\n", *names ? *names : "", name);
            free(*names);
            *names = more;
            rc = more ? 0 : -1;
        }
        if (pthdir)
            (void)pm_rmtree(pthdir, NULL);
        free(pthdir);
        free(at);
        free(out);
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}
