/* test_argv.c - the argv hand-off from MPI to Python.
 *
 * MPI_Init_thread is replaced (-Wl,--wrap) by an MPICH-1-style one that
 * strips its own "-p4pg FILE" and "-p4wd DIR" arguments, as legacy MPIs do.
 * python-mpi must give MPI the real argv and hand Python what is left, and
 * Python must parse that exactly as python3 would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mpi_util.h"
#include "pyrun.h"

#include <string.h>
#include <wchar.h>

static int seen_argc;
static char *seen_argv0;

int __wrap_MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int __wrap_MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    seen_argc = *argc;
    seen_argv0 = (*argv)[0];
    char **v = *argv;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if ((strcmp(v[i], "-p4pg") == 0 || strcmp(v[i], "-p4wd") == 0) && i + 1 < *argc) {
            i++;
            continue;
        }
        v[out++] = v[i];
    }
    v[out] = NULL;
    *argc = out;
    *provided = required;
    return MPI_SUCCESS;
}

static void check_wide(const PyWideStringList *l, const char *const *expect, size_t n)
{
    assert_int_equal(l->length, n);
    for (size_t i = 0; i < n; i++) {
        wchar_t w[256];
        assert_true(mbstowcs(w, expect[i], 256) < 256);
        assert_int_equal(wcscmp(l->items[i], w), 0);
    }
}

/* MPI strips, then Python reads: returns the read config. */
static void start(PyConfig *c, char **argv, int argc, const char *home)
{
    int provided = -1;
    assert_int_equal(pm_mpi_start(&argc, &argv, MPI_THREAD_MULTIPLE, &provided), MPI_SUCCESS);
    assert_int_equal(provided, MPI_THREAD_MULTIPLE);
    assert_null(argv[argc]);
    PyConfig_InitPythonConfig(c);
    assert_int_equal(pm_python_configure(c, argc, argv, home, "/opt/bin/python-mpi"), 0);
    PyStatus st = PyConfig_Read(c);
    assert_false(PyStatus_Exception(st));
}

static void script_with_mpi_arguments(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-p4pg", "pgfile", "script.py", "a", "-p4wd", "/work", "b", NULL};
    PyConfig c;
    start(&c, argv, 8, "/dev/shm/python-mpi-1/run");
    assert_int_equal(seen_argc, 8);                   /* MPI saw the real argv */
    assert_string_equal(seen_argv0, "python-mpi");
    /* Python 3.11 makes the script path absolute; argv keeps it as given. */
    size_t len = wcslen(c.run_filename);
    assert_true(len >= 10 && wcscmp(c.run_filename + len - 10, L"/script.py") == 0);
    const char *expect[] = {"script.py", "a", "b"};
    check_wide(&c.argv, expect, 3);
    assert_int_equal(wcscmp(c.home, L"/dev/shm/python-mpi-1/run"), 0);
    assert_int_equal(wcscmp(c.executable, L"/opt/bin/python-mpi"), 0);
    PyConfig_Clear(&c);
}

static void command_and_module(void **state)
{
    (void)state;
    char *argv1[] = {"python-mpi", "-c", "print(1)", "-p4pg", "f", "x", NULL};
    PyConfig c;
    start(&c, argv1, 6, NULL);
    assert_non_null(c.run_command);
    assert_int_equal(wcsncmp(c.run_command, L"print(1)", 8), 0);
    const char *e1[] = {"-c", "x"};
    check_wide(&c.argv, e1, 2);
    PyConfig_Clear(&c);

    char *argv2[] = {"python-mpi", "-m", "mpi4py", "prog.py", "-v", NULL};
    start(&c, argv2, 5, NULL);
    assert_int_equal(wcscmp(c.run_module, L"mpi4py"), 0);
    const char *e2[] = {"-m", "prog.py", "-v"};
    check_wide(&c.argv, e2, 3);
    PyConfig_Clear(&c);
}

static void stdin_and_interactive(void **state)
{
    (void)state;
    char *argv1[] = {"python-mpi", "-", "z", NULL};
    PyConfig c;
    start(&c, argv1, 3, NULL);
    assert_null(c.run_filename);
    assert_null(c.run_command);
    const char *e1[] = {"-", "z"};
    check_wide(&c.argv, e1, 2);
    PyConfig_Clear(&c);

    char *argv2[] = {"python-mpi", "-i", "-p4wd", "/w", NULL};
    start(&c, argv2, 4, NULL);
    assert_int_equal(c.inspect, 1);
    const char *e2[] = {""};
    check_wide(&c.argv, e2, 1);
    PyConfig_Clear(&c);
}

static void default_home_is_the_build_python(void **state)
{
    (void)state;
    unsetenv("PYTHONHOME");
    char *argv[] = {"python-mpi", NULL};
    PyConfig c;
    start(&c, argv, 1, NULL);
    assert_non_null(c.home);
    wchar_t w[256];
    assert_true(mbstowcs(w, PYMPI_DEFAULT_HOME, 256) < 256);
    assert_int_equal(wcscmp(c.home, w), 0);
    PyConfig_Clear(&c);
    setenv("PYTHONHOME", "/elsewhere", 1);          /* the user's choice wins */
    start(&c, argv, 1, NULL);
    assert_int_equal(wcscmp(c.home, L"/elsewhere"), 0);
    PyConfig_Clear(&c);
    unsetenv("PYTHONHOME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(script_with_mpi_arguments),
        cmocka_unit_test(command_and_module),
        cmocka_unit_test(stdin_and_interactive),
        cmocka_unit_test(default_home_is_the_build_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
