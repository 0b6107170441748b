/* test_envkey.c - PYTHON_MPI_ENV's state key (envkey.h): the key changes
 * for each kind of change - a file added, removed, edited in place at the
 * same size, only its mtime touched, a .pth edited - and not when nothing
 * changes or only __pycache__ does; the dirs check misses an in-place edit
 * of an ordinary file (documented) but sees an added file, a .pth or
 * finder edited, and anything in a *.dist-info/; a missing top is a
 * reason, not a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "scratch.h"

#include "envkey.h"
#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *top;

static void put(const char *rel, const char *data) { scratch_put(top, rel, data); }

/* Overwrite in place, same size, no truncation: only the contents. */
static void edit(const char *rel, const char *data)
{
    char *p = pm_path_join(top, rel);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, strlen(data), 0), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
    free(p);
}

static void mkd(const char *rel) { scratch_mkdir(top, rel); }

static void gone(const char *rel)
{
    char *p = pm_path_join(top, rel);
    assert_int_equal(unlink(p), 0);
    free(p);
}

/* The key of top, full or dirs; 32 hex digits. */
static char *key(int dirs_only)
{
    pm_envkey h;
    pm_envkey_count n = {0, 0};
    pm_err err = PM_ERR_INIT;
    pm_envkey_init(&h);
    assert_int_equal(pm_envkey_tree(&h, top, dirs_only, &n, &err), 0);
    assert_false(err.set);
    assert_true(n.entries > 0);
    char *hex = pm_envkey_hex(&h, 1);
    assert_non_null(hex);
    assert_int_equal(strlen(hex), 32);
    return hex;
}

/* Changes made now differ in mtime from those made a moment ago even on
 * a file system with a coarse clock. */
static void tick(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    top = scratch_new("test_envkey");
    mkd("lib");
    mkd("lib/site-packages");
    mkd("lib/site-packages/pkg");
    mkd("lib/site-packages/pkg/__pycache__");
    mkd("lib/site-packages/pkg-1.0.dist-info");
    put("lib/site-packages/pkg/__init__.py", "x = 1\n");
    put("lib/site-packages/pkg/mod.py", "z = 3\n");
    put("lib/site-packages/pkg/util.py", "w = 4\n");
    put("lib/site-packages/pkg/__pycache__/__init__.cpython.pyc", "old");
    put("lib/site-packages/pkg-1.0.dist-info/RECORD", "pkg/__init__.py\n");
    put("lib/site-packages/proj.pth", "/src/proj\n");
    put("lib/site-packages/__editable___proj_finder.py", "MAPPING = {'p': '/src/p'}\n");
    tick();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_free(top);
    return 0;
}

/* Does change() change the key (of the check dirs_only)? */
static int changes(int dirs_only, void (*change)(void))
{
    char *before = key(dirs_only);
    change();
    char *after = key(dirs_only);
    int differ = strcmp(before, after) != 0;
    free(before);
    free(after);
    return differ;
}

static void nothing(void) {}
static void add_file(void) { put("lib/site-packages/pkg/new.py", "y = 2\n"); }
static void remove_file(void) { gone("lib/site-packages/pkg/__init__.py"); }
static void edit_same_size(void) { edit("lib/site-packages/pkg/__init__.py", "x = 9\n"); }
static void edit_pth(void) { edit("lib/site-packages/proj.pth", "/src/prok\n"); }
static void edit_finder(void) { edit("lib/site-packages/__editable___proj_finder.py", "MAPPING = {'p': '/src/q'}\n"); }
static void edit_dist_info(void) { edit("lib/site-packages/pkg-1.0.dist-info/RECORD", "pkg/__init__.pz\n"); }
static void pycache(void)
{
    put("lib/site-packages/pkg/__pycache__/__init__.cpython.pyc", "newer bytecode");
    put("lib/site-packages/pkg/__pycache__/other.cpython.pyc", "more");
}
static void touch_mtime(void)
{
    char *p = pm_path_join(top, "lib/site-packages/pkg/__init__.py");
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    free(p);
}

static void same_tree_same_key(void **state)
{
    (void)state;
    assert_false(changes(0, nothing));
    assert_false(changes(1, nothing));
}

static void full_sees_every_change(void **state)
{
    (void)state;
    assert_true(changes(0, add_file));
    tick();
    assert_true(changes(0, edit_same_size));
    tick();
    assert_true(changes(0, touch_mtime));
    tick();
    assert_true(changes(0, edit_pth));
    tick();
    assert_true(changes(0, remove_file));
}

static void pycache_left_out(void **state)
{
    (void)state;
    assert_false(changes(0, pycache));
    assert_false(changes(1, pycache));
}

static void dirs_misses_in_place_edit(void **state)
{
    (void)state;
    /* Documented: the cheap check does not stat ordinary files. */
    assert_false(changes(1, edit_same_size));
    assert_false(changes(1, touch_mtime));
}

static void dirs_sees_what_matters(void **state)
{
    (void)state;
    assert_true(changes(1, add_file));
    tick();
    assert_true(changes(1, edit_pth));
    tick();
    assert_true(changes(1, edit_finder));
    tick();
    assert_true(changes(1, edit_dist_info));
    tick();
    assert_true(changes(1, remove_file));
}

static void modes_differ_in_what_they_count(void **state)
{
    (void)state;
    pm_envkey a, b;
    pm_envkey_count na = {0, 0}, nb = {0, 0};
    pm_envkey_init(&a);
    pm_envkey_init(&b);
    assert_int_equal(pm_envkey_tree(&a, top, 0, &na, NULL), 0);
    assert_int_equal(pm_envkey_tree(&b, top, 1, &nb, NULL), 0);
    assert_int_equal(na.entries, nb.entries);   /* every name, both ways */
    assert_true(nb.stats < na.stats);            /* fewer lstat in dirs */
}

static void missing_top_is_a_reason(void **state)
{
    (void)state;
    char *p = pm_path_join(top, "nowhere");
    pm_envkey h;
    pm_envkey_count n = {0, 0};
    pm_err err = PM_ERR_INIT;
    pm_envkey_init(&h);
    assert_int_equal(pm_envkey_tree(&h, p, 0, &n, &err), -1);
    assert_true(err.set);
    assert_string_equal(err.file, p);
    assert_non_null(strstr(pm_err_text(&err), "No such file"));
    pm_err_clear(&err);
    free(p);
}

/* The key of top leaving out excl (both checks); 32 hex digits. */
static char *key_excl(int dirs_only, const char *const *excl, pm_envkey_count *n)
{
    pm_envkey h;
    pm_err err = PM_ERR_INIT;
    pm_envkey_init(&h);
    assert_int_equal(pm_envkey_tree_excl(&h, top, excl, dirs_only, n, &err), 0);
    assert_false(err.set);
    return pm_envkey_hex(&h, 1);
}

/* A tree inside another (a venv in its editable project) is left out of
 * the outer one's walk: changes there leave its key as it was, it is not
 * counted, and the list itself is part of the key. */
static void excluded_subtree(void **state)
{
    (void)state;
    static const char *const excl[] = {"lib/site-packages/pkg", NULL};
    static const char *const other[] = {"lib/site-packages/pkg-1.0.dist-info", NULL};
    for (int dirs_only = 0; dirs_only < 2; dirs_only++) {
        pm_envkey_count n_all = {0, 0}, n_ex = {0, 0}, n2 = {0, 0};
        char *all = key_excl(dirs_only, NULL, &n_all);
        char *before = key_excl(dirs_only, excl, &n_ex);
        assert_true(n_ex.entries + 4 <= n_all.entries);   /* pkg/ and what is in it */
        tick();
        add_file();       /* in pkg/ */
        edit_same_size();
        char *after = key_excl(dirs_only, excl, &n2);
        assert_string_equal(before, after);
        assert_int_equal(n2.entries, n_ex.entries);
        char *diff = key_excl(dirs_only, other, &n2);
        assert_string_not_equal(diff, after);
        gone("lib/site-packages/pkg/new.py");
        tick();
        free(all);
        free(before);
        free(after);
        free(diff);
    }
    /* Outside the excluded tree a change still shows. */
    pm_envkey_count n = {0, 0};
    char *before = key_excl(0, excl, &n);
    tick();
    edit_pth();
    char *after = key_excl(0, excl, &n);
    assert_string_not_equal(before, after);
    free(before);
    free(after);
}

static void hash_basics(void **state)
{
    (void)state;
    pm_envkey a, b;
    pm_envkey_init(&a);
    pm_envkey_init(&b);
    pm_envkey_str(&a, "ab");
    pm_envkey_str(&b, "a");
    pm_envkey_str(&b, "b");   /* each string with its '\0': no run-together */
    assert_false(a.a == b.a && a.b == b.b);
    char *s = pm_envkey_hex(&a, 0);
    assert_int_equal(strlen(s), 16);
    free(s);
    assert_true(pm_envkey_is_finder("__editable___proj_1_0_finder.py"));
    assert_false(pm_envkey_is_finder("__editable___proj.pth"));
    assert_false(pm_envkey_is_finder("proj_finder.py"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_tree_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(full_sees_every_change, setup, teardown),
        cmocka_unit_test_setup_teardown(pycache_left_out, setup, teardown),
        cmocka_unit_test_setup_teardown(dirs_misses_in_place_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(dirs_sees_what_matters, setup, teardown),
        cmocka_unit_test_setup_teardown(modes_differ_in_what_they_count, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_top_is_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(excluded_subtree, setup, teardown),
        cmocka_unit_test(hash_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
