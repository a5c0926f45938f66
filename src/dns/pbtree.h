/*
 * pbtree: a persistent B+tree of zone nodes in canonical order (RFC 4034
 * §6.1, dns_name_cmp). The ordered index of the shared-structure zone store
 * (issue 12; see NOTES-zone-store.md): AXFR and zone_version_foreach walk
 * it, writers use it to find a name's subtree (every name below x follows x
 * in canonical order, contiguously). The query path never uses it (exact
 * lookups go through dns/phamt.h).
 *
 * Persistent like the phamt, and in the same writer transaction (struct
 * phamt_txn): a change copies the path from the root to its leaf (fanout
 * 32: 4 nodes at 1,000,000 names); nodes made by the transaction are
 * changed or freed at once, older ones go on its retire list. Deletions do
 * not rebalance: a node is dropped only when it empties, so the height is
 * that of the largest size the tree had, which is what the zone loaded.
 */
#ifndef CEON_DNS_PBTREE_H
#define CEON_DNS_PBTREE_H
#include "dns/phamt.h"
#include "dns/zone.h"

struct pbt_node;

/* Returns the root with zn inserted, replacing the node of the same name
 * (*replaced gets it, or NULL). NULL on out of memory (root unchanged). */
const struct pbt_node *pbt_put(struct phamt_txn *t, const struct pbt_node *root,
                               const struct zone_node *zn, const struct zone_node **replaced);
/* A tree of the n zone nodes at zn, which are in strictly increasing
 * canonical order (a full load): leaves filled left to right, then each
 * level above, all made by t. NULL for n == 0, or on out of memory (then
 * nothing is left allocated). */
const struct pbt_node *pbt_build_sorted(struct phamt_txn *t, const struct zone_node *const *zn,
                                        size_t n, bool *oom);
/* Returns the root without the node named lname (lowercase); *removed gets
 * it (NULL when absent: root returned). NULL may be the empty tree: check
 * *oom for out of memory (then root is returned unchanged). */
const struct pbt_node *pbt_del(struct phamt_txn *t, const struct pbt_node *root,
                               const uint8_t *lname, const struct zone_node **removed, bool *oom);
/* Frees every tree node reachable from root (not the zone nodes). */
void pbt_free_all(const struct pbt_node *root);
/* Frees the tree nodes reachable from root that a transaction later than
 * gen made, and (with free_zn) the zone nodes they hold that a transaction
 * later than gen made. Path copying guarantees that a node made at or
 * before gen only reaches nodes made at or before gen. */
void pbt_free_newer(const struct pbt_node *root, uint32_t gen,
                    void (*free_zn)(const struct zone_node *));
/* The generation of a tree node (the first field of every tree and trie
 * node, so a retire list holding both can be filtered by it). */
uint32_t pbt_gen(const void *tree_or_trie_node);

/* Walk in canonical order from the first name >= lname (NULL: the first). */
/* (struct pbt_iter is in dns/zone.h: zone_cursor wraps it.) */
void pbt_seek(struct pbt_iter *it, const struct pbt_node *root, const uint8_t *lname);
const struct zone_node *pbt_next(struct pbt_iter *it);
#endif
