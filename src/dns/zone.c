#include "dns/zone.h"
#include "dns/wire.h"
#include "util/buf.h"
#include "dns/zbuild.h"
#include "dns/zstore.h"
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

/* ---- versions ---- */

const struct zone_node *zone_version_find(const struct zone_version *v, const uint8_t *lname,
                                          size_t len)
{
    return phamt_find(v->index, dns_name_hash(lname, len), lname, len);
}

const struct dns_rrset *node_rrset(const struct zone_node *n, uint16_t type)
{
    for (uint16_t i = 0; i < n->nrrsets; i++)
        if (n->rrsets[i].type == type) return &n->rrsets[i];
    return NULL;
}

const struct zone_node *zone_version_apex_node(const struct zone_version *v)
{
    return v->apex_node;
}

const struct dns_rrset *zone_version_soa(const struct zone_version *v)
{
    return node_rrset(zone_version_apex_node(v), DNS_T_SOA);
}

const struct zone_node *zone_version_parent(const struct zone_version *v, const struct zone_node *n)
{
    if (n->flags & ZN_APEX) return NULL;
    const uint8_t *up = dns_name_skip(n->name, 1);
    return zone_version_find(v, up, n->name_len - (size_t)(up - n->name));
}

void zone_cursor_start(struct zone_cursor *c, const struct zone_version *v)
{
    pbt_seek(&c->it, v->order, NULL);
}

const struct zone_node *zone_cursor_next(struct zone_cursor *c)
{
    return pbt_next(&c->it);
}

int zone_version_foreach(const struct zone_version *v, zone_rrset_fn fn, void *ctx)
{
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    for (const struct zone_node *n; (n = zone_cursor_next(&c));)
        for (uint16_t k = 0; k < n->nrrsets; k++) {
            int r = fn(ctx, n, &n->rrsets[k]);
            if (r) return r;
        }
    return 0;
}

/* holds counts the holders other than the zone, so a fresh (calloc'd)
 * version needs no set-up. Every release, the zone's included, takes one
 * off; the release that finds 0 is the last holder and frees. The version
 * is const to readers; only this counter changes, atomically. */
void zone_version_hold(const struct zone_version *v)
{
    __atomic_add_fetch(&((struct zone_version *)v)->holds, 1, __ATOMIC_RELAXED);
}

void zone_version_release(const struct zone_version *v)
{
    if (!v) return;
    struct zone_version *w = (struct zone_version *)v;
    if (__atomic_fetch_sub(&w->holds, 1, __ATOMIC_ACQ_REL) == 0) zone_version_free(w);
}

static zone_publish_hook publish_hook;
static void *publish_hook_ctx;

void zone_set_publish_hook(zone_publish_hook fn, void *ctx)
{
    __atomic_store_n(&publish_hook_ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&publish_hook, fn, __ATOMIC_RELEASE);
}

int zone_version_apply(const struct zone_version *old, const struct dns_change *changes, size_t n,
                       uint32_t new_serial, struct zone_version **out, struct err *e)
{
    /* Only the names the changes touch go through the builder; the rest of
     * old is copied in order (zb_freeze_onto). */
    struct zbuild *b = zb_new(old->apex);
    if (!b) return err_set(e, "out of memory");
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const struct dns_change *c = &changes[i];
        r = zb_touch(b, old, c->owner, e);
        if (r == 0 && c->op == DNS_CHANGE_ADD)
            r = zb_add(b, c->owner, c->type, c->ttl, c->rdata, c->rdlen, false, 0, e) < 0 ? -1 : 0;
        else if (r == 0)
            r = zb_del(b, c->op, c->owner, c->type, c->rdata, c->rdlen, e);
    }
    if (r == 0) r = zb_freeze_onto(b, old, new_serial, out, e);
    zb_free(b);
    return r;
}

int zone_synthesize(const uint8_t *apex, uint32_t serial, struct zone_version **out, struct err *e)
{
    uint8_t rd[2 * DNS_NAME_MAX + 20];
    size_t alen = dns_name_len(apex), o = 0;
    memcpy(rd, apex, alen); /* MNAME: the name itself, as Dns.Soa.create does */
    o = alen;
    /* RNAME: "hostmaster" + the name minus its first label */
    const uint8_t *parent = dns_name_skip(apex, 1);
    size_t plen = dns_name_len(parent);
    if (11 + plen > DNS_NAME_MAX) return err_set(e, "name too long to synthesise a zone for");
    rd[o++] = 10;
    memcpy(rd + o, "hostmaster", 10);
    o += 10;
    memcpy(rd + o, parent, plen);
    o += plen;
    const uint32_t timers[5] = {serial, 86400, 7200, 3600000, 3600};
    for (int i = 0; i < 5; i++, o += 4)
        put_be32(rd + o, timers[i]);
    struct zbuild *b = zb_new(apex);
    if (!b) return err_set(e, "out of memory");
    int r = zb_add(b, apex, DNS_T_SOA, 3600, rd, (uint16_t)o, true, 0, e) < 0 ? -1 : 0;
    if (r == 0) r = zb_add(b, apex, DNS_T_NS, 3600, apex, (uint16_t)alen, true, 0, e) < 0 ? -1 : 0;
    if (r == 0) r = zb_freeze(b, false, 0, out, e);
    zb_free(b);
    return r;
}

/* ---- the negative answer's SOA (struct zone_soa_layout) ---- */

/* Bytes of n (length len) before the apex (length alen), -1 if n is not at
 * or below the apex; *last: the offset of its last label before the apex. */
static int soa_prefix(const uint8_t *n, size_t len, const uint8_t *apex, size_t alen, uint8_t *last)
{
    const uint8_t *p = n;
    *last = 0;
    for (; len > alen; len -= 1 + (size_t)*p, p += 1 + *p)
        *last = (uint8_t)(p - n);
    return len == alen && dns_name_equal(p, apex) ? (int)(p - n) : -1;
}

static bool soa_label_eq(const uint8_t *a, const uint8_t *b)
{
    for (uint8_t i = 0; i <= a[0]; i++)
        if (dns_lower(a[i]) != dns_lower(b[i])) return false;
    return true;
}

/* Fills v->soa_layout once; left unset, the general path answers. */
static void soa_layout(struct zone_version *v)
{
    struct zone_soa_layout *l = &v->soa_layout;
    const struct dns_rrset *s = zone_version_soa(v);
    size_t alen = dns_name_len(v->apex);
    if (l->soa || !s || s->count != 1 || alen <= 1) return;
    const uint8_t *rd = rr_rdata(s->rdata);
    size_t mlen = dns_name_len(rd), rlen = dns_name_len(rd + mlen);
    if (mlen + rlen + 20 != rr_rdlen(s->rdata)) return;
    uint8_t mlast, rlast;
    int m = soa_prefix(rd, mlen, v->apex, alen, &mlast);
    int r = soa_prefix(rd + mlen, rlen, v->apex, alen, &rlast);
    if (m < 0 || r < 0) return;
    /* RNAME's prefix could compress against MNAME's: the general path */
    if (m && r && soa_label_eq(rd + mlast, rd + mlen + rlast)) return;
    uint32_t minimum = be32(rd + mlen + rlen + 16);
    l->neg_ttl = s->ttl < minimum ? s->ttl : minimum;
    l->rname_at = (uint16_t)mlen;
    l->mpre = (uint8_t)m, l->rpre = (uint8_t)r;
    l->mlast = mlast, l->rlast = rlast;
    l->soa = s;
}

/* ---- zones ---- */

struct zone *zone_new(struct zone_version *initial, struct err *e)
{
    struct zone *z = calloc(1, sizeof *z);
    if (!z) {
        zone_version_free(initial);
        err_set(e, "out of memory");
        return NULL;
    }
    z->apex_len = (uint8_t)dns_name_lower(z->apex, initial->apex);
    memcpy(z->apex_as_written, z->apex, z->apex_len);
    pthread_mutex_init(&z->writer, NULL);
    soa_layout(initial);
    rcu_assign_pointer(z->version, initial);
    return z;
}

int zone_set_apex_as_written(struct zone *z, const uint8_t *as_written)
{
    if (!dns_name_equal(as_written, z->apex)) return 0;
    memcpy(z->apex_as_written, as_written, dns_name_len(as_written));
    return 1;
}

void zone_free(struct zone *z)
{
    if (!z) return;
    zone_version_release(z->version);
    pthread_mutex_destroy(&z->writer);
    free(z);
}

const struct zone_version *zone_current(const struct zone *z)
{
    return rcu_dereference(z->version);
}

void zone_lock(struct zone *z)
{
    pthread_mutex_lock(&z->writer);
}
void zone_unlock(struct zone *z)
{
    pthread_mutex_unlock(&z->writer);
}

struct zone_version *zone_publish_swap(struct zone *z, struct zone_version *v)
{
    struct zone_version *old = z->version;
    soa_layout(v);
    rcu_assign_pointer(z->version, v);
    zone_publish_hook fn = __atomic_load_n(&publish_hook, __ATOMIC_ACQUIRE);
    if (fn) fn(__atomic_load_n(&publish_hook_ctx, __ATOMIC_RELAXED), z->apex, v->serial);
    return old;
}

void zone_publish(struct zone *z, struct zone_version *v)
{
    struct zone_version *old = zone_publish_swap(z, v);
    synchronize_rcu();
    zone_version_release(old);
}

int zone_apply(struct zone *z, const struct dns_change *changes, size_t n, uint32_t new_serial,
               struct err *e)
{
    struct zone_version *v;
    zone_lock(z);
    int r = zone_version_apply(z->version, changes, n, new_serial, &v, e);
    if (r == 0) zone_publish(z, v);
    zone_unlock(z);
    return r;
}

/* ---- zone sets ---- */

static struct zone_set *set_build(struct zone *const *zones, size_t n)
{
    struct zone_set *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t slots = 8;
    while (slots < n * 2)
        slots *= 2;
    s->zones = calloc(n ? n : 1, sizeof *s->zones);
    s->table = calloc(slots, sizeof *s->table);
    if (!s->zones || !s->table) {
        free(s->zones);
        free(s->table);
        free(s);
        return NULL;
    }
    s->mask = (uint32_t)(slots - 1);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        struct zone *z = zones[i];
        s->zones[i] = z;
        uint32_t h = dns_name_hash(z->apex, z->apex_len) & s->mask;
        while (s->table[h])
            h = (h + 1) & s->mask;
        s->table[h] = z;
        int labels = dns_name_labels(z->apex);
        if (labels > s->max_labels) s->max_labels = (uint8_t)labels;
    }
    return s;
}

static void set_free(struct zone_set *s)
{
    if (!s) return;
    free(s->zones);
    free(s->table);
    free(s);
}

void zone_set_handle_init(struct zone_set_handle *h)
{
    pthread_mutex_init(&h->lock, NULL);
    h->current = set_build(NULL, 0);
}

void zone_set_handle_destroy(struct zone_set_handle *h)
{
    struct zone_set *s = h->current;
    if (s)
        for (size_t i = 0; i < s->n; i++)
            zone_free(s->zones[i]);
    set_free(s);
    h->current = NULL;
    pthread_mutex_destroy(&h->lock);
}

static struct zone *table_get(const struct zone_set *zs, const uint8_t *apex, size_t len)
{
    uint32_t h = dns_name_hash(apex, len);
    for (uint32_t i = h & zs->mask;; i = (i + 1) & zs->mask) {
        struct zone *z = zs->table[i];
        if (!z) return NULL;
        if (z->apex_len == len && memcmp(z->apex, apex, len) == 0) return z;
    }
}

struct zone *zone_set_get(const struct zone_set *zs, const uint8_t *apex)
{
    return zs ? table_get(zs, apex, dns_name_len(apex)) : NULL;
}

/* Up to this many zones, zone_set_find compares lname's tail with each
 * apex rather than hashing each of its suffixes: a server of one zone or a
 * few pays two walks of the name and a compare per zone (issue 12). */
#define SET_FIND_SCAN_MAX 4

/* The zone of the longest apex that lname ends in, by comparing each. */
static struct zone *scan_find(const struct zone_set *zs, const uint8_t *lname)
{
    size_t len = dns_name_len(lname);
    struct zone *best = NULL;
    for (size_t i = 0; i < zs->n; i++) {
        struct zone *z = zs->zones[i];
        const uint8_t *p = lname;
        size_t rem = len;
        for (; rem > z->apex_len; rem -= 1 + (size_t)*p, p += 1 + *p)
            ;
        if (rem == z->apex_len && memcmp(p, z->apex, rem) == 0 &&
            (!best || z->apex_len > best->apex_len))
            best = z;
    }
    return best;
}

struct zone *zone_set_find(const struct zone_set *zs, const uint8_t *lname)
{
    if (!zs || !zs->n) return NULL;
    if (zs->n <= SET_FIND_SCAN_MAX) return scan_find(zs, lname);
    int labels = dns_name_labels(lname);
    const uint8_t *p = lname;
    /* Skip labels that no apex can have, then try longest suffix first. */
    for (; labels > zs->max_labels; labels--)
        p += *p + 1;
    for (;;) {
        struct zone *z = table_get(zs, p, dns_name_len(p));
        if (z) return z;
        if (!*p) return NULL;
        p += *p + 1;
    }
}

const struct zone_set *zone_set_current(const struct zone_set_handle *h)
{
    return rcu_dereference(h->current);
}

int zone_set_add(struct zone_set_handle *h, struct zone *z, struct err *e)
{
    pthread_mutex_lock(&h->lock);
    struct zone_set *old = h->current;
    if (table_get(old, z->apex, z->apex_len)) {
        pthread_mutex_unlock(&h->lock);
        char t[DNS_NAME_TEXT_MAX];
        dns_name_to_text(z->apex, t, sizeof t);
        return err_set(e, "zone %s is already served", t);
    }
    struct zone **zs = malloc((old->n + 1) * sizeof *zs);
    struct zone_set *s = NULL;
    if (zs) {
        memcpy(zs, old->zones, old->n * sizeof *zs);
        zs[old->n] = z;
        s = set_build(zs, old->n + 1);
        free(zs);
    }
    if (!s) {
        pthread_mutex_unlock(&h->lock);
        return err_set(e, "out of memory");
    }
    rcu_assign_pointer(h->current, s);
    synchronize_rcu();
    set_free(old);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

struct zone *zone_set_remove(struct zone_set_handle *h, const uint8_t *apex)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, apex);
    pthread_mutex_lock(&h->lock);
    struct zone_set *old = h->current;
    struct zone *z = table_get(old, l, len);
    struct zone_set *s = NULL;
    if (z) {
        struct zone **zs = malloc((old->n ? old->n : 1) * sizeof *zs);
        size_t k = 0;
        if (zs) {
            for (size_t i = 0; i < old->n; i++)
                if (old->zones[i] != z) zs[k++] = old->zones[i];
            s = set_build(zs, k);
            free(zs);
        }
    }
    if (!s) {
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    rcu_assign_pointer(h->current, s);
    synchronize_rcu();
    set_free(old);
    pthread_mutex_unlock(&h->lock);
    return z;
}
