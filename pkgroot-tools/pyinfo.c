/* pyinfo.c - asking the embedded Python about itself (see pyinfo.h): the
 * question is pkgroot-tools/py/pyinfo.py, its answer made C here. */
#include "pyembed.h"
#include "pyinfo.h"
#include "log.h"
#include "makers.h"

#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of a bytes object, or NULL with a Python exception set. */
static char *bytes_dup(PyObject *o)
{
    const char *s = o ? PyBytes_AsString(o) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "missing field");
        return NULL;
    }
    char *d = strdup(s);
    if (!d)
        PyErr_NoMemory();
    return d;
}

/* A malloc'd copy of a str field, or NULL with a Python exception set. */
static char *str_dup(PyObject *res, const char *key)
{
    PyObject *o = PyDict_GetItemString(res, key);
    const char *v = o ? PyUnicode_AsUTF8(o) : NULL;
    if (!v) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_KeyError, "missing field %s", key);
        return NULL;
    }
    char *d = strdup(v);
    if (!d)
        PyErr_NoMemory();
    return d;
}

/* A (src, dest) pair of bytes into item; -1 with a Python exception set. */
static int get_pair(PyObject *t, pk_item *item)
{
    if (!t || !PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "expected a (src, dest) pair");
        return -1;
    }
    item->src = bytes_dup(PyTuple_GET_ITEM(t, 0));
    item->dest = item->src ? bytes_dup(PyTuple_GET_ITEM(t, 1)) : NULL;
    return item->dest ? 0 : -1;
}

/* The result dict into info; -1 with a Python exception set. */
static int convert(pk_pyinfo *info, PyObject *res)
{
    if (!PyDict_Check(res)) {
        PyErr_SetString(PyExc_TypeError, "result is not a dict");
        return -1;
    }
    if (!(info->version = str_dup(res, "version")) || !(info->soabi = str_dup(res, "soabi")) ||
        !(info->cache_tag = str_dup(res, "cache_tag")) ||
        !(info->interpreter = bytes_dup(PyDict_GetItemString(res, "interpreter"))))
        return -1;
    PyObject *magic = PyDict_GetItemString(res, "magic");
    if (!magic || !PyBytes_Check(magic) || PyBytes_GET_SIZE(magic) != 4) {
        PyErr_SetString(PyExc_ValueError, "importlib.util.MAGIC_NUMBER is not 4 bytes");
        return -1;
    }
    memcpy(info->magic, PyBytes_AS_STRING(magic), 4);
    if (!(info->site_rel = bytes_dup(PyDict_GetItemString(res, "site"))) ||
        get_pair(PyDict_GetItemString(res, "stdlib"), &info->stdlib) != 0)
        return -1;
    PyObject *pth = PyDict_GetItemString(res, "pth");
    if (pth && pth != Py_None) {
        const char *name, *line;
        long long mtime;
        if (!PyArg_ParseTuple(pth, "yyL", &name, &line, &mtime))
            return -1;
        if (!(info->pth_name = strdup(name)) || !(info->pth_line = strdup(line))) {
            PyErr_NoMemory();
            return -1;
        }
        info->pth_mtime = (time_t)mtime;
    }
    PyObject *items = PyDict_GetItemString(res, "items");
    if (!items || !PyList_Check(items)) {
        PyErr_SetString(PyExc_TypeError, "items is not a list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(items);
    info->items = calloc((size_t)n + 1, sizeof *info->items);
    if (!info->items) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = get_pair(PyList_GET_ITEM(items, i), &info->items[i]);
        info->nitems = (size_t)i + 1; /* so pk_pyinfo_free frees a half pair */
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The query is pkgroot-tools/py/pyinfo.py's main(packages, site_dest,
 * site_pth): (result, None) or (None, why). */
int pk_pyinfo_query(pk_pyinfo *info, char **packages, int npackages)
{
    memset(info, 0, sizeof *info);
    if (pk_py_start() != 0)
        return -1;
    int rc = -1;
    PyObject *list = PyList_New(0), *r = NULL;
    if (!list)
        goto done;
    for (int i = 0; i < npackages; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(packages[i]);
        if (!s || PyList_Append(list, s) != 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    PyObject *res, *err;
    if (!(r = pk_py_call(&pk_py_pyinfo, "main", "(Oss)", list, PK_SITE_DEST, PK_SITE_PTH)) ||
        !PyArg_ParseTuple(r, "OO", &res, &err))
        goto done;
    if (err != Py_None) {
        const char *msg = PyUnicode_AsUTF8(err);
        if (msg)
            pm_error(NULL, "%s", msg);
    } else if (convert(info, res) == 0) {
        rc = 0;
    }
done:
    pk_py_report();
    Py_XDECREF(r);
    Py_XDECREF(list);
    if (rc != 0)
        pk_pyinfo_free(info);
    return rc;
}

void pk_pyinfo_free(pk_pyinfo *info)
{
    free(info->version);
    free(info->soabi);
    free(info->cache_tag);
    free(info->interpreter);
    free(info->site_rel);
    free(info->pth_name);
    free(info->pth_line);
    free(info->stdlib.src);
    free(info->stdlib.dest);
    for (size_t i = 0; i < info->nitems; i++) {
        free(info->items[i].src);
        free(info->items[i].dest);
    }
    free(info->items);
    memset(info, 0, sizeof *info);
}
