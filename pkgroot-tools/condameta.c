/* condameta.c - conda's package records, read in the embedded Python by
 * pkgroot-tools/py/condameta.py (see condameta.h). */
#include "pyembed.h"
#include "condameta.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static int cmp_declared(const void *a, const void *b)
{
    return strcmp(((const pk_declared *)a)->path, ((const pk_declared *)b)->path);
}

static char *dup_str(PyObject *o)
{
    const char *s = o ? PyUnicode_AsUTF8(o) : NULL;
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        PyErr_NoMemory();
    return d;
}

static int convert(PyObject *res, pk_condameta *m)
{
    PyObject *files;
    Py_ssize_t npk, npd;
    PyObject *hp, *unknown;
    if (!PyArg_ParseTuple(res, "O!nnUU", &PyList_Type, &files, &npk, &npd, &hp, &unknown))
        return -1;
    m->npackages = (size_t)npk;
    m->n_paths_data = (size_t)npd;
    if (!(m->has_prefix = dup_str(hp)) || !(m->unknown = dup_str(unknown)))
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(files);
    m->files = calloc((size_t)n + 1, sizeof *m->files);
    if (!m->files) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *path;
        int binary;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(files, i), "yp", &path, &binary))
            return -1;
        if (!(m->files[i].path = strdup(path))) {
            PyErr_NoMemory();
            return -1;
        }
        m->files[i].binary = binary;
        m->nfiles = (size_t)i + 1;
    }
    /* Python sorted bytes the way strcmp does; sort again all the same, as
     * pk_condameta_find relies on it. */
    qsort(m->files, m->nfiles, sizeof *m->files, cmp_declared);
    return 0;
}

/* condameta.py's main(prefix): ((declared, npackages, n_paths_data,
 * has_prefix, unknown), None) or (None, why). */
int pk_condameta_read(const char *prefix, pk_condameta *m)
{
    memset(m, 0, sizeof *m);
    if (pk_py_start() != 0)
        return -1;
    int rc = -1;
    PyObject *p = PyUnicode_DecodeFSDefault(prefix), *r = NULL, *res, *err;
    if (!p || !(r = pk_py_call(&pk_py_condameta, "main", "(O)", p)) ||
        !PyArg_ParseTuple(r, "OO", &res, &err))
        goto done;
    if (err != Py_None) {
        const char *msg = PyUnicode_AsUTF8(err);
        pm_error(NULL, "%s", msg ? msg : "conda-meta: unreadable");
    } else if (convert(res, m) == 0) {
        rc = 0;
    }
done:
    pk_py_report();
    Py_XDECREF(r);
    Py_XDECREF(p);
    if (rc != 0)
        pk_condameta_free(m);
    return rc;
}

const pk_declared *pk_condameta_find(const pk_condameta *m, const char *path)
{
    pk_declared key = {(char *)path, 0};
    return m->nfiles ? bsearch(&key, m->files, m->nfiles, sizeof key, cmp_declared) : NULL;
}

void pk_condameta_free(pk_condameta *m)
{
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].path);
    free(m->files);
    free(m->has_prefix);
    free(m->unknown);
    memset(m, 0, sizeof *m);
}
