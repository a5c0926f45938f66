/* The shared-structure zone store's memory: node allocation, the writer
 * transaction, reclaim of versions (see zstore.h). */
#include "dns/zstore.h"
#include "dns/name.h"
#include "dns/zslab.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The private alloc byte sits in what was padding. */
_Static_assert(sizeof(struct zone_node) == 32, "zone_node grew");

static uint32_t next_gen;
static size_t live_nodes;

/* ---- zone nodes ---- */

struct zone_node *zn_new(struct zv_txn *x, const uint8_t *lname, size_t len,
                         const struct dns_rrset *sets, size_t nsets, uint16_t flags)
{
    size_t data = 0;
    for (size_t i = 0; i < nsets; i++)
        data += sets[i].rdata_size;
    size_t size = sizeof(struct zone_node) + nsets * sizeof *sets + len + data;
    struct zone_node *zn = x->slabs ? zslab_alloc(&x->slab, size) : NULL;
    uint8_t in_slab = zn != NULL;
    if (!zn && !(zn = malloc(size))) return NULL;
    __atomic_add_fetch(&live_nodes, 1, __ATOMIC_RELAXED);
    struct dns_rrset *s = (struct dns_rrset *)(zn + 1);
    uint8_t *name = (uint8_t *)(s + nsets), *p = name + len;
    memcpy(name, lname, len);
    for (size_t i = 0; i < nsets; i++) {
        s[i] = sets[i];
        memcpy(p, sets[i].rdata, sets[i].rdata_size);
        s[i].rdata = p;
        p += sets[i].rdata_size;
    }
    *zn = (struct zone_node){.name = name,
                             .rrsets = s,
                             .hash = dns_name_hash(lname, len),
                             .gen = x->t.gen,
                             .flags = flags,
                             .nrrsets = (uint16_t)nsets,
                             .name_len = (uint8_t)len,
                             .labels = (uint8_t)dns_name_labels(lname),
                             .alloc = in_slab};
    return zn;
}

void zn_free(const struct zone_node *zn)
{
    if (!zn) return;
    __atomic_sub_fetch(&live_nodes, 1, __ATOMIC_RELAXED);
    if (zn->alloc)
        zslab_free(zn);
    else
        free((void *)zn);
}

size_t zn_live(void)
{
    return __atomic_load_n(&live_nodes, __ATOMIC_RELAXED);
}

/* ---- retire lists ---- */

struct zv_retired {
    void **trie; /* trie and tree nodes (and trie roots) */
    size_t ntrie;
    const struct zone_node **zn;
    size_t nzn;
};

static int push(const struct zone_node ***a, size_t *n, size_t *cap, const struct zone_node *zn)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        const struct zone_node **na = realloc(*a, nc * sizeof *na);
        if (!na) return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = zn;
    return 0;
}

/* Frees the entries of r newer than gen (all with gen 0) and r itself. */
static void retired_free(struct zv_retired *r, uint32_t gen)
{
    if (!r) return;
    for (size_t i = 0; i < r->ntrie; i++)
        if (pbt_gen(r->trie[i]) > gen) free(r->trie[i]);
    for (size_t i = 0; i < r->nzn; i++)
        if (r->zn[i]->gen > gen) zn_free(r->zn[i]);
    free(r->trie);
    free(r->zn);
    free(r);
}

/* Frees the entries of r newer than gen and keeps the others. */
static void retired_prune(struct zv_retired *r, uint32_t gen)
{
    if (!r) return;
    size_t k = 0;
    for (size_t i = 0; i < r->ntrie; i++)
        if (pbt_gen(r->trie[i]) > gen)
            free(r->trie[i]);
        else
            r->trie[k++] = r->trie[i];
    r->ntrie = k;
    k = 0;
    for (size_t i = 0; i < r->nzn; i++)
        if (r->zn[i]->gen > gen)
            zn_free(r->zn[i]);
        else
            r->zn[k++] = r->zn[i];
    r->nzn = k;
}

/* Appends b's entries to a (b is consumed); on out of memory they leak,
 * which is safe. */
static struct zv_retired *retired_merge(struct zv_retired *a, struct zv_retired *b)
{
    if (!a) return b;
    if (!b) return a;
    void **t = realloc(a->trie, (a->ntrie + b->ntrie + 1) * sizeof *t);
    const struct zone_node **z = realloc(a->zn, (a->nzn + b->nzn + 1) * sizeof *z);
    if (t) a->trie = t;
    if (z) a->zn = z;
    if (t && b->ntrie) {
        memcpy(a->trie + a->ntrie, b->trie, b->ntrie * sizeof *t);
        a->ntrie += b->ntrie;
    }
    if (z && b->nzn) {
        memcpy(a->zn + a->nzn, b->zn, b->nzn * sizeof *z);
        a->nzn += b->nzn;
    }
    free(b->trie);
    free(b->zn);
    free(b);
    return a;
}

/* ---- the writer transaction ---- */

static pthread_mutex_t reclaim_mu = PTHREAD_MUTEX_INITIALIZER;

static void kid_link(struct zone_version *base, struct zone_version *v)
{
    v->base = base;
    v->prev_sib = NULL;
    v->next_sib = base ? base->kids : NULL;
    if (v->next_sib) v->next_sib->prev_sib = v;
    if (base) base->kids = v;
}

static void kid_unlink(struct zone_version *v)
{
    if (v->prev_sib)
        v->prev_sib->next_sib = v->next_sib;
    else if (v->base)
        v->base->kids = v->next_sib;
    if (v->next_sib) v->next_sib->prev_sib = v->prev_sib;
    v->prev_sib = v->next_sib = NULL;
}

struct zone_version *zv_begin(struct zv_txn *x, const struct zone_version *base)
{
    memset(x, 0, sizeof *x);
    struct zone_version *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    uint32_t g;
    while ((g = __atomic_add_fetch(&next_gen, 1, __ATOMIC_RELAXED)) == 0)
        ;
    v->gen = x->t.gen = g;
    if (base) {
        v->index = base->index;
        v->order = base->order;
        v->apex_node = base->apex_node;
        v->nrecords = base->nrecords;
        v->serial = base->serial;
    }
    pthread_mutex_lock(&reclaim_mu);
    kid_link((struct zone_version *)base, v);
    pthread_mutex_unlock(&reclaim_mu);
    x->v = v;
    return v;
}

void zv_use_slabs(struct zv_txn *x)
{
    x->slabs = true;
}

void zv_end(struct zv_txn *x)
{
    struct zone_version *v = x->v;
    for (size_t i = 0; i < x->nzown; i++)
        zn_free(x->zown[i]);
    zslab_release(x->slab); /* the nodes in it hold it from now on */
    x->slab = NULL;
    free(x->zown);
    x->zown = NULL;
    x->nzown = 0;
    struct zv_retired *r = calloc(1, sizeof *r);
    if (r) {
        r->trie = (void **)x->t.retired;
        r->ntrie = x->t.nretired;
        r->zn = x->zold;
        r->nzn = x->nzold;
    } /* else they leak: safe */
    x->t.retired = NULL;
    x->t.nretired = 0;
    x->zold = NULL;
    x->nzold = 0;
    /* a fold (settle) may already have given v its dead base's list */
    pthread_mutex_lock(&reclaim_mu);
    v->retired = retired_merge(v->retired, r);
    pthread_mutex_unlock(&reclaim_mu);
    v->nnodes = phamt_count(v->index);
    if (v->apex_node) v->apex = v->apex_node->name;
}

/* A replaced or removed zone node: freed at the end if this transaction
 * made it (never published), else retired. */
static int drop(struct zv_txn *x, const struct zone_node *old)
{
    if (!old) return 0;
    if (old->gen == x->t.gen) return push(&x->zown, &x->nzown, &x->capzown, old);
    return push(&x->zold, &x->nzold, &x->capzold, old);
}

int zv_put(struct zv_txn *x, const struct zone_node *zn)
{
    struct zone_version *v = x->v;
    const struct zone_node *rep, *rep2;
    const struct phamt *i = phamt_put(&x->t, v->index, zn, &rep);
    if (!i) return -1;
    v->index = i;
    const struct pbt_node *o = pbt_put(&x->t, v->order, zn, &rep2);
    if (!o) return -1;
    v->order = o;
    if (zn->flags & ZN_APEX) v->apex_node = zn;
    return drop(x, rep);
}

int zv_put_sorted(struct zv_txn *x, const struct zone_node *const *zn, size_t n)
{
    struct zone_version *v = x->v;
    for (size_t i = 0; i < n; i++)
        if (zn[i]->flags & ZN_APEX) v->apex_node = zn[i];
    bool oom;
    if (!(v->index = phamt_build(&x->t, zn, n, &oom)) && oom) return -1;
    v->order = pbt_build_sorted(&x->t, zn, n, &oom);
    return oom ? -1 : 0;
}

int zv_del(struct zv_txn *x, const uint8_t *lname, size_t len)
{
    struct zone_version *v = x->v;
    const struct zone_node *rem, *rem2;
    bool oom;
    const struct phamt *i =
        phamt_del(&x->t, v->index, dns_name_hash(lname, len), lname, len, &rem, &oom);
    if (oom) return -1;
    v->index = i;
    const struct pbt_node *o = pbt_del(&x->t, v->order, lname, &rem2, &oom);
    if (oom) return -1;
    v->order = o;
    return drop(x, rem);
}

/* ---- reclaim ---- */

static void free_zn_cb(const struct zone_node *zn)
{
    zn_free(zn);
}

/* Everything v reaches, and its retire list. */
static void free_everything(struct zone_version *v)
{
    struct pbt_iter it;
    pbt_seek(&it, v->order, NULL);
    for (const struct zone_node *zn; (zn = pbt_next(&it));)
        zn_free(zn);
    pbt_free_all(v->order);
    phamt_free_all(v->index);
    retired_free(v->retired, 0);
    free(v);
}

/* v is dead: fold or free it, then its base if that is dead and now has at
 * most one child. Under reclaim_mu. */
static void settle(struct zone_version *v)
{
    while (v && v->dead) {
        struct zone_version *base = v->base;
        if (v->kids && v->kids->next_sib) return; /* two or more children: wait */
        if (v->kids) {                            /* fold into the only child */
            struct zone_version *c = v->kids;
            kid_unlink(c);
            kid_unlink(v);
            c->retired = retired_merge(c->retired, v->retired);
            v->retired = NULL;
            kid_link(base, c);
            if (!base) {
                retired_free(c->retired, 0);
                c->retired = NULL;
            } else { /* what v made and c replaced: no live version reaches it */
                retired_prune(c->retired, base->gen);
            }
            free(v);
            return; /* base's child count did not change */
        }
        kid_unlink(v);
        if (!base) {
            free_everything(v);
            return;
        }
        /* a discarded or superseded tip: free what it made */
        pbt_free_newer(v->order, base->gen, free_zn_cb);
        phamt_free_newer(v->index, base->gen);
        retired_free(v->retired, base->gen);
        free(v);
        v = base; /* it lost a child */
    }
}

void zone_version_free(struct zone_version *v)
{
    if (!v) return;
    pthread_mutex_lock(&reclaim_mu);
    v->dead = true;
    settle(v);
    pthread_mutex_unlock(&reclaim_mu);
}
