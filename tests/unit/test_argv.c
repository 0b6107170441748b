/* test_argv.c - the argv hand-off from MPI to Python.
 *
 * MPI_Init_thread is replaced (-Wl,--wrap, see tests.mk) by an MPI-1-style
 * one that strips its own "-p4pg FILE" and "-p4wd DIR" arguments, as
 * MPICH-1's p4 device did.  python-mpi must give MPI the real argv and hand
 * Python what is left, and Python must parse that exactly as python3 would.
 * Nothing here starts MPI or Python for real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mpi_util.h"
#include "pyrun.h"
#include "jobdir.h"
#include "strutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

/* What the fake MPI saw. */
#define MAXARGS 32
static int seen_calls;
static int seen_argc;
static char **seen_vec;
static char *seen_argv[MAXARGS];
static int seen_required;
/* 1: hand back a fresh array instead of compacting in place (allowed by
 * the MPI standard, done by some implementations). */
static int fake_replaces_array;
static char *replacement[MAXARGS];

int __wrap_MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int __wrap_MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    seen_calls++;
    seen_argc = *argc;
    seen_vec = *argv;
    seen_required = required;
    for (int i = 0; i < *argc && i < MAXARGS; i++)
        seen_argv[i] = (*argv)[i];
    char **in = *argv;
    char **out = fake_replaces_array ? replacement : in;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        if ((strcmp(in[i], "-p4pg") == 0 || strcmp(in[i], "-p4wd") == 0) && i + 1 < *argc) {
            i++;
            continue;
        }
        out[n++] = in[i];
    }
    out[n] = NULL;
    *argc = n;
    *argv = out;
    *provided = required < MPI_THREAD_SERIALIZED ? required : MPI_THREAD_SERIALIZED;
    return MPI_SUCCESS;
}

static int reset(void **state)
{
    (void)state;
    seen_calls = 0;
    seen_argc = -1;
    seen_vec = NULL;
    seen_required = -1;
    memset(seen_argv, 0, sizeof seen_argv);
    fake_replaces_array = 0;
    unsetenv("PYTHONHOME");
    return 0;
}

static int argc_of(char **argv)
{
    int n = 0;
    while (argv[n])
        n++;
    return n;
}

static void argv_is(int argc, char **argv, const char *const *expect, int n)
{
    assert_int_equal(argc, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(argv[i], expect[i]);
    assert_null(argv[n]);
}

static void wide_is(const wchar_t *got, const char *expect)
{
    assert_non_null(got);
    wchar_t w[PATH_MAX];
    size_t n = mbstowcs(w, expect, PATH_MAX);
    assert_true(n < PATH_MAX);
    if (wcscmp(got, w) != 0)
        fail_msg("got '%ls', expected '%s'", got, expect);
}

static void wide_list_is(const PyWideStringList *l, const char *const *expect, size_t n)
{
    assert_int_equal(l->length, n);
    for (size_t i = 0; i < n; i++)
        wide_is(l->items[i], expect[i]);
}

/* MPI strips; Python parses what is left.  c is read and must be cleared. */
static void hand_off(PyConfig *c, char **argv, const char *home)
{
    int argc = argc_of(argv);
    int provided = -1;
    assert_int_equal(pm_mpi_start(&argc, &argv, MPI_THREAD_MULTIPLE, &provided), MPI_SUCCESS);
    assert_int_equal(seen_calls, 1);
    assert_int_equal(seen_required, MPI_THREAD_MULTIPLE);
    assert_int_equal(provided, MPI_THREAD_SERIALIZED);   /* passed back */
    assert_int_equal(argc, argc_of(argv));
    PyConfig_InitPythonConfig(c);
    assert_int_equal(pm_python_configure(c, argc, argv, home), 0);
    PyStatus st = PyConfig_Read(c);
    if (PyStatus_Exception(st))
        fail_msg("PyConfig_Read: %s", st.err_msg ? st.err_msg : "?");
}

static void mpi_sees_all_then_strips(void **state)
{
    (void)state;
    char *orig[] = {"python-mpi", "-p4pg", "pg", "script.py", "a", "-p4wd", "/w", "b", NULL};
    char *argv_buf[sizeof orig / sizeof orig[0]];
    memcpy(argv_buf, orig, sizeof orig);
    char **argv = argv_buf;
    int argc = 8;
    int provided = -1;
    assert_int_equal(pm_mpi_start(&argc, &argv, MPI_THREAD_FUNNELED, &provided), MPI_SUCCESS);
    /* MPI got the real argc/argv: the very array, every argument */
    assert_int_equal(seen_calls, 1);
    assert_int_equal(seen_argc, 8);
    assert_ptr_equal(seen_vec, argv_buf);
    for (int i = 0; i < 8; i++)
        assert_ptr_equal(seen_argv[i], orig[i]);
    assert_int_equal(seen_required, MPI_THREAD_FUNNELED);
    assert_int_equal(provided, MPI_THREAD_FUNNELED);
    /* and the program has what MPI left */
    const char *left[] = {"python-mpi", "script.py", "a", "b"};
    argv_is(argc, argv, left, 4);
}

static void mpi_may_replace_the_array(void **state)
{
    (void)state;
    fake_replaces_array = 1;
    char *orig[] = {"python-mpi", "-p4wd", "/w", "-c", "pass", NULL};
    char **argv = orig;
    int argc = 5;
    int provided;
    assert_int_equal(pm_mpi_start(&argc, &argv, MPI_THREAD_SINGLE, &provided), MPI_SUCCESS);
    assert_ptr_equal(argv, replacement);
    const char *left[] = {"python-mpi", "-c", "pass"};
    argv_is(argc, argv, left, 3);
    assert_string_equal(orig[1], "-p4wd");   /* the original was not touched */
}

static void script_with_mpi_arguments(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-p4pg", "pg", "script.py", "a", "-p4wd", "/w", "b", NULL};
    PyConfig c;
    hand_off(&c, argv, "/dev/shm/python-mpi-1/run");
    assert_int_equal(seen_argc, 8);                   /* MPI saw the real argv */
#if PY_VERSION_HEX >= 0x030B0000
    /* Python 3.11 makes the script path absolute, as python3 does */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "%s/script.py", cwd);
    wide_is(c.run_filename, want);
#else
    wide_is(c.run_filename, "script.py");
#endif
    assert_null(c.run_command);
    assert_null(c.run_module);
    const char *expect[] = {"script.py", "a", "b"};
    wide_list_is(&c.argv, expect, 3);
    wide_is(c.home, "/dev/shm/python-mpi-1/run");
    /* sys.executable is Python's to compute from argv[0], as MPI left it
     * (3.11 computes it at initialisation; older versions when reading) */
#if PY_VERSION_HEX >= 0x030B0000
    assert_null(c.executable);
    assert_null(c.program_name);
#else
    wide_is(c.program_name, "python-mpi");
#endif
    PyConfig_Clear(&c);
}

static void command(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-c", "code", "-p4pg", "f", "x", NULL};
    PyConfig c;
    hand_off(&c, argv, NULL);
    wide_is(c.run_command, "code\n");   /* PyConfig_Read appends a newline */
    assert_null(c.run_filename);
    assert_null(c.run_module);
    const char *expect[] = {"-c", "x"};
    wide_list_is(&c.argv, expect, 2);
    PyConfig_Clear(&c);
}

static void module(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-m", "mod", "-p4wd", "/w", "prog.py", "-v", NULL};
    PyConfig c;
    hand_off(&c, argv, NULL);
    wide_is(c.run_module, "mod");
    assert_null(c.run_command);
    assert_null(c.run_filename);
    /* options after the module name belong to it, not to Python */
    const char *expect[] = {"-m", "prog.py", "-v"};
    wide_list_is(&c.argv, expect, 3);
    assert_int_equal(c.verbose, 0);
    PyConfig_Clear(&c);
}

static void interpreter_options_before_script(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-u", "-p4pg", "pg", "-B", "-X", "utf8", "s.py", "-u", NULL};
    PyConfig c;
    hand_off(&c, argv, NULL);
    assert_int_equal(c.buffered_stdio, 0);
    assert_int_equal(c.write_bytecode, 0);
    const char *xopts[] = {"utf8"};
    wide_list_is(&c.xoptions, xopts, 1);
    const char *expect[] = {"s.py", "-u"};
    wide_list_is(&c.argv, expect, 2);
    PyConfig_Clear(&c);
}

static void stdin_and_interactive(void **state)
{
    (void)state;
    char *argv1[] = {"python-mpi", "-", "z", NULL};
    PyConfig c;
    hand_off(&c, argv1, NULL);
    assert_null(c.run_filename);
    assert_null(c.run_command);
    assert_null(c.run_module);
    const char *e1[] = {"-", "z"};
    wide_list_is(&c.argv, e1, 2);
    PyConfig_Clear(&c);

    reset(NULL);
    char *argv2[] = {"python-mpi", "-i", "-p4wd", "/w", NULL};
    hand_off(&c, argv2, NULL);
    assert_int_equal(seen_argc, 4);
    assert_int_equal(c.inspect, 1);
    const char *e2[] = {""};
    wide_list_is(&c.argv, e2, 1);
    PyConfig_Clear(&c);
}

static void home_and_executable(void **state)
{
    (void)state;
    char *argv[] = {"python-mpi", "-c", "pass", NULL};
    PyConfig c;
    /* the node-local tree wins over PYTHONHOME; sys.executable is left
     * to Python, which computes it from argv[0] as python3 does */
    setenv("PYTHONHOME", "/elsewhere", 1);
    hand_off(&c, argv, "/pinned/home");
    wide_is(c.home, "/pinned/home");
#if PY_VERSION_HEX >= 0x030B0000
    assert_null(c.executable);
#endif
    PyConfig_Clear(&c);

    /* no tree: Python's own rules decide (PYTHONHOME unless -E, a ._pth
     * file, a venv), with the Python we were built against as the prefix
     * in place of a search from where the executable lies */
    reset(NULL);
    unsetenv("PYTHONHOME");
    hand_off(&c, argv, NULL);
#if PY_VERSION_HEX >= 0x030B0000
    assert_null(c.executable);
    wide_is(c.prefix, PYMPI_DEFAULT_HOME);
    wide_is(c.exec_prefix, PYMPI_DEFAULT_HOME);
#endif
    PyConfig_Clear(&c);

    /* PYTHONHOME, where Python will honour it, is checked first (trust.h) */
    char tmpl[] = "/tmp/pm-argv-home.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    reset(NULL);
    setenv("PYTHONHOME", tmpl, 1);
    hand_off(&c, argv, NULL);
    PyConfig_Clear(&c);
    /* ... and refused when another user could have made it: missing (in a
     * shared directory, a name anyone can claim), or writable by others */
    char *open_dir = pm_path_join(tmpl, "open"), *inside = pm_path_join(tmpl, "open/home");
    assert_int_equal(mkdir(open_dir, 0777), 0);
    assert_int_equal(chmod(open_dir, 0777), 0);
    assert_int_equal(mkdir(inside, 0700), 0);
    const char *bad[] = {"/elsewhere", open_dir, inside};
    char *argv_e[] = {"python-mpi", "-E", "-c", "pass", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset(NULL);
        setenv("PYTHONHOME", bad[i], 1);
        PyConfig_InitPythonConfig(&c);
        assert_int_equal(pm_python_configure(&c, 3, argv, NULL), -1);
        PyConfig_Clear(&c);
        /* with -E Python ignores it, and so do we */
        PyConfig_InitPythonConfig(&c);
        assert_int_equal(pm_python_configure(&c, 4, argv_e, NULL), 0);
        PyConfig_Clear(&c);
    }
    assert_int_equal(pm_rmtree(tmpl, NULL), 0);
    free(open_dir);
    free(inside);
    PyConfig_Clear(&c);
    reset(NULL);
    unsetenv("PYTHONHOME");
    hand_off(&c, argv, NULL);
    assert_null(c.home);
    PyConfig_Clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(mpi_sees_all_then_strips, reset),
        cmocka_unit_test_setup(mpi_may_replace_the_array, reset),
        cmocka_unit_test_setup(script_with_mpi_arguments, reset),
        cmocka_unit_test_setup(command, reset),
        cmocka_unit_test_setup(module, reset),
        cmocka_unit_test_setup(interpreter_options_before_script, reset),
        cmocka_unit_test_setup(stdin_and_interactive, reset),
        cmocka_unit_test_setup_teardown(home_and_executable, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
