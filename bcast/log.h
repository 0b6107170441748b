/* log.h - one-line diagnostics that name the program, rank, node and file.
 *
 * Every error a user can see has the shape
 *     PROG: rank R on NODE: FILE: reason
 * so that in a 10,000-rank job's merged stderr the failing place is obvious.
 * Before MPI is up the rank is unknown and the "rank R on NODE" part reads
 * "rank ? on NODE". */
#ifndef PM_LOG_H
#define PM_LOG_H

#include <stdarg.h>

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

/* Waits, at most max_seconds, until the reader of fd (the launcher's end of
 * a pipe or socket) has taken every byte written to it.  Returns 0 when
 * nothing is left unread or fd is not a pipe or socket, 1 on timeout. */
int pm_log_drain(int fd, double max_seconds);

#endif
