/* Laying out a builder (and, for incremental changes, an old version) as an
 * immutable zone_version.
 *
 * Nodes are emitted in canonical order. Because a name's ancestors sort
 * before it and every subtree is contiguous in that order, a stack of the
 * ancestors emitted so far gives each node its parent without any lookup,
 * and shows which ancestors are missing: those become empty non-terminals,
 * emitted right before the node. */
#include "dns/wire.h"
#include "dns/phamt.h"
#include "dns/zbuild_int.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- canonical order of builder nodes ---- */

/* Canonical order (RFC 4034 §6.1) as one memcmp: the labels from the root
 * down, each byte as itself except 0 as 00 FF, each label ended by 00 00,
 * which sorts before any byte of a longer label. */
struct skey {
    const uint8_t *k;
    size_t len;
    struct bnode *n;
};
static size_t sort_key(const uint8_t *name, uint8_t *out)
{
    const uint8_t *lab[128];
    int nl = 0;
    for (const uint8_t *p = name; *p; p += *p + 1)
        lab[nl++] = p;
    size_t o = 0;
    while (nl-- > 0) {
        for (uint8_t i = 1; i <= lab[nl][0]; i++) {
            uint8_t c = lab[nl][i];
            out[o++] = c;
            if (!c) out[o++] = 0xff;
        }
        out[o++] = 0;
        out[o++] = 0;
    }
    return o;
}
static int cmp_skey(const void *x, const void *y)
{
    const struct skey *a = x, *b = y;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->k, b->k, m);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* The builder nodes selected by `want`, sorted canonically; *n gets the
 * count. The caller frees the result and *keys. */
static struct skey *sorted_nodes(struct zbuild *b, bool touched_only, size_t *n, uint8_t **keys)
{
    size_t cnt = 0, bytes = 0;
    for (size_t i = 0; i < b->nall; i++)
        if (touched_only ? b->all[i]->loaded : b->all[i]->nsets > 0) {
            cnt++;
            bytes += 2 * (size_t)b->all[i]->len;
        }
    struct skey *s = malloc((cnt ? cnt : 1) * sizeof *s);
    *keys = malloc(bytes ? bytes : 1);
    if (!s || !*keys) {
        free(s);
        free(*keys);
        return NULL;
    }
    size_t k = 0, o = 0;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *bn = b->all[i];
        if (!(touched_only ? bn->loaded : bn->nsets > 0)) continue;
        s[k] = (struct skey){*keys + o, sort_key(bn->name, *keys + o), bn};
        o += s[k++].len;
    }
    qsort(s, cnt, sizeof *s, cmp_skey);
    *n = cnt;
    return s;
}

/* ---- the emitter ---- */

struct emitter {
    struct zone_version *v;
    struct zone_node *nodes; /* grows while emitting; .parent holds index + 1 */
    size_t n, cap;
    size_t stack[DNS_NAME_MAX / 2 + 2]; /* indices of the current ancestor chain */
    int depth;
    bool set_serial;
    uint32_t serial;
};

static bool is_ancestor(const struct zone_node *a, const uint8_t *name, size_t len, int labels)
{
    if (a->labels >= labels) return false;
    const uint8_t *suf = dns_name_skip(name, labels - a->labels);
    return (size_t)(name + len - suf) == a->name_len && memcmp(suf, a->name, a->name_len) == 0;
}

static struct zone_node *new_node(struct emitter *em, const uint8_t *name, size_t len, int labels,
                                  uint32_t hash)
{
    if (em->n == em->cap) {
        size_t nc = em->cap ? em->cap * 2 : 256;
        struct zone_node *nn = realloc(em->nodes, nc * sizeof *nn);
        if (!nn) return NULL;
        em->nodes = nn;
        em->cap = nc;
    }
    struct zone_node *zn = &em->nodes[em->n];
    memset(zn, 0, sizeof *zn);
    zn->name = arena_memdup(&em->v->arena, name, len);
    if (!zn->name) return NULL;
    zn->name_len = (uint8_t)len;
    zn->labels = (uint8_t)labels;
    zn->hash = hash;
    zn->parent =
        (const struct zone_node *)(uintptr_t)(em->depth ? em->stack[em->depth - 1] + 1 : 0);
    em->stack[em->depth++] = em->n;
    em->n++;
    return zn;
}

/* Emits the node of name (lowercase), after any missing ancestors. */
static struct zone_node *emit(struct emitter *em, const uint8_t *name, size_t len, uint32_t hash)
{
    int labels = dns_name_labels(name);
    while (em->depth && !is_ancestor(&em->nodes[em->stack[em->depth - 1]], name, len, labels))
        em->depth--;
    if (em->depth) {
        int top = em->nodes[em->stack[em->depth - 1]].labels;
        for (int k = labels - top - 1; k >= 1; k--) {
            const uint8_t *anc = dns_name_skip(name, k);
            size_t alen = len - (size_t)(anc - name);
            if (!new_node(em, anc, alen, labels - k, dns_name_hash(anc, alen))) return NULL;
        }
    }
    return new_node(em, name, len, labels, hash);
}

/* Node flags of its own data, the SOA serial (rewritten if asked: the RDATA
 * is this version's copy), the record count. */
static void own_data(struct emitter *em, struct zone_node *zn, bool apex)
{
    for (uint16_t i = 0; i < zn->nrrsets; i++) {
        const struct dns_rrset *s = &zn->rrsets[i];
        em->v->nrecords += s->count;
        if (s->type == DNS_T_NS && !apex) zn->flags |= ZN_DELEG;
        if (s->type == DNS_T_DNAME) zn->flags |= ZN_DNAME;
        if (s->type == DNS_T_CNAME) zn->flags |= ZN_CNAME;
        if (s->type == DNS_T_SOA) {
            uint8_t *rd = (uint8_t *)rr_rdata(s->rdata);
            size_t off = dns_name_len(rd); /* serial follows MNAME and RNAME */
            off += dns_name_len(rd + off);
            if (em->set_serial) put_be32(rd + off, em->serial);
            em->v->serial = be32(rd + off);
        }
    }
}

static int cmp_set(const void *x, const void *y)
{
    const struct bset *a = x, *b = y;
    return (int)a->type - (int)b->type;
}
static int cmp_rr(const void *x, const void *y, void *ctx)
{
    const struct brr *a = x, *b = y;
    return dns_rdata_cmp(*(const uint16_t *)ctx, a->data, a->len, b->data, b->len);
}

/* Emits a builder node with its RRsets sorted by type and RDATA. */
static int emit_bnode(struct emitter *em, struct bnode *n)
{
    struct zone_node *zn = emit(em, n->name, n->len, n->hash);
    if (!zn) return -1;
    struct arena *a = &em->v->arena;
    qsort(n->sets, n->nsets, sizeof *n->sets, cmp_set);
    struct dns_rrset *sets = arena_alloc(a, n->nsets * sizeof *sets);
    if (!sets) return -1;
    zn->rrsets = sets;
    zn->nrrsets = (uint16_t)n->nsets;
    for (size_t i = 0; i < n->nsets; i++) {
        struct bset *s = &n->sets[i];
        qsort_r(s->rr, s->n, sizeof *s->rr, cmp_rr, &s->type);
        size_t size = 0;
        for (size_t k = 0; k < s->n; k++)
            size += 2 + (size_t)s->rr[k].len;
        uint8_t *p = arena_alloc(a, size);
        if (!p) return -1;
        sets[i] = (struct dns_rrset){s->type, (uint16_t)s->n, s->ttl, (uint32_t)size, p};
        for (size_t k = 0; k < s->n; k++) {
            put_be16(p, s->rr[k].len);
            memcpy(p + 2, s->rr[k].data, s->rr[k].len);
            p += 2 + s->rr[k].len;
        }
    }
    own_data(em, zn, em->n == 1);
    return 0;
}

/* Emits a node of an older version unchanged (a copy). */
static int emit_old(struct emitter *em, const struct zone_node *o)
{
    struct zone_node *zn = emit(em, o->name, o->name_len, o->hash);
    if (!zn) return -1;
    struct arena *a = &em->v->arena;
    struct dns_rrset *sets = arena_memdup(a, o->rrsets, o->nrrsets * sizeof *sets);
    if (!sets) return -1;
    for (uint16_t i = 0; i < o->nrrsets; i++)
        if (!(sets[i].rdata = arena_memdup(a, o->rrsets[i].rdata, o->rrsets[i].rdata_size)))
            return -1;
    zn->rrsets = sets;
    zn->nrrsets = o->nrrsets;
    own_data(em, zn, em->n == 1);
    return 0;
}

/* Moves the emitted nodes into the version: parents, inherited flags, the
 * hash table. Checks that the apex comes first with one SOA. */
static int finish(struct emitter *em, const uint8_t *apex, size_t apex_len, struct err *e)
{
    struct zone_version *v = em->v;
    const struct dns_rrset *soa = em->n ? node_rrset(&em->nodes[0], DNS_T_SOA) : NULL;
    if (!soa || em->nodes[0].name_len != apex_len ||
        memcmp(em->nodes[0].name, apex, apex_len) != 0 || soa->count != 1) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(apex, t, sizeof t);
        return err_set(e, "no SOA record at the zone apex %s", t);
    }
    size_t n = em->n, slots = 16;
    while (slots < n * 2)
        slots *= 2;
    struct zone_node *zn = arena_alloc(&v->arena, n * sizeof *zn);
    v->table = arena_zalloc(&v->arena, slots * sizeof *v->table);
    if (!zn || !v->table) return err_set(e, "out of memory");
    memcpy(zn, em->nodes, n * sizeof *zn);
    v->mask = (uint32_t)(slots - 1);
    v->nodes = zn;
    v->nnodes = n;
    v->apex = zn[0].name;
    zn[0].flags |= ZN_APEX;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = (uintptr_t)zn[i].parent;
        zn[i].parent = p ? &zn[p - 1] : NULL;
        if (p) { /* parents come first: their flags are complete */
            struct zone_node *pm = &zn[p - 1];
            if (pm->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME)) zn[i].flags |= ZN_OCCLUDED;
            if (zn[i].name[0] == 1 && zn[i].name[1] == '*') {
                zn[i].flags |= ZN_WILDCARD;
                pm->flags |= ZN_HAS_WILDCARD;
            }
        }
        size_t s = zn[i].hash & v->mask;
        while (v->table[s])
            s = (s + 1) & v->mask;
        v->table[s] = &zn[i];
    }
#ifdef CEON_FIND_PHAMT
    static uint32_t gen;
    struct phamt_txn t = {.gen = __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED)};
    for (size_t i = 0; i < n; i++) {
        const struct zone_node *rep;
        const struct phamt *r = phamt_put(&t, v->index, &zn[i], &rep);
        if (!r) return free(t.retired), err_set(e, "out of memory");
        v->index = r;
    }
    free(t.retired); /* one transaction: nothing older was replaced */
#endif
    return 0;
}

static struct zone_version *start(struct emitter *em, bool set_serial, uint32_t serial)
{
    memset(em, 0, sizeof *em);
    em->set_serial = set_serial;
    em->serial = serial;
    em->v = calloc(1, sizeof *em->v);
    if (em->v) arena_init(&em->v->arena, 64 * 1024);
    return em->v;
}

/* Reports the first (by line, then by name) node that breaks a content
 * rule, so the message does not depend on hash order. */
static int check_nodes(struct zbuild *b, bool touched_only, struct err *e)
{
    unsigned long bad_line = 0;
    struct bnode *bad = NULL;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *n = b->all[i];
        struct err ne;
        unsigned long line = 0;
        if ((touched_only && !n->loaded) || !n->nsets || zb_check_node(b, n, &ne, &line) == 0)
            continue;
        if (!bad || line < bad_line || (line == bad_line && dns_name_cmp(n->name, bad->name) < 0)) {
            bad = n;
            bad_line = line;
            if (e) *e = ne;
        }
    }
    return bad ? -1 : 0;
}

/* First index in [lo, hi) of old's nodes whose name is >= name. */
static size_t lower_bound(const struct zone_version *old, size_t lo, size_t hi, const uint8_t *name)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dns_name_cmp(old->nodes[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Lays out the version: old's nodes (if any) in order, each touched name
 * replaced by its builder contents; with no old version, every builder
 * node. With old, only the touched names are checked. */
static int freeze(struct zbuild *b, const struct zone_version *old, bool set_serial,
                  uint32_t serial, struct zone_version **out, struct err *e)
{
    bool touched_only = old != NULL;
    struct bnode *apex = zb_find_node(b, b->apex, b->apex_len, dns_name_hash(b->apex, b->apex_len));
    /* with old, an untouched apex keeps old's (checked) SOA */
    bool no_soa = touched_only ? apex && apex->loaded && !zb_find_set(apex, DNS_T_SOA)
                               : !apex || !zb_find_set(apex, DNS_T_SOA);
    if (no_soa) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(b->apex, t, sizeof t);
        return zb_where(b, 0, e, "no SOA record at the zone apex", t);
    }
    if (check_nodes(b, touched_only, e) < 0) return -1;
    struct emitter em;
    size_t n = 0, i = 0, nold = old ? old->nnodes : 0;
    uint8_t *keys = NULL;
    struct skey *order =
        start(&em, set_serial, serial) ? sorted_nodes(b, touched_only, &n, &keys) : NULL;
    int r = order ? 0 : err_set(e, "out of memory");
    /* merge: old nodes up to each builder name, then that name's new
     * contents; old empty non-terminals are recreated where still needed */
    for (size_t t = 0; r == 0 && t <= n; t++) {
        size_t p = t < n && old ? lower_bound(old, i, nold, order[t].n->name) : nold;
        for (; r == 0 && i < p; i++)
            if (old->nodes[i].nrrsets && emit_old(&em, &old->nodes[i]) < 0)
                r = err_set(e, "out of memory");
        if (t == n || r) break;
        if (i < nold && old->nodes[i].name_len == order[t].n->len &&
            memcmp(old->nodes[i].name, order[t].n->name, order[t].n->len) == 0)
            i++; /* replaced */
        if (order[t].n->nsets && emit_bnode(&em, order[t].n) < 0) r = err_set(e, "out of memory");
    }
    if (r == 0) r = finish(&em, b->apex, b->apex_len, e);
    free(order);
    free(keys);
    free(em.nodes);
    if (r == 0)
        *out = em.v;
    else
        zone_version_free(em.v);
    return r;
}

int zb_freeze(struct zbuild *b, bool set_serial, uint32_t serial, struct zone_version **out,
              struct err *e)
{
    return freeze(b, NULL, set_serial, serial, out, e);
}

int zb_freeze_onto(struct zbuild *b, const struct zone_version *old, uint32_t serial,
                   struct zone_version **out, struct err *e)
{
    return freeze(b, old, true, serial, out, e);
}

int zb_check_version(const struct zone_version *v, struct zone_version **rebuilt, struct err *e)
{
    struct zbuild *b = zb_new(v->apex);
    if (!b) return err_set(e, "out of memory");
    int r = 0;
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    for (const struct zone_node *n; r == 0 && (n = zone_cursor_next(&c));) {
        for (uint16_t k = 0; r == 0 && k < n->nrrsets; k++) {
            const struct dns_rrset *s = &n->rrsets[k];
            for (const uint8_t *p = rrset_first(s); r == 0 && p; p = rrset_next(s, p))
                if (zb_add(b, n->name, s->type, s->ttl, rr_rdata(p), rr_rdlen(p), true, 0, e) < 0)
                    r = -1;
        }
    }
    struct zone_version *out = NULL;
    if (r == 0) r = zb_freeze(b, false, 0, &out, e);
    zb_free(b);
    if (r == 0 && rebuilt)
        *rebuilt = out;
    else
        zone_version_free(out);
    return r;
}
