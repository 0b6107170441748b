/* pyc.c - .py to .pyc at bundle time, in the embedded Python (the same
 * interpreter, so the same magic number and cache tag as the ranks'), by
 * pkgroot-tools/py/pyc.py. */
#include "pyc.h"

#include "log.h"
#include "pyembed.h"
#include "strutil.h"

#include <stdlib.h>
#include <string.h>

static PyObject *helper;     /* pkgroot-tools/py/pyc.py's namespace ... */
static unsigned helper_epoch; /* ... made in this start of the interpreter */

int pk_pyc_parse(const char *s, enum pk_pyc_mode *mode)
{
    static const char *const names[] = {"unchecked", "checked", "timestamp", "sourceless", "keep",
                                        "none"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *mode = (enum pk_pyc_mode)i;
            return 0;
        }
    return -1;
}

/* pkgroot's commands finalize the embedded Python before they write; the
 * first pyc of a bundle starts it again, once. */
static int start(void)
{
    if (helper && helper_epoch == pk_py_epoch())
        return 0;
    helper = NULL;   /* belonged to a finalized interpreter */
    if (pk_py_start() != 0)
        return -1;
    helper = pk_py_load(&pk_py_pyc);
    helper_epoch = pk_py_epoch();
    return helper ? 0 : -1;
}

char *pk_pyc_path(const char *py_name)
{
    if (start() != 0)
        return NULL;
    PyObject *tag = PyDict_GetItemString(helper, "tag");   /* borrowed */
    const char *t = tag ? PyUnicode_AsUTF8(tag) : NULL;
    if (!t) {
        pk_py_report();
        return NULL;
    }
    const char *slash = strrchr(py_name, '/');
    size_t dirlen = slash ? (size_t)(slash - py_name) + 1 : 0;
    const char *base = py_name + dirlen;
    size_t stem = strlen(base) - 3;   /* caller passes NAME.py */
    char *out = pm_printf_alloc("%.*s__pycache__/%.*s.%s.pyc", (int)dirlen, py_name, (int)stem,
                                base, t);
    if (!out)
        pm_error(py_name, "out of memory");
    return out;
}

int pk_pyc_compile(const char *source, size_t len, const char *name, time_t mtime,
                   enum pk_pyc_mode mode, char **pyc, size_t *pyc_len)
{
    *pyc = NULL;
    *pyc_len = 0;
    if (mode == PK_PYC_KEEP || mode == PK_PYC_NONE)
        return 1;
    if (start() != 0)
        return -1;
    PyObject *fn = PyDict_GetItemString(helper, "pyc");   /* borrowed */
    const char *m = mode == PK_PYC_TIMESTAMP ? "timestamp" : mode == PK_PYC_CHECKED ? "checked" : "unchecked";
    PyObject *r = fn ? PyObject_CallFunction(fn, "y#sLs", source, (Py_ssize_t)len, name,
                                             (long long)mtime, m) : NULL;
    if (!r) {
        pk_py_report();
        return -1;
    }
    if (r == Py_None) {
        Py_DECREF(r);
        return 1;
    }
    char *bytes;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(r, &bytes, &n) != 0) {
        Py_DECREF(r);
        pk_py_report();
        return -1;
    }
    *pyc = malloc(n ? (size_t)n : 1);
    if (!*pyc) {
        Py_DECREF(r);
        pm_error(name, "out of memory");
        return -1;
    }
    memcpy(*pyc, bytes, (size_t)n);
    *pyc_len = (size_t)n;
    Py_DECREF(r);
    return 0;
}
