/* test_pure.c - the pure logic: bundle lists, chunk arithmetic, the
 * hostname node-grouping fallback, string and size helpers, settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chunk.h"
#include "pkglist.h"
#include "settings.h"
#include "strutil.h"
#include "topology.h"

#include <stdlib.h>
#include <string.h>

static void pkglist_colon_separated(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "a.tar.zst::/abs/b.tar:c/d.tgz:", "/root/", 1, &err), 0);
    assert_null(err);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.paths[0], "/root/a.tar.zst");
    assert_string_equal(l.paths[1], "/abs/b.tar");
    assert_string_equal(l.paths[2], "/root/c/d.tgz");
    pm_pkglist_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.paths);
}

static void pkglist_relative_needs_root(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "/ok.tar:rel.tar", NULL, 1, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "'rel.tar'"));
    assert_non_null(strstr(err, "PYTHON_MPI_PKGROOT"));
    free(err);
    pm_pkglist_free(&l);
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "rel.tar", NULL, 0, &err), 0);
    assert_string_equal(l.paths[0], "rel.tar");
    pm_pkglist_free(&l);
}

static void pkglist_lines(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "# list\n  a.tar  \n\n\t/b.tar\n#c\nd e.tar", "/r", &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.paths[0], "/r/a.tar");
    assert_string_equal(l.paths[1], "/b.tar");
    assert_string_equal(l.paths[2], "/r/d e.tar");
    pm_pkglist_free(&l);
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "\n# only comments\n", NULL, &err), 0);
    assert_int_equal(l.n, 0);
    pm_pkglist_free(&l);
}

static void chunk_small_sizes(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(0, 4096), 0);
    assert_int_equal(pm_chunk_len(0, 4096, 0), 0);
    assert_int_equal(pm_chunk_count(4096, 4096), 1);
    assert_int_equal(pm_chunk_len(4096, 4096, 0), 4096);
    assert_int_equal(pm_chunk_count(4097, 4096), 2);
    assert_int_equal(pm_chunk_len(4097, 4096, 1), 1);
    assert_int_equal(pm_chunk_len(4097, 4096, 2), 0);
    assert_int_equal(pm_chunk_count(5, 1), 5);
    /* Every byte is covered exactly once. */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < pm_chunk_count(1000003, 1000); i++) {
        assert_int_equal(pm_chunk_offset(1000, i), sum);
        sum += pm_chunk_len(1000003, 1000, i);
    }
    assert_int_equal(sum, 1000003);
}

static void chunk_over_4gib(void **state)
{
    (void)state;
    const uint64_t size = (5ULL << 30) + 3;
    const size_t chunk = (size_t)4 << 20;
    assert_int_equal(pm_chunk_count(size, chunk), 1281);
    assert_int_equal(pm_chunk_len(size, chunk, 1279), chunk);
    assert_int_equal(pm_chunk_len(size, chunk, 1280), 3);
    assert_int_equal(pm_chunk_offset(chunk, 1280), 5ULL << 30);
    assert_true(pm_chunk_offset(chunk, 1280) > UINT32_MAX);
    /* A chunk plus the 8-byte header still fits an int count. */
    assert_true(PM_CHUNK_MAX + 8 < (size_t)INT32_MAX);
}

#define STRIDE 16
static void node_color_fallback(void **state)
{
    (void)state;
    const char *hosts[] = {"n1", "n2", "n1", "n3", "n2", "node1", "node10"};
    int n = (int)(sizeof hosts / sizeof hosts[0]);
    char names[7 * STRIDE];
    memset(names, 0, sizeof names);
    for (int i = 0; i < n; i++)
        strcpy(names + i * STRIDE, hosts[i]);
    int expect[] = {0, 1, 0, 3, 1, 5, 6};
    for (int i = 0; i < n; i++)
        assert_int_equal(pm_node_color(names, STRIDE, n, i), expect[i]);
    memset(names, 0, sizeof names);
    for (int i = 0; i < 4; i++)
        strcpy(names + i * STRIDE, "same");
    for (int i = 0; i < 4; i++)
        assert_int_equal(pm_node_color(names, STRIDE, 4, i), 0);
}

static void path_join_and_printf(void **state)
{
    (void)state;
    char *p = pm_path_join("/a/b//", "/c");
    assert_string_equal(p, "/a/b/c");
    free(p);
    p = pm_path_join("/", "x");
    assert_string_equal(p, "/x");
    free(p);
    p = pm_printf_alloc("%s-%d", "run", 42);
    assert_string_equal(p, "run-42");
    free(p);
}

static void parse_size(void **state)
{
    (void)state;
    size_t v = 0;
    assert_int_equal(pm_parse_size("4096", 1 << 30, &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(pm_parse_size("64K", 1 << 30, &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(pm_parse_size("4m", 1 << 30, &v), 0);
    assert_int_equal(v, 4 << 20);
    assert_int_equal(pm_parse_size("1G", 1 << 30, &v), 0);
    assert_int_equal(v, 1 << 30);
    assert_int_equal(pm_parse_size("2G", 1 << 30, &v), -1);
    assert_int_equal(pm_parse_size("0", 1 << 30, &v), -1);
    assert_int_equal(pm_parse_size("-1", 1 << 30, &v), -1);
    assert_int_equal(pm_parse_size("12x", 1 << 30, &v), -1);
    assert_int_equal(pm_parse_size("", 1 << 30, &v), -1);
    assert_int_equal(pm_parse_size("99999999999999999999", 1 << 30, &v), -1);
}

static void clear_env(void)
{
    unsetenv("PYTHON_MPI_PKGROOT");
    unsetenv("PYTHON_MPI_PACKAGES");
    unsetenv("PYTHON_MPI_CHROOT");
    unsetenv("PYTHON_MPI_VERBOSE");
    unsetenv("PYTHON_MPI_CHUNK");
    unsetenv("PYTHON_MPI_NODE_GROUPING");
}

static void settings_defaults_and_values(void **state)
{
    (void)state;
    pm_settings s;
    char *err;
    clear_env();
    assert_int_equal(pm_settings_load(&s, &err), 0);
    assert_string_equal(s.chroot, "/dev/shm");
    assert_int_equal(s.chunk, PM_CHUNK_DEFAULT);
    assert_int_equal(s.verbose, 0);
    assert_null(s.packages);
    assert_null(s.pkgroot);
    assert_int_equal(s.by_hostname, 0);
    setenv("PYTHON_MPI_CHUNK", "1M", 1);
    setenv("PYTHON_MPI_VERBOSE", "2", 1);
    setenv("PYTHON_MPI_CHROOT", "/tmp/x", 1);
    setenv("PYTHON_MPI_PACKAGES", "a:b", 1);
    setenv("PYTHON_MPI_NODE_GROUPING", "hostname", 1);
    assert_int_equal(pm_settings_load(&s, &err), 0);
    assert_int_equal(s.chunk, 1 << 20);
    assert_int_equal(s.verbose, 2);
    assert_string_equal(s.chroot, "/tmp/x");
    assert_string_equal(s.packages, "a:b");
    assert_int_equal(s.by_hostname, 1);
    clear_env();
}

static void settings_errors_name_the_variable(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"PYTHON_MPI_CHUNK", "abc"}, {"PYTHON_MPI_CHUNK", "0"}, {"PYTHON_MPI_CHUNK", "2G"},
        {"PYTHON_MPI_CHUNK", "1K"}, {"PYTHON_MPI_VERBOSE", "loud"},
        {"PYTHON_MPI_NODE_GROUPING", "bogus"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pm_settings s;
        char *err = NULL;
        clear_env();
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(pm_settings_load(&s, &err), -1);
        assert_non_null(err);
        assert_non_null(strstr(err, bad[i][0]));
        assert_non_null(strstr(err, bad[i][1]));
        free(err);
    }
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pkglist_colon_separated),
        cmocka_unit_test(pkglist_relative_needs_root),
        cmocka_unit_test(pkglist_lines),
        cmocka_unit_test(chunk_small_sizes),
        cmocka_unit_test(chunk_over_4gib),
        cmocka_unit_test(node_color_fallback),
        cmocka_unit_test(path_join_and_printf),
        cmocka_unit_test(parse_size),
        cmocka_unit_test(settings_defaults_and_values),
        cmocka_unit_test(settings_errors_name_the_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
