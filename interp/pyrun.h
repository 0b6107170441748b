/* pyrun.h - configuring and running the embedded Python like python3.
 *
 * PyConfig's "Python configuration" parses argv exactly as python3 does
 * (script, -c, -m, -, interactive), reads PYTHON* variables, and lets us
 * pin home and sys.executable. */
#ifndef PM_PYRUN_H
#define PM_PYRUN_H

#include <Python.h>

/* Fill an initialised PyConfig: argv as MPI left it, home (NULL: keep
 * PYTHONHOME if set, else the prefix of the Python we were built against,
 * so start-up never searches for its landmarks), sys.executable.
 * Returns 0, or -1 after printing why. */
int pm_python_configure(PyConfig *config, int argc, char **argv, const char *home,
                        const char *executable);

/* Initialise from config (which is cleared) and run; returns the exit
 * status python3 would have.  *init_seconds (if not NULL) gets the time
 * initialisation took. */
int pm_python_run(PyConfig *config, double *init_seconds);

#endif
