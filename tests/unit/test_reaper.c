/* test_reaper.c - the clean-up watcher (reaper.h), started as python-mpi
 * starts it (this binary is re-entered with --python-mpi-reaper), with each
 * way of keeping the leader's descriptors from it: glibc's closefrom (where
 * the C library has it), and the fallback for glibc < 2.34 with /proc and
 * without.  Each case: none of the leader's descriptors (a pipe, at a low
 * and a high number) reaches the watcher; a leader killed with SIGKILL has
 * its tree (and the per-user directory it made) removed; a disarmed one
 * keeps it; the watcher says nothing.  And a leader killed while another
 * rank of the node holds the tree (pm_reaper_hold) leaves it there until
 * that rank has ended.  The leader is a child of the test; the watcher's
 * end is seen as end-of-file on the stderr it inherits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "scratch.h"

#include "jobdir.h"
#include "log.h"
#include "pm_config.h"
#include "reaper.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HIGH_FD 200      /* a leader's descriptor far above 3 */
#define WAIT_MS 20000    /* a loaded machine */

enum mode { NATIVE, PROC_LIST, NO_PROC };
enum end { KILLED, DISARMED, HELD };

static char *base;

static int setup(void **state)
{
    (void)state;
    pm_log_init("test_reaper");
    base = scratch_new("test-reaper");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_free(base);
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read fd until end-of-file (within WAIT_MS) into a malloc'd string; NULL
 * on time-out. */
static char *read_to_eof(int fd)
{
    size_t len = 0;
    char *out = calloc(1, 1);
    long end = now_ms() + WAIT_MS;
    while (out) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left = end - now_ms();
        int r = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char buf[512];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? out : (free(out), NULL);
        char *grown = realloc(out, len + (size_t)n + 1);
        if (!grown)
            break;
        out = grown;
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
        out[len] = '\0';
    }
    free(out);
    return NULL;
}

/* The leader: start the watcher holding descriptors it must not get, let
 * the test know, then wait to be killed, or for goahead's end-of-file to
 * disarm it and end. */
_Noreturn static void leader(const char *tree, enum mode mode, enum end end, int made, int errw,
                             int leakw, int readyw, int goahead)
{
    if (dup2(errw, 2) != 2 || dup2(leakw, HIGH_FD) != HIGH_FD)
        _exit(3);
    pm_reaper_force_fallback = mode == NATIVE ? 0 : mode == PROC_LIST ? 1 : 2;
    int fd = pm_reaper_start(tree, made);
    close(leakw);
    close(HIGH_FD);
    char c = fd >= 0 ? 'y' : 'n';
    if (write(readyw, &c, 1) != 1 || fd < 0)
        _exit(3);
    if (end == DISARMED) {
        while (read(goahead, &c, 1) < 0 && errno == EINTR)
            ;
        pm_reaper_disarm(fd);
        _exit(0);
    }
    for (;;)
        pause();
}

static void run(enum mode mode, enum end end)
{
    if (mode == NATIVE && !pm_reaper_has_closefrom())
        skip();   /* no posix_spawn_file_actions_addclosefrom_np here */
    /* A chroot of its own: a failed case leaves nothing in the next one's. */
    static int serial;
    int made = end != DISARMED;
    char *chroot = pm_printf_alloc("%s/%d", base, serial++);
    char *userdir = pm_printf_alloc("%s/python-mpi-%lu", chroot, (unsigned long)geteuid());
    char *tree = pm_printf_alloc("%s/run", userdir);
    char *sub = pm_printf_alloc("%s/lib", tree);
    char *file = pm_printf_alloc("%s/lib/x.py", tree);
    assert_non_null(file);
    assert_int_equal(mkdir(chroot, 0700), 0);
    assert_int_equal(mkdir(userdir, 0700), 0);
    assert_int_equal(mkdir(tree, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    int ffd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(ffd >= 0);
    close(ffd);

    /* HELD: another rank of the node, running on the tree until told. */
    int uready[2], ugo[2];
    pid_t user = -1;
    if (end == HELD) {
        assert_int_equal(pipe2(uready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ugo, O_CLOEXEC), 0);
        user = fork();
        assert_true(user >= 0);
        if (user == 0) {
            close(ugo[1]);
            int t = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            char u = t >= 0 && pm_reaper_hold(t) == 0 ? 'y' : 'n';
            if (t >= 0)
                close(t);   /* the hold is on its own descriptor */
            if (write(uready[1], &u, 1) != 1)
                _exit(3);
            while (read(ugo[0], &u, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        close(uready[1]);
        close(ugo[0]);
        char u = 0;
        while (read(uready[0], &u, 1) < 0 && errno == EINTR)
            ;
        close(uready[0]);
        assert_int_equal(u, 'y');
    }
    int errp[2], leak[2], ready[2], go[2];
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    assert_int_equal(pipe(leak), 0);   /* not O_CLOEXEC: an inherited one */
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        leader(tree, mode, end, made, errp[1], leak[1], ready[1], go[0]);
    }
    close(errp[1]);
    close(leak[1]);
    close(ready[1]);
    close(go[0]);
    char c = 0;
    ssize_t n;
    do
        n = read(ready[0], &c, 1);
    while (n < 0 && errno == EINTR);
    close(ready[0]);

    /* The leader, alive, has closed its ends of leak: only a watcher that
     * got them could keep it open. */
    char *leaked = n == 1 && c == 'y' ? read_to_eof(leak[0]) : NULL;
    close(leak[0]);
    close(go[1]);
    if (end != DISARMED)
        kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    struct stat s;
    if (end == HELD) {
        /* The leader is gone, the other rank runs: the watcher waits,
         * its stderr no longer ours (the launcher's, in a job). */
        struct timespec half = {0, 500000000L};
        while (nanosleep(&half, &half) != 0 && errno == EINTR)
            ;
        assert_int_equal(lstat(file, &s), 0);
        close(ugo[1]);
        int ust;
        assert_int_equal(waitpid(user, &ust, 0), user);
        assert_true(WIFEXITED(ust) && WEXITSTATUS(ust) == 0);
        /* Then it removes the tree (no end-of-file to wait for now). */
        for (long until = now_ms() + WAIT_MS; lstat(userdir, &s) == 0 && now_ms() < until;) {
            struct timespec tick = {0, 10000000L};
            nanosleep(&tick, NULL);
        }
    }
    char *said = read_to_eof(errp[0]);   /* the watcher has gone */
    close(errp[0]);
    if (said && *said)
        print_error("watcher or leader said: %s", said);
    if (!leaked)
        print_error("the watcher holds a descriptor of the leader's\n");
    assert_int_equal(c, 'y');
    assert_non_null(leaked);
    assert_string_equal(leaked, "");
    assert_non_null(said);
    assert_string_equal(said, "");
    if (end != DISARMED) {
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        assert_int_equal(lstat(tree, &s), -1);
        assert_int_equal(lstat(userdir, &s), -1);   /* made by this run, now empty */
    } else {
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        assert_int_equal(lstat(file, &s), 0);
        assert_int_equal(pm_rmtree(tree, NULL), 0);
    }
    free(leaked);
    free(said);
    free(chroot);
    free(userdir);
    free(tree);
    free(sub);
    free(file);
}

/* The run-time lookup finds what the build-time probe found. */
static void lookup_matches_probe(void **state)
{
    (void)state;
    assert_int_equal(pm_reaper_has_closefrom(), PM_HAVE_ADDCLOSEFROM_NP && !PM_FORCED_FALLBACKS);
}

static void closefrom_killed(void **state) { (void)state; run(NATIVE, KILLED); }
static void closefrom_disarmed(void **state) { (void)state; run(NATIVE, DISARMED); }
static void fallback_killed(void **state) { (void)state; run(PROC_LIST, KILLED); }
static void fallback_disarmed(void **state) { (void)state; run(PROC_LIST, DISARMED); }
static void fallback_no_proc_killed(void **state) { (void)state; run(NO_PROC, KILLED); }
static void fallback_no_proc_disarmed(void **state) { (void)state; run(NO_PROC, DISARMED); }
static void held_by_another_rank(void **state)
{
    (void)state;
    run(pm_reaper_has_closefrom() ? NATIVE : PROC_LIST, HELD);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], PM_REAPER_FLAG) == 0)
        pm_reaper_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_matches_probe),
        cmocka_unit_test(closefrom_killed),
        cmocka_unit_test(closefrom_disarmed),
        cmocka_unit_test(fallback_killed),
        cmocka_unit_test(fallback_disarmed),
        cmocka_unit_test(fallback_no_proc_killed),
        cmocka_unit_test(fallback_no_proc_disarmed),
        cmocka_unit_test(held_by_another_rank),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
