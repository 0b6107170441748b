/* pyrun.c - PyConfig set-up and the hand-off to Py_RunMain (pyrun.h). */
#include "pyrun.h"
#include "log.h"
#include "phases.h"
#include "rank_end.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

static int failed(PyStatus st, const char *what)
{
    if (!PyStatus_Exception(st))
        return 0;
    pm_error(NULL, "%s: %s%s%s", what, st.func ? st.func : "",
             st.func ? ": " : "", st.err_msg ? st.err_msg : "failed");
    return -1;
}

/* PYTHONHOME, where Python will honour it (not under -E or -I), names a
 * tree that runs as us: refuse one that somebody else could have made or
 * changed (trust.h), before anything of it is read.  Python reads the
 * variable itself, as python3 does. */
static int check_pythonhome(PyConfig *config)
{
    const char *v = getenv("PYTHONHOME");
    if (!v || !*v)
        return 0;
    /* Parses the command line and reads the environment, as
     * Py_InitializeFromConfig will again: only to learn whether the
     * environment counts.  (Before 3.11 it also computes the paths, which
     * looks at files but runs nothing.) */
    if (failed(PyConfig_Read(config), "PyConfig_Read"))
        return -1;
    if (!config->use_environment)
        return 0;
    const char *checked;
    pm_err err = PM_ERR_INIT;
    int rc = pm_trust_env_dir("PYTHONHOME", PM_TRUST_RESOLVE | PM_TRUST_GROUP, &checked, &err);
    pm_err_print(&err);
    return rc;
}

int pm_python_beside_stdlib(const char *argv0)
{
    if (!argv0 || !strchr(argv0, '/'))
        return 0;
    char *why = NULL;   /* not ours to follow: not beside a stdlib */
    char *real = pm_trust_realpath(argv0, &why);
    free(why);
    char *slash = real ? strrchr(real, '/') : NULL;
    int found = 0;
    if (slash) {
        *slash = '\0';
        char *landmark = pm_printf_alloc("%s/../lib/python%d.%d/os.py", real, PY_MAJOR_VERSION,
                                         PY_MINOR_VERSION);
        struct stat st;
        found = landmark && stat(landmark, &st) == 0 && S_ISREG(st.st_mode);
        free(landmark);
    }
    free(real);
    return found;
}

int pm_python_configure(PyConfig *config, int argc, char **argv, const char *home)
{
    /* Before anything else touches the configuration: setting any string
     * of it pre-initialises Python, and without the command line that
     * would ignore -E, -I, -X utf8 and -X dev. */
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    PyStatus st = Py_PreInitializeFromBytesArgs(&pre, argc, argv);
    if (PyStatus_Exception(st)) {
        if (PyStatus_IsExit(st))
            exit(st.exitcode);   /* a usage error: Python has printed it */
        return failed(st, "Python pre-initialisation");
    }
    if (home && failed(PyConfig_SetBytesString(config, &config->home, home), "PyConfig home"))
        return -1;
#if PY_VERSION_HEX >= 0x030B0000
    /* getpath honours a given prefix unless PYTHONHOME (where the
     * environment counts), a ._pth file or a home says otherwise.  A
     * python-mpi that lies in a Python prefix (bin/ beside lib/pythonX.Y)
     * finds that one, as python3 would. */
    if (!home && !pm_python_beside_stdlib(argv[0]) &&
        (failed(PyConfig_SetBytesString(config, &config->prefix, PYMPI_DEFAULT_HOME), "PyConfig prefix") ||
         failed(PyConfig_SetBytesString(config, &config->exec_prefix, PYMPI_DEFAULT_HOME),
                "PyConfig exec_prefix")))
        return -1;
#endif
    if (failed(PyConfig_SetBytesArgv(config, argc, argv), "PyConfig argv"))
        return -1;
    if (!home && check_pythonhome(config) != 0)
        return -1;
    return 0;
}

int pm_python_run(PyConfig *config, double *init_seconds)
{
    double start = pm_now();
    PyStatus st = Py_InitializeFromConfig(config);
    PyConfig_Clear(config);
    if (init_seconds)
        *init_seconds = pm_now() - start;
    if (PyStatus_Exception(st)) {
        if (PyStatus_IsExit(st))
            return st.exitcode;
        failed(st, "Python initialisation");
        return 1;
    }
    if (pm_rank_end_python_ready() != 0)
        return 1;
    return Py_RunMain();
}
