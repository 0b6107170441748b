/* scan.c - searching a byte stream for a string (see scan.h). */
#include "scan.h"
#include "fileio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pk_scan_init(pk_scan *s, const char *needle)
{
    memset(s, 0, sizeof *s);
    s->needle = needle;
    s->nlen = strlen(needle);
    /* The kept tail plus as many new bytes: every match that straddles a
     * chunk boundary fits in it. */
    s->tail = malloc(s->nlen > 1 ? 2 * (s->nlen - 1) : 1);
    return s->tail ? 0 : -1;
}

void pk_scan_reset(pk_scan *s)
{
    s->ntail = 0;
    s->found = 0;
    s->has_nul = 0;
}

void pk_scan_feed(pk_scan *s, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    if (!s->has_nul && memchr(p, '\0', n))
        s->has_nul = 1;
    if (s->found || s->nlen == 0 || n == 0)
        return;
    size_t keep = s->nlen - 1;
    if (s->ntail > 0) {
        /* A match that starts in the tail and ends in this chunk. */
        size_t head = n < keep ? n : keep;
        memcpy(s->tail + s->ntail, p, head);
        if (memmem(s->tail, s->ntail + head, s->needle, s->nlen)) {
            s->found = 1;
            return;
        }
    }
    if (memmem(p, n, s->needle, s->nlen)) {
        s->found = 1;
        return;
    }
    if (keep == 0)
        return;
    if (n >= keep) {
        memcpy(s->tail, p + n - keep, keep);
        s->ntail = keep;
    } else {
        /* Old tail bytes, then all of this short chunk, at most keep
         * (the buffer holds 2 * keep: ntail <= keep and n < keep). */
        memcpy(s->tail + s->ntail, p, n);
        size_t total = s->ntail + n, drop = total > keep ? total - keep : 0;
        memmove(s->tail, s->tail + drop, total - drop);
        s->ntail = total - drop;
    }
}

void pk_scan_free(pk_scan *s)
{
    free(s->tail);
    s->tail = NULL;
}

int pk_scan_file(const char *path, const char *needle, int *found, int *has_nul)
{
    pk_scan s;
    if (pk_scan_init(&s, needle) != 0) {
        pm_error(path, "out of memory");
        return -1;
    }
    int fd = pm_open_regular_at(AT_FDCWD, path, 0, NULL);   /* never a FIFO */
    if (fd < 0) {
        pm_error(path, "cannot open: %s", strerror(errno));
        pk_scan_free(&s);
        return -1;
    }
    int rc = 0;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = pm_read_full(fd, buf, sizeof buf);
        if (n < 0) {
            pm_error(path, "read failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        pk_scan_feed(&s, buf, (size_t)n);
    }
    close(fd);
    *found = s.found;
    *has_nul = s.has_nul;
    pk_scan_free(&s);
    return rc;
}
