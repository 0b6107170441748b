/* fileio.h - whole reads and writes: the loops every caller would
 * otherwise write again (EINTR retried, short transfers continued, a
 * size limit, a whole file read into memory). */
#ifndef PM_FILEIO_H
#define PM_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Read len bytes, stopping early only at end-of-file.  Returns the number
 * read (less than len: end-of-file came first), or -1 with errno set
 * (what was read before is lost to the caller). */
ssize_t pm_read_full(int fd, void *buf, size_t len);

/* Write all len bytes.  0, or -1 with errno set (EIO if the kernel wrote
 * nothing without an error). */
int pm_write_full(int fd, const void *buf, size_t len);

/* Everything fd gives until end-of-file, at most max bytes.  hint: the
 * size expected (0 if unknown), so a file of that size is read into one
 * allocation.  0 with *data malloc'd (a NUL after its *len bytes, not
 * counted), or -1 with errno set (EFBIG: more than max bytes; ENOMEM) and
 * *data untouched. */
int pm_read_fd(int fd, size_t max, size_t hint, char **data, size_t *len);

/* Open the regular file name (relative to dir, or AT_FDCWD) for reading:
 * O_RDONLY | O_NOCTTY | O_CLOEXEC | flags, never blocking on a FIFO or a
 * device (opened O_NONBLOCK, cleared again unless flags has it).  The
 * descriptor with *st its fstat (st may be NULL), or -1 with errno set:
 * open's, EINVAL (not a regular file). */
int pm_open_regular_at(int dir, const char *name, int flags, struct stat *st);

/* The whole regular file name (relative to the directory descriptor dir,
 * or AT_FDCWD), at most max bytes.  Opened O_RDONLY | O_CLOEXEC | flags:
 * flags O_NOFOLLOW refuses a symbolic link (ELOOP).  0 with *data and
 * *len as pm_read_fd's and, if st is not NULL, *st the file's fstat; or
 * -1 with errno set: open's or read's, EINVAL (not a regular file), EFBIG
 * (more than max bytes), ENOMEM. */
int pm_read_file_at(int dir, const char *name, int flags, size_t max, char **data, size_t *len,
                    struct stat *st);

#endif
