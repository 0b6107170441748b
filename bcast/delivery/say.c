/* say.c - printing the core's reasons for the callers that stop on them
 * (see say.h). */
#include "say.h"

#include "archive_read.h"
#include "err.h"
#include "trust.h"

#include <errno.h>

int pm_trust_open_say(const char *path, unsigned flags, int *created)
{
    pm_err err = PM_ERR_INIT;
    int fd = pm_trust_open_err(path, flags, created, &err);
    pm_err_print(&err);
    return fd;
}

int pm_input_open_say(const char *path, const char *what, struct stat *st)
{
    pm_err err = PM_ERR_INIT;
    int fd = pm_input_open_err(path, what, st, &err);
    int saved = errno;
    pm_err_print(&err);
    errno = saved;
    return fd;
}
