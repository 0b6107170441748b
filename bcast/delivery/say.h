/* say.h - the core's calls that the delivery layer and the programs make
 * where a refusal ends the step: the core hands back the reason (err.h),
 * these print it in log.h's one line. */
#ifndef PM_SAY_H
#define PM_SAY_H

#include <sys/stat.h>

/* pm_trust_open_err (trust.h), printing "PATH: refusing to use: REASON". */
int pm_trust_open_say(const char *path, unsigned flags, int *created);

/* pm_input_open_err (archive_read.h), printing "PATH: REASON"; errno kept. */
int pm_input_open_say(const char *path, const char *what, struct stat *st);

#endif
