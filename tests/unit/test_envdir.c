/* test_envdir.c - what a PYTHON_MPI_ENV directory is (envdir.h): a venv,
 * a conda prefix, the runtime's home, or none; the version check names
 * another Python's lib/pythonX.Y, or says there is none; under() compares
 * whole components. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "scratch.h"

#include "envdir.h"
#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *top;

static void mkd(const char *rel) { scratch_mkdir(top, rel); }
static void touch(const char *rel) { scratch_put(top, rel, ""); }

static int setup(void **state)
{
    (void)state;
    top = scratch_new("test_envdir");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_free(top);
    return 0;
}

static void kinds(void **state)
{
    (void)state;
    mkd("venv");
    touch("venv/pyvenv.cfg");
    mkd("conda");
    mkd("conda/conda-meta");
    mkd("both");                  /* pyvenv.cfg wins */
    touch("both/pyvenv.cfg");
    mkd("both/conda-meta");
    mkd("plain");
    touch("plain/conda-meta");    /* a file, not the directory */
    char *v = pm_path_join(top, "venv"), *c = pm_path_join(top, "conda"), *b = pm_path_join(top, "both"),
         *p = pm_path_join(top, "plain");
    assert_int_equal(pm_envdir_kind_of(v, NULL), PM_ENVDIR_VENV);
    assert_int_equal(pm_envdir_kind_of(c, "/usr"), PM_ENVDIR_CONDA);
    assert_int_equal(pm_envdir_kind_of(b, NULL), PM_ENVDIR_VENV);
    assert_int_equal(pm_envdir_kind_of(p, NULL), PM_ENVDIR_NONE);
    assert_int_equal(pm_envdir_kind_of(p, p), PM_ENVDIR_RUNTIME);   /* home itself */
    free(v);
    free(c);
    free(b);
    free(p);
}

static void versions(void **state)
{
    (void)state;
    mkd("lib");
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envdir_check_version(top, 3, 11, &err), -1);
    assert_string_equal(err.file, top);
    assert_non_null(strstr(pm_err_text(&err), "no lib/python3.11: not an environment"));
    pm_err_clear(&err);
    mkd("lib/python3.9");
    assert_int_equal(pm_envdir_check_version(top, 3, 11, &err), -1);
    assert_non_null(strstr(pm_err_text(&err), "an environment of Python 3.9 (lib/python3.9), but python-mpi "
                                              "embeds Python 3.11"));
    pm_err_clear(&err);
    mkd("lib/python3.11");
    assert_int_equal(pm_envdir_check_version(top, 3, 11, &err), 0);
    assert_false(err.set);
    assert_true(pm_envdir_has_dir(top, "lib/python3.11"));
    assert_false(pm_envdir_has_file(top, "lib/python3.11"));
}

static void under_whole_components(void **state)
{
    (void)state;
    assert_true(pm_envdir_under("/a/b", "/a/b"));
    assert_true(pm_envdir_under("/a/b/c", "/a/b"));
    assert_false(pm_envdir_under("/a/bc", "/a/b"));
    assert_false(pm_envdir_under("/a", "/a/b"));
    assert_true(pm_envdir_under("/anything", "/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(versions, setup, teardown),
        cmocka_unit_test(under_whole_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
