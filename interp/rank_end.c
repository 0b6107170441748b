/* rank_end.c - the one end of a rank: exit(), python-mpi's own return from
 * Py_RunMain, Python's SIGINT self-kill and os._exit() all lead to the
 * function armed here (see rank_end.h for what is and is not caught).
 *
 * kill is defined here, in the executable, which exports it: the dynamic
 * linker then binds libpython's call to it (a static libpython binds to it
 * at link time).  It passes straight to the system call except in the one
 * case it exists for, and stays async-signal-safe.  libc's exit functions
 * are left alone: os._exit is caught inside Python instead. */
#include "rank_end.h"
#include "log.h"

#include <Python.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { IDLE, ARMED, ENDING };
static atomic_int state = IDLE;
static pid_t owner;                 /* the process that armed; 0: none */
static pm_end_fn end_fn;
static void *end_ctx;
static atomic_int python_finalized; /* Py_FinalizeEx has run (owner only) */
static atomic_int interrupted;      /* Python's SIGINT self-kill was held back */

/* The first caller in the owner process wins; everyone else passes. */
static int begin_end(void)
{
    if (owner == 0 || getpid() != owner)
        return 0;
    int expected = ARMED;
    return atomic_compare_exchange_strong(&state, &expected, ENDING);
}

static enum pm_end_how exit_how(void)
{
    return atomic_load(&interrupted) ? PM_END_INTERRUPT : PM_END_EXIT;
}

/* exit() called by somebody else (Python's SystemExit, a C library). */
static void at_exit(int status, void *arg)
{
    (void)arg;
    if (!begin_end())
        return;
    int final = end_fn(status, exit_how(), end_ctx);
    /* exit() cannot change its status, but glibc lets a handler call exit()
     * again: the handlers registered before this one (the MPI library's,
     * _dl_fini's destructors) then run, then stdio's clean-up, and the
     * process leaves with the last status (rank_end.h). */
    if ((final & 0xff) != (status & 0xff))
        exit(final);
}

int pm_rank_end_arm(pm_end_fn fn, void *ctx)
{
    if (atomic_load(&state) != IDLE) {
        pm_error(NULL, "internal error: the end of the rank armed twice");
        return -1;
    }
    end_fn = fn;
    end_ctx = ctx;
    owner = getpid();
    atomic_store(&state, ARMED);
    /* on_exit, not atexit: the handler needs exit()'s status.  Handlers
     * run last-registered first, so this one runs before any that the MPI
     * library registered during MPI_Init. */
    if (on_exit(at_exit, NULL) != 0) {
        pm_error(NULL, "on_exit failed");
        atomic_store(&state, IDLE);
        owner = 0;
        return -1;
    }
    return 0;
}

_Noreturn void pm_rank_end_exit(int status)
{
    if (begin_end())
        status = end_fn(status, exit_how(), end_ctx);
    exit(status);
}

static void python_done(void)
{
    if (owner != 0 && getpid() == owner)
        atomic_store(&python_finalized, 1);
}

/* os._exit(status): the program ends without Python's finalization, but
 * the rank still ends as every rank must; a forked child passes through.
 * The arguments are checked first, as Python's own checks them, so a bad
 * call raises without ending anything.  The GIL stays held, as in Python's
 * os._exit: no other thread of the program runs during the end. */
static PyObject *os_exit(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *kwlist[] = {"status", NULL};
    int status;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i:_exit", kwlist, &status))
        return NULL;
    if (begin_end())
        status = end_fn(status, PM_END_UNDERSCORE, end_ctx);
    _exit(status);
}

static PyMethodDef os_exit_def = {
    "_exit", (PyCFunction)(void (*)(void))os_exit, METH_VARARGS | METH_KEYWORDS,
    "_exit($module, /, status)\n--\n\n"
    "Exit to the system with specified status, without normal exit processing.",
};

/* posix._exit and, when os is already imported (it is, unless -S and -I
 * kept it out), os._exit become ours; an os imported later takes posix's
 * (os.py: from posix import _exit).  0, or -1 with a Python error set. */
static int replace_os_exit(void)
{
    int rc = -1;
    PyObject *posix = PyImport_ImportModule("posix");
    PyObject *module_name = PyUnicode_FromString("posix");
    PyObject *os_name = PyUnicode_FromString("os");
    PyObject *fn = NULL, *os = NULL;
    if (!posix || !module_name || !os_name)
        goto out;
    fn = PyCFunction_NewEx(&os_exit_def, posix, module_name);
    if (!fn || PyObject_SetAttrString(posix, "_exit", fn) != 0)
        goto out;
    os = PyImport_GetModule(os_name);
    if (!os && PyErr_Occurred())
        goto out;
    if (os && PyObject_SetAttrString(os, "_exit", fn) != 0)
        goto out;
    rc = 0;
out:
    Py_XDECREF(os);
    Py_XDECREF(fn);
    Py_XDECREF(os_name);
    Py_XDECREF(module_name);
    Py_XDECREF(posix);
    return rc;
}

int pm_rank_end_python_ready(void)
{
    if (owner == 0 || getpid() != owner || atomic_load(&state) != ARMED)
        return 0;
    /* Py_AtExit functions run at the very end of Py_FinalizeEx, after the
     * program's own atexit handlers: from then on a SIGINT this process
     * sends itself is Py_RunMain's way of saying "KeyboardInterrupt". */
    if (Py_AtExit(python_done) != 0) {
        pm_error(NULL, "Py_AtExit: too many exit functions");
        return -1;
    }
    if (replace_os_exit() != 0) {
        PyErr_Clear();
        pm_error(NULL, "cannot replace os._exit: a Python error while setting it");
        return -1;
    }
    return 0;
}

int pm_rank_end_running(void)
{
    return atomic_load(&state) == ENDING;
}

/* After an unhandled KeyboardInterrupt, Py_RunMain resets SIGINT to its
 * default action and sends it to its own process, so that a shell sees
 * the ^C (bpo-1054041); a rank would die before ending.  That one call is
 * not made (it returns 0 as if sent): Py_RunMain then returns 130, and the
 * end reports it.  Only atomics, getpid and the system call: as
 * async-signal-safe as libc's kill. */
int kill(pid_t pid, int sig)
{
    if (sig == SIGINT && owner != 0 && atomic_load(&python_finalized) &&
        atomic_load(&state) == ARMED && pid == getpid() && getpid() == owner) {
        atomic_store(&interrupted, 1);
        return 0;
    }
    return (int)syscall(SYS_kill, pid, sig);
}
