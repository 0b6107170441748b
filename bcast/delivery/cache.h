/* cache.h - knowing that a node already holds a bundle's exact content,
 * and never trusting a tree whose delivery did not finish.
 *
 * A delivery is a transaction.  Before its first byte is written each
 * leader marks the tree as changing on disk (DIR/.python-mpi-changing, a
 * fresh O_EXCL file, made before the old stamps go); only once the
 * delivery completed on every node (links and relocation included) do
 * the leaders write DIR/.python-mpi-stamps and then remove the marker.  A
 * crash at any point leaves the marker or no stamps: never a tree that
 * looks complete.  The stamps describe exactly the ordered list of bundles
 * of the last completed delivery: each one's identity (size, mtime, ctime,
 * inode, device, as rank 0 saw them: ctime too, since a rewrite can
 * restore the mtime but never the ctime) and content hash.  A lookup hits
 * only for the same list, on every node, with no marker.
 *
 * No bundle can write these names (unpack.h refuses every '.python-mpi-*'
 * entry), and we write them only as fresh files (O_EXCL|O_NOFOLLOW),
 * through DIR's trusted descriptor (trust.h).  Identity by stat, as make
 * and rsync do; rank 0 stats each bundle once (no read). */
#ifndef PM_CACHE_H
#define PM_CACHE_H

#include "pkglist.h"
#include "topology.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define PM_STAMPS ".python-mpi-stamps"
#define PM_CHANGING ".python-mpi-changing"   /* a delivery is (or was) under way */
#define PM_STAMPS_MAGIC "python-mpi-stamps 2"

typedef struct pm_bundle_id {
    uint64_t size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, ino, dev;
} pm_bundle_id;
#define PM_BUNDLE_ID_WORDS 7   /* uint64_t words, as broadcast */

void pm_bundle_id_of(const struct stat *st, pm_bundle_id *id);

/* Leaders, before the first byte is written into dir: create the marker
 * (an existing one is kept: the tree stays untrusted), then remove the
 * stamps.  Returns 0, or -1 after printing why (then deliver nothing). */
int pm_cache_begin(const char *dir);
/* Leaders, after the delivery's outcome is agreed by every node: on
 * success write stamps for exactly these n bundles, in order, then remove
 * the marker; on failure leave the marker (the tree is not trusted until
 * a delivery into it completes).  Returns -1 after printing why if
 * writing failed (the marker then stays too). */
int pm_cache_end(const char *dir, int ok, const pm_bundle_id *ids, const uint64_t *hashes,
                 char *const *paths, size_t n);

/* Does the directory dirfd carry the marker of a delivery that did not
 * finish?  1 yes, 0 no, -1 it cannot be told (errno set). */
int pm_cache_interrupted(int dirfd);

/* Local: 1 if dirfd has no marker and its stamps describe exactly ids[0..n)
 * in this order, else 0. */
int pm_cache_holds(int dirfd, const pm_bundle_id *ids, size_t n);

/* Collective over t->world: 1 if every node's dir holds exactly these
 * bundles (pm_cache_holds), else 0 (a miss; the caller delivers as usual). */
int pm_cache_lookup(const pm_topology *t, const pm_pkglist *bundles, const char *dir);

#endif
