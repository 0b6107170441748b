/* fileio.c - whole reads and writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t pm_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int pm_write_full(int fd, const void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int pm_read_fd(int fd, size_t max, size_t hint, char **data, size_t *len)
{
    if (max > SIZE_MAX / 2)
        max = SIZE_MAX / 2;   /* so cap + 2 never overflows */
    /* Room for one byte more than expected: a read that fills it is not at
     * end-of-file yet. */
    size_t cap = (hint ? hint : 4096) < max ? (hint ? hint : 4096) + 1 : max + 1, got = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            errno = ENOMEM;
            return -1;
        }
        ssize_t n = pm_read_full(fd, buf + got, cap - got);
        if (n < 0) {
            int saved = errno;
            free(buf);
            errno = saved;
            return -1;
        }
        got += (size_t)n;
        if (got > max) {
            free(buf);
            errno = EFBIG;
            return -1;
        }
        if (got < cap)
            break;   /* end-of-file */
        size_t grown = cap > max / 2 ? max + 1 : 2 * cap;
        char *b = realloc(buf, grown + 1);
        if (!b)
            free(buf);
        buf = b;
        cap = grown;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

int pm_open_regular_at(int dir, const char *name, int flags, struct stat *st)
{
    struct stat own;
    if (!st)
        st = &own;
    /* Non-blocking until fstat says what it is: opening a FIFO would wait
     * for a writer, a terminal may become ours. */
    int fd = openat(dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);
    if (fd < 0)
        return -1;
    int fl;
    if (fstat(fd, st) != 0 || (!S_ISREG(st->st_mode) && (errno = EINVAL)) ||
        (!(flags & O_NONBLOCK) && ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int pm_read_file_at(int dir, const char *name, int flags, size_t max, char **data, size_t *len,
                    struct stat *st)
{
    struct stat own;
    if (!st)
        st = &own;
    int fd = pm_open_regular_at(dir, name, flags, st);
    if (fd < 0)
        return -1;
    int rc = -1;
    {
        if ((uintmax_t)st->st_size > max)
            errno = EFBIG;
        else
            rc = pm_read_fd(fd, max, (size_t)st->st_size, data, len);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
