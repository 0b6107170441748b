/* envdir.h - what a PYTHON_MPI_ENV directory is: a venv (pyvenv.cfg), a
 * conda prefix (conda-meta/) or the embedded Python's own home, and
 * whether its packages are for the Python python-mpi embeds.  The Python's
 * version is the caller's to say (the core has no Python.h); nothing is
 * printed. */
#ifndef PM_ENVDIR_H
#define PM_ENVDIR_H

#include "err.h"

typedef enum pm_envdir_kind {
    PM_ENVDIR_NONE,      /* none of these: not a Python environment */
    PM_ENVDIR_RUNTIME,   /* the embedded Python's home itself */
    PM_ENVDIR_VENV,
    PM_ENVDIR_CONDA,
} pm_envdir_kind;

/* dir and home are real paths (home may be NULL: never the runtime). */
pm_envdir_kind pm_envdir_kind_of(const char *dir, const char *home);

/* dir/name is a directory (a regular file), links followed. */
int pm_envdir_has_dir(const char *dir, const char *name);
int pm_envdir_has_file(const char *dir, const char *name);

/* dir/lib/pythonMAJOR.MINOR must be there: 0, or -1 with the reason in
 * *err (another lib/python3.N found is named). */
int pm_envdir_check_version(const char *dir, int major, int minor, pm_err *err);

/* path is dir or below it (both real paths, compared as strings). */
int pm_envdir_under(const char *path, const char *dir);

#endif
