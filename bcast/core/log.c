/* log.c - the one place that formats user-visible diagnostics. */
#include "log.h"

#include <errno.h>
#include <stdint.h>
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

/* Length of the valid UTF-8 sequence at p (at most n bytes) that is not a
 * C1 control (U+0080..U+009F, which terminals obey like ESC); 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    if (p[0] < 0xe0) {
        len = 2, cp = p[0] & 0x1f, min = 0x80;
    } else if (p[0] < 0xf0) {
        len = 3, cp = p[0] & 0x0f, min = 0x800;
    } else {
        len = 4, cp = p[0] & 0x07, min = 0x10000;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
        return 0;
    return len;
}

size_t pm_log_escape(char *out, size_t cap, const char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        char esc[4];
        size_t elen = 0, take = 1;
        size_t u = p[i] >= 0x80 ? utf8_len(p + i, n - i) : 0;
        if (u) {
            take = u;
        } else if (p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
            esc[0] = '\\';
            esc[1] = p[i] == '\n' ? 'n' : p[i] == '\t' ? 't' : 'r';
            elen = 2;
        } else if (p[i] < 0x20 || p[i] >= 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[p[i] >> 4];
            esc[3] = hex[p[i] & 15];
            elen = 4;
        }
        size_t w = elen ? elen : take;
        if (o + w >= cap)   /* whole characters only, and room for the NUL */
            break;
        memcpy(out + o, elen ? esc : (const char *)p + i, w);
        o += w;
        i += take;
    }
    out[o] = '\0';
    return o;
}

/* Prefix, then the formatted text escaped (pm_log_escape), then one
 * newline, written with one call so that lines of different ranks do not
 * interleave mid-line. */
__attribute__((format(printf, 3, 0)))
static void emit(const char *prefix, const char *file, const char *fmt, va_list ap)
{
    char raw[1024];
    char line[1024 + 4 * sizeof raw];
    size_t n = 0;
    int m = snprintf(line, 1024, "%s", prefix);
    if (m > 0)
        n = (size_t)m < 1024 ? (size_t)m : 1023;
    if (file) {
        /* A file name may come from a bundle or a user: escaped too. */
        n += pm_log_escape(line + n, sizeof line - n - 1, file, strlen(file));
        if (n + 2 < sizeof line - 1) {
            line[n++] = ':';
            line[n++] = ' ';
        }
    }
    m = vsnprintf(raw, sizeof raw, fmt, ap);
    if (m > 0)
        n += pm_log_escape(line + n, sizeof line - n - 1, raw,
                           (size_t)m < sizeof raw ? (size_t)m : sizeof raw - 1);
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}

void pm_verror(const char *file, const char *fmt, va_list ap)
{
    char prefix[512];
    if (log_rank >= 0)
        snprintf(prefix, sizeof prefix, "%s: rank %d on %s: ", log_prog, log_rank, pm_log_node());
    else
        snprintf(prefix, sizeof prefix, "%s: rank ? on %s: ", log_prog, pm_log_node());
    emit(prefix, file, fmt, ap);
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
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: rank %d on %s: ", log_prog, log_rank, pm_log_node());
    va_list ap;
    va_start(ap, fmt);
    emit(prefix, NULL, fmt, ap);
    va_end(ap);
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
