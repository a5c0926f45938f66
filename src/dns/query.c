#include "dns/query.h"
#include "dns/render.h"
#include "dns/wire.h"
#include "util/buf.h"
#include <stddef.h>
#include <string.h>

#define OPT_RR_LEN 11 /* root owner, type, class, TTL, RDLENGTH 0 */
#define ADD_MAX 32    /* additional-section targets remembered per response */

struct qctx {
    const struct zone_version *v;
    const struct zone_node *cut; /* set by a referral */
    uint16_t qtype;
    struct resp r;
    size_t q_end;     /* the packet's length after the question */
    size_t qlen;      /* the question name's length */
    uint16_t q_ncomp; /* compression entries of the question's labels */
    uint16_t rcode;
    bool aa, tc;
    uint16_t an, ns, ar;
    int nadd;
    const uint8_t *add[ADD_MAX]; /* target names (in zone RDATA) for A/AAAA */
};

/* Lookup results for one name of the chain. */
enum find_kind { F_EXACT, F_WILDCARD, F_NXDOMAIN, F_CUT, F_DNAME };

static void want_additional(struct qctx *c, const struct dns_rrset *s)
{
    int off = dns_rdata_target_offset(s->type);
    if (off < 0) return;
    for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p))
        if (c->nadd < ADD_MAX && rr_rdlen(p) > off) c->add[c->nadd++] = rr_rdata(p) + off;
}

static bool answer_rrset(struct qctx *c, const uint8_t *owner, const struct dns_rrset *s)
{
    int n = resp_rrset(&c->r, owner, s, s->ttl);
    if (!n) {
        c->tc = true;
        return false;
    }
    c->an = (uint16_t)(c->an + n);
    want_additional(c, s);
    return true;
}

static void negative(struct qctx *c)
{
    /* nothing but the question before: the SOA laid out at publish */
    if (c->r.len == c->q_end &&
        resp_negative_soa(&c->r, &c->v->soa_layout, c->v->apex, c->qlen, c->q_ncomp)) {
        c->ns++;
        return;
    }
    const struct dns_rrset *soa = zone_version_soa(c->v);
    const uint8_t *rd = rr_rdata(soa->rdata);
    uint32_t minimum = be32(rd + rr_rdlen(soa->rdata) - 4);
    int n = resp_rrset(&c->r, c->v->apex, soa, soa->ttl < minimum ? soa->ttl : minimum);
    if (!n) c->tc = true;
    c->ns = (uint16_t)(c->ns + n);
}

/* The node of lname (lowercase, in v's zone: at or below the apex). A name
 * of the zone as long as the apex is the apex: no lookup (the closest
 * encloser of every NXDOMAIN one label below the apex, the apex's own
 * queries). */
static const struct zone_node *lookup(const struct zone_version *v, const uint8_t *lname,
                                      size_t len)
{
    const struct zone_node *apex = zone_version_apex_node(v);
    return len == apex->name_len ? apex : zone_version_find(v, lname, len);
}

/* Finds the node that answers lname (lowercase, in the zone): exact,
 * wildcard, or the cut / DNAME that takes precedence, per RFC 1034 §4.3.2
 * step 3 and RFC 4592 §3.3. */
static enum find_kind find(const struct zone_version *v, const uint8_t *lname, size_t len,
                           uint16_t qtype, const struct zone_node **out)
{
    const uint8_t *p = lname;
    const struct zone_node *enc = lookup(v, p, len);
    bool exact = enc != NULL;
    while (!enc) { /* the apex is always found, as lname is in the zone */
        len -= 1 + (size_t)*p;
        p += 1 + *p;
        enc = lookup(v, p, len);
    }
    if (enc->flags & (ZN_OCCLUDED | ZN_DELEG | ZN_DNAME)) {
        const struct zone_node *top = NULL;
        enum find_kind kind = F_EXACT;
        /* Up to the apex by looking up the name minus one label at a time
         * (every ancestor of a node is a node, empty non-terminals
         * included), not by parent pointers: a store whose versions share
         * nodes cannot keep them (issue 12). Only names at or below a cut
         * or DNAME take this path. */
        const uint8_t *xn = enc->name;
        size_t xl = enc->name_len;
        for (const struct zone_node *x = enc; x;) {
            bool self = exact && x == enc;
            if ((x->flags & ZN_DELEG) && !(self && qtype == DNS_T_DS)) {
                top = x;
                kind = F_CUT;
            } else if ((x->flags & ZN_DNAME) && !self) {
                top = x;
                kind = F_DNAME;
            }
            if (x->flags & ZN_APEX) break;
            xl -= 1 + (size_t)*xn;
            xn += 1 + *xn;
            x = lookup(v, xn, xl);
        }
        if (top) {
            *out = top;
            return kind;
        }
    }
    if (exact) {
        *out = enc;
        return F_EXACT;
    }
    if (enc->flags & ZN_HAS_WILDCARD) {
        uint8_t wc[DNS_NAME_MAX];
        wc[0] = 1;
        wc[1] = '*';
        if (len + 2 <= DNS_NAME_MAX) {
            memcpy(wc + 2, enc->name, len);
            *out = lookup(v, wc, len + 2);
            if (*out) return F_WILDCARD;
        }
    }
    *out = enc;
    return F_NXDOMAIN;
}

static void referral(struct qctx *c, const struct zone_node *cut)
{
    c->cut = cut;
    const struct dns_rrset *ns = node_rrset(cut, DNS_T_NS);
    int n = resp_rrset(&c->r, cut->name, ns, ns->ttl);
    if (!n) {
        c->tc = true;
        return;
    }
    c->ns = (uint16_t)(c->ns + n);
    want_additional(c, ns);
}

/* The node for an additional-section target, exact or via a wildcard. */
static const struct zone_node *additional_node(const struct zone_version *v, const uint8_t *target)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, target);
    if (!dns_name_is_subdomain(l, v->apex)) return NULL;
    const struct zone_node *n = lookup(v, l, len);
    if (n) return n;
    const uint8_t *p = l;
    while (!n) {
        len -= 1 + (size_t)*p;
        p += 1 + *p;
        n = lookup(v, p, len);
    }
    if (!(n->flags & ZN_HAS_WILDCARD) || len + 2 > DNS_NAME_MAX) return NULL;
    uint8_t wc[DNS_NAME_MAX] = {1, '*'};
    memcpy(wc + 2, p, len);
    return lookup(v, wc, len + 2);
}

static void additional(struct qctx *c)
{
    /* Targets already added, by name: the same node reached through two
     * names (a wildcard) is added under each. */
    const uint8_t *done[ADD_MAX];
    int ndone = 0;
    for (int i = 0; i < c->nadd; i++) {
        bool seen = false;
        for (int k = 0; k < ndone && !seen; k++)
            seen = dns_name_equal(c->add[i], done[k]);
        if (seen) continue;
        const struct zone_node *n = additional_node(c->v, c->add[i]);
        if (!n) continue;
        done[ndone++] = c->add[i];
        static const uint16_t types[2] = {DNS_T_A, DNS_T_AAAA};
        for (int t = 0; t < 2; t++) {
            const struct dns_rrset *s = node_rrset(n, types[t]);
            if (!s) continue;
            int k = resp_rrset(&c->r, c->add[i], s, s->ttl);
            c->ar = (uint16_t)(c->ar + k);
            /* RFC 2181 §9: additional data that does not fit is left out, no
             * TC; except glue below the cut of a referral (RFC 9471 §3.1) */
            if (!k && c->cut && dns_name_is_subdomain(n->name, c->cut->name)) {
                c->tc = true;
            }
        }
    }
}

/* Answers qtype at `node` for the name `owner`. Returns the next name of a
 * CNAME chain to follow, or NULL when done. */
/* last: the chain limit is reached, a further redirection is not written. */
static const uint8_t *answer_node(struct qctx *c, const struct zone_node *node,
                                  const uint8_t *owner, bool last)
{
    if (!node->nrrsets) {
        negative(c);
        return NULL;
    }
    if (c->qtype == DNS_T_ANY) {
        /* RFC 8482 §4.2: one RRset; CNAME if present (a CNAME node holds no other data) */
        const struct dns_rrset *s = node_rrset(node, DNS_T_CNAME);
        answer_rrset(c, owner, s ? s : &node->rrsets[0]);
        return NULL;
    }
    const struct dns_rrset *s = node_rrset(node, c->qtype);
    if (s) {
        answer_rrset(c, owner, s);
        return NULL;
    }
    /* RRSIG and NSEC live beside a CNAME (RFC 4035 §2.5): asking for them
     * does not follow it */
    const struct dns_rrset *cname =
        c->qtype == DNS_T_RRSIG || c->qtype == DNS_T_NSEC ? NULL : node_rrset(node, DNS_T_CNAME);
    if (cname) {
        if (last || !answer_rrset(c, owner, cname)) return NULL;
        return rr_rdata(cname->rdata);
    }
    negative(c);
    return NULL;
}

/* DNAME substitution (RFC 6672 §2.2): writes the DNAME and the synthesised
 * CNAME; returns the new name in buf, or NULL when done. */
static const uint8_t *dname(struct qctx *c, const struct zone_node *node, const uint8_t *owner,
                            bool last, uint8_t buf[DNS_NAME_MAX])
{
    const struct dns_rrset *d = node_rrset(node, DNS_T_DNAME);
    if (last || !answer_rrset(c, node->name, d)) return NULL;
    const uint8_t *target = rr_rdata(d->rdata);
    size_t prefix = dns_name_len(owner) - node->name_len;
    size_t tlen = dns_name_len(target);
    if (prefix + tlen > DNS_NAME_MAX) {
        c->rcode = DNS_RC_YXDOMAIN;
        return NULL;
    }
    memcpy(buf, owner, prefix);
    memcpy(buf + prefix, target, tlen);
    if (!resp_rr(&c->r, owner, DNS_T_CNAME, d->ttl, buf, (uint16_t)(prefix + tlen))) {
        c->tc = true;
        return NULL;
    }
    c->an++;
    /* QTYPE CNAME: the synthesised CNAME is the answer (RFC 6672 §3.2) */
    return c->qtype == DNS_T_CNAME ? NULL : buf;
}

/* Answers qname (lq: its lowercase form, lqlen bytes) and follows
 * CNAME/DNAME chains. */
static void resolve(struct qctx *c, const uint8_t *qname, const uint8_t *lq, size_t lqlen)
{
    uint8_t lowered[DNS_CNAME_CHAIN_MAX + 1][DNS_NAME_MAX]; /* [0]: lq itself, not copied */
    const uint8_t *visited[DNS_CNAME_CHAIN_MAX + 1];
    uint8_t synth[2][DNS_NAME_MAX];
    const uint8_t *name = qname;
    for (int hop = 0; name && !c->tc; hop++) {
        const uint8_t *l = lq;
        size_t llen = lqlen;
        if (hop > 0) {
            llen = dns_name_lower(lowered[hop], name);
            l = lowered[hop];
            bool loop = false;
            for (int i = 0; i < hop; i++)
                loop |= dns_name_equal(visited[i], l);
            /* out of zone, a loop, or too long: the resolver takes over */
            if (loop || !dns_name_is_subdomain(l, c->v->apex)) return;
        }
        visited[hop] = l;
        /* Knot 3.2 writes at most DNS_CNAME_CHAIN_MAX redirections, then still
         * answers the last target if that needs no further redirection */
        bool last = hop == DNS_CNAME_CHAIN_MAX;
        const struct zone_node *n;
        switch (find(c->v, l, llen, c->qtype, &n)) {
        case F_EXACT:
            name = answer_node(c, n, name, last);
            break;
        case F_WILDCARD:
            name = answer_node(c, n, name, last);
            break;
        case F_NXDOMAIN:
            c->rcode = DNS_RC_NXDOMAIN;
            negative(c);
            return;
        case F_CUT:
            if (hop == 0) c->aa = false;
            referral(c, n);
            return;
        case F_DNAME:
            name = dname(c, n, name, last, synth[hop & 1]);
            break;
        }
    }
}

/* Skips one RR of a section; returns false if malformed. Reports OPT. */
static bool skip_rr(const uint8_t *q, size_t qlen, size_t *pos, size_t *opt_at)
{
    uint8_t name[DNS_NAME_MAX];
    size_t start = *pos;
    if (dns_name_unpack(q, qlen, pos, name) < 0 || qlen - *pos < 10) return false;
    uint16_t type = be16(q + *pos), rdlen = be16(q + *pos + 8);
    if (qlen - *pos - 10 < rdlen) return false;
    if (type == DNS_T_OPT && opt_at) *opt_at = start;
    *pos += 10 + (size_t)rdlen;
    return true;
}

size_t dns_answer(const struct zone_set *zs, const uint8_t *q, size_t qlen, uint8_t *out,
                  size_t outcap, bool over_tcp, struct query_info *qi)
{
    struct query_info dummy;
    if (!qi) qi = &dummy;
    memset(qi, 0, offsetof(struct query_info, qname)); /* qname is filled when read */
    memset(&qi->qname_len, 0, sizeof *qi - offsetof(struct query_info, qname_len));
    if (qlen < DNS_HEADER_LEN || outcap < DNS_HEADER_LEN) return 0;
    uint16_t qflags = be16(q + 2);
    if (qflags & DNS_F_QR) return 0;
    qi->id = be16(q);
    qi->opcode = DNS_OPCODE(qflags);

    struct qctx c; /* not zeroed as a whole: the tables in it are large */
    c.v = NULL;
    c.cut = NULL;
    c.qtype = 0;
    c.rcode = DNS_RC_NOERROR;
    c.aa = c.tc = false;
    c.an = c.ns = c.ar = 0;
    c.nadd = 0;
    c.q_end = 0;
    size_t cap = outcap > 65535 ? 65535 : outcap;
    resp_init(&c.r, out, cap);
    /* header: ID, QR, opcode, RD and CD copied; counts patched at the end */
    uint8_t hdr[DNS_HEADER_LEN] = {0};
    memcpy(hdr, q, 2);
    put_be16(hdr + 2, (uint16_t)(DNS_F_QR | (qflags & (0x7800 | DNS_F_RD | DNS_F_CD))));
    resp_put(&c.r, hdr, DNS_HEADER_LEN);

    uint16_t qdcount = be16(q + 4), an = be16(q + 6), ns = be16(q + 8), ar = be16(q + 10);
    size_t pos = DNS_HEADER_LEN;
    uint8_t qname[DNS_NAME_MAX];
    int qnlen = -1;
    bool formerr = qdcount != 1;
    if (!formerr) {
        qnlen = dns_name_unpack(q, qlen, &pos, qname);
        if (qnlen < 0 || qlen - pos < 4) {
            formerr = true;
        } else {
            qi->qtype = be16(q + pos);
            qi->qclass = be16(q + pos + 2);
            memcpy(qi->qname, qname, (size_t)qnlen);
            qi->qname_len = (uint16_t)qnlen;
            pos += 4;
        }
    }
    /* the other sections: well formed, and at most one OPT, in additional */
    size_t opt_at = 0;
    bool edns = false;
    uint16_t edns_size = 0;
    uint8_t edns_version = 0;
    bool edns_do = false;
    for (uint32_t i = 0; !formerr && i < (uint32_t)an + ns + ar; i++) {
        size_t found = 0;
        if (!skip_rr(q, qlen, &pos, &found)) {
            formerr = true;
        } else if (found) {
            if (i < (uint32_t)an + ns || edns || q[found] != 0) {
                formerr = true;
                break;
            }
            edns = true;
            opt_at = found;
        }
    }
    if (edns) {
        const uint8_t *o = q + opt_at + 1; /* type, class, ttl, rdlen, rdata */
        edns_size = be16(o + 2);
        edns_version = o[5];
        edns_do = o[6] & 0x80;
        size_t rdlen = be16(o + 8), p = 0;
        const uint8_t *rd = o + 10;
        while (p < rdlen && !formerr) { /* options must be well formed */
            if (rdlen - p < 4 || rdlen - p - 4 < be16(rd + p + 2))
                formerr = true;
            else
                p += 4 + (size_t)be16(rd + p + 2);
        }
        qi->edns = true;
        qi->edns_size = edns_size;
    }

    /* size limit for everything before the OPT RR */
    size_t limit = cap;
    if (!over_tcp) {
        size_t udp = DNS_UDP_DEFAULT;
        if (edns && edns_size > DNS_UDP_DEFAULT)
            udp = edns_size; /* honoured as is; we only advertise 1232 for what we accept */
        if (udp < limit) limit = udp;
    }
    if (edns && !formerr)
        limit = limit > OPT_RR_LEN + DNS_HEADER_LEN ? limit - OPT_RR_LEN : DNS_HEADER_LEN;
    c.r.cap = limit;

    uint16_t qdout = 0;
    if (formerr) {
        c.rcode = DNS_RC_FORMERR;
        edns = false;
    } else {
        /* echo the question byte for byte (case preserved, uncompressed) */
        size_t qname_off = c.r.len;
        if (!resp_name(&c.r, qname, true) || !resp_u16(&c.r, qi->qtype) ||
            !resp_u16(&c.r, qi->qclass)) {
            c.r.len = DNS_HEADER_LEN; /* buffer too small for the question */
            c.rcode = DNS_RC_SERVFAIL;
        } else {
            qdout = 1;
            if (qname_off < 0x4000) c.r.qname = qname, c.r.qname_off = (uint16_t)qname_off;
            c.q_end = c.r.len;
            c.qlen = (size_t)qnlen;
            c.q_ncomp = c.r.ncomp;
        }
    }

    if (formerr || qdout == 0) {
        /* nothing more */
    } else if (edns && edns_version > 0) {
        c.rcode = DNS_RC_BADVERS;
    } else if (qi->opcode != DNS_OP_QUERY) {
        c.rcode = DNS_RC_NOTIMP;
    } else if (qi->qtype == 0 || qi->qtype == DNS_T_TSIG || qi->qtype == DNS_T_TKEY) {
        c.rcode = DNS_RC_NOTIMP;
    } else if (qi->qtype == DNS_T_AXFR || qi->qtype == DNS_T_IXFR) {
        c.rcode = over_tcp ? DNS_RC_REFUSED : DNS_RC_NOTIMP;
    } else if (qi->qclass != DNS_CLASS_IN && qi->qclass != DNS_CLASS_ANY) {
        c.rcode = DNS_RC_REFUSED;
    } else {
        uint8_t lq[DNS_NAME_MAX];
        dns_name_lower_len(lq, qname, (size_t)qnlen);
        const struct zone *z = zone_set_find(zs, lq);
        /* DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): at a
         * zone's apex, answer from the parent zone if we serve it. */
        if (z && qi->qtype == DNS_T_DS && lq[0] && dns_name_equal(lq, z->apex)) {
            const struct zone *parent = zone_set_find(zs, dns_name_skip(lq, 1));
            if (parent) z = parent;
        }
        if (!z) {
            c.rcode = DNS_RC_REFUSED;
        } else {
            c.v = zone_current(z);
            c.qtype = qi->qtype;
            c.aa = true;
            resolve(&c, qname, lq, (size_t)qnlen);
            if (!c.tc) additional(&c);
        }
    }

    /* OPT (RFC 6891 §6.1.3): our size, extended rcode, version 0, DO echoed */
    uint16_t arcount = c.ar;
    if (edns) {
        c.r.cap = cap; /* the OPT space was reserved */
        uint8_t opt[OPT_RR_LEN] = {0, 0, DNS_T_OPT, DNS_EDNS_ADVERTISED >> 8,
                                   DNS_EDNS_ADVERTISED & 0xff};
        opt[5] = (uint8_t)(c.rcode >> 4);
        opt[7] = edns_do ? 0x80 : 0;
        if (resp_put(&c.r, opt, sizeof opt)) arcount++;
    }
    uint16_t flags = be16(out + 2) | (uint16_t)(c.rcode & 0xf);
    if (c.aa) flags |= DNS_F_AA;
    if (c.tc) flags |= DNS_F_TC;
    put_be16(out + 2, flags);
    put_be16(out + 4, qdout);
    put_be16(out + 6, c.an);
    put_be16(out + 8, c.ns);
    put_be16(out + 10, arcount);

    qi->rcode = c.rcode;
    qi->tc = c.tc;
    qi->aa = c.aa;
    qi->ancount = c.an;
    qi->nscount = c.ns;
    qi->arcount = arcount;
    return c.r.len;
}
