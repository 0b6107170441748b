/* ring.h - a node's chunks in shared memory: one writer, several readers.
 *
 * A parts bundle reaches a node once, at its leader; the node's other
 * unpackers (unpackers.h) read its chunks where they landed instead of
 * each receiving a copy.  The ring is nslots slots in memory that every
 * unpacker of the node maps (an MPI-3 shared window), and a small control
 * block.  Chunks are numbered by a sequence that runs on across bundles;
 * the writer puts chunk seq into slot seq % nslots and publishes it; a
 * reader waits for the chunk it wants and, by asking for chunk seq,
 * releases every chunk before it (libarchive is done with a buffer once
 * it asks for the next).  The writer reuses a slot only once every reader
 * has released the chunk in it.  Every wait sleeps in the kernel (a futex
 * in the shared memory) until the other side moves: nobody spins.
 *
 * Parts are handed out through the ring too (pm_ring_claim).
 *
 * The writer is reader 0 as well (the leader unpacks too).  A bundle's
 * chunks are [base, base + n); its active readers are 0 .. nactive-1, and a
 * reader's releases before base count as base (every reader is done with
 * earlier bundles once their vote is over). */
#ifndef PM_RING_H
#define PM_RING_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pm_ring pm_ring;

/* Collective over comm (the node's unpackers, the writer at rank 0):
 * nslots slots of slot bytes.  Returns the ring on every rank, or NULL on
 * every rank after the failing ones printed why. */
pm_ring *pm_ring_new(MPI_Comm comm, int nslots, size_t slot);

/* The same over memory already shared by other means (tests use fork):
 * mem holds pm_ring_bytes() bytes, zeroed before any process attaches;
 * me is this process's reader index (the writer: 0).  NULL if out of
 * memory. */
size_t pm_ring_bytes(int nslots, size_t slot, int nreaders);
pm_ring *pm_ring_attach(void *mem, int nslots, size_t slot, int nreaders, int me);

/* Collective over comm if made by pm_ring_new. */
void pm_ring_free(pm_ring *r);

int pm_ring_slots(const pm_ring *r);

/* Writer: the slot chunk seq goes into (slot bytes long). */
unsigned char *pm_ring_slot(pm_ring *r, uint64_t seq);
/* Writer: may chunk seq go into its slot now?  Never blocks. */
int pm_ring_writable(pm_ring *r, uint64_t seq, uint64_t base, int nactive);
/* Writer: wait until it may, calling progress(ctx) about every
 * millisecond meanwhile if progress is not NULL (MPI needs the writer's
 * calls to move broadcasts along). */
void pm_ring_wait_writable(pm_ring *r, uint64_t seq, uint64_t base, int nactive,
                           void (*progress)(void *), void *ctx);
/* Writer: chunk seq (and every one before it) is in its slot. */
void pm_ring_publish(pm_ring *r, uint64_t seq);
/* Writer: no more chunks will come; readers' waits return NULL. */
void pm_ring_fail(pm_ring *r);

/* Reader: release every chunk before seq, wait for chunk seq; its slot,
 * or NULL once the writer failed.  *waited: seconds spent asleep, added. */
const unsigned char *pm_ring_read(pm_ring *r, uint64_t seq, double *waited);
/* Reader: done with every chunk before upto. */
void pm_ring_release(pm_ring *r, uint64_t upto);

/* Any unpacker: take part number part (0, 1, ... within a bundle) of the
 * bundle numbered gen (1, 2, ..., below 2^24; part below 2^40).  Returns 1
 * for the first to ask, 0 for every other: the parts go, first come first
 * served, to whoever is free when the stream reaches them. */
int pm_ring_claim(pm_ring *r, uint64_t gen, uint64_t part);

/* The node's delivery budget (unpack.h): two words, zero when the ring is
 * made, that every unpacker of the node maps; NULL if r is NULL. */
_Atomic uint64_t *pm_ring_budget(pm_ring *r);

#endif
