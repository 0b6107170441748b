/* test_log_drain.c - pm_log_drain, the wait before MPI_Abort for the
 * launcher to read a rank's last words: returns at once on files, waits for
 * a slow reader on pipes and sockets, and gives up on one that never reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "phases.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char line[] = "python-mpi: rank 2 on n1: Python exited with status 1; aborting the job\n";

/* A reader that takes everything from fd after delay_ms, until the writer
 * (whose end it closes) closes too. */
static pid_t slow_reader(int fd, int writer, int delay_ms)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(writer);
        usleep((useconds_t)delay_ms * 1000);
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0)
            ;
        _exit(0);
    }
    return pid;
}

static void drained_by(int wfd, int rfd)
{
    assert_int_equal(write(wfd, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    pid_t pid = slow_reader(rfd, wfd, 100);
    double t0 = pm_now();
    assert_int_equal(pm_log_drain(wfd, 5.0), 0);
    double took = pm_now() - t0;
    assert_true(took >= 0.05);   /* it did wait for the reader */
    assert_true(took < 4.0);
    assert_int_equal(close(wfd), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(close(rfd), 0);
}

static void pipe_waits_for_a_slow_reader(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    drained_by(p[1], p[0]);
}

static void socket_waits_for_a_slow_reader(void **state)
{
    (void)state;
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    drained_by(s[0], s[1]);
}

static void pipe_nobody_reads_times_out(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    double t0 = pm_now();
    assert_int_equal(pm_log_drain(p[1], 0.2), 1);
    double took = pm_now() - t0;
    assert_true(took >= 0.15 && took < 3.0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(close(p[1]), 0);
}

static void empty_pipe_and_files_return_at_once(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pm_log_drain(p[1], 0.0), 0);
    char name[] = "/tmp/pm-drain-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    assert_int_equal(unlink(name), 0);
    assert_int_equal(write(fd, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    assert_int_equal(pm_log_drain(fd, 0.0), 0);
    assert_int_equal(pm_log_drain(-1, 0.0), 0);   /* closed stderr */
    assert_int_equal(close(fd), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(close(p[1]), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipe_waits_for_a_slow_reader),
        cmocka_unit_test(socket_waits_for_a_slow_reader),
        cmocka_unit_test(pipe_nobody_reads_times_out),
        cmocka_unit_test(empty_pipe_and_files_return_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
