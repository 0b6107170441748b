/* pyinfo.c - asking the embedded Python about itself (see pyinfo.h). */
#include "pyinfo.h"
#include "log.h"

#include <Python.h>
#include <stdlib.h>
#include <string.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

/* Runs in the embedded interpreter; reads `packages`, sets `result` to
 * lines "kind\tsrc\tdest" and `error` to a message or None. */
static const char query[] =
    "import importlib.util, os, re, site, sys, sysconfig\n"
    "error = None\n"
    "prefix = sys.base_prefix\n"
    "stdlib = sysconfig.get_paths()['stdlib']\n"
    "lines = ['version\\t%d.%d\\t' % sys.version_info[:2],\n"
    "         'stdlib\\t%s\\t%s' % (stdlib, os.path.relpath(stdlib, prefix))]\n"
    "sites = [d for d in site.getsitepackages([prefix]) if os.path.isdir(d)]\n"
    "def norm(n):\n"
    "    return re.sub(r'[-_.]+', '_', n).lower()\n"
    "site_rel = None\n"
    "for name in packages:\n"
    "    spec = None if '.' in name or '/' in name else importlib.util.find_spec(name)\n"
    "    if spec is None or spec.origin in (None, 'built-in', 'frozen') and not spec.submodule_search_locations:\n"
    "        error = \"package '%s' not found by the embedded Python %d.%d\" % ((name,) + sys.version_info[:2])\n"
    "        break\n"
    "    path = list(spec.submodule_search_locations)[0] if spec.submodule_search_locations else spec.origin\n"
    "    where = os.path.dirname(path)\n"
    "    if where == stdlib or where.startswith(stdlib + os.sep):\n"
    "        continue  # part of the standard library, bundled anyway\n"
    "    rel = os.path.relpath(where, prefix) if where in sites else None\n"
    "    if rel is None or rel.startswith('..'):\n"
    "        rel = site_rel or os.path.relpath(sites[0], prefix) if sites else 'lib/python%d.%d/site-packages' % sys.version_info[:2]\n"
    "    site_rel = site_rel or rel\n"
    "    lines.append('item\\t%s\\t%s' % (path, os.path.join(rel, os.path.basename(path))))\n"
    "    for entry in sorted(os.listdir(where)):\n"
    "        stem, ext = os.path.splitext(entry)\n"
    "        if ext in ('.dist-info', '.egg-info') and norm(stem.split('-')[0]) == norm(name) \\\n"
    "           or ext == '.libs' and norm(stem).startswith(norm(name)):\n"
    "            lines.append('item\\t%s\\t%s' % (os.path.join(where, entry), os.path.join(rel, entry)))\n"
    "if site_rel is None:\n"
    "    cands = [d for d in site.getsitepackages([prefix]) if 'python3/dist-packages' in d] or sites\n"
    "    site_rel = os.path.relpath(cands[0], prefix) if cands else 'lib/python%d.%d/site-packages' % sys.version_info[:2]\n"
    "lines.insert(1, 'site\\t\\t%s' % site_rel)\n"
    "result = '\\n'.join(lines)\n";

static char *dupfield(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        pm_error(NULL, "out of memory");
    return d;
}

/* Parse the "kind\tsrc\tdest" lines. */
static int parse(pk_pyinfo *info, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *t1 = memchr(p, '\t', (size_t)(end - p));
        const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;
        if (!t2) {
            pm_error(NULL, "unexpected answer from the embedded Python");
            return -1;
        }
        size_t klen = (size_t)(t1 - p);
        char *src = dupfield(t1 + 1, (size_t)(t2 - t1 - 1));
        char *dest = dupfield(t2 + 1, (size_t)(end - t2 - 1));
        if (!src || !dest) {
            free(src);
            free(dest);
            return -1;
        }
        if (klen == 7 && strncmp(p, "version", 7) == 0) {
            info->version = src;
            free(dest);
        } else if (klen == 4 && strncmp(p, "site", 4) == 0) {
            info->site_rel = dest;
            free(src);
        } else if (klen == 6 && strncmp(p, "stdlib", 6) == 0) {
            info->stdlib.src = src;
            info->stdlib.dest = dest;
        } else {
            pk_item *items = realloc(info->items, (info->nitems + 1) * sizeof *items);
            if (!items) {
                pm_error(NULL, "out of memory");
                free(src);
                free(dest);
                return -1;
            }
            info->items = items;
            items[info->nitems].src = src;
            items[info->nitems].dest = dest;
            info->nitems++;
        }
        p = nl ? nl + 1 : end;
    }
    return info->version && info->site_rel && info->stdlib.src ? 0 : -1;
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
    /* The embedded Python's own prefix, as python-mpi uses it. */
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
    if (err && err != Py_None) {
        const char *msg = PyUnicode_AsUTF8(err);
        pm_error(NULL, "%s", msg ? msg : "package not found");
        goto done;
    }
    PyObject *res = PyDict_GetItemString(globals, "result");
    const char *text = res ? PyUnicode_AsUTF8(res) : NULL;
    if (text && parse(info, text) == 0)
        rc = 0;
done:
    if (PyErr_Occurred()) {
        PyErr_Print();
        pm_error(NULL, "the embedded Python failed to describe itself");
    }
    Py_XDECREF(list);
    Py_XDECREF(globals);
    if (Py_FinalizeEx() != 0)
        rc = -1;
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
