/* envplan.c - PYTHON_MPI_ENV's value read into pieces (see envplan.h). */
#include "envplan.h"
#include "envdir.h"
#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Each SRC after DIR: an MK_DIR item. */
static int add_sources(pm_envpiece *env, char **save)
{
    for (char *src; (src = strtok_r(NULL, ":", save));) {
        char *why = NULL;
        char *real = pm_trust_realpath(src, &why);
        struct stat st;
        if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            pm_error(src, "PYTHON_MPI_ENV: the source directory: %s", real ? "not a directory" : why ? why : "out of memory");
            free(real);
            free(why);
            return -1;
        }
        free(why);
        if (pm_envpiece_add(env, MK_DIR, real) != 0)
            return -1;
    }
    return 0;
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
        pm_error(first, "PYTHON_MPI_ENV: %s", why ? why : "out of memory");
        goto done;
    }
    const char *dir = plan->dir;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pm_error(dir, "PYTHON_MPI_ENV: not a directory");
        goto done;
    }
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
    rc = 0;
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
