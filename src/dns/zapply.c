/* zb_freeze_onto: a new version = an old one with the builder's touched
 * names replaced, copying only the paths to what changed (issue 12; see
 * dns/zstore.h).
 *
 * In one writer transaction: (A) every touched name with data gets a new
 * node, and its missing ancestors empty non-terminals; (B) every touched
 * name left without data is removed, or becomes an empty non-terminal when
 * it still has descendants, and empty non-terminals left without
 * descendants go with it; (C) inherited flags (ZN_OCCLUDED,
 * ZN_HAS_WILDCARD) are recomputed, parents first, for every name the
 * transaction made, the parents of wildcards that came or went, and every
 * name below a name whose cut or DNAME came or went (only there is a
 * subtree walked: the cost Knot pays in its adjust step too); (D) the apex
 * is copied with the new serial. Nodes older than the transaction are never
 * changed: a flag change copies the node. */
#include "dns/wire.h"
#include "dns/zbuild_int.h"
#include "dns/zstore.h"
#include "util/buf.h"
#include <stdlib.h>
#include <string.h>

struct apply {
    struct zv_txn x;
    struct zone_version *v;
    const uint8_t *apex;
    size_t apex_len;
    uint8_t **marks; /* names whose flags are recomputed (copies) */
    size_t nmarks, capmarks;
    uint8_t **cuts; /* names whose cut / DNAME status changed (copies) */
    size_t ncuts, capcuts;
};

static bool is_wild(const uint8_t *name)
{
    return name[0] == 1 && name[1] == '*';
}

static int push_name(uint8_t ***a, size_t *n, size_t *cap, const uint8_t *name, size_t len)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        uint8_t **na = realloc(*a, nc * sizeof *na);
        if (!na) return -1;
        *a = na;
        *cap = nc;
    }
    uint8_t *c = malloc(len);
    if (!c) return -1;
    memcpy(c, name, len);
    (*a)[(*n)++] = c;
    return 0;
}

/* Marks name for (C); a wildcard marks its parent too (ZN_HAS_WILDCARD). */
static int mark(struct apply *a, const uint8_t *name, size_t len)
{
    if (push_name(&a->marks, &a->nmarks, &a->capmarks, name, len) < 0) return -1;
    if (!is_wild(name) || len == a->apex_len) return 0;
    const uint8_t *p = dns_name_skip(name, 1);
    return push_name(&a->marks, &a->nmarks, &a->capmarks, p, len - (size_t)(p - name));
}

static const struct zone_node *find(struct apply *a, const uint8_t *name, size_t len)
{
    return zone_version_find(a->v, name, len);
}

static bool is_apex(struct apply *a, const uint8_t *name, size_t len)
{
    return len == a->apex_len && memcmp(name, a->apex, len) == 0;
}

/* Flags of a node's own name and data. */
static uint16_t own_flags(const struct zone_node *zn, bool apex)
{
    uint16_t f = apex ? ZN_APEX : 0;
    if (!apex && is_wild(zn->name)) f |= ZN_WILDCARD;
    for (uint16_t i = 0; i < zn->nrrsets; i++) {
        uint16_t t = zn->rrsets[i].type;
        if (t == DNS_T_NS && !apex) f |= ZN_DELEG;
        if (t == DNS_T_DNAME) f |= ZN_DNAME;
        if (t == DNS_T_CNAME) f |= ZN_CNAME;
    }
    return f;
}

static size_t count_rrs(const struct zone_node *zn)
{
    size_t c = 0;
    for (uint16_t i = 0; zn && i < zn->nrrsets; i++)
        c += zn->rrsets[i].count;
    return c;
}

/* Whether some node lies below name (they follow it in canonical order). */
static bool has_desc(struct apply *a, const uint8_t *name, size_t len)
{
    struct pbt_iter it;
    pbt_seek(&it, a->v->order, name);
    const struct zone_node *zn = pbt_next(&it);
    if (zn && zn->name_len == len && memcmp(zn->name, name, len) == 0) zn = pbt_next(&it);
    return zn && dns_name_is_subdomain(zn->name, name);
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

/* A node from a builder node: RRsets by type, RRs in canonical order. */
static struct zone_node *from_bnode(struct apply *a, struct bnode *n)
{
    qsort(n->sets, n->nsets, sizeof *n->sets, cmp_set);
    size_t total = 0;
    for (size_t i = 0; i < n->nsets; i++) {
        struct bset *s = &n->sets[i];
        qsort_r(s->rr, s->n, sizeof *s->rr, cmp_rr, &s->type);
        for (size_t k = 0; k < s->n; k++)
            total += 2 + (size_t)s->rr[k].len;
    }
    struct dns_rrset *sets = malloc(n->nsets * sizeof *sets);
    uint8_t *buf = malloc(total ? total : 1), *p = buf;
    struct zone_node *zn = NULL;
    if (sets && buf) {
        for (size_t i = 0; i < n->nsets; i++) {
            struct bset *s = &n->sets[i];
            sets[i] = (struct dns_rrset){s->type, (uint16_t)s->n, s->ttl, 0, p};
            for (size_t k = 0; k < s->n; k++) {
                put_be16(p, s->rr[k].len);
                if (s->rr[k].len) memcpy(p + 2, s->rr[k].data, s->rr[k].len);
                p += 2 + s->rr[k].len;
            }
            sets[i].rdata_size = (uint32_t)(p - sets[i].rdata);
        }
        zn = zn_new(&a->x, n->name, n->len, sets, n->nsets, 0);
    }
    free(sets);
    free(buf);
    if (zn) zn->flags = own_flags(zn, is_apex(a, n->name, n->len));
    return zn;
}

static int put_new(struct apply *a, struct zone_node *zn)
{
    if (!zn) return -1;
    if (zv_put(&a->x, zn) < 0) {
        zn_free(zn);
        return -1;
    }
    return 0;
}

static int ent(struct apply *a, const uint8_t *name, size_t len)
{
    struct zone_node *zn = zn_new(&a->x, name, len, NULL, 0, 0);
    if (zn) zn->flags = own_flags(zn, false);
    if (put_new(a, zn) < 0) return -1;
    return mark(a, name, len);
}

/* (A) a touched name with data, and its missing ancestors. */
static int put_data(struct apply *a, struct bnode *n, const struct zone_node *old)
{
    struct zone_node *zn = from_bnode(a, n);
    uint16_t cut = ZN_DELEG | ZN_DNAME;
    bool cut_changed = old && (old->flags & cut) != (zn ? zn->flags & cut : 0);
    if (put_new(a, zn) < 0 || mark(a, n->name, n->len) < 0) return -1;
    if (cut_changed && push_name(&a->cuts, &a->ncuts, &a->capcuts, n->name, n->len) < 0) return -1;
    if (is_apex(a, n->name, n->len)) return 0;
    const uint8_t *p = dns_name_skip(n->name, 1);
    size_t plen = n->len - (size_t)(p - n->name);
    while (!find(a, p, plen)) {
        if (ent(a, p, plen) < 0) return -1;
        const uint8_t *q = dns_name_skip(p, 1);
        plen -= (size_t)(q - p);
        p = q;
    }
    return 0;
}

/* (B) a touched name left without data. */
static int drop_name(struct apply *a, const uint8_t *name, size_t len)
{
    const struct zone_node *zn = find(a, name, len);
    if (!zn || is_apex(a, name, len)) return 0;
    if (has_desc(a, name, len)) {
        if (!zn->nrrsets) return 0;
        if ((zn->flags & (ZN_DELEG | ZN_DNAME)) &&
            push_name(&a->cuts, &a->ncuts, &a->capcuts, name, len) < 0)
            return -1;
        return ent(a, name, len);
    }
    for (;;) {
        if (zv_del(&a->x, name, len) < 0) return -1;
        if (is_wild(name) && mark(a, name, len) < 0) return -1; /* marks the parent */
        const uint8_t *p = dns_name_skip(name, 1);
        len -= (size_t)(p - name);
        name = p;
        if (is_apex(a, name, len)) return 0;
        zn = find(a, name, len);
        if (!zn || zn->nrrsets || has_desc(a, name, len)) return 0;
    }
}

static int cmp_name(const void *x, const void *y)
{
    return dns_name_cmp(*(uint8_t *const *)x, *(uint8_t *const *)y);
}

/* (C) every name below a name whose cut came or went. */
static int mark_subtrees(struct apply *a)
{
    for (size_t i = 0; i < a->ncuts; i++) {
        const uint8_t *top = a->cuts[i];
        size_t len = dns_name_len(top);
        struct pbt_iter it;
        pbt_seek(&it, a->v->order, top);
        for (const struct zone_node *zn; (zn = pbt_next(&it));) {
            if (zn->name_len == len && memcmp(zn->name, top, len) == 0) continue;
            if (!dns_name_is_subdomain(zn->name, top)) break;
            if (push_name(&a->marks, &a->nmarks, &a->capmarks, zn->name, zn->name_len) < 0)
                return -1;
        }
    }
    return 0;
}

/* (C) flags of the marked names, parents first. */
static int fix_flags(struct apply *a)
{
    if (a->nmarks) qsort(a->marks, a->nmarks, sizeof *a->marks, cmp_name);
    for (size_t i = 0; i < a->nmarks; i++) {
        const uint8_t *name = a->marks[i];
        if (i && dns_name_cmp(a->marks[i - 1], name) == 0) continue;
        size_t len = dns_name_len(name);
        const struct zone_node *zn = find(a, name, len);
        if (!zn) continue;
        bool apex = is_apex(a, name, len);
        uint16_t f = own_flags(zn, apex);
        if (!apex) {
            const uint8_t *p = dns_name_skip(name, 1);
            const struct zone_node *pn = find(a, p, len - (size_t)(p - name));
            if (pn && (pn->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME))) f |= ZN_OCCLUDED;
        }
        uint8_t w[DNS_NAME_MAX + 2];
        if (len + 2 <= DNS_NAME_MAX) {
            w[0] = 1;
            w[1] = '*';
            memcpy(w + 2, name, len);
            if (find(a, w, len + 2)) f |= ZN_HAS_WILDCARD;
        }
        if (f == zn->flags) continue;
        if (zn->gen == a->x.t.gen) {
            ((struct zone_node *)zn)->flags = f; /* made by this transaction: unpublished */
            continue;
        }
        if (put_new(a, zn_new(&a->x, zn->name, zn->name_len, zn->rrsets, zn->nrrsets, f)) < 0)
            return -1;
    }
    return 0;
}

/* (D) the apex, this transaction's copy, with the new serial. */
static int set_serial(struct apply *a, uint32_t serial)
{
    const struct zone_node *ap = a->v->apex_node;
    if (ap->gen != a->x.t.gen &&
        put_new(a, zn_new(&a->x, ap->name, ap->name_len, ap->rrsets, ap->nrrsets, ap->flags)) < 0)
        return -1;
    const struct dns_rrset *soa = node_rrset(a->v->apex_node, DNS_T_SOA);
    uint8_t *rd = (uint8_t *)rr_rdata(soa->rdata);
    size_t off = dns_name_len(rd);
    off += dns_name_len(rd + off);
    put_be32(rd + off, serial);
    a->v->serial = serial;
    return 0;
}

static void free_names(uint8_t **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

int zb_freeze_onto(struct zbuild *b, const struct zone_version *old, uint32_t serial,
                   struct zone_version **out, struct err *e)
{
    struct bnode *apex = zb_find_node(b, b->apex, b->apex_len, dns_name_hash(b->apex, b->apex_len));
    if (apex && apex->loaded && !zb_find_set(apex, DNS_T_SOA)) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(b->apex, t, sizeof t);
        return zb_where(b, 0, e, "no SOA record at the zone apex", t);
    }
    if (zb_check_nodes(b, true, e) < 0) return -1;
    struct apply a = {.apex = b->apex, .apex_len = b->apex_len};
    if (!(a.v = zv_begin(&a.x, old))) return err_set(e, "out of memory");
    int r = 0;
    for (size_t i = 0; r == 0 && i < b->nall; i++) {
        struct bnode *n = b->all[i];
        if (!n->loaded) continue;
        const struct zone_node *o = zone_version_find(old, n->name, n->len);
        a.v->nrecords -= count_rrs(o);
        if (n->nsets) {
            r = put_data(&a, n, o);
            a.v->nrecords += count_rrs(find(&a, n->name, n->len));
        }
    }
    for (size_t i = 0; r == 0 && i < b->nall; i++)
        if (b->all[i]->loaded && !b->all[i]->nsets)
            r = drop_name(&a, b->all[i]->name, b->all[i]->len);
    if (r == 0) r = mark_subtrees(&a);
    if (r == 0) r = fix_flags(&a);
    if (r == 0) r = set_serial(&a, serial);
    free_names(a.marks, a.nmarks);
    free_names(a.cuts, a.ncuts);
    zv_end(&a.x);
    if (r < 0) {
        zone_version_free(a.v);
        return err_set(e, "out of memory");
    }
    *out = a.v;
    return 0;
}
