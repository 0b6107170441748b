/* pytarget.c - which Python a bundle is checked against (see pytarget.h). */
#include "pytarget.h"
#include "log.h"
#include "pyinfo.h"
#include "pysrc.h"
#include "runprog.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int from_binary(pk_pytarget *t, const char *path)
{
    char *parent = pm_printf_alloc("PYTHON_MPI_PARENT=%ld", (long)getpid());
    /* python-mpi runs as plain Python, without MPI, when its parent is a
     * rank (PYTHON_MPI_PARENT = its parent's pid): that is us here.  No
     * PYTHON* variable may reach it (PYTHONHOME, PYTHON_MPI_PACKAGES). */
    static const char *const drop[] = {"PYTHON", NULL};
    const char *set[] = {parent, NULL};
    char **env = parent ? pk_env_build(drop, set) : NULL;
    /* pkgroot-tools/py/pytarget.py: one line, X.Y SOABI CACHE_TAG MAGIC as
     * hex.  -I -S: nothing from the environment or a site directory can
     * change the answer. */
    char *argv[] = {(char *)path, "-I", "-S", "-c", (char *)pk_py_pytarget.text, NULL};
    char *out = NULL;
    int rc = -1;
    if (!env) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    int status = pk_run(argv, env, -1, -1, &out);
    if (status < 0)
        goto done;
    char ver[32], soabi[256], tag[64], magic[16];
    unsigned b[4];
    if (status != 0 || !out ||
        sscanf(out, "%31s %255s %63s %15s", ver, soabi, tag, magic) != 4 ||
        strlen(magic) != 8 || sscanf(magic, "%2x%2x%2x%2x", &b[0], &b[1], &b[2], &b[3]) != 4) {
        pm_error(path, "cannot ask which Python it embeds (exit status %d%s)", status,
                 status == 0 ? ", unexpected output" : "");
        goto done;
    }
    for (int i = 0; i < 4; i++)
        t->magic[i] = (unsigned char)b[i];
    if (!(t->version = strdup(ver)) || !(t->soabi = strdup(soabi)) ||
        !(t->cache_tag = strdup(tag)) || !(t->what = strdup(path))) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    rc = 0;
done:
    free(out);
    pk_env_free(env);
    free(parent);
    return rc;
}

int pk_pytarget_get(pk_pytarget *t, const char *python_mpi)
{
    memset(t, 0, sizeof *t);
    int rc;
    if (python_mpi) {
        rc = from_binary(t, python_mpi);
    } else {
        pk_pyinfo info;
        rc = pk_pyinfo_query(&info, NULL, 0);
        if (rc == 0) {
            memcpy(t->magic, info.magic, 4);
            t->version = info.version;
            t->soabi = info.soabi;
            t->cache_tag = info.cache_tag;
            info.version = info.soabi = info.cache_tag = NULL; /* now ours */
            pk_pyinfo_free(&info);
            if (!(t->what = strdup("the embedded libpython"))) {
                pm_error(NULL, "out of memory");
                rc = -1;
            }
        }
    }
    if (rc != 0)
        pk_pytarget_free(t);
    return rc;
}

void pk_pytarget_free(pk_pytarget *t)
{
    free(t->version);
    free(t->soabi);
    free(t->cache_tag);
    free(t->what);
    memset(t, 0, sizeof *t);
}
