/* envmake.h - PYTHON_MPI_ENV's bundles, one per item of a piece, planned
 * in a state's temporary directory: made by the pkgroot that sits beside
 * python-mpi while they are delivered (envfeed.h).
 *
 * A piece is one cached environment: the runtime (`pkgroot python`: the
 * embedded Python's standard library) or DIR's (`pkgroot venv` /
 * `pkgroot conda`, `pkgroot dir` for each SRC, each editable install -
 * delivered at lib/python-mpi-ext/N - and the overlay of its .pth files
 * and finders rewritten to name them, envscan.h). */
#ifndef PM_ENVMAKE_H
#define PM_ENVMAKE_H

#include "envscan.h"

#include <stddef.h>
#include <sys/stat.h>

enum pm_envmaker { MK_PYTHON, MK_VENV, MK_CONDA, MK_DIR, MK_EXT, MK_PTH };
extern const char *const pm_envmaker_name[];   /* pkgroot's names, and the key's */

#define PM_ENVPIECE_MAX 64

typedef struct pm_envitem {
    enum pm_envmaker kind;
    char *path;       /* real path (MK_PTH: the site directory in the bundle) */
    char **exclude;   /* NULL-terminated paths below path left out of its
                       * bundle (pkgroot dir --exclude) and key walk, or NULL */
} pm_envitem;

/* Leave rel (below it->path) out: 0, or -1 after printing why. */
int pm_envitem_exclude(pm_envitem *it, const char *rel);

typedef struct pm_envpiece {
    const char *what;   /* "runtime" or "environment" */
    pm_envitem items[PM_ENVPIECE_MAX];
    size_t n;
    const char *site;   /* DIR's site-packages (for the overlay), or NULL */
    char *pth_at;       /* where the overlay goes in the bundle */
    pm_envexts exts;    /* the editable installs, in MK_EXT order */
} pm_envpiece;

/* Append an item (path malloc'd, taken; NULL: out of memory): 0, or -1
 * after printing why (more than PM_ENVPIECE_MAX). */
int pm_envpiece_add(pm_envpiece *p, enum pm_envmaker kind, char *path);
void pm_envpiece_free(pm_envpiece *p);

/* pkgroot beside python-mpi (/proc/self/exe) and the stat of both (a
 * key's part: another pkgroot or python-mpi may make other bundles). */
typedef struct pm_envmaker_tool {
    char *pkgroot;
    struct stat pk_st, self_st;
} pm_envmaker_tool;

/* 0, or -1 after printing why. */
int pm_envmaker_find(pm_envmaker_tool *m);

/* The piece's bundles planned in tmp: each file created empty (0600)
 * and its pkgroot queued to fill it while it is delivered (envfeed.h);
 * the overlay of .pth files and finders made now; the names appended to
 * *names (one a line).  0, or -1 after printing why (what was made stays
 * in tmp, what was queued in the feed: the caller removes both). */
int pm_envmaker_plan(const pm_envmaker_tool *m, const pm_envpiece *p, const char *tmp, const char *root,
                     char **names);

#endif
