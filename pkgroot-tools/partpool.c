/* partpool.c - parts compressed by worker threads (see partpool.h). */
#include "partpool.h"
#include "log.h"
#include "strutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
    unsigned char *in, *out;
    size_t in_len, out_len, out_cap;
    char *err;
    int state;              /* 0 waiting, 1 taken by a worker, 2 done */
    int failed;
} job;

struct pk_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;    /* a job was queued, or stop */
    pthread_cond_t done;    /* a job was done */
    job *jobs;              /* a ring: [head, tail) submitted, oldest first */
    size_t cap, head, next, tail;   /* next: the oldest not yet taken */
    pthread_t *threads;
    int nthreads, started, stop;
    int failed;             /* a part or the sink failed: take no more */
    enum pk_part_codec codec;
    const char *label;
    pk_part_sink sink;
    void *ctx;
};

static const struct {
    const char *name, *suffix;
} codecs[] = {
    [PK_PART_ZSTD] = {"zstd", ".tar.zst"},
    [PK_PART_LZ4] = {"lz4", ".tar.lz4"},
    [PK_PART_STORED] = {"stored", ".tar"},
};

int pk_part_codec_parse(const char *name, enum pk_part_codec *codec)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(name, codecs[i].name) == 0) {
            *codec = (enum pk_part_codec)i;
            return 0;
        }
    return -1;
}

const char *pk_part_codec_suffix(enum pk_part_codec codec)
{
    return codecs[codec].suffix;
}

int pk_pool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static la_ssize_t grow_write(struct archive *a, void *client, const void *buf, size_t n)
{
    job *j = client;
    if (j->out_len + n > j->out_cap) {
        size_t cap = j->out_cap ? j->out_cap : (size_t)1 << 18;
        while (cap < j->out_len + n)
            cap *= 2;
        unsigned char *p = realloc(j->out, cap);
        if (!p) {
            archive_set_error(a, ENOMEM, "out of memory for a part");
            return -1;
        }
        j->out = p;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, buf, n);
    j->out_len += n;
    return (la_ssize_t)n;
}

/* lz4 frames without libarchive's default stream checksum: its XXH32
 * costs the unpacking ranks more CPU than the decompression itself, and it
 * guards nothing the delivery does not: rank 0 hashes every byte of the
 * bundle it reads and every node checks what it received (deliver.c), as
 * for zstd parts, which carry no checksum either.  256 KiB blocks rather
 * than 4 MiB: a block's output is still in the cache when it is written
 * out, and the unpacker's buffer is small. */
static int add_lz4(struct archive *a)
{
    int rc = archive_write_add_filter_lz4(a);
    if (rc == ARCHIVE_OK)
        rc = archive_write_set_filter_option(a, "lz4", "stream-checksum", NULL);
    if (rc == ARCHIVE_OK)
        rc = archive_write_set_filter_option(a, "lz4", "block-size", "5");
    return rc;
}

int pk_compress_part(enum pk_part_codec codec, const void *in, size_t len, unsigned char **out,
                     size_t *out_len, char **err)
{
    job j = {0};
    *out = NULL;
    *out_len = 0;
    *err = NULL;
    /* The raw format writes the bytes as they are: only the filter acts. */
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int ok = a && e &&
             (codec == PK_PART_LZ4 ? add_lz4(a) : archive_write_add_filter_zstd(a)) == ARCHIVE_OK &&
             archive_write_set_format_raw(a) == ARCHIVE_OK &&
             archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
             archive_write_open(a, &j, NULL, grow_write, NULL) == ARCHIVE_OK;
    if (ok) {
        archive_entry_set_pathname(e, "part");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t)len);
        ok = archive_write_header(a, e) == ARCHIVE_OK &&
             (len == 0 || archive_write_data(a, in, len) == (la_ssize_t)len) &&
             archive_write_close(a) == ARCHIVE_OK;
    }
    if (!ok)
        *err = strdup(a ? archive_error_string(a) ? archive_error_string(a) : "compression failed"
                        : "out of memory");
    archive_entry_free(e);
    if (a)
        archive_write_free(a);
    if (!ok) {
        free(j.out);
        return -1;
    }
    *out = j.out;
    *out_len = j.out_len;
    return 0;
}

static void compress_job(const pk_pool *p, job *j)
{
    j->failed = pk_compress_part(p->codec, j->in, j->in_len, &j->out, &j->out_len, &j->err) != 0;
    free(j->in);
    j->in = NULL;
}

static void *worker(void *arg)
{
    pk_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next == p->tail)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        job *j = &p->jobs[p->next++ % p->cap];
        j->state = 1;
        pthread_mutex_unlock(&p->mu);
        compress_job(p, j);
        pthread_mutex_lock(&p->mu);
        j->state = 2;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pk_pool *pk_pool_new(int threads, enum pk_part_codec codec, const char *label, pk_part_sink sink, void *ctx)
{
    pk_pool *p = calloc(1, sizeof *p);
    if (!p) {
        pm_error(label, "out of memory");
        return NULL;
    }
    p->nthreads = threads > 1 ? threads : 0;
    p->cap = p->nthreads ? 2 * (size_t)p->nthreads + 1 : 1;
    p->jobs = calloc(p->cap, sizeof *p->jobs);
    p->threads = p->nthreads ? calloc((size_t)p->nthreads, sizeof *p->threads) : NULL;
    p->codec = codec;
    p->label = label;
    p->sink = sink;
    p->ctx = ctx;
    if (!p->jobs || (p->nthreads && !p->threads)) {
        pm_error(label, "out of memory");
        free(p->jobs);
        free(p->threads);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    return p;
}

/* Threads start with the first part, with the cleanup signals blocked so
 * that only the main thread ever runs their handler (cleanup.h). */
static int start_threads(pk_pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (; p->started < p->nthreads; p->started++) {
        rc = pthread_create(&p->threads[p->started], NULL, worker, p);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0 && p->started == 0) {
        pm_error(p->label, "cannot start a compression thread: %s", strerror(rc));
        return -1;
    }
    return 0;   /* fewer threads than asked is only slower */
}

/* The oldest part, once compressed, to the sink.  Called with mu held;
 * the sink runs without it. */
static int hand_oldest(pk_pool *p)
{
    job *j = &p->jobs[p->head % p->cap];
    while (j->state != 2)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    int rc = 0;
    if (j->failed) {
        pm_error(p->label, "compressing a part: %s", j->err ? j->err : "out of memory");
        rc = -1;
    } else if (!p->failed) {
        rc = p->sink(p->ctx, j->out, j->out_len);
    }
    free(j->out);
    free(j->err);
    memset(j, 0, sizeof *j);
    pthread_mutex_lock(&p->mu);
    p->head++;
    if (rc != 0)
        p->failed = 1;
    return rc;
}

int pk_pool_submit(pk_pool *p, unsigned char *data, size_t len)
{
    if (p->failed) {
        free(data);
        return -1;
    }
    if (!p->nthreads) {
        job j = {.in = data, .in_len = len};
        compress_job(p, &j);
        int rc = j.failed ? -1 : p->sink(p->ctx, j.out, j.out_len);
        if (j.failed)
            pm_error(p->label, "compressing a part: %s", j.err ? j.err : "out of memory");
        free(j.out);
        free(j.err);
        p->failed = rc != 0;
        return rc;
    }
    if (p->started == 0 && start_threads(p) != 0) {
        free(data);
        p->failed = 1;
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    /* Full: the oldest goes out first.  Then whatever else is done. */
    while (rc == 0 && p->tail - p->head == p->cap)
        rc = hand_oldest(p);
    while (rc == 0 && p->head < p->tail && p->jobs[p->head % p->cap].state == 2)
        rc = hand_oldest(p);
    if (rc == 0) {
        job *j = &p->jobs[p->tail++ % p->cap];
        j->in = data;
        j->in_len = len;
        j->state = 0;
        data = NULL;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    free(data);
    return rc;
}

int pk_pool_finish(pk_pool *p)
{
    if (!p->nthreads)
        return p->failed ? -1 : 0;
    int rc = p->failed ? -1 : 0;
    pthread_mutex_lock(&p->mu);
    while (rc == 0 && p->head < p->tail)
        rc = hand_oldest(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pk_pool_free(pk_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    for (size_t i = 0; i < p->cap; i++) {
        free(p->jobs[i].in);
        free(p->jobs[i].out);
        free(p->jobs[i].err);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->jobs);
    free(p->threads);
    free(p);
}
