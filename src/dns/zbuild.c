#include "dns/zbuild_int.h"
#include "dns/wire.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- the builder's memory ----
 * A bump allocator over chunks, 8-byte aligned for nodes and arrays and
 * unaligned for RDATA (a general arena's 16-byte rounding cost a
 * 1,000,000-record load tens of MB), and free lists for the arrays a grow
 * replaced, so that a node's RRset array growing from 2 to 4 leaves its
 * old array to the next node instead of in the chunk. Chunks double from
 * 64 KiB (an update's builder stays small) to 2 MiB, from then on mapped
 * on their own and backed by transparent huge pages where the system
 * allows it: a big load then takes one page fault per 2 MiB, not 512. */
#define ZB_CHUNK_FIRST (64 * 1024)
#define ZB_HUGE (2 * 1024 * 1024)
struct zb_chunk {
    struct zb_chunk *next;
    size_t used, cap;
    size_t mapped; /* bytes mapped with mmap (then munmap), 0: malloc */
    _Alignas(8) unsigned char mem[];
};

/* A chunk of room >= need: malloc'd while small, else mapped at a 2 MiB
 * boundary (a huge page can back it) and marked for huge pages. */
static struct zb_chunk *chunk_new(struct zbuild *b, size_t need)
{
    size_t want = sizeof(struct zb_chunk) + (need > b->chunk_size ? need : b->chunk_size);
    if (b->chunk_size < ZB_HUGE) b->chunk_size *= 2;
    struct zb_chunk *c;
    if (want < ZB_HUGE) {
        if (!(c = malloc(want))) return NULL;
        c->mapped = 0;
    } else {
        size_t len = (want + ZB_HUGE - 1) & ~(size_t)(ZB_HUGE - 1);
        uint8_t *p =
            mmap(NULL, len + ZB_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        uint8_t *al = (uint8_t *)(((uintptr_t)p + ZB_HUGE - 1) & ~(uintptr_t)(ZB_HUGE - 1));
        if (al > p) munmap(p, (size_t)(al - p));
        if (al + len < p + len + ZB_HUGE)
            munmap(al + len, (size_t)(p + len + ZB_HUGE - (al + len)));
        madvise(al, len, MADV_HUGEPAGE); /* a hint: without huge pages, normal ones */
        c = (struct zb_chunk *)(void *)al;
        c->mapped = len;
        want = len;
    }
    c->cap = want - sizeof *c;
    c->used = 0;
    return c;
}

static void chunk_free(struct zb_chunk *c)
{
    if (c->mapped)
        munmap(c, c->mapped);
    else
        free(c);
}

static void *pool_alloc(struct zbuild *b, size_t n, size_t align)
{
    struct zb_chunk *c = b->chunks;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at + n > c->cap) {
        if (!(c = chunk_new(b, n))) return NULL;
        at = 0;
        /* a big one-off goes behind the head, whose room stays in use */
        if (b->chunks && n > b->chunk_size) {
            c->next = b->chunks->next;
            b->chunks->next = c;
        } else {
            c->next = b->chunks;
            b->chunks = c;
        }
    }
    c->used = at + n;
    return c->mem + at;
}

/* An array of bytes (a multiple of 8): a given-back one if any. */
static void *array_alloc(struct zbuild *b, size_t bytes)
{
    size_t cl = bytes / 8;
    if (cl < ZB_FREE_CLASSES && b->free[cl]) {
        void *p = b->free[cl];
        memcpy(&b->free[cl], p, sizeof p);
        return p;
    }
    return pool_alloc(b, bytes, 8);
}

static void array_give_back(struct zbuild *b, void *p, size_t bytes)
{
    size_t cl = bytes / 8;
    if (!p || cl >= ZB_FREE_CLASSES || cl == 0) return; /* stays in its chunk */
    memcpy(p, &b->free[cl], sizeof p);
    b->free[cl] = p;
}

struct zbuild *zb_new(const uint8_t *apex)
{
    struct zbuild *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->chunk_size = ZB_CHUNK_FIRST;
    b->mask = 1023;
    b->tab = calloc(b->mask + 1, sizeof *b->tab);
    if (!b->tab) {
        free(b);
        return NULL;
    }
    b->apex_len = dns_name_lower(b->apex, apex);
    b->in_order = true;
    return b;
}

void zb_release(struct zbuild *b)
{
    free(b->tab);
    free(b->all);
    for (struct zb_chunk *c = b->chunks, *next; c; c = next) {
        next = c->next;
        chunk_free(c);
    }
    b->tab = NULL;
    b->all = NULL;
    b->chunks = NULL;
    b->mask = b->count = b->nall = b->capall = 0;
    memset(b->free, 0, sizeof b->free);
}

void zb_free(struct zbuild *b)
{
    if (!b) return;
    zb_release(b);
    free(b);
}

void zb_use_slabs(struct zbuild *b)
{
    b->slabs = true;
}

void zb_set_file(struct zbuild *b, const char *file)
{
    b->file = file;
}

/* The name index: open addressing with linear probing, at most half full
 * (struct zb_slot), so probing for a new name (every name of a load once)
 * reads about one cache line of the table and no node whose hash differs. */

static int index_all(struct zbuild *b);

struct bnode *zb_find_node(struct zbuild *b, const uint8_t *lname, size_t len, uint32_t h)
{
    if (b->in_order && index_all(b) < 0) return NULL; /* out of memory: callers see "absent" */
    for (size_t i = h & b->mask; b->tab[i].idx; i = (i + 1) & b->mask) {
        if (b->tab[i].hash != h) continue;
        struct bnode *n = b->all[b->tab[i].idx - 1];
        if (n->len == len && memcmp(n->name, lname, len) == 0) return n;
    }
    return NULL;
}

static void slot_put(struct zb_slot *tab, size_t mask, uint32_t h, uint32_t idx)
{
    size_t i = h & mask;
    while (tab[i].idx)
        i = (i + 1) & mask;
    tab[i] = (struct zb_slot){h, idx};
}

static int grow_table(struct zbuild *b)
{
    size_t nmask = b->mask * 2 + 1;
    struct zb_slot *nt = calloc(nmask + 1, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i <= b->mask; i++)
        if (b->tab[i].idx) slot_put(nt, nmask, b->tab[i].hash, b->tab[i].idx);
    free(b->tab);
    b->tab = nt;
    b->mask = nmask;
    return 0;
}

/* Leaves in-order mode: every node made so far into the table. */
static int index_all(struct zbuild *b)
{
    while (2 * (b->nall + 1) > b->mask + 1)
        if (grow_table(b) < 0) return -1;
    for (size_t i = 0; i < b->nall; i++)
        slot_put(b->tab, b->mask, b->all[i]->hash, (uint32_t)(i + 1));
    b->count = b->nall;
    b->in_order = false;
    return 0;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

struct bnode *zb_apex_node(struct zbuild *b)
{
    if (!b->in_order)
        return zb_find_node(b, b->apex, b->apex_len, dns_name_hash(b->apex, b->apex_len));
    /* in order, the apex sorts before every name below it: first, or
     * last when descending */
    struct bnode *n = b->nall ? b->all[b->dir < 0 ? b->nall - 1 : 0] : NULL;
    return n && n->len == b->apex_len && memcmp(n->name, b->apex, n->len) == 0 ? n : NULL;
}

struct bnode *zb_get_node(struct zbuild *b, const uint8_t *lname, size_t len)
{
    /* zone files mostly list a name's records together: the last node
     * first, before hashing and a probe of a table too big for the cache */
    struct bnode *n = b->nall ? b->all[b->nall - 1] : NULL;
    if (n && n->len == len && memcmp(n->name, lname, len) == 0) return n;
    uint32_t h = dns_name_hash(lname, len);
    uint8_t key[2 * DNS_NAME_MAX];
    size_t kl = 0;
    if (b->in_order) {
        kl = zb_canonical_key(lname, key);
        /* the first node again: the apex whose SOA ends a transfer that
         * began with the apex's other records (a ceon primary's order) */
        n = b->nall ? b->all[0] : NULL;
        if (n && n->len == len && memcmp(n->name, lname, len) == 0) return n;
        int c = b->nall ? key_cmp(key, kl, b->last_key, b->last_key_len) : 0;
        if (c && !b->dir) b->dir = c > 0 ? 1 : -1;
        /* (c == 0 cannot happen: the same key is the same name, the last
         * node's, returned above; were it to, the table decides) */
        if (b->nall && (c == 0 || (c > 0) != (b->dir > 0)) && index_all(b) < 0) return NULL;
    }
    if (!b->in_order) {
        n = zb_find_node(b, lname, len, h);
        if (n) return n;
    }
    if (b->nall >= UINT32_MAX - 1) return NULL;
    if (!b->in_order && 2 * (b->count + 1) > b->mask + 1 && grow_table(b) < 0) return NULL;
    if (b->nall == b->capall) {
        size_t nc = b->capall ? b->capall * 2 : 1024;
        struct bnode **na = realloc(b->all, nc * sizeof *na);
        if (!na) return NULL;
        b->all = na;
        b->capall = nc;
    }
    n = pool_alloc(b, sizeof *n + len, 8);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    b->all[b->nall++] = n;
    n->hash = h;
    n->len = (uint8_t)len;
    memcpy(n->name, lname, len);
    if (b->in_order) {
        memcpy(b->last_key, key, kl);
        b->last_key_len = kl;
        return n;
    }
    slot_put(b->tab, b->mask, h, (uint32_t)b->nall);
    b->count++;
    return n;
}

/* Grows an array kept in the builder's pool (no malloc and free per node);
 * the old one goes to a free list. */
static void *grow(struct zbuild *b, void *old, uint32_t *cap, size_t elem, uint32_t first)
{
    if (*cap > UINT32_MAX / 2) return NULL;
    uint32_t nc = *cap ? *cap * 2 : first;
    void *p = array_alloc(b, (size_t)nc * elem);
    if (!p) return NULL;
    if (*cap) memcpy(p, old, (size_t)*cap * elem);
    array_give_back(b, old, (size_t)*cap * elem);
    *cap = nc;
    return p;
}

struct bset *zb_find_set(struct bnode *n, uint16_t type)
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
    struct bset *s = zb_find_set(n, type);
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
        s->line = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
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
        uint8_t *d = pool_alloc(b, rdlen, 1);
        if (!d) return err_set(e, "out of memory");
        data = memcpy(d, rd, rdlen);
    }
    s->rr[s->n].len = rdlen;
    s->rr[s->n].data = data;
    if (++s->n == 2) s->line2 = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
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
    struct bnode *n = zb_get_node(b, lname, len);
    if (!n) return err_set(e, "out of memory");
    return add_rr(b, n, type, ttl, rd, rdlen, true, keep_ttl, line, e);
}

int zb_del(struct zbuild *b, enum dns_change_op op, const uint8_t *owner, uint16_t type,
           const uint8_t *rd, uint16_t rdlen, struct err *e)
{
    uint8_t lname[DNS_NAME_MAX];
    size_t len;
    if (owner_lower(b, owner, lname, &len, e) < 0) return -1;
    if (b->in_order && index_all(b) < 0) return err_set(e, "out of memory");
    struct bnode *n = zb_find_node(b, lname, len, dns_name_hash(lname, len));
    if (!n) return 0;
    if (op == DNS_CHANGE_DEL_NAME) {
        n->nsets = 0;
        return 0;
    }
    struct bset *s = zb_find_set(n, type);
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
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    for (const struct zone_node *zn; (zn = zone_cursor_next(&c));) {
        if (!zn->nrrsets) continue;
        struct bnode *n = zb_get_node(b, zn->name, zn->name_len);
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

int zb_where(struct zbuild *b, unsigned long line, struct err *e, const char *fmt, const char *name)
{
    if (b->file && line) return err_set(e, "%s:%lu: %s %s", b->file, line, fmt, name);
    if (b->file) return err_set(e, "%s: %s %s", b->file, fmt, name);
    return err_set(e, "%s %s", fmt, name);
}

/* Zone content rules (RFC 1034 §3.6.2, RFC 6672 §2.4, one SOA at the apex).
 * *line gets the line of the record that broke the rule. */
int zb_check_node(struct zbuild *b, struct bnode *n, struct err *e, unsigned long *line)
{
    bool apex = n->len == b->apex_len && memcmp(n->name, b->apex, n->len) == 0;
    struct bset *cname = zb_find_set(n, DNS_T_CNAME), *soa = zb_find_set(n, DNS_T_SOA),
                *dname = zb_find_set(n, DNS_T_DNAME);
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
    return zb_where(b, *line, e, why, t);
}

int zb_touch(struct zbuild *b, const struct zone_version *v, const uint8_t *owner, struct err *e)
{
    uint8_t lname[DNS_NAME_MAX];
    size_t len;
    if (owner_lower(b, owner, lname, &len, e) < 0) return -1;
    struct bnode *n = zb_get_node(b, lname, len);
    if (!n) return err_set(e, "out of memory");
    if (n->loaded) return 0;
    n->loaded = true;
    const struct zone_node *zn = zone_version_find(v, lname, len);
    for (size_t k = 0; zn && k < zn->nrrsets; k++) {
        const struct dns_rrset *s = &zn->rrsets[k];
        for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p))
            if (add_rr(b, n, s->type, s->ttl, rr_rdata(p), rr_rdlen(p), false, true, 0, e) < 0)
                return -1;
    }
    return 0;
}
