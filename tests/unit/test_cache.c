/* test_cache.c - the marker and stamps of a delivery (a transaction): the
 * tree is marked as changing before any byte, stamps describe exactly the
 * last completed delivery, and a failed or interrupted one is never
 * trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache.h"
#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test-cache.XXXXXX";
    dir = strdup(mkdtemp(tmpl));
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = pm_rmtree(dir, NULL);
    free(dir);
    return rc;
}

static char *slurp(const char *name)
{
    char *p = pm_path_join(dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void id_from_stat(void **state)
{
    (void)state;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_size = 123;
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 42;
    st.st_ctim.tv_sec = 1700000005;
    st.st_ctim.tv_nsec = 43;
    st.st_ino = 77;
    st.st_dev = 5;
    pm_bundle_id id;
    pm_bundle_id_of(&st, &id);
    assert_int_equal(id.size, 123);
    assert_int_equal(id.mtime_sec, 1700000000);
    assert_int_equal(id.mtime_nsec, 42);
    /* a rewrite can restore the mtime, never the ctime (issue 12, item 5) */
    assert_int_equal(id.ctime_sec, 1700000005);
    assert_int_equal(id.ctime_nsec, 43);
    assert_int_equal(id.ino, 77);
    assert_int_equal(id.dev, 5);
}

static int dirfd_of(void)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static int holds(const pm_bundle_id *ids, size_t n)
{
    int fd = dirfd_of();
    int hit = pm_cache_holds(fd, ids, n);
    close(fd);
    return hit;
}

static int interrupted(void)
{
    int fd = dirfd_of();
    int r = pm_cache_interrupted(fd);
    close(fd);
    return r;
}

/* The stamps describe the last completed delivery only: a second one
 * that overwrote the first's files leaves no stamp of the first
 * (issue 21, item 2: A's stamp survived B's delivery). */
static void last_delivery_only(void **state)
{
    (void)state;
    pm_bundle_id a = {10, 1, 2, 9, 9, 3, 4}, b = {20, 5, 6, 9, 9, 7, 8};
    uint64_t ha = 0xabcULL, hb = 0xdefULL;
    char *pa[] = {"/root/a.ptar"}, *pb[] = {"/root/b.tar.zst"};
    assert_int_equal(pm_cache_begin(dir), 0);
    assert_int_equal(interrupted(), 1);
    assert_int_equal(pm_cache_end(dir, 1, &a, &ha, pa, 1), 0);
    assert_int_equal(interrupted(), 0);
    assert_true(holds(&a, 1));
    assert_int_equal(pm_cache_begin(dir), 0);  /* a second delivery into it */
    assert_null(slurp(PM_STAMPS));             /* gone on disk while it runs */
    assert_non_null(slurp(PM_CHANGING));
    assert_false(holds(&a, 1));
    assert_int_equal(pm_cache_end(dir, 1, &b, &hb, pb, 1), 0);
    const char *text = slurp(PM_STAMPS);
    assert_non_null(text);
    assert_string_equal(text, PM_STAMPS_MAGIC "\n20 5 6 9 9 7 8 0000000000000def /root/b.tar.zst\n");
    assert_true(holds(&b, 1));
    assert_false(holds(&a, 1));
    assert_null(slurp(PM_CHANGING));
}

/* A lookup hits only for the same list, in the same order. */
static void exact_list(void **state)
{
    (void)state;
    pm_bundle_id ab[2] = {{10, 1, 2, 9, 9, 3, 4}, {20, 5, 6, 9, 9, 7, 8}};
    pm_bundle_id ba[2] = {ab[1], ab[0]};
    uint64_t h[2] = {1, 2};
    char *p[] = {"/a", "/b"};
    assert_int_equal(pm_cache_begin(dir), 0);
    assert_int_equal(pm_cache_end(dir, 1, ab, h, p, 2), 0);
    assert_true(holds(ab, 2));
    assert_false(holds(ba, 2));
    assert_false(holds(ab, 1));
    assert_false(holds(ab + 1, 1));
}

/* A failed delivery leaves the marker and no stamps: never trusted, until
 * a delivery completes; and a crash between the stamps and the marker's
 * removal leaves both, still untrusted. */
static void failure_leaves_marker(void **state)
{
    (void)state;
    pm_bundle_id a = {10, 1, 2, 9, 9, 3, 4};
    uint64_t h = 1;
    char *pa[] = {"/root/a.ptar"};
    assert_int_equal(pm_cache_begin(dir), 0);
    assert_int_equal(pm_cache_end(dir, 0, &a, &h, pa, 1), 0);
    assert_null(slurp(PM_STAMPS));
    assert_int_equal(interrupted(), 1);
    assert_false(holds(&a, 1));
    assert_int_equal(pm_cache_begin(dir), 0);  /* marked already: kept */
    assert_int_equal(pm_cache_end(dir, 1, &a, &h, pa, 1), 0);
    assert_true(holds(&a, 1));
    /* stamps and marker both, as after a SIGKILL between the two */
    char *m = pm_path_join(dir, PM_CHANGING);
    FILE *f = fopen(m, "w");
    assert_non_null(f);
    fclose(f);
    assert_false(holds(&a, 1));
    unlink(m);
    free(m);
    assert_true(holds(&a, 1));
}

/* Stamps of the format before the marker (one line per bundle of every
 * delivery, no magic line) are never trusted. */
static void old_format_missed(void **state)
{
    (void)state;
    pm_bundle_id a = {10, 1, 2, 9, 9, 3, 4};
    char *p = pm_path_join(dir, PM_STAMPS);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("10 1 2 9 9 3 4 0000000000000abc /root/a.ptar\n", f);
    fclose(f);
    assert_false(holds(&a, 1));
    unlink(p);
    free(p);
}

/* Stamps planted as links (by a bundle before names were reserved, or by
 * anybody who could write in the tree) are never followed: the new stamps
 * are a fresh file renamed into place, and an "old" link is not read. */
static void planted_links_not_followed(void **state)
{
    (void)state;
    char *victim = pm_path_join(dir, "victim");
    char *stamps = pm_path_join(dir, PM_STAMPS), *next = pm_path_join(dir, PM_STAMPS ".new");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("10 1 2 9 9 3 4 0000000000000abc /forged\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, stamps), 0);
    assert_int_equal(symlink(victim, next), 0);
    pm_bundle_id b = {20, 5, 6, 9, 9, 7, 8};
    uint64_t hb = 2;
    char *pb[] = {"/root/b.tar"};
    assert_int_equal(pm_cache_begin(dir), 0);
    assert_int_equal(pm_cache_end(dir, 1, &b, &hb, pb, 1), 0);
    struct stat st;
    assert_int_equal(lstat(stamps, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    const char *text = slurp(PM_STAMPS);
    assert_non_null(text);
    assert_null(strstr(text, "/forged"));          /* the link's target was not read */
    assert_non_null(strstr(text, "/root/b.tar"));
    text = slurp("victim");
    assert_string_equal(text, "10 1 2 9 9 3 4 0000000000000abc /forged\n");   /* nor written */
    unlink(victim);
    unlink(stamps);
    free(victim);
    free(stamps);
    free(next);
}

/* A marker that is not our regular file is never written through. */
static void planted_marker_refused(void **state)
{
    (void)state;
    char *victim = pm_path_join(dir, "victim"), *m = pm_path_join(dir, PM_CHANGING);
    assert_int_equal(symlink(victim, m), 0);
    assert_int_equal(pm_cache_begin(dir), -1);
    struct stat st;
    assert_int_not_equal(lstat(victim, &st), 0);   /* nothing made through it */
    unlink(m);
    free(m);
    free(victim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_from_stat),
        cmocka_unit_test(last_delivery_only),
        cmocka_unit_test(exact_list),
        cmocka_unit_test(failure_leaves_marker),
        cmocka_unit_test(old_format_missed),
        cmocka_unit_test(planted_links_not_followed),
        cmocka_unit_test(planted_marker_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
