/* pyembed.h - the embedded Python (the libpython python-mpi links), started
 * at most once per pkgroot run and shared by whoever asks it something:
 * pyinfo (where things are, which ABI) and condameta (conda's JSON). */
#ifndef PK_PYEMBED_H
#define PK_PYEMBED_H

#include <Python.h>

/* Start it if not started: isolated, home = python-mpi's default home, no
 * signal handlers.  0, or -1 after printing why. */
int pk_py_start(void);

/* Run code (statements) in a fresh namespace holding vars' items (vars may
 * be NULL).  Returns the namespace (a new reference), or NULL after
 * printing the pending exception as one line. */
PyObject *pk_py_run(const char *code, PyObject *vars);

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
