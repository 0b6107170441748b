/* test_settings.c - the PYTHON_MPI_* variables: defaults, values, and
 * errors that name the variable and the offending value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chunk.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
    "PYTHON_MPI_PKGROOT", "PYTHON_MPI_PACKAGES", "PYTHON_MPI_CHROOT",
    "PYTHON_MPI_VERBOSE", "PYTHON_MPI_CHUNK", "PYTHON_MPI_NODE_GROUPING",
    "PYTHON_MPI_TIMING", "PYTHON_MPI_MAX_UNPACKED", "PYTHON_MPI_UNPACKERS",
    "PYTHON_MPI_MAX_ENTRIES",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void load_ok(pm_settings *s)
{
    char *err = (char *)"unset";
    memset(s, 0xa5, sizeof *s);     /* load must set every field */
    assert_int_equal(pm_settings_load(s, &err), 0);
    assert_null(err);
}

/* The variable set to value is refused with a message naming both. */
static void load_fails(const char *var, const char *value)
{
    pm_settings s;
    char *err = NULL;
    clear_env(NULL);
    assert_int_equal(setenv(var, value, 1), 0);
    assert_int_equal(pm_settings_load(&s, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, var));
    assert_non_null(strstr(err, value));
    free(err);
    clear_env(NULL);
}

static void defaults(void **state)
{
    (void)state;
    pm_settings s;
    load_ok(&s);
    assert_null(s.pkgroot);
    assert_null(s.packages);
    assert_non_null(s.chroot);
    assert_string_equal(s.chroot, "/dev/shm");
    assert_int_equal(s.chunk, (size_t)4 << 20);
    assert_int_equal(s.chunk, PM_CHUNK_DEFAULT);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(s.by_hostname, 0);
    assert_int_equal(s.timing, PM_TIMING_OFF);
    assert_null(s.timing_path);
    assert_int_equal(s.unpackers, 0);
}

static void empty_values_are_unset(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i], "", 1);
    pm_settings s;
    load_ok(&s);
    assert_null(s.pkgroot);
    assert_null(s.packages);
    assert_string_equal(s.chroot, "/dev/shm");
    assert_int_equal(s.chunk, PM_CHUNK_DEFAULT);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(s.by_hostname, 0);
    assert_int_equal(s.unpackers, 0);
}

static void values(void **state)
{
    (void)state;
    setenv("PYTHON_MPI_PKGROOT", "/opt/pkgs", 1);
    setenv("PYTHON_MPI_PACKAGES", "a.tar:b.tar", 1);
    setenv("PYTHON_MPI_CHROOT", "/local/scratch", 1);
    setenv("PYTHON_MPI_VERBOSE", "2", 1);
    setenv("PYTHON_MPI_CHUNK", "1M", 1);
    pm_settings s;
    load_ok(&s);
    assert_string_equal(s.pkgroot, "/opt/pkgs");
    assert_string_equal(s.packages, "a.tar:b.tar");
    assert_string_equal(s.chroot, "/local/scratch");
    assert_int_equal(s.verbose, 2);
    assert_int_equal(s.chunk, (size_t)1 << 20);
    assert_int_equal(s.by_hostname, 0);
}

static void chunk_bounds(void **state)
{
    (void)state;
    pm_settings s;
    setenv("PYTHON_MPI_CHUNK", "4K", 1);
    load_ok(&s);
    assert_int_equal(s.chunk, 4096);
    setenv("PYTHON_MPI_CHUNK", "1G", 1);
    load_ok(&s);
    assert_int_equal(s.chunk, PM_CHUNK_MAX);
    setenv("PYTHON_MPI_CHUNK", "65536", 1);
    load_ok(&s);
    assert_int_equal(s.chunk, 65536);
    setenv("PYTHON_MPI_CHUNK", "16m", 1);
    load_ok(&s);
    assert_int_equal(s.chunk, (size_t)16 << 20);
}

/* PYTHON_MPI_MAX_UNPACKED: a size like PYTHON_MPI_CHUNK's; unset is 0 (the
 * default, the node-local file system's size: unpack.h). */
static void max_unpacked(void **state)
{
    (void)state;
    pm_settings s;
    load_ok(&s);
    assert_int_equal(s.max_unpacked, 0);
    setenv("PYTHON_MPI_MAX_UNPACKED", "16G", 1);
    load_ok(&s);
    assert_int_equal(s.max_unpacked, (size_t)16 << 30);
    setenv("PYTHON_MPI_MAX_UNPACKED", "1000", 1);
    load_ok(&s);
    assert_int_equal(s.max_unpacked, 1000);
    load_fails("PYTHON_MPI_MAX_UNPACKED", "0");
    load_fails("PYTHON_MPI_MAX_UNPACKED", "lots");
    load_fails("PYTHON_MPI_MAX_UNPACKED", "-1G");
    load_fails("PYTHON_MPI_MAX_UNPACKED", "4GB");
}

/* PYTHON_MPI_MAX_ENTRIES: a count (K, M suffixes); unset is 0 (the
 * default, half the free inodes: unpack.h). */
static void max_entries(void **state)
{
    (void)state;
    pm_settings s;
    load_ok(&s);
    assert_int_equal(s.max_entries, 0);
    setenv("PYTHON_MPI_MAX_ENTRIES", "100000", 1);
    load_ok(&s);
    assert_int_equal(s.max_entries, 100000);
    load_fails("PYTHON_MPI_MAX_ENTRIES", "0");
    load_fails("PYTHON_MPI_MAX_ENTRIES", "lots");
}

static void bad_chunk(void **state)
{
    (void)state;
    load_fails("PYTHON_MPI_CHUNK", "abc");
    load_fails("PYTHON_MPI_CHUNK", "0");
    load_fails("PYTHON_MPI_CHUNK", "2G");         /* over PM_CHUNK_MAX */
    load_fails("PYTHON_MPI_CHUNK", "1025M");
    load_fails("PYTHON_MPI_CHUNK", "1K");         /* under 4K */
    load_fails("PYTHON_MPI_CHUNK", "4095");
    load_fails("PYTHON_MPI_CHUNK", "-4M");
    load_fails("PYTHON_MPI_CHUNK", "4MB");
}

static void verbose_levels(void **state)
{
    (void)state;
    pm_settings s;
    const char *ok[] = {"0", "1", "2"};
    for (int i = 0; i < 3; i++) {
        setenv("PYTHON_MPI_VERBOSE", ok[i], 1);
        load_ok(&s);
        assert_int_equal(s.verbose, i);
    }
    load_fails("PYTHON_MPI_VERBOSE", "loud");
    load_fails("PYTHON_MPI_VERBOSE", "-1");
    load_fails("PYTHON_MPI_VERBOSE", "1x");
    load_fails("PYTHON_MPI_VERBOSE", "10");
}

static void node_grouping(void **state)
{
    (void)state;
    pm_settings s;
    setenv("PYTHON_MPI_NODE_GROUPING", "hostname", 1);
    load_ok(&s);
    assert_int_equal(s.by_hostname, 1);
    setenv("PYTHON_MPI_NODE_GROUPING", "shared", 1);
    load_ok(&s);
    assert_int_equal(s.by_hostname, 0);
    load_fails("PYTHON_MPI_NODE_GROUPING", "bogus");
    load_fails("PYTHON_MPI_NODE_GROUPING", "Hostname");
    load_fails("PYTHON_MPI_NODE_GROUPING", "hostnames");
}

static void timing_modes(void **state)
{
    (void)state;
    pm_settings s;
    const char *text[] = {"1", "text"};
    for (int i = 0; i < 2; i++) {
        setenv("PYTHON_MPI_TIMING", text[i], 1);
        load_ok(&s);
        assert_int_equal(s.timing, PM_TIMING_TEXT);
        assert_null(s.timing_path);
    }
    setenv("PYTHON_MPI_TIMING", "0", 1);
    load_ok(&s);
    assert_int_equal(s.timing, PM_TIMING_OFF);
    setenv("PYTHON_MPI_TIMING", "json", 1);
    load_ok(&s);
    assert_int_equal(s.timing, PM_TIMING_JSON);
    assert_null(s.timing_path);
    setenv("PYTHON_MPI_TIMING", "json:/tmp/t.json", 1);
    load_ok(&s);
    assert_int_equal(s.timing, PM_TIMING_JSON);
    assert_string_equal(s.timing_path, "/tmp/t.json");
    load_fails("PYTHON_MPI_TIMING", "json:");
    load_fails("PYTHON_MPI_TIMING", "yes");
    load_fails("PYTHON_MPI_TIMING", "2");
    load_fails("PYTHON_MPI_TIMING", "JSON");
}

static void unpackers(void **state)
{
    (void)state;
    pm_settings s;
    setenv("PYTHON_MPI_UNPACKERS", "auto", 1);
    load_ok(&s);
    assert_int_equal(s.unpackers, 0);
    const char *ok[] = {"1", "2", "16", "128", "4096"};
    const int want[] = {1, 2, 16, 128, PM_UNPACKERS_MAX};
    for (int i = 0; i < 5; i++) {
        setenv("PYTHON_MPI_UNPACKERS", ok[i], 1);
        load_ok(&s);
        assert_int_equal(s.unpackers, want[i]);
    }
    load_fails("PYTHON_MPI_UNPACKERS", "0");
    load_fails("PYTHON_MPI_UNPACKERS", "-2");
    load_fails("PYTHON_MPI_UNPACKERS", "+2");
    load_fails("PYTHON_MPI_UNPACKERS", " 2");
    load_fails("PYTHON_MPI_UNPACKERS", "2x");
    load_fails("PYTHON_MPI_UNPACKERS", "many");
    load_fails("PYTHON_MPI_UNPACKERS", "Auto");
    load_fails("PYTHON_MPI_UNPACKERS", "4097");
    load_fails("PYTHON_MPI_UNPACKERS", "99999999999999999999");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(empty_values_are_unset, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(values, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(chunk_bounds, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(bad_chunk, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(max_unpacked, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(max_entries, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(verbose_levels, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(node_grouping, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(timing_modes, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(unpackers, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
