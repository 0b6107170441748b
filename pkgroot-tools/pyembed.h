/* pyembed.h - the embedded Python (the libpython python-mpi links), started
 * at most once per pkgroot run and shared by whoever asks it something:
 * pyinfo (where things are, which ABI), condameta (conda's JSON) and pyc
 * (bytecode), each with its own file of Python (pysrc.h). */
#ifndef PK_PYEMBED_H
#define PK_PYEMBED_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN   /* "y#" and the like take a Py_ssize_t length */
#endif
#include <Python.h>

#include "pysrc.h"

/* Start it if not started: isolated, home = python-mpi's default home, no
 * signal handlers.  0, or -1 after printing why. */
int pk_py_start(void);

/* Run one of pkgroot's Python files (pysrc.h) in a fresh namespace, named
 * after the file.  Returns the namespace (a new reference), or NULL after
 * printing the pending exception as one line. */
PyObject *pk_py_load(const pk_pysrc *src);

/* Load src and call its function func with the arguments Py_BuildValue
 * makes of format (a tuple: "(...)"), the namespace then dropped.  Returns
 * func's result (a new reference), or NULL after printing the pending
 * exception as one line. */
PyObject *pk_py_call(const pk_pysrc *src, const char *func, const char *format, ...);

/* Print the pending exception as one line and clear it. */
void pk_py_report(void);

/* Non-zero while started, and different for each start: a module that
 * keeps Python objects across calls remakes them when this changes (the
 * interpreter may have been finalized and started again in between). */
unsigned pk_py_epoch(void);

/* Finalize if started: 0, or -1 after printing why.  Commands call it once
 * they have asked what they need and before writing OUT, so that a failure
 * here never leaves a bundle behind. */
int pk_py_finish(void);

#endif
