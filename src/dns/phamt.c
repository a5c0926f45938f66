/* Persistent hash array mapped trie (see phamt.h). Five hash bits per
 * level, least significant first: levels 0..6 use bits 0..31 (level 6 has
 * two); below that, a collision node lists every leaf with the same hash.
 * A slot holds either a leaf (a zone node; its bit is set in leafmap) or a
 * child trie node. */
#include "dns/phamt.h"
#include <stdlib.h>
#include <string.h>

#define HASH_BITS 32
/* The root is a dense array indexed by the hash's low ROOT_BITS bits: one
 * load instead of two or three trie levels on the query path, for a copy of
 * ROOT_SLOTS pointers per writer transaction (the root is copied once per
 * transaction, then changed in place until published). */
#define ROOT_BITS 12
#define ROOT_SLOTS (1u << ROOT_BITS)

struct phamt {
    uint32_t gen; /* transaction that created this root */
    size_t count; /* leaves */
    uint64_t leaf[ROOT_SLOTS / 64];
    const void *slot[ROOT_SLOTS];
};

struct phamt_node {
    uint32_t gen;     /* transaction that created it (first, as in every root
                         and B+tree node: see pbt_gen) */
    uint32_t bitmap;  /* present slots (a collision node: 0) */
    uint32_t leafmap; /* present slots that are leaves */
    uint32_t n;       /* slots in use */
    const void *slot[];
};

static void free_below(const struct phamt_node *n);

/* Set bits below bit in a level node's bitmap: the slot index. Written out
 * because without -mpopcnt __builtin_popcount is a call into libgcc, on
 * every level of every lookup. */
static inline unsigned slot_index(uint32_t bitmap, uint32_t bit)
{
    uint32_t x = bitmap & (bit - 1);
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}

static bool same_name(const struct zone_node *zn, uint32_t h, const uint8_t *lname, size_t len)
{
    return zn->hash == h && zn->name_len == len && memcmp(zn->name, lname, len) == 0;
}

static const struct zone_node *find_below(const struct phamt_node *n, uint32_t h,
                                          const uint8_t *lname, size_t len)
{
    for (unsigned shift = ROOT_BITS; n; shift += 5) {
        if (shift >= HASH_BITS) { /* collision node */
            for (uint32_t i = 0; i < n->n; i++)
                if (same_name(n->slot[i], h, lname, len)) return n->slot[i];
            return NULL;
        }
        uint32_t bit = 1u << ((h >> shift) & 31);
        if (!(n->bitmap & bit)) return NULL;
        unsigned i = slot_index(n->bitmap, bit);
        if (n->leafmap & bit) {
            const struct zone_node *zn = n->slot[i];
            return same_name(zn, h, lname, len) ? zn : NULL;
        }
        n = n->slot[i];
    }
    return NULL;
}

static struct phamt_node *node_new(struct phamt_txn *t, uint32_t nslots)
{
    struct phamt_node *n = malloc(sizeof *n + nslots * sizeof n->slot[0]);
    if (n) {
        n->bitmap = n->leafmap = 0;
        n->gen = t->gen;
        n->n = nslots;
    }
    return n;
}

/* old is replaced by a copy: free it now if this transaction made it,
 * else retire it. Returns -1 on out of memory (old then stays in use). */
/* Appends p (a trie node or a root) to t's retire list. */
static int retire(struct phamt_txn *t, const void *p)
{
    if (t->nretired == t->capretired) {
        size_t nc = t->capretired ? 2 * t->capretired : 64;
        struct phamt_node **r = realloc(t->retired, nc * sizeof *r);
        if (!r) return -1;
        t->retired = r;
        t->capretired = nc;
    }
    t->retired[t->nretired++] = (struct phamt_node *)p;
    return 0;
}

/* old is replaced by a copy: free it now if this transaction made it,
 * else retire it. Returns -1 on out of memory (old then stays in use). */
static int replace(struct phamt_txn *t, const struct phamt_node *old)
{
    if (!old) return 0;
    if (old->gen == t->gen) {
        free((void *)old);
        return 0;
    }
    return retire(t, old);
}

/* A copy of n with slot i replaced by v (a leaf if leaf). */
static struct phamt_node *with_slot(struct phamt_txn *t, const struct phamt_node *n, unsigned i,
                                    uint32_t bit, const void *v, bool leaf)
{
    struct phamt_node *c = node_new(t, n->n);
    if (!c) return NULL;
    memcpy(c, n, sizeof *n + n->n * sizeof n->slot[0]);
    c->gen = t->gen;
    c->slot[i] = v;
    c->leafmap = leaf ? c->leafmap | bit : c->leafmap & ~bit;
    return c;
}

/* A node holding leaves a and b (different names), from level shift down. */
static struct phamt_node *pair(struct phamt_txn *t, const struct zone_node *a,
                               const struct zone_node *b, unsigned shift)
{
    if (shift >= HASH_BITS) {
        struct phamt_node *c = node_new(t, 2);
        if (c) c->slot[0] = a, c->slot[1] = b;
        return c;
    }
    uint32_t ia = (a->hash >> shift) & 31, ib = (b->hash >> shift) & 31;
    if (ia == ib) {
        struct phamt_node *sub = pair(t, a, b, shift + 5), *c = sub ? node_new(t, 1) : NULL;
        if (!c) return free(sub), NULL;
        c->bitmap = 1u << ia;
        c->slot[0] = sub;
        return c;
    }
    struct phamt_node *c = node_new(t, 2);
    if (!c) return NULL;
    c->bitmap = c->leafmap = (1u << ia) | (1u << ib);
    c->slot[ia < ib ? 0 : 1] = a;
    c->slot[ia < ib ? 1 : 0] = b;
    return c;
}

static const struct phamt_node *put(struct phamt_txn *t, const struct phamt_node *n,
                                    const struct zone_node *zn, unsigned shift,
                                    const struct zone_node **replaced)
{
    struct phamt_node *c;
    if (shift >= HASH_BITS) {
        for (uint32_t i = 0; i < n->n; i++)
            if (same_name(n->slot[i], zn->hash, zn->name, zn->name_len)) {
                *replaced = n->slot[i];
                return with_slot(t, n, i, 0, zn, false);
            }
        if (!(c = node_new(t, n->n + 1))) return NULL;
        memcpy(c->slot, n->slot, n->n * sizeof n->slot[0]);
        c->slot[n->n] = zn;
        return c;
    }
    uint32_t bit = 1u << ((zn->hash >> shift) & 31);
    unsigned i = slot_index(n->bitmap, bit);
    if (!(n->bitmap & bit)) { /* a new leaf slot */
        if (!(c = node_new(t, n->n + 1))) return NULL;
        c->bitmap = n->bitmap | bit;
        c->leafmap = n->leafmap | bit;
        memcpy(c->slot, n->slot, i * sizeof n->slot[0]);
        c->slot[i] = zn;
        memcpy(c->slot + i + 1, n->slot + i, (n->n - i) * sizeof n->slot[0]);
        return c;
    }
    if (n->leafmap & bit) {
        const struct zone_node *old = n->slot[i];
        if (same_name(old, zn->hash, zn->name, zn->name_len)) {
            *replaced = old;
            return with_slot(t, n, i, bit, zn, true);
        }
        struct phamt_node *sub = pair(t, old, zn, shift + 5);
        if (!sub) return NULL;
        if (!(c = with_slot(t, n, i, bit, sub, false))) free_below(sub);
        return c;
    }
    const struct phamt_node *child = n->slot[i];
    const struct phamt_node *nc = put(t, child, zn, shift + 5, replaced);
    if (!nc) return NULL;
    if (!(c = with_slot(t, n, i, bit, nc, false)) || replace(t, child) < 0) {
        /* nc is new; child stays in use */
        free(c);
        return NULL;
    }
    return c;
}

static bool root_leaf(const struct phamt *r, uint32_t i)
{
    return r->leaf[i / 64] >> (i % 64) & 1;
}

const struct zone_node *phamt_find(const struct phamt *r, uint32_t h, const uint8_t *lname,
                                   size_t len)
{
    if (!r) return NULL;
    uint32_t i = h & (ROOT_SLOTS - 1);
    const void *s = r->slot[i];
    if (!s) return NULL;
    if (root_leaf(r, i)) {
        const struct zone_node *zn = s;
        return same_name(zn, h, lname, len) ? zn : NULL;
    }
    return find_below(s, h, lname, len);
}

/* The root this transaction may change in place: r itself if t made it,
 * else a copy (r retired by the caller once the new root is published). */
static struct phamt *writable_root(struct phamt_txn *t, const struct phamt *r)
{
    if (r && r->gen == t->gen) return (struct phamt *)r;
    struct phamt *c = r ? malloc(sizeof *c) : calloc(1, sizeof *c);
    if (!c) return NULL;
    if (r) memcpy(c, r, sizeof *c);
    c->gen = t->gen;
    return c;
}

static int retire_root(struct phamt_txn *t, const struct phamt *old, const struct phamt *nr)
{
    if (!old || old == nr) return 0; /* nr is old itself: made by t */
    return retire(t, old);
}

const struct phamt *phamt_put(struct phamt_txn *t, const struct phamt *root,
                              const struct zone_node *zn, const struct zone_node **replaced)
{
    *replaced = NULL;
    struct phamt *r = writable_root(t, root);
    if (!r) return NULL;
    uint32_t i = zn->hash & (ROOT_SLOTS - 1);
    const void *s = r->slot[i];
    const void *ns;
    bool leaf = false;
    if (!s) {
        ns = zn;
        leaf = true;
    } else if (root_leaf(r, i)) {
        const struct zone_node *old = s;
        if (same_name(old, zn->hash, zn->name, zn->name_len)) {
            *replaced = old;
            ns = zn;
            leaf = true;
        } else {
            ns = pair(t, old, zn, ROOT_BITS);
        }
    } else {
        ns = put(t, s, zn, ROOT_BITS, replaced);
        if (ns && replace(t, s) < 0) ns = NULL;
    }
    if (!ns || retire_root(t, root, r) < 0) {
        if (r != root) free(r);
        return NULL;
    }
    r->slot[i] = ns;
    if (leaf)
        r->leaf[i / 64] |= 1ull << (i % 64);
    else
        r->leaf[i / 64] &= ~(1ull << (i % 64));
    if (!*replaced) r->count++;
    return r;
}

/* ---- bulk build ---- */

/* A trie node over the cnt (>= 2) leaves at a, which share their hash bits
 * below shift; scr is scratch of the same size. Each level partitions its
 * range by the next 5 bits (a counting sort through scr), so the trie is
 * the one the puts would give: a leaf as high as its hash prefix is unique.
 * NULL on out of memory (nothing left allocated). */
static struct phamt_node *build(struct phamt_txn *t, const struct zone_node **a,
                                const struct zone_node **scr, size_t cnt, unsigned shift)
{
    if (shift >= HASH_BITS) { /* the same 32-bit hash: a collision node */
        struct phamt_node *c = node_new(t, (uint32_t)cnt);
        if (c) memcpy(c->slot, a, cnt * sizeof *a);
        return c;
    }
    size_t count[33] = {0};
    for (size_t i = 0; i < cnt; i++)
        count[((a[i]->hash >> shift) & 31) + 1]++;
    uint32_t bitmap = 0, leafmap = 0, nslots = 0;
    for (unsigned b = 0; b < 32; b++) {
        if (count[b + 1]) bitmap |= 1u << b, nslots++;
        if (count[b + 1] == 1) leafmap |= 1u << b;
        count[b + 1] += count[b]; /* now: where bucket b+1 starts */
    }
    size_t at[32];
    memcpy(at, count, sizeof at);
    for (size_t i = 0; i < cnt; i++)
        scr[at[(a[i]->hash >> shift) & 31]++] = a[i];
    memcpy(a, scr, cnt * sizeof *a);
    struct phamt_node *c = node_new(t, nslots);
    if (!c) return NULL;
    c->bitmap = bitmap;
    c->leafmap = leafmap;
    unsigned k = 0;
    for (unsigned b = 0; b < 32; b++) /* children empty until built: free_below skips them */
        if (bitmap >> b & 1) c->slot[k++] = (leafmap >> b & 1) ? a[count[b]] : NULL;
    k = 0;
    for (unsigned b = 0; b < 32; b++) {
        if (!(bitmap >> b & 1)) continue;
        size_t from = count[b], n = count[b + 1] - from;
        if (n > 1 && !(c->slot[k] = build(t, a + from, scr + from, n, shift + 5))) {
            free_below(c);
            return NULL;
        }
        k++;
    }
    return c;
}

const struct phamt *phamt_build(struct phamt_txn *t, const struct zone_node *const *zn, size_t n,
                                bool *oom)
{
    *oom = false;
    if (!n) return NULL;
    struct phamt *r = calloc(1, sizeof *r);
    const struct zone_node **a = malloc(n * sizeof *a), **scr = malloc(n * sizeof *scr);
    size_t *count = calloc(ROOT_SLOTS + 1, sizeof *count);
    if (!r || !a || !scr || !count) goto oom;
    r->gen = t->gen;
    r->count = n;
    for (size_t i = 0; i < n; i++)
        count[(zn[i]->hash & (ROOT_SLOTS - 1)) + 1]++;
    for (uint32_t i = 0; i < ROOT_SLOTS; i++)
        count[i + 1] += count[i];
    for (size_t i = 0; i < n; i++) /* a counting sort by root slot */
        a[count[zn[i]->hash & (ROOT_SLOTS - 1)]++] = zn[i];
    /* count[i] is now where bucket i ends, and bucket i + 1 starts */
    for (uint32_t i = 0; i < ROOT_SLOTS; i++) {
        size_t from = i ? count[i - 1] : 0, m = count[i] - from;
        if (m == 1) {
            r->slot[i] = a[from];
            r->leaf[i / 64] |= 1ull << (i % 64);
        } else if (m > 1 && !(r->slot[i] = build(t, a + from, scr + from, m, ROOT_BITS))) {
            goto oom;
        }
    }
    free(a);
    free(scr);
    free(count);
    return r;
oom:
    *oom = true;
    if (r) phamt_free_all(r);
    free(a);
    free(scr);
    free(count);
    return NULL;
}

/* Deletion below n; returns the replacement of n: n itself when absent,
 * NULL when n became empty, a leaf (*leaf true) when n was left with one
 * leaf and may be folded into its parent. */
static const void *del(struct phamt_txn *t, const struct phamt_node *n, uint32_t h,
                       const uint8_t *lname, size_t len, unsigned shift,
                       const struct zone_node **removed, bool *leaf, bool *oom)
{
    *leaf = false;
    struct phamt_node *c;
    if (shift >= HASH_BITS) {
        uint32_t i = 0;
        while (i < n->n && !same_name(n->slot[i], h, lname, len))
            i++;
        if (i == n->n) return n;
        *removed = n->slot[i];
        if (n->n == 2) {
            *leaf = true;
            return n->slot[1 - i];
        }
        if (!(c = node_new(t, n->n - 1))) return *oom = true, n;
        memcpy(c->slot, n->slot, i * sizeof n->slot[0]);
        memcpy(c->slot + i, n->slot + i + 1, (n->n - i - 1) * sizeof n->slot[0]);
        return c;
    }
    uint32_t bit = 1u << ((h >> shift) & 31);
    if (!(n->bitmap & bit)) return n;
    unsigned i = slot_index(n->bitmap, bit);
    const void *sub = NULL;
    bool subleaf = false;
    if (n->leafmap & bit) {
        if (!same_name(n->slot[i], h, lname, len)) return n;
        *removed = n->slot[i];
    } else {
        sub = del(t, n->slot[i], h, lname, len, shift + 5, removed, &subleaf, oom);
        if (sub == n->slot[i] || *oom) return n;
    }
    if (sub) { /* slot i now holds sub */
        if (subleaf && n->n == 1 && shift) {
            *leaf = true; /* fold further up */
            c = NULL;
        } else if (!(c = with_slot(t, n, i, bit, sub, subleaf))) {
            return *oom = true, n;
        }
    } else if (n->n == 1) {
        c = NULL; /* empty */
    } else if (n->n == 2 && shift && (n->leafmap & ~bit) == (n->bitmap & ~bit)) {
        *leaf = true; /* the other slot is a leaf: fold it up */
        sub = n->slot[1 - i];
        c = NULL;
    } else {
        if (!(c = node_new(t, n->n - 1))) return *oom = true, n;
        c->bitmap = n->bitmap & ~bit;
        c->leafmap = n->leafmap & ~bit;
        memcpy(c->slot, n->slot, i * sizeof n->slot[0]);
        memcpy(c->slot + i, n->slot + i + 1, (n->n - i - 1) * sizeof n->slot[0]);
    }
    if (!(n->leafmap & bit) && !subleaf && sub == NULL) {
        /* the child emptied: nothing of it to keep */
    }
    if (!(n->leafmap & bit) && replace(t, n->slot[i]) < 0) {
        free(c);
        return *oom = true, n;
    }
    return *leaf ? sub : c;
}

const struct phamt *phamt_del(struct phamt_txn *t, const struct phamt *root, uint32_t h,
                              const uint8_t *lname, size_t len, const struct zone_node **removed,
                              bool *oom)
{
    *removed = NULL;
    *oom = false;
    if (!root) return NULL;
    uint32_t i = h & (ROOT_SLOTS - 1);
    const void *s = root->slot[i], *ns = NULL;
    bool leaf = false;
    if (!s) return root;
    if (root_leaf(root, i)) {
        if (!same_name(s, h, lname, len)) return root;
        *removed = s;
    } else {
        ns = del(t, s, h, lname, len, ROOT_BITS, removed, &leaf, oom);
        if (ns == s || *oom) return root;
    }
    struct phamt *r = writable_root(t, root);
    if (!r || retire_root(t, root, r) < 0 || (!root_leaf(root, i) && replace(t, s) < 0)) {
        if (r != root) free(r);
        *oom = true;
        return root;
    }
    r->slot[i] = ns;
    if (leaf)
        r->leaf[i / 64] |= 1ull << (i % 64);
    else
        r->leaf[i / 64] &= ~(1ull << (i % 64));
    r->count--;
    return r;
}

void phamt_retired_free(struct phamt_txn *t)
{
    for (size_t i = 0; i < t->nretired; i++)
        free(t->retired[i]);
    t->nretired = 0;
}

static void free_below(const struct phamt_node *n)
{
    if (!n) return;
    if (n->bitmap) /* a collision node has only leaves */
        for (uint32_t i = 0, b = n->bitmap; b; b &= b - 1, i++)
            if (!(n->leafmap & (b & -b))) free_below(n->slot[i]);
    free((void *)n);
}

static size_t count_below(const struct phamt_node *n)
{
    if (!n) return 0;
    size_t c = 1;
    if (n->bitmap)
        for (uint32_t i = 0, b = n->bitmap; b; b &= b - 1, i++)
            if (!(n->leafmap & (b & -b))) c += count_below(n->slot[i]);
    return c;
}

void phamt_free_all(const struct phamt *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < ROOT_SLOTS; i++)
        if (r->slot[i] && !root_leaf(r, i)) free_below(r->slot[i]);
    free((void *)r);
}

static void free_newer_below(const struct phamt_node *n, uint32_t gen)
{
    if (!n || n->gen <= gen) return;
    if (n->bitmap)
        for (uint32_t i = 0, b = n->bitmap; b; b &= b - 1, i++)
            if (!(n->leafmap & (b & -b))) free_newer_below(n->slot[i], gen);
    free((void *)n);
}

void phamt_free_newer(const struct phamt *r, uint32_t gen)
{
    if (!r || r->gen <= gen) return;
    for (uint32_t i = 0; i < ROOT_SLOTS; i++)
        if (r->slot[i] && !root_leaf(r, i)) free_newer_below(r->slot[i], gen);
    free((void *)r);
}

size_t phamt_node_count(const struct phamt *r)
{
    if (!r) return 0;
    size_t c = 1;
    for (uint32_t i = 0; i < ROOT_SLOTS; i++)
        if (r->slot[i] && !root_leaf(r, i)) c += count_below(r->slot[i]);
    return c;
}

size_t phamt_count(const struct phamt *r)
{
    return r ? r->count : 0;
}
