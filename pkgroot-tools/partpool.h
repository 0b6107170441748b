/* partpool.h - compressing a parts bundle's parts on every core, in order.
 *
 * The writer builds each part's tar in memory and submits it; worker
 * threads compress the parts (zstd or lz4, through libarchive's own filter,
 * as a single thread would) while the writer goes on reading files for the
 * next; compressed parts are handed back to the writer's sink in the order
 * they were submitted, so the bundle's bytes are the same whatever the
 * number of threads.  At most a few parts per thread are in memory. */
#ifndef PK_PARTPOOL_H
#define PK_PARTPOOL_H

#include <stddef.h>

typedef struct pk_pool pk_pool;

/* How a parts bundle's parts are compressed.  lz4, the default, unpacks
 * with about 40% of zstd's CPU time, for a bundle about 1.5 times bigger:
 * a node unpacks with as many cores as it has ranks (unpackers.h), and
 * jobs with a few ranks per node are common, so decompression is what a
 * node waits for.  zstd is smallest (least read from the shared file
 * system, least sent over the network); stored parts are plain tars, as
 * big as the tree. */
enum pk_part_codec { PK_PART_ZSTD, PK_PART_LZ4, PK_PART_STORED };

/* "zstd", "lz4", "stored" -> *codec: 0, or -1 for another name. */
int pk_part_codec_parse(const char *name, enum pk_part_codec *codec);

/* A part's name in the bundle: "part-%04u" then this (".tar.zst", ...). */
const char *pk_part_codec_suffix(enum pk_part_codec codec);

/* Called in the submitting thread, once per part, in order: 0, or -1
 * after printing why (the pool then takes no more parts). */
typedef int (*pk_part_sink)(void *ctx, const void *data, size_t len);

/* threads <= 1: every part is compressed at once, in the caller.  label
 * names the bundle in messages.  NULL after printing why. */
pk_pool *pk_pool_new(int threads, enum pk_part_codec codec, const char *label, pk_part_sink sink, void *ctx);

/* Takes data (malloc'd, len bytes: a part's tar) whatever happens.  May
 * hand earlier parts to the sink first.  0, or -1 after printing why (this
 * or an earlier part could not be compressed, or the sink failed). */
int pk_pool_submit(pk_pool *p, unsigned char *data, size_t len);

/* Every part submitted, to the sink.  0, or -1 as for pk_pool_submit. */
int pk_pool_finish(pk_pool *p);

/* Stops the threads, dropping parts not yet handed out. */
void pk_pool_free(pk_pool *p);

/* The number of threads pkgroot uses by default: the online CPUs. */
int pk_pool_default_threads(void);

/* One part's compression (codec zstd or lz4), as a worker does it: *out
 * malloc'd.  0, or -1 with *err a malloc'd reason (NULL if out of memory). */
int pk_compress_part(enum pk_part_codec codec, const void *in, size_t len, unsigned char **out,
                     size_t *out_len, char **err);

#endif
