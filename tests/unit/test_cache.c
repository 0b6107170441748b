/* test_cache.c - the stamps that let a node skip bundles it already holds:
 * set aside while a delivery runs, restored and extended when it succeeds,
 * dropped when it fails (the tree may be partly overwritten). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache.h"
#include "jobdir.h"
#include "strutil.h"

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
    int rc = pm_rmtree(dir);
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

static void success_appends_and_keeps_earlier(void **state)
{
    (void)state;
    pm_bundle_id a = {10, 1, 2, 9, 9, 3, 4}, b = {20, 5, 6, 9, 9, 7, 8};
    uint64_t ha = 0xabcULL, hb = 0xdefULL;
    char *pa[] = {"/root/a.ptar"}, *pb[] = {"/root/b.tar.zst"};
    pm_cache_begin(dir);
    assert_int_equal(pm_cache_end(dir, 1, &a, &ha, pa, 1), 0);
    pm_cache_begin(dir);                       /* a second delivery into it */
    assert_null(slurp(PM_STAMPS));             /* set aside while it runs */
    assert_non_null(slurp(PM_STAMPS ".old"));
    assert_int_equal(pm_cache_end(dir, 1, &b, &hb, pb, 1), 0);
    const char *text = slurp(PM_STAMPS);
    assert_non_null(text);
    assert_non_null(strstr(text, "10 1 2 9 9 3 4 0000000000000abc /root/a.ptar\n"));
    assert_non_null(strstr(text, "20 5 6 9 9 7 8 0000000000000def /root/b.tar.zst\n"));
    assert_null(slurp(PM_STAMPS ".old"));
}

static void failure_drops_everything(void **state)
{
    (void)state;
    pm_bundle_id a = {10, 1, 2, 9, 9, 3, 4};
    uint64_t h = 1;
    char *pa[] = {"/root/a.ptar"};
    pm_cache_begin(dir);
    assert_non_null(slurp(PM_STAMPS ".old"));  /* from the test before */
    assert_int_equal(pm_cache_end(dir, 0, &a, &h, pa, 1), 0);
    assert_null(slurp(PM_STAMPS));
    assert_null(slurp(PM_STAMPS ".old"));
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
    pm_cache_begin(dir);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_from_stat),
        cmocka_unit_test(success_appends_and_keeps_earlier),
        cmocka_unit_test(failure_drops_everything),
        cmocka_unit_test(planted_links_not_followed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
