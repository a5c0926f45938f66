/*
 * The RFC 2136 update engine (semantics and error texts: update.h).
 *
 * How: every owner an update touches gets a working copy of all its RRsets
 * (RDATA pointers into the current version, or into the request's arena
 * for new RRs). The updates edit these copies in order; the zone's content
 * rules are checked on the copies as the last update leaves them; then
 * each copy is compared with the version to produce a minimal change set,
 * which goes through zone_version_apply, the journal and a publish.
 * Working on copies is what makes a failing update leave nothing behind.
 */
#include "dns/update.h"
#include "dns/journal.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "util/arena.h"
#include "util/buf.h"
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#define TTL_MAX 0x7fffffffu

struct wrr {
    const uint8_t *rd;
    uint16_t len;
};

/* A working RRset; n == 0 means the RRset is absent. */
struct wset {
    uint16_t type;
    uint32_t ttl;
    size_t n, cap;
    struct wrr *rr;
    size_t added; /* 1 + index of the last update that added to it; 0: none did */
};

struct wname {
    uint8_t lname[DNS_NAME_MAX];
    uint8_t len;
    const struct zone_node *node; /* in the current version, or NULL */
    size_t n, cap;
    struct wset *sets;
    struct wname *next; /* hash chain */
};

struct ctx {
    struct arena a;
    const struct zone_version *v;
    struct wname **bucket;
    size_t nbucket;
    struct wname **names; /* in order of first use, so the change set is deterministic */
    size_t nnames;
    size_t step;              /* index of the update being applied */
    bool apex_ns_set_removed; /* a REMOVE_RRSET of the apex NS: names the error */
    bool soa_set;             /* the final state's apex SOA was added by this update */
    uint32_t soa_serial;
    struct dns_change *ch;
    size_t nch, capch;
    struct err *e;
};

/* ---- messages ---- */

/* Presentation form without the trailing dot ("." stays "."). */
static const char *ntext(const uint8_t *n, char buf[DNS_NAME_TEXT_MAX])
{
    int l = dns_name_to_text(n, buf, DNS_NAME_TEXT_MAX);
    if (l > 1 && buf[l - 1] == '.') buf[l - 1] = 0;
    return buf;
}

#define NAME(n) ntext((n), (char[DNS_NAME_TEXT_MAX]){0})
#define TYPE(t) dns_type_to_text((t), (char[16]){0})

static int oom(struct err *e)
{
    return err_set(e, "out of memory");
}

/* ---- working state ---- */

static void *grow(struct arena *a, void *old, size_t n, size_t *cap, size_t size)
{
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < n)
        nc *= 2;
    void *p = arena_alloc(a, nc * size);
    if (p && old) memcpy(p, old, *cap * size);
    if (p) *cap = nc;
    return p;
}

static struct wname *get_name(struct ctx *c, const uint8_t *owner)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, owner);
    uint32_t h = dns_name_hash(l, len);
    struct wname **slot = &c->bucket[h & (c->nbucket - 1)];
    for (struct wname *w = *slot; w; w = w->next)
        if (w->len == len && memcmp(w->lname, l, len) == 0) return w;
    struct wname *w = arena_zalloc(&c->a, sizeof *w);
    if (!w) return NULL;
    memcpy(w->lname, l, len);
    w->len = (uint8_t)len;
    w->node = zone_version_find(c->v, l, len);
    if (w->node && w->node->nrrsets) {
        w->cap = w->node->nrrsets;
        w->sets = arena_zalloc(&c->a, w->cap * sizeof *w->sets);
        if (!w->sets) return NULL;
        for (size_t i = 0; i < w->node->nrrsets; i++) {
            const struct dns_rrset *s = &w->node->rrsets[i];
            struct wset *ws = &w->sets[w->n++];
            ws->type = s->type;
            ws->ttl = s->ttl;
            ws->cap = s->count;
            ws->rr = arena_alloc(&c->a, (s->count ? s->count : 1) * sizeof *ws->rr);
            if (!ws->rr) return NULL;
            for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p))
                ws->rr[ws->n++] = (struct wrr){rr_rdata(p), rr_rdlen(p)};
        }
    }
    w->next = *slot;
    *slot = w;
    c->names[c->nnames++] = w;
    return w;
}

static struct wset *find_set(struct wname *w, uint16_t type)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->sets[i].type == type) return &w->sets[i];
    return NULL;
}

static struct wset *get_set(struct ctx *c, struct wname *w, uint16_t type)
{
    struct wset *s = find_set(w, type);
    if (s) return s;
    if (w->n == w->cap) {
        struct wset *ns = grow(&c->a, w->sets, w->n + 1, &w->cap, sizeof *ns);
        if (!ns) return NULL;
        w->sets = ns;
    }
    s = &w->sets[w->n++];
    memset(s, 0, sizeof *s);
    s->type = type;
    return s;
}

static long find_rr(const struct wset *s, const uint8_t *rd, uint16_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (dns_rdata_cmp(s->type, s->rr[i].rd, s->rr[i].len, rd, len) == 0) return (long)i;
    return -1;
}

static int push_rr(struct ctx *c, struct wset *s, const uint8_t *rd, uint16_t len)
{
    if (s->n == s->cap) {
        struct wrr *nr = grow(&c->a, s->rr, s->n + 1, &s->cap, sizeof *nr);
        if (!nr) return oom(c->e);
        s->rr = nr;
    }
    s->rr[s->n++] = (struct wrr){rd, len};
    return 0;
}

/* Types that may share an owner with a CNAME (RFC 4035 §2.5). */
static bool cname_companion(uint16_t t)
{
    return t == DNS_T_CNAME || t == DNS_T_RRSIG || t == DNS_T_NSEC;
}

static uint32_t soa_serial_of(const uint8_t *rd, uint16_t len)
{
    return be32(rd + len - 20);
}

/* ---- updates ---- */

/* Adds to the working state. The zone's content rules are checked on the
 * final state (check_final), not here: an update is applied as a unit. */
static int do_add(struct ctx *c, const struct dns_update *u, const uint8_t *rd, uint16_t len)
{
    struct wname *w = get_name(c, u->owner);
    if (!w) return oom(c->e);
    struct wset *s = get_set(c, w, u->type);
    if (!s) return oom(c->e);
    s->ttl = u->ttl; /* an RRset has one TTL: the last one given (RFC 2181 §5.2) */
    s->added = c->step + 1;
    if (find_rr(s, rd, len) >= 0) return 0;
    /* singletons: a new one replaces the old */
    if (u->type == DNS_T_SOA || u->type == DNS_T_CNAME || u->type == DNS_T_DNAME) s->n = 0;
    return push_rr(c, s, rd, len);
}

static int do_remove(struct ctx *c, const struct dns_update *u, const uint8_t *rd, uint16_t len)
{
    struct wname *w = get_name(c, u->owner);
    if (!w) return oom(c->e);
    bool at_apex = dns_name_equal(w->lname, c->v->apex);
    if (u->kind == DNS_UPDATE_REMOVE_ALL) {
        for (size_t i = 0; i < w->n; i++)
            if (!at_apex || (w->sets[i].type != DNS_T_SOA && w->sets[i].type != DNS_T_NS))
                w->sets[i].n = 0;
        return 0;
    }
    struct wset *s = find_set(w, u->type);
    if (u->kind == DNS_UPDATE_REMOVE_RRSET) {
        if (at_apex && u->type == DNS_T_NS) c->apex_ns_set_removed = true;
        if (s) s->n = 0;
        return 0;
    }
    long i = s ? find_rr(s, rd, len) : -1;
    if (i >= 0) s->rr[i] = s->rr[--s->n];
    return 0;
}

/* ---- the final state ---- */

/* The CNAME rule at w (RFC 1034 §3.6.2, RRSIG and NSEC excepted): the
 * message names whichever side this update added last. */
static int check_cname(struct ctx *c, struct wname *w)
{
    const struct wset *cname = find_set(w, DNS_T_CNAME), *other = NULL;
    if (!cname || !cname->n) return 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->sets[i].n && !cname_companion(w->sets[i].type) &&
            (!other || w->sets[i].added > other->added))
            other = &w->sets[i];
    if (!other) return 0;
    if (cname->added > other->added)
        return err_set(c->e, "cannot add CNAME at %s: the name has other records", NAME(w->lname));
    return err_set(c->e, "cannot add %s at %s: the name has a CNAME", TYPE(other->type),
                   NAME(w->lname));
}

/* The apex keeps one SOA, newer if this update set it, and keeps NS
 * records if it had any. */
static int check_apex(struct ctx *c, struct wname *w)
{
    const uint8_t *apex = c->v->apex;
    const struct wset *soa = find_set(w, DNS_T_SOA), *ns = find_set(w, DNS_T_NS);
    if (!soa || !soa->n) return err_set(c->e, "cannot remove the apex SOA of %s", NAME(apex));
    if (soa->added) {
        uint32_t serial = soa_serial_of(soa->rr[0].rd, soa->rr[0].len);
        if (!serial_newer(serial, c->v->serial))
            return err_set(c->e, "SOA serial %u is not newer than the current serial %u of %s",
                           serial, c->v->serial, NAME(apex));
        c->soa_set = true;
        c->soa_serial = serial;
    }
    bool had_ns = w->node && node_rrset(w->node, DNS_T_NS);
    if (had_ns && (!ns || !ns->n))
        return err_set(c->e,
                       c->apex_ns_set_removed
                           ? "cannot remove the NS records at the apex of %s"
                           : "cannot remove the last NS record at the apex of %s",
                       NAME(apex));
    return 0;
}

/* Where RFC 2136 silently skips an update that would break the zone, we
 * refuse the whole update (see update.h), judging the state all of its
 * updates leave together: a step that breaks a rule may be repaired by a
 * later one (remove the apex NS RRset, then add the new NS records). Names
 * are checked in the order the update first touched them. */
static int check_final(struct ctx *c)
{
    for (size_t i = 0; i < c->nnames; i++) {
        struct wname *w = c->names[i];
        if (dns_name_equal(w->lname, c->v->apex)) {
            if (check_apex(c, w) < 0) return -1;
        } else {
            const struct wset *soa = find_set(w, DNS_T_SOA);
            if (soa && soa->n)
                return err_set(c->e, "SOA records are only allowed at the apex %s, not at %s",
                               NAME(c->v->apex), NAME(w->lname));
        }
        if (check_cname(c, w) < 0) return -1;
    }
    return 0;
}

/* ---- prerequisites ---- */

static const struct dns_rrset *version_rrset(const struct zone_version *v, const uint8_t *owner,
                                             uint16_t type, const struct zone_node **node)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, owner);
    const struct zone_node *n = zone_version_find(v, l, len);
    if (node) *node = n;
    return n ? node_rrset(n, type) : NULL;
}

static bool rrset_has(const struct dns_rrset *s, const uint8_t *rd, uint16_t len)
{
    for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p))
        if (dns_rdata_cmp(s->type, rr_rdata(p), rr_rdlen(p), rd, len) == 0) return true;
    return false;
}

/* All EXISTS_DATA prereqs for the owner/type of p[i] together equal the
 * RRset (§3.2.3). rd[] holds the normalised RDATA of each prereq. */
static bool rrset_equals(const struct dns_rrset *s, const struct dns_prereq *p, size_t np, size_t i,
                         uint8_t **rd, uint16_t *rdlen)
{
    size_t distinct = 0;
    for (size_t k = 0; k < np; k++) {
        if (p[k].kind != DNS_PREREQ_EXISTS_DATA || p[k].type != p[i].type ||
            !dns_name_equal(p[k].owner, p[i].owner))
            continue;
        if (!rrset_has(s, rd[k], rdlen[k])) return false;
        bool dup = false;
        for (size_t m = 0; m < k && !dup; m++)
            dup = p[m].kind == DNS_PREREQ_EXISTS_DATA && p[m].type == p[k].type &&
                  dns_name_equal(p[m].owner, p[k].owner) &&
                  dns_rdata_cmp(p[k].type, rd[m], rdlen[m], rd[k], rdlen[k]) == 0;
        if (!dup) distinct++;
    }
    return distinct == s->count;
}

static int check_prereqs(struct ctx *c, const struct dns_prereq *p, size_t np, uint8_t **rd,
                         uint16_t *rdlen)
{
    for (size_t i = 0; i < np; i++) {
        const struct zone_node *node;
        const struct dns_rrset *s = version_rrset(c->v, p[i].owner, p[i].type, &node);
        bool in_use = node && node->nrrsets;
        switch (p[i].kind) {
        case DNS_PREREQ_EXISTS:
            if (!s)
                return err_set(c->e, "prerequisite failed: %s %s does not exist", NAME(p[i].owner),
                               TYPE(p[i].type));
            break;
        case DNS_PREREQ_EXISTS_DATA:
            if (!s)
                return err_set(c->e, "prerequisite failed: %s %s does not exist", NAME(p[i].owner),
                               TYPE(p[i].type));
            if (!rrset_equals(s, p, np, i, rd, rdlen))
                return err_set(c->e, "prerequisite failed: %s %s differs from the given records",
                               NAME(p[i].owner), TYPE(p[i].type));
            break;
        case DNS_PREREQ_NOT_EXISTS:
            if (s)
                return err_set(c->e, "prerequisite failed: %s %s exists", NAME(p[i].owner),
                               TYPE(p[i].type));
            break;
        case DNS_PREREQ_NAME_IN_USE:
            if (!in_use)
                return err_set(c->e, "prerequisite failed: name %s is not in use",
                               NAME(p[i].owner));
            break;
        case DNS_PREREQ_NOT_NAME_IN_USE:
            if (in_use)
                return err_set(c->e, "prerequisite failed: name %s is in use", NAME(p[i].owner));
            break;
        default:
            return err_set(c->e, "unknown prerequisite kind %d", (int)p[i].kind);
        }
    }
    return 0;
}

/* ---- validation (before taking the lock) ---- */

static int check_owner(struct ctx *c, const uint8_t *owner, const uint8_t *confine)
{
    if (!owner) return err_set(c->e, "missing owner name");
    if (!dns_name_is_subdomain(owner, confine))
        return err_set(c->e, "name %s is outside %s", NAME(owner), NAME(confine));
    return 0;
}

static int check_type(struct ctx *c, uint16_t t, const uint8_t *owner, const char *what)
{
    if (t == 0 || dns_type_is_meta(t))
        return err_set(c->e, "type %s cannot be used in %s (at %s)", TYPE(t), what, NAME(owner));
    return 0;
}

/* Normalises a raw value into the arena. */
static int norm(struct ctx *c, uint16_t t, const uint8_t *owner, const uint8_t *v, size_t vlen,
                uint8_t *tmp, uint8_t **rd, uint16_t *rdlen)
{
    int n = dns_update_value_rdata(t, v, vlen, tmp, 65535);
    if (n < 0) return err_set(c->e, "malformed RDATA for %s at %s", TYPE(t), NAME(owner));
    if (!(*rd = arena_memdup(&c->a, tmp, (size_t)n))) return oom(c->e);
    *rdlen = (uint16_t)n;
    return 0;
}

/* ---- diff ---- */

static int emit(struct ctx *c, enum dns_change_op op, const struct wname *w, uint16_t type,
                uint32_t ttl, const uint8_t *rd, uint16_t len)
{
    if (c->nch == c->capch) {
        size_t nc = c->capch ? c->capch * 2 : 16;
        struct dns_change *p = realloc(c->ch, nc * sizeof *p);
        if (!p) return oom(c->e);
        c->ch = p;
        c->capch = nc;
    }
    c->ch[c->nch++] = (struct dns_change){op, w->lname, type, ttl, len, rd};
    return 0;
}

static bool wset_has(const struct wset *s, const uint8_t *rd, uint16_t len)
{
    return find_rr(s, rd, len) >= 0;
}

/* Deletions name each RR with its TTL, so that a change set is self-contained
 * (an IXFR can be made from it); a TTL change deletes and re-adds the whole
 * RRset. */
static int diff_set(struct ctx *c, const struct wname *w, const struct wset *s)
{
    const struct dns_rrset *o = w->node ? node_rrset(w->node, s->type) : NULL;
    bool retime = o && s->n && o->ttl != s->ttl;
    if (o)
        for (const uint8_t *p = rrset_first(o); p; p = rrset_next(o, p))
            if ((retime || !wset_has(s, rr_rdata(p), rr_rdlen(p))) &&
                emit(c, DNS_CHANGE_DEL, w, s->type, o->ttl, rr_rdata(p), rr_rdlen(p)) < 0)
                return -1;
    for (size_t i = 0; i < s->n; i++)
        if ((retime || !o || !rrset_has(o, s->rr[i].rd, s->rr[i].len)) &&
            emit(c, DNS_CHANGE_ADD, w, s->type, s->ttl, s->rr[i].rd, s->rr[i].len) < 0)
            return -1;
    return 0;
}

static int diff(struct ctx *c)
{
    for (size_t i = 0; i < c->nnames; i++) {
        const struct wname *w = c->names[i];
        for (size_t k = 0; k < w->n; k++)
            if (diff_set(c, w, &w->sets[k]) < 0) return -1;
    }
    return 0;
}

/* ---- the whole update ---- */

static int validate(struct ctx *c, const uint8_t *confine, const struct dns_prereq *p, size_t np,
                    const struct dns_update *u, size_t nu, uint8_t **prd, uint16_t *prdlen,
                    uint8_t **urd, uint16_t *urdlen)
{
    uint8_t *tmp = malloc(65535);
    if (!tmp) return oom(c->e);
    int r = 0;
    for (size_t i = 0; i < np && r == 0; i++) {
        r = check_owner(c, p[i].owner, confine);
        if (r == 0 && p[i].kind != DNS_PREREQ_NAME_IN_USE &&
            p[i].kind != DNS_PREREQ_NOT_NAME_IN_USE)
            r = check_type(c, p[i].type, p[i].owner, "a prerequisite");
        if (r == 0 && p[i].kind == DNS_PREREQ_EXISTS_DATA)
            r = norm(c, p[i].type, p[i].owner, p[i].rdata, p[i].rdlen, tmp, &prd[i], &prdlen[i]);
    }
    for (size_t i = 0; i < nu && r == 0; i++) {
        r = check_owner(c, u[i].owner, confine);
        if (r == 0 && u[i].kind != DNS_UPDATE_REMOVE_ALL)
            r = check_type(c, u[i].type, u[i].owner, "an update");
        if (r == 0 && u[i].kind == DNS_UPDATE_ADD && u[i].ttl > TTL_MAX)
            r = err_set(c->e, "TTL %u of %s %s is above the maximum %u", u[i].ttl, NAME(u[i].owner),
                        TYPE(u[i].type), TTL_MAX);
        if (r == 0 && (u[i].kind == DNS_UPDATE_ADD || u[i].kind == DNS_UPDATE_REMOVE_RR))
            r = norm(c, u[i].type, u[i].owner, u[i].rdata, u[i].rdlen, tmp, &urd[i], &urdlen[i]);
        if (r == 0 && u[i].kind > DNS_UPDATE_REMOVE_RR)
            r = err_set(c->e, "unknown update kind %d", (int)u[i].kind);
    }
    free(tmp);
    return r;
}

/* Under z's writer lock: computes the change, builds the new version and
 * either publishes it (no journal) or submits it for group commit (*sub). */
static int run_locked(struct ctx *c, struct zone *z, const struct dns_prereq *p, size_t np,
                      const struct dns_update *u, size_t nu, uint8_t **prd, uint16_t *prdlen,
                      uint8_t **urd, uint16_t *urdlen, struct journal *j, uint32_t *new_serial,
                      struct journal_sub **sub, struct zone_version **replaced)
{
    /* Build on the newest submitted version: updates queued for the same
     * commit see each other, in order. */
    const struct zone_version *tip = j ? journal_tip(j, z) : NULL;
    c->v = tip ? tip : zone_current(z);
    if (check_prereqs(c, p, np, prd, prdlen) < 0) return -1;
    for (size_t i = 0; i < nu; i++) {
        c->step = i;
        int r = u[i].kind == DNS_UPDATE_ADD ? do_add(c, &u[i], urd[i], urdlen[i])
                                            : do_remove(c, &u[i], urd[i], urdlen[i]);
        if (r < 0) return -1;
    }
    if (check_final(c) < 0 || diff(c) < 0) return -1;
    if (c->nch == 0) {
        *new_serial = c->v->serial;
        /* What we checked includes uncommitted changes: wait for them. */
        if (tip && journal_submit(j, z, 0, 0, NULL, 0, NULL, sub, c->e) < 0)
            return err_prefix(c->e, "journal");
        return 0;
    }
    uint32_t serial = c->soa_set ? c->soa_serial : serial_next(c->v->serial);
    struct zone_version *nv;
    if (zone_version_apply(c->v, c->ch, c->nch, serial, &nv, c->e) < 0) return -1;
    *new_serial = serial;
    if (!j) {
        /* The caller releases the old version after a grace period, once it
         * has dropped the zone lock; the working state points into it. */
        *replaced = zone_publish_swap(z, nv);
        return 0;
    }
    if (journal_submit(j, z, c->v->serial, serial, c->ch, c->nch, nv, sub, c->e) < 0) {
        zone_version_free(nv);
        return err_prefix(c->e, "journal");
    }
    return 0;
}

int dns_update_apply(struct zone *z, const uint8_t *confine, const struct dns_prereq *p, size_t np,
                     const struct dns_update *u, size_t nu, struct journal *j, uint32_t *new_serial,
                     struct err *e)
{
    struct ctx c = {.e = e};
    uint32_t dummy;
    if (!new_serial) new_serial = &dummy;
    if (!dns_name_is_subdomain(confine, z->apex))
        return err_set(e, "name %s is outside %s", NAME(confine), NAME(z->apex));
    arena_init(&c.a, 0);
    int r = -1;
    uint8_t **prd = arena_zalloc(&c.a, (np + 1) * sizeof *prd);
    uint16_t *prdlen = arena_zalloc(&c.a, (np + 1) * sizeof *prdlen);
    uint8_t **urd = arena_zalloc(&c.a, (nu + 1) * sizeof *urd);
    uint16_t *urdlen = arena_zalloc(&c.a, (nu + 1) * sizeof *urdlen);
    c.nbucket = 16;
    while (c.nbucket < 2 * nu)
        c.nbucket *= 2;
    c.bucket = arena_zalloc(&c.a, c.nbucket * sizeof *c.bucket);
    c.names = arena_alloc(&c.a, (nu + 1) * sizeof *c.names);
    if (!prd || !prdlen || !urd || !urdlen || !c.bucket || !c.names) {
        oom(e);
        goto out;
    }
    if (validate(&c, confine, p, np, u, nu, prd, prdlen, urd, urdlen) < 0) goto out;
    zone_lock(z);
    struct journal_sub *sub = NULL;
    struct zone_version *replaced = NULL;
    r = run_locked(&c, z, p, np, u, nu, prd, prdlen, urd, urdlen, j, new_serial, &sub, &replaced);
    /* A failure found against uncommitted changes only stands if they
     * commit: wait for them too (a barrier). */
    struct err we;
    if (r < 0 && j && c.v != zone_current(z) &&
        journal_submit(j, z, 0, 0, NULL, 0, NULL, &sub, &we) < 0)
        sub = NULL;
    zone_unlock(z);
    if (replaced) { /* no journal: published above; the grace period off the lock */
        synchronize_rcu();
        zone_version_release(replaced);
    }
    /* Durable, then published (by whichever waiter commits), then we return. */
    if (sub && journal_wait(j, sub, &we) < 0) {
        *e = we;
        r = err_prefix(e, "journal");
    }
out:
    free(c.ch);
    arena_free(&c.a);
    return r;
}
