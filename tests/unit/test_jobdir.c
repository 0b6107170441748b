/* test_jobdir.c - node-local directories: naming, the checks that keep a
 * shared /dev/shm safe, run locks and stale reclaim, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test-jobdir.XXXXXX";
    tmp = strdup(mkdtemp(tmpl));
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = pm_rmtree(tmp);
    free(tmp);
    return rc;
}

static char *at(const char *rel)
{
    char *p = pm_path_join(tmp, rel);
    assert_non_null(p);
    return p;
}

static void names(void **state)
{
    (void)state;
    char *u = pm_userdir_path("/dev/shm", 1234);
    assert_string_equal(u, "/dev/shm/python-mpi-1234");
    free(u);
    unsetenv("SLURM_JOB_ID");
    unsetenv("PBS_JOBID");
    unsetenv("LSB_JOBID");
    unsetenv("COBALT_JOBID");
    unsetenv("FLUX_JOB_ID");
    assert_null(pm_batch_job_id());
    setenv("PBS_JOBID", "123.server/x", 1);
    char *id = pm_batch_job_id();
    assert_string_equal(id, "123.server_x");
    free(id);
    setenv("SLURM_JOB_ID", "987", 1);
    id = pm_batch_job_id();
    assert_string_equal(id, "987");   /* Slurm wins */
    free(id);
    char *a = pm_run_name(), *b = pm_run_name();
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "987.", 4);
    assert_null(strchr(a, '/'));
    free(a);
    free(b);
    unsetenv("SLURM_JOB_ID");
    unsetenv("PBS_JOBID");
}

static void userdir_created_private(void **state)
{
    (void)state;
    char *u = at("u1");
    assert_int_equal(pm_userdir_ensure(u), 0);
    struct stat st;
    assert_int_equal(lstat(u, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    /* An existing directory of ours with loose permissions is tightened. */
    assert_int_equal(chmod(u, 0755), 0);
    assert_int_equal(pm_userdir_ensure(u), 0);
    assert_int_equal(lstat(u, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    free(u);
}

static void userdir_refuses_symlink_and_file(void **state)
{
    (void)state;
    char *target = at("victim");
    char *link = at("u2");
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(pm_userdir_ensure(link), -1);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);   /* not chmod'ed through the link */
    char *file = at("u3");
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(pm_userdir_ensure(file), -1);
    if (geteuid() == 0) {
        char *other = at("u4");
        assert_int_equal(mkdir(other, 0700), 0);
        assert_int_equal(chown(other, 65534, 65534), 0);
        assert_int_equal(pm_userdir_ensure(other), -1);
        free(other);
    }
    free(target);
    free(link);
    free(file);
}

static void mkdir_private_refuses_existing(void **state)
{
    (void)state;
    char *d = at("fresh");
    assert_int_equal(pm_mkdir_private(d), 0);
    assert_int_equal(pm_mkdir_private(d), -1);
    free(d);
}

static void rmtree_stays_inside(void **state)
{
    (void)state;
    char *outside = at("outside.txt");
    int fd = open(outside, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    char *t = at("tree");
    char *sub = at("tree/a/b");
    char *ro = at("tree/a/b/ro.txt");
    char *ln = at("tree/a/link");
    assert_int_equal(mkdir(t, 0700), 0);
    char *a = at("tree/a");
    assert_int_equal(mkdir(a, 0700), 0);
    free(a);
    assert_int_equal(mkdir(sub, 0700), 0);
    fd = open(ro, O_CREAT | O_WRONLY, 0400);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(outside, ln), 0);
    assert_int_equal(pm_rmtree(t), 0);
    struct stat st;
    assert_int_equal(lstat(t, &st), -1);
    assert_int_equal(lstat(outside, &st), 0);   /* the link's target survives */
    assert_int_equal(pm_rmtree(t), 0);          /* ENOENT is success */
    free(outside);
    free(t);
    free(sub);
    free(ro);
    free(ln);
}

static void run_lock_and_reclaim(void **state)
{
    (void)state;
    char *u = at("ureclaim");
    assert_int_equal(pm_userdir_ensure(u), 0);
    char *live = pm_path_join(u, "live");
    char *dead = pm_path_join(u, "dead");
    int fd = pm_run_lock(live);
    assert_true(fd >= 0);
    assert_int_equal(pm_mkdir_private(live), 0);
    /* A dead job: its lock taken by a child that then exited. */
    pid_t pid = fork();
    if (pid == 0) {
        int cfd = pm_run_lock(dead);
        _exit(cfd >= 0 && pm_mkdir_private(dead) == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(pm_run_lock(live), -1);          /* a run name is taken once */
    assert_int_equal(pm_reclaim_stale(u), 1);
    struct stat st;
    assert_int_equal(lstat(dead, &st), -1);
    assert_int_equal(lstat(live, &st), 0);            /* held lock: kept */
    pm_run_unlock(live, fd);
    assert_int_equal(pm_reclaim_stale(u), 0);         /* no lock file left: kept */
    assert_int_equal(lstat(live, &st), 0);
    free(u);
    free(live);
    free(dead);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(userdir_created_private),
        cmocka_unit_test(userdir_refuses_symlink_and_file),
        cmocka_unit_test(mkdir_private_refuses_existing),
        cmocka_unit_test(rmtree_stays_inside),
        cmocka_unit_test(run_lock_and_reclaim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
