/*
 * zstore: the memory of the shared-structure zone store (issue 12).
 * Private to src/dns.
 *
 * A zone_version is two persistent indexes over its nodes (dns/phamt.h by
 * name, dns/pbtree.h in canonical order). A version built from another
 * (zone_version_apply) shares every node, trie node and tree node it did
 * not change; what it replaced goes on its retire list. Each zone node is
 * one allocation (the node, its RRsets, its name and its RDATA), so it can
 * be shared and freed on its own.
 *
 * Reclaim. Versions form a tree by `base` (the version a version was built
 * from). Everything a version made carries its transaction's generation;
 * generations grow along the tree. When a version dies (zone_version_free,
 * called by its last holder, after a grace period for published ones):
 *   - with no base and no live children: it is the last of its line; all it
 *     reaches is freed, with its retire list;
 *   - with one live child: it is folded into the child, which takes its base
 *     and its retire list (what the child's retire list holds was reachable
 *     only from it and older versions); a child left with no base frees its
 *     retire list, since nothing older can read it;
 *   - with no live children and a base: a discarded or superseded branch tip:
 *     what it made (generation newer than its base's) is freed, and its
 *     retire list is dropped, apart from nodes newer than its base (made by
 *     versions folded into it), since the rest still belongs to the base;
 *   - with two or more live children: it waits for them.
 * The folding and freeing run under one process-wide mutex: versions die on
 * any thread (a transfer releases its hold on the network thread).
 */
#ifndef CEON_DNS_ZSTORE_H
#define CEON_DNS_ZSTORE_H
#include "dns/pbtree.h"
#include "dns/phamt.h"
#include "dns/zone.h"

/* A writer transaction building version v (from base, which may be NULL). */
struct zv_txn {
    struct zone_version *v;
    struct phamt_txn t; /* trie and tree nodes: created by v, or retired by it */
    /* zone nodes replaced by v: older ones (retired), own ones (freed at end) */
    const struct zone_node **zold, **zown;
    size_t nzold, capzold, nzown, capzown;
    /* A bulk load's nodes come from slabs (zv_use_slabs); NULL: malloc. */
    bool slabs;
    struct zslab *slab; /* the slab being carved */
};

/* Starts a new version built from base (NULL: from nothing). */
struct zone_version *zv_begin(struct zv_txn *x, const struct zone_version *base);
/* The nodes x makes from now on are carved from per-load slabs
 * (dns/zslab.h): for a layout of a whole zone of many names, where one
 * malloc per node and the page faults of a fresh heap dominated. */
void zv_use_slabs(struct zv_txn *x);
/* Ends the transaction: moves the retire lists into the version, frees the
 * nodes the transaction made and replaced itself, fills nnodes, apex. */
void zv_end(struct zv_txn *x);

/* Puts zn (made by this transaction) into both indexes, retiring the node of
 * the same name it replaces. -1 on out of memory. */
int zv_put(struct zv_txn *x, const struct zone_node *zn);
/* Puts the n nodes at zn (made by this transaction, in strictly increasing
 * canonical order) into a version begun from nothing: both indexes built
 * bottom-up in one pass. -1 on out of memory. */
int zv_put_sorted(struct zv_txn *x, const struct zone_node *const *zn, size_t n);
/* Removes the node named lname from both indexes (absent: nothing). */
int zv_del(struct zv_txn *x, const uint8_t *lname, size_t len);

/* A new zone node (one allocation, or one piece of a slab) named lname, holding copies of the
 * nsets RRsets at sets (with their RDATA), flags as given; gen from x. */
struct zone_node *zn_new(struct zv_txn *x, const uint8_t *lname, size_t len,
                         const struct dns_rrset *sets, size_t nsets, uint16_t flags);
void zn_free(const struct zone_node *zn);
/* Zone nodes allocated and not yet freed, in the whole process (tests:
 * reclaim happens when it should, not only at exit). */
size_t zn_live(void);
#endif
