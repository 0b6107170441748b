/* test_chunk.c - cutting a bundle of any size into MPI-sized chunks:
 * 64-bit sizes and offsets, the short last chunk, out-of-range indices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chunk.h"

#include <limits.h>

/* Walk every chunk: offsets are contiguous, every length but the last is
 * the chunk size, and the lengths add up to size. */
static void walk_covers(uint64_t size, size_t chunk)
{
    uint64_t count = pm_chunk_count(size, chunk);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < count; i++) {
        assert_int_equal(pm_chunk_offset(chunk, i), sum);
        size_t len = pm_chunk_len(size, chunk, i);
        assert_true(len > 0);
        assert_true(len <= chunk);
        if (i + 1 < count)
            assert_int_equal(len, chunk);
        sum += len;
    }
    assert_int_equal(sum, size);
    assert_int_equal(pm_chunk_len(size, chunk, count), 0);
}

static void empty_bundle(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(0, 4096), 0);
    assert_int_equal(pm_chunk_len(0, 4096, 0), 0);
    assert_int_equal(pm_chunk_len(0, 1, 0), 0);
    assert_int_equal(pm_chunk_offset(4096, 0), 0);
}

static void exact_multiples(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(4096, 4096), 1);
    assert_int_equal(pm_chunk_len(4096, 4096, 0), 4096);
    assert_int_equal(pm_chunk_len(4096, 4096, 1), 0);
    assert_int_equal(pm_chunk_count(3 * 4096, 4096), 3);
    assert_int_equal(pm_chunk_len(3 * 4096, 4096, 2), 4096);
    assert_int_equal(pm_chunk_len(3 * 4096, 4096, 3), 0);
    assert_int_equal(pm_chunk_offset(4096, 2), 8192);
    walk_covers(3 * 4096, 4096);
}

static void short_last_chunk(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(1, 4096), 1);
    assert_int_equal(pm_chunk_len(1, 4096, 0), 1);
    assert_int_equal(pm_chunk_count(4095, 4096), 1);
    assert_int_equal(pm_chunk_len(4095, 4096, 0), 4095);
    assert_int_equal(pm_chunk_count(4097, 4096), 2);
    assert_int_equal(pm_chunk_len(4097, 4096, 0), 4096);
    assert_int_equal(pm_chunk_len(4097, 4096, 1), 1);
    assert_int_equal(pm_chunk_len(4097, 4096, 2), 0);
    assert_int_equal(pm_chunk_count(10000, 3000), 4);
    assert_int_equal(pm_chunk_len(10000, 3000, 3), 1000);
    assert_int_equal(pm_chunk_offset(3000, 3), 9000);
    walk_covers(10000, 3000);
    walk_covers(1000003, 1000);
    walk_covers(7, 2);
}

static void chunk_of_one(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(5, 1), 5);
    for (uint64_t i = 0; i < 5; i++) {
        assert_int_equal(pm_chunk_len(5, 1, i), 1);
        assert_int_equal(pm_chunk_offset(1, i), i);
    }
    assert_int_equal(pm_chunk_len(5, 1, 5), 0);
    walk_covers(1000, 1);
}

static void chunk_larger_than_bundle(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_count(10, PM_CHUNK_MAX), 1);
    assert_int_equal(pm_chunk_len(10, PM_CHUNK_MAX, 0), 10);
    assert_int_equal(pm_chunk_len(10, PM_CHUNK_MAX, 1), 0);
}

static void over_2gib(void **state)
{
    (void)state;
    const uint64_t size = (2ULL << 30) + 1;     /* one byte over INT_MAX + 1 */
    const size_t chunk = PM_CHUNK_DEFAULT;
    assert_int_equal(pm_chunk_count(size, chunk), 513);
    assert_int_equal(pm_chunk_len(size, chunk, 511), chunk);
    assert_int_equal(pm_chunk_len(size, chunk, 512), 1);
    assert_int_equal(pm_chunk_offset(chunk, 512), 2ULL << 30);
    assert_true(pm_chunk_offset(chunk, 512) > (uint64_t)INT_MAX);
    walk_covers(size, chunk);
    /* 1 GiB chunks: the second chunk starts at exactly 2^30 * 2 */
    assert_int_equal(pm_chunk_count(size, PM_CHUNK_MAX), 3);
    assert_int_equal(pm_chunk_len(size, PM_CHUNK_MAX, 2), 1);
}

static void over_4gib(void **state)
{
    (void)state;
    const uint64_t size = (5ULL << 30) + 3;
    const size_t chunk = (size_t)4 << 20;
    assert_int_equal(pm_chunk_count(size, chunk), 1281);
    assert_int_equal(pm_chunk_len(size, chunk, 0), chunk);
    assert_int_equal(pm_chunk_len(size, chunk, 1279), chunk);
    assert_int_equal(pm_chunk_len(size, chunk, 1280), 3);
    assert_int_equal(pm_chunk_len(size, chunk, 1281), 0);
    assert_int_equal(pm_chunk_offset(chunk, 1280), 5ULL << 30);
    assert_true(pm_chunk_offset(chunk, 1280) > UINT32_MAX);
    /* the offset of the last chunk plus its length is the size */
    assert_int_equal(pm_chunk_offset(chunk, 1280) + pm_chunk_len(size, chunk, 1280), size);
    walk_covers(size, chunk);
    /* odd chunk size: offsets past 4 GiB must not wrap at 32 bits */
    assert_int_equal(pm_chunk_offset(1000003, 5000), 5000015000ULL);
    /* A chunk plus an 8-byte header still fits an int count. */
    assert_true(PM_CHUNK_MAX + 8 <= (size_t)INT_MAX);
}

static void huge_sizes(void **state)
{
    (void)state;
    const uint64_t size = UINT64_MAX;
    const size_t chunk = PM_CHUNK_MAX;
    assert_int_equal(pm_chunk_count(size, chunk), (UINT64_MAX >> 30) + 1);
    assert_int_equal(pm_chunk_len(size, chunk, UINT64_MAX >> 30), (size_t)((1ULL << 30) - 1));
    assert_int_equal(pm_chunk_len(size, chunk, 0), chunk);
}

static void out_of_range_index(void **state)
{
    (void)state;
    assert_int_equal(pm_chunk_len(4097, 4096, 2), 0);
    assert_int_equal(pm_chunk_len(4097, 4096, 1000), 0);
    assert_int_equal(pm_chunk_len(4097, 4096, UINT64_MAX), 0);
    assert_int_equal(pm_chunk_len((5ULL << 30) + 3, (size_t)4 << 20, UINT64_MAX / 2), 0);
    assert_int_equal(pm_chunk_len(0, 4096, UINT64_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_bundle),
        cmocka_unit_test(exact_multiples),
        cmocka_unit_test(short_last_chunk),
        cmocka_unit_test(chunk_of_one),
        cmocka_unit_test(chunk_larger_than_bundle),
        cmocka_unit_test(over_2gib),
        cmocka_unit_test(over_4gib),
        cmocka_unit_test(huge_sizes),
        cmocka_unit_test(out_of_range_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
