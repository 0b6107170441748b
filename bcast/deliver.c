/* deliver.c - the broadcast protocol between rank 0 and the node leaders.
 *
 * Every broadcast goes from rank 0 to the leaders and, for parts bundles
 * (which every rank of a node unpacks a share of), on from each leader to
 * its node.  Per bundle:
 *   1. header  {status, size}: rank 0 could open it (status 0) and its size;
 *   2. chunks  {status, payload}: ceil(size / chunk) broadcasts; a non-zero
 *      status means rank 0 failed to read, and every leader stops at once;
 *   3. trailer {status, hash}: rank 0's XXH3-64 of the bytes it read, and
 *      whether the file changed while being read; each leader compares the
 *      hash of what it received;
 *   4. a vote: did any leader fail to unpack or verify?  Then all stop.
 * Each leader drives libarchive with a pull callback that performs the next
 * broadcast, so bytes are unpacked as they arrive.  If libarchive stops
 * early (an error, or the end-of-archive marker before the end of the
 * file), the leader keeps taking part in the remaining broadcasts so every
 * leader makes the same calls. */
#include "deliver.h"
#include "cache.h"
#include "chunk.h"
#include "log.h"
#include "relocate.h"
#include "mpi_util.h"
#include "unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define HDR 8 /* bytes of status before each chunk's payload */

typedef struct stream {
    const pm_topology *t;
    const char *path;
    int fd;                 /* rank 0 only */
    uint64_t size, nchunks, next;
    size_t chunk;
    /* Double buffer: while libarchive unpacks chunk k from one, chunk k+1
     * travels into the other (leaders: a non-blocking broadcast). */
    unsigned char *bufs[2]; /* HDR + chunk bytes each */
    MPI_Request req[2];
    uint64_t posted;        /* leaders: chunks whose broadcast has started */
    unsigned char *buf;     /* the chunk last handed out */
    struct stat before;     /* rank 0: the file when opened */
    XXH3_state_t *hash;     /* of every payload byte, in order */
    int parts;              /* a parts bundle: the whole node takes part */
    int read_failed;        /* rank 0: a read failed; later chunks just say so */
    uint64_t digest;        /* rank 0's hash of the bundle, from the trailer */
    int source_failed;      /* rank 0 reported a read error */
    int mpi_failed;
    pm_deliver_stats *st;
} stream;

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

/* Rank 0 -> leaders -> (parts bundles, or always with node_too) node. */
static int relay(const pm_topology *t, void *buf, int count, MPI_Datatype type, int node_too)
{
    int rc = MPI_SUCCESS;
    if (t->leaders != MPI_COMM_NULL)
        rc = MPI_Bcast(buf, count, type, 0, t->leaders);
    if (rc == MPI_SUCCESS && node_too && t->node_size > 1)
        rc = MPI_Bcast(buf, count, type, 0, t->node);
    return rc;
}

/* Leaders: start the broadcast of chunk s->posted (rank 0 reads it
 * first) into the buffer it alternates into. */
static int post_chunk(stream *s)
{
    uint64_t k = s->posted++;
    unsigned char *b = s->bufs[k % 2];
    size_t len = pm_chunk_len(s->size, s->chunk, k);
    if (s->t->rank == 0)
        read_chunk(s, b, k, len);
#if MPI_VERSION >= 3
    return MPI_Ibcast(b, (int)(HDR + len), MPI_BYTE, 0, s->t->leaders, &s->req[k % 2]);
#else
    s->req[k % 2] = MPI_REQUEST_NULL;
    return MPI_Bcast(b, (int)(HDR + len), MPI_BYTE, 0, s->t->leaders);
#endif
}

/* Take chunk s->next; returns its payload length, or -1.  Every leader
 * starts and completes the same broadcasts in the same order, whatever
 * its own unpacking does, so the collectives always match. */
static ssize_t next_chunk(stream *s)
{
    uint64_t k = s->next;
    unsigned char *b = s->bufs[k % 2];
    size_t len = pm_chunk_len(s->size, s->chunk, k);
    double t0 = pm_now();
    int rc = MPI_SUCCESS;
    if (s->t->leaders != MPI_COMM_NULL) {
        /* Chunk k+1 may go into the other buffer: libarchive is done with
         * chunk k-1 once it asks for more. */
        while (rc == MPI_SUCCESS && s->posted < s->nchunks && s->posted <= k + 1)
            rc = post_chunk(s);
        if (rc == MPI_SUCCESS)
            rc = MPI_Wait(&s->req[k % 2], MPI_STATUS_IGNORE);
    }
    if (rc == MPI_SUCCESS && s->parts && s->t->node_size > 1)
        rc = MPI_Bcast(b, (int)(HDR + len), MPI_BYTE, 0, s->t->node);
    s->st->t_bcast += pm_now() - t0;
    if (pm_mpi_check(rc, "MPI_Bcast(bundle chunk)")) {
        s->mpi_failed = 1;
        return -1;
    }
    uint64_t status;
    memcpy(&status, b, sizeof status);
    if (status) {
        s->source_failed = 1;
        return -1;
    }
    if (XXH3_64bits_update(s->hash, b + HDR, len) == XXH_ERROR) {
        pm_error(s->path, "hashing failed");
        s->mpi_failed = 1;
        return -1;
    }
    s->buf = b;
    s->next++;
    return (ssize_t)len;
}

/* Complete any broadcast still in flight (after a failure stopped the
 * stream early) before its buffer goes. */
static void finish_chunks(stream *s)
{
    if (s->t->leaders == MPI_COMM_NULL)
        return;
    for (int i = 0; i < 2; i++)
        if (s->req[i] != MPI_REQUEST_NULL)
            (void)pm_mpi_check(MPI_Wait(&s->req[i], MPI_STATUS_IGNORE), "MPI_Wait(bundle chunk)");
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

/* Step 3: rank 0 sends the hash of what it read; each leader checks what it
 * received.  Returns 0 if this leader's bytes are verified. */
static int verify_trailer(stream *s)
{
    uint64_t trailer[2] = {0, 0};
    if (s->t->rank == 0) {
        trailer[0] = changed_while_read(s);
        trailer[1] = XXH3_64bits_digest(s->hash);
    }
    if (pm_mpi_check(relay(s->t, trailer, 2, MPI_UINT64_T, s->parts), "MPI_Bcast(bundle trailer)")) {
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

static ssize_t pull(void *ctx, const void **buf)
{
    stream *s = ctx;
    if (s->source_failed || s->mpi_failed)
        return -1;
    if (s->next == s->nchunks)
        return 0;
    ssize_t n = next_chunk(s);
    if (n >= 0)
        *buf = s->buf + HDR;
    return n;
}

/* Rank 0: open the bundle, learn its size, kind and identity: hdr =
 * {status (0 or 1), size, parts bundle?, pm_bundle_id}. */
#define NHDR (3 + PM_BUNDLE_ID_WORDS)
static void open_bundle(stream *s, uint64_t hdr[NHDR])
{
    memset(hdr, 0, NHDR * sizeof *hdr);
    hdr[0] = 1;
    s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        pm_error(s->path, "cannot open bundle: %s", strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        pm_error(s->path, "cannot stat bundle: %s", strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        pm_error(s->path, "not a regular file");
        return;
    }
    s->before = st;
    unsigned char head[512];
    ssize_t n = pread(s->fd, head, sizeof head, 0);
    hdr[2] = n == (ssize_t)sizeof head && pm_is_parts_bundle(head, sizeof head);
    hdr[0] = 0;
    hdr[1] = (uint64_t)st.st_size;
    pm_bundle_id_of(&st, (pm_bundle_id *)&hdr[3]);
}

/* Every rank.  Returns 0 if this rank did its share (nothing, for a
 * non-leader and a single-stream bundle); 1 if it failed locally; 2 if the
 * failure is shared by all (source or MPI). */
static int deliver_one(const pm_topology *t, const char *path, const char *destdir, pm_links *links,
                       unsigned char *bufs[2], size_t chunk, pm_deliver_stats *st,
                       pm_bundle_id *id, uint64_t *digest)
{
    stream s = {.t = t, .path = path, .fd = -1, .chunk = chunk,
                .bufs = {bufs[0], bufs[1]}, .req = {MPI_REQUEST_NULL, MPI_REQUEST_NULL},
                .st = st};
    uint64_t hdr[NHDR] = {0};
    if (t->rank == 0)
        open_bundle(&s, hdr);
    int rc = relay(t, hdr, NHDR, MPI_UINT64_T, 1);
    if (pm_mpi_check(rc, "MPI_Bcast(bundle header)") || hdr[0]) {
        if (s.fd >= 0)
            close(s.fd);
        return 2;
    }
    s.size = hdr[1];
    s.parts = hdr[2] != 0;
    memcpy(id, &hdr[3], sizeof *id);
    if (t->leaders == MPI_COMM_NULL && !s.parts)
        return 0;
    s.nchunks = pm_chunk_count(s.size, chunk);
    s.hash = XXH3_createState();
    if (!s.hash || XXH3_64bits_reset(s.hash) == XXH_ERROR) {
        /* Every rank must still make the same broadcasts: abort. */
        pm_error(path, "out of memory for a hash state");
        pm_abort(t->world, 1);
    }

    pm_unpack_stats us;
    double t0 = pm_now();
    int urc = s.parts ? pm_unpack_parts(destdir, path, pull, &s, t->node_rank, t->node_size, links, &us)
                      : pm_unpack(destdir, path, pull, &s, links, &us);
    /* Keep pace with the others through the rest of the chunks. */
    while (!s.source_failed && !s.mpi_failed && s.next < s.nchunks)
        (void)next_chunk(&s);
    finish_chunks(&s);
    if (!s.source_failed && !s.mpi_failed && verify_trailer(&s) != 0 && urc == 0)
        urc = -1;
    *digest = s.digest;
    XXH3_freeState(s.hash);
    if (s.fd >= 0 && close(s.fd) != 0)
        pm_error(path, "close failed: %s", strerror(errno));
    if (urc == 0) {
        if (t->leaders != MPI_COMM_NULL)
            st->bytes += s.size;
        st->entries += us.entries;
        pm_info(2, "%s: %llu entries%s, %llu bytes in %.3f s", path,
                (unsigned long long)us.entries, s.parts ? " (this rank's parts)" : "",
                (unsigned long long)s.size, pm_now() - t0);
    }
    if (s.source_failed || s.mpi_failed)
        return 2;
    return urc == 0 ? 0 : 1;
}

int pm_deliver_check(const pm_topology *t, const pm_pkglist *bundles)
{
    int failed = 0;
    if (t->rank == 0) {
        for (size_t i = 0; i < bundles->n; i++) {
            stream s = {.path = bundles->paths[i], .fd = -1};
            uint64_t hdr[NHDR];
            open_bundle(&s, hdr);
            if (s.fd >= 0)
                close(s.fd);
            failed |= hdr[0] != 0;
        }
    }
    return pm_agree_failed(t->world, failed);
}

int pm_deliver(const pm_topology *t, const pm_pkglist *bundles, const char *destdir,
               int fresh, size_t chunk, pm_deliver_stats *stats)
{
    pm_deliver_stats local;
    pm_deliver_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    double t0 = pm_now();
    /* Every rank may take part (parts bundles), so every rank has buffers:
     * two chunks, whatever the size of the bundle. */
    unsigned char *bufs[2] = {malloc(HDR + chunk), malloc(HDR + chunk)};
    if (!bufs[0] || !bufs[1])
        pm_error(NULL, "out of memory for two %zu-byte chunk buffers", chunk);
    /* All must agree before any broadcast so none is left waiting in one
     * that another will never make. */
    int failed = pm_agree_failed(t->world, !bufs[0] || !bufs[1]);
    pm_bundle_id *ids = calloc(bundles->n ? bundles->n : 1, sizeof *ids);
    uint64_t *digests = calloc(bundles->n ? bundles->n : 1, sizeof *digests);
    if (!failed && (!ids || !digests))
        pm_error(NULL, "out of memory");
    failed = failed || pm_agree_failed(t->world, !ids || !digests);
    pm_links *links = fresh ? pm_links_new() : NULL;
    if (!failed && fresh && !links)
        pm_error(NULL, "out of memory");
    failed = pm_agree_failed(t->world, failed || (fresh && !links));
    int leader = t->leaders != MPI_COMM_NULL;
    if (!failed && leader)
        pm_cache_begin(destdir);
    for (size_t i = 0; !failed && i < bundles->n; i++) {
        /* Every rank votes after every bundle, whatever happened to it:
         * a collective skipped by some ranks would hang the others. */
        int r = deliver_one(t, bundles->paths[i], destdir, links, bufs, chunk, st, &ids[i], &digests[i]);
        failed = pm_agree_failed(t->world, r != 0);
    }
    /* Every rank has voted after its share of the last bundle, so each
     * node's files are all in place: the links can be made, and then
     * install prefixes rewritten. */
    if (!failed) {   /* collective: freshness can differ between nodes */
        double t_links = pm_now();
        long n = pm_links_create(links, destdir);
        if (n > 0)
            pm_info(2, "%s: %ld symbolic link(s) made", destdir, n);
        failed = pm_agree_failed(t->world, n < 0);
        st->t_links = pm_now() - t_links;
    }
    pm_links_free(links);
    if (!failed) {
        long n = leader ? pm_relocate_tree(destdir) : 0;
        if (n > 0)
            pm_info(2, "%s: %ld file(s) relocated", destdir, n);
        failed = pm_agree_failed(t->world, n < 0);
    }
    /* Stamps only once every node holds every bundle (see cache.h). */
    if (leader && ids && digests)
        (void)pm_cache_end(destdir, !failed, ids, digests, bundles->paths, bundles->n);
    free(ids);
    free(digests);
    free(bufs[0]);
    free(bufs[1]);
    st->t_total = pm_now() - t0;
    st->t_unpack = st->t_total - st->t_read - st->t_bcast;
    return failed;
}
