/* test_manifest.c - pm_manifest_parse, the one reader of the relocation
 * manifest (python-mpi's relocation and `pkgroot verify` both): a table of
 * good manifests and what they list, a table of bad ones and the one line
 * each is refused with (a file named twice among them, issue 21), and the
 * size limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "manifest.h"
#include "manifest_writer.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD PM_MANIFEST_MAGIC "\n" PM_MANIFEST_PREFIX

typedef struct good {
    const char *text;
    size_t len;             /* 0: strlen(text) */
    const char *prefix;
    const char *files;      /* "t:PATH b:PATH ..." in order */
} good;

static void good_manifests(void **state)
{
    (void)state;
    static const good table[] = {
        {HEAD "/opt/env\n", 0, "/opt/env", ""},
        {HEAD "/opt/env", 0, "/opt/env", ""},                       /* no final newline */
        {HEAD "/opt/env\ntext bin/tool\nbinary lib/libx.so\n", 0, "/opt/env", "t:bin/tool b:lib/libx.so"},
        {HEAD "/opt/env/\ntext a\n", 0, "/opt/env/", "t:a"},        /* a trailing slash is the prefix's */
        {"\n" HEAD "/p\n\n\ntext a b\n\n", 0, "/p", "t:a b"},      /* empty lines; a space in a path */
        {HEAD "/p\ntext ./a\ntext a/.b\ntext a/..b\n", 0, "/p", "t:./a t:a/.b t:a/..b"},
        {HEAD "/p\ntext python-mpi-x\n", 0, "/p", "t:python-mpi-x"},
        {HEAD "/p\ntext a\r\n", 0, "/p", "t:a\r"},                 /* \r is part of the name */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const good *g = &table[i];
        pm_manifest m;
        char *why = NULL;
        int rc = pm_manifest_parse(g->text, g->len ? g->len : strlen(g->text), &m, &why);
        if (rc != 0)
            fail_msg("good manifest %zu refused: %s", i, why ? why : "(out of memory)");
        assert_null(why);
        assert_string_equal(m.prefix, g->prefix);
        char listed[256] = "";
        for (size_t k = 0; k < m.nfiles; k++) {
            strcat(listed, k ? " " : "");
            strcat(listed, m.files[k].binary ? "b:" : "t:");
            strcat(listed, m.files[k].path);
        }
        assert_string_equal(listed, g->files);
        pm_manifest_free(&m);
        assert_null(m.buf);
        assert_null(m.files);
    }
}

static void line_numbers(void **state)
{
    (void)state;
    const char text[] = HEAD "/p\n\ntext a\nbinary b\n";
    pm_manifest m;
    char *why;
    assert_int_equal(pm_manifest_parse(text, strlen(text), &m, &why), 0);
    assert_int_equal(m.nfiles, 2);
    assert_int_equal(m.files[0].line, 4);   /* the empty line counts */
    assert_int_equal(m.files[1].line, 5);
    assert_int_equal(m.files[1].binary, 1);
    pm_manifest_free(&m);
}

/* What pkgroot's writer makes, the parser reads back as written; a prefix
 * the parser would refuse, the writer refuses first. */
static void writer_round_trip(void **state)
{
    (void)state;
    pk_manifest w;
    assert_int_equal(pk_manifest_init(&w, "/opt/conda/envs/x"), 0);
    assert_int_equal(pk_manifest_add(&w, "bin/tool", 0), 0);
    assert_int_equal(pk_manifest_add(&w, "lib/libx.so", 1), 0);
    pm_manifest m;
    char *why = NULL;
    assert_int_equal(pm_manifest_parse(w.buf, w.len, &m, &why), 0);
    assert_string_equal(m.prefix, "/opt/conda/envs/x");
    assert_int_equal(m.nfiles, 2);
    assert_string_equal(m.files[0].path, "bin/tool");
    assert_int_equal(m.files[0].binary, 0);
    assert_string_equal(m.files[1].path, "lib/libx.so");
    assert_int_equal(m.files[1].binary, 1);
    pm_manifest_free(&m);
    pk_manifest_free(&w);
    static const char *const refused[] = {"/", "//", "relative/prefix", ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(pk_manifest_init(&w, refused[i]), -1);
        pk_manifest_free(&w);
    }
}

/* Many entries: the list grows past its first allocation. */
static void many_files(void **state)
{
    (void)state;
    size_t n = 5000, cap = strlen(HEAD "/p\n") + n * 32, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, HEAD "/p\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s f/%zu\n", i % 2 ? "binary" : "text", i);
    pm_manifest m;
    char *why;
    assert_int_equal(pm_manifest_parse(text, len, &m, &why), 0);
    free(text);   /* the manifest keeps its own copy */
    assert_int_equal(m.nfiles, n);
    assert_string_equal(m.files[n - 1].path, "f/4999");
    assert_int_equal(m.files[n - 1].binary, 1);
    pm_manifest_free(&m);
}

typedef struct bad {
    const char *text;
    size_t len;           /* 0: strlen(text) */
    const char *why;      /* the whole reason */
} bad;

static void bad_manifests(void **state)
{
    (void)state;
    static const bad table[] = {
        {"", 0, "line 1: truncated relocation manifest (no 'prefix' line)"},
        {"\n\n", 0, "line 3: truncated relocation manifest (no 'prefix' line)"},
        {PM_MANIFEST_MAGIC "\n", 0, "line 2: truncated relocation manifest (no 'prefix' line)"},
        {"not a manifest\n", 0, "line 1: not a python-mpi relocation manifest (version 1)"},
        {"python-mpi-relocate 2\nprefix /p\n", 0, "line 1: not a python-mpi relocation manifest (version 1)"},
        {" " PM_MANIFEST_MAGIC "\nprefix /p\n", 0, "line 1: not a python-mpi relocation manifest (version 1)"},
        {HEAD "relative/path\n", 0, "line 2: expected 'prefix /ABSOLUTE/PATH'"},
        {HEAD "\n", 0, "line 2: expected 'prefix /ABSOLUTE/PATH'"},
        {PM_MANIFEST_MAGIC "\nprefix\n", 0, "line 2: expected 'prefix /ABSOLUTE/PATH'"},
        {PM_MANIFEST_MAGIC "\ntext a\n", 0, "line 2: expected 'prefix /ABSOLUTE/PATH'"},
        /* relocate and verify once disagreed here (verify passed it) */
        {HEAD "/\ntext a\n", 0, "line 2: expected 'prefix /ABSOLUTE/PATH', not the root '/'"},
        {HEAD "/p\nexec bin/tool\n", 0, "line 3: expected 'text PATH' or 'binary PATH'"},
        {HEAD "/p\ntext a\nTEXT b\n", 0, "line 4: expected 'text PATH' or 'binary PATH'"},
        {HEAD "/p\ntext\n", 0, "line 3: expected 'text PATH' or 'binary PATH'"},
        {HEAD "/p\ntext \n", 0, "line 3: '' is not a path inside the tree"},
        {HEAD "/p\ntext ../outside\n", 0, "line 3: '../outside' is not a path inside the tree"},
        {HEAD "/p\ntext a/../../b\n", 0, "line 3: 'a/../../b' is not a path inside the tree"},
        {HEAD "/p\ntext a/..\n", 0, "line 3: 'a/..' is not a path inside the tree"},
        {HEAD "/p\nbinary /etc/passwd\n", 0, "line 3: '/etc/passwd' is not a path inside the tree"},
        {HEAD "/p\ntext .python-mpi-stamps\n", 0, "line 3: '.python-mpi-stamps' is not a path inside the tree"},
        {HEAD "/p\ntext lib/.python-mpi-relocate/m\n", 0,
         "line 3: 'lib/.python-mpi-relocate/m' is not a path inside the tree"},
        /* a NUL would hide the rest of the line from a C-string reader */
        {HEAD "/p\ntext a\0/../../etc/passwd\n", sizeof(HEAD "/p\ntext a\0/../../etc/passwd\n") - 1,
         "line 3: a NUL byte: not a text file"},
        {HEAD "/p\0\n", sizeof(HEAD "/p\0\n") - 1, "line 2: a NUL byte: not a text file"},
        /* issue 21: each listing is one more rewrite (a prefix of the
         * tree's path grew a file by each, to 338 MB from 12 KB) */
        {HEAD "/dev/shm\ntext a\ntext a\n", 0, "line 4: 'a' named twice (first on line 3)"},
        {HEAD "/p\ntext a\n\nbinary b\nbinary a\n", 0, "line 6: 'a' named twice (first on line 3)"},
        {HEAD "/p\ntext x/y\ntext ./x//y\n", 0, "line 4: './x//y' named twice (first on line 3, as 'x/y')"},
        {HEAD "/p\ntext x/./y/\ntext x/y\n", 0, "line 4: 'x/y' named twice (first on line 3, as 'x/./y/')"},
        /* the earliest repeat is named, whatever the sort order */
        {HEAD "/p\ntext z\ntext a\ntext z\ntext a\n", 0, "line 5: 'z' named twice (first on line 3)"},
        {HEAD "/p\ntext z\ntext a\ntext b\ntext a\ntext z\n", 0, "line 6: 'a' named twice (first on line 4)"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const bad *b = &table[i];
        pm_manifest m;
        char *why = NULL;
        if (pm_manifest_parse(b->text, b->len ? b->len : strlen(b->text), &m, &why) == 0)
            fail_msg("bad manifest %zu accepted", i);
        assert_non_null(why);
        if (strcmp(why, b->why) != 0)
            fail_msg("bad manifest %zu: '%s', expected '%s'", i, why, b->why);
        assert_null(strchr(why, '\n'));   /* one line */
        assert_null(m.buf);               /* nothing left to free */
        assert_null(m.files);
        assert_int_equal(m.nfiles, 0);
        free(why);
        pm_manifest_free(&m);             /* harmless on what failed */
    }
}

/* The one line names the first repeat of a name listed 100 times (the
 * manifest of issue 21's 12 KB bundle), quickly even for 500,000 lines. */
static void named_many_times(void **state)
{
    (void)state;
    size_t n = 500000, cap = strlen(HEAD "/dev/shm\n") + n * 24, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, HEAD "/dev/shm\n");
    for (size_t i = 0; i < 100; i++)
        len += (size_t)snprintf(text + len, cap - len, "text big.txt\n");
    pm_manifest m;
    char *why = NULL;
    assert_int_equal(pm_manifest_parse(text, len, &m, &why), -1);
    assert_string_equal(why, "line 4: 'big.txt' named twice (first on line 3)");
    free(why);
    /* distinct names, then one repeat at the very end */
    len = (size_t)snprintf(text, cap, HEAD "/dev/shm\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "text f/%zu\n", (i * 7919) % n);
    len += (size_t)snprintf(text + len, cap - len, "binary ./f//%zu\n", (size_t)(3 * 7919) % n);
    why = NULL;
    assert_int_equal(pm_manifest_parse(text, len, &m, &why), -1);
    char *want = pm_printf_alloc("line %zu: './f//%zu' named twice (first on line 6, as 'f/%zu')", n + 3,
                                 (size_t)(3 * 7919) % n, (size_t)(3 * 7919) % n);
    assert_string_equal(why, want);
    free(want);
    free(why);
    free(text);
}

/* pm_manifest_key: the spelling every spelling of one name shares. */
static void keys(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"a", "a"}, {"./a", "a"}, {"a//b", "a/b"}, {"a/./b/", "a/b"}, {"./././a/.", "a"},
        {"a/.b/..c", "a/.b/..c"}, {".", ""}, {"a b/ c", "a b/ c"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char key[32];
        assert_int_equal(pm_manifest_key(pairs[i][0], key), strlen(pairs[i][1]));
        assert_string_equal(key, pairs[i][1]);
    }
}

/* The writer refuses what the parser would: a file listed twice. */
static void writer_refuses_repeats(void **state)
{
    (void)state;
    pk_manifest w;
    assert_int_equal(pk_manifest_init(&w, "/opt/env"), 0);
    assert_int_equal(pk_manifest_add(&w, "bin/tool", 0), 0);
    assert_int_equal(pk_manifest_add(&w, "lib/x.so", 1), 0);
    assert_int_equal(pk_manifest_add(&w, "bin/tool", 1), -1);
    assert_int_equal(pk_manifest_add(&w, "./lib//x.so", 0), -1);
    assert_int_equal(w.ntext + w.nbinary, 2);
    pm_manifest m;
    char *why = NULL;
    assert_int_equal(pm_manifest_parse(w.buf, w.len, &m, &why), 0);
    assert_int_equal(m.nfiles, 2);
    pm_manifest_free(&m);
    pk_manifest_free(&w);
}

static void too_big(void **state)
{
    (void)state;
    size_t len = PM_MANIFEST_MAX + 1;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, '\n', len);
    pm_manifest m;
    char *why = NULL;
    assert_int_equal(pm_manifest_parse(text, len, &m, &why), -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "too big to be a relocation manifest"));
    free(why);
    /* exactly the limit is read */
    memcpy(text, HEAD "/p\n", strlen(HEAD "/p\n"));
    assert_int_equal(pm_manifest_parse(text, PM_MANIFEST_MAX, &m, &why), 0);
    pm_manifest_free(&m);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_manifests),
        cmocka_unit_test(line_numbers),
        cmocka_unit_test(writer_round_trip),
        cmocka_unit_test(many_files),
        cmocka_unit_test(bad_manifests),
        cmocka_unit_test(named_many_times),
        cmocka_unit_test(keys),
        cmocka_unit_test(writer_refuses_repeats),
        cmocka_unit_test(too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
