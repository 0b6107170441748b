/* reaper.c - the watcher process that cleans up after a dead leader. */
#include "reaper.h"
#include "jobdir.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *pm_self_exe(void)
{
    return pm_readlink("/proc/self/exe");
}

int pm_reaper_start(const char *dir)
{
    char *exe = pm_self_exe();
    if (!exe) {
        pm_error(NULL, "cannot find own executable to start the clean-up watcher");
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        pm_error(NULL, "pipe: %s", strerror(errno));
        free(exe);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid = -1;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    /* Nothing else of ours: a watcher holding the launcher's PMI socket or
     * output pipes open would make it wait for us. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (rc == 0)
        rc = posix_spawnattr_init(&attr);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    if (rc == 0) {
        char *argv[] = {exe, (char *)PM_REAPER_FLAG, (char *)dir, NULL};
        rc = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&fa);
    free(exe);
    close(fds[0]);
    if (rc != 0) {
        pm_error(dir, "cannot start the clean-up watcher: %s", strerror(rc));
        close(fds[1]);
        return -1;
    }
    /* What we spawned forks the watcher and exits at once (see
     * pm_reaper_main): reap it here, so we keep no child of ours.  ECHILD:
     * SIGCHLD ignored (inherited from the launcher), the kernel reaped it. */
    int st = 0;
    pid_t w;
    do
        w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno == ECHILD)
        w = pid;
    if (w != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        pm_error(dir, "cannot start the clean-up watcher: %s",
                 w != pid ? strerror(errno) : "its first stage failed");
        close(fds[1]);
        return -1;
    }
    return fds[1];
}

void pm_reaper_disarm(int fd)
{
    if (fd < 0)
        return;
    ssize_t n;
    do
        n = write(fd, "k", 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        pm_error(NULL, "cannot disarm the clean-up watcher: %s", strerror(errno));
    close(fd);
}

void pm_reaper_main(int argc, char **argv)
{
    pm_log_init("python-mpi-reaper");
    if (argc != 3 || argv[2][0] != '/')
        _exit(2);
    /* The launcher's SIGTERM/SIGINT/SIGHUP is for the job, not for us: we
     * are what makes it end clean. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* Leave the leader's process tree: Slurm's proctrack/linuxproc (and
     * any launcher that kills a task's descendants) would SIGKILL a child
     * of the leader together with it, as after MPI_Abort, and leave the
     * tree behind.  The first stage exits at once (the leader reaps it);
     * the second, an orphan, watches. */
    pid_t k = fork();
    if (k < 0)
        _exit(1);
    if (k > 0)
        _exit(0);
    char c;
    ssize_t n;
    do
        n = read(0, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'k')
        _exit(0);
    int rc = pm_rmtree(argv[2]);
    if (rc == 0)
        pm_run_unlock(argv[2], -1);
    /* Leave the per-user directory if other runs still use it. */
    char *parent = strdup(argv[2]);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent) {
        *slash = '\0';
        (void)rmdir(parent);
    }
    free(parent);
    _exit(rc == 0 ? 0 : 1);
}
