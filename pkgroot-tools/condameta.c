/* condameta.c - conda's package records, read in the embedded Python (see
 * condameta.h). */
#include "pyembed.h"
#include "condameta.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* Sets `result` = (declared [(bytes path, is_binary)], npackages,
 * n_paths_data, [has_prefix names], [unknown names]), or `error`. */
static const char code[] =
    "import glob, json, os, shlex\n"
    "def has_prefix_lines(path):\n"
    "    # conda's own parsing: 'path', or 'placeholder mode path', quoted if need be\n"
    "    with open(path, 'rb') as fp:\n"
    "        text = fp.read().decode('utf-8', 'surrogateescape')\n"
    "    for line in text.splitlines():\n"
    "        if not line.strip():\n"
    "            continue\n"
    "        parts = [x.strip('\"\\'') for x in shlex.split(line, posix=False)]\n"
    "        if len(parts) == 1:\n"
    "            yield parts[0], False\n"
    "        elif len(parts) == 3:\n"
    "            yield parts[2], parts[1] == 'binary'\n"
    "        else:\n"
    "            raise LookupError('%s: cannot parse line %r' % (path, line))\n"
    "def read(prefix):\n"
    "    declared, n, n_pd, hp, unknown = {}, 0, 0, [], []\n"
    "    for f in sorted(glob.glob(os.path.join(glob.escape(prefix), 'conda-meta', '*.json'))):\n"
    "        try:\n"
    "            with open(f, 'rb') as fp:\n"
    "                meta = json.load(fp)\n"
    "        except (OSError, ValueError) as e:\n"
    "            raise LookupError('%s: cannot read the package record: %s' % (f, e))\n"
    "        if not isinstance(meta, dict):\n"
    "            raise LookupError('%s: not a conda package record' % f)\n"
    "        n += 1\n"
    "        name = str(meta.get('name') or os.path.basename(f)[:-5])\n"
    "        pd = meta.get('paths_data')\n"
    "        if isinstance(pd, dict) and isinstance(pd.get('paths'), list):\n"
    "            n_pd += 1\n"
    "            for p in pd['paths']:\n"
    "                if isinstance(p, dict) and p.get('prefix_placeholder') and isinstance(p.get('_path'), str):\n"
    "                    declared[p['_path']] = p.get('file_mode') == 'binary'\n"
    "            continue\n"
    "        link = meta.get('link') if isinstance(meta.get('link'), dict) else {}\n"
    "        src = meta.get('extracted_package_dir') or link.get('source')\n"
    "        path = os.path.join(src, 'info', 'has_prefix') if isinstance(src, str) and src else None\n"
    "        if path and os.path.isfile(path):\n"
    "            hp.append(name)\n"
    "            for p, binary in has_prefix_lines(path):\n"
    "                declared[p] = binary\n"
    "        else:\n"
    "            unknown.append(name)\n"
    "    files = sorted((os.fsencode(p), b) for p, b in declared.items())\n"
    "    return files, n, n_pd, ', '.join(hp), ', '.join(unknown)\n"
    "result = error = None\n"
    "try:\n"
    "    result = read(prefix)\n"
    "except LookupError as e:\n"
    "    error = str(e)\n"
    "except Exception as e:\n"
    "    error = 'conda-meta: %s: %s' % (type(e).__name__, e)\n";

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

int pk_condameta_read(const char *prefix, pk_condameta *m)
{
    memset(m, 0, sizeof *m);
    if (pk_py_start() != 0)
        return -1;
    int rc = -1;
    PyObject *globals = NULL;
    PyObject *vars = PyDict_New();
    PyObject *p = PyUnicode_DecodeFSDefault(prefix);
    if (!vars || !p || PyDict_SetItemString(vars, "prefix", p) != 0)
        goto done;
    if (!(globals = pk_py_run(code, vars)))
        goto done;
    PyObject *err = PyDict_GetItemString(globals, "error");
    PyObject *res = PyDict_GetItemString(globals, "result");
    if (err && err != Py_None) {
        const char *msg = PyUnicode_AsUTF8(err);
        pm_error(NULL, "%s", msg ? msg : "conda-meta: unreadable");
    } else if (res && convert(res, m) == 0) {
        rc = 0;
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "conda-meta: no result");
    }
done:
    pk_py_report();
    Py_XDECREF(globals);
    Py_XDECREF(p);
    Py_XDECREF(vars);
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
