/* pkglist.h - the list of bundles a job delivers.
 *
 * PYTHON_MPI_PACKAGES is colon-separated; each item is a path relative to
 * PYTHON_MPI_PKGROOT, or absolute.  bcast's -f LISTFILE gives one per line. */
#ifndef PM_PKGLIST_H
#define PM_PKGLIST_H

#include <stddef.h>

typedef struct pm_pkglist {
    char **paths;   /* owned, resolved paths */
    size_t n;
    size_t cap;
} pm_pkglist;

void pm_pkglist_init(pm_pkglist *l);
void pm_pkglist_free(pm_pkglist *l);

/* Append one bundle name resolved against root (root may be NULL: then
 * relative names are taken as given, relative to the working directory, and
 * require_root=1 makes that an error).  On error returns -1 and sets *err to
 * a malloc'd reason. */
int pm_pkglist_add(pm_pkglist *l, const char *name, const char *root,
                   int require_root, char **err);

/* Split spec on ':' (empty items are skipped) and add each. */
int pm_pkglist_parse(pm_pkglist *l, const char *spec, const char *root,
                     int require_root, char **err);

/* Read names, one per line, from a text buffer: blank lines and lines
 * starting with '#' are skipped, surrounding white space is trimmed. */
int pm_pkglist_parse_lines(pm_pkglist *l, const char *text, const char *root,
                           char **err);

/* Rank 0, before it reads the bundles: every path resolved with
 * pm_trust_realpath (trust.h) and replaced by the result, so the reads
 * follow no link, and a link that another user planted in a sticky shared
 * directory (PYTHON_MPI_PKGROOT=/tmp/x, a bundle in /dev/shm) is refused:
 * -1 with *err "PATH: refusing to read the bundle: REASON".  A path that
 * cannot be resolved for another reason (missing, unreadable) stays as
 * given: opening it says why. */
int pm_pkglist_resolve(pm_pkglist *l, char **err);

#endif
