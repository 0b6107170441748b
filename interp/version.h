/* version.h - `python-mpi --version`: what this binary is made of.
 *
 * Three lines on stdout, one each: python-mpi's own version, the embedded
 * Python's (the libpython actually loaded, and the default home it was
 * built with), and the MPI library's (the first line of
 * MPI_Get_library_version).  Nothing is initialised: MPI-3 allows
 * MPI_Get_library_version before MPI_Init, and Py_GetVersion before
 * Py_Initialize, so it answers outside any MPI launcher, on a login node
 * or in a build script, in milliseconds.  -V and -VV are left to Python
 * (they print Python's version, as python3's do). */
#ifndef PM_VERSION_H
#define PM_VERSION_H

/* Does argv ask for it (argv[1] is "--version")?  Options after the first
 * belong to Python: `python-mpi -I --version` is Python's own --version. */
int pm_version_requested(int argc, char **argv);

/* Print the three lines.  Returns the exit status: 0, or 1 after saying
 * why on stderr (MPI refused, stdout could not be written). */
int pm_version_print(void);

#endif
