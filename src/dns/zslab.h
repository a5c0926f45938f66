/*
 * zslab: the slabs a bulk load carves its zone nodes from (private to
 * src/dns; used by dns/zstore.c).
 *
 * A whole-zone layout (a zone file, a secondary's full transfer) makes
 * hundreds of thousands of zone nodes at once. One malloc per node cost a
 * cold 100,000-name layout about a third of its time in _int_malloc and in
 * page faults on the fresh heap. A slab is one 2 MiB mapping, aligned at
 * 2 MiB, marked for transparent huge pages and prefaulted in one call, so a
 * load takes one fault (or one populate call) per 2 MiB, not per 4 KiB.
 *
 * Nodes still die one by one (versions share them, an update replaces a
 * few), so each slab counts its live nodes and is unmapped when the last
 * one is freed: a freed node's bytes stay unused until then. Counting per
 * slab was chosen over keeping all of a load's slabs until no version
 * reaches any of them because the latter needs the versions to know their
 * load, and a long-lived zone whose names are all replaced by updates over
 * time gives its slabs back one by one. The worst case (one live node per
 * slab) keeps what the load itself used, no more.
 *
 * A node's slab is found from its address (the 2 MiB block it lies in), so
 * a node carries only one bit: zone_node.alloc.
 */
#ifndef CEON_DNS_ZSLAB_H
#define CEON_DNS_ZSLAB_H
#include <stddef.h>

#define ZSLAB_SIZE ((size_t)2 << 20)
/* Nodes bigger than this are malloc'd even in a load (a slab fits many). */
#define ZSLAB_MAX_OBJECT ((size_t)64 << 10)

struct zslab;

/* n bytes (8-byte aligned) from the slab *cur, or from a new one that
 * becomes *cur when it lacks room (the loader's hold moves to it). NULL
 * when n > ZSLAB_MAX_OBJECT or out of memory (then *cur is unchanged). */
void *zslab_alloc(struct zslab **cur, size_t n);
/* Frees p (from zslab_alloc): its slab goes when nothing in it is live
 * and no loader holds it. Any thread. */
void zslab_free(const void *p);
/* The loader lets go of its current slab (NULL: nothing). */
void zslab_release(struct zslab *s);
/* Slabs mapped in the whole process (tests: a slab goes when it should). */
size_t zslab_count(void);
#endif
