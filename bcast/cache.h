/* cache.h - knowing that a node already holds a bundle's exact content.
 *
 * After a delivery has succeeded everywhere, each leader records every
 * bundle's identity (size, mtime, ctime, inode, device, as rank 0 saw
 * them: ctime too, since a rewrite can restore the mtime but never the
 * ctime) and content hash in DIR/.python-mpi-stamps.  No bundle can write
 * that name (unpack.h refuses every '.python-mpi-*' entry), and we write
 * it only as a fresh file (O_EXCL|O_NOFOLLOW) renamed into place, through
 * DIR's trusted descriptor (trust.h).  A later run that would deliver
 * the same bundles into DIR first asks every leader: if all of them hold
 * stamps for all of the bundles, nothing is sent or unpacked.  Identity by
 * stat, as make and rsync do; rank 0 stats each bundle once (no read). */
#ifndef PM_CACHE_H
#define PM_CACHE_H

#include "pkglist.h"
#include "topology.h"

#include <stdint.h>
#include <sys/stat.h>

#define PM_STAMPS ".python-mpi-stamps"

typedef struct pm_bundle_id {
    uint64_t size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, ino, dev;
} pm_bundle_id;
#define PM_BUNDLE_ID_WORDS 7   /* uint64_t words, as broadcast */

void pm_bundle_id_of(const struct stat *st, pm_bundle_id *id);

/* Leaders, before unpacking into dir: set the stamps aside, since a failed
 * delivery may overwrite part of what they describe. */
void pm_cache_begin(const char *dir);
/* Leaders, after the delivery's outcome is agreed: on success restore the
 * stamps and add one per bundle delivered; on failure drop them.
 * Returns -1 after printing why if writing failed. */
int pm_cache_end(const char *dir, int ok, const pm_bundle_id *ids, const uint64_t *hashes,
                 char *const *paths, size_t n);

/* Collective over t->world: 1 if every node's dir holds stamps for every
 * bundle, else 0 (a miss; the caller delivers as usual). */
int pm_cache_lookup(const pm_topology *t, const pm_pkglist *bundles, const char *dir);

#endif
