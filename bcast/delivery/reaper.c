/* reaper.c - the watcher process that cleans up after a dead leader. */
#include "reaper.h"
#include "jobdir.h"
#include "log.h"
#include "say.h"
#include "pm_config.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define HEADER "python-mpi-reaper 1 "
#define MAX_HEADER 4096

int pm_reaper_force_fallback;   /* tests: see reaper.h */

char *pm_self_exe(void)
{
    return pm_readlink("/proc/self/exe");
}

/* Split CHROOT/python-mpi-EUID/NAME: *chroot malloc'd, *name into dir.
 * 0, or -1 if dir is not of that form. */
static int split_tree(const char *dir, char **chroot, const char **name)
{
    char *leaf = pm_printf_alloc("/python-mpi-%lu/", (unsigned long)geteuid());
    const char *slash = strrchr(dir, '/');
    int rc = -1;
    *chroot = NULL;
    if (leaf && slash && slash[1] && slash[1] != '.') {
        size_t ll = strlen(leaf);
        size_t head = (size_t)(slash + 1 - dir);
        if (head >= ll + 1 && strncmp(slash + 1 - ll, leaf, ll) == 0) {
            *chroot = strndup(dir, head - ll == 0 ? 1 : head - ll);
            *name = slash + 1;
            rc = *chroot ? 0 : -1;
        }
    }
    free(leaf);
    return rc;
}

int pm_reaper_can_watch(const char *dir)
{
    char *chroot;
    const char *name;
    int ok = split_tree(dir, &chroot, &name) == 0;
    free(chroot);
    return ok;
}

/* Add a close action for fd, if it is open and would survive the exec. */
static int close_one(posix_spawn_file_actions_t *fa, int fd)
{
    int fl = fcntl(fd, F_GETFD);
    return fl < 0 || (fl & FD_CLOEXEC) ? 0 : posix_spawn_file_actions_addclose(fa, fd);
}

/* posix_spawn_file_actions_addclosefrom_np(fa, low) for a C library
 * without it (glibc < 2.34, RHEL 8): a close action for each descriptor
 * open now, as /proc/self/fd lists them, or without /proc (forced: 2) for
 * each number below RLIMIT_NOFILE.  Still posix_spawn, so the C library
 * does the closing in the child, which shares no pages copy-on-write with
 * us and runs no code of ours.  Not closed, unlike with closefrom: what
 * another thread opens without O_CLOEXEC between this list and the spawn
 * (made during the start, so not the launcher's), and descriptors at or
 * above a lowered RLIMIT_NOFILE, which posix_spawn cannot name (EBADF). */
static int close_each_from(posix_spawn_file_actions_t *fa, int low)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return errno;
    long top = rl.rlim_cur > INT_MAX ? INT_MAX : (long)rl.rlim_cur;
    DIR *d = pm_reaper_force_fallback == 2 ? NULL : opendir("/proc/self/fd");
    int rc = 0;
    if (d) {
        while (rc == 0) {
            errno = 0;
            struct dirent *e = readdir(d);
            if (!e) {
                rc = errno;   /* 0 at the end */
                break;
            }
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && !*end && !errno && fd >= low &&
                fd < top && fd != dirfd(d))
                rc = close_one(fa, (int)fd);
        }
        closedir(d);
        return rc;
    }
    for (long fd = low; rc == 0 && fd < top; fd++)
        rc = close_one(fa, (int)fd);
    return rc;
}

/* glibc 2.34's posix_spawn_file_actions_addclosefrom_np, looked up when
 * the program runs rather than linked: the binaries need nothing newer than
 * glibc 2.28 (make check: tests/portability/), and one built on an old
 * system still uses it where the C library has it. */
typedef int closefrom_fn(posix_spawn_file_actions_t *, int);

static closefrom_fn *find_closefrom(void)
{
#if PM_FORCED_FALLBACKS
    return NULL;
#else
    void *f = dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np");
    closefrom_fn *fn;
    memcpy(&fn, &f, sizeof fn);   /* ISO C has no object-to-function cast */
    return fn;
#endif
}

int pm_reaper_has_closefrom(void)
{
    return find_closefrom() != NULL;
}

int pm_spawn_close_from(posix_spawn_file_actions_t *fa, int low)
{
    closefrom_fn *fn = pm_reaper_force_fallback ? NULL : find_closefrom();
    return fn ? fn(fa, low) : close_each_from(fa, low);
}

int pm_reaper_start(const char *dir, int made_userdir)
{
    char *chroot;
    const char *name;
    if (split_tree(dir, &chroot, &name) != 0) {
        pm_error(dir, "cannot start the clean-up watcher: not a run directory");
        return -1;
    }
    int rootfd = pm_trust_open_say(chroot, PM_TRUST_CONTAINER, NULL);
    free(chroot);
    if (rootfd < 0)
        return -1;
    char *header = pm_printf_alloc(HEADER "%d %s\n", made_userdir ? 1 : 0, name);
    char *exe = pm_self_exe();
    if (!exe || !header || strlen(header) > MAX_HEADER) {
        pm_error(NULL, "cannot start the clean-up watcher: %s", exe ? "out of memory" : "cannot find own executable");
        free(exe);
        free(header);
        close(rootfd);
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        pm_error(NULL, "pipe: %s", strerror(errno));
        free(exe);
        free(header);
        close(rootfd);
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
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, rootfd, 3);
    /* Nothing else of ours: a watcher holding the launcher's PMI socket or
     * output pipes open would make it wait for us. */
    if (rc == 0)
        rc = pm_spawn_close_from(&fa, 4);
    if (rc == 0)
        rc = posix_spawnattr_init(&attr);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    if (rc == 0) {
        char *argv[] = {exe, (char *)PM_REAPER_FLAG, NULL};
        rc = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&fa);
    free(exe);
    close(fds[0]);
    close(rootfd);
    /* What we spawned forks the watcher and exits at once (see
     * pm_reaper_main): reap it here, so we keep no child of ours.  ECHILD:
     * SIGCHLD ignored (inherited from the launcher), the kernel reaped it. */
    int st = 0;
    pid_t w = -1;
    if (rc == 0) {
        do
            w = waitpid(pid, &st, 0);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno == ECHILD) {
            w = pid;
            st = 0;
        }
    }
    /* One write of less than PIPE_BUF bytes: the watcher reads it whole. */
    ssize_t n = -1;
    if (rc == 0 && w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        do
            n = write(fds[1], header, strlen(header));
        while (n < 0 && errno == EINTR);
    }
    if (n != (ssize_t)strlen(header)) {
        pm_error(dir, "cannot start the clean-up watcher: %s",
                 rc ? strerror(rc) : w != pid ? strerror(errno) : n < 0 && errno ? strerror(errno)
                                                                : "its first stage failed");
        free(header);
        close(fds[1]);
        return -1;
    }
    free(header);
    return fds[1];
}

int pm_reaper_hold(int dirfd)
{
    int held = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (held < 0)
        return -1;
    if (flock(held, LOCK_SH | LOCK_NB) != 0) {
        int e = errno;
        close(held);
        errno = e;
        return -1;
    }
    return 0;   /* held: released by the kernel when the last holder ends */
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

_Noreturn static void refuse(const char *why)
{
    pm_error(NULL, "%s: refusing to act: %s", PM_REAPER_FLAG, why);
    _exit(2);
}

/* Was fd 0 handed to us by our parent, which runs this very executable and
 * holds the pipe's other end?  Anybody can run `python-mpi
 * --python-mpi-reaper`; only python-mpi and bcast start it like this. */
static int started_by_parent(const struct stat *pipe_st)
{
    pid_t ppid = getppid();
    char *exe = pm_printf_alloc("/proc/%ld/exe", (long)ppid);
    char *fddir = pm_printf_alloc("/proc/%ld/fd", (long)ppid);
    struct stat a, b;
    int ok = exe && fddir && ppid > 1 && stat(exe, &a) == 0 && stat("/proc/self/exe", &b) == 0 &&
             a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    DIR *d = ok ? opendir(fddir) : NULL;
    int holds = 0;
    for (struct dirent *e; d && !holds && (e = readdir(d));) {
        struct stat f;
        if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &f, 0) == 0)
            holds = S_ISFIFO(f.st_mode) && f.st_dev == pipe_st->st_dev && f.st_ino == pipe_st->st_ino;
    }
    if (d)
        closedir(d);
    free(exe);
    free(fddir);
    return holds;
}

/* The first line on the pipe; NULL at end-of-file first. */
static char *read_header(void)
{
    char *line = malloc(MAX_HEADER + 1);
    size_t n = 0;
    while (line && n < MAX_HEADER) {
        ssize_t r = read(0, line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (line[n] == '\n') {
            line[n] = '\0';
            return line;
        }
        n++;
    }
    free(line);
    return NULL;
}

void pm_reaper_main(int argc, char **argv)
{
    (void)argv;
    pm_log_init("python-mpi-reaper");
    struct stat st, root;
    if (argc != 2)
        refuse("unexpected arguments (no path is ever given on the command line)");
    if (fstat(0, &st) != 0 || !S_ISFIFO(st.st_mode) || !started_by_parent(&st))
        refuse("not started by python-mpi or bcast");
    if (fstat(3, &root) != 0 || !S_ISDIR(root.st_mode))
        refuse("no chroot directory on fd 3");
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
    char *header = read_header();
    if (!header)
        _exit(0);   /* the leader went before it told us anything */
    int made = -1, off = 0;
    if (strncmp(header, HEADER, strlen(HEADER)) != 0 ||
        sscanf(header + strlen(HEADER), "%d %n", &made, &off) != 1 || (made != 0 && made != 1))
        refuse("malformed request on the pipe");
    const char *name = header + strlen(HEADER) + off;
    if (!*name || name[0] == '.' || strchr(name, '/'))
        refuse("the run name is not one plain component");
    char *userleaf = pm_printf_alloc("python-mpi-%lu", (unsigned long)geteuid());
    int user = userleaf ? openat(3, userleaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    struct stat ust;
    if (user < 0 || fstat(user, &ust) != 0 || ust.st_uid != geteuid() || (ust.st_mode & 077))
        refuse("the per-user directory is missing, not ours or not private");
    char c;
    ssize_t n;
    do
        n = read(0, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'k')
        _exit(0);
    /* Not from under the node's other ranks: they hold it shared
     * (pm_reaper_hold) until they end, however they end. */
    int tree = openat(user, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tree >= 0 && flock(tree, LOCK_EX | LOCK_NB) != 0) {
        /* They may run long (what a rank forked): not holding the
         * launcher's stderr meanwhile, which it may wait on to end the
         * job.  A failure to remove is then not said. */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            (void)dup2(null, 2);
            close(null);
        }
        while (flock(tree, LOCK_EX) != 0 && errno == EINTR)
            ;
    }
    pm_err err = PM_ERR_INIT;
    int rc = pm_rmtree_at(user, name, name, &err);
    pm_err_print(&err);
    if (tree >= 0)
        close(tree);
    if (rc == 0) {
        char *lock = pm_printf_alloc("%s.lock", name);
        if (lock)
            (void)unlinkat(user, lock, 0);
        free(lock);
        /* Only a per-user directory this run made, and only if no other
         * run of ours still uses it (ENOTEMPTY). */
        if (made)
            (void)unlinkat(3, userleaf, AT_REMOVEDIR);
    }
    _exit(rc == 0 ? 0 : 1);
}
