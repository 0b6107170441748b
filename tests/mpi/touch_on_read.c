/* touch_on_read.c - fault injection: the bundle changes while rank 0 reads.
 *
 * LD_PRELOADed into rank 0, the second pread() of a file first updates the
 * file's modification time through the same descriptor, exactly as another
 * process rewriting the bundle mid-job would; with TOUCH_ON_READ=truncate it
 * cuts the file to half its size instead (a short read). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

static ssize_t touch_then_read(const char *sym, int fd, void *buf, size_t n, off_t off)
{
    static int calls;
    pread_fn real = (pread_fn)dlsym(RTLD_NEXT, sym);
    if (++calls == 2) {
        const char *mode = getenv("TOUCH_ON_READ");
        struct stat st;
        char link[64], path[4096];
        ssize_t n;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        /* The bundle is open read-only: truncate it by name. */
        if (mode && strcmp(mode, "truncate") == 0 && fstat(fd, &st) == 0 &&
            (n = readlink(link, path, sizeof path - 1)) > 0) {
            path[n] = '\0';
            (void)truncate(path, st.st_size / 2);
        }
        else
            (void)futimens(fd, NULL);
    }
    return real(fd, buf, n, off);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    return touch_then_read("pread", fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    return touch_then_read("pread64", fd, buf, n, off);
}
