/* err.c - recording a failure's reason for the caller (see err.h). */
#include "err.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pm_err_vset(pm_err *e, const char *file, const char *fmt, va_list ap)
{
    if (!e || e->set)
        return;
    e->set = 1;
    e->file = file ? strdup(file) : NULL;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || !(e->text = malloc((size_t)n + 1)))
        return;
    vsnprintf(e->text, (size_t)n + 1, fmt, ap);
}

void pm_err_set(pm_err *e, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pm_err_vset(e, file, fmt, ap);
    va_end(ap);
}

const char *pm_err_text(const pm_err *e)
{
    return e && e->text ? e->text : "failed (out of memory saying why)";
}

void pm_err_print(pm_err *e)
{
    if (!e || !e->set)
        return;
    pm_error(e->file, "%s", pm_err_text(e));
    pm_err_clear(e);
}

void pm_err_clear(pm_err *e)
{
    if (!e)
        return;
    free(e->file);
    free(e->text);
    e->file = e->text = NULL;
    e->set = 0;
}
