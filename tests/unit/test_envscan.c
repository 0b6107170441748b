/* test_envscan.c - editable installs (envscan.h): the finder MAPPING
 * parser on good input (both forms, both quotes, the three escapes, \r\n)
 * and hostile input (unterminated strings and dicts, a newline in a
 * string, other escapes, more pairs than it holds, text after the '}',
 * megabytes of one string or of pairs); repr; .pth lines outside DIR found
 * once (absolute, relative, comments, import lines, inside DIR, missing
 * directories left out); the overlay rewritten (.pth lines and MAPPING
 * values) and only changed files written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "scratch.h"

#include "envscan.h"
#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void parses(const char *text, size_t n)
{
    pm_envmap m;
    assert_int_equal(pm_envmap_parse(text, &m), 0);
    assert_int_equal(m.n, n);
    pm_envmap_free(&m);
}

static void refused(const char *text)
{
    pm_envmap m;
    assert_int_equal(pm_envmap_parse(text, &m), -1);
    assert_int_equal(m.n, 0);   /* nothing left to free */
}

static void map_good(void **state)
{
    (void)state;
    const char *text = "import sys\n"
                       "MAPPING: dict[str, str] = {'pkg': '/home/u/proj/src/pkg', \"b\": \"/x/y\"}\n"
                       "NAMESPACES = {}\n";
    pm_envmap m;
    assert_int_equal(pm_envmap_parse(text, &m), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.key[0], "pkg");
    assert_string_equal(m.val[0], "/home/u/proj/src/pkg");
    assert_string_equal(m.key[1], "b");
    assert_string_equal(m.val[1], "/x/y");
    /* The line's bounds, its newline included. */
    assert_int_equal(m.start, strlen("import sys\n"));
    assert_memory_equal(text + m.end, "NAMESPACES", 10);
    pm_envmap_free(&m);

    parses("MAPPING = {}\n", 0);                              /* older form, empty */
    parses("MAPPING = {'a': '/p', }", 1);                     /* trailing comma, no newline */
    parses("MAPPING = { 'a' :\t'/p' }\r\n", 1);               /* blanks, \r\n */
    assert_int_equal(pm_envmap_parse("MAPPING = {'a\\'b': 'c\\\\d\\\"'}\n", &m), 0);
    assert_string_equal(m.key[0], "a'b");
    assert_string_equal(m.val[0], "c\\d\"");
    pm_envmap_free(&m);
}

static void map_hostile(void **state)
{
    (void)state;
    refused("");
    refused("no mapping here\n");
    refused("MAPPING\n");                         /* no '=' on its line */
    refused("MAPPING =\n{'a': '/p'}\n");          /* the dict on the next line */
    refused("MAPPING = ['a']\n");
    refused("MAPPING = {'a': '/p'");              /* unterminated dict */
    refused("MAPPING = {'a': '/p}\n");            /* unterminated string */
    refused("MAPPING = {'a: '/p'}\n");
    refused("MAPPING = {'a': '/p\n'}\n");         /* newline inside */
    refused("MAPPING = {'a': '/p\\");             /* escape at the end */
    refused("MAPPING = {'a': '/p\\n'}\n");        /* another escape */
    refused("MAPPING = {'a': '/p\\x41'}\n");
    refused("MAPPING = {'a': f'/p'}\n");          /* not a plain literal */
    refused("MAPPING = {'a': '/p' 'q'}\n");       /* concatenation */
    refused("MAPPING = {'a': '/p'} + X\n");       /* text after the '}' */
    refused("MAPPING = {'a' '/p'}\n");            /* no ':' */
    refused("MAPPING = {'a': '/p', 'b'}\n");
    refused("MAPPING = {'a': '/p' ,, 'b': '/q'}\n");

    /* One more pair than it holds. */
    char *many = strdup("MAPPING = {");
    for (int i = 0; i <= PM_ENVMAP_MAX; i++) {
        char *more = pm_printf_alloc("%s'k%d': '/v%d', ", many, i, i);
        free(many);
        many = more;
    }
    char *closed = pm_printf_alloc("%s}\n", many);
    refused(closed);
    free(closed);
    free(many);

    /* Megabytes: an unterminated string, then a terminated one. */
    size_t big = 4 << 20;
    char *huge = malloc(big + 64);
    assert_non_null(huge);
    strcpy(huge, "MAPPING = {'a': '");
    size_t at = strlen(huge);
    memset(huge + at, 'x', big);
    huge[at + big] = '\0';
    refused(huge);
    strcpy(huge + at + big, "'}\n");
    pm_envmap m;
    assert_int_equal(pm_envmap_parse(huge, &m), 0);
    assert_int_equal(strlen(m.val[0]), big);
    pm_envmap_free(&m);
    /* Megabytes of '{' and quotes with no pair in them. */
    memset(huge + at, '\'', big);
    huge[at + big] = '\0';
    refused(huge);
    free(huge);
}

static void repr_round_trip(void **state)
{
    (void)state;
    const char *cases[] = {"", "/plain/path", "it's", "back\\slash", "\\'", "\"dq\""};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = pm_envscan_repr(cases[i]);
        char *text = pm_printf_alloc("MAPPING = {'k': %s}\n", r);
        pm_envmap m;
        assert_int_equal(pm_envmap_parse(text, &m), 0);
        assert_string_equal(m.val[0], cases[i]);
        pm_envmap_free(&m);
        free(text);
        free(r);
    }
}

/* A scratch tree: ENV/site with .pth files and a finder; OUT/a, OUT/b
 * outside ENV. */
static char *top, *env, *site, *outa, *outb, *inside;

static void put(const char *dir, const char *name, const char *data) { scratch_put(dir, name, data); }

static char *read_all(const char *dir, const char *name)
{
    char *p = pm_path_join(dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    top = scratch_new("test_envscan");
    env = pm_path_join(top, "env");
    site = pm_path_join(env, "site");
    inside = pm_path_join(env, "inside");
    outa = pm_path_join(top, "a");
    outb = pm_path_join(top, "b");
    const char *dirs[] = {env, site, inside, outa, outb};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mkdir(dirs[i], 0755), 0);
    char *pth = pm_printf_alloc("# a comment\n"
                                "import sys; sys.path.append('/x')\n"
                                "%s\n"          /* absolute, outside */
                                "../../b  \r\n" /* relative, outside, blanks */
                                "../inside\n"   /* inside env: not ours */
                                "/no/such/dir\n"
                                "%s\n",         /* again: found once */
                                outa, outa);
    put(site, "proj.pth", pth);
    free(pth);
    put(site, "plain.pth", "../inside\n");
    char *finder = pm_printf_alloc("import sys\nMAPPING: dict[str, str] = {'pa': '%s', 'pi': '%s'}\n"
                                   "def install(): pass\n", outa, inside);
    put(site, "__editable___proj_0_1_finder.py", finder);
    free(finder);
    put(site, "README.txt", "/tmp\n");   /* neither .pth nor finder */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(pm_rmtree(top, NULL), 0);
    free(top);
    free(env);
    free(site);
    free(inside);
    free(outa);
    free(outb);
    return 0;
}

static void find_outside(void **state)
{
    (void)state;
    pm_envexts x = {0};
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envscan_find(site, env, &x, &err), 0);
    assert_false(err.set);
    assert_int_equal(x.n, 2);
    assert_true(pm_envexts_index(&x, outa) > 0);
    assert_true(pm_envexts_index(&x, outb) > 0);
    assert_int_equal(pm_envexts_index(&x, inside), 0);
    assert_int_equal(pm_envexts_index(&x, NULL), 0);
    /* No site directory: nothing, and no failure. */
    pm_envexts none = {0};
    assert_int_equal(pm_envscan_find(inside, env, &none, &err), 0);
    assert_int_equal(none.n, 0);
    pm_envexts_free(&x);
}

/* A directory others can write to (they could put modules in it) is
 * refused, naming it; one inside the environment is not an editable one
 * and is not looked at; a line naming a file is skipped, as site.py does. */
static void find_refuses_writable(void **state)
{
    (void)state;
    assert_int_equal(chmod(inside, 0777), 0);
    char *file = pm_path_join(site, "proj.pth");
    char *line = pm_printf_alloc("%s\n", file);
    put(site, "file.pth", line);
    free(line);
    free(file);
    pm_envexts x = {0};
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envscan_find(site, env, &x, &err), 0);
    assert_false(err.set);
    assert_int_equal(x.n, 2);
    pm_envexts_free(&x);
    assert_int_equal(chmod(outb, 0777), 0);
    assert_int_equal(pm_envscan_find(site, env, &x, &err), -1);
    assert_true(err.set);
    assert_string_equal(err.file, outb);
    const char *t = pm_err_text(&err);
    if (!strstr(t, "refusing the editable directory") || !strstr(t, "proj.pth names: ") ||
        !strstr(t, "writable by other users (mode 0777)"))
        fail_msg("reason: %s", t);
    pm_err_clear(&err);
    pm_envexts_free(&x);
    assert_int_equal(chmod(outb, 0755), 0);
}

static void outside_rules(void **state)
{
    (void)state;
    char *r = pm_envscan_outside(site, "../../a", env);
    assert_non_null(r);
    assert_string_equal(r, outa);
    free(r);
    assert_null(pm_envscan_outside(site, "../inside", env));
    assert_null(pm_envscan_outside(site, env, env));   /* DIR itself */
    assert_null(pm_envscan_outside(site, "/no/such", env));
    char *file = pm_path_join(site, "proj.pth");
    assert_null(pm_envscan_outside(site, file, env));  /* not a directory */
    free(file);
}

static void overlay_rewritten(void **state)
{
    (void)state;
    pm_envexts x = {0};
    assert_int_equal(pm_envscan_find(site, env, &x, NULL), 0);
    size_t ia = pm_envexts_index(&x, outa) - 1, ib = pm_envexts_index(&x, outb) - 1;
    char *out = pm_path_join(top, "overlay");
    assert_int_equal(mkdir(out, 0755), 0);
    int any = 0;
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envscan_overlay(&x, site, env, out, &any, &err), 0);
    assert_true(any);

    char *pth = read_all(out, "proj.pth");
    char *want = pm_printf_alloc("# a comment\nimport sys; sys.path.append('/x')\n"
                                 "../../python-mpi-ext/%zu\n../../python-mpi-ext/%zu\n../inside\n"
                                 "/no/such/dir\n../../python-mpi-ext/%zu\n", ia, ib, ia);
    assert_non_null(pth);
    assert_string_equal(pth, want);
    free(want);
    free(pth);
    char *p = pm_path_join(out, "proj.pth");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    free(p);

    char *fin = read_all(out, "__editable___proj_0_1_finder.py");
    assert_non_null(fin);
    char *line = pm_printf_alloc("import sys\nMAPPING = {'pa': '../../python-mpi-ext/%zu', 'pi': '%s'}\n"
                                 "import os as _pm_os", ia, inside);
    assert_memory_equal(fin, line, strlen(line));
    assert_non_null(strstr(fin, "\ndel _pm_os\ndef install(): pass\n"));
    free(line);
    free(fin);

    /* Unchanged files are not in the overlay. */
    char *plain = read_all(out, "plain.pth");
    assert_null(plain);
    char *readme = read_all(out, "README.txt");
    assert_null(readme);

    /* Written with O_EXCL: a second overlay into the same place fails
     * with a reason. */
    assert_int_equal(pm_envscan_overlay(&x, site, env, out, &any, &err), -1);
    assert_true(err.set);
    assert_non_null(strstr(pm_err_text(&err), "cannot write"));
    pm_err_clear(&err);
    (void)pm_rmtree(out, NULL);
    free(out);
    pm_envexts_free(&x);
}

static void finder_left_alone(void **state)
{
    (void)state;
    pm_envexts x = {0};
    int changed = 1;
    const char *text = "MAPPING = {'a': '/p\\n'}\nrest\n";
    char *res = pm_envscan_rewrite_finder(&x, site, env, text, &changed);
    assert_string_equal(res, text);
    assert_false(changed);
    free(res);
}

static void exts_once(void **state)
{
    (void)state;
    pm_envexts x = {0};
    assert_int_equal(pm_envexts_add(&x, strdup("/a")), 0);
    assert_int_equal(pm_envexts_add(&x, strdup("/b")), 0);
    assert_int_equal(pm_envexts_add(&x, strdup("/a")), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(pm_envexts_add(&x, pm_printf_alloc("/d%d", i)), 0);
    assert_int_equal(x.n, 102);
    assert_int_equal(pm_envexts_index(&x, "/b"), 2);
    assert_int_equal(pm_envexts_add(&x, NULL), -1);
    pm_envexts_free(&x);
    assert_int_equal(x.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_good),
        cmocka_unit_test(map_hostile),
        cmocka_unit_test(repr_round_trip),
        cmocka_unit_test(exts_once),
        cmocka_unit_test_setup_teardown(find_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(find_refuses_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(outside_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(overlay_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(finder_left_alone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
