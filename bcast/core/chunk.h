/* chunk.h - how a bundle of any size is cut into MPI-sized pieces.
 *
 * MPI counts are int, so a bundle over 2 GiB cannot go in one call; and
 * memory must not grow with the bundle.  Sizes are 64-bit throughout. */
#ifndef PM_CHUNK_H
#define PM_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define PM_CHUNK_DEFAULT ((size_t)4 << 20)
/* Largest chunk: payload plus header must fit an int count. */
#define PM_CHUNK_MAX ((size_t)1 << 30)

/* Number of chunks for size bytes (0 for an empty bundle). */
uint64_t pm_chunk_count(uint64_t size, size_t chunk);
/* Length of chunk index (the last one may be short); 0 if out of range. */
size_t pm_chunk_len(uint64_t size, size_t chunk, uint64_t index);
/* Byte offset of chunk index. */
uint64_t pm_chunk_offset(size_t chunk, uint64_t index);

#endif
