/* pyembed.c - starting, using and stopping the embedded Python (see
 * pyembed.h). */
#include "pyembed.h"
#include "log.h"

#include <stdarg.h>
#include <string.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

static int started;
static unsigned epoch;   /* how many times started: objects die with each */

static int py_failed(PyStatus st)
{
    if (!PyStatus_Exception(st))
        return 0;
    pm_error(NULL, "embedded Python: %s", st.err_msg ? st.err_msg : "initialisation failed");
    return 1;
}

int pk_py_start(void)
{
    if (started)
        return 0;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    /* The embedded Python's own prefix, as python-mpi uses it; isolated so
     * that PYTHONPATH, PYTHONHOME and the user site cannot change what is
     * found.  No signal handlers: Ctrl-C must stay the default action (and
     * pkgroot's own cleanup handlers must stay in place). */
    config.install_signal_handlers = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.home, PYMPI_DEFAULT_HOME);
    if (!py_failed(st)) {
        st = Py_InitializeFromConfig(&config);
        py_failed(st);
    }
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return -1;
    started = 1;
    epoch++;
    return 0;
}

unsigned pk_py_epoch(void)
{
    return started ? epoch : 0;
}

/* A traceback would break the one-line rule; snippets report their own
 * expected failures, so this is for out-of-memory and the like. */
void pk_py_report(void)
{
    if (!PyErr_Occurred())
        return;
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

PyObject *pk_py_load(const pk_pysrc *src)
{
    if (pk_py_start() != 0)
        return NULL;
    /* Its own name as __name__ (a class statement needs one), never
     * "__main__": the file's command-line part, if any, stays out. */
    const char *base = strrchr(src->name, '/');
    base = base ? base + 1 : src->name;
    const char *dot = strrchr(base, '.');
    PyObject *name = PyUnicode_FromStringAndSize(base, dot ? dot - base : (Py_ssize_t)strlen(base));
    PyObject *globals = name ? PyDict_New() : NULL;
    PyObject *code = NULL, *r = NULL;
    if (globals && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        PyDict_SetItemString(globals, "__name__", name) == 0 &&
        (code = Py_CompileString(src->text, src->name, Py_file_input)))
        r = PyEval_EvalCode(code, globals, globals);
    Py_XDECREF(code);
    Py_XDECREF(name);
    if (!r) {
        Py_XDECREF(globals);
        pk_py_report();
        return NULL;
    }
    Py_DECREF(r);
    return globals;
}

PyObject *pk_py_call(const pk_pysrc *src, const char *func, const char *format, ...)
{
    PyObject *globals = pk_py_load(src);
    if (!globals)
        return NULL;
    PyObject *fn = PyDict_GetItemString(globals, func);   /* borrowed */
    va_list ap;
    va_start(ap, format);
    PyObject *args = fn ? Py_VaBuildValue(format, ap) : NULL;
    va_end(ap);
    if (!fn)
        PyErr_Format(PyExc_NameError, "%s defines no %s()", src->name, func);
    PyObject *r = args ? PyObject_CallObject(fn, args) : NULL;
    Py_XDECREF(args);
    Py_DECREF(globals);
    if (!r)
        pk_py_report();
    return r;
}

int pk_py_finish(void)
{
    if (!started)
        return 0;
    started = 0;
    if (Py_FinalizeEx() != 0) {
        pm_error(NULL, "embedded Python: finalization failed");
        return -1;
    }
    return 0;
}
