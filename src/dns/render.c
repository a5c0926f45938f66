#include "dns/render.h"
#include "dns/wire.h"
#include "util/buf.h"
#include <string.h>

void resp_init(struct resp *r, uint8_t *buf, size_t cap)
{
    r->p = buf;
    r->len = 0;
    r->cap = cap;
    r->fail = false;
    r->ncomp = 0;
    r->qname = NULL;
}

/* The writers render.c uses itself: static, so they are inlined (the
 * library is built position-independent, where a call to an exported
 * function is never inlined). */
static inline bool put(struct resp *r, const void *d, size_t n)
{
    if (r->fail || n > r->cap - r->len) {
        r->fail = true;
        return false;
    }
    memcpy(r->p + r->len, d, n);
    r->len += n;
    return true;
}

/* The fixed-size fields: stored directly, not through memcpy (several per
 * RR on the query path). */
static inline bool put16(struct resp *r, uint16_t v)
{
    if (r->fail || 2 > r->cap - r->len) return r->fail = true, false;
    r->p[r->len] = (uint8_t)(v >> 8);
    r->p[r->len + 1] = (uint8_t)v;
    r->len += 2;
    return true;
}

static inline bool put32(struct resp *r, uint32_t v)
{
    if (r->fail || 4 > r->cap - r->len) return r->fail = true, false;
    uint8_t *p = r->p + r->len;
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    r->len += 4;
    return true;
}

bool resp_put(struct resp *r, const void *d, size_t n)
{
    return put(r, d, n);
}

bool resp_u16(struct resp *r, uint16_t v)
{
    return put16(r, v);
}

bool resp_u32(struct resp *r, uint32_t v)
{
    return put32(r, v);
}

/* Labels a and b (l bytes) are equal case-insensitively. Names in a
 * response are nearly always spelled alike (the zone's and the question's):
 * a word-at-a-time exact compare first, bytes through the case table only
 * when that fails. */
static bool label_eq(const uint8_t *a, const uint8_t *b, uint8_t l)
{
    uint8_t i = 0;
    for (; i + 8 <= l; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) goto fold;
    }
    for (; i < l; i++)
        if (a[i] != b[i]) goto fold;
    return true;
fold:
    for (i = 0; i < l; i++)
        if (dns_lower(a[i]) != dns_lower(b[i])) return false;
    return true;
}

/* Does the name in the packet at off (possibly ending in pointers, all of
 * which we wrote ourselves and which point backwards) equal suffix s? */
static bool packet_suffix_eq(const uint8_t *pkt, size_t off, const uint8_t *s)
{
    for (;;) {
        uint8_t l = pkt[off];
        while ((l & 0xc0) == 0xc0) {
            off = (size_t)(l & 0x3f) << 8 | pkt[off + 1];
            l = pkt[off];
        }
        if (l != *s) return false;
        if (!l) return true;
        if (!label_eq(pkt + off + 1, s + 1, l)) return false;
        off += 1 + (size_t)l;
        s += 1 + (size_t)l;
    }
}

static bool name(struct resp *r, const uint8_t *n, bool compress)
{
    /* the search below would find the question's own entry first */
    if (compress && n == r->qname) return put16(r, (uint16_t)(0xc000 | r->qname_off));
    size_t total = dns_name_len(n);
    const uint8_t *s = n;
    int found = -1;
    /* an empty table (the question) has nothing to find: every label new */
    if (compress && r->ncomp) {
        /* Longest suffix first; an entry can only match a suffix with the
         * same remaining length, which rejects almost every candidate before
         * any byte is compared. */
        for (; *s && found < 0; s += *s + 1) {
            uint8_t rest = (uint8_t)(total - (size_t)(s - n));
            for (uint16_t i = 0; i < r->ncomp; i++)
                if (r->comp[i].rest == rest && packet_suffix_eq(r->p, r->comp[i].off, s)) {
                    found = r->comp[i].off;
                    break;
                }
            if (found >= 0) break;
        }
    } else {
        s = n + total - 1;
    }
    /* the labels before the suffix found: remembered, then written in one
     * copy (a failed write takes its positions back) */
    uint16_t ncomp = r->ncomp;
    if (compress && !r->fail)
        for (const uint8_t *x = n; x != s && r->ncomp < RESP_COMP_MAX; x += *x + 1) {
            size_t off = r->len + (size_t)(x - n);
            if (off >= 0x4000) break;
            r->comp[r->ncomp].off = (uint16_t)off;
            r->comp[r->ncomp].rest = (uint8_t)(total - (size_t)(x - n));
            r->ncomp++;
        }
    if (!put(r, n, (size_t)(s - n))) {
        r->ncomp = ncomp;
        return false;
    }
    if (found >= 0) return put16(r, (uint16_t)(0xc000 | found));
    return put(r, "", 1);
}

static inline bool rdata(struct resp *r, uint16_t type, const uint8_t *rd, uint16_t rdlen,
                         resp_name_fn name_fn, void *arg)
{
    const uint8_t *f = dns_type_compressible(type) ? dns_rdata_fields(type) : NULL;
    if (!f) return put(r, rd, rdlen);
    size_t pos = 0;
    for (; *f != DNS_FIELD_END; f++) {
        switch (*f) {
        case DNS_FIELD_CNAME:
            if (!name_fn(r, rd + pos, arg)) return false;
            pos += dns_name_len(rd + pos);
            break;
        case DNS_FIELD_FIX2:
            if (!put(r, rd + pos, 2)) return false;
            pos += 2;
            break;
        case DNS_FIELD_FIX4:
            if (!put(r, rd + pos, 4)) return false;
            pos += 4;
            break;
        default: /* no other field kinds in the RFC 1035 types */
            return put(r, rd + pos, rdlen - pos);
        }
    }
    return true;
}

bool resp_name(struct resp *r, const uint8_t *n, bool compress)
{
    return name(r, n, compress);
}

bool resp_rdata(struct resp *r, uint16_t type, const uint8_t *rd, uint16_t rdlen,
                resp_name_fn name_fn, void *arg)
{
    return rdata(r, type, rd, rdlen, name_fn, arg);
}

static bool compressed_name(struct resp *r, const uint8_t *n, void *arg)
{
    (void)arg;
    return name(r, n, true);
}

/* owner_ptr: a 2-byte compression pointer already known to encode owner
 * (the RRs of one RRset after the first), or 0 to compress owner here. */
static bool put_rr(struct resp *r, const uint8_t *owner, uint16_t owner_ptr, uint16_t type,
                   uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
    size_t len = r->len, at = 0;
    uint16_t ncomp = r->ncomp;
    bool ok = (owner_ptr ? put16(r, owner_ptr) : name(r, owner, true)) && put16(r, type) &&
              put16(r, DNS_CLASS_IN) && put32(r, ttl);
    if (ok) {
        at = r->len;
        ok = put16(r, 0) && rdata(r, type, rd, rdlen, compressed_name, NULL);
    }
    if (!ok) { /* all or nothing */
        r->len = len;
        r->ncomp = ncomp;
        r->fail = false;
        return false;
    }
    size_t n = r->len - at - 2;
    r->p[at] = (uint8_t)(n >> 8);
    r->p[at + 1] = (uint8_t)n;
    return true;
}

bool resp_rr(struct resp *r, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
             uint16_t rdlen)
{
    return put_rr(r, owner, 0, type, ttl, rd, rdlen);
}

int resp_rrset(struct resp *r, const uint8_t *owner, const struct dns_rrset *s, uint32_t ttl)
{
    size_t len = r->len;
    uint16_t ncomp = r->ncomp, ptr = 0;
    int n = 0;
    for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p), n++) {
        size_t at = r->len;
        if (!put_rr(r, owner, ptr, s->type, ttl, rr_rdata(p), rr_rdlen(p))) {
            r->len = len;
            r->ncomp = ncomp;
            r->fail = false;
            return 0;
        }
        /* the next RRs reuse the first owner: its pointer, or a pointer to it */
        if (!ptr && (r->p[at] & 0xc0) == 0xc0)
            ptr = be16(r->p + at);
        else if (!ptr && at < 0x4000)
            ptr = (uint16_t)(0xc000 | at);
    }
    return n;
}

/* Remembers the labels of the prefix (pre bytes) of name n, total bytes
 * long, written at off: what name() remembers for them. */
static void remember_prefix(struct resp *r, const uint8_t *n, uint8_t pre, size_t total, size_t off)
{
    for (const uint8_t *x = n; x < n + pre && r->ncomp < RESP_COMP_MAX; x += *x + 1) {
        size_t at = off + (size_t)(x - n);
        if (at >= 0x4000) break;
        r->comp[r->ncomp].off = (uint16_t)at;
        r->comp[r->ncomp].rest = (uint8_t)(total - (size_t)(x - n));
        r->ncomp++;
    }
}

bool resp_negative_soa(struct resp *r, const struct zone_soa_layout *l, const uint8_t *apex,
                       size_t qlen, uint16_t q_ncomp)
{
    if (!l->soa || !r->qname || r->fail) return false;
    /* The question's labels before the apex: with the apex's entry in the
     * table, name() finds the apex there first (one entry per length). */
    size_t alen = dns_name_len(apex), rem = qlen;
    const uint8_t *q = r->qname, *qlast = NULL;
    unsigned idx = 0;
    for (; rem > alen; rem -= 1 + (size_t)*q, q += 1 + *q, idx++)
        qlast = q;
    if (rem != alen || idx >= q_ncomp) return false;
    const uint8_t *rd = rr_rdata(l->soa->rdata), *rn = rd + l->rname_at;
    /* A name's labels before the apex compress against the question's only
     * if their last labels are equal (MNAME against RNAME: excluded when the
     * layout was made): then name() decides. */
    if (qlast &&
        ((l->mpre && qlast[0] == rd[l->mlast] &&
          label_eq(qlast + 1, rd + l->mlast + 1, qlast[0])) ||
         (l->rpre && qlast[0] == rn[l->rlast] && label_eq(qlast + 1, rn + l->rlast + 1, qlast[0]))))
        return false;
    size_t rdlen = (size_t)l->mpre + l->rpre + 24, total = 12 + rdlen;
    if (total > r->cap - r->len) return false;
    uint16_t ptr = (uint16_t)(0xc000 | (r->qname_off + qlen - alen));
    uint8_t *p = r->p + r->len;
    size_t mname_at = r->len + 12, rname_at = mname_at + l->mpre + 2;
    p[0] = (uint8_t)(ptr >> 8), p[1] = (uint8_t)ptr;
    p[2] = 0, p[3] = (uint8_t)DNS_T_SOA;
    p[4] = 0, p[5] = (uint8_t)DNS_CLASS_IN;
    p[6] = (uint8_t)(l->neg_ttl >> 24), p[7] = (uint8_t)(l->neg_ttl >> 16);
    p[8] = (uint8_t)(l->neg_ttl >> 8), p[9] = (uint8_t)l->neg_ttl;
    p[10] = (uint8_t)(rdlen >> 8), p[11] = (uint8_t)rdlen;
    p += 12;
    memcpy(p, rd, l->mpre);
    p += l->mpre;
    p[0] = (uint8_t)(ptr >> 8), p[1] = (uint8_t)ptr;
    p += 2;
    memcpy(p, rn, l->rpre);
    p += l->rpre;
    p[0] = (uint8_t)(ptr >> 8), p[1] = (uint8_t)ptr;
    memcpy(p + 2, rr_rdata(l->soa->rdata) + rr_rdlen(l->soa->rdata) - 20, 20);
    remember_prefix(r, rd, l->mpre, l->rname_at, mname_at);
    remember_prefix(r, rn, l->rpre, rr_rdlen(l->soa->rdata) - 20 - l->rname_at, rname_at);
    r->len += total;
    return true;
}
