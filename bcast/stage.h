/* stage.h - the per-node directory a job unpacks into, agreed by all ranks.
 *
 * Rank 0 names it; each node leader creates it privately; every rank learns
 * whether that worked everywhere before any bundle is read. */
#ifndef PM_STAGE_H
#define PM_STAGE_H

#include "topology.h"

typedef struct pm_stage {
    char *dir;       /* absolute path, the same on every node; owned */
    int owned;       /* we created it, so we remove it */
} pm_stage;

/* Collective over t->world.  With prefix NULL the directory is
 * CHROOT/python-mpi-UID/RUNNAME, fresh and removed by pm_stage_remove; with
 * a prefix (bcast -p), that directory is used, created if missing.
 * Returns 0 on every rank or 1 on every rank (the failing ones printed). */
int pm_stage_open(pm_stage *s, const pm_topology *t, const char *chroot,
                  const char *prefix);

/* Leaders remove the directory if we created it (call once every rank of
 * the node is done with it); then frees s.  Returns -1 if removal failed. */
int pm_stage_remove(pm_stage *s, const pm_topology *t);
void pm_stage_free(pm_stage *s);

#endif
