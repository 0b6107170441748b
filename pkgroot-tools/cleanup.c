/* cleanup.c - undoing half-done work when a signal ends pkgroot (see
 * cleanup.h).  Everything the handler calls is async-signal-safe: no
 * malloc, no stdio; the directory walk uses file descriptors and one
 * dirent buffer per level. */
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIG_HANDLED (sizeof signals / sizeof signals[0])
static struct sigaction saved[NSIG_HANDLED];
static int armed;

static const char *volatile reg_file;
static const char *volatile reg_dir;
static volatile pid_t reg_child;

/* A linux_dirent64 as getdents64 returns it (glibc's readdir allocates). */
struct dent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Remove what dirfd/name holds, a directory tree or anything else.  Entries
 * removed while a directory is being read may make getdents skip others,
 * so a directory is read again from the start until a pass removes
 * nothing.  Depth is bounded by the descriptors we may open. */
static int remove_at(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* A read-only directory (some packages install them) must become
     * writable for its entries to go. */
    (void)fchmod(fd, S_IRWXU);
    int rc = 0, removed;
    do {
        removed = 0;
        if (lseek(fd, 0, SEEK_SET) < 0) {
            rc = -1;
            break;
        }
        for (;;) {
            /* 2 KiB: room for several names of up to 255 bytes each. */
            union { struct dent64 d; char bytes[2048]; } buf;
            long n = syscall(SYS_getdents64, fd, buf.bytes, sizeof buf.bytes);
            if (n <= 0) {
                if (n < 0)
                    rc = -1;
                break;
            }
            for (long off = 0; off < n;) {
                struct dent64 *d = (struct dent64 *)(void *)(buf.bytes + off);
                off += d->d_reclen;
                if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                    continue;
                if (remove_at(fd, d->d_name) == 0)
                    removed = 1;
                else
                    rc = -1;
            }
        }
    } while (removed && rc == 0);
    close(fd);
    /* Whatever could not be removed inside makes this fail (ENOTEMPTY). */
    return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int pk_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path);
}

static void handler(int sig)
{
    int saved_errno = errno;
    pid_t child = reg_child;
    if (child > 0) {
        /* Stop it, and what it started (its own process group), writing
         * into the directory before removing that. */
        kill(-child, SIGTERM);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    const char *f = reg_file, *d = reg_dir;
    if (f)
        unlink(f);
    if (d)
        (void)pk_remove_tree(d);
    errno = saved_errno;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void update(void)
{
    int want = reg_file || reg_dir || reg_child > 0;
    if (want && !armed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < NSIG_HANDLED; i++)
            sigaddset(&sa.sa_mask, signals[i]); /* one cleanup at a time */
        for (size_t i = 0; i < NSIG_HANDLED; i++)
            if (sigaction(signals[i], &sa, &saved[i]) != 0)
                saved[i].sa_handler = SIG_DFL; /* restore the default then */
        armed = 1;
    } else if (!want && armed) {
        for (size_t i = 0; i < NSIG_HANDLED; i++)
            (void)sigaction(signals[i], &saved[i], NULL);
        armed = 0;
    }
}

void pk_cleanup_file(const char *path) { reg_file = path; update(); }
void pk_cleanup_dir(const char *path) { reg_dir = path; update(); }
void pk_cleanup_child(pid_t pid) { reg_child = pid; update(); }

static void mask(int how)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NSIG_HANDLED; i++)
        sigaddset(&set, signals[i]);
    (void)sigprocmask(how, &set, NULL);
}

void pk_cleanup_hold(void) { mask(SIG_BLOCK); }
void pk_cleanup_release(void) { mask(SIG_UNBLOCK); }
