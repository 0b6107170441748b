/* test_err.c - the core's reasons (err.h): the first one recorded is the
 * one kept, a NULL pm_err is allowed, printing clears, and a printed
 * reason has log.h's one-line shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void first_reason_is_kept(void **state)
{
    (void)state;
    pm_err e = PM_ERR_INIT;
    assert_false(e.set);
    pm_err_set(&e, "a.tar", "entry '%s': %s", "x", "refused");
    pm_err_set(&e, "b.tar", "a consequence of the first");
    assert_true(e.set);
    assert_string_equal(e.file, "a.tar");
    assert_string_equal(pm_err_text(&e), "entry 'x': refused");
    pm_err_clear(&e);
    assert_false(e.set);
    assert_null(e.file);
    assert_null(e.text);
}

static void null_err_and_null_file(void **state)
{
    (void)state;
    pm_err_set(NULL, "f", "nobody wants this");   /* no crash, nothing kept */
    pm_err e = PM_ERR_INIT;
    pm_err_set(&e, NULL, "no file involved");
    assert_null(e.file);
    assert_string_equal(pm_err_text(&e), "no file involved");
    pm_err_clear(&e);
    pm_err_print(NULL);
    pm_err_print(&e);   /* not set: prints nothing */
}

/* Printed once, in the shape every error has, then cleared. */
static void print_has_the_one_shape(void **state)
{
    (void)state;
    char path[] = "/tmp/pm-err.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    pm_log_init("unit");
    pm_log_set_rank(3);
    pm_err e = PM_ERR_INIT;
    pm_err_set(&e, "x.tar", "line\nbreak");
    pm_err_print(&e);
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    assert_false(e.set);
    char got[512] = {0};
    assert_true(pread(fd, got, sizeof got - 1, 0) > 0);
    close(fd);
    char want[512];
    snprintf(want, sizeof want, "unit: rank 3 on %s: x.tar: line\\nbreak\n", pm_log_node());
    assert_string_equal(got, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_reason_is_kept),
        cmocka_unit_test(null_err_and_null_file),
        cmocka_unit_test(print_has_the_one_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
