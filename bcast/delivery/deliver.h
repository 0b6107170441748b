/* deliver.h - getting bundles from rank 0's file system onto every node.
 *
 * Rank 0 alone opens and reads each bundle; its bytes go to one leader per
 * node by MPI broadcasts in bounded chunks, and each leader unpacks them as
 * they arrive; a parts bundle's chunks are shared with the node's other
 * unpackers in place (unpackers.h, ring.h).  Memory is two chunk buffers
 * per leader and a few per node, whatever the bundle's and the node's
 * size. */
#ifndef PM_DELIVER_H
#define PM_DELIVER_H

#include "pkglist.h"
#include "settings.h"
#include "topology.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pm_deliver_stats {
    double t_read;      /* rank 0: reading bundles */
    double t_bcast;     /* time in broadcasts */
    double t_unpack;    /* the rest of the leader's time: extraction */
    double t_links;     /* of which making the deferred symbolic links */
    double t_total;     /* from the node's leader starting the delivery */
    uint64_t bytes;     /* bundle bytes delivered */
    uint64_t entries;   /* entries unpacked on this node */
} pm_deliver_stats;

/* Bundles made while they are delivered (rank 0's side; NULL: none).
 * Rank 0 asks start() for each bundle; a fed bundle's header tells the
 * leaders it is a stream, and its bytes go out as they are written: rank 0
 * announces each new extent (whole chunks, or the rest once done) in a
 * collective of its own, in which a leader that failed to unpack stops
 * the stream for all; the leaders post only chunks that exist.  A
 * stream is unpacked by each node's leader alone (the ring's slots are
 * laid out from a size known up front).  The feed is rank 0's on every
 * rank; the other ranks ignore it. */
typedef struct pm_feed {
    /* Is path fed?  1 with *fd (read with pread, never closed here) and
     * its making started; 0: an ordinary bundle; -1 after printing why. */
    int (*start)(void *ctx, const char *path, int *fd);
    /* Is path fed (nothing started)?  1 or 0. */
    int (*fed)(void *ctx, const char *path);
    /* Never waits: *done = 1 once the file under fd is complete (its
     * size final).  0, or -1 after printing why (its making failed). */
    int (*poll)(void *ctx, int fd, int *done);
    void *ctx;
} pm_feed;

/* Collective: rank 0 checks that it can open every bundle, and that none
 * is larger than max_bytes (PYTHON_MPI_MAX_UNPACKED; 0: no limit yet, the
 * node-local file system's size is checked when delivering), before any
 * directory is made (a fed bundle: once it is made).  Returns 0 or 1 on every rank, like pm_deliver. */
int pm_deliver_check(const pm_topology *t, const pm_pkglist *bundles, const pm_feed *feed, uint64_t max_bytes);

/* Collective over t->world.  Every bundle is unpacked into destdir, which
 * must exist on each node, by the node's unpackers (cfg->unpackers, see
 * unpackers.h) in chunks of cfg->chunk bytes; fresh: destdir was created
 * empty for this delivery, so symbolic links can be made last (links.h).
 * Then prefixes are relocated (relocate.h).  Returns 0 when every rank
 * succeeded and 1 otherwise, the same on every rank; whoever saw a
 * problem printed it. */
int pm_deliver(const pm_topology *t, const pm_pkglist *bundles, const pm_feed *feed, const char *destdir,
               int fresh, const pm_settings *cfg, pm_deliver_stats *stats);

#endif
