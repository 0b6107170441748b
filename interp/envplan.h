/* envplan.h - PYTHON_MPI_ENV=DIR[:SRC...] read into what to deliver: the
 * runtime's piece (the embedded Python's standard library; none for a
 * conda prefix that carries its own) and DIR's (the venv or conda prefix,
 * each SRC, each editable install outside DIR and the overlay that
 * renames them: envmake.h).  Nothing is made or cached here.  DIR, each
 * SRC and each editable directory must be ones no other user could have
 * put modules in (trust.h: pm_trust_input_check), and DIR inside a SRC or
 * editable directory is left out of it (pm_envitem's exclude). */
#ifndef PM_ENVPLAN_H
#define PM_ENVPLAN_H

#include "envmake.h"

typedef struct pm_envplan {
    char *dir;          /* DIR, resolved */
    pm_envpiece rt, env;
} pm_envplan;

/* 0 with *plan filled, or -1 after printing why (one line); free it
 * either way. */
int pm_envplan_read(const char *spec, pm_envplan *plan);
void pm_envplan_free(pm_envplan *plan);

/* The cache (resolved) must not lie inside anything the plan delivers
 * (DIR, a SRC, an editable directory): every job would bundle the states
 * kept so far (and SRC=$HOME ships ~/.ssh too).  Compared by device and
 * inode walking up from the cache.  0, or -1 after printing why (one
 * line). */
int pm_envplan_check_cache(const pm_envplan *plan, const char *cache);

#endif
