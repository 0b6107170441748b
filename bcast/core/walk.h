/* walk.h - visiting every entry below a directory, depth first, without
 * following symbolic links, with the caller's state (nftw has none). */
#ifndef PM_WALK_H
#define PM_WALK_H

#include <sys/stat.h>

/* Called for each entry below the top (not the top itself), with its path
 * (the top joined with the names down to it; valid during the call) and
 * its lstat.  Returns 0 to go on (into a directory, too), PM_WALK_SKIP to
 * leave a directory's contents out, anything else to stop the walk. */
typedef int (*pm_walk_fn)(const char *path, const struct stat *st, void *ctx);
#define PM_WALK_SKIP 1

/* Walk dir.  Returns the first value other than 0 and PM_WALK_SKIP that
 * fn returned (the walk stops there); else 0 if every directory was read,
 * or -1 with errno set for the first that could not be (opened, read, an
 * entry's lstat, out of memory): the walk goes on past it, so what can be
 * visited is. */
int pm_walk(const char *dir, pm_walk_fn fn, void *ctx);

#endif
