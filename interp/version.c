/* version.c - python-mpi --version (see version.h). */
#include "version.h"
#include "log.h"

#include <Python.h>
#include <ctype.h>
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#ifndef PYMPI_VERSION
#define PYMPI_VERSION "unknown"
#endif
#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

int pm_version_requested(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], "--version") == 0;
}

/* The first line of s, its runs of white space (MPICH pads with tabs) made
 * one space, into out. */
static void first_line(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int space = 0;
    for (; *s && *s != '\n' && *s != '\r' && n + 1 < cap; s++) {
        if (isspace((unsigned char)*s)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = 0;
        out[n++] = *s;
    }
    out[n] = '\0';
}

int pm_version_print(void)
{
    pm_log_init("python-mpi");
    char lib[MPI_MAX_LIBRARY_VERSION_STRING], mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS) {
        pm_error(NULL, "--version: MPI_Get_library_version failed");
        return 1;
    }
    lib[len >= 0 && len < (int)sizeof lib ? len : (int)sizeof lib - 1] = '\0';
    first_line(lib, mpi, sizeof mpi);
    /* "3.12.1 (main, ...) [GCC ...]": the version is its first word. */
    const char *py = Py_GetVersion();
    int pylen = (int)strcspn(py, " ");
    if (printf("python-mpi (python-mpi-bcast) %s\n"
               "Python %.*s (default home %s)\n"
               "%s\n", PYMPI_VERSION, pylen, py, PYMPI_DEFAULT_HOME, mpi) < 0 ||
        fflush(stdout) != 0) {
        pm_error(NULL, "--version: stdout: %s", strerror(errno));
        return 1;
    }
    return 0;
}
