/* pyinfo.c - asking the embedded Python about itself (see pyinfo.h). */
#include "pyinfo.h"
#include "log.h"

#include <Python.h>
#include <stdlib.h>
#include <string.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

/* Runs in the embedded interpreter with `packages` (a list of str) set;
 * sets `result`, a dict of bytes paths (os.fsencode: any file name
 * survives), or `error`, one line saying why (a LookupError names the
 * package).  Only find_spec: nothing is imported, so a package whose
 * import would fail here (no MPI, no GPU) can still be bundled. */
static const char query[] =
    "import importlib.util, os, re, site, sys, sysconfig\n"
    "def describe(packages):\n"
    "    prefix = os.path.normpath(sys.base_prefix)\n"
    "    ver = '%d.%d' % sys.version_info[:2]\n"
    "    def rel(path):\n"
    "        r = os.path.relpath(path, prefix)\n"
    "        if os.path.isabs(r) or r == os.curdir or r.split(os.sep)[0] == os.pardir:\n"
    "            raise ValueError('%s is not below sys.base_prefix %s' % (path, prefix))\n"
    "        return r\n"
    "    def inside(path, top):\n"
    "        return path == top or path.startswith(top + os.sep)\n"
    "    def norm(n):\n"
    "        return re.sub(r'[-_.]+', '_', n).lower()\n"
    "    stdlib = os.path.normpath(sysconfig.get_paths()['stdlib'])\n"
    "    items, seen = [], set()\n"
    "    def add(src, dest):\n"
    "        if src not in seen:\n"
    "            seen.add(src)\n"
    "            items.append((os.fsencode(src), os.fsencode(dest)))\n"
    "    # Extension modules: inside stdlib on Debian; elsewhere on some builds.\n"
    "    dynload = [os.path.normpath(p) for p in sys.path if os.path.basename(p) == 'lib-dynload']\n"
    "    for d in dynload[:1]:\n"
    "        if os.path.isdir(d) and not inside(d, stdlib):\n"
    "            add(d, os.path.join(rel(stdlib), 'lib-dynload'))\n"
    "    # The site directories site.py adds for a prefix (Debian: local/lib/\n"
    "    # python3.11/dist-packages, lib/python3/dist-packages, ...).\n"
    "    sites = [os.path.normpath(d) for d in site.getsitepackages([prefix])]\n"
    "    existing = [d for d in sites if os.path.isdir(d)]\n"
    "    system = [d for d in existing if 'local' not in rel(d).split(os.sep)]\n"
    "    default = rel((system or existing)[0]) if existing else os.path.join('lib', 'python' + ver, 'site-packages')\n"
    "    for name in packages:\n"
    "        missing = LookupError(\"package '%s' not found by the embedded Python %s\" % (name, ver))\n"
    "        if '.' in name or os.sep in name:\n"
    "            raise LookupError(\"package '%s': name a top-level module (bundling one bundles all of it)\" % name)\n"
    "        if not name:\n"
    "            raise missing\n"
    "        try:\n"
    "            spec = importlib.util.find_spec(name)\n"
    "        except Exception as e:\n"
    "            raise LookupError(\"package '%s': %s: %s\" % (name, type(e).__name__, e))\n"
    "        if spec is None:\n"
    "            raise missing\n"
    "        locs = list(spec.submodule_search_locations or [])\n"
    "        if not locs and spec.origin in (None, 'built-in', 'frozen', 'namespace'):\n"
    "            if spec.origin in ('built-in', 'frozen'):\n"
    "                continue  # compiled into the interpreter\n"
    "            raise missing\n"
    "        # A namespace package may have several portions: bundle each.\n"
    "        for path in [os.path.normpath(p) for p in locs or [spec.origin]]:\n"
    "            where = os.path.dirname(path)\n"
    "            if inside(where, stdlib):\n"
    "                continue  # part of the standard library, bundled anyway\n"
    "            dest = rel(where) if where in sites else default\n"
    "            add(path, os.path.join(dest, os.path.basename(path)))\n"
    "            for entry in sorted(os.listdir(where)):\n"
    "                stem, ext = os.path.splitext(entry)\n"
    "                if (ext in ('.dist-info', '.egg-info') and norm(stem.split('-')[0]) == norm(name)\n"
    "                        or ext == '.libs' and norm(stem).startswith(norm(name))):\n"
    "                    add(os.path.join(where, entry), os.path.join(dest, entry))\n"
    "    return {'version': ver, 'site': os.fsencode(default),\n"
    "            'stdlib': (os.fsencode(stdlib), os.fsencode(rel(stdlib))), 'items': items}\n"
    "result = error = None\n"
    "try:\n"
    "    result = describe(packages)\n"
    "except LookupError as e:\n"
    "    error = str(e)\n"
    "except Exception as e:\n"
    "    error = 'embedded Python: %s: %s' % (type(e).__name__, e)\n";

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
    PyObject *version = PyDict_GetItemString(res, "version");
    const char *v = version ? PyUnicode_AsUTF8(version) : NULL;
    if (!v || !(info->version = strdup(v)))
        return PyErr_Occurred() ? -1 : (PyErr_NoMemory(), -1);
    if (!(info->site_rel = bytes_dup(PyDict_GetItemString(res, "site"))) ||
        get_pair(PyDict_GetItemString(res, "stdlib"), &info->stdlib) != 0)
        return -1;
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

/* Print the pending Python exception as one line and clear it (a
 * traceback would break the one-line rule; the snippet reports its own
 * failures, so this is for out-of-memory and the like). */
static void report_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *str = value ? PyObject_Str(value) : NULL;
    const char *msg = str ? PyUnicode_AsUTF8(str) : NULL;
    const char *tname = type && PyType_Check(type) ? ((PyTypeObject *)type)->tp_name : "error";
    pm_error(NULL, "embedded Python: %s: %s", tname, msg ? msg : "?");
    Py_XDECREF(str);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}

static int py_failed(PyStatus st)
{
    if (!PyStatus_Exception(st))
        return 0;
    pm_error(NULL, "embedded Python: %s", st.err_msg ? st.err_msg : "initialisation failed");
    return 1;
}

int pk_pyinfo_query(pk_pyinfo *info, char **packages, int npackages)
{
    memset(info, 0, sizeof *info);
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    /* The embedded Python's own prefix, as python-mpi uses it; isolated so
     * that PYTHONPATH, PYTHONHOME and the user site cannot change what is
     * found.  No signal handlers: Ctrl-C must stay the default action. */
    config.install_signal_handlers = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.home, PYMPI_DEFAULT_HOME);
    if (!py_failed(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        py_failed(st);
        return -1;
    }
    int rc = -1;
    PyObject *globals = PyDict_New();
    PyObject *list = PyList_New(0);
    if (!globals || !list || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0)
        goto done;
    for (int i = 0; i < npackages; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(packages[i]);
        if (!s || PyList_Append(list, s) != 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    if (PyDict_SetItemString(globals, "packages", list) != 0)
        goto done;
    PyObject *r = PyRun_String(query, Py_file_input, globals, globals);
    if (!r)
        goto done;
    Py_DECREF(r);
    PyObject *err = PyDict_GetItemString(globals, "error");
    PyObject *res = PyDict_GetItemString(globals, "result");
    if (err && err != Py_None) {
        const char *msg = PyUnicode_AsUTF8(err);
        if (msg)
            pm_error(NULL, "%s", msg);
    } else if (!res || convert(info, res) != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "no result from the query");
    } else {
        rc = 0;
    }
done:
    if (PyErr_Occurred())
        report_exception();
    Py_XDECREF(list);
    Py_XDECREF(globals);
    if (Py_FinalizeEx() != 0 && rc == 0) {
        pm_error(NULL, "embedded Python: finalization failed");
        rc = -1;
    }
    if (rc != 0)
        pk_pyinfo_free(info);
    return rc;
}

void pk_pyinfo_free(pk_pyinfo *info)
{
    free(info->version);
    free(info->site_rel);
    free(info->stdlib.src);
    free(info->stdlib.dest);
    for (size_t i = 0; i < info->nitems; i++) {
        free(info->items[i].src);
        free(info->items[i].dest);
    }
    free(info->items);
    memset(info, 0, sizeof *info);
}
