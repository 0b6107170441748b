/* err.h - a failure's reason, handed back by the core to the program that
 * prints it.
 *
 * The core (bcast/core/) never decides where a message goes: a function
 * that fails fills a pm_err with the file it concerns and the reason, and
 * its caller - the delivery layer or a program - prints it with pm_err_print,
 * in log.h's one shape, or keeps it (pkgroot verify collects reasons, the
 * fuzzer and the unit tests look at them).  Ownership is explicit: whoever
 * holds a pm_err clears it (pm_err_print clears it too). */
#ifndef PM_ERR_H
#define PM_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct pm_err {
    char *file;     /* what the reason concerns (a bundle, a path), or NULL */
    char *text;     /* the reason, unescaped (log.h escapes when printing) */
    int set;        /* a failure was recorded (text may be NULL: out of memory) */
} pm_err;

#define PM_ERR_INIT {NULL, NULL, 0}

/* Record a failure.  The first one recorded is kept (the cause; what
 * follows during the clean-up is a consequence); e may be NULL (the caller
 * does not want the reason).  Never fails: out of memory, the reason is
 * lost but the failure is still set. */
void pm_err_set(pm_err *e, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pm_err_vset(pm_err *e, const char *file, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The reason, or a fixed text when it was lost. */
const char *pm_err_text(const pm_err *e);

/* Print it in log.h's shape (PROG: rank R on NODE: FILE: reason) if set,
 * then clear it. */
void pm_err_print(pm_err *e);

/* Forget it (free what it holds). */
void pm_err_clear(pm_err *e);

#endif
