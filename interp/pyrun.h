/* pyrun.h - configuring and running the embedded Python like python3.
 *
 * Python is pre-initialised from the command line first, so -E, -I,
 * -X utf8, -X dev and the PYTHON* variables count exactly as they do for
 * python3; PyConfig's "Python configuration" then parses argv as python3
 * does (script, -c, -m, -, interactive).  sys.executable is computed by
 * Python from argv[0] (not resolved through symbolic links), so a venv
 * whose bin/python links to python-mpi is that venv. */
#ifndef PM_PYRUN_H
#define PM_PYRUN_H

#include <Python.h>

/* Fill an initialised PyConfig from argv as MPI left it.  home: the
 * node-local tree to run on, or NULL: Python's own rules (PYTHONHOME
 * unless -E/-I, a ._pth file, a venv), with the prefix of the Python
 * python-mpi was built against in place of the search from the
 * executable's location (python-mpi rarely lives in its Python's prefix).
 * Returns 0, or -1 after printing why. */
int pm_python_configure(PyConfig *config, int argc, char **argv, const char *home);

/* Does argv0's directory's parent hold this Python's standard library
 * (lib/pythonX.Y/os.py), as a Python prefix does (a python-mpi installed
 * into, or copied to, a Python's bin/)?  Only a path with a '/' is looked
 * at: a realpath and one stat. */
int pm_python_beside_stdlib(const char *argv0);

/* Initialise from config (which is cleared) and run; returns the exit
 * status python3 would have.  *init_seconds (if not NULL) gets the time
 * initialisation took. */
int pm_python_run(PyConfig *config, double *init_seconds);

#endif
