/*
 * zbuild_int: the builder's data layout, shared by zbuild.c (collecting
 * RRs) and zfreeze.c (laying them out as a zone_version). Private to
 * src/dns.
 */
#ifndef CEON_DNS_ZBUILD_INT_H
#define CEON_DNS_ZBUILD_INT_H
#include "dns/zbuild.h"

struct brr {
    uint16_t len;
    const uint8_t *data; /* in the builder's pool, or in the version it was loaded from */
};
/* The builder's fields are kept small (32-bit counts and lines): a
 * 1,000,000-record zone is 1,000,000 of these at a load's peak. */
struct bset {
    uint16_t type;
    uint32_t ttl;
    uint32_t line, line2; /* of the first and the second RR, for messages */
    uint32_t n, cap;
    struct brr *rr;
};
struct bnode {
    struct bset *sets;
    uint32_t hash;
    uint32_t nsets, cap;
    uint8_t len;
    bool loaded;    /* zb_touch copied the old version's RRsets here */
    uint8_t name[]; /* lowercase */
};
/* Chunks the builder's nodes, arrays and RDATA are carved from; all freed
 * with the builder. */
struct zb_chunk;
struct zb_slot {
    uint32_t hash, idx; /* the name's hash, its node's place in `all` + 1 (0: empty) */
};
#define ZB_FREE_CLASSES 64 /* free lists of grown arrays, by size / 8 */
struct zbuild {
    struct zb_chunk *chunks;
    size_t chunk_size;           /* of the next chunk */
    void *free[ZB_FREE_CLASSES]; /* arrays given back by a grow, for reuse */
    struct zb_slot *tab;         /* finds a node by name (zbuild.c) */
    size_t mask, count;
    /* While every new name has come in strictly increasing, or strictly
     * decreasing, canonical order (an AXFR ascends; so does a ceon
     * primary's full transfer, which sends the apex SOA last: the first
     * and the last node are looked at before any table), a new name
     * cannot be an old one: no hashing or probing, the table stays empty
     * (built at the first name out of order, or the first lookup), and
     * the layout needs no sort. */
    bool in_order;
    bool slabs; /* the layout may carve nodes from slabs (zb_use_slabs) */
    int8_t dir; /* 1 ascending, -1 descending, 0 not known yet (< 2 nodes) */
    size_t last_key_len;
    uint8_t last_key[2 * DNS_NAME_MAX]; /* the canonical key of the last node made */
    struct bnode **all; /* every node in creation order: faster to walk than the table */
    size_t nall, capall;
    uint8_t apex[DNS_NAME_MAX];
    size_t apex_len;
    const char *file;
};

/* Frees every node, RRset and RDATA copy of the builder (zb_freeze, once
 * the version holds its own copies: a load's builder and its finished
 * version's indexes are not alive together). Only zb_free may follow. */
void zb_release(struct zbuild *b);
struct bnode *zb_find_node(struct zbuild *b, const uint8_t *lname, size_t len, uint32_t h);
/* The apex's node, or NULL (without building the name table). */
struct bnode *zb_apex_node(struct zbuild *b);
/* Finds or creates the node of lname (lowercase); NULL when out of memory. */
struct bnode *zb_get_node(struct zbuild *b, const uint8_t *lname, size_t len);
struct bset *zb_find_set(struct bnode *n, uint16_t type);
/* Fills e with "file:line: what name" (parts left out when unknown); -1. */
int zb_where(struct zbuild *b, unsigned long line, struct err *e, const char *what,
             const char *name);
/* Checks every node's content rules (only the nodes zb_touch loaded, with
 * touched_only), reporting the first bad one by line, then by name. */
int zb_check_nodes(struct zbuild *b, bool touched_only, struct err *e);
/* Checks a node's content rules; on failure *line is the offending line. */
int zb_check_node(struct zbuild *b, struct bnode *n, struct err *e, unsigned long *line);
#endif
