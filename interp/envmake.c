/* envmake.c - PYTHON_MPI_ENV's bundles made by pkgroot (see envmake.h). */
#include "envmake.h"
#include "err.h"
#include "jobdir.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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

/* Run argv (argv[0] an absolute path), stdout to /dev/null; 0 if it
 * exited 0, else -1 after printing why. */
static int run(char *const argv[], const char *about)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        pm_error(about, "PYTHON_MPI_ENV: out of memory");
        return -1;
    }
    pid_t pid;
    int rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pm_error(argv[0], "PYTHON_MPI_ENV: cannot start: %s", strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            pm_error(argv[0], "PYTHON_MPI_ENV: waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        pm_error(about, "PYTHON_MPI_ENV: pkgroot %s failed (exit %d)", argv[1], WEXITSTATUS(status));
    else
        pm_error(about, "PYTHON_MPI_ENV: pkgroot %s killed by signal %d", argv[1], WTERMSIG(status));
    return -1;
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

/* One item's bundle: pkgroot [--pyc unchecked] MAKER OUT [PATH] [--at AT]
 * [--exclude REL]... */
static int make_one(const pm_envmaker_tool *m, const pm_envpiece *p, const pm_envitem *it, const char *out,
                    const char *at, const char *pthdir)
{
    size_t nx = 0;
    while (it->exclude && it->exclude[nx])
        nx++;
    char **argv = calloc(10 + 2 * nx, sizeof *argv);
    if (!argv) {
        pm_error(it->path, "out of memory");
        return -1;
    }
    size_t a = 0;
    argv[a++] = m->pkgroot;
    /* Fresh bytecode: the venv's bundle holds the unchecked .pyc of a
     * finder that the overlay (MK_PTH) replaces. */
    if (it->kind == MK_DIR || it->kind == MK_EXT || it->kind == MK_PTH) {
        argv[a++] = "--pyc";
        argv[a++] = "unchecked";
    }
    argv[a++] = (char *)(it->kind == MK_EXT || it->kind == MK_PTH ? "dir" : pm_envmaker_name[it->kind]);
    argv[a++] = (char *)out;
    if (it->kind != MK_PYTHON)
        argv[a++] = it->kind == MK_PTH ? (char *)pthdir : it->path;
    if (at || it->kind == MK_PTH) {
        argv[a++] = "--at";
        argv[a++] = at ? (char *)at : p->pth_at;
    }
    for (size_t i = 0; i < nx; i++) {
        argv[a++] = "--exclude";
        argv[a++] = it->exclude[i];
    }
    argv[a] = NULL;
    pm_info(1, "PYTHON_MPI_ENV: making %s", out);
    int rc = run(argv, it->path);
    free(argv);
    if (rc != 0)
        return -1;
    if (chmod(out, 0600) != 0) {
        pm_error(out, "PYTHON_MPI_CACHE: chmod: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pm_envmaker_make(const pm_envmaker_tool *m, const pm_envpiece *p, const char *tmp, const char *root,
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
        int any = 1;
        if (rc == 0 && it->kind == MK_PTH)
            rc = make_overlay(p, root, pthdir, &any);
        if (rc == 0 && any)
            rc = make_one(m, p, it, out, at, pthdir);
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
