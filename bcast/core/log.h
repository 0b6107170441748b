/* log.h - one-line diagnostics that name the program, rank, node and file.
 *
 * Every error a user can see has the shape
 *     PROG: rank R on NODE: FILE: reason
 * so that in a 10,000-rank job's merged stderr the failing place is obvious.
 * Before MPI is up the rank is unknown and the "rank R on NODE" part reads
 * "rank ? on NODE".
 *
 * Whatever a message names (an entry of a bundle, a path a user gave) is
 * escaped here, centrally: control bytes (below 0x20, 0x7f) become \n,
 * \t, \r or \xNN, and so does every byte that is not part of valid UTF-8
 * or that encodes a C1 control (U+0080..U+009F); so a name can neither
 * forge a line nor send a terminal an escape sequence.  A message is one
 * line of at most about 1 KiB of text before escaping. */
#ifndef PM_LOG_H
#define PM_LOG_H

#include <stdarg.h>
#include <stddef.h>

void pm_log_init(const char *prog);
const char *pm_log_prog(void);
void pm_log_set_rank(int rank);
const char *pm_log_node(void);   /* this node's hostname, never NULL */
int pm_log_rank(void);

/* Verbosity: 0 quiet, 1 phases on rank 0, 2 every rank. */
void pm_log_set_verbose(int level);
int pm_log_verbose(void);

/* file may be NULL when no file is involved. */
void pm_error(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pm_verror(const char *file, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Printed when verbose >= level (level 1 only on rank 0). */
void pm_info(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Escape in[0..n) as above into out (cap bytes, NUL-terminated),
 * cutting only between characters; returns the bytes written before the
 * NUL. */
size_t pm_log_escape(char *out, size_t cap, const char *in, size_t n);

/* Waits, at most max_seconds, until the reader of fd (the launcher's end of
 * a pipe or socket) has taken every byte written to it.  Returns 0 when
 * nothing is left unread or fd is not a pipe or socket, 1 on timeout. */
int pm_log_drain(int fd, double max_seconds);

#endif
