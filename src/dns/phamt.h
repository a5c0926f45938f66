/*
 * phamt: a persistent hash array mapped trie of zone nodes, keyed by the
 * node's lowercase name (hashed with dns_name_hash). The exact-match index
 * of the shared-structure zone store (issue 12; see NOTES-zone-store.md).
 *
 * Persistent: an insert or a delete never changes a trie node that a
 * published root can reach; it copies the path from the root to the changed
 * slot (at most 7 nodes of up to 32 slots) and returns a new root. Every
 * older root stays valid and unchanged, so readers need no lock, and a
 * version of the zone costs only the paths its changes copied.
 *
 * Reclaim: the trie nodes a change replaced are appended to a retire list
 * (struct phamt_txn). They are still reachable from the older roots, so the
 * caller frees them (phamt_retired_free) only when every root older than the
 * new one is gone: after a grace period and after every older version's
 * holders let go. Nodes created and replaced within one transaction were
 * never published and are freed at once.
 *
 * Lookup: one load from the root (a dense array of 4,096 slots indexed by
 * the hash's low 12 bits), then at most 4 levels of (bitmap test, popcount,
 * load), then one name comparison; no allocation, no lock. Writers copy the
 * root (32 KiB) once per transaction.
 */
#ifndef CEON_DNS_PHAMT_H
#define CEON_DNS_PHAMT_H
#include "dns/zone.h"
#include <stddef.h>
#include <stdint.h>

struct phamt;      /* a root: what a version holds */
struct phamt_node; /* a trie node below the root */

/* One writer transaction: the trie nodes it created (may be changed in
 * place or freed at once) are told apart from older ones by gen. */
struct phamt_txn {
    uint32_t gen;                /* unique per transaction, != 0 */
    struct phamt_node **retired; /* replaced nodes older than this transaction */
    size_t nretired, capretired;
};

/* The node named lname (lowercase wire, len bytes, hash h =
 * dns_name_hash(lname, len)), or NULL. root may be NULL (empty). */
const struct zone_node *phamt_find(const struct phamt *root, uint32_t h, const uint8_t *lname,
                                   size_t len);

/* Returns the root with zn inserted, replacing any node of the same name
 * (*replaced gets it, or NULL). zn->hash must be set. NULL when out of
 * memory (then root is unchanged and still valid). */
const struct phamt *phamt_put(struct phamt_txn *t, const struct phamt *root,
                              const struct zone_node *zn, const struct zone_node **replaced);
/* A root holding the n zone nodes at zn (distinct names, hashes set), all
 * of it made by t in one pass: the bulk build of a full load, without the
 * path copying of n puts. NULL for n == 0, or on out of memory (*oom set,
 * nothing left allocated). */
const struct phamt *phamt_build(struct phamt_txn *t, const struct zone_node *const *zn, size_t n,
                                bool *oom);
/* Returns the root without the node named lname (*removed gets it, or NULL
 * when absent: then root itself is returned). Sets *oom and returns root on
 * out of memory. */
const struct phamt *phamt_del(struct phamt_txn *t, const struct phamt *root, uint32_t h,
                              const uint8_t *lname, size_t len, const struct zone_node **removed,
                              bool *oom);

/* Frees the nodes t retired (call once no root older than t's result can
 * be read) and resets the list. */
void phamt_retired_free(struct phamt_txn *t);
/* Frees every trie node reachable from root (the last root of a trie whose
 * older roots' retired nodes were already freed). */
void phamt_free_all(const struct phamt *root);
/* Frees the trie nodes reachable from root (the root included) that a
 * transaction later than gen made (a discarded version's own nodes). */
void phamt_free_newer(const struct phamt *root, uint32_t gen);
/* Number of trie nodes (root included) reachable from root (tests, memory
 * accounting), and number of zone nodes stored. */
size_t phamt_node_count(const struct phamt *root);
size_t phamt_count(const struct phamt *root);
#endif
