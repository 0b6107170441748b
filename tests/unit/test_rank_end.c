/* test_rank_end.c - the end of a rank runs exactly once, in the process
 * that armed it, for the endings rank_end.h catches: exit(),
 * pm_rank_end_exit, os._exit() from Python, Python's SIGINT self-kill
 * after finalization; a status the end changes still runs the exit
 * handlers registered before it; _exit() from C is not caught; never in a
 * process forked from it.  Each case runs in a child process, whose end
 * function (and exit handlers) report on a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rank_end.h"

#include <Python.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd = -1;
static int end_result;   /* what the end function returns; -1: the status */
static void (*before_arm)(void);   /* run in the child before it arms */

static void report(const char *line)
{
    size_t n = strlen(line);
    if (write(report_fd, line, n) != (ssize_t)n)
        abort();
}

static int end_fn(int status, enum pm_end_how how, void *ctx)
{
    char line[64];
    int n = snprintf(line, sizeof line, "end %d %d %s %d\n", status, (int)how, (const char *)ctx,
                     pm_rank_end_running());
    if (write(report_fd, line, (size_t)n) != n)
        abort();
    return end_result < 0 ? status : end_result;
}

typedef void (*body_fn)(void);

/* Run body in a child that armed the end; returns its wait status and what
 * its end functions reported. */
static int in_child_with(pm_end_fn fn, body_fn body, int result, char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        end_result = result;
        if (before_arm)
            before_arm();
        if (pm_rank_end_arm(fn, "ctx") != 0)
            exit(99);
        body();
        exit(98);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(p[0]);
    before_arm = NULL;
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static int in_child(body_fn body, int result, char *out, size_t cap)
{
    return in_child_with(end_fn, body, result, out, cap);
}

/* body in a child (result as for in_child) leaves with status, and the end
 * and the handlers wrote text. */
static void expect_child(body_fn body, int result, int status, const char *text)
{
    char out[256];
    int st = in_child(body, result, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), status);
    assert_string_equal(out, text);
}

static void body_exit3(void) { exit(3); }
static void body_underscore4(void) { _exit(4); }

static void exit_runs_the_end_once(void **state)
{
    (void)state;
    expect_child(body_exit3, -1, 3, "end 3 0 ctx 1\n");
}

/* _exit() from C stays libc's: no end, the status as given. */
static void c_underscore_exit_is_not_caught(void **state)
{
    (void)state;
    expect_child(body_underscore4, 1, 4, "");
}

/* pm_rank_end_exit: the end first, then exit() with its status. */
static void body_end_exit3(void) { pm_rank_end_exit(3); }
static void end_exit_runs_the_end_first(void **state)
{
    (void)state;
    expect_child(body_end_exit3, -1, 3, "end 3 0 ctx 1\n");
}

/* Exit handlers registered before the end was armed (as the MPI library's
 * are) run after it, and see the status the process leaves with. */
static void earlier_on_exit(int status, void *arg)
{
    (void)arg;
    char line[64];
    (void)snprintf(line, sizeof line, "handler %d\n", status);
    report(line);
}
static void register_earlier(void)
{
    if (on_exit(earlier_on_exit, NULL) != 0)
        abort();
}
static void body_buffered_exit0(void)
{
    /* Buffered stdio is flushed as exit() flushes it, after the handlers. */
    if (dup2(report_fd, STDOUT_FILENO) < 0 || setvbuf(stdout, NULL, _IOFBF, 4096) != 0)
        abort();
    printf("buffered\n");
    exit(0);
}
static void body_end_exit0(void) { pm_rank_end_exit(0); }

static void the_end_decides_the_status(void **state)
{
    (void)state;
    /* A normal end whose teardown failed leaves with 1, through exit() ... */
    before_arm = register_earlier;
    expect_child(body_buffered_exit0, 1, 1, "end 0 0 ctx 1\nhandler 1\nbuffered\n");
    /* ... and through pm_rank_end_exit ... */
    before_arm = register_earlier;
    expect_child(body_end_exit0, 1, 1, "end 0 0 ctx 1\nhandler 1\n");
    /* ... and a failing one can end 0; unchanged, the handler runs once. */
    before_arm = register_earlier;
    expect_child(body_exit3, 0, 0, "end 3 0 ctx 1\nhandler 0\n");
    before_arm = register_earlier;
    expect_child(body_exit3, -1, 3, "end 3 0 ctx 1\nhandler 3\n");
}

/* An exit() inside the end (MPI_Abort may call exit) does not run it again. */
static int nested_fn(int status, enum pm_end_how how, void *ctx)
{
    end_fn(status, how, ctx);
    exit(7);
}
static void body_nested(void)
{
    /* Arming twice is refused: the first arm stays. */
    if (pm_rank_end_arm(end_fn, "again") == 0)
        exit(97);
    exit(5);
}
static void nested_exit_does_not_rerun(void **state)
{
    (void)state;
    char out[256];
    int st = in_child_with(nested_fn, body_nested, -1, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    assert_string_equal(out, "end 5 0 ctx 1\n");
}

/* A process forked from the rank (multiprocessing, os.fork) leaves as it
 * would without python-mpi, by exit() or by _exit(). */
static void body_forks(void)
{
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid < 0)
            exit(96);
        if (pid == 0) {
            if (i == 0)
                exit(11);
            _exit(12);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 11 + i)
            exit(95);
    }
    exit(0);
}
static void forked_children_do_not_end_the_rank(void **state)
{
    (void)state;
    expect_child(body_forks, -1, 0, "end 0 0 ctx 1\n");
}

/* os._exit() inside Python runs the end, then leaves with its status;
 * a bad call raises and ends nothing; a child forked in Python passes
 * through (os._exit and posix._exit are one function). */
static void run_python(const char *code)
{
    Py_InitializeEx(0);
    if (pm_rank_end_python_ready() != 0)
        exit(94);
    if (PyRun_SimpleString(code) != 0)
        exit(90);
    exit(89);   /* the code must end the process */
}
static void body_os_exit4(void)
{
    run_python("import os, posix, sys\n"
               "assert os._exit is posix._exit and os._exit.__module__ == 'posix'\n"
               "for bad in ('x', 2**40):\n"
               "    try: os._exit(bad)\n"
               "    except (TypeError, OverflowError): pass\n"
               "    else: sys.exit(88)\n"
               "try: os._exit()\n"
               "except TypeError: pass\n"
               "else: sys.exit(87)\n"
               "pid = os.fork()\n"
               "if pid == 0: os._exit(12)\n"
               "if os.waitpid(pid, 0)[1] != 12 << 8: sys.exit(86)\n"
               "os._exit(status=4)\n");
}
static void os_exit_in_python_runs_the_end(void **state)
{
    (void)state;
    expect_child(body_os_exit4, -1, 4, "end 4 2 ctx 1\n");
    /* The end decides the status; os._exit runs no exit handler. */
    before_arm = register_earlier;
    expect_child(body_os_exit4, 0, 0, "end 4 2 ctx 1\n");
}

/* Not armed (a rank's child process): python_ready leaves os._exit alone. */
static void unarmed_python_keeps_os_exit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        Py_InitializeEx(0);
        if (pm_rank_end_python_ready() != 0)
            _exit(94);
        _exit(PyRun_SimpleString("import os, posix\n"
                                 "assert os._exit.__self__ is posix\n"
                                 "assert os._exit.__doc__.startswith('Exit to the system')\n"
                                 "assert os._exit.__text_signature__ is not None\n"
                                 "posix._exit(5)\n") == 0 ? 6 : 7);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 5);
}

/* Py_RunMain's self-kill after an unhandled KeyboardInterrupt is held back
 * once Python has finalized (and only then), and the end hears of it. */
static void body_sigint(void)
{
    Py_InitializeEx(0);
    if (pm_rank_end_python_ready() != 0)
        exit(94);
    /* While Python runs, a SIGINT to ourselves is delivered as ever. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    if (kill(getpid(), SIGINT) != 0)
        exit(93);
    if (Py_FinalizeEx() != 0)
        exit(92);
    signal(SIGINT, SIG_DFL);   /* what Py_RunMain does before its kill */
    if (kill(getpid(), SIGINT) != 0)
        exit(91);
    exit(130);
}
static void sigint_after_python_is_held_back(void **state)
{
    (void)state;
    expect_child(body_sigint, -1, 130, "end 130 1 ctx 1\n");
}

/* Not armed: exit, _exit and kill are the system's. */
static void unarmed_is_transparent(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(6);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 6);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        kill(getpid(), SIGINT);
        pause();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
    assert_int_equal(pm_rank_end_running(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_runs_the_end_once),
        cmocka_unit_test(c_underscore_exit_is_not_caught),
        cmocka_unit_test(end_exit_runs_the_end_first),
        cmocka_unit_test(the_end_decides_the_status),
        cmocka_unit_test(nested_exit_does_not_rerun),
        cmocka_unit_test(forked_children_do_not_end_the_rank),
        cmocka_unit_test(os_exit_in_python_runs_the_end),
        cmocka_unit_test(unarmed_python_keeps_os_exit),
        cmocka_unit_test(sigint_after_python_is_held_back),
        cmocka_unit_test(unarmed_is_transparent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
