/* test_timing.c - the PYTHON_MPI_TIMING report: every phase, min before
 * max, valid JSON shape, and the text form's header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "timing.h"

#include <mpi.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
    "mpi_init", "stage", "read", "bcast", "unpack", "python_init", "run", "teardown", "total",
};

static void fill(double *min, double *max)
{
    for (int i = 0; i < PM_NPHASES; i++) {
        min[i] = 0.25 * i;
        max[i] = 0.25 * i + 1.5;
    }
}

static void json_has_every_phase(void **state)
{
    (void)state;
    double min[PM_NPHASES], max[PM_NPHASES];
    fill(min, max);
    char *s = pm_timing_format(min, max, 64, 4, 123456789ull, PM_TIMING_JSON);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"ranks\": 64"));
    assert_non_null(strstr(s, "\"nodes\": 4"));
    assert_non_null(strstr(s, "\"bytes\": 123456789"));
    for (int i = 0; i < PM_NPHASES; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"%s\": {\"min\": %.6f, \"max\": %.6f}", names[i], min[i], max[i]);
        assert_non_null(strstr(s, want));
    }
    /* one line, balanced braces */
    assert_int_equal(s[strlen(s) - 1], '\n');
    assert_ptr_equal(strchr(s, '\n') + 1, s + strlen(s));
    int depth = 0;
    for (const char *p = s; *p; p++)
        depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
    assert_int_equal(depth, 0);
    free(s);
}

static void text_lines(void **state)
{
    (void)state;
    double min[PM_NPHASES], max[PM_NPHASES];
    fill(min, max);
    char *s = pm_timing_format(min, max, 8, 2, 1000, PM_TIMING_TEXT);
    assert_non_null(s);
    assert_non_null(strstr(s, "8 rank(s) on 2 node(s), 1000 bundle bytes"));
    int lines = 0;
    for (const char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + PM_NPHASES);
    assert_non_null(strstr(s, "total            2.000 ..     3.500"));
    free(s);
    s = pm_timing_format(min, max, 1, 0, 0, PM_TIMING_TEXT);
    assert_non_null(strstr(s, "1 rank(s), no bundles"));
    free(s);
}

static void parse(void **state)
{
    (void)state;
    enum pm_timing_mode m;
    const char *path;
    assert_int_equal(pm_timing_parse(NULL, &m, &path), 0);
    assert_int_equal(m, PM_TIMING_OFF);
    assert_int_equal(pm_timing_parse("json:out/t.json", &m, &path), 0);
    assert_int_equal(m, PM_TIMING_JSON);
    assert_string_equal(path, "out/t.json");
    assert_int_equal(pm_timing_parse("json:", &m, &path), -1);
    assert_int_equal(pm_timing_parse("texts", &m, &path), -1);
}

/* json:PATH goes through a new temporary file, never one planted at a
 * predictable name (PATH.tmp.PID followed a link, issue 12). */
static void report_file_not_through_links(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test-timing.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char path[256], victim[256], planted[300];
    snprintf(path, sizeof path, "%s/t.json", tmpl);
    snprintf(victim, sizeof victim, "%s/victim", tmpl);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, planted), 0);
    pm_timing t;
    memset(&t, 0, sizeof t);
    assert_int_equal(pm_timing_report(&t, MPI_COMM_SELF, PM_TIMING_JSON, path), 0);
    char got[64] = {0};
    f = fopen(victim, "r");
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    assert_string_equal(got, "precious\n");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0644);
    unlink(planted);
    unlink(victim);
    unlink(path);
    assert_int_equal(rmdir(tmpl), 0);   /* no temporary file left */
}

int main(void)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_has_every_phase),
        cmocka_unit_test(text_lines),
        cmocka_unit_test(parse),
        cmocka_unit_test(report_file_not_through_links),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
