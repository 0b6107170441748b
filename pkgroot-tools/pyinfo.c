/* pyinfo.c - asking the embedded Python about itself (see pyinfo.h). */
#include "pyembed.h"
#include "pyinfo.h"
#include "log.h"
#include "makers.h"

#include <stdlib.h>
#include <string.h>

/* Runs in the embedded interpreter with `packages` (a list of str) set;
 * sets `result`, a dict of bytes paths (os.fsencode: any file name
 * survives), or `error`, one line saying why (a LookupError names the
 * package).  Only find_spec: nothing is imported, so a package whose
 * import would fail here (no MPI, no GPU) can still be bundled. */
static const char query[] =
    "import importlib.util, os, re, site, sys, sysconfig\n"
    "def identity():\n"
    "    ver = '%d.%d' % sys.version_info[:2]\n"
    "    return {'soabi': sysconfig.get_config_var('SOABI') or '',\n"
    "            'cache_tag': sys.implementation.cache_tag or '',\n"
    "            'magic': bytes(importlib.util.MAGIC_NUMBER),\n"
    "            'interpreter': os.fsencode(os.path.join(sys.base_prefix, 'bin', 'python' + ver))}\n"
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
    "            if inside(where, stdlib) and not any(inside(where, s) for s in sites):\n"
    "                continue  # part of the standard library, bundled anyway\n"
    "            dest = rel(where) if where in sites else default\n"
    "            add(path, os.path.join(dest, os.path.basename(path)))\n"
    "            for entry in sorted(os.listdir(where)):\n"
    "                stem, ext = os.path.splitext(entry)\n"
    "                if (ext in ('.dist-info', '.egg-info') and norm(stem.split('-')[0]) == norm(name)\n"
    "                        or ext == '.libs' and norm(stem).startswith(norm(name))):\n"
    "                    add(os.path.join(where, entry), os.path.join(dest, entry))\n"
    "    # Package bundles go to site_dest, which Debian's site.py adds for any\n"
    "    # prefix; another Python's does not, so its site directory gets a .pth.\n"
    "    pth = None\n"
    "    if site_dest not in [rel(d) for d in sites]:\n"
    "        pth = (os.fsencode(os.path.join(default, site_pth)),\n"
    "               os.fsencode(os.path.relpath(site_dest, default) + '\\n'),\n"
    "               int(os.stat(os.__file__).st_mtime))\n"
    "    return dict(identity(), version=ver, site=os.fsencode(default), pth=pth,\n"
    "                stdlib=(os.fsencode(stdlib), os.fsencode(rel(stdlib))), items=items)\n"
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

int pk_pyinfo_query(pk_pyinfo *info, char **packages, int npackages)
{
    memset(info, 0, sizeof *info);
    if (pk_py_start() != 0)
        return -1;
    int rc = -1;
    PyObject *vars = PyDict_New();
    PyObject *list = PyList_New(0);
    PyObject *globals = NULL;
    if (!vars || !list)
        goto done;
    for (int i = 0; i < npackages; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(packages[i]);
        if (!s || PyList_Append(list, s) != 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    PyObject *dest = PyUnicode_FromString(PK_SITE_DEST), *pth = PyUnicode_FromString(PK_SITE_PTH);
    int set = dest && pth && PyDict_SetItemString(vars, "site_dest", dest) == 0 &&
              PyDict_SetItemString(vars, "site_pth", pth) == 0 ? 0 : -1;
    Py_XDECREF(dest);
    Py_XDECREF(pth);
    if (set != 0 || PyDict_SetItemString(vars, "packages", list) != 0)
        goto done;
    globals = pk_py_run(query, vars);
    if (!globals)
        goto done;
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
    pk_py_report();
    Py_XDECREF(globals);
    Py_XDECREF(list);
    Py_XDECREF(vars);
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
