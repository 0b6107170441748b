/* pyrun.c - PyConfig set-up and the hand-off to Py_RunMain. */
#include "pyrun.h"
#include "log.h"
#include "mpi_util.h"
#include "trust.h"

#include <errno.h>
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

int pm_python_configure(PyConfig *config, int argc, char **argv, const char *home,
                        const char *executable)
{
    const char *env_home = NULL;   /* an inherited tree: checked (trust.h) */
    if (!home && pm_trust_env_dir("PYTHONHOME", PM_TRUST_RESOLVE, &env_home) != 0)
        return -1;
    if (!home)
        home = env_home ? env_home : PYMPI_DEFAULT_HOME;
    if (home && failed(PyConfig_SetBytesString(config, &config->home, home), "PyConfig home"))
        return -1;
    if (executable &&
        (failed(PyConfig_SetBytesString(config, &config->executable, executable), "PyConfig executable") ||
         failed(PyConfig_SetBytesString(config, &config->program_name, executable), "PyConfig program_name")))
        return -1;
    if (failed(PyConfig_SetBytesArgv(config, argc, argv), "PyConfig argv"))
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
    return Py_RunMain();
}
