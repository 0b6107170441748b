/* test_envstore.c - PYTHON_MPI_ENV's cache directory (envstore.h): prune
 * keeps the state in use and removes the oldest beyond the count cap and
 * the size cap (and a day-old temporary, not a fresh one), and over the
 * whole cache the oldest of any environment beyond its size cap; a state or
 * bundle of another uid (as root), or a directory with group or other
 * bits, is refused with a reason; a state is read whole or refused;
 * write_new never replaces; commit renames, yields to another job's state,
 * or discards; open makes the cache private and checks its settings, and
 * creates nothing where a link leads nor in a directory others can write;
 * a state another process holds (read, lock kept) is not pruned, and a
 * state pruned while a reader waited for its lock is looked up again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "envstore.h"
#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *top;

static char *at(const char *rel) { return pm_path_join(top, rel); }

static void mkd(const char *rel, mode_t mode)
{
    char *p = at(rel);
    assert_int_equal(mkdir(p, mode), 0);
    assert_int_equal(chmod(p, mode), 0);
    free(p);
}

static void put(const char *rel, size_t size)
{
    char *p = at(rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char *buf = calloc(1, size ? size : 1);
    for (size_t i = 0; i < size; i++)
        buf[i] = (char)('a' + i % 26);   /* no holes: st_blocks counts it */
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    assert_int_equal(close(fd), 0);
    free(buf);
    free(p);
}

static void age(const char *rel, time_t when)
{
    char *p = at(rel);
    struct timespec ts[2] = {{when, 0}, {when, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
    free(p);
}

static int there(const char *rel)
{
    char *p = at(rel);
    struct stat st;
    int ok = lstat(p, &st) == 0;
    free(p);
    return ok;
}

/* A state named name in env/ holding size bytes, last used when. */
static void state(const char *name, size_t size, time_t when)
{
    char *dir = pm_printf_alloc("env/%s", name), *b = pm_printf_alloc("env/%s/00-venv.ptar", name);
    mkd(dir, 0700);
    put(b, size);
    age(dir, when);
    free(b);
    free(dir);
}

static int setup(void **state_)
{
    (void)state_;
    char tmpl[] = "/tmp/test_envstore.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    top = realpath(tmpl, NULL);
    assert_int_equal(chmod(top, 0700), 0);
    mkd("env", 0700);
    return 0;
}

static int teardown(void **state_)
{
    (void)state_;
    pm_envstore_release();
    assert_int_equal(pm_rmtree(top, NULL), 0);
    free(top);
    return 0;
}

static size_t nremoved;
static void count_removed(const char *envdir, const char *name, void *ctx)
{
    (void)envdir;
    (void)name;
    (void)ctx;
    nremoved++;
}

static void prune_by_count(void **state_)
{
    (void)state_;
    time_t now = time(NULL);
    state("s1", 100, now - 500);   /* the oldest: in use, stays */
    state("s2", 100, now - 400);
    state("s3", 100, now - 300);
    state("s4", 100, now - 200);
    state("s5", 100, now - 100);
    char *envdir = at("env");
    nremoved = 0;
    /* Three states: the one in use and the two newest others. */
    assert_int_equal(pm_envstore_prune(envdir, "s1", 3, UINT64_MAX, count_removed, NULL), 2);
    assert_int_equal(nremoved, 2);
    assert_true(there("env/s1"));
    assert_false(there("env/s2"));
    assert_false(there("env/s3"));
    assert_true(there("env/s4"));
    assert_true(there("env/s5"));
    /* Nothing left behind of the removed ones. */
    assert_int_equal(pm_envstore_prune(envdir, "s1", 3, UINT64_MAX, NULL, NULL), 0);
    /* A cap of one: the state in use alone. */
    assert_int_equal(pm_envstore_prune(envdir, "s1", 1, UINT64_MAX, NULL, NULL), 2);
    assert_true(there("env/s1"));
    assert_false(there("env/s4"));
    assert_false(there("env/s5"));
    free(envdir);
}

static void prune_by_size(void **state_)
{
    (void)state_;
    time_t now = time(NULL);
    state("old", 256 << 10, now - 300);
    state("mid", 256 << 10, now - 200);
    state("new", 256 << 10, now - 100);
    state("big", 1 << 20, now - 1000);   /* in use: counted first, stays */
    char *envdir = at("env");
    /* Room for the one in use and one more of 256 KiB, not two. */
    uint64_t max = (1 << 20) + (256 << 10) + (128 << 10);
    assert_int_equal(pm_envstore_prune(envdir, "big", 100, max, NULL, NULL), 2);
    assert_true(there("env/big"));
    assert_true(there("env/new"));
    assert_false(there("env/mid"));
    assert_false(there("env/old"));
    /* A cap below the one in use: still kept, every other goes. */
    assert_int_equal(pm_envstore_prune(envdir, "big", 100, 1, NULL, NULL), 1);
    assert_true(there("env/big"));
    assert_false(there("env/new"));
    free(envdir);
}

static void prune_temporaries(void **state_)
{
    (void)state_;
    time_t now = time(NULL);
    mkd("env/.tmp-old-node-1", 0700);
    age("env/.tmp-old-node-1", now - 2 * PM_ENVSTORE_STALE_TMP_SECONDS);
    mkd("env/.tmp-new-node-2", 0700);   /* a job making it now */
    state("s1", 10, now);
    char *envdir = at("env");
    assert_int_equal(pm_envstore_prune(envdir, "s1", 3, UINT64_MAX, NULL, NULL), 0);
    assert_false(there("env/.tmp-old-node-1"));
    assert_true(there("env/.tmp-new-node-2"));
    assert_true(there("env/s1"));
    /* No such directory: nothing, no crash. */
    assert_int_equal(pm_envstore_prune("/nonexistent/dir", "x", 1, 1, NULL, NULL), 0);
    free(envdir);
}

static void expect_refused(const char *rel, const char *text)
{
    char *p = at(rel), *list = NULL;
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envstore_read(p, &list, &err), -1);
    assert_true(err.set);
    assert_non_null(strstr(pm_err_text(&err), text));
    assert_string_equal(err.file, p);
    assert_null(list);
    pm_err_clear(&err);
    free(p);
}

static void read_good_and_missing(void **state_)
{
    (void)state_;
    state("s1", 10, time(NULL) - 1000);
    put("env/s1/01-dir.ptar", 10);
    char *b = at("env/s1/bundles");
    int fd = open(b, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, "00-venv.ptar\n01-dir.ptar\n", 25), 25);
    close(fd);
    free(b);
    char *p = at("env/s1"), *list = strdup("first\n");
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envstore_read(p, &list, &err), 0);
    char *want = pm_printf_alloc("first\n%s/00-venv.ptar\n%s/01-dir.ptar\n", p, p);
    assert_string_equal(list, want);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_mtime > time(NULL) - 100);   /* used now: the newest */
    free(want);
    free(list);
    free(p);
    char *q = at("env/none");
    list = NULL;
    assert_int_equal(pm_envstore_read(q, &list, &err), 1);
    assert_false(err.set);
    free(q);
}

static void read_refused(void **state_)
{
    (void)state_;
    /* Group or other bits on the state. */
    state("open", 10, 0);
    char *p = at("env/open");
    assert_int_equal(chmod(p, 0750), 0);
    free(p);
    expect_refused("env/open", "not a private directory of ours (uid");
    expect_refused("env/open", "mode 0750");
    /* No list. */
    state("nolist", 10, 0);
    expect_refused("env/nolist", "without its list of bundles");
    /* A list naming what is not a bundle of it. */
    const char *bad[] = {"../other.ptar\n", ".hidden\n", "missing.ptar\n", "sub\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *dir = pm_printf_alloc("env/bad%zu", i), *l = pm_printf_alloc("env/bad%zu/bundles", i);
        mkd(dir, 0700);
        if (i == 3) {
            char *sub = pm_printf_alloc("%s/sub", dir);
            mkd(sub, 0700);
            free(sub);
        }
        char *lp = at(l);
        int fd = open(lp, O_WRONLY | O_CREAT, 0600);
        assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        close(fd);
        expect_refused(dir, "missing or not ours");
        free(lp);
        free(l);
        free(dir);
    }
    /* A symbolic link in place of the state. */
    char *s = at("env/link");
    assert_int_equal(symlink("nolist", s), 0);
    free(s);
    expect_refused("env/link", "not a private directory of ours");
}

static void other_uid_refused(void **state_)
{
    (void)state_;
    if (geteuid() != 0)
        skip();   /* chown to another uid needs root */
    state("theirs", 10, 0);
    char *p = at("env/theirs");
    assert_int_equal(chown(p, 65534, 65534), 0);
    expect_refused("env/theirs", "not a private directory of ours (uid 65534");
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envstore_dir_ok(p, &err), 0);
    pm_err_clear(&err);
    assert_int_equal(chown(p, 0, 0), 0);
    /* Ours, but a bundle of another uid in it. */
    char *b = at("env/theirs/bundles"), *f = at("env/theirs/00-venv.ptar");
    int fd = open(b, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, "00-venv.ptar\n", 13), 13);
    close(fd);
    assert_int_equal(chown(f, 65534, 65534), 0);
    expect_refused("env/theirs", "bundle '00-venv.ptar' missing or not ours");
    free(b);
    free(f);
    free(p);
}

static void dir_ok_and_mkdir(void **state_)
{
    (void)state_;
    pm_err err = PM_ERR_INIT;
    char *p = at("env/made");
    assert_int_equal(pm_envstore_mkdir(p, &err), 1);
    assert_int_equal(pm_envstore_mkdir(p, &err), 1);   /* there already */
    assert_false(err.set);
    assert_int_equal(chmod(p, 0705), 0);
    assert_int_equal(pm_envstore_mkdir(p, &err), 0);
    assert_non_null(strstr(pm_err_text(&err), "mode 0705"));
    pm_err_clear(&err);
    free(p);
    char *q = at("nowhere/deeper");
    assert_int_equal(pm_envstore_mkdir(q, &err), 0);
    assert_non_null(strstr(pm_err_text(&err), "No such file"));
    pm_err_clear(&err);
    free(q);
}

static void write_new_and_commit(void **state_)
{
    (void)state_;
    pm_err err = PM_ERR_INIT;
    mkd("env/.tmp-k-n-1", 0700);
    char *f = at("env/.tmp-k-n-1/bundles");
    assert_int_equal(pm_envstore_write_new(f, "00-venv.ptar\n", 0600, &err), 0);
    assert_int_equal(pm_envstore_write_new(f, "x", 0600, &err), -1);   /* never replaced */
    assert_non_null(strstr(pm_err_text(&err), "cannot write"));
    pm_err_clear(&err);
    free(f);
    char *tmp = at("env/.tmp-k-n-1"), *st = at("env/k");
    assert_int_equal(pm_envstore_commit(tmp, st, 1, &err), 0);
    assert_true(there("env/k/bundles"));
    assert_false(there("env/.tmp-k-n-1"));
    /* Another job made k meanwhile: ours goes, theirs stays. */
    mkd("env/.tmp-k-n-2", 0700);
    put("env/.tmp-k-n-2/x", 1);
    char *tmp2 = at("env/.tmp-k-n-2");
    assert_int_equal(pm_envstore_commit(tmp2, st, 1, &err), 1);
    assert_false(there("env/.tmp-k-n-2"));
    assert_true(there("env/k/bundles"));
    /* Not delivered: discarded. */
    mkd("env/.tmp-j-n-3", 0700);
    char *tmp3 = at("env/.tmp-j-n-3"), *st3 = at("env/j");
    assert_int_equal(pm_envstore_commit(tmp3, st3, 0, &err), 2);
    assert_false(there("env/.tmp-j-n-3"));
    assert_false(there("env/j"));
    assert_false(err.set);
    char *name = pm_envstore_tmp_name("/c/e", "k", "node", 42);
    assert_string_equal(name, "/c/e/.tmp-k-node-42");
    free(name);
    free(tmp);
    free(tmp2);
    free(tmp3);
    free(st);
    free(st3);
}

static void open_checks(void **state_)
{
    (void)state_;
    pm_envstore s;
    pm_err err = PM_ERR_INIT;
    char *cache = at("cache/a/b");
    setenv("PYTHON_MPI_CACHE", cache, 1);
    unsetenv("PYTHON_MPI_CACHE_STATES");
    unsetenv("PYTHON_MPI_CACHE_MAX");
    unsetenv("PYTHON_MPI_ENV_CHECK");
    assert_int_equal(pm_envstore_open(&s, &err), 0);
    assert_string_equal(s.root, cache);
    assert_int_equal(s.states, PM_ENVSTORE_STATES_DEFAULT);
    assert_true(s.max == PM_ENVSTORE_MAX_DEFAULT);
    assert_false(s.check_dirs);
    struct stat st;
    assert_int_equal(stat(cache, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    pm_envstore_close(&s);

    setenv("PYTHON_MPI_CACHE_STATES", "7", 1);
    setenv("PYTHON_MPI_CACHE_MAX", "1M", 1);
    setenv("PYTHON_MPI_ENV_CHECK", "dirs", 1);
    assert_int_equal(pm_envstore_open(&s, &err), 0);
    assert_int_equal(s.states, 7);
    assert_true(s.max == 1 << 20);
    assert_true(s.check_dirs);
    pm_envstore_close(&s);

    const char *var[] = {"PYTHON_MPI_CACHE_STATES", "PYTHON_MPI_CACHE_STATES", "PYTHON_MPI_ENV_CHECK",
                         "PYTHON_MPI_CACHE_MAX"};
    const char *val[] = {"0", "1001", "some", "lots"};
    for (size_t i = 0; i < 4; i++) {
        const char *keep = getenv(var[i]);
        char *saved = keep ? strdup(keep) : NULL;
        setenv(var[i], val[i], 1);
        assert_int_equal(pm_envstore_open(&s, &err), -1);
        assert_non_null(strstr(pm_err_text(&err), var[i]));
        pm_err_clear(&err);
        pm_envstore_close(&s);
        if (saved)
            setenv(var[i], saved, 1);
        else
            unsetenv(var[i]);
        free(saved);
    }

    /* A cache others may write in: refused, with the reason. */
    assert_int_equal(chmod(cache, 0770), 0);
    assert_int_equal(pm_envstore_open(&s, &err), -1);
    assert_non_null(strstr(pm_err_text(&err), "refusing to use the cache"));
    pm_err_clear(&err);
    pm_envstore_close(&s);

    unsetenv("PYTHON_MPI_CACHE");
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    unsetenv("HOME");
    assert_int_equal(pm_envstore_open(&s, &err), -1);
    assert_non_null(strstr(pm_err_text(&err), "HOME is unset"));
    pm_err_clear(&err);
    if (saved)
        setenv("HOME", saved, 1);
    free(saved);
    unsetenv("PYTHON_MPI_CACHE_STATES");
    unsetenv("PYTHON_MPI_CACHE_MAX");
    unsetenv("PYTHON_MPI_ENV_CHECK");
    free(cache);
}

/* A complete state: its bundle and its list naming it. */
static void full_state(const char *name, const char *bundle, time_t when)
{
    char *dir = pm_printf_alloc("env/%s", name), *b = pm_printf_alloc("env/%s/%s", name, bundle);
    char *l = pm_printf_alloc("env/%s/bundles", name), *text = pm_printf_alloc("%s\n", bundle);
    mkd(dir, 0700);
    put(b, 100);
    char *lp = at(l);
    int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    age(dir, when);
    free(lp);
    free(text);
    free(l);
    free(b);
    free(dir);
}

/* A child that reads state (holding its lock) and waits for a byte. */
static pid_t hold_in_child(const char *rel, int *go)
{
    int ready[2], wait_[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(wait_), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(wait_[1]);
        char *p = at(rel), *list = NULL, c;
        pm_err err = PM_ERR_INIT;
        c = pm_envstore_read(p, &list, &err) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1 || read(wait_[0], &c, 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(ready[1]);
    close(wait_[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    close(ready[0]);
    *go = wait_[1];
    return pid;
}

/* PYTHON_MPI_CACHE_MAX is the whole cache's: the oldest states of any
 * environment go first, a state a job holds stays and counts, and each
 * environment's directory stays. */
static void prune_cache_across(void **state_)
{
    (void)state_;
    time_t now = time(NULL);
    state("e1old", 256 << 10, now - 500);
    state("e1new", 256 << 10, now - 100);
    mkd("env2", 0700);
    mkd("env2/e2old", 0700);
    put("env2/e2old/00-venv.ptar", 256 << 10);
    age("env2/e2old", now - 400);
    mkd("env2/e2mid", 0700);
    put("env2/e2mid/00-venv.ptar", 256 << 10);
    age("env2/e2mid", now - 200);
    full_state("held", "00-venv.ptar", now - 1000);   /* the oldest, but in use */
    char *held = at("env/held"), *list = NULL;
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envstore_read(held, &list, &err), 0);
    /* Room for the two newest and the held one (4 KiB on disk), not three. */
    nremoved = 0;
    assert_int_equal(pm_envstore_prune_cache(top, 2 * (256 << 10) + (128 << 10), count_removed, NULL), 2);
    assert_int_equal(nremoved, 2);
    assert_true(there("env/e1new"));
    assert_true(there("env2/e2mid"));
    assert_true(there("env/held/bundles"));
    assert_false(there("env/e1old"));
    assert_false(there("env2/e2old"));
    /* Within the cap now: nothing more goes; a cap of one byte takes all
     * but the held one; the environments' directories stay. */
    assert_int_equal(pm_envstore_prune_cache(top, UINT64_MAX, NULL, NULL), 0);
    assert_int_equal(pm_envstore_prune_cache(top, 1, NULL, NULL), 2);
    assert_true(there("env/held/bundles"));
    assert_true(there("env2"));
    assert_false(there("env/e1new"));
    /* No such cache: nothing, no crash. */
    assert_int_equal(pm_envstore_prune_cache("/nonexistent/dir", 1, NULL, NULL), 0);
    pm_envstore_release();
    free(list);
    free(held);
}

static void prune_skips_held(void **state_)
{
    (void)state_;
    time_t now = time(NULL);
    full_state("s1", "00-venv.ptar", now - 500);
    full_state("s2", "00-venv.ptar", now - 400);   /* another job's */
    full_state("s3", "00-venv.ptar", now - 300);
    full_state("s4", "00-venv.ptar", now - 100);   /* in use by the pruner */
    int go;
    pid_t pid = hold_in_child("env/s2", &go);
    char *envdir = at("env");
    /* A cap of one: s1 and s3 go, s2 is held and stays. */
    assert_int_equal(pm_envstore_prune(envdir, "s4", 1, UINT64_MAX, NULL, NULL), 2);
    assert_true(there("env/s2/bundles"));
    assert_true(there("env/s2/00-venv.ptar"));
    assert_false(there("env/s1"));
    assert_false(there("env/s3"));
    assert_true(there("env/s4"));
    /* The job ends (its lock with it): the next prune takes it. */
    assert_int_equal(write(go, "x", 1), 1);
    close(go);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(pm_envstore_prune(envdir, "s4", 1, UINT64_MAX, NULL, NULL), 1);
    assert_false(there("env/s2"));
    /* Held by this very process (pm_envstore_read), until released. */
    full_state("s5", "00-venv.ptar", now - 1000);
    char *p = at("env/s5"), *list = NULL;
    pm_err err = PM_ERR_INIT;
    assert_int_equal(pm_envstore_read(p, &list, &err), 0);
    age("env/s5", now - 1000);
    assert_int_equal(pm_envstore_prune(envdir, "s4", 1, UINT64_MAX, NULL, NULL), 0);
    assert_true(there("env/s5"));
    pm_envstore_release();
    pm_envstore_release();   /* idempotent */
    assert_int_equal(pm_envstore_prune(envdir, "s4", 1, UINT64_MAX, NULL, NULL), 1);
    assert_false(there("env/s5"));
    free(list);
    free(p);
    free(envdir);
}

/* Is a lock on inode ino waited for ("->" in /proc/locks)? */
static int lock_waited(ino_t ino)
{
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return 0;
    char line[512], want[64];
    snprintf(want, sizeof want, ":%lu ", (unsigned long)ino);
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "->") && strstr(line, want);
    fclose(f);
    return found;
}

/* A prune that wins the race: the reader opened the state, the prune
 * locked it first, renamed it away and a new state of that name came;
 * the reader, once it has the lock, sees the name moved and reads again. */
static void read_rechecks_pruned(void **state_)
{
    (void)state_;
    for (int round = 0; round < 20; round++) {
        time_t now = time(NULL);
        full_state("k", "00-old.ptar", now - 100);
        char *lp = at("env/k/bundles");
        struct stat st;
        assert_int_equal(stat(lp, &st), 0);
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {   /* the prune */
            close(ready[0]);
            int fd = open(lp, O_RDWR | O_CLOEXEC);
            if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "x", 1) != 1)
                _exit(2);
            for (int i = 0; i < 500 && !lock_waited(st.st_ino); i++)
                usleep(10000);   /* the reader now waits for the lock */
            char *k = at("env/k"), *gone = at("env/.tmp-gone-k");
            if (rename(k, gone) != 0 || pm_rmtree(gone, NULL) != 0)
                _exit(3);
            full_state("k", "01-new.ptar", now);
            _exit(0);   /* the lock goes with it */
        }
        close(ready[1]);
        char c;
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        char *p = at("env/k"), *list = NULL;
        pm_err err = PM_ERR_INIT;
        assert_int_equal(pm_envstore_read(p, &list, &err), 0);
        char *want = pm_printf_alloc("%s/01-new.ptar\n", p);
        assert_string_equal(list, want);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        pm_envstore_release();
        /* And one pruned for good: no state, the job makes it. */
        full_state("g", "00-venv.ptar", now);
        char *g = at("env/g"), *gl = at("env/g/bundles");
        assert_int_equal(stat(gl, &st), 0);
        assert_int_equal(pipe(ready), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            int fd = open(gl, O_RDWR | O_CLOEXEC);
            if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "x", 1) != 1)
                _exit(2);
            for (int i = 0; i < 500 && !lock_waited(st.st_ino); i++)
                usleep(10000);
            char *gone = at("env/.tmp-gone-g");
            _exit(rename(g, gone) != 0 || pm_rmtree(gone, NULL) != 0 ? 3 : 0);
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        char *l2 = NULL;
        assert_int_equal(pm_envstore_read(g, &l2, &err), 1);
        assert_null(l2);
        assert_false(err.set);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char *k = at("env/k");
        assert_int_equal(pm_rmtree(k, NULL), 0);
        free(k);
        free(g);
        free(gl);
        free(want);
        free(list);
        free(p);
        free(lp);
    }
}

static void open_creates_nothing_astray(void **state_)
{
    (void)state_;
    pm_envstore s;
    pm_err err = PM_ERR_INIT;
    unsetenv("PYTHON_MPI_CACHE_STATES");
    unsetenv("PYTHON_MPI_CACHE_MAX");
    unsetenv("PYTHON_MPI_ENV_CHECK");
    /* A directory others can write (not sticky): refused before anything
     * is made in it. */
    mkd("shared", 0777);
    char *c1 = at("shared/cache/deeper");
    setenv("PYTHON_MPI_CACHE", c1, 1);
    assert_int_equal(pm_envstore_open(&s, &err), -1);
    assert_non_null(strstr(pm_err_text(&err), "refusing to use the cache"));
    assert_non_null(strstr(pm_err_text(&err), "writable by other users"));
    pm_err_clear(&err);
    pm_envstore_close(&s);
    assert_false(there("shared/cache"));
    /* A link to a missing directory: not followed, nothing made where it
     * leads. */
    mkd("target", 0700);
    char *ln = at("dangling"), *tgt = at("target/cache");
    assert_int_equal(symlink(tgt, ln), 0);
    char *c2 = at("dangling/sub");
    setenv("PYTHON_MPI_CACHE", c2, 1);
    assert_int_equal(pm_envstore_open(&s, &err), -1);
    assert_non_null(strstr(pm_err_text(&err), "is a symbolic link"));
    pm_err_clear(&err);
    pm_envstore_close(&s);
    assert_false(there("target/cache"));
    /* Our own link to a directory that exists: resolved, the rest made
     * there (0700 each), the root the real path. */
    char *ln2 = at("mine"), *real = at("target");
    assert_int_equal(symlink(real, ln2), 0);
    char *c3 = at("mine/a/b");
    setenv("PYTHON_MPI_CACHE", c3, 1);
    assert_int_equal(pm_envstore_open(&s, &err), 0);
    char *want = at("target/a/b");
    assert_string_equal(s.root, want);
    struct stat st;
    assert_int_equal(lstat(want, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_true(there("target/a"));
    pm_envstore_close(&s);
    /* A relative path: from the working directory. */
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(top), 0);
    setenv("PYTHON_MPI_CACHE", "rel/cache", 1);
    assert_int_equal(pm_envstore_open(&s, &err), 0);
    char *want2 = at("rel/cache");
    assert_string_equal(s.root, want2);
    pm_envstore_close(&s);
    assert_int_equal(chdir(cwd), 0);
    unsetenv("PYTHON_MPI_CACHE");
    free(cwd);
    free(want2);
    free(want);
    free(c3);
    free(real);
    free(ln2);
    free(c2);
    free(tgt);
    free(ln);
    free(c1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prune_by_count, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_by_size, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_temporaries, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_cache_across, setup, teardown),
        cmocka_unit_test_setup_teardown(read_good_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(read_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(other_uid_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(dir_ok_and_mkdir, setup, teardown),
        cmocka_unit_test_setup_teardown(write_new_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(open_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_skips_held, setup, teardown),
        cmocka_unit_test_setup_teardown(read_rechecks_pruned, setup, teardown),
        cmocka_unit_test_setup_teardown(open_creates_nothing_astray, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
