/* test_walk.c - pm_walk: every entry below the top visited once with its
 * lstat, symbolic links not followed, a directory's contents left out on
 * PM_WALK_SKIP, the walk stopped by a visitor's value, a directory that
 * cannot be opened (gone when the walk comes to it: that fails as root
 * too, where a mode 0 directory would not) reported while the rest is
 * still visited, a missing top. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "strutil.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *top;

static void mkfile(const char *rel, size_t size)
{
    char *p = pm_path_join(top, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    free(p);
}

static void mkd(const char *rel)
{
    char *p = pm_path_join(top, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

/*  top/a (3 bytes), top/d/b (5), top/d/e/c (7), top/d/e/f/ (empty),
 *  top/link -> d (not followed), top/skip/x (11) */
static int mk(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/pm-walk.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    top = strdup(tmpl);
    mkfile("a", 3);
    mkd("d");
    mkfile("d/b", 5);
    mkd("d/e");
    mkfile("d/e/c", 7);
    mkd("d/e/f");
    mkd("skip");
    mkfile("skip/x", 11);
    char *l = pm_path_join(top, "link");
    assert_int_equal(symlink("d", l), 0);
    free(l);
    return 0;
}

static int rm(void **state)
{
    (void)state;
    int rc = pm_rmtree(top, NULL);
    free(top);
    return rc;
}

typedef struct seen {
    char names[32][64];
    size_t n;
    unsigned long long bytes;
    const char *skip, *stop_at;
} seen;

static int visit(const char *path, const struct stat *st, void *ctx)
{
    seen *s = ctx;
    const char *rel = path + strlen(top) + 1;
    assert_true(s->n < 32);
    snprintf(s->names[s->n++], sizeof s->names[0], "%s%s", rel,
             S_ISDIR(st->st_mode) ? "/" : S_ISLNK(st->st_mode) ? "@" : "");
    if (S_ISREG(st->st_mode))
        s->bytes += (unsigned long long)st->st_size;
    if (s->stop_at && strcmp(rel, s->stop_at) == 0)
        return 42;
    if (s->skip && strcmp(rel, s->skip) == 0)
        return PM_WALK_SKIP;
    return 0;
}

static int has(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

static void every_entry_once(void **state)
{
    (void)state;
    seen s = {0};
    assert_int_equal(pm_walk(top, visit, &s), 0);
    assert_int_equal(s.n, 9);
    const char *want[] = {"a", "d/", "d/b", "d/e/", "d/e/c", "d/e/f/", "link@", "skip/", "skip/x"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!has(&s, want[i]))
            fail_msg("not visited: %s", want[i]);
    assert_int_equal(s.bytes, 3 + 5 + 7 + 11);   /* the link's target not counted again */
}

static void parents_before_children(void **state)
{
    (void)state;
    seen s = {0};
    assert_int_equal(pm_walk(top, visit, &s), 0);
    size_t d = s.n, de = s.n, dec = s.n;
    for (size_t i = 0; i < s.n; i++) {
        if (strcmp(s.names[i], "d/") == 0)
            d = i;
        if (strcmp(s.names[i], "d/e/") == 0)
            de = i;
        if (strcmp(s.names[i], "d/e/c") == 0)
            dec = i;
    }
    assert_true(d < de && de < dec && dec < s.n);
}

static void skip_a_directory(void **state)
{
    (void)state;
    seen s = {.skip = "d"};
    assert_int_equal(pm_walk(top, visit, &s), 0);
    assert_true(has(&s, "d/"));     /* itself visited ... */
    assert_false(has(&s, "d/b"));   /* ... not what it holds */
    assert_false(has(&s, "d/e/"));
    assert_true(has(&s, "skip/x"));
    assert_int_equal(s.n, 5);
}

static void stop_the_walk(void **state)
{
    (void)state;
    seen s = {.stop_at = "d/e/c"};
    assert_int_equal(pm_walk(top, visit, &s), 42);
    assert_string_equal(s.names[s.n - 1], "d/e/c");   /* nothing after it */
}


static int remove_e(const char *path, const struct stat *st, void *ctx)
{
    (void)st;
    seen *s = ctx;
    s->n++;
    const char *rel = path + strlen(top) + 1;
    if (strcmp(rel, "d/e/f") == 0) {
        assert_int_equal(rmdir(path), 0);   /* opendir then fails: ENOENT */
    }
    return 0;
}

static void vanished_directory(void **state)
{
    (void)state;
    seen s = {0};
    errno = 0;
    assert_int_equal(pm_walk(top, remove_e, &s), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(s.n, 9);   /* everything else still visited */
    char *f = pm_path_join(top, "d/e/f");
    assert_int_equal(mkdir(f, 0755), 0);
    free(f);
    char *missing = pm_path_join(top, "nope");
    s.n = 0;
    assert_int_equal(pm_walk(missing, visit, &s), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(s.n, 0);
    free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_entry_once),
        cmocka_unit_test(parents_before_children),
        cmocka_unit_test(skip_a_directory),
        cmocka_unit_test(stop_the_walk),
        cmocka_unit_test(vanished_directory),
    };
    return cmocka_run_group_tests(tests, mk, rm);
}
