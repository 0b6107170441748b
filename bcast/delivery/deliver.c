/* deliver.c - the broadcast protocol between rank 0 and the node leaders,
 * and how the unpackers of a node share a parts bundle.
 *
 * Every broadcast goes from rank 0 to the leaders.  Per bundle:
 *   1. header  {status, size, parts?, identity, number of parts, stream?}:
 *      rank 0 could open it (status 0); each leader passes it on to the
 *      other unpackers of its node (unpackers.h);
 *   2. chunks  {status, payload}: ceil(size / chunk) broadcasts; a non-zero
 *      status means rank 0 failed to read, and every leader stops at once.
 *      A stream (a bundle still being made: deliver.h's feed) has a size
 *      that grows: when a leader has taken every chunk it knows of, one
 *      more collective (a maximum of {failed, size, done}: rank 0 gives
 *      the size and whether it is final, any leader whether it failed)
 *      says how far the bundle is written now (whole chunks until done),
 *      so every leader makes the same broadcasts in the same order without
 *      knowing the end, and all stop at once when one node cannot unpack;
 *   3. trailer {status, hash}: rank 0's XXH3-64 of the bytes it read, and
 *      whether the file changed while being read; each leader compares the
 *      hash of what it received;
 *   4. a vote of the unpackers (each node's, then the leaders'): did
 *      anyone fail?  Then all stop.
 * Each leader drives libarchive with a pull callback that performs the next
 * broadcast, so bytes are unpacked as they arrive.  If libarchive stops
 * early (an error, or the end-of-archive marker before the end of the
 * file), the leader keeps taking part in the remaining broadcasts so every
 * leader makes the same calls.
 *
 * A parts bundle with several active unpackers on a node: the leader
 * receives (rank 0: reads) each chunk straight into the node's shared ring
 * (ring.h), hashes it and publishes it; the other unpackers read it there,
 * and each part goes to whichever unpacker reaches it first.  Nothing is
 * copied between the ranks of a node, and the node holds a few chunks per
 * unpacker whatever the bundle's size.  Ranks that do not unpack take no
 * part at all: they sleep until their leader tells them the outcome. */
#include "deliver.h"
#include "archive_read.h"
#include "cache.h"
#include "chunk.h"
#include "log.h"
#include "relocate.h"
#include "mpi_util.h"
#include "ring.h"
#include "unpack.h"
#include "unpackers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define HDR 8 /* bytes of status before each chunk's payload */
/* A node's ring holds at least RING_MIN chunks, and RING_PER_UNPACKER
 * bytes per unpacker: the parts being unpacked at once (about 1 MiB of
 * files each, less compressed) and a few chunks to spare must all fit,
 * since the leader may run only nslots - 1 chunks ahead of the slowest. */
#define RING_MIN 4
#define RING_PER_UNPACKER ((size_t)2 << 20)

typedef struct stream {
    const pm_topology *t;
    const char *path;
    int fd;                 /* rank 0 only */
    int fed;                /* rank 0: fd is the feed's (never closed here) */
    const pm_feed *feed;    /* rank 0 */
    int stream;             /* leaders: the size grows (extend) until done */
    int unpack_failed;      /* leaders, a stream: this one's unpacking stopped */
    int done;               /* leaders: the size is final */
    uint64_t limit;         /* rank 0, stream: the most bytes it may grow to */
    uint64_t size, nchunks, next;
    size_t chunk;
    int leader;             /* receives the chunks (else reads them in the ring) */
    /* Where chunk k goes: the leader's double buffer (while libarchive
     * unpacks chunk k from one, chunk k+1 travels into the other), or the
     * node's ring, slot base + k. */
    unsigned char *bufs[2]; /* HDR + chunk bytes each */
    pm_ring *ring;
    uint64_t base;
    uint64_t gen;           /* ring: this bundle's number, for part claims */
    int nactive;            /* ring: the unpackers of this bundle */
    int nslots;             /* buffers: 2, or the ring's slots */
    MPI_Request *req;       /* one per buffer */
    uint64_t posted;        /* leaders: chunks whose broadcast has started */
    uint64_t checked;       /* leaders: chunks received, checked and hashed */
    unsigned char *buf;     /* the chunk last handed out */
    struct stat before;     /* rank 0: the file when opened */
    XXH3_state_t *hash;     /* leaders: of every payload byte, in order */
    int parts;              /* a parts bundle */
    uint64_t nparts;        /* as its marker says (0: not said) */
    int read_failed;        /* rank 0: a read failed; later chunks just say so */
    uint64_t digest;        /* rank 0's hash of the bundle, from the trailer */
    int source_failed;      /* rank 0 reported a read error */
    int mpi_failed;
    pm_deliver_stats *st;
} stream;

/* What every bundle of one delivery shares. */
typedef struct delivery {
    const pm_topology *t;
    pm_unpackers u;
    pm_ring *ring;          /* made at the first bundle that needs it */
    int ring_failed;        /* could not be made: leaders unpack alone */
    int nslots;             /* the ring's */
    uint64_t seq;           /* ring chunks used by earlier bundles */
    uint64_t gen;           /* bundles that went through the ring */
    MPI_Request *reqs;      /* leaders: one per buffer or slot */
    unsigned char *bufs[2]; /* leaders */
    size_t chunk;
    const char *destdir;
    pm_links *links;
    pm_budget *budget;      /* the node's, for every bundle (unpack.h) */
    uint64_t max_bytes;     /* PYTHON_MPI_MAX_UNPACKED (0: the default) */
    const pm_feed *feed;    /* rank 0: bundles made while delivered */
    pm_deliver_stats *st;
} delivery;

/* Rank 0: fill buf with chunk k.  Any failure becomes a status the
 * leaders receive instead of data. */
static void read_chunk(stream *s, unsigned char *buf, uint64_t k, size_t len)
{
    uint64_t status = s->read_failed;
    double t0 = pm_now();
    uint64_t off = pm_chunk_offset(s->chunk, k);
    size_t got = 0;
    while (!status && got < len) {
        ssize_t n = pread(s->fd, buf + HDR + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pm_error(s->path, "read failed at byte %llu: %s",
                     (unsigned long long)(off + got), strerror(errno));
            status = 1;
            break;
        }
        if (n == 0) {
            pm_error(s->path, "file shrank while being read (%llu of %llu bytes)",
                     (unsigned long long)(off + got), (unsigned long long)s->size);
            status = 1;
            break;
        }
        got += (size_t)n;
    }
    s->read_failed = status != 0;
    memcpy(buf, &status, sizeof status);
    s->st->t_read += pm_now() - t0;
}

/* Where chunk k lives, and the request that brings it there. */
static unsigned char *chunk_buf(stream *s, uint64_t k)
{
    return s->ring ? pm_ring_slot(s->ring, s->base + k) : s->bufs[k % 2];
}

static MPI_Request *chunk_req(stream *s, uint64_t k)
{
    return &s->req[s->ring ? (s->base + k) % (uint64_t)s->nslots : k % 2];
}

/* Leaders: start the broadcast of chunk s->posted (rank 0 reads it
 * first) into its buffer. */
static int post_chunk(stream *s)
{
    uint64_t k = s->posted++;
    unsigned char *b = chunk_buf(s, k);
    size_t len = pm_chunk_len(s->size, s->chunk, k);
    if (s->t->rank == 0)
        read_chunk(s, b, k, len);
#if MPI_VERSION >= 3
    return MPI_Ibcast(b, (int)(HDR + len), MPI_BYTE, 0, s->t->leaders, chunk_req(s, k));
#else
    *chunk_req(s, k) = MPI_REQUEST_NULL;
    return MPI_Bcast(b, (int)(HDR + len), MPI_BYTE, 0, s->t->leaders);
#endif
}

/* Leaders: chunk s->checked has arrived: its status, its hash, and (ring)
 * its publication to the node.  Returns 0, or -1 if the stream failed. */
static int check_chunk(stream *s)
{
    uint64_t k = s->checked;
    unsigned char *b = chunk_buf(s, k);
    uint64_t status;
    memcpy(&status, b, sizeof status);
    if (status) {
        s->source_failed = 1;
    } else if (XXH3_64bits_update(s->hash, b + HDR, pm_chunk_len(s->size, s->chunk, k)) == XXH_ERROR) {
        pm_error(s->path, "hashing failed");
        s->mpi_failed = 1;
    }
    if (s->source_failed || s->mpi_failed) {
        if (s->ring)
            pm_ring_fail(s->ring);
        return -1;
    }
    if (s->ring)
        pm_ring_publish(s->ring, s->base + k);
    s->checked++;
    return 0;
}

/* Leaders: check every chunk whose broadcast has completed, in order, so
 * the node's other unpackers get it even while this one is busy. */
static void check_arrived(stream *s)
{
    while (!s->source_failed && !s->mpi_failed && s->checked < s->posted) {
        int done = 0;
        if (pm_mpi_check(MPI_Test(chunk_req(s, s->checked), &done, MPI_STATUS_IGNORE),
                         "MPI_Test(bundle chunk)")) {
            s->mpi_failed = 1;
            if (s->ring)
                pm_ring_fail(s->ring);
            return;
        }
        if (!done || check_chunk(s) != 0)
            return;
    }
}

static void progress(void *ctx)
{
    check_arrived(ctx);
}

/* Leaders: start every broadcast there is a free buffer for (the double
 * buffer's other half; the ring's slots that every unpacker has left),
 * and check what has arrived.  Never waits. */
static int pump(stream *s, uint64_t k)
{
    uint64_t ahead = s->ring ? (uint64_t)s->nslots - 1 : 1;
    int rc = MPI_SUCCESS;
    while (rc == MPI_SUCCESS && !s->mpi_failed && !s->source_failed &&
           s->posted < s->nchunks && s->posted <= k + ahead &&
           (!s->ring || pm_ring_writable(s->ring, s->base + s->posted, s->base, s->nactive))) {
        rc = post_chunk(s);
        /* Each chunk to the node as soon as it is in (on rank 0's node,
         * as soon as it is read), not after the whole batch. */
        if (rc == MPI_SUCCESS && s->ring)
            check_arrived(s);
    }
    if (rc == MPI_SUCCESS)
        check_arrived(s);
    return rc;
}

/* Leaders: take chunk s->next; returns its payload length, or -1.  Every
 * leader starts and completes the same broadcasts in the same order,
 * whatever its own unpacking does, so the collectives always match. */
static ssize_t next_chunk(stream *s)
{
    uint64_t k = s->next;
    double t0 = pm_now();
    /* libarchive asks for chunk k: it is done with chunk k-1. */
    if (s->ring)
        pm_ring_release(s->ring, s->base + k);
    int rc = pump(s, k);
    /* Chunk k itself must come, once its slot is free (waiting for the
     * node's unpackers is not broadcasting: it counts as unpacking). */
    while (rc == MPI_SUCCESS && !s->mpi_failed && !s->source_failed && s->posted <= k) {
        if (s->ring) {
            double w0 = pm_now();
            pm_ring_wait_writable(s->ring, s->base + s->posted, s->base, s->nactive, progress, s);
            t0 += pm_now() - w0;
        }
        if (!s->mpi_failed && !s->source_failed)
            rc = post_chunk(s);
    }
    while (rc == MPI_SUCCESS && !s->mpi_failed && !s->source_failed && s->checked <= k) {
        rc = MPI_Wait(chunk_req(s, s->checked), MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS)
            (void)check_chunk(s);
    }
    if (rc == MPI_SUCCESS)
        check_arrived(s);
    s->st->t_bcast += pm_now() - t0;
    if (pm_mpi_check(rc, "MPI_Bcast(bundle chunk)")) {
        s->mpi_failed = 1;
        if (s->ring)
            pm_ring_fail(s->ring);
    }
    if (s->mpi_failed || s->source_failed)
        return -1;
    s->buf = chunk_buf(s, k);
    s->next++;
    return (ssize_t)pm_chunk_len(s->size, s->chunk, k);
}

/* Parts through the ring go first come, first served; the leader first
 * feeds the node whatever the ring has room for. */
static int claim_part(void *ctx, uint64_t index, int64_t size)
{
    stream *s = ctx;
    (void)size;
    if (s->leader && pm_mpi_check(pump(s, s->next), "MPI_Bcast(bundle chunk)") != MPI_SUCCESS) {
        s->mpi_failed = 1;
        pm_ring_fail(s->ring);
    }
    return pm_ring_claim(s->ring, s->gen, index);
}

/* The node's other unpackers: chunk s->next, from the ring. */
static ssize_t read_ring(stream *s)
{
    const unsigned char *b = pm_ring_read(s->ring, s->base + s->next, &s->st->t_bcast);
    if (!b) {
        s->source_failed = 1;   /* the leader stopped: it or rank 0 says why */
        return -1;
    }
    s->buf = (unsigned char *)b;
    return (ssize_t)pm_chunk_len(s->size, s->chunk, s->next++);
}

/* Complete any broadcast still in flight (after a failure stopped the
 * stream early) before its buffer goes. */
static void finish_chunks(stream *s)
{
    for (int i = 0; s->req && i < s->nslots; i++)
        if (s->req[i] != MPI_REQUEST_NULL)
            (void)pm_mpi_check(MPI_Wait(&s->req[i], MPI_STATUS_IGNORE), "MPI_Wait(bundle chunk)");
}

/* Rank 0, a bundle made while it was sent (done now: its maker exited):
 * its size and mtime moved all along, so only its bytes can tell that a
 * part already sent was rewritten in place.  Its state is cached from
 * this file, which must hold what every node verified: it is read again
 * (from the page cache) and hashed, its mtime and ctime unchanged
 * meanwhile.  1 if it differs (said why). */
static int fed_rewritten(stream *s)
{
    const size_t len = (size_t)1 << 20;
    unsigned char *buf = malloc(len);
    XXH3_state_t *h = XXH3_createState();
    struct stat a, b, p;
    uint64_t off = 0;
    int differs = 1;
    double t0 = pm_now();
    if (!buf || !h || XXH3_64bits_reset(h) == XXH_ERROR) {
        pm_error(s->path, "out of memory to check the bundle made");
        goto out;
    }
    if (fstat(s->fd, &a) != 0) {
        pm_error(s->path, "cannot stat bundle: %s", strerror(errno));
        goto out;
    }
    while (off < s->size) {
        size_t want = s->size - off < len ? (size_t)(s->size - off) : len;
        ssize_t n = pread(s->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || XXH3_64bits_update(h, buf, (size_t)n) == XXH_ERROR)
            break;
        off += (uint64_t)n;
    }
    /* ... and still the file its path names (the state is renamed into
     * the cache by path: one renamed over it would be cached instead). */
    differs = off != s->size || XXH3_64bits_digest(h) != XXH3_64bits_digest(s->hash) ||
              stat(s->path, &p) != 0 || p.st_dev != a.st_dev || p.st_ino != a.st_ino ||
              fstat(s->fd, &b) != 0 || b.st_size != a.st_size ||
              b.st_mtim.tv_sec != a.st_mtim.tv_sec || b.st_mtim.tv_nsec != a.st_mtim.tv_nsec ||
              b.st_ctim.tv_sec != a.st_ctim.tv_sec || b.st_ctim.tv_nsec != a.st_ctim.tv_nsec;
    if (differs)
        pm_error(s->path, "bundle rewritten while being sent (it no longer holds the bytes sent)");
out:
    free(buf);
    XXH3_freeState(h);
    s->st->t_read += pm_now() - t0;
    return differs;
}

/* Rank 0: did the file change between open and the last read?  A bundle
 * rewritten under a running job must not become a mixed environment. */
static int changed_while_read(stream *s)
{
    struct stat now;
    if (fstat(s->fd, &now) != 0) {
        pm_error(s->path, "cannot stat bundle: %s", strerror(errno));
        return 1;
    }
    char extra;
    ssize_t n = pread(s->fd, &extra, 1, (off_t)s->size);
    /* A stream was written while read: done, it no longer grows, and
     * holds exactly what was sent. */
    if (s->fed && n == 0 && (uint64_t)now.st_size == s->size)
        return fed_rewritten(s);
    if (now.st_size != s->before.st_size || n != 0 ||
        now.st_mtim.tv_sec != s->before.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != s->before.st_mtim.tv_nsec ||
        now.st_ctim.tv_sec != s->before.st_ctim.tv_sec ||
        now.st_ctim.tv_nsec != s->before.st_ctim.tv_nsec) {
        pm_error(s->path, "bundle changed while being read");
        return 1;
    }
    return 0;
}

/* Step 3 (leaders): rank 0 sends the hash of what it read; each leader
 * checks what it received.  Returns 0 if this leader's bytes are verified. */
static int verify_trailer(stream *s)
{
    uint64_t trailer[2] = {0, 0};
    if (s->t->rank == 0) {
        trailer[0] = changed_while_read(s);
        trailer[1] = XXH3_64bits_digest(s->hash);
    }
    if (pm_mpi_check(MPI_Bcast(trailer, 2, MPI_UINT64_T, 0, s->t->leaders), "MPI_Bcast(bundle trailer)")) {
        s->mpi_failed = 1;
        return -1;
    }
    if (trailer[0]) {
        s->source_failed = 1;
        return -1;
    }
    s->digest = trailer[1];
    uint64_t mine = XXH3_64bits_digest(s->hash);
    if (mine != trailer[1]) {
        pm_error(s->path, "checksum mismatch: received %016llx, rank 0 read %016llx",
                 (unsigned long long)mine, (unsigned long long)trailer[1]);
        return -1;
    }
    return 0;
}

/* Rank 0, a stream: wait until the file under s->fd holds at least one
 * whole chunk beyond s->size, or is done, keeping the broadcasts already
 * started moving meanwhile.  ext = {status, size, done}. */
static void grow(stream *s, uint64_t ext[3])
{
    const struct timespec nap = {0, 1000000};
    double t0 = pm_now();
    ext[0] = 1;
    ext[1] = s->size;
    ext[2] = 0;
    for (;;) {
        int done = 0;
        struct stat st;
        if (s->feed->poll(s->feed->ctx, s->fd, &done) != 0)
            break;   /* the feed said why */
        if (fstat(s->fd, &st) != 0) {
            pm_error(s->path, "cannot stat the bundle being made: %s", strerror(errno));
            break;
        }
        uint64_t now = (uint64_t)st.st_size;
        if (now > s->limit) {
            pm_error(s->path, "the bundle being made is %llu bytes, more than the limit %llu "
                     "(PYTHON_MPI_MAX_UNPACKED, default the size of the node-local file system)",
                     (unsigned long long)now, (unsigned long long)s->limit);
            break;
        }
        if (now < s->size) {
            pm_error(s->path, "the bundle being made shrank (%llu bytes, %llu sent)",
                     (unsigned long long)now, (unsigned long long)s->size);
            break;
        }
        if (done || now - s->size >= s->chunk) {
            ext[0] = 0;
            ext[1] = done ? now : now - now % s->chunk;
            ext[2] = done;
            break;
        }
        check_arrived(s);
        (void)nanosleep(&nap, NULL);
    }
    s->st->t_read += pm_now() - t0;
}

/* Leaders, a stream whose known chunks are all taken: the next extent
 * {failed, size, done}, rank 0's, with every leader's failure folded in
 * (a maximum): a node that cannot unpack stops the stream, and its
 * pkgroot, now rather than when the bundle is made.  Returns 0, or -1 if
 * the stream failed. */
static int extend(stream *s)
{
    uint64_t mine[3] = {s->unpack_failed != 0, 0, 0}, ext[3];
    if (s->t->rank == 0 && !s->unpack_failed)
        grow(s, mine);
    double t0 = pm_now();
    int rc = MPI_Allreduce(mine, ext, 3, MPI_UINT64_T, MPI_MAX, s->t->leaders);
    s->st->t_bcast += pm_now() - t0;
    if (pm_mpi_check(rc, "MPI_Allreduce(bundle extent)")) {
        s->mpi_failed = 1;
        return -1;
    }
    if (ext[0] || ext[1] < s->size) {
        if (s->t->rank == 0)
            pm_info(1, "%s: the stream stops after %llu bytes: %s", s->path, (unsigned long long)s->size,
                    s->unpack_failed ? "this node could not unpack it"
                    : mine[0] ? "it could not be sent" : "a node could not unpack it");
        s->source_failed = 1;
        return -1;
    }
    s->size = ext[1];
    s->done = ext[2] != 0;
    s->nchunks = pm_chunk_count(s->size, s->chunk);
    return 0;
}

/* Leaders: are there chunks still to come (a stream: perhaps)? */
static int more_to_come(const stream *s)
{
    return s->next < s->nchunks || (s->stream && !s->done);
}

static ssize_t pull(void *ctx, const void **buf)
{
    stream *s = ctx;
    if (s->source_failed || s->mpi_failed)
        return -1;
    while (s->next == s->nchunks && s->leader && s->stream && !s->done)
        if (extend(s) != 0)
            return -1;
    if (s->next == s->nchunks)
        return 0;
    ssize_t n = s->leader ? next_chunk(s) : read_ring(s);
    if (n >= 0)
        *buf = s->buf + HDR;
    return n;
}

/* Rank 0: open the bundle, learn its size, kind and identity: hdr =
 * {status (0 or 1), size, parts bundle?, pm_bundle_id, number of parts
 * (0: not known)}. */
#define HDR_NPARTS (3 + PM_BUNDLE_ID_WORDS)
#define HDR_STREAM (HDR_NPARTS + 1)
#define NHDR (HDR_STREAM + 1)
/* The most bytes a bundle may hold: PYTHON_MPI_MAX_UNPACKED, else the
 * size of destdir's file system (rank 0's; NULL or unknown: no bound).
 * A bundle is read, hashed and sent to every node whole, so its own size
 * is bounded too, not only what it unpacks to. */
static uint64_t bundle_limit(const char *destdir, uint64_t max)
{
    struct statvfs sv;
    if (max || !destdir || statvfs(destdir, &sv) != 0 || !sv.f_blocks)
        return max ? max : UINT64_MAX;
    return (uint64_t)sv.f_blocks * sv.f_frsize;
}

/* Rank 0: a fed bundle's making started; its first extent (one chunk, or
 * all of it) is in place.  hdr as for open_bundle. */
static void open_stream(stream *s, uint64_t hdr[NHDR], const char *destdir, uint64_t max)
{
    s->fed = 1;
    s->limit = bundle_limit(destdir, max);
    uint64_t ext[3];
    grow(s, ext);
    struct stat st;
    if (ext[0] || fstat(s->fd, &st) != 0)
        return;
    s->before = st;
    unsigned char head[1024];
    ssize_t n = pread(s->fd, head, sizeof head, 0);
    hdr[2] = pm_is_parts_bundle(head, n > 0 ? (size_t)n : 0);
    hdr[HDR_NPARTS] = 0;   /* a stream's count is not said */
    hdr[HDR_STREAM] = ext[2] == 0;
    hdr[1] = ext[1];
    pm_bundle_id_of(&st, (pm_bundle_id *)&hdr[3]);
    hdr[0] = 0;
}

static void open_bundle(stream *s, uint64_t hdr[NHDR], const char *destdir, uint64_t max)
{
    memset(hdr, 0, NHDR * sizeof *hdr);
    hdr[0] = 1;
    if (s->feed) {
        int fd = -1, fed = s->feed->start(s->feed->ctx, s->path, &fd);
        if (fed < 0)
            return;
        if (fed) {
            s->fd = fd;
            open_stream(s, hdr, destdir, max);
            return;
        }
    }
    /* Never blocks (a FIFO), only a regular file, not one another user
     * could have put in a directory everybody can write (archive_read.h). */
    struct stat st;
    pm_err err = PM_ERR_INIT;
    s->fd = pm_input_open_err(s->path, "bundle", &st, &err);
    if (s->fd < 0) {
        pm_err_print(&err);
        return;
    }
    s->before = st;
    uint64_t limit = bundle_limit(destdir, max);
    if ((uint64_t)st.st_size > limit) {   /* before reading any of it */
        pm_error(s->path, "the bundle is %llu bytes, more than the limit %llu "
                 "(PYTHON_MPI_MAX_UNPACKED, default the size of the node-local file system)",
                 (unsigned long long)st.st_size, (unsigned long long)limit);
        close(s->fd);
        s->fd = -1;
        return;
    }
    /* The marker's header and text (unpack.h). */
    unsigned char head[1024];
    ssize_t n = pread(s->fd, head, sizeof head, 0);
    size_t got = n > 0 ? (size_t)n : 0;
    hdr[2] = pm_is_parts_bundle(head, got);
    hdr[HDR_NPARTS] = hdr[2] ? pm_parts_count(head, got) : 0;
    hdr[0] = 0;
    hdr[1] = (uint64_t)st.st_size;
    pm_bundle_id_of(&st, (pm_bundle_id *)&hdr[3]);
}

/* The node's unpackers.  Returns 0 if this rank did its share (nothing,
 * for a rank with no part in this bundle); 1 if it failed locally; 2 if
 * the failure is shared by all (source or MPI). */
static int deliver_one(delivery *d, const char *path, pm_bundle_id *id, uint64_t *digest)
{
    const pm_topology *t = d->t;
    stream s = {.t = t, .path = path, .fd = -1, .chunk = d->chunk, .feed = d->feed,
                .leader = t->leaders != MPI_COMM_NULL, .bufs = {d->bufs[0], d->bufs[1]},
                .nslots = 2, .req = d->reqs, .st = d->st};
    uint64_t hdr[NHDR] = {0};
    if (t->rank == 0)
        open_bundle(&s, hdr, d->destdir, d->max_bytes);
    int rc = MPI_SUCCESS;
    if (s.leader)
        rc = MPI_Bcast(hdr, NHDR, MPI_UINT64_T, 0, t->leaders);
    /* The node's other unpackers wait without spinning: the header of a
     * bundle still being made (a stream) comes once its first chunk is
     * written, and meanwhile its pkgroot wants every core of rank 0's
     * node. */
    if (rc == MPI_SUCCESS && d->u.comm != MPI_COMM_NULL && pm_polite_bcast(hdr, NHDR, MPI_UINT64_T, 0, d->u.comm) != 0)
        rc = MPI_ERR_OTHER;
    if (pm_mpi_check(rc, "MPI_Bcast(bundle header)") || hdr[0]) {
        if (s.fd >= 0 && !s.fed)
            close(s.fd);
        return 2;
    }
    s.stream = hdr[HDR_STREAM] != 0;
    s.done = !s.stream;
    s.size = hdr[1];
    s.parts = hdr[2] != 0;
    s.nparts = hdr[HDR_NPARTS];
    memcpy(id, &hdr[3], sizeof *id);
    s.nchunks = pm_chunk_count(s.size, d->chunk);

    /* Several unpackers share the chunks in the ring; every unpacker of
     * the node makes the same choice from the same header. */
    int nactive = s.parts && !s.stream ? pm_unpackers_active(d->u.n, s.nparts) : 1;
    if (nactive > 1 && !d->ring && !d->ring_failed) {
        d->ring = pm_ring_new(d->u.comm, d->nslots, HDR + d->chunk);
        d->ring_failed = !d->ring;
        /* From here the node's unpackers count in one budget (unpack.h). */
        pm_budget_share(d->budget, pm_ring_budget(d->ring));
        if (!d->ring && s.leader)
            pm_info(1, "%s: no shared memory for the node's unpackers: the leader unpacks alone", path);
    }
    if (!d->ring)
        nactive = 1;
    if (nactive > 1) {
        s.ring = d->ring;
        s.base = d->seq;
        s.gen = ++d->gen;
        s.nactive = nactive;
        s.nslots = d->nslots;
        d->seq += s.nchunks;
    }
    for (int i = 0; s.leader && i < s.nslots; i++)
        s.req[i] = MPI_REQUEST_NULL;
    if (!s.leader && d->u.rank >= nactive)
        return 0;
    if (s.leader) {
        s.hash = XXH3_createState();
        if (!s.hash || XXH3_64bits_reset(s.hash) == XXH_ERROR) {
            /* Every leader must still make the same broadcasts: abort. */
            pm_error(path, "out of memory for a hash state");
            pm_abort(t->world, 1);
        }
    }

    pm_unpack_stats us;
    double t0 = pm_now();
    pm_unpack_opts o = {.label = path, .links = d->links, .budget = d->budget,
                        .claim = s.ring ? claim_part : NULL, .claim_ctx = &s};
    pm_err err = PM_ERR_INIT;
    int urc = s.parts ? pm_unpack_parts(d->destdir, pull, &s, &o, &us, &err)
                      : pm_unpack(d->destdir, pull, &s, &o, &us, &err);
    pm_err_print(&err);
    if (s.ring)   /* this rank's share is done: only the others hold slots */
        pm_ring_release(s.ring, s.base + s.nchunks);
    if (s.leader) {
        /* Keep pace with the others through the rest of the chunks (a
         * stream: until the next extent says stop). */
        s.unpack_failed = urc != 0;
        while (!s.source_failed && !s.mpi_failed && more_to_come(&s)) {
            if (s.next == s.nchunks)
                (void)extend(&s);
            else
                (void)next_chunk(&s);
        }
        finish_chunks(&s);
        if (!s.source_failed && !s.mpi_failed && verify_trailer(&s) != 0 && urc == 0)
            urc = -1;
        *digest = s.digest;
        XXH3_freeState(s.hash);
    }
    if (s.fd >= 0 && !s.fed && close(s.fd) != 0)
        pm_error(path, "close failed: %s", strerror(errno));
    if (urc == 0) {
        if (s.leader)
            d->st->bytes += s.size;
        d->st->entries += us.entries;
        pm_info(2, "%s: %llu entries%s, %llu bytes in %.3f s", path,
                (unsigned long long)us.entries, s.parts ? " (this rank's parts)" : "",
                (unsigned long long)s.size, pm_now() - t0);
    }
    if (s.source_failed || s.mpi_failed)
        return 2;
    return urc == 0 ? 0 : 1;
}

int pm_deliver_check(const pm_topology *t, const pm_pkglist *bundles, const pm_feed *feed, uint64_t max_bytes)
{
    int failed = 0;
    if (t->rank == 0) {
        for (size_t i = 0; i < bundles->n; i++) {
            if (feed && feed->fed(feed->ctx, bundles->paths[i]))
                continue;   /* checked as it grows */
            stream s = {.path = bundles->paths[i], .fd = -1};
            uint64_t hdr[NHDR];
            open_bundle(&s, hdr, NULL, max_bytes);   /* the explicit limit only */
            if (s.fd >= 0)
                close(s.fd);
            failed |= hdr[0] != 0;
        }
    }
    return pm_agree_failed(t->world, failed);
}

/* The node's unpackers (every leader among them): 1 if any of them, on
 * any node, passed failed != 0, else 0; the same on each.  Among the
 * node's unpackers, then the leaders, then back: the ranks that do not
 * unpack are not woken for it. */
static int agree_unpackers(const delivery *d, int failed)
{
    int f = failed != 0;
    if (d->u.comm != MPI_COMM_NULL)
        f = pm_agree_failed(d->u.comm, f);
    if (d->t->leaders != MPI_COMM_NULL)
        f = pm_agree_failed(d->t->leaders, f);
    if (d->u.comm != MPI_COMM_NULL && pm_polite_bcast(&f, 1, MPI_INT, 0, d->u.comm) != MPI_SUCCESS)
        f = 1;
    return f;
}

int pm_deliver(const pm_topology *t, const pm_pkglist *bundles, const pm_feed *feed, const char *destdir,
               int fresh, const pm_settings *cfg, pm_deliver_stats *stats)
{
    pm_deliver_stats local;
    pm_deliver_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    double t0 = pm_now();
    delivery d = {.t = t, .chunk = cfg->chunk, .destdir = destdir, .st = st,
                  .max_bytes = cfg->max_unpacked, .feed = t->rank == 0 ? feed : NULL};
    pm_err err = PM_ERR_INIT;
    int leader = t->leaders != MPI_COMM_NULL;
    int bad = pm_unpackers_open(&d.u, t, cfg->unpackers) != 0;
    /* A node's delivery starts with its leader, which sends the others the
     * number of unpackers: a rank that arrived earlier was waiting for
     * whatever kept the leader (making the directory), not delivering. */
    if (t->node_rank != 0)
        t0 = pm_now();
    /* Leaders receive into two chunk buffers, whatever the size of the
     * bundle; the node's other unpackers read from the leader's ring. */
    size_t want = (size_t)d.u.n * RING_PER_UNPACKER;
    d.nslots = (int)((want + d.chunk - 1) / d.chunk);
    if (d.nslots < RING_MIN)
        d.nslots = RING_MIN;
    if (leader) {
        d.bufs[0] = malloc(HDR + d.chunk);
        d.bufs[1] = malloc(HDR + d.chunk);
        d.reqs = malloc((size_t)d.nslots * sizeof *d.reqs);
        if (!d.bufs[0] || !d.bufs[1] || !d.reqs) {
            pm_error(NULL, "out of memory for two %zu-byte chunk buffers", d.chunk);
            bad = 1;
        }
    }
    pm_bundle_id *ids = calloc(bundles->n ? bundles->n : 1, sizeof *ids);
    uint64_t *digests = calloc(bundles->n ? bundles->n : 1, sizeof *digests);
    d.links = fresh ? pm_links_new() : NULL;
    if (!ids || !digests || (fresh && !d.links)) {
        pm_error(NULL, "out of memory");
        bad = 1;
    }
    /* The node's other ranks take no part from here on: they sleep until
     * their leader tells them the outcome, at the end. */
    int failed = 1;
    if (d.u.rank >= 0) {
        /* One budget of bytes and entries for the node's whole delivery
         * (unpack.h), made before any of its unpackers writes. */
        d.budget = pm_budget_new(destdir, cfg->max_unpacked, cfg->max_entries);
        if (!d.budget) {
            pm_error(destdir, "out of memory");
            bad = 1;
        }
        /* All must agree before any broadcast so none is left waiting in
         * one that another will never make. */
        failed = agree_unpackers(&d, bad);
        /* The transaction (cache.h): every node's tree is marked as
         * changing, on disk, before any node writes its first byte. */
        if (!failed)
            failed = agree_unpackers(&d, leader && pm_cache_begin(destdir) != 0);
        /* Manifests still in the tree were never applied (applied ones are
         * removed): they belong to no bundle of this delivery. */
        if (!failed)
            failed = agree_unpackers(&d, leader && pm_relocate_discard_tree(destdir, &err) < 0);
        pm_err_print(&err);
        for (size_t i = 0; !failed && i < bundles->n; i++) {
            /* Every unpacker votes after every bundle, whatever happened
             * to it: a collective skipped by some would hang the others. */
            int r = deliver_one(&d, bundles->paths[i], &ids[i], &digests[i]);
            failed = agree_unpackers(&d, r != 0);
        }
        /* Every unpacker has voted after its share of the last bundle, so
         * each node's files are all in place: the links can be made, and
         * then install prefixes rewritten. */
        if (!failed) {   /* collective: freshness can differ between nodes */
            double t_links = pm_now();
            long n = pm_links_create(d.links, destdir, &err);
            pm_err_print(&err);
            if (n > 0)
                pm_info(2, "%s: %ld symbolic link(s) made", destdir, n);
            failed = agree_unpackers(&d, n < 0);
            st->t_links = pm_now() - t_links;
        }
        if (!failed) {
            long n = leader ? pm_relocate_tree(destdir, cfg->max_unpacked, &err) : 0;
            pm_err_print(&err);
            if (n > 0)
                pm_info(2, "%s: %ld file(s) relocated", destdir, n);
            failed = agree_unpackers(&d, n < 0);
        }
        /* Stamps only once every node holds every bundle (see cache.h);
         * a failure leaves the marker, so the tree is never trusted. */
        if (leader && ids && digests)
            (void)pm_cache_end(destdir, !failed, ids, digests, bundles->paths, bundles->n);
    }
    pm_budget_free(d.budget);
    pm_links_free(d.links);
    /* Every unpacker knows the outcome; the leader tells the rest. */
    if (t->node_size > 1 && pm_polite_share(&failed, 0, t->node) != MPI_SUCCESS)
        failed = 1;
    free(ids);
    free(digests);
    /* Collective over the node's unpackers, who all made it. */
    pm_ring_free(d.ring);
    pm_unpackers_close(&d.u);
    free(d.bufs[0]);
    free(d.bufs[1]);
    free(d.reqs);
    st->t_total = pm_now() - t0;
    st->t_unpack = st->t_total - st->t_read - st->t_bcast;
    return failed;
}
