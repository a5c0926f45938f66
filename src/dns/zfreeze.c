/* Laying out a whole builder as a new zone_version (loading; changes to an
 * existing version go through zb_freeze_onto in zapply.c).
 *
 * Nodes are emitted in canonical order. Because a name's ancestors sort
 * before it and every subtree is contiguous in that order, a stack of the
 * ancestors emitted so far gives each node its parent without any lookup,
 * and shows which ancestors are missing: those become empty non-terminals,
 * emitted right before the node. The flags are computed on that flat
 * layout, parents first; then each node is copied into its own allocation
 * and put in the version's indexes (dns/zstore.h). */
#include "dns/wire.h"
#include "dns/zstore.h"
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
    struct arena arena;      /* the emitted nodes' names and RRsets, until finish copies them */
    struct zone_node *nodes; /* grows while emitting */
    size_t *parent;          /* parent[i]: index + 1 of node i's parent, 0 at the apex */
    size_t n, cap;
    size_t nrecords;
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
        if (nn) em->nodes = nn;
        size_t *np = realloc(em->parent, nc * sizeof *np);
        if (np) em->parent = np;
        if (!nn || !np) return NULL;
        em->cap = nc;
    }
    struct zone_node *zn = &em->nodes[em->n];
    memset(zn, 0, sizeof *zn);
    zn->name = arena_memdup(&em->arena, name, len);
    if (!zn->name) return NULL;
    zn->name_len = (uint8_t)len;
    zn->labels = (uint8_t)labels;
    zn->hash = hash;
    em->parent[em->n] = em->depth ? em->stack[em->depth - 1] + 1 : 0;
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
        em->nrecords += s->count;
        if (s->type == DNS_T_NS && !apex) zn->flags |= ZN_DELEG;
        if (s->type == DNS_T_DNAME) zn->flags |= ZN_DNAME;
        if (s->type == DNS_T_CNAME) zn->flags |= ZN_CNAME;
        if (s->type == DNS_T_SOA) {
            uint8_t *rd = (uint8_t *)rr_rdata(s->rdata);
            size_t off = dns_name_len(rd); /* serial follows MNAME and RNAME */
            off += dns_name_len(rd + off);
            if (em->set_serial) put_be32(rd + off, em->serial);
            em->serial = be32(rd + off);
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
    struct arena *a = &em->arena;
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

/* Computes the inherited flags (parents come first, so theirs are
 * complete), then copies the emitted nodes into the version, each its own
 * allocation in both indexes (one writer transaction). Checks that the apex
 * comes first with one SOA. */
static int finish(struct emitter *em, const uint8_t *apex, size_t apex_len,
                  struct zone_version **out, struct err *e)
{
    const struct dns_rrset *soa = em->n ? node_rrset(&em->nodes[0], DNS_T_SOA) : NULL;
    if (!soa || em->nodes[0].name_len != apex_len ||
        memcmp(em->nodes[0].name, apex, apex_len) != 0 || soa->count != 1) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(apex, t, sizeof t);
        return err_set(e, "no SOA record at the zone apex %s", t);
    }
    struct zone_node *zn = em->nodes;
    size_t n = em->n;
    zn[0].flags |= ZN_APEX;
    for (size_t i = 0; i < n; i++) {
        size_t p = em->parent[i];
        if (p) {
            struct zone_node *pm = &zn[p - 1];
            if (pm->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME)) zn[i].flags |= ZN_OCCLUDED;
            if (zn[i].name[0] == 1 && zn[i].name[1] == '*') {
                zn[i].flags |= ZN_WILDCARD;
                pm->flags |= ZN_HAS_WILDCARD;
            }
        }
    }
    struct zv_txn x;
    struct zone_version *v = zv_begin(&x, NULL);
    if (!v) return err_set(e, "out of memory");
    v->serial = em->serial;
    v->nrecords = em->nrecords;
    const struct zone_node **made = malloc(n * sizeof *made);
    size_t k = 0;
    for (; made && k < n; k++)
        if (!(made[k] =
                  zn_new(&x, zn[k].name, zn[k].name_len, zn[k].rrsets, zn[k].nrrsets, zn[k].flags)))
            break;
    if (!made || k < n || zv_put_sorted(&x, made, n) < 0) {
        /* the nodes are not all in the indexes: free them here, and the
         * indexes (nothing older) with the version */
        for (size_t i = 0; made && i < k; i++)
            zn_free(made[i]);
        free(made);
        pbt_free_all(v->order);
        phamt_free_all(v->index);
        v->order = NULL;
        v->index = NULL;
        zv_end(&x);
        zone_version_free(v);
        return err_set(e, "out of memory");
    }
    free(made);
    zv_end(&x);
    *out = v;
    return 0;
}

static void start(struct emitter *em, bool set_serial, uint32_t serial)
{
    memset(em, 0, sizeof *em);
    em->set_serial = set_serial;
    em->serial = serial;
    arena_init(&em->arena, 64 * 1024);
}

/* Reports the first (by line, then by name) node that breaks a content
 * rule, so the message does not depend on hash order. */
int zb_check_nodes(struct zbuild *b, bool touched_only, struct err *e)
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

/* Lays out every builder node as a new version (loading, zb_check_version).
 * Changes to an existing version go through zb_freeze_onto (zapply.c). */
int zb_freeze(struct zbuild *b, bool set_serial, uint32_t serial, struct zone_version **out,
              struct err *e)
{
    struct bnode *apex = zb_find_node(b, b->apex, b->apex_len, dns_name_hash(b->apex, b->apex_len));
    if (!apex || !zb_find_set(apex, DNS_T_SOA)) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(b->apex, t, sizeof t);
        return zb_where(b, 0, e, "no SOA record at the zone apex", t);
    }
    if (zb_check_nodes(b, false, e) < 0) return -1;
    struct emitter em;
    size_t n = 0;
    uint8_t *keys = NULL;
    start(&em, set_serial, serial);
    struct skey *order = sorted_nodes(b, false, &n, &keys);
    int r = order ? 0 : err_set(e, "out of memory");
    for (size_t t = 0; r == 0 && t < n; t++)
        if (emit_bnode(&em, order[t].n) < 0) r = err_set(e, "out of memory");
    if (r == 0) r = finish(&em, b->apex, b->apex_len, out, e);
    free(order);
    free(keys);
    free(em.nodes);
    free(em.parent);
    arena_free(&em.arena);
    return r;
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
