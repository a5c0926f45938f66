/*
 * arena: a bump allocator for data that lives and dies together (one zone
 * version, one decoded message). Allocation is a pointer bump inside
 * chunks; arena_free releases everything at once. Not thread-safe.
 */
#ifndef CEON_ARENA_H
#define CEON_ARENA_H
#include <stddef.h>

struct arena_chunk;
struct arena {
    struct arena_chunk *head;
    size_t chunk_size; /* default size of new chunks */
    size_t total;      /* bytes handed out, for accounting */
};

void arena_init(struct arena *a, size_t chunk_size);
/* Returns 16-byte aligned memory, or NULL if out of memory. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
void *arena_memdup(struct arena *a, const void *p, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);
#endif
