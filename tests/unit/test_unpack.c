/* test_unpack.c - safe streaming extraction, on archives made in memory
 * with libarchive's writer: what is extracted, what is refused, and that a
 * refused entry leaves nothing outside the destination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "strutil.h"
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { REG, DIR_, SYM, HARD, FIFO, CHR };
typedef struct ent { const char *path; int kind; const char *data; int mode; } ent;

static char *base, *dest;
static unsigned char buf[1 << 20];

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test-unpack.XXXXXX";
    base = strdup(mkdtemp(tmpl));
    dest = pm_path_join(base, "dest");
    return base && dest && mkdir(dest, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = pm_rmtree(base);
    free(base);
    free(dest);
    return rc;
}

/* Each test starts from an empty destination. */
static int fresh(void **state)
{
    (void)state;
    return pm_rmtree(dest) == 0 && mkdir(dest, 0700) == 0 ? 0 : -1;
}

static size_t make(const ent *es, size_t n, int filter)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (filter == 'z')
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    else if (filter == 'g')
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, sizeof buf, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, es[i].path);
        archive_entry_set_mtime(e, 1000000000, 0);
        archive_entry_set_perm(e, es[i].mode ? (mode_t)es[i].mode : 0644);
        size_t len = es[i].data ? strlen(es[i].data) : 0;
        switch (es[i].kind) {
        case REG: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_size(e, (la_int64_t)len); break;
        case DIR_: archive_entry_set_filetype(e, AE_IFDIR); break;
        case SYM: archive_entry_set_filetype(e, AE_IFLNK); archive_entry_set_symlink(e, es[i].data); len = 0; break;
        case HARD: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_hardlink(e, es[i].data); len = 0; break;
        case FIFO: archive_entry_set_filetype(e, AE_IFIFO); break;
        case CHR: archive_entry_set_filetype(e, AE_IFCHR); archive_entry_set_rdev(e, 0x0101); break;
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, es[i].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return used;
}

static int exists(const char *rel)
{
    char *p = pm_path_join(dest, rel);
    struct stat st;
    int r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static mode_t mode_of(const char *rel)
{
    char *p = pm_path_join(dest, rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    free(p);
    return st.st_mode;
}

static void extracts_tree(void **state)
{
    (void)state;
    const ent es[] = {
        {"lib", DIR_, NULL, 0755}, {"lib/a.py", REG, "x = 1\n", 0644},
        {"lib/l.py", SYM, "a.py", 0}, {"lib/h.py", HARD, "lib/a.py", 0},
        {"./lib/sub/deep.txt", REG, "deep", 0600},
    };
    for (int f = 0; f < 3; f++) {
        fresh(NULL);
        size_t n = make(es, 5, "nzg"[f]);
        pm_unpack_stats st;
        assert_int_equal(pm_unpack_memory(dest, "t.tar", buf, n, &st), 0);
        assert_int_equal(st.entries, 5);
        char *p = pm_path_join(dest, "lib/l.py");
        char got[16] = {0};
        FILE *fp = fopen(p, "r");
        assert_non_null(fp);
        assert_int_equal(fread(got, 1, sizeof got - 1, fp), 6);
        fclose(fp);
        assert_string_equal(got, "x = 1\n");
        struct stat s1, s2;
        assert_int_equal(stat(p, &s1), 0);
        assert_int_equal(s1.st_mtime, 1000000000);  /* times kept: .pyc validation */
        free(p);
        p = pm_path_join(dest, "lib/h.py");
        assert_int_equal(stat(p, &s2), 0);
        assert_int_equal(s1.st_ino, s2.st_ino);      /* a real hard link */
        free(p);
        assert_true(S_ISLNK(mode_of("lib/l.py")));
        assert_true(exists("lib/sub/deep.txt"));
    }
}

static void modes_sanitised(void **state)
{
    (void)state;
    const ent es[] = {
        {"d", DIR_, NULL, 0777}, {"d/suid", REG, "#!", 06777}, {"ro", DIR_, NULL, 0500},
        {"ro/f", REG, "x", 0444},
    };
    size_t n = make(es, 4, 'n');
    assert_int_equal(pm_unpack_memory(dest, "m.tar", buf, n, NULL), 0);
    assert_int_equal(mode_of("d") & 07777, 0755);
    assert_int_equal(mode_of("d/suid") & 07777, 0755);
    assert_int_equal(mode_of("ro") & 07777, 0700);
    assert_int_equal(mode_of("ro/f") & 07777, 0644);
}

static void refuses_escapes(void **state)
{
    (void)state;
    const ent bad[][2] = {
        {{"/tmp/abs-escape", REG, "x", 0}, {NULL, 0, NULL, 0}},
        {{"a/../../canary", REG, "x", 0}, {NULL, 0, NULL, 0}},
        {{"a", DIR_, NULL, 0}, {"a/l", SYM, "../../canary", 0}},
        {{"l", SYM, "/etc", 0}, {NULL, 0, NULL, 0}},
        {{"h", HARD, "../canary", 0}, {NULL, 0, NULL, 0}},
        {{"p", FIFO, NULL, 0}, {NULL, 0, NULL, 0}},
        {{"c", CHR, NULL, 0}, {NULL, 0, NULL, 0}},
    };
    char *canary = pm_path_join(base, "canary");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fresh(NULL);
        size_t n = make(bad[i], bad[i][1].path ? 2 : 1, 'n');
        assert_int_equal(pm_unpack_memory(dest, "evil.tar", buf, n, NULL), -1);
        struct stat st;
        assert_int_equal(lstat(canary, &st), -1);
        assert_int_equal(lstat("/tmp/abs-escape", &st), -1);
        assert_false(exists("p") || exists("c") || exists("l") || exists("h"));
    }
    free(canary);
}

static void refuses_non_archives(void **state)
{
    (void)state;
    assert_int_equal(pm_unpack_memory(dest, "empty", "", 0, NULL), -1);
    const char junk[] = "this is not a tar archive at all, just some text.....";
    assert_int_equal(pm_unpack_memory(dest, "junk", junk, sizeof junk, NULL), -1);
    size_t n = make(NULL, 0, 'n');                       /* valid, but no entries */
    assert_int_equal(pm_unpack_memory(dest, "none.tar", buf, n, NULL), -1);
    char big[20000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + (i * 7919) % 26);
    big[sizeof big - 1] = '\0';
    const ent es[] = {{"f", REG, big, 0}};
    n = make(es, 1, 'g');
    assert_int_equal(pm_unpack_memory(dest, "cut.tar.gz", buf, n / 2, NULL), -1);
}

static ssize_t failing_pull(void *ctx, const void **out)
{
    int *calls = ctx;
    if ((*calls)++ == 0) {
        *out = buf;
        return 512;   /* half of a header, then the source dies */
    }
    return -1;
}

static void source_failure_is_minus_two(void **state)
{
    (void)state;
    const ent es[] = {{"f", REG, "data", 0}};
    make(es, 1, 'n');
    int calls = 0;
    assert_int_equal(pm_unpack(dest, "src", failing_pull, &calls, NULL), -2);
    assert_true(calls >= 2);
}

static void containment_rules(void **state)
{
    (void)state;
    assert_int_equal(pm_path_is_contained(NULL, "a/b"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "./a"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "a/../b"), 0);
    assert_int_equal(pm_path_is_contained(NULL, ".."), -1);
    assert_int_equal(pm_path_is_contained(NULL, "a/../.."), -1);
    assert_int_equal(pm_path_is_contained(NULL, "/x"), -1);
    assert_int_equal(pm_path_is_contained("a/b/l", "../c"), 0);
    assert_int_equal(pm_path_is_contained("a/b/l", "../../c"), 0);
    assert_int_equal(pm_path_is_contained("a/b/l", "../../../c"), -1);
    assert_int_equal(pm_path_is_contained("l", "x"), 0);
    assert_int_equal(pm_path_is_contained("l", "../x"), -1);
    assert_int_equal(pm_path_is_contained("l", "/etc/passwd"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(extracts_tree, fresh),
        cmocka_unit_test_setup(modes_sanitised, fresh),
        cmocka_unit_test_setup(refuses_escapes, fresh),
        cmocka_unit_test_setup(refuses_non_archives, fresh),
        cmocka_unit_test_setup(source_failure_is_minus_two, fresh),
        cmocka_unit_test(containment_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
