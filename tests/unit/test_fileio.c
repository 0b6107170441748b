/* test_fileio.c - whole reads and writes: short reads from a pipe fed in
 * pieces, reads and writes interrupted by a signal (EINTR, injected with a
 * timer whose handler does not restart calls), end-of-file, the size
 * limit, a missing file, a symbolic link refused with O_NOFOLLOW, a
 * directory, a descriptor that cannot be read or written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fileio.h"
#include "jobdir.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char *tmpdir;

static int mk(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/pm-fileio.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    tmpdir = strdup(tmpl);
    return tmpdir ? 0 : -1;
}

static int rm(void **state)
{
    (void)state;
    int rc = pm_rmtree(tmpdir, NULL);
    free(tmpdir);
    return rc;
}

static char *put(const char *name, const char *data, size_t len)
{
    char *p = pm_path_join(tmpdir, name);
    assert_non_null(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    return p;
}

/* In the helper threads: the timer's signals go to the main thread, whose
 * reads and writes are the ones under test. */
static void block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    if (pthread_sigmask(SIG_BLOCK, &all, NULL) != 0)
        abort();   /* not a cmocka assert: this is not the test's thread */
}

/* A writer thread feeding a pipe a few bytes at a time, pausing between. */
typedef struct feeder {
    int fd;
    const char *data;
    size_t len, piece;
    long pause_ns;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    block_signals();
    for (size_t off = 0; off < f->len;) {
        size_t n = f->len - off < f->piece ? f->len - off : f->piece;
        struct timespec t = {0, f->pause_ns};
        nanosleep(&t, NULL);
        ssize_t w = write(f->fd, f->data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* SIGALRM every ms, without SA_RESTART: blocking reads and writes return
 * EINTR (on a pipe, read(2) and write(2) are not restarted then). */
static void interrupt_often(int on)
{
    /* The handler stays: a signal still pending when the timer stops is
     * counted, never fatal. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {{0, on ? 1000 : 0}, {0, on ? 1000 : 0}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void read_full_short_reads_and_eintr(void **state)
{
    (void)state;
    char data[3000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    int p[2];
    assert_int_equal(pipe(p), 0);
    feeder f = {p[1], data, sizeof data, 7, 300000};   /* 7 bytes every 0.3 ms */
    pthread_t t;
    alarms = 0;
    interrupt_often(1);
    assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
    char got[4000];
    ssize_t n = pm_read_full(p[0], got, 2000);   /* many short reads, many signals */
    assert_int_equal(n, 2000);
    assert_memory_equal(got, data, 2000);
    n = pm_read_full(p[0], got + 2000, 2000);    /* end-of-file first: 1000 */
    interrupt_often(0);
    assert_int_equal(n, 1000);
    assert_memory_equal(got, data, sizeof data);
    assert_int_equal(pm_read_full(p[0], got, 10), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(alarms > 0);   /* the loop did see interruptions */
    close(p[0]);
}

static void read_full_error(void **state)
{
    (void)state;
    char c;
    errno = 0;
    assert_int_equal(pm_read_full(-1, &c, 1), -1);
    assert_int_equal(errno, EBADF);
    int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(pm_read_full(fd, &c, 1), -1);
    assert_int_equal(errno, EISDIR);
    close(fd);
    assert_int_equal(pm_read_full(-1, &c, 0), 0);   /* nothing asked, nothing done */
}

/* A reader thread draining a pipe slowly while the main thread writes
 * more than the pipe holds, interrupted. */
typedef struct drainer {
    int fd;
    char *buf;
    size_t len;
} drainer;

static void *drain(void *arg)
{
    drainer *d = arg;
    block_signals();
    for (;;) {
        struct timespec t = {0, 200000};
        nanosleep(&t, NULL);
        ssize_t n = read(d->fd, d->buf + d->len, 4096);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    return NULL;
}

static void write_full_eintr(void **state)
{
    (void)state;
    size_t len = 256 << 10;   /* four times a default pipe */
    char *data = malloc(len), *back = malloc(len + 4096);
    assert_non_null(data);
    assert_non_null(back);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 7);
    int p[2];
    assert_int_equal(pipe(p), 0);
    drainer d = {p[0], back, 0};
    pthread_t t;
    alarms = 0;
    interrupt_often(1);
    assert_int_equal(pthread_create(&t, NULL, drain, &d), 0);
    assert_int_equal(pm_write_full(p[1], data, len), 0);
    interrupt_often(0);
    close(p[1]);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(p[0]);
    assert_int_equal(d.len, len);
    assert_memory_equal(back, data, len);
    assert_true(alarms > 0);
    free(data);
    free(back);
}

static void write_full_errors(void **state)
{
    (void)state;
    assert_int_equal(pm_write_full(-1, "x", 1), -1);
    assert_int_equal(errno, EBADF);
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pm_write_full(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    assert_int_equal(pm_write_full(-1, "x", 0), 0);
}

static void read_fd_grows_from_a_pipe(void **state)
{
    (void)state;
    size_t len = 100000;   /* past the first 4 KiB allocation, many times */
    char *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)('0' + i % 10);
    int p[2];
    assert_int_equal(pipe(p), 0);
    feeder f = {p[1], data, len, 8191, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
    char *got = NULL;
    size_t n = 0;
    assert_int_equal(pm_read_fd(p[0], SIZE_MAX, 0, &got, &n), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(p[0]);
    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    assert_int_equal(got[n], '\0');
    free(got);
    free(data);
}

static void read_fd_limit(void **state)
{
    (void)state;
    char *p = put("ten", "0123456789", 10);
    char *got = (char *)"untouched";
    size_t n = 0;
    for (size_t hint = 0; hint <= 12; hint++) {   /* a wrong hint changes nothing */
        int fd = open(p, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(pm_read_fd(fd, 10, hint, &got, &n), 0);   /* exactly the limit */
        assert_int_equal(n, 10);
        assert_string_equal(got, "0123456789");
        free(got);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        got = (char *)"untouched";
        errno = 0;
        assert_int_equal(pm_read_fd(fd, 9, hint, &got, &n), -1);   /* one byte over */
        assert_int_equal(errno, EFBIG);
        assert_string_equal(got, "untouched");
        close(fd);
    }
    /* An empty file: an empty string. */
    char *e = put("empty", "", 0);
    int fd = open(e, O_RDONLY);
    assert_int_equal(pm_read_fd(fd, 0, 0, &got, &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(got, "");
    free(got);
    close(fd);
    errno = 0;
    assert_int_equal(pm_read_fd(-1, 10, 0, &got, &n), -1);
    assert_int_equal(errno, EBADF);
    free(p);
    free(e);
}

static void read_file_at(void **state)
{
    (void)state;
    char *p = put("f", "hello\n", 6);
    int dir = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(dir >= 0);
    char *got;
    size_t n;
    struct stat st;
    assert_int_equal(pm_read_file_at(dir, "f", O_NOFOLLOW, 1 << 20, &got, &n, &st), 0);
    assert_int_equal(n, 6);
    assert_string_equal(got, "hello\n");
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 6);
    free(got);
    /* by path, and no stat wanted */
    assert_int_equal(pm_read_file_at(AT_FDCWD, p, 0, 6, &got, &n, NULL), 0);
    assert_string_equal(got, "hello\n");
    free(got);
    /* larger than the limit: refused before reading */
    errno = 0;
    assert_int_equal(pm_read_file_at(dir, "f", 0, 5, &got, &n, NULL), -1);
    assert_int_equal(errno, EFBIG);
    /* missing */
    assert_int_equal(pm_read_file_at(dir, "nope", 0, 100, &got, &n, NULL), -1);
    assert_int_equal(errno, ENOENT);
    /* a symbolic link: followed without O_NOFOLLOW, refused with it */
    assert_int_equal(symlinkat("f", dir, "link"), 0);
    assert_int_equal(pm_read_file_at(dir, "link", 0, 100, &got, &n, NULL), 0);
    assert_string_equal(got, "hello\n");
    free(got);
    assert_int_equal(pm_read_file_at(dir, "link", O_NOFOLLOW, 100, &got, &n, NULL), -1);
    assert_int_equal(errno, ELOOP);
    /* not a regular file */
    assert_int_equal(mkdirat(dir, "d", 0755), 0);
    assert_int_equal(pm_read_file_at(dir, "d", 0, 100, &got, &n, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mkfifoat(dir, "fifo", 0600), 0);
    assert_int_equal(pm_read_file_at(dir, "fifo", O_NONBLOCK, 100, &got, &n, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(pm_read_file_at(-1, "f", 0, 100, &got, &n, NULL), -1);
    assert_int_equal(errno, EBADF);
    close(dir);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_full_short_reads_and_eintr),
        cmocka_unit_test(read_full_error),
        cmocka_unit_test(write_full_eintr),
        cmocka_unit_test(write_full_errors),
        cmocka_unit_test(read_fd_grows_from_a_pipe),
        cmocka_unit_test(read_fd_limit),
        cmocka_unit_test(read_file_at),
    };
    return cmocka_run_group_tests(tests, mk, rm);
}
