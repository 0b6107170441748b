/* test_jobdir.c - node-local directories: naming, the checks that keep a
 * shared /dev/shm safe, run locks and stale reclaim, removal that never
 * leaves the tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp;

static const char *const job_vars[] = {
    "SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "COBALT_JOBID", "FLUX_JOB_ID",
};

static int clear_jobs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof job_vars / sizeof job_vars[0]; i++)
        unsetenv(job_vars[i]);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    pm_log_init("test_jobdir");
    char tmpl[] = "/tmp/test-jobdir.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    tmp = strdup(tmpl);
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clear_jobs(NULL);
    int rc = pm_rmtree(tmp, NULL);
    struct stat st;
    if (rc == 0 && lstat(tmp, &st) == 0)
        rc = -1;
    free(tmp);
    return rc;
}

static char *at(const char *rel)
{
    char *p = pm_path_join(tmp, rel);
    assert_non_null(p);
    return p;
}

static void touch(const char *path, mode_t mode, const char *content)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
    assert_true(fd >= 0);
    if (content)
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(close(fd), 0);
}

static int present(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void userdir_path(void **state)
{
    (void)state;
    char *u = pm_userdir_path("/dev/shm", 1234);
    assert_non_null(u);
    assert_string_equal(u, "/dev/shm/python-mpi-1234");
    free(u);
    u = pm_userdir_path("/scratch/", 0);
    assert_string_equal(u, "/scratch/python-mpi-0");
    free(u);
    u = pm_userdir_path("/tmp", 4294967294u);
    assert_string_equal(u, "/tmp/python-mpi-4294967294");
    free(u);
}

static void job_id_sources(void **state)
{
    (void)state;
    assert_null(pm_batch_job_id());
    setenv("SLURM_JOB_ID", "", 1);            /* empty is none */
    assert_null(pm_batch_job_id());
    setenv("PBS_JOBID", "123.server/x", 1);
    char *id = pm_batch_job_id();
    assert_non_null(id);
    assert_string_equal(id, "123.server_x");
    free(id);
    setenv("SLURM_JOB_ID", "987", 1);         /* Slurm wins */
    id = pm_batch_job_id();
    assert_string_equal(id, "987");
    free(id);
    clear_jobs(NULL);
    setenv("LSB_JOBID", "42[3] x;y", 1);
    id = pm_batch_job_id();
    assert_string_equal(id, "42_3__x_y");
    free(id);
    clear_jobs(NULL);
    setenv("FLUX_JOB_ID", "f2Xy-Z_.9", 1);    /* allowed characters kept */
    id = pm_batch_job_id();
    assert_string_equal(id, "f2Xy-Z_.9");
    free(id);
    clear_jobs(NULL);
    setenv("COBALT_JOBID", "../../etc", 1);
    id = pm_batch_job_id();
    assert_string_equal(id, "_._.._etc");   /* no leading dot */
    assert_null(strchr(id, '/'));
    free(id);
}

/* bcast uses the job id as a directory name under the user directory:
 * "." or ".." must never come back (see the report). */
static void job_id_never_dot_names(void **state)
{
    (void)state;
    const char *ids[] = {".", ".."};
    for (size_t i = 0; i < 2; i++) {
        setenv("SLURM_JOB_ID", ids[i], 1);
        char *id = pm_batch_job_id();
        if (id) {
            assert_string_not_equal(id, ".");
            assert_string_not_equal(id, "..");
        }
        free(id);
    }
}

static void run_name_unique(void **state)
{
    (void)state;
    char *a = pm_run_name(), *b = pm_run_name();
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_null(strchr(a, '/'));
    assert_true(a[0] != '.' && a[0] != '\0');
    /* no job: it starts with the host name and holds the pid */
    char pid[32];
    snprintf(pid, sizeof pid, "-%ld-", (long)getpid());
    assert_non_null(strstr(a, pid));
    const char *node = pm_log_node();
    if (strchr(node, '/') == NULL)
        assert_memory_equal(a, node, strlen(node));
    free(a);
    free(b);
}

static void run_name_has_job_id(void **state)
{
    (void)state;
    setenv("PBS_JOBID", "123.server/x", 1);
    char *a = pm_run_name(), *b = pm_run_name();
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "123.server_x.", 13);
    assert_memory_equal(b, "123.server_x.", 13);
    assert_null(strchr(a, '/'));
    free(a);
    free(b);
    setenv("SLURM_JOB_ID", "555", 1);
    a = pm_run_name();
    assert_memory_equal(a, "555.", 4);
    free(a);
}

static void userdir_created_private(void **state)
{
    (void)state;
    char *u = at("u1");
    mode_t old = umask(0);                    /* a lax umask must not leak in */
    int rc = pm_userdir_ensure(u, NULL);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(lstat(u, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(pm_userdir_ensure(u, NULL), 0);    /* existing and fine */
    free(u);
}

static void userdir_loose_mode_fixed(void **state)
{
    (void)state;
    const mode_t loose[] = {0755, 02700, 0711, 0750};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "loose%zu", i);
        char *u = at(name);
        assert_int_equal(mkdir(u, 0700), 0);
        assert_int_equal(chmod(u, loose[i]), 0);
        assert_int_equal(pm_userdir_ensure(u, NULL), 0);
        struct stat st;
        assert_int_equal(lstat(u, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        free(u);
    }
}

/* Writable by others: anything may have been put in it already, so it is
 * refused rather than fixed (issue 12). */
static void userdir_writable_by_others_refused(void **state)
{
    (void)state;
    const mode_t open_modes[] = {0777, 0770, 0722, 01777};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "open%zu", i);
        char *u = at(name);
        assert_int_equal(mkdir(u, 0700), 0);
        assert_int_equal(chmod(u, open_modes[i]), 0);
        assert_int_equal(pm_userdir_ensure(u, NULL), -1);
        struct stat st;
        assert_int_equal(lstat(u, &st), 0);
        assert_int_equal(st.st_mode & 07777, open_modes[i]);   /* left alone */
        free(u);
    }
}

static void userdir_refuses_symlink(void **state)
{
    (void)state;
    /* Someone planted CHROOT/python-mpi-UID as a link to a directory,
     * even one of ours that looks perfect. */
    char *target = at("victim");
    char *link = at("python-mpi-link");
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(pm_userdir_ensure(link, NULL), -1);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);   /* not chmod'ed through the link */
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));              /* and left alone */
    assert_int_equal(chmod(target, 0700), 0);
    assert_int_equal(pm_userdir_ensure(link, NULL), -1);
    /* a dangling link too: mkdir must not create its target */
    char *dangling = at("python-mpi-dangling");
    char *nowhere = at("nowhere");
    assert_int_equal(symlink(nowhere, dangling), 0);
    assert_int_equal(pm_userdir_ensure(dangling, NULL), -1);
    assert_false(present(nowhere));
    free(target);
    free(link);
    free(dangling);
    free(nowhere);
}

static void userdir_refuses_file_and_missing_parent(void **state)
{
    (void)state;
    char *file = at("python-mpi-file");
    touch(file, 0600, "x");
    assert_int_equal(pm_userdir_ensure(file, NULL), -1);
    struct stat st;
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    char *deep = at("no/such/parent");
    assert_int_equal(pm_userdir_ensure(deep, NULL), -1);
    assert_false(present(deep));
    free(file);
    free(deep);
}

static void userdir_refuses_foreign_owner(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("# SKIP only root can make a directory owned by someone else\n");
        skip();
    }
    char *other = at("foreign");
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(chown(other, 65534, 65534), 0);
    assert_int_equal(pm_userdir_ensure(other, NULL), -1);
    free(other);
}

static void mkdir_private(void **state)
{
    (void)state;
    char *d = at("fresh");
    mode_t old = umask(0);
    int rc = pm_mkdir_private(d, NULL);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(lstat(d, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(pm_mkdir_private(d, NULL), -1);     /* it must not exist yet */
    char *f = at("fresh-file");
    touch(f, 0600, NULL);
    assert_int_equal(pm_mkdir_private(f, NULL), -1);
    char *l = at("fresh-link");
    assert_int_equal(symlink(d, l), 0);
    assert_int_equal(pm_mkdir_private(l, NULL), -1);
    free(d);
    free(f);
    free(l);
}

static void rmtree_stays_inside(void **state)
{
    (void)state;
    char *outfile = at("outside.txt");
    char *outdir = at("outdir");
    char *outinner = at("outdir/keep.txt");
    touch(outfile, 0600, "keep me");
    assert_int_equal(mkdir(outdir, 0700), 0);
    touch(outinner, 0600, "keep me too");

    char *t = at("tree");
    assert_int_equal(mkdir(t, 0700), 0);
    char *a = at("tree/a");
    assert_int_equal(mkdir(a, 0700), 0);
    char *sub = at("tree/a/b");
    assert_int_equal(mkdir(sub, 0755), 0);
    char *ro = at("tree/a/b/ro.txt");
    touch(ro, 0400, "ro");
    char *ro2 = at("tree/ro0.txt");
    touch(ro2, 0, NULL);
    char *ln = at("tree/a/link-file");
    assert_int_equal(symlink(outfile, ln), 0);
    char *lnd = at("tree/a/b/link-dir");
    assert_int_equal(symlink(outdir, lnd), 0);
    char *lnrel = at("tree/up");
    assert_int_equal(symlink("..", lnrel), 0);

    assert_int_equal(pm_rmtree(t, NULL), 0);
    assert_false(present(t));
    /* the links' targets, and what is inside them, survive */
    struct stat st;
    assert_int_equal(lstat(outfile, &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(lstat(outinner, &st), 0);
    assert_int_equal(st.st_size, 11);
    assert_true(present(outdir));
    assert_true(present(tmp));
    /* ENOENT is success, twice */
    assert_int_equal(pm_rmtree(t, NULL), 0);
    char *none = at("never/existed");
    assert_int_equal(pm_rmtree(none, NULL), 0);

    free(outfile); free(outdir); free(outinner); free(t); free(a); free(sub);
    free(ro); free(ro2); free(ln); free(lnd); free(lnrel); free(none);
}

static void rmtree_of_link_or_file(void **state)
{
    (void)state;
    /* a path that is itself a link to a directory: the link goes, not
     * what it points at */
    char *target = at("linked-dir");
    char *inner = at("linked-dir/f");
    char *link = at("link-to-dir");
    assert_int_equal(mkdir(target, 0700), 0);
    touch(inner, 0600, "x");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(pm_rmtree(link, NULL), 0);
    assert_false(present(link));
    assert_true(present(inner));
    char *file = at("lone-file");
    touch(file, 0400, "x");
    assert_int_equal(pm_rmtree(file, NULL), 0);
    assert_false(present(file));
    free(target);
    free(inner);
    free(link);
    free(file);
}

static void run_lock_and_reclaim(void **state)
{
    (void)state;
    char *u = at("ureclaim");
    assert_int_equal(pm_userdir_ensure(u, NULL), 0);
    char *live = pm_path_join(u, "live");
    char *dead = pm_path_join(u, "dead");
    char *dead_lock = pm_path_join(u, "dead.lock");
    int fd = pm_run_lock(live, NULL);
    assert_true(fd >= 0);
    assert_int_equal(pm_mkdir_private(live, NULL), 0);
    /* A dead job: its lock taken by a child that then exited. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int cfd = pm_run_lock(dead, NULL);
        char *f = pm_path_join(dead, "data");
        int ok = cfd >= 0 && pm_mkdir_private(dead, NULL) == 0 && f &&
                 close(open(f, O_CREAT | O_WRONLY, 0600)) == 0;
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(pm_run_lock(live, NULL), -1);          /* a run name is taken once */
    /* Its leader gone, another rank of that run still on the tree (a
     * shared flock on the directory, reaper.h): kept. */
    int user = open(dead, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(user >= 0);
    assert_int_equal(flock(user, LOCK_SH | LOCK_NB), 0);
    assert_int_equal(pm_reclaim_stale(u, NULL, NULL), 0);
    assert_true(present(dead));
    assert_true(present(dead_lock));
    close(user);
    assert_int_equal(pm_reclaim_stale(u, NULL, NULL), 1);
    assert_false(present(dead));
    assert_false(present(dead_lock));
    assert_true(present(live));                       /* held lock: kept */
    pm_run_unlock(live, fd, NULL);
    assert_int_equal(pm_reclaim_stale(u, NULL, NULL), 0);         /* no lock file left: kept */
    assert_true(present(live));
    free(u);
    free(live);
    free(dead);
    free(dead_lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(userdir_path),
        cmocka_unit_test_setup_teardown(job_id_sources, clear_jobs, clear_jobs),
        cmocka_unit_test_setup_teardown(job_id_never_dot_names, clear_jobs, clear_jobs),
        cmocka_unit_test_setup_teardown(run_name_unique, clear_jobs, clear_jobs),
        cmocka_unit_test_setup_teardown(run_name_has_job_id, clear_jobs, clear_jobs),
        cmocka_unit_test(userdir_created_private),
        cmocka_unit_test(userdir_loose_mode_fixed),
        cmocka_unit_test(userdir_writable_by_others_refused),
        cmocka_unit_test(userdir_refuses_symlink),
        cmocka_unit_test(userdir_refuses_file_and_missing_parent),
        cmocka_unit_test(userdir_refuses_foreign_owner),
        cmocka_unit_test(mkdir_private),
        cmocka_unit_test(rmtree_stays_inside),
        cmocka_unit_test(rmtree_of_link_or_file),
        cmocka_unit_test(run_lock_and_reclaim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
