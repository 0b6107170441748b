/* stage.h - the per-node directory a job unpacks into, agreed by all ranks.
 *
 * Rank 0 names it; each node leader creates it privately; every rank learns
 * whether that worked everywhere before any bundle is read.  Only leaders
 * resolve the chroot and the path: they send their node's other ranks the
 * checked path and the directory's device and inode, and each of those
 * opens it and refuses a mismatch (one line).
 *
 * A kept tree (a -p prefix, or CHROOT/python-mpi-UID/NAME that bcast keeps
 * for the job) may be wanted by several steps of one job at once.  Its
 * leaders hold flock on TREE/.python-mpi-lock (made O_NOFOLLOW through the
 * tree's descriptor; no bundle can ship the name): exclusive while they
 * deliver, shared while python-mpi runs on it.  Every leader only tries the
 * lock; if any failed all release it and retry after a short sleep, so two
 * jobs' steps on several nodes never deadlock.  A kept tree that carries
 * the marker of an interrupted delivery (cache.h) is emptied if it is
 * python-mpi-UID/NAME (ours entirely) and refused if it is a -p prefix. */
#ifndef PM_STAGE_H
#define PM_STAGE_H

#include "pkglist.h"
#include "topology.h"

typedef struct pm_stage {
    char *dir;       /* absolute path, the same on every node; owned */
    int owned;       /* a fresh per-run directory: removed at the end */
    int created;     /* this run created it: removed if delivery fails
                      * (known to leaders only) */
    int fresh;       /* empty when opened, on this node (every rank) */
    int reaper_fd;   /* leaders of a created directory: see reaper.h */
    int lock_fd;     /* leaders of a fresh run directory: see pm_run_lock */
    int tree_lock;   /* leaders of a kept tree: its flock (see above) */
} pm_stage;

#define PM_TREE_LOCK ".python-mpi-lock"

/* An empty stage (nothing to remove, no watcher, no lock). */
void pm_stage_init(pm_stage *s);

/* Collective over t->world.  With prefix and fixed_name NULL the directory
 * is CHROOT/python-mpi-UID/RUNNAME, fresh and removed by pm_stage_remove.
 * With fixed_name it is CHROOT/python-mpi-UID/FIXED_NAME, and with a prefix
 * (bcast -p; it must be ours and 0700) that directory; both are created if
 * missing and kept, and returned locked exclusively (waiting for any other
 * holder).  Returns 0 on every rank or 1 on every rank (the failing ones
 * printed). */
int pm_stage_open(pm_stage *s, const pm_topology *t, const char *chroot,
                  const char *prefix, const char *fixed_name);

/* Collective: the kept directory CHROOT/python-mpi-UID/NAME (bcast's, for
 * a batch job), if it is ours and every node holds all the bundles there
 * already (cache.h).  Returns 1 with s->dir set (not owned: kept) and its
 * lock held shared until pm_stage_free, or 0. */
int pm_stage_find_cached(pm_stage *s, const pm_topology *t, const char *chroot,
                         const char *name, const pm_pkglist *bundles);

/* Leaders remove the directory if we created it (call once every rank of
 * the node is done with it); then frees s.  Returns -1 if removal failed. */
int pm_stage_remove(pm_stage *s, const pm_topology *t);
/* After a failed delivery: leaders remove the directory if this run
 * created it (a kept tree: and nobody else had delivered into it before
 * this run got its lock); a pre-existing one is left alone, marked as
 * interrupted (cache.h).  Then frees s. */
int pm_stage_discard(pm_stage *s, const pm_topology *t);
void pm_stage_free(pm_stage *s);

#endif
