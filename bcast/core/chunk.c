/* chunk.c - chunk arithmetic (see chunk.h). */
#include "chunk.h"

uint64_t pm_chunk_count(uint64_t size, size_t chunk)
{
    return size / chunk + (size % chunk != 0);
}

size_t pm_chunk_len(uint64_t size, size_t chunk, uint64_t index)
{
    uint64_t off = (uint64_t)chunk * index;
    if (index >= pm_chunk_count(size, chunk))
        return 0;
    uint64_t left = size - off;
    return left < chunk ? (size_t)left : chunk;
}

uint64_t pm_chunk_offset(size_t chunk, uint64_t index)
{
    return (uint64_t)chunk * index;
}
