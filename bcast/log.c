/* log.c - the one place that formats user-visible diagnostics. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

static const char *log_prog = "python-mpi";
static int log_rank = -1;
static int log_verbose;
static char *log_node;

const char *pm_log_prog(void)
{
    return log_prog;
}

void pm_log_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');
    log_prog = slash ? slash + 1 : prog;
}

void pm_log_set_rank(int rank) { log_rank = rank; }
int pm_log_rank(void) { return log_rank; }
void pm_log_set_verbose(int level) { log_verbose = level; }
int pm_log_verbose(void) { return log_verbose; }

const char *pm_log_node(void)
{
    if (log_node)
        return log_node;
    /* HOST_NAME_MAX is 64 on Linux but not promised elsewhere: grow. */
    for (size_t cap = 64; cap <= 65536; cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            break;
        if (gethostname(buf, cap) == 0 && memchr(buf, '\0', cap)) {
            log_node = buf;
            return log_node;
        }
        free(buf);
    }
    return "?";
}

void pm_verror(const char *file, const char *fmt, va_list ap)
{
    /* Build the line in one buffer and write it with one call so lines of
     * different ranks do not interleave mid-line. */
    char line[1024];
    int n;
    if (log_rank >= 0)
        n = snprintf(line, sizeof line, "%s: rank %d on %s: ", log_prog, log_rank, pm_log_node());
    else
        n = snprintf(line, sizeof line, "%s: rank ? on %s: ", log_prog, pm_log_node());
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    if (file) {
        int m = snprintf(line + n, sizeof line - (size_t)n, "%s: ", file);
        if (m > 0)
            n = (size_t)(n + m) < sizeof line ? n + m : (int)sizeof line - 1;
    }
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m > 0)
        n = (size_t)(n + m) < sizeof line ? n + m : (int)sizeof line - 1;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2; /* truncated: still end the line */
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

void pm_error(const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pm_verror(file, fmt, ap);
    va_end(ap);
}

void pm_info(int level, const char *fmt, ...)
{
    if (log_verbose < level)
        return;
    if (level <= 1 && log_rank > 0)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: rank %d on %s: ", log_prog, log_rank, pm_log_node());
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0)
        n = (size_t)(n + m) < sizeof line ? n + m : (int)sizeof line - 1;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

/* Bytes written to fd that its reader has not taken yet; 0 when fd is
 * neither a pipe nor a socket, or the system cannot tell. */
static int unread_bytes(int fd)
{
    struct stat st;
    int n = 0;
    if (fstat(fd, &st) != 0)
        return 0;
    if (S_ISFIFO(st.st_mode)) {
        if (ioctl(fd, FIONREAD, &n) != 0)
            return 0;
    }
#ifdef SIOCOUTQ
    else if (S_ISSOCK(st.st_mode)) {
        if (ioctl(fd, SIOCOUTQ, &n) != 0)
            return 0;
    }
#endif
    return n > 0 ? n : 0;
}

int pm_log_drain(int fd, double max_seconds)
{
    const struct timespec step = {0, 5 * 1000 * 1000};
    for (double waited = 0; unread_bytes(fd) > 0; waited += 0.005) {
        if (waited >= max_seconds)
            return 1;
        if (nanosleep(&step, NULL) != 0 && errno != EINTR)
            return 1;
    }
    return 0;
}
