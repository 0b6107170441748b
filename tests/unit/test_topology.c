/* test_topology.c - the hostname fallback's colouring (pm_node_color):
 * ranks with the same processor name share a colour, the lowest such rank. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "topology.h"

#include <stdlib.h>
#include <string.h>

/* Lay out names the way the MPI_Allgather does: one per stride.  With
 * junk, the bytes after each name's NUL differ from rank to rank: only the
 * name up to its NUL may decide the node. */
static char *layout(const char *const *hosts, int n, size_t stride, int junk)
{
    char *all = malloc((size_t)n * stride);
    assert_non_null(all);
    for (int i = 0; i < n; i++) {
        memset(all + (size_t)i * stride, junk ? 'A' + i % 26 : 0, stride);
        size_t len = strlen(hosts[i]);
        assert_true(len < stride);
        memcpy(all + (size_t)i * stride, hosts[i], len + 1);
    }
    return all;
}

static void check_colors(const char *const *hosts, int n, size_t stride, const int *expect)
{
    for (int junk = 0; junk < 2; junk++) {
        char *all = layout(hosts, n, stride, junk);
        for (int i = 0; i < n; i++)
            assert_int_equal(pm_node_color(all, stride, n, i), expect[i]);
        free(all);
    }
}

static void mixed_nodes(void **state)
{
    (void)state;
    const char *hosts[] = {"n1", "n2", "n1", "n3", "n2"};
    const int expect[] = {0, 1, 0, 3, 1};
    check_colors(hosts, 5, MPI_MAX_PROCESSOR_NAME, expect);
}

static void all_same(void **state)
{
    (void)state;
    const char *hosts[] = {"node", "node", "node", "node", "node", "node"};
    const int expect[] = {0, 0, 0, 0, 0, 0};
    check_colors(hosts, 6, MPI_MAX_PROCESSOR_NAME, expect);
}

static void all_different(void **state)
{
    (void)state;
    const char *hosts[] = {"a", "b", "c", "d"};
    const int expect[] = {0, 1, 2, 3};
    check_colors(hosts, 4, MPI_MAX_PROCESSOR_NAME, expect);
}

static void shared_prefix_is_another_node(void **state)
{
    (void)state;
    const char *hosts[] = {"node1", "node10", "node1", "node100", "node10", "node"};
    const int expect[] = {0, 1, 0, 3, 1, 5};
    check_colors(hosts, 6, MPI_MAX_PROCESSOR_NAME, expect);
    /* and the other way round: the longer name first */
    const char *hosts2[] = {"node10", "node1", "node10"};
    const int expect2[] = {0, 1, 0};
    check_colors(hosts2, 3, MPI_MAX_PROCESSOR_NAME, expect2);
}

static void small_stride_and_single_rank(void **state)
{
    (void)state;
    const char *hosts[] = {"x", "yy", "x", "yy", "zzz"};
    const int expect[] = {0, 1, 0, 1, 4};
    check_colors(hosts, 5, 4, expect);
    const char *one[] = {"solo"};
    const int e1[] = {0};
    check_colors(one, 1, MPI_MAX_PROCESSOR_NAME, e1);
}

static void full_stride_names(void **state)
{
    (void)state;
    /* names that fill the stride but for the NUL, differing in the last char */
    char a[8] = "abcdefg", b[8] = "abcdefh";
    const char *hosts[] = {a, b, a, b};
    const int expect[] = {0, 1, 0, 1};
    check_colors(hosts, 4, 8, expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mixed_nodes),
        cmocka_unit_test(all_same),
        cmocka_unit_test(all_different),
        cmocka_unit_test(shared_prefix_is_another_node),
        cmocka_unit_test(small_stride_and_single_rank),
        cmocka_unit_test(full_stride_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
