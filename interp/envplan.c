/* envplan.c - PYTHON_MPI_ENV's value read into pieces (see envplan.h). */
#include "envplan.h"
#include "envdir.h"
#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

/* DIR's editable installs (outside it, named by site's .pth files and
 * finders): MK_EXT items, then the overlay (MK_PTH) if any.  site is
 * taken. */
static int add_editables(pm_envpiece *env, char *site, const char *dir, int own_stdlib)
{
    pm_err err = PM_ERR_INIT;
    if (pm_envscan_find(site, dir, &env->exts, &err) != 0) {
        pm_err_print(&err);
        free(site);
        return -1;
    }
    if (!env->exts.n) {
        free(site);
        return 0;
    }
    env->site = site;
    for (size_t i = 0; i < env->exts.n; i++)
        if (pm_envpiece_add(env, MK_EXT, strdup(env->exts.dir[i])) != 0)
            return -1;
    env->pth_at = own_stdlib ? pm_printf_alloc("lib/python%d.%d/site-packages", PY_MAJOR_VERSION, PY_MINOR_VERSION)
                             : strdup("lib/python3/dist-packages");
    return pm_envpiece_add(env, MK_PTH, strdup(env->pth_at ? env->pth_at : ""));
}

/* May real (DIR or a SRC, resolved) be delivered as code?  Not if
 * another user could have put modules in it (trust.h).  0, or -1 after
 * printing why. */
static int input_ok(const char *real, const char *what)
{
    char *why = NULL;
    if (pm_trust_input_check(real, &why) == 0)
        return 0;
    pm_error(real, "PYTHON_MPI_ENV: refusing the %s: %s", what, why ? why : "out of memory");
    free(why);
    return -1;
}

/* Each SRC after DIR: an MK_DIR item. */
static int add_sources(pm_envpiece *env, char **save)
{
    for (char *src; (src = strtok_r(NULL, ":", save));) {
        char *why = NULL;
        char *real = pm_trust_realpath(src, &why);
        struct stat st;
        if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            pm_error(src, "PYTHON_MPI_ENV: %sthe source directory: %s", !real && errno == EPERM ? "refusing " : "",
                     real ? "not a directory" : why ? why : "out of memory");
            free(real);
            free(why);
            return -1;
        }
        free(why);
        if (input_ok(real, "source directory") != 0) {
            free(real);
            return -1;
        }
        if (pm_envpiece_add(env, MK_DIR, real) != 0)
            return -1;
    }
    return 0;
}

/* DIR inside a SRC or an editable directory (a .venv in the project it
 * installs): left out of that directory's bundle and key walk, DIR being
 * delivered as itself.  0, or -1 after printing why. */
static int exclude_dir(pm_envpiece *env, const char *dir)
{
    for (size_t i = 0; i < env->n; i++) {
        pm_envitem *it = &env->items[i];
        if ((it->kind != MK_DIR && it->kind != MK_EXT) || strcmp(it->path, dir) == 0 ||
            !pm_envdir_under(dir, it->path))
            continue;
        size_t skip = strlen(it->path);
        if (pm_envitem_exclude(it, dir + skip + (it->path[skip - 1] != '/')) != 0)
            return -1;
    }
    return 0;
}

int pm_envplan_check_cache(const pm_envplan *plan, const char *cache)
{
    int fd = open(cache, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        pm_error(cache, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return -1;
    }
    struct stat ids[2 * PM_ENVPIECE_MAX];
    const pm_envitem *items[2 * PM_ENVPIECE_MAX];
    size_t n = 0;
    const pm_envpiece *pieces[] = {&plan->rt, &plan->env};
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < pieces[p]->n; i++)
            if (pieces[p]->items[i].kind != MK_PTH && stat(pieces[p]->items[i].path, &ids[n]) == 0)
                items[n++] = &pieces[p]->items[i];
    /* Up from the cache by device and inode (no spelling, link or bind
     * mount hides it), to "/", whose ".." is itself. */
    int rc = 0;
    for (;;) {
        struct stat st, up_st;
        if (fstat(fd, &st) != 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (ids[i].st_dev == st.st_dev && ids[i].st_ino == st.st_ino) {
                static const char *const what[] = {"runtime", "environment", "environment", "source directory",
                                                   "editable directory", ""};
                pm_error(cache, "PYTHON_MPI_CACHE %s is inside the %s %s: every job would bundle the cache; "
                         "move the cache (PYTHON_MPI_CACHE) or name a narrower directory", cache,
                         what[items[i]->kind], items[i]->path);
                rc = -1;
                goto out;
            }
        int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (up < 0 || fstat(up, &up_st) != 0 || (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)) {
            if (up >= 0)
                close(up);
            break;
        }
        close(fd);
        fd = up;
    }
out:
    close(fd);
    return rc;
}

int pm_envplan_read(const char *spec, pm_envplan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->rt.what = "runtime";
    plan->env.what = "environment";
    char *copy = strdup(spec), *home = NULL, *why = NULL, *save = NULL;
    pm_err err = PM_ERR_INIT;
    int rc = -1;
    char *first = copy ? strtok_r(copy, ":", &save) : NULL;
    if (!copy) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (!first) {
        pm_error(NULL, "PYTHON_MPI_ENV: no directory");
        goto done;
    }
    if (!(plan->dir = pm_trust_realpath(first, &why))) {
        pm_error(first, "PYTHON_MPI_ENV: %s%s", errno == EPERM ? "refusing the environment: " : "",
                 why ? why : "out of memory");
        goto done;
    }
    const char *dir = plan->dir;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pm_error(dir, "PYTHON_MPI_ENV: not a directory");
        goto done;
    }
    if (input_ok(dir, "environment") != 0)
        goto done;
    home = pm_trust_realpath(PYMPI_DEFAULT_HOME, &why);
    pm_envdir_kind kind = pm_envdir_kind_of(dir, home);
    int is_venv = kind == PM_ENVDIR_VENV, is_conda = kind == PM_ENVDIR_CONDA;
    if (kind == PM_ENVDIR_NONE) {
        pm_error(dir, "PYTHON_MPI_ENV: not a Python environment (no pyvenv.cfg, no conda-meta/, "
                 "and not %s, the Python python-mpi embeds)", PYMPI_DEFAULT_HOME);
        goto done;
    }
    if (kind != PM_ENVDIR_RUNTIME && pm_envdir_check_version(dir, PY_MAJOR_VERSION, PY_MINOR_VERSION, &err) != 0)
        goto done;
    char *stdlib_rel = pm_printf_alloc("lib/python%d.%d/os.py", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    int own_stdlib = is_conda && stdlib_rel && pm_envdir_has_file(dir, stdlib_rel);
    free(stdlib_rel);
    /* The runtime: the embedded Python's standard library, unless the
     * conda prefix carries one of its own. */
    if (!own_stdlib &&
        pm_envpiece_add(&plan->rt, MK_PYTHON, pm_printf_alloc("%s/lib/python%d.%d", home ? home : PYMPI_DEFAULT_HOME,
                                                                PY_MAJOR_VERSION, PY_MINOR_VERSION)) != 0)
        goto done;
    if ((is_venv || is_conda) && pm_envpiece_add(&plan->env, is_venv ? MK_VENV : MK_CONDA, strdup(dir)) != 0)
        goto done;
    if (add_sources(&plan->env, &save) != 0)
        goto done;
    if (is_venv || is_conda) {
        char *site = pm_printf_alloc("%s/lib/python%d.%d/site-packages", dir, PY_MAJOR_VERSION, PY_MINOR_VERSION);
        if (!site || add_editables(&plan->env, site, dir, own_stdlib) != 0)
            goto done;
    }
    rc = exclude_dir(&plan->env, dir);
done:
    pm_err_print(&err);
    free(copy);
    free(home);
    free(why);
    return rc;
}

void pm_envplan_free(pm_envplan *plan)
{
    free((char *)plan->env.site);
    plan->env.site = NULL;
    pm_envpiece_free(&plan->rt);
    pm_envpiece_free(&plan->env);
    free(plan->dir);
    plan->dir = NULL;
}
