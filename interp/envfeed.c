/* envfeed.c - PYTHON_MPI_ENV's bundles made by pkgroot while rank 0 sends
 * them (see envfeed.h). */
#include "envfeed.h"
#include "jobdir.h"
#include "log.h"
#include "phases.h"
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum job_state { WAITING, RUNNING, MADE, FAILED };

typedef struct job {
    char **argv;
    const char *maker;
    char *path, *tmp, *about, *rmdir_after;
    int fd;
    dev_t dev;
    ino_t ino;
    pid_t pid;
    double t0;   /* when its pkgroot started */
    enum job_state state;
} job;

/* Rank 0's, for the one delivery of this process. */
static job *jobs;
static size_t njobs;

static void job_free(job *j)
{
    for (char **a = j->argv; a && *a; a++)
        free(*a);
    free(j->argv);
    if (j->fd >= 0)
        close(j->fd);
    if (j->rmdir_after)
        (void)pm_rmtree(j->rmdir_after, NULL);
    free(j->rmdir_after);
    free(j->path);
    free(j->tmp);
    free(j->about);
}

int pm_envfeed_add(char **argv, const char *maker, const char *path, int fd, const char *state_tmp,
                   const char *about, char *rmdir_after)
{
    job j = {.argv = argv, .maker = maker, .fd = fd, .rmdir_after = rmdir_after, .state = WAITING,
             .path = strdup(path), .tmp = strdup(state_tmp), .about = strdup(about)};
    struct stat st;
    job *more = NULL;
    if (!j.path || !j.tmp || !j.about || !(more = realloc(jobs, (njobs + 1) * sizeof *jobs))) {
        pm_error(path, "out of memory");
        job_free(&j);
        return -1;
    }
    jobs = more;
    if (fstat(fd, &st) != 0) {
        pm_error(path, "PYTHON_MPI_CACHE: %s", strerror(errno));
        job_free(&j);
        return -1;
    }
    j.dev = st.st_dev;
    j.ino = st.st_ino;
    jobs[njobs++] = j;
    return 0;
}

/* The job of the file at path (the delivery's list names it by its
 * resolved path: compared by device and inode), or NULL. */
static job *by_path(const char *path)
{
    struct stat st;
    if (njobs == 0 || stat(path, &st) != 0)
        return NULL;
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].dev == st.st_dev && jobs[i].ino == st.st_ino)
            return &jobs[i];
    return NULL;
}

static int feed_fed(void *ctx, const char *path)
{
    (void)ctx;
    return by_path(path) != NULL;
}

static int feed_start(void *ctx, const char *path, int *fd)
{
    (void)ctx;
    job *j = by_path(path);
    if (!j)
        return 0;
    if (j->state != WAITING) {
        pm_error(path, "PYTHON_MPI_ENV: the same bundle twice in one delivery");
        return -1;
    }
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        pm_error(path, "PYTHON_MPI_ENV: out of memory");
        return -1;
    }
    /* The bundle's file is pkgroot's descriptor 3 (ours is above 3:
     * pm_envfeed_add's caller made it so), stdin /dev/null (the job's
     * input is the program's), nothing else of ours: neither the
     * launcher's PMI socket and output pipes that MPI left open without
     * FD_CLOEXEC (for pkgroot and whatever it runs to hold), nor another
     * bundle's file (reaper.h). */
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, j->fd, 3);
    if (rc == 0)
        rc = pm_spawn_close_from(&fa, 4);
    if (rc == 0)
        rc = posix_spawn(&j->pid, j->argv[0], &fa, NULL, j->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pm_error(j->argv[0], "PYTHON_MPI_ENV: cannot start: %s", strerror(rc));
        j->state = FAILED;
        return -1;
    }
    j->state = RUNNING;
    j->t0 = pm_now();
    pm_info(1, "PYTHON_MPI_ENV: making %s (pkgroot %s of %s, sent as it is written)", path, j->maker, j->about);
    *fd = j->fd;
    return 1;
}

/* Reap j's pkgroot (hang: wait for it): 0 running, 1 made, -1 failed
 * (said why). */
static int reap(job *j, int hang)
{
    int status;
    pid_t got;
    while ((got = waitpid(j->pid, &status, hang ? 0 : WNOHANG)) < 0 && errno == EINTR)
        ;
    if (got == 0)
        return 0;
    if (got < 0) {
        pm_error(j->argv[0], "PYTHON_MPI_ENV: waitpid: %s", strerror(errno));
        j->state = FAILED;
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        j->state = MADE;
        pm_info(1, "PYTHON_MPI_ENV: %s made in %.3f s", j->path, pm_now() - j->t0);
        if (j->rmdir_after && pm_rmtree(j->rmdir_after, NULL) == 0) {
            free(j->rmdir_after);
            j->rmdir_after = NULL;
        }
        return 1;
    }
    j->state = FAILED;
    if (WIFEXITED(status))
        pm_error(j->about, "PYTHON_MPI_ENV: pkgroot %s failed (exit %d)", j->maker, WEXITSTATUS(status));
    else if (!hang)   /* hang: we stopped it */
        pm_error(j->about, "PYTHON_MPI_ENV: pkgroot %s killed by signal %d", j->maker, WTERMSIG(status));
    return -1;
}

static int feed_poll(void *ctx, int fd, int *done)
{
    (void)ctx;
    *done = 0;
    for (size_t i = 0; i < njobs; i++) {
        job *j = &jobs[i];
        if (j->fd != fd)
            continue;
        int r = j->state == MADE ? 1 : j->state == RUNNING ? reap(j, 0) : -1;
        *done = r == 1;
        return r < 0 ? -1 : 0;
    }
    pm_error(NULL, "PYTHON_MPI_ENV: internal error: polled a bundle that is not being made");
    return -1;
}

static const pm_feed feed = {feed_start, feed_fed, feed_poll, NULL};

const pm_feed *pm_envfeed(void)
{
    return njobs ? &feed : NULL;
}

int pm_envfeed_finish(const char *state_tmp)
{
    int whole = 1;
    size_t kept = 0;
    for (size_t i = 0; i < njobs; i++) {
        job *j = &jobs[i];
        if (strcmp(j->tmp, state_tmp) != 0) {
            jobs[kept++] = *j;
            continue;
        }
        if (j->state == RUNNING && kill(j->pid, SIGTERM) == 0) {
            /* A stopped pkgroot (SIGSTOP, a debugger) would keep its
             * SIGTERM pending, and us waiting for it forever. */
            (void)kill(j->pid, SIGCONT);
            (void)reap(j, 1);
        } else if (j->state == RUNNING) {
            (void)reap(j, 0);
        }
        whole &= j->state == MADE;
        job_free(j);
    }
    njobs = kept;
    if (!njobs) {
        free(jobs);
        jobs = NULL;
    }
    return whole;
}
