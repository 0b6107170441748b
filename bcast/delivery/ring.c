/* ring.c - the shared-memory chunk ring and its sleeping waits (see ring.h).
 *
 * Lock-free C11 atomics are address-free, so the control block works
 * between processes that map it at different addresses; x86 and ARM keep
 * the mapping coherent, and the acquire/release order of the counters
 * orders the slots' bytes with them. */
#include "ring.h"
#include "log.h"
#include "mpi_util.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define LINE 64
#define PAGE 4096

typedef struct ctl {
    _Alignas(LINE) _Atomic uint64_t published;  /* chunks [0, published) are in place */
    _Atomic uint32_t pub_seq;       /* futex word: moves at every publish and at fail */
    _Atomic uint32_t pub_waiters;
    _Atomic uint32_t failed;
    _Alignas(LINE) _Atomic uint32_t rel_seq;    /* futex word: moves at every release */
    _Atomic uint32_t rel_waiters;
    _Alignas(LINE) _Atomic uint64_t budget[2];  /* unpack.h's node budget */
} ctl;

typedef struct reader {
    _Alignas(LINE) _Atomic uint64_t done;   /* released every chunk before this */
} reader;

struct pm_ring {
    ctl *c;
    reader *readers;
    _Atomic uint64_t *claims;   /* by part number modulo nclaims */
    size_t nclaims;
    unsigned char *slots;
    size_t stride;
    int nslots, nreaders, me;
    MPI_Win win;            /* MPI_WIN_NULL when attached by other means */
};

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static size_t ctl_bytes(int nreaders)
{
    return round_up(round_up(sizeof(ctl), LINE) + (size_t)nreaders * sizeof(reader), PAGE);
}

/* A part takes at least its 512-byte tar header, so the parts whose
 * headers are in the ring at once number fewer than its bytes / 512: two
 * of them never share a claim word. */
static size_t claim_words(int nslots, size_t slot)
{
    return (size_t)nslots * round_up(slot, PAGE) / 512 + 1;
}

static size_t claims_bytes(int nslots, size_t slot)
{
    return round_up(claim_words(nslots, slot) * sizeof(uint64_t), PAGE);
}

size_t pm_ring_bytes(int nslots, size_t slot, int nreaders)
{
    return ctl_bytes(nreaders) + claims_bytes(nslots, slot) + (size_t)nslots * round_up(slot, PAGE);
}

pm_ring *pm_ring_attach(void *mem, int nslots, size_t slot, int nreaders, int me)
{
    pm_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->c = mem;
    r->readers = (reader *)((unsigned char *)mem + round_up(sizeof(ctl), LINE));
    r->claims = (_Atomic uint64_t *)((unsigned char *)mem + ctl_bytes(nreaders));
    r->nclaims = claim_words(nslots, slot);
    r->slots = (unsigned char *)mem + ctl_bytes(nreaders) + claims_bytes(nslots, slot);
    r->stride = round_up(slot, PAGE);
    r->nslots = nslots;
    r->nreaders = nreaders;
    r->me = me;
    r->win = MPI_WIN_NULL;
    return r;
}

_Atomic uint64_t *pm_ring_budget(pm_ring *r)
{
    return r ? r->c->budget : NULL;
}

pm_ring *pm_ring_new(MPI_Comm comm, int nslots, size_t slot)
{
#if MPI_VERSION >= 3
    int rank = 0, size = 1;
    int rc = MPI_Comm_rank(comm, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(comm, &size);
    size_t bytes = pm_ring_bytes(nslots, slot, size);
    void *mem = NULL;
    MPI_Win win = MPI_WIN_NULL;
    /* The writer's memory, which the others map: one segment, whoever
     * touches it first. */
    if (rc == MPI_SUCCESS)
        rc = MPI_Win_allocate_shared(rank == 0 ? (MPI_Aint)bytes : 0, 1, MPI_INFO_NULL, comm, &mem, &win);
    if (pm_mpi_check(rc, "MPI_Win_allocate_shared(chunk ring)") == MPI_SUCCESS && rank != 0) {
        MPI_Aint got = 0;
        int unit;
        rc = MPI_Win_shared_query(win, 0, &got, &unit, &mem);
        if (pm_mpi_check(rc, "MPI_Win_shared_query(chunk ring)") == MPI_SUCCESS && (size_t)got < bytes) {
            pm_error(NULL, "the chunk ring's shared memory is %lld bytes, not %zu", (long long)got, bytes);
            rc = MPI_ERR_OTHER;
        }
    }
    pm_ring *r = rc == MPI_SUCCESS ? pm_ring_attach(mem, nslots, slot, size, rank) : NULL;
    if (rc == MPI_SUCCESS && !r)
        pm_error(NULL, "out of memory");
    if (r && rank == 0)
        memset(mem, 0, ctl_bytes(size) + claims_bytes(nslots, slot));
    /* Also the barrier after which the control block is clean for all. */
    if (pm_agree_failed(comm, !r)) {
        free(r);
        if (win != MPI_WIN_NULL)
            (void)MPI_Win_free(&win);
        return NULL;
    }
    r->win = win;
    return r;
#else
    (void)comm;
    (void)nslots;
    (void)slot;
    return NULL;
#endif
}

void pm_ring_free(pm_ring *r)
{
    if (!r)
        return;
#if MPI_VERSION >= 3
    if (r->win != MPI_WIN_NULL)
        (void)pm_mpi_check(MPI_Win_free(&r->win), "MPI_Win_free(chunk ring)");
#endif
    free(r);
}

int pm_ring_slots(const pm_ring *r)
{
    return r->nslots;
}

/* Sleep until *word is no longer seen, or for at most ns.  Every outcome
 * (woken, changed already, interrupted, timed out) is followed by the
 * caller's own check, so none needs telling apart. */
static void wait_change(_Atomic uint32_t *word, uint32_t seen, long ns)
{
#ifdef __linux__
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, seen, &ts, NULL, 0);
    if (rc == 0 || errno == EAGAIN || errno == EINTR || errno == ETIMEDOUT)
        return;
    /* No futex here after all: sleep a little instead of spinning. */
#endif
    (void)word;
    (void)seen;
    struct timespec nap = {0, ns < 200000 ? ns : 200000};
    nanosleep(&nap, NULL);
}

static void wake_all(_Atomic uint32_t *word, _Atomic uint32_t *waiters)
{
    atomic_fetch_add(word, 1);
#ifdef __linux__
    if (atomic_load(waiters))
        (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
    (void)waiters;
#endif
}

unsigned char *pm_ring_slot(pm_ring *r, uint64_t seq)
{
    return r->slots + (size_t)(seq % (uint64_t)r->nslots) * r->stride;
}

int pm_ring_writable(pm_ring *r, uint64_t seq, uint64_t base, int nactive)
{
    /* The slot last held chunk seq - nslots: free once every active
     * reader has released it. */
    if (seq + 1 <= base + (uint64_t)r->nslots)
        return 1;
    uint64_t need = seq + 1 - (uint64_t)r->nslots;
    for (int i = 0; i < nactive && i < r->nreaders; i++)
        if (atomic_load(&r->readers[i].done) < need)
            return 0;
    return 1;
}

void pm_ring_wait_writable(pm_ring *r, uint64_t seq, uint64_t base, int nactive,
                           void (*progress)(void *), void *ctx)
{
    for (;;) {
        uint32_t seen = atomic_load(&r->c->rel_seq);
        if (pm_ring_writable(r, seq, base, nactive))
            return;
        atomic_fetch_add(&r->c->rel_waiters, 1);
        wait_change(&r->c->rel_seq, seen, progress ? 1000000L : 100000000L);
        atomic_fetch_sub(&r->c->rel_waiters, 1);
        if (progress)
            progress(ctx);
    }
}

void pm_ring_publish(pm_ring *r, uint64_t seq)
{
    atomic_store(&r->c->published, seq + 1);
    wake_all(&r->c->pub_seq, &r->c->pub_waiters);
}

void pm_ring_fail(pm_ring *r)
{
    atomic_store(&r->c->failed, 1);
    wake_all(&r->c->pub_seq, &r->c->pub_waiters);
}

void pm_ring_release(pm_ring *r, uint64_t upto)
{
    reader *me = &r->readers[r->me];
    if (atomic_load(&me->done) >= upto)
        return;
    atomic_store(&me->done, upto);
    wake_all(&r->c->rel_seq, &r->c->rel_waiters);
}

const unsigned char *pm_ring_read(pm_ring *r, uint64_t seq, double *waited)
{
    pm_ring_release(r, seq);
    double t0 = 0;
    for (int slept = 0;; slept = 1) {
        uint32_t seen = atomic_load(&r->c->pub_seq);
        int failed = atomic_load(&r->c->failed) != 0;
        if (failed || atomic_load(&r->c->published) > seq) {
            if (slept && waited)
                *waited += pm_now() - t0;
            return failed ? NULL : pm_ring_slot(r, seq);
        }
        if (!slept)
            t0 = pm_now();
        atomic_fetch_add(&r->c->pub_waiters, 1);
        wait_change(&r->c->pub_seq, seen, 100000000L);
        atomic_fetch_sub(&r->c->pub_waiters, 1);
    }
}

int pm_ring_claim(pm_ring *r, uint64_t gen, uint64_t part)
{
    /* Words only grow: a later bundle's, or a later part's of the same
     * slot, is larger than anything before it. */
    uint64_t want = gen << 40 | (part + 1);
    _Atomic uint64_t *w = &r->claims[part % r->nclaims];
    uint64_t cur = atomic_load(w);
    while (cur < want)
        if (atomic_compare_exchange_weak(w, &cur, want))
            return 1;
    return 0;
}
