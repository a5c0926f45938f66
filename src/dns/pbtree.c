/* Persistent B+tree (see pbtree.h). Leaves hold up to FAN zone nodes in
 * canonical order; an internal node holds up to FAN children and, for each,
 * the smallest zone node below it, to choose the child without descending. */
#include "dns/pbtree.h"
#include <stdlib.h>
#include <string.h>

#define FAN 32

struct pbt_node {
    uint32_t gen; /* transaction that made it */
    uint16_t n;   /* entries in use */
    bool leaf;
    const void *e[FAN];               /* leaf: zone nodes; internal: children */
    const struct zone_node *min[FAN]; /* internal: smallest zone node of child i */
};

static const struct zone_node *min_of(const struct pbt_node *n)
{
    return n->leaf ? n->e[0] : n->min[0];
}

static int retire(struct phamt_txn *t, const struct pbt_node *old)
{
    if (old->gen == t->gen) {
        free((void *)old);
        return 0;
    }
    if (t->nretired == t->capretired) {
        size_t nc = t->capretired ? 2 * t->capretired : 64;
        struct phamt_node **r = realloc(t->retired, nc * sizeof *r);
        if (!r) return -1;
        t->retired = r;
        t->capretired = nc;
    }
    t->retired[t->nretired++] = (struct phamt_node *)(void *)old; /* freed with free() */
    return 0;
}

static struct pbt_node *copy(struct phamt_txn *t, const struct pbt_node *n)
{
    struct pbt_node *c = malloc(sizeof *c);
    if (!c) return NULL;
    memcpy(c, n, sizeof *c);
    c->gen = t->gen;
    return c;
}

/* Leaf: first index whose name is >= lname. */
static unsigned leaf_pos(const struct pbt_node *n, const uint8_t *lname)
{
    unsigned lo = 0, hi = n->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (dns_name_cmp(((const struct zone_node *)n->e[mid])->name, lname) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Internal: the child that holds lname (the last whose minimum is <= it). */
static unsigned child_pos(const struct pbt_node *n, const uint8_t *lname)
{
    unsigned i = 0;
    while (i + 1 < n->n && dns_name_cmp(n->min[i + 1]->name, lname) <= 0)
        i++;
    return i;
}

/* Inserts entry (e, min) at i of c (which has room). */
static void insert_at(struct pbt_node *c, unsigned i, const void *e, const struct zone_node *min)
{
    memmove(c->e + i + 1, c->e + i, (c->n - i) * sizeof c->e[0]);
    memmove(c->min + i + 1, c->min + i, (c->n - i) * sizeof c->min[0]);
    c->e[i] = e;
    c->min[i] = min;
    c->n++;
}

/* Splits a full c into c and a new right half; NULL on out of memory. */
static struct pbt_node *split(struct phamt_txn *t, struct pbt_node *c)
{
    struct pbt_node *r = malloc(sizeof *r);
    if (!r) return NULL;
    r->gen = t->gen;
    r->leaf = c->leaf;
    r->n = c->n / 2;
    c->n = (uint16_t)(c->n - r->n);
    memcpy(r->e, c->e + c->n, r->n * sizeof r->e[0]);
    memcpy(r->min, c->min + c->n, r->n * sizeof r->min[0]);
    return r;
}

/* Insertion below n: out[0] (and out[1] after a split) replace n. Returns
 * the number of nodes in out, 0 on out of memory. */
static int put(struct phamt_txn *t, const struct pbt_node *n, const struct zone_node *zn,
               const struct pbt_node **out, const struct zone_node **replaced)
{
    struct pbt_node *c;
    if (n->leaf) {
        unsigned i = leaf_pos(n, zn->name);
        if (!(c = copy(t, n))) return 0;
        if (i < n->n && dns_name_cmp(((const struct zone_node *)n->e[i])->name, zn->name) == 0) {
            *replaced = n->e[i];
            c->e[i] = zn;
            out[0] = c;
            return 1;
        }
        if (c->n == FAN) { /* split first, then insert into the half that takes it */
            struct pbt_node *r = split(t, c);
            if (!r) return free(c), 0;
            if (i <= c->n)
                insert_at(c, i, zn, NULL);
            else
                insert_at(r, i - c->n, zn, NULL);
            out[0] = c, out[1] = r;
            return 2;
        }
        insert_at(c, i, zn, NULL);
        out[0] = c;
        return 1;
    }
    unsigned i = child_pos(n, zn->name);
    const struct pbt_node *child = n->e[i], *sub[2];
    int k = put(t, child, zn, sub, replaced);
    if (!k) return 0;
    if (!(c = copy(t, n)) || retire(t, child) < 0) {
        free(c);
        return 0; /* (the new subtree leaks on this out-of-memory path) */
    }
    c->e[i] = sub[0];
    c->min[i] = min_of(sub[0]);
    if (k == 2) {
        if (c->n == FAN) {
            struct pbt_node *r = split(t, c);
            if (!r) return free(c), 0;
            if (i + 1 <= c->n)
                insert_at(c, i + 1, sub[1], min_of(sub[1]));
            else
                insert_at(r, i + 1 - c->n, sub[1], min_of(sub[1]));
            out[0] = c, out[1] = r;
            return 2;
        }
        insert_at(c, i + 1, sub[1], min_of(sub[1]));
    }
    out[0] = c;
    return 1;
}

const struct pbt_node *pbt_put(struct phamt_txn *t, const struct pbt_node *root,
                               const struct zone_node *zn, const struct zone_node **replaced)
{
    *replaced = NULL;
    if (!root) {
        struct pbt_node *c = calloc(1, sizeof *c);
        if (!c) return NULL;
        c->gen = t->gen;
        c->leaf = true;
        c->n = 1;
        c->e[0] = zn;
        return c;
    }
    const struct pbt_node *out[2];
    int k = put(t, root, zn, out, replaced);
    if (!k || retire(t, root) < 0) return NULL;
    if (k == 1) return out[0];
    struct pbt_node *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->gen = t->gen;
    c->n = 2;
    c->e[0] = out[0], c->min[0] = min_of(out[0]);
    c->e[1] = out[1], c->min[1] = min_of(out[1]);
    return c;
}

/* Groups the n nodes at level (leaves: zone nodes, leaf true) into parents
 * of up to FAN entries, spread evenly so that no node but a lone root is
 * under half full; returns the parents' count, written over level. */
static size_t build_level(struct phamt_txn *t, const void **level, size_t n, bool leaf, bool *oom)
{
    size_t groups = (n + FAN - 1) / FAN, k = 0;
    for (size_t g = 0; g < groups; g++) {
        size_t from = n * g / groups, to = n * (g + 1) / groups;
        struct pbt_node *c = calloc(1, sizeof *c);
        if (!c) { /* free the groups made and, above the leaves, the rest */
            *oom = true;
            for (size_t i = 0; i < k; i++)
                leaf ? free((void *)level[i]) : pbt_free_all(level[i]);
            for (size_t i = from; !leaf && i < n; i++)
                pbt_free_all(level[i]);
            return 0;
        }
        c->gen = t->gen;
        c->leaf = leaf;
        c->n = (uint16_t)(to - from);
        for (size_t i = from; i < to; i++) {
            c->e[i - from] = level[i];
            c->min[i - from] = leaf ? NULL : min_of(level[i]);
        }
        level[k++] = c; /* k <= from: entries not yet read are not overwritten */
    }
    return k;
}

const struct pbt_node *pbt_build_sorted(struct phamt_txn *t, const struct zone_node *const *zn,
                                        size_t n, bool *oom)
{
    *oom = false;
    if (!n) return NULL;
    const void **level = malloc(n * sizeof *level);
    if (!level) return *oom = true, NULL;
    memcpy(level, zn, n * sizeof *level);
    bool leaf = true;
    do {
        n = build_level(t, level, n, leaf, oom);
        leaf = false;
    } while (n > 1 && !*oom);
    const struct pbt_node *root = *oom ? NULL : level[0];
    free(level);
    return root;
}

/* Deletion below n: returns n when absent, NULL when n emptied, else its
 * copy. Sets *oom (and returns n) on out of memory. */
static const struct pbt_node *del(struct phamt_txn *t, const struct pbt_node *n,
                                  const uint8_t *lname, const struct zone_node **removed, bool *oom)
{
    struct pbt_node *c;
    unsigned i;
    if (n->leaf) {
        i = leaf_pos(n, lname);
        if (i == n->n || dns_name_cmp(((const struct zone_node *)n->e[i])->name, lname) != 0)
            return n;
        *removed = n->e[i];
        if (n->n == 1) return NULL;
        if (!(c = copy(t, n))) return *oom = true, n;
    } else {
        i = child_pos(n, lname);
        const struct pbt_node *child = n->e[i];
        const struct pbt_node *sub = del(t, child, lname, removed, oom);
        if (sub == child || *oom) return n;
        if (!sub && n->n == 1) {
            if (retire(t, child) < 0) return *oom = true, n;
            return NULL;
        }
        if (!(c = copy(t, n)) || retire(t, child) < 0) {
            free(c);
            return *oom = true, n;
        }
        if (sub) {
            c->e[i] = sub;
            c->min[i] = min_of(sub);
            return c;
        }
    }
    c->n--;
    memmove(c->e + i, c->e + i + 1, (c->n - i) * sizeof c->e[0]);
    memmove(c->min + i, c->min + i + 1, (c->n - i) * sizeof c->min[0]);
    return c;
}

const struct pbt_node *pbt_del(struct phamt_txn *t, const struct pbt_node *root,
                               const uint8_t *lname, const struct zone_node **removed, bool *oom)
{
    *removed = NULL;
    *oom = false;
    if (!root) return NULL;
    const struct pbt_node *r = del(t, root, lname, removed, oom);
    if (r == root || *oom) return root;
    if (retire(t, root) < 0) {
        *oom = true;
        return root; /* (r leaks on this out-of-memory path) */
    }
    return r;
}

void pbt_free_all(const struct pbt_node *n)
{
    if (!n) return;
    if (!n->leaf)
        for (unsigned i = 0; i < n->n; i++)
            pbt_free_all(n->e[i]);
    free((void *)n);
}

void pbt_free_newer(const struct pbt_node *n, uint32_t gen,
                    void (*free_zn)(const struct zone_node *))
{
    if (!n || n->gen <= gen) return;
    for (unsigned i = 0; i < n->n; i++)
        if (!n->leaf)
            pbt_free_newer(n->e[i], gen, free_zn);
        else if (free_zn && ((const struct zone_node *)n->e[i])->gen > gen)
            free_zn(n->e[i]);
    free((void *)n);
}

uint32_t pbt_gen(const void *p)
{
    uint32_t g;
    memcpy(&g, p, sizeof g);
    return g;
}

void pbt_seek(struct pbt_iter *it, const struct pbt_node *n, const uint8_t *lname)
{
    it->depth = -1;
    while (n) {
        unsigned i = lname ? (n->leaf ? leaf_pos(n, lname) : child_pos(n, lname)) : 0;
        it->stack[++it->depth] = n;
        it->idx[it->depth] = (uint16_t)i;
        n = n->leaf ? NULL : n->e[i];
    }
}

const struct zone_node *pbt_next(struct pbt_iter *it)
{
    while (it->depth >= 0) {
        const struct pbt_node *n = it->stack[it->depth];
        uint16_t i = it->idx[it->depth];
        if (n->leaf && i < n->n) {
            it->idx[it->depth]++;
            return n->e[i];
        }
        /* this node is done: move the parent to its next child */
        if (--it->depth < 0) return NULL;
        if (++it->idx[it->depth] >= it->stack[it->depth]->n) continue;
        const struct pbt_node *c = it->stack[it->depth]->e[it->idx[it->depth]];
        while (c) { /* leftmost path of the next child */
            it->stack[++it->depth] = c;
            it->idx[it->depth] = 0;
            c = c->leaf ? NULL : c->e[0];
        }
    }
    return NULL;
}
