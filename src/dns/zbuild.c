#include "dns/zbuild.h"
#include "dns/wire.h"
#include "util/buf.h"
#include <stdlib.h>
#include <string.h>

struct brr {
    uint16_t len;
    const uint8_t *data; /* in the builder's arena, or in the version it was loaded from */
};
struct bset {
    uint16_t type;
    uint32_t ttl;
    unsigned long line, line2; /* of the first and the second RR, for messages */
    size_t n, cap;
    struct brr *rr;
};
struct bnode {
    struct bnode *next; /* hash chain */
    uint32_t hash;
    uint8_t len;
    bool mark; /* part of the frozen version */
    size_t nsets, cap;
    struct bset *sets;
    uint8_t name[]; /* lowercase */
};
struct zbuild {
    struct arena mem; /* nodes, RDATA copies and the RRset/RR arrays */
    struct bnode **tab;
    size_t mask, count;
    struct bnode **all; /* every node in creation order: faster to walk than the table */
    size_t nall, capall;
    uint8_t apex[DNS_NAME_MAX];
    size_t apex_len;
    const char *file;
};

struct zbuild *zb_new(const uint8_t *apex)
{
    struct zbuild *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    arena_init(&b->mem, 64 * 1024);
    b->mask = 1023;
    b->tab = calloc(b->mask + 1, sizeof *b->tab);
    if (!b->tab) {
        free(b);
        return NULL;
    }
    b->apex_len = dns_name_lower(b->apex, apex);
    return b;
}

void zb_free(struct zbuild *b)
{
    if (!b) return;
    free(b->tab);
    free(b->all);
    arena_free(&b->mem);
    free(b);
}

void zb_set_file(struct zbuild *b, const char *file)
{
    b->file = file;
}

static struct bnode *find_node(struct zbuild *b, const uint8_t *lname, size_t len, uint32_t h)
{
    for (struct bnode *n = b->tab[h & b->mask]; n; n = n->next)
        if (n->hash == h && n->len == len && memcmp(n->name, lname, len) == 0) return n;
    return NULL;
}

static int grow_table(struct zbuild *b)
{
    size_t nmask = b->mask * 2 + 1;
    struct bnode **nt = calloc(nmask + 1, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i <= b->mask; i++)
        for (struct bnode *n = b->tab[i], *next; n; n = next) {
            next = n->next;
            n->next = nt[n->hash & nmask];
            nt[n->hash & nmask] = n;
        }
    free(b->tab);
    b->tab = nt;
    b->mask = nmask;
    return 0;
}

static struct bnode *get_node(struct zbuild *b, const uint8_t *lname, size_t len)
{
    uint32_t h = dns_name_hash(lname, len);
    struct bnode *n = find_node(b, lname, len, h);
    if (n) return n;
    if (b->count >= b->mask && grow_table(b) < 0) return NULL;
    if (b->nall == b->capall) {
        size_t nc = b->capall ? b->capall * 2 : 1024;
        struct bnode **na = realloc(b->all, nc * sizeof *na);
        if (!na) return NULL;
        b->all = na;
        b->capall = nc;
    }
    n = arena_zalloc(&b->mem, sizeof *n + len);
    if (!n) return NULL;
    b->all[b->nall++] = n;
    n->hash = h;
    n->len = (uint8_t)len;
    memcpy(n->name, lname, len);
    n->next = b->tab[h & b->mask];
    b->tab[h & b->mask] = n;
    b->count++;
    return n;
}

/* Grows an array kept in the builder's arena (the old copy stays there until
 * the builder is freed: builders are short-lived, and this spares a malloc
 * and a free per node). */
static void *grow(struct zbuild *b, void *old, size_t *cap, size_t elem, size_t first)
{
    size_t nc = *cap ? *cap * 2 : first;
    void *p = arena_alloc(&b->mem, nc * elem);
    if (!p) return NULL;
    if (*cap) memcpy(p, old, *cap * elem);
    *cap = nc;
    return p;
}

static struct bset *find_set(struct bnode *n, uint16_t type)
{
    for (size_t i = 0; i < n->nsets; i++)
        if (n->sets[i].type == type) return &n->sets[i];
    return NULL;
}

static int owner_lower(struct zbuild *b, const uint8_t *owner, uint8_t *lname, size_t *len,
                       struct err *e)
{
    *len = dns_name_lower(lname, owner);
    if (!dns_name_is_subdomain(lname, b->apex)) {
        char o[DNS_NAME_TEXT_MAX], a[DNS_NAME_TEXT_MAX];
        dns_name_to_text(owner, o, sizeof o);
        dns_name_to_text(b->apex, a, sizeof a);
        return err_set(e, "owner %s is outside the zone %s", o, a);
    }
    return 0;
}

static int add_rr(struct zbuild *b, struct bnode *n, uint16_t type, uint32_t ttl, const uint8_t *rd,
                  uint16_t rdlen, bool copy, bool keep_ttl, unsigned long line, struct err *e)
{
    struct bset *s = find_set(n, type);
    if (!s) {
        if (n->nsets == n->cap) {
            struct bset *ns = grow(b, n->sets, &n->cap, sizeof *ns, 2);
            if (!ns) return err_set(e, "out of memory");
            n->sets = ns;
        }
        s = &n->sets[n->nsets++];
        memset(s, 0, sizeof *s);
        s->type = type;
        s->ttl = ttl;
        s->line = line;
    } else {
        for (size_t i = 0; i < s->n; i++)
            if (dns_rdata_cmp(type, s->rr[i].data, s->rr[i].len, rd, rdlen) == 0) return 0;
        if (!keep_ttl) s->ttl = ttl;
    }
    if (s->n == s->cap) {
        struct brr *nr = grow(b, s->rr, &s->cap, sizeof *nr, 1);
        if (!nr) return err_set(e, "out of memory");
        s->rr = nr;
    }
    const uint8_t *data = rd;
    if (copy && rdlen) {
        data = arena_memdup(&b->mem, rd, rdlen);
        if (!data) return err_set(e, "out of memory");
    }
    s->rr[s->n].len = rdlen;
    s->rr[s->n].data = data;
    if (++s->n == 2) s->line2 = line;
    return 1;
}

int zb_add(struct zbuild *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
           uint16_t rdlen, bool keep_ttl, unsigned long line, struct err *e)
{
    uint8_t lname[DNS_NAME_MAX];
    size_t len;
    char tb[16];
    if (owner_lower(b, owner, lname, &len, e) < 0) return -1;
    if (type == 0 || dns_type_is_meta(type))
        return err_set(e, "type %s cannot be stored in a zone", dns_type_to_text(type, tb));
    if (!dns_rdata_check(type, rd, rdlen))
        return err_set(e, "malformed %s RDATA", dns_type_to_text(type, tb));
    struct bnode *n = get_node(b, lname, len);
    if (!n) return err_set(e, "out of memory");
    return add_rr(b, n, type, ttl, rd, rdlen, true, keep_ttl, line, e);
}

int zb_del(struct zbuild *b, enum dns_change_op op, const uint8_t *owner, uint16_t type,
           const uint8_t *rd, uint16_t rdlen, struct err *e)
{
    uint8_t lname[DNS_NAME_MAX];
    size_t len;
    if (owner_lower(b, owner, lname, &len, e) < 0) return -1;
    struct bnode *n = find_node(b, lname, len, dns_name_hash(lname, len));
    if (!n) return 0;
    if (op == DNS_CHANGE_DEL_NAME) {
        n->nsets = 0;
        return 0;
    }
    struct bset *s = find_set(n, type);
    if (!s) return 0;
    if (op == DNS_CHANGE_DEL) {
        size_t i = 0;
        while (i < s->n && dns_rdata_cmp(type, s->rr[i].data, s->rr[i].len, rd, rdlen) != 0)
            i++;
        if (i == s->n) return 0;
        s->rr[i] = s->rr[--s->n];
        if (s->n) return 0;
    }
    size_t idx = (size_t)(s - n->sets);
    memmove(s, s + 1, (n->nsets - idx - 1) * sizeof *s);
    n->nsets--;
    return 0;
}

int zb_load_version(struct zbuild *b, const struct zone_version *v, struct err *e)
{
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct zone_node *zn = &v->nodes[i];
        if (!zn->nrrsets) continue;
        struct bnode *n = get_node(b, zn->name, zn->name_len);
        if (!n) return err_set(e, "out of memory");
        for (size_t k = 0; k < zn->nrrsets; k++) {
            const struct dns_rrset *s = &zn->rrsets[k];
            /* Reference the old version's RDATA: it outlives the builder. */
            for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p))
                if (add_rr(b, n, s->type, s->ttl, rr_rdata(p), rr_rdlen(p), false, true, 0, e) < 0)
                    return -1;
        }
    }
    return 0;
}

/* ---- freezing ---- */

static int where(struct zbuild *b, unsigned long line, struct err *e, const char *fmt,
                 const char *name)
{
    if (b->file && line) return err_set(e, "%s:%lu: %s %s", b->file, line, fmt, name);
    if (b->file) return err_set(e, "%s: %s %s", b->file, fmt, name);
    return err_set(e, "%s %s", fmt, name);
}

/* Zone content rules (RFC 1034 §3.6.2, RFC 6672 §2.4, one SOA at the apex).
 * *line gets the line of the record that broke the rule. */
static int check_node(struct zbuild *b, struct bnode *n, struct err *e, unsigned long *line)
{
    bool apex = n->len == b->apex_len && memcmp(n->name, b->apex, n->len) == 0;
    struct bset *cname = find_set(n, DNS_T_CNAME), *soa = find_set(n, DNS_T_SOA),
                *dname = find_set(n, DNS_T_DNAME);
    const char *why = NULL;
    if (soa && !apex)
        why = "SOA record not at the zone apex:", *line = soa->line;
    else if (soa && soa->n != 1)
        why = "more than one SOA record at", *line = soa->line2;
    else if (dname && dname->n != 1)
        why = "more than one DNAME record at", *line = dname->line2;
    else if (cname && cname->n != 1)
        why = "more than one CNAME record at", *line = cname->line2;
    for (size_t i = 0; !why && cname && i < n->nsets; i++) {
        uint16_t ty = n->sets[i].type;
        if (ty != DNS_T_CNAME && ty != DNS_T_RRSIG && ty != DNS_T_NSEC) {
            why = "CNAME and other data at";
            *line = n->sets[i].line > cname->line ? n->sets[i].line : cname->line;
        }
    }
    if (!why) return 0;
    char t[DNS_NAME_TEXT_MAX];
    dns_name_to_text(n->name, t, sizeof t);
    return where(b, *line, e, why, t);
}

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

static int freeze_node(struct zone_version *v, struct zone_node *zn, struct bnode *n,
                       bool set_serial, uint32_t serial)
{
    zn->name = arena_memdup(&v->arena, n->name, n->len);
    zn->name_len = n->len;
    zn->hash = n->hash;
    zn->labels = (uint8_t)dns_name_labels(n->name);
    zn->nrrsets = (uint16_t)n->nsets;
    if (!zn->name) return -1;
    if (!n->nsets) return 0;
    qsort(n->sets, n->nsets, sizeof *n->sets, cmp_set);
    struct dns_rrset *sets = arena_alloc(&v->arena, n->nsets * sizeof *sets);
    if (!sets) return -1;
    zn->rrsets = sets;
    for (size_t i = 0; i < n->nsets; i++) {
        struct bset *s = &n->sets[i];
        qsort_r(s->rr, s->n, sizeof *s->rr, cmp_rr, &s->type);
        size_t size = 0;
        for (size_t k = 0; k < s->n; k++)
            size += 2 + (size_t)s->rr[k].len;
        uint8_t *p = arena_alloc(&v->arena, size);
        if (!p) return -1;
        sets[i] = (struct dns_rrset){.type = s->type,
                                     .count = (uint16_t)s->n,
                                     .ttl = s->ttl,
                                     .rdata_size = (uint32_t)size,
                                     .rdata = p};
        for (size_t k = 0; k < s->n; k++) {
            put_be16(p, s->rr[k].len);
            memcpy(p + 2, s->rr[k].data, s->rr[k].len);
            if (s->type == DNS_T_SOA) {
                /* serial follows MNAME and RNAME */
                size_t off = dns_name_len(p + 2);
                off += dns_name_len(p + 2 + off);
                if (set_serial) put_be32(p + 2 + off, serial);
                v->serial = be32(p + 2 + off);
            }
            p += 2 + s->rr[k].len;
        }
        v->nrecords += s->n;
        if (s->type == DNS_T_NS && !(zn->flags & ZN_APEX)) zn->flags |= ZN_DELEG;
        if (s->type == DNS_T_DNAME) zn->flags |= ZN_DNAME;
        if (s->type == DNS_T_CNAME) zn->flags |= ZN_CNAME;
    }
    return 0;
}

int zb_freeze(struct zbuild *b, bool set_serial, uint32_t serial, struct zone_version **out,
              struct err *e)
{
    struct bnode *apex = find_node(b, b->apex, b->apex_len, dns_name_hash(b->apex, b->apex_len));
    if (!apex || !find_set(apex, DNS_T_SOA)) {
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(b->apex, t, sizeof t);
        return where(b, 0, e, "no SOA record at the zone apex", t);
    }
    /* Check every node; of several problems report the first in the file. */
    unsigned long bad_line = 0;
    bool bad = false;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *n = b->all[i];
        struct err ne;
        unsigned long line = 0;
        if (n->nsets && check_node(b, n, &ne, &line) < 0 && (!bad || line < bad_line)) {
            bad = true;
            bad_line = line;
            if (e) *e = ne;
        }
    }
    if (bad) return -1;
    /* Mark every non-empty node and all its ancestors up to the apex; the
     * ancestors without data become empty non-terminals (appended to
     * b->all by get_node while we walk it). */
    size_t nodes = 0;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *c = b->all[i];
        if (!c->nsets) continue;
        while (c && !c->mark) {
            c->mark = true;
            nodes++;
            if (c == apex) break;
            const uint8_t *up = c->name + 1 + c->name[0];
            c = get_node(b, up, c->len - 1 - c->name[0]);
        }
        if (!c) {
            err_set(e, "out of memory");
            goto fail_marks;
        }
    }
    struct skey *all = malloc(nodes * sizeof *all);
    size_t keybytes = 0;
    for (size_t i = 0; i < b->nall; i++)
        if (b->all[i]->mark) keybytes += 2 * (size_t)b->all[i]->len;
    uint8_t *keys = malloc(keybytes ? keybytes : 1);
    struct zone_version *v = calloc(1, sizeof *v);
    if (!all || !keys || !v) {
        free(all);
        free(keys);
        free(v);
        err_set(e, "out of memory");
        goto fail_marks;
    }
    size_t k = 0, ko = 0;
    for (size_t i = 0; i < b->nall; i++) {
        struct bnode *n = b->all[i];
        if (!n->mark) continue;
        n->mark = false; /* the builder may be frozen again */
        all[k].n = n;
        all[k].k = keys + ko;
        all[k].len = sort_key(n->name, keys + ko);
        ko += all[k++].len;
    }
    qsort(all, nodes, sizeof *all, cmp_skey);
    arena_init(&v->arena, 64 * 1024);
    struct zone_node *zn = arena_zalloc(&v->arena, nodes * sizeof *zn);
    size_t slots = 16;
    while (slots < nodes * 2)
        slots *= 2;
    v->table = arena_zalloc(&v->arena, slots * sizeof *v->table);
    v->mask = (uint32_t)(slots - 1);
    if (!zn || !v->table) goto oom;
    v->nodes = zn;
    v->nnodes = nodes;
    zn[0].flags = ZN_APEX; /* the apex sorts first */
    for (size_t i = 0; i < nodes; i++) {
        if (freeze_node(v, &zn[i], all[i].n, set_serial, serial) < 0) goto oom;
        size_t s = zn[i].hash & v->mask;
        while (v->table[s])
            s = (s + 1) & v->mask;
        v->table[s] = &zn[i];
    }
    v->apex = zn[0].name;
    /* Parents sort before their descendants, so one pass in order sees a
     * parent's flags complete before its children. */
    for (size_t i = 1; i < nodes; i++) {
        const uint8_t *up = zn[i].name + 1 + zn[i].name[0];
        const struct zone_node *p = zone_version_find(v, up, zn[i].name_len - 1 - zn[i].name[0]);
        struct zone_node *pm = (struct zone_node *)p; /* our own array, still being built */
        zn[i].parent = p;
        if (p->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME)) zn[i].flags |= ZN_OCCLUDED;
        if (zn[i].name[0] == 1 && zn[i].name[1] == '*') {
            zn[i].flags |= ZN_WILDCARD;
            pm->flags |= ZN_HAS_WILDCARD;
        }
    }
    free(all);
    free(keys);
    *out = v;
    return 0;
oom:
    free(all);
    free(keys);
    zone_version_free(v);
    return err_set(e, "out of memory");
fail_marks:
    for (size_t i = 0; i < b->nall; i++)
        b->all[i]->mark = false;
    return -1;
}
