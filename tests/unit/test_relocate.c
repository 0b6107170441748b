/* test_relocate.c - conda-style prefix relocation: text replaced
 * everywhere, binary C strings rewritten in place with NUL padding, a
 * longer new prefix refused for binaries, and manifests that are malformed
 * or point outside the tree refused with nothing rewritten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "relocate.h"
#include "trust.h"
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void text_every_occurrence(void **state)
{
    (void)state;
    const char in[] = "#!/opt/env/bin/python\nx = '/opt/env/lib' + '/opt/env'\n";
    char *out;
    size_t n;
    const char *why;
    assert_int_equal(pm_relocate_text(in, strlen(in), "/opt/env", "/dev/shm/t", &out, &n, &why), 0);
    assert_non_null(out);
    assert_int_equal(n, strlen(in) + 3 * 2);
    assert_memory_equal(out, "#!/dev/shm/t/bin/python\nx = '/dev/shm/t/lib' + '/dev/shm/t'\n", n);
    free(out);
    /* nothing to do: no copy */
    assert_int_equal(pm_relocate_text("abc", 3, "/opt/env", "/x", &out, &n, &why), 0);
    assert_null(out);
}

static void binary_padded(void **state)
{
    (void)state;
    /* two C strings with the prefix, one without, a trailing unterminated one */
    const char in[] = "\x7f" "ELF\0/opt/long/env/lib:/opt/long/env/x\0other\0/opt/long/env";
    size_t len = sizeof in - 1;
    char *out;
    size_t n;
    const char *why;
    assert_int_equal(pm_relocate_binary(in, len, "/opt/long/env", "/s/t", &out, &n, &why), 0);
    assert_int_equal(n, len);   /* offsets unchanged */
    const char want[] = "\x7f" "ELF\0/s/t/lib:/s/t/x\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0other\0/s/t\0\0\0\0\0\0\0\0\0";
    assert_memory_equal(out, want, len);
    free(out);
    assert_int_equal(pm_relocate_binary(in, len, "/opt/long/env", "/a/much/longer/location", &out, &n, &why), -1);
    assert_non_null(strstr(why, "longer"));
    assert_null(out);
}

static char *tmpdir;

static int mk(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/pm-reloc.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    tmpdir = strdup(tmpl);
    return 0;
}

static int rm(void **state)
{
    (void)state;
    assert_int_equal(pm_rmtree(tmpdir), 0);
    free(tmpdir);
    return 0;
}

static void put(const char *rel, const char *content, mode_t mode)
{
    char *p = pm_path_join(tmpdir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    char *cmd = p;   /* make parents */
    for (char *c = cmd + strlen(tmpdir) + 1; (c = strchr(c, '/')); c++) {
        *c = '\0';
        mkdir(cmd, 0755);
        *c = '/';
    }
    mkdir(p, 0755);
    *slash = '/';
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
    free(p);
}

static char *get(const char *rel)
{
    char *p = pm_path_join(tmpdir, rel);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void tree_applied_and_removed(void **state)
{
    (void)state;
    put("bin/tool", "#!/opt/conda/envs/x/bin/python3\n", 0755);
    put("etc/conf.txt", "root=/opt/conda/envs/x\n", 0644);
    put(".python-mpi-relocate/env", "python-mpi-relocate 1\nprefix /opt/conda/envs/x\n"
        "text bin/tool\ntext etc/conf.txt\n", 0644);
    assert_int_equal(pm_relocate_tree(tmpdir), 2);
    char *tool = get("bin/tool");
    char *want = pm_printf_alloc("#!%s/bin/python3\n", tmpdir);
    assert_string_equal(tool, want);
    char *p = pm_path_join(tmpdir, "bin/tool");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);   /* mode kept */
    char *m = pm_path_join(tmpdir, ".python-mpi-relocate");
    assert_int_not_equal(access(m, F_OK), 0);    /* manifests gone */
    /* nothing to do the second time */
    assert_int_equal(pm_relocate_tree(tmpdir), 0);
    free(tool);
    free(want);
    free(p);
    free(m);
}

static void bad_manifests(void **state)
{
    (void)state;
    const char *bad[] = {
        "not a manifest\n",
        "python-mpi-relocate 1\nprefix relative/path\n",
        "python-mpi-relocate 1\nprefix /opt/x\ntext ../outside\n",
        "python-mpi-relocate 1\nprefix /opt/x\ntext /etc/passwd\n",
        "python-mpi-relocate 1\nprefix /opt/x\nexec bin/tool\n",
        "python-mpi-relocate 1\nprefix /opt/x\ntext no/such/file\n",
        "python-mpi-relocate 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put("keep.txt", "/opt/x\n", 0644);
        put(".python-mpi-relocate/m", bad[i], 0644);
        assert_int_equal(pm_relocate_tree(tmpdir), -1);
        char *k = get("keep.txt");
        assert_string_equal(k, "/opt/x\n");
        free(k);
    }
}

static void binary_too_long_fails(void **state)
{
    (void)state;
    put("lib/libx.so", "/p\n", 0644);   /* 2-byte prefix: any tree path is longer */
    put(".python-mpi-relocate/m", "python-mpi-relocate 1\nprefix /p\nbinary lib/libx.so\n", 0644);
    assert_int_equal(pm_relocate_tree(tmpdir), -1);
    char *k = get("lib/libx.so");
    assert_string_equal(k, "/p\n");   /* untouched */
    free(k);
}

/* issue 12: a manifest naming a path through a symbolic link (in the
 * tree, contained or not) is refused: relocation opens every component
 * beneath the tree without following links, with openat2 and with the
 * walk for kernels without it; the file the link leads to is untouched. */
static void never_through_a_link(void **state)
{
    (void)state;
    char outside_tmpl[] = "/tmp/pm-reloc-outside.XXXXXX";
    assert_non_null(mkdtemp(outside_tmpl));
    char *victim = pm_path_join(outside_tmpl, "precious");
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("secret /opt/x\n", f);
    fclose(f);
    char *out = pm_path_join(tmpdir, "out"), *lnk = pm_path_join(tmpdir, "lnk");
    assert_int_equal(symlink(outside_tmpl, out), 0);
    assert_int_equal(symlink(victim, lnk), 0);
    put("d/f", "/opt/x\n", 0644);
    char *up = pm_path_join(tmpdir, "d/up");
    assert_int_equal(symlink("..", up), 0);      /* contained, but still a link */
    const char *paths[] = {"out/precious", "lnk", "d/up/d/f"};
    for (int walk = 0; walk < 2; walk++) {
        pm_trust_force_walk = walk;
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            char *m = pm_printf_alloc("python-mpi-relocate 1\nprefix /opt/x\ntext %s\n", paths[i]);
            put(".python-mpi-relocate/m", m, 0644);
            assert_int_equal(pm_relocate_tree(tmpdir), -1);
            free(m);
            f = fopen(victim, "r");
            char got[64] = {0};
            assert_non_null(fgets(got, sizeof got, f));
            fclose(f);
            assert_string_equal(got, "secret /opt/x\n");
            char *k = get("d/f");
            assert_string_equal(k, "/opt/x\n");
            free(k);
        }
    }
    pm_trust_force_walk = 0;
    assert_int_equal(pm_rmtree(outside_tmpl), 0);
    free(victim);
    free(out);
    free(lnk);
    free(up);
}

/* python-mpi's own files are never a manifest's to rewrite. */
static void reserved_paths_refused(void **state)
{
    (void)state;
    put(".python-mpi-stamps", "/opt/x\n", 0644);
    put(".python-mpi-relocate/m", "python-mpi-relocate 1\nprefix /opt/x\ntext .python-mpi-stamps\n", 0644);
    assert_int_equal(pm_relocate_tree(tmpdir), -1);
    char *k = get(".python-mpi-stamps");
    assert_string_equal(k, "/opt/x\n");
    free(k);
}

/* A file may grow to twice its size plus 64 KiB: a few KiB of compressed
 * "/p/p/p..." once grew to 120 MiB (issue 12). */
static void growth_limited(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *body = malloc(n + 1);
    assert_non_null(body);
    for (size_t i = 0; i < n; i += 2)
        memcpy(body + i, "/p", 2);
    body[n] = '\0';
    put("big.txt", body, 0644);
    put(".python-mpi-relocate/m", "python-mpi-relocate 1\nprefix /p\ntext big.txt\n", 0644);
    assert_int_equal(pm_relocate_tree(tmpdir), -1);
    char *p = pm_path_join(tmpdir, "big.txt");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)n);    /* untouched */
    free(p);
    free(body);
    /* a short script with its prefix grows much more than 2x: allowed */
    put("bin/s", "#!/p/bin/python\n", 0755);
    put(".python-mpi-relocate/m", "python-mpi-relocate 1\nprefix /p\ntext bin/s\n", 0644);
    assert_int_equal(pm_relocate_tree(tmpdir), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_every_occurrence),
        cmocka_unit_test(binary_padded),
        cmocka_unit_test_setup_teardown(tree_applied_and_removed, mk, rm),
        cmocka_unit_test_setup_teardown(bad_manifests, mk, rm),
        cmocka_unit_test_setup_teardown(binary_too_long_fails, mk, rm),
        cmocka_unit_test_setup_teardown(never_through_a_link, mk, rm),
        cmocka_unit_test_setup_teardown(reserved_paths_refused, mk, rm),
        cmocka_unit_test_setup_teardown(growth_limited, mk, rm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
