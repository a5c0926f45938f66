/* Laying out a whole builder as a new zone_version (loading; changes to an
 * existing version go through zb_freeze_onto in zapply.c).
 *
 * The builder's nodes are sorted canonically, then walked once: each zone
 * node is made in its final allocation (dns/zstore.h) with its flags
 * computed on the way (see struct walk), empty non-terminals made where an
 * ancestor is missing, and at the end both indexes are built in bulk from
 * the nodes in canonical order, once the builder's memory is given back.
 * No intermediate layout is kept: at the peak the builder's records and
 * the version's nodes are alive, nothing else of size (issue 12: loading
 * 1,000,000 records). */
#include "dns/wire.h"
#include "dns/zstore.h"
#include "dns/zbuild_int.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* From this many names on, a layout carves its nodes from slabs (about
 * 100 bytes a node: at least a third of the first 2 MiB slab is used). */
#define ZFREEZE_SLAB_MIN_NODES 8192

/* ---- canonical order of builder nodes ---- */

/* Canonical order (RFC 4034 §6.1) as one memcmp: the labels from the root
 * down, each byte as itself except 0 as 00 FF, each label ended by 00 00,
 * which sorts before any byte of a longer label. */
size_t zb_canonical_key(const uint8_t *name, uint8_t *out)
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

struct skey {
    const uint8_t *k;
    size_t len;
    struct bnode *n;
};
static int cmp_skey(const void *x, const void *y)
{
    const struct skey *a = x, *b = y;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->k, b->k, m);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* The builder nodes that hold data, sorted canonically; *n gets the count.
 * The keys are freed before returning (only the order is kept), so they
 * are not alive while the version is built. The caller frees the result. */
static struct bnode **sorted_nodes(struct zbuild *b, size_t *n)
{
    if (b->in_order) { /* made in canonical order (zbuild.c): no keys, no sort */
        struct bnode **order = malloc((b->nall ? b->nall : 1) * sizeof *order);
        if (!order) return NULL;
        size_t cnt = 0;
        for (size_t i = 0; i < b->nall; i++) {
            struct bnode *bn = b->all[b->dir < 0 ? b->nall - 1 - i : i];
            if (bn->nsets > 0) order[cnt++] = bn;
        }
        *n = cnt;
        return order;
    }
    size_t cnt = 0, bytes = 0;
    for (size_t i = 0; i < b->nall; i++)
        if (b->all[i]->nsets > 0) {
            cnt++;
            bytes += 2 * (size_t)b->all[i]->len;
        }
    struct skey *s = malloc((cnt ? cnt : 1) * sizeof *s);
    uint8_t *keys = malloc(bytes ? bytes : 1);
    if (!s || !keys) {
        free(s);
        free(keys);
        return NULL;
    }
    size_t k = 0, o = 0;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *bn = b->all[i];
        if (bn->nsets == 0) continue;
        s[k] = (struct skey){keys + o, zb_canonical_key(bn->name, keys + o), bn};
        o += s[k++].len;
    }
    /* A transfer (and a file written in canonical order) arrives sorted:
     * one pass to see it costs less than the sort's n log n comparisons. */
    size_t sorted = 1;
    while (sorted < cnt && cmp_skey(&s[sorted - 1], &s[sorted]) <= 0)
        sorted++;
    if (sorted < cnt) qsort(s, cnt, sizeof *s, cmp_skey);
    free(keys);
    /* the node pointers, packed at the front of the same block */
    struct bnode **order = (struct bnode **)(void *)s;
    for (size_t i = 0; i < cnt; i++)
        order[i] = s[i].n;
    struct bnode **shrunk = realloc(order, (cnt ? cnt : 1) * sizeof *order);
    *n = cnt;
    return shrunk ? shrunk : order;
}

/* ---- building the version ---- */

/* The walk over the builder's nodes in canonical order. Each zone node is
 * made once, in its final allocation, with its flags: its ancestors come
 * before it (their flags are known), and every subtree is contiguous, so a
 * stack of the ancestors made so far gives its parent without a lookup and
 * shows which ancestors are missing: those become empty non-terminals,
 * made right before it. A wildcard's parent, already made but not yet in
 * any index, gets ZN_HAS_WILDCARD in place. */
struct walk {
    struct zv_txn x;
    struct zone_node **made; /* every node, in canonical order */
    size_t n, cap;
    struct zone_node *stack[DNS_NAME_MAX / 2 + 2]; /* the current ancestor chain */
    int depth;
    size_t nrecords;
    bool set_serial;
    uint32_t serial;
    /* one node's RRsets and RDATA, laid out for zn_new (which copies them) */
    struct dns_rrset *sets;
    size_t capsets;
    uint8_t *data;
    size_t capdata;
};

static bool is_ancestor(const struct zone_node *a, const uint8_t *name, size_t len, int labels)
{
    if (a->labels >= labels) return false;
    const uint8_t *suf = dns_name_skip(name, labels - a->labels);
    return (size_t)(name + len - suf) == a->name_len && memcmp(suf, a->name, a->name_len) == 0;
}

/* Makes the node of name (lowercase) from the RRsets at sets, below the top
 * of the stack, and pushes it. */
static int make(struct walk *w, const uint8_t *name, size_t len, const struct dns_rrset *sets,
                size_t nsets, uint16_t own_flags)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 1024;
        struct zone_node **nm = realloc(w->made, nc * sizeof *nm);
        if (!nm) return -1;
        w->made = nm;
        w->cap = nc;
    }
    struct zone_node *parent = w->depth ? w->stack[w->depth - 1] : NULL;
    uint16_t flags = own_flags;
    if (!parent) flags |= ZN_APEX;
    if (parent && (parent->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME))) flags |= ZN_OCCLUDED;
    if (parent && name[0] == 1 && name[1] == '*') {
        flags |= ZN_WILDCARD;
        parent->flags |= ZN_HAS_WILDCARD; /* made by this walk, not yet published */
    }
    if (!parent) flags &= (uint16_t)~ZN_DELEG; /* NS at the apex is no cut */
    struct zone_node *zn = zn_new(&w->x, name, len, sets, nsets, flags);
    if (!zn) return -1;
    w->made[w->n++] = zn;
    w->stack[w->depth++] = zn;
    return 0;
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

/* Lays out builder node n's RRsets, sorted by type and RDATA, in w's
 * scratch space; returns its own flags, or -1 when out of memory. */
static int lay_out(struct walk *w, struct bnode *n)
{
    if (n->nsets > w->capsets) {
        size_t nc = n->nsets < 8 ? 8 : n->nsets;
        struct dns_rrset *ns = realloc(w->sets, nc * sizeof *ns);
        if (!ns) return -1;
        w->sets = ns;
        w->capsets = nc;
    }
    qsort(n->sets, n->nsets, sizeof *n->sets, cmp_set);
    size_t size = 0;
    for (size_t i = 0; i < n->nsets; i++)
        for (size_t k = 0; k < n->sets[i].n; k++)
            size += 2 + (size_t)n->sets[i].rr[k].len;
    if (size > w->capdata) {
        size_t nc = size < 4096 ? 4096 : size;
        uint8_t *nd = realloc(w->data, nc);
        if (!nd) return -1;
        w->data = nd;
        w->capdata = nc;
    }
    int flags = 0;
    uint8_t *p = w->data;
    for (size_t i = 0; i < n->nsets; i++) {
        struct bset *s = &n->sets[i];
        if (s->n > 1) qsort_r(s->rr, s->n, sizeof *s->rr, cmp_rr, &s->type);
        uint8_t *start = p;
        for (size_t k = 0; k < s->n; k++) {
            put_be16(p, s->rr[k].len);
            memcpy(p + 2, s->rr[k].data, s->rr[k].len);
            p += 2 + s->rr[k].len;
        }
        w->sets[i] =
            (struct dns_rrset){s->type, (uint16_t)s->n, s->ttl, (uint32_t)(p - start), start};
        w->nrecords += s->n;
        if (s->type == DNS_T_NS) flags |= ZN_DELEG; /* dropped again at the apex */
        if (s->type == DNS_T_DNAME) flags |= ZN_DNAME;
        if (s->type == DNS_T_CNAME) flags |= ZN_CNAME;
        if (s->type == DNS_T_SOA) { /* the serial follows MNAME and RNAME */
            size_t off = dns_name_len(start + 2);
            off += dns_name_len(start + 2 + off);
            if (w->set_serial) put_be32(start + 2 + off, w->serial);
            w->serial = be32(start + 2 + off);
        }
    }
    return flags;
}

/* Makes the node of builder node n, after any missing ancestors. */
static int walk_bnode(struct walk *w, struct bnode *n)
{
    int labels = dns_name_labels(n->name);
    while (w->depth && !is_ancestor(w->stack[w->depth - 1], n->name, n->len, labels))
        w->depth--;
    if (w->depth) {
        int top = w->stack[w->depth - 1]->labels;
        for (int k = labels - top - 1; k >= 1; k--) {
            const uint8_t *anc = dns_name_skip(n->name, k);
            if (make(w, anc, n->len - (size_t)(anc - n->name), NULL, 0, 0) < 0) return -1;
        }
    }
    int flags = lay_out(w, n);
    if (flags < 0) return -1;
    return make(w, n->name, n->len, w->sets, n->nsets, (uint16_t)flags);
}

/* Frees what a failed walk made: its nodes (not in any index yet) and the
 * unfinished version. */
static void walk_abort(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        zn_free(w->made[i]);
    struct zone_version *v = w->x.v;
    pbt_free_all(v->order);
    phamt_free_all(v->index);
    v->order = NULL;
    v->index = NULL;
    zv_end(&w->x);
    zone_version_free(v);
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
    struct bnode *apex = zb_apex_node(b);
    if (!apex || !zb_find_set(apex, DNS_T_SOA)) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(b->apex, t, sizeof t);
        return zb_where(b, 0, e, "no SOA record at the zone apex", t);
    }
    if (zb_check_nodes(b, false, e) < 0) return -1;
    /* the hash table is not needed any more: give its memory back before
     * the version is built (only zb_free may follow) */
    free(b->tab);
    b->tab = NULL;
    size_t n = 0;
    struct bnode **order = sorted_nodes(b, &n);
    if (!order) return err_set(e, "out of memory");
    struct walk w = {.set_serial = set_serial, .serial = serial};
    if (!zv_begin(&w.x, NULL)) {
        free(order);
        return err_set(e, "out of memory");
    }
    /* A big transferred zone's nodes come from slabs (dns/zslab.h; why
     * not a file's: zb_use_slabs); a small one's from malloc, so that many
     * small zones do not each hold a 2 MiB slab mostly empty. */
    if (b->slabs && n >= ZFREEZE_SLAB_MIN_NODES) zv_use_slabs(&w.x);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = walk_bnode(&w, order[i]);
    free(order);
    free(w.sets);
    free(w.data);
    /* the nodes hold copies of everything: the builder goes before the
     * indexes are built, so the two are not at the peak together */
    zb_release(b);
    /* the apex sorts first: every name was checked to be at or below it */
    if (r == 0 && zv_put_sorted(&w.x, (const struct zone_node *const *)w.made, w.n) < 0) r = -1;
    if (r < 0) {
        walk_abort(&w);
        free(w.made);
        return err_set(e, "out of memory");
    }
    free(w.made);
    struct zone_version *v = w.x.v;
    v->serial = w.serial;
    v->nrecords = w.nrecords;
    zv_end(&w.x);
    *out = v;
    return 0;
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
