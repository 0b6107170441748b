/* test_unpackers.c - how many ranks of a node unpack (pm_unpackers_count,
 * pm_unpackers_active) and the number of parts a bundle's marker
 * records (pm_parts_count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unpack.h"
#include "unpackers.h"

#include <stdio.h>
#include <string.h>

static void count_is_min_of_node_and_cpus(void **state)
{
    (void)state;
    /* The node's CPUs bound it, and so does the node's size. */
    assert_int_equal(pm_unpackers_count(1, 2, 0), 1);
    assert_int_equal(pm_unpackers_count(2, 2, 0), 2);
    assert_int_equal(pm_unpackers_count(16, 2, 0), 2);
    assert_int_equal(pm_unpackers_count(32, 2, 0), 2);
    assert_int_equal(pm_unpackers_count(128, 128, 0), 128);
    assert_int_equal(pm_unpackers_count(128, 256, 0), 128);
    assert_int_equal(pm_unpackers_count(64, 128, 0), 64);
    /* A machine that reports no CPUs (sysconf's -1) still has one. */
    assert_int_equal(pm_unpackers_count(16, -1, 0), 1);
    assert_int_equal(pm_unpackers_count(16, 0, 0), 1);
}

static void requested_overrides_cpus(void **state)
{
    (void)state;
    assert_int_equal(pm_unpackers_count(16, 2, 1), 1);
    assert_int_equal(pm_unpackers_count(16, 2, 8), 8);      /* more than CPUs: asked for */
    assert_int_equal(pm_unpackers_count(16, 128, 4), 4);
    assert_int_equal(pm_unpackers_count(4, 2, 8), 4);       /* never more than the node */
    assert_int_equal(pm_unpackers_count(1, 128, 4096), 1);
}

static void active_is_bounded_by_parts(void **state)
{
    (void)state;
    assert_int_equal(pm_unpackers_active(2, 0), 2);   /* not known: all */
    assert_int_equal(pm_unpackers_active(2, 53), 2);
    assert_int_equal(pm_unpackers_active(128, 3), 3);
    assert_int_equal(pm_unpackers_active(128, 1), 1);
    assert_int_equal(pm_unpackers_active(4, 4), 4);
    assert_int_equal(pm_unpackers_active(4, 5), 4);
    assert_int_equal(pm_unpackers_active(1, 900), 1);
    assert_int_equal(pm_unpackers_active(8, UINT64_MAX), 8);
}

/* A tar header for the marker, then its text. */
static void marker(unsigned char *buf, size_t len, const char *text)
{
    memset(buf, 0, len);
    memcpy(buf, PM_PARTS_MARKER, sizeof PM_PARTS_MARKER);
    memcpy(buf + 512, text, strlen(text));
}

static void parts_count_from_marker(void **state)
{
    (void)state;
    unsigned char head[1024];
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 0000000053\n");
    assert_int_equal(pm_parts_count(head, sizeof head), 53);
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 0000000001\n");
    assert_int_equal(pm_parts_count(head, sizeof head), 1);
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 9999999999\n");
    assert_int_equal(pm_parts_count(head, sizeof head), 9999999999ULL);
    /* Bundles written before the count: not known. */
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT);
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
    /* Malformed counts are not known either. */
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts \n");
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 12x\n");
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 00000000000000000012\n");   /* 20 digits */
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
    marker(head, sizeof head, "python-mpi parts bundle, version 2\nparts 0000000053\n");
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
    /* Cut short: the count's newline is not there. */
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 0000000053\n");
    size_t cut = 512 + strlen(PM_PARTS_MARKER_TEXT) + strlen("parts 0000000053");
    assert_int_equal(pm_parts_count(head, cut), 0);
    assert_int_equal(pm_parts_count(head, cut + 1), 53);
    assert_int_equal(pm_parts_count(head, 550), 0);   /* inside the text */
    assert_int_equal(pm_parts_count(head, 100), 0);
    /* Not a parts bundle at all. */
    marker(head, sizeof head, PM_PARTS_MARKER_TEXT "parts 0000000053\n");
    memcpy(head, "lib/", 4);
    assert_int_equal(pm_parts_count(head, sizeof head), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_is_min_of_node_and_cpus),
        cmocka_unit_test(requested_overrides_cpus),
        cmocka_unit_test(active_is_bounded_by_parts),
        cmocka_unit_test(parts_count_from_marker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
