/* test_log_escape.c - what pm_error and pm_info print cannot forge a line
 * or reach a terminal raw (log.h; red team round 1 #16): control bytes,
 * C1 controls and bytes that are not UTF-8 are escaped, valid UTF-8 is
 * kept, and a long message is cut between characters, still one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void escapes_to(const char *in, const char *want)
{
    char out[256];
    size_t n = pm_log_escape(out, sizeof out, in, strlen(in));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void control_bytes(void **state)
{
    (void)state;
    escapes_to("a\nb", "a\\nb");
    escapes_to("\t\r", "\\t\\r");
    escapes_to("\x1b[8m", "\\x1b[8m");
    escapes_to("\x7f\x01", "\\x7f\\x01");
    escapes_to("plain 'name' ok/x.py", "plain 'name' ok/x.py");
}

static void utf8(void **state)
{
    (void)state;
    escapes_to("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d");
    escapes_to("\xc2\x9b" "2J", "\\xc2\\x9b2J");            /* C1 CSI */
    escapes_to("\xff\xfe", "\\xff\\xfe");                  /* not UTF-8 */
    escapes_to("\xc0\xaf", "\\xc0\\xaf");                  /* overlong '/' */
    escapes_to("\xed\xa0\x80", "\\xed\\xa0\\x80");         /* a surrogate */
    escapes_to("x\xe2\x82", "x\\xe2\\x82");                /* cut short */
    escapes_to("\xe2\n\x82", "\\xe2\\n\\x82");             /* a newline inside */
}

/* Cut only between whole characters and escapes, always NUL-terminated. */
static void cut_whole(void **state)
{
    (void)state;
    char out[6];
    assert_int_equal(pm_log_escape(out, 5, "ab\ncd", 5), 4);
    assert_string_equal(out, "ab\\n");
    assert_int_equal(pm_log_escape(out, sizeof out, "abc\x1b", 4), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(pm_log_escape(out, 1, "abc", 3), 0);
    assert_string_equal(out, "");
}

/* stderr of fn, run with stderr on a temporary file. */
static char *captured(void (*fn)(void))
{
    char tmpl[] = "/tmp/test-log-escape.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0 && dup2(fd, 2) == 2);
    fn();
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)len + 1);
    assert_non_null(s);
    assert_int_equal(pread(fd, s, (size_t)len, 0), len);
    close(fd);
    return s;
}

static void say_forged(void)
{
    pm_error("b\x1b]0;t\x07.tar", "entry '%s': refused", "x\nbcast: rank 0 on vm: FORGED\x1b[8m");
}

static void say_info(void)
{
    pm_info(1, "%s", "a\nb");
}

static void say_long(void)
{
    char name[3000];
    memset(name, '\n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    pm_error(NULL, "entry '%s'", name);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void messages_escaped(void **state)
{
    (void)state;
    pm_log_init("bcast");
    pm_log_set_rank(0);
    char *s = captured(say_forged);
    assert_int_equal(lines(s), 1);
    assert_null(strchr(s, '\x1b'));
    assert_null(strchr(s, '\x07'));
    assert_non_null(strstr(s, ": b\\x1b]0;t\\x07.tar: entry 'x\\nbcast: rank 0 on vm: FORGED\\x1b[8m': refused\n"));
    free(s);
    pm_log_set_verbose(1);
    s = captured(say_info);
    assert_int_equal(lines(s), 1);
    assert_non_null(strstr(s, "a\\nb\n"));
    free(s);
    s = captured(say_long);
    assert_int_equal(lines(s), 1);
    assert_int_equal(s[strlen(s) - 1], '\n');
    assert_int_equal(s[strlen(s) - 2], 'n');   /* cut after a whole "\n" */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(control_bytes),
        cmocka_unit_test(utf8),
        cmocka_unit_test(cut_whole),
        cmocka_unit_test(messages_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
