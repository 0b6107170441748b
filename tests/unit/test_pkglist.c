/* test_pkglist.c - the bundle list: PYTHON_MPI_PACKAGES (colon-separated)
 * and bcast's -f LISTFILE (one per line), resolved against the root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pkglist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare the list's resolved paths with expect[0..n). */
static void check_list(const pm_pkglist *l, const char *const *expect, size_t n)
{
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->paths[i], expect[i]);
}

static void colon_splitting(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err = (char *)"unset";
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "a.tar.zst:b.tar:c/d.tgz", "/root", 1, &err), 0);
    assert_null(err);
    const char *e[] = {"/root/a.tar.zst", "/root/b.tar", "/root/c/d.tgz"};
    check_list(&l, e, 3);
    pm_pkglist_free(&l);
}

static void single_item_without_colon(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "only.tar", "/r", 1, &err), 0);
    const char *e[] = {"/r/only.tar"};
    check_list(&l, e, 1);
    pm_pkglist_free(&l);
}

static void empty_items_skipped(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "::a.tar:::b.tar:", "/r", 1, &err), 0);
    assert_null(err);
    const char *e[] = {"/r/a.tar", "/r/b.tar"};
    check_list(&l, e, 2);
    pm_pkglist_free(&l);

    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "", "/r", 1, &err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(pm_pkglist_parse(&l, ":::", "/r", 1, &err), 0);
    assert_int_equal(l.n, 0);
    pm_pkglist_free(&l);
}

static void absolute_kept_relative_joined(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "/abs/x.tar:rel/y.tar:/z.tar", "/pkgroot", 1, &err), 0);
    const char *e[] = {"/abs/x.tar", "/pkgroot/rel/y.tar", "/z.tar"};
    check_list(&l, e, 3);
    pm_pkglist_free(&l);
}

static void root_trailing_slash_not_doubled(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "a.tar:b.tar", "/root/", 1, &err), 0);
    assert_int_equal(pm_pkglist_parse(&l, "c.tar", "/root//", 1, &err), 0);
    const char *e[] = {"/root/a.tar", "/root/b.tar", "/root/c.tar"};
    check_list(&l, e, 3);   /* parse appends to what is there */
    pm_pkglist_free(&l);
}

static void relative_without_root_required(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err = NULL;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "/ok.tar:rel.tar", NULL, 1, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "PYTHON_MPI_PKGROOT"));
    assert_non_null(strstr(err, "rel.tar"));
    free(err);
    pm_pkglist_free(&l);

    /* An empty root is no root. */
    pm_pkglist_init(&l);
    err = NULL;
    assert_int_equal(pm_pkglist_parse(&l, "rel.tar", "", 1, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "PYTHON_MPI_PKGROOT"));
    free(err);
    pm_pkglist_free(&l);

    /* Absolute names never need a root. */
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "/a.tar:/b.tar", NULL, 1, &err), 0);
    assert_null(err);
    assert_int_equal(l.n, 2);
    pm_pkglist_free(&l);
}

static void relative_without_root_allowed(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, "rel.tar:sub/x.tar", NULL, 0, &err), 0);
    assert_null(err);
    const char *e[] = {"rel.tar", "sub/x.tar"};
    check_list(&l, e, 2);
    pm_pkglist_free(&l);
}

static void add_rejects_empty_name(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err = NULL;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_add(&l, "", "/r", 0, &err), -1);
    assert_non_null(err);
    assert_int_equal(l.n, 0);
    free(err);
    pm_pkglist_free(&l);
}

static void many_items_grow(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    char spec[64 * 8] = "";
    for (int i = 0; i < 40; i++) {
        char item[16];
        snprintf(item, sizeof item, "%sp%d.tar", i ? ":" : "", i);
        strcat(spec, item);
    }
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse(&l, spec, "/r", 1, &err), 0);
    assert_int_equal(l.n, 40);
    assert_true(l.cap >= 40);
    for (int i = 0; i < 40; i++) {
        char want[32];
        snprintf(want, sizeof want, "/r/p%d.tar", i);
        assert_string_equal(l.paths[i], want);
    }
    pm_pkglist_free(&l);
}

static void lines_comments_blank_trim(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err = (char *)"unset";
    pm_pkglist_init(&l);
    const char *text =
        "# bundle list\n"
        "  a.tar  \n"
        "\n"
        "   \t \n"
        "\t/abs/b.tar\r\n"
        "#c.tar\n"
        "  # indented comment\n"
        "d e.tar\n";
    assert_int_equal(pm_pkglist_parse_lines(&l, text, "/r/", &err), 0);
    assert_null(err);
    const char *e[] = {"/r/a.tar", "/abs/b.tar", "/r/d e.tar"};
    check_list(&l, e, 3);
    pm_pkglist_free(&l);
}

static void lines_no_trailing_newline(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "x.tar\ny.tar", "/r", &err), 0);
    const char *e[] = {"/r/x.tar", "/r/y.tar"};
    check_list(&l, e, 2);
    pm_pkglist_free(&l);

    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "last.tar   ", NULL, &err), 0);
    const char *e2[] = {"last.tar"};
    check_list(&l, e2, 1);
    pm_pkglist_free(&l);

    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "", "/r", &err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(pm_pkglist_parse_lines(&l, "\n# only comments\n\n", "/r", &err), 0);
    assert_int_equal(l.n, 0);
    pm_pkglist_free(&l);
}

static void lines_colons_are_not_separators(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "a:b.tar\n", "/r", &err), 0);
    const char *e[] = {"/r/a:b.tar"};
    check_list(&l, e, 1);
    pm_pkglist_free(&l);
}

static void free_then_reinit_reuse(void **state)
{
    (void)state;
    pm_pkglist l;
    char *err;
    pm_pkglist_init(&l);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.cap, 0);
    assert_null(l.paths);
    assert_int_equal(pm_pkglist_parse(&l, "a:b:c", "/r", 1, &err), 0);
    assert_int_equal(l.n, 3);
    pm_pkglist_free(&l);
    /* free leaves an empty, reusable list */
    assert_int_equal(l.n, 0);
    assert_int_equal(l.cap, 0);
    assert_null(l.paths);
    pm_pkglist_free(&l);    /* twice is harmless */
    assert_int_equal(pm_pkglist_parse(&l, "z", "/q", 1, &err), 0);
    const char *e[] = {"/q/z"};
    check_list(&l, e, 1);
    pm_pkglist_free(&l);
    pm_pkglist_init(&l);
    assert_int_equal(pm_pkglist_parse_lines(&l, "w\n", "/q", &err), 0);
    const char *e2[] = {"/q/w"};
    check_list(&l, e2, 1);
    pm_pkglist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(colon_splitting),
        cmocka_unit_test(single_item_without_colon),
        cmocka_unit_test(empty_items_skipped),
        cmocka_unit_test(absolute_kept_relative_joined),
        cmocka_unit_test(root_trailing_slash_not_doubled),
        cmocka_unit_test(relative_without_root_required),
        cmocka_unit_test(relative_without_root_allowed),
        cmocka_unit_test(add_rejects_empty_name),
        cmocka_unit_test(many_items_grow),
        cmocka_unit_test(lines_comments_blank_trim),
        cmocka_unit_test(lines_no_trailing_newline),
        cmocka_unit_test(lines_colons_are_not_separators),
        cmocka_unit_test(free_then_reinit_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
