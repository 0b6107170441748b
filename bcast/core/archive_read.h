/* archive_read.h - reading what a user hands us: a bundle or a list file
 * is opened without blocking and only if it is a regular file nobody else
 * could have put there (pm_input_open), and a bundle is read by a libarchive
 * reader that can run no program (pm_archive_reader).
 *
 * libarchive's filter_all would also enable its "program" filters (lrzip,
 * lzop, grzip, and gzip/zstd/lz4... when not linked in): a bundle starting
 * with their magic makes libarchive run that program found on PATH, which
 * an earlier bundle may have filled (activate.sh puts PREFIX/bin first). */
#ifndef PM_ARCHIVE_READ_H
#define PM_ARCHIVE_READ_H

#include <sys/stat.h>

#include "err.h"

struct archive;

/* The compressions a bundle (or a part) may use: README. */
#define PM_ARCHIVE_FILTERS "none, gzip, bzip2, xz, zstd, lz4"

/* Enable on a the filters above that libarchive has built in, and no
 * other: ARCHIVE_OK, or ARCHIVE_FATAL (libarchive's error is set). */
int pm_archive_filters(struct archive *a);

/* archive_read_new() set up for tar only, with the filters above when
 * compressed is non-zero (none otherwise: a parts bundle's outer tar), each
 * only if libarchive has it built in (one it would run as an external
 * program is left out: such a bundle is "Unrecognized archive format").
 * NULL if out of memory. */
struct archive *pm_archive_reader(int compressed);

/* Open path (what: "bundle", "list file": named in the message) for
 * reading: the symbolic-link rule of trust.h, then O_RDONLY | O_NONBLOCK |
 * O_NOCTTY | O_CLOEXEC beneath its directory (never blocks on a FIFO or a
 * device), only a regular file (fstat of the descriptor), and refused when
 * it is owned by neither us nor root in a directory writable by everybody
 * (sticky or not: anyone could have put it there or swapped it).  Returns
 * the descriptor (O_NONBLOCK cleared) with *st its fstat (st may be NULL),
 * or -1 with errno set and *why a malloc'd one-line reason without the
 * path (NULL if out of memory): "cannot open bundle: REASON", "not a
 * regular file", "refusing to read the bundle: it is
 * owned by uid N and its directory D is writable by everybody (move it to
 * a directory that is yours)". */
int pm_input_open(const char *path, const char *what, struct stat *st, char **why);

/* pm_input_open with the reason in *err (err.h), naming path. */
int pm_input_open_err(const char *path, const char *what, struct stat *st, pm_err *err);

#endif
