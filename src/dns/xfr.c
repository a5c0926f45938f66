/* Zone transfers (dns/xfr.h): requests, the messages of a stream and the
 * AXFR walk; IXFR's difference sequences are in xfr_ixfr.c. */
#include "dns/render.h"
#include "dns/wire.h"
#include "dns/xfr_int.h"
#include "util/buf.h"
#include <stdlib.h>
#include <string.h>

enum { AX_FIRST_SOA, AX_BODY, AX_LAST_SOA, AX_DONE };

/* Skips one RR at *pos (bounds-checked). On an SOA, *serial gets its serial
 * when serial is not NULL. */
static bool skip_rr(const uint8_t *q, size_t len, size_t *pos, uint16_t *type, uint32_t *serial,
                    bool *has_serial)
{
    uint8_t owner[DNS_NAME_MAX];
    if (dns_name_unpack(q, len, pos, owner) < 0 || len - *pos < 10) return false;
    *type = be16(q + *pos);
    size_t rdlen = be16(q + *pos + 8);
    *pos += 10;
    if (len - *pos < rdlen) return false;
    if (*type == DNS_T_SOA && has_serial && !*has_serial) {
        /* The names in the client's SOA may be compressed: walk them. */
        size_t p = *pos;
        uint8_t n[DNS_NAME_MAX];
        if (dns_name_unpack(q, len, &p, n) < 0 || dns_name_unpack(q, len, &p, n) < 0 ||
            p + 4 > *pos + rdlen)
            return false;
        *serial = be32(q + p);
        *has_serial = true;
    }
    *pos += rdlen;
    return true;
}

/* Header and question: 0 and *qend set, or -1. */
static int read_question(const uint8_t *q, size_t len, uint8_t name[DNS_NAME_MAX], uint16_t *qtype,
                         size_t *qend)
{
    if (len < DNS_HEADER_LEN) return -1;
    uint16_t flags = be16(q + 2);
    if ((flags & DNS_F_QR) || DNS_OPCODE(flags) != DNS_OP_QUERY || be16(q + 4) != 1) return -1;
    size_t pos = DNS_HEADER_LEN;
    if (dns_name_unpack(q, len, &pos, name) < 0 || len - pos < 4) return -1;
    *qtype = be16(q + pos);
    *qend = pos + 4;
    return 0;
}

bool xfr_is_request(const uint8_t *q, size_t len)
{
    uint8_t name[DNS_NAME_MAX];
    uint16_t qtype;
    size_t end;
    return read_question(q, len, name, &qtype, &end) == 0 &&
           (qtype == DNS_T_AXFR || qtype == DNS_T_IXFR);
}

int xfr_request_parse(const uint8_t *q, size_t len, struct xfr_request *r)
{
    memset(r, 0, sizeof *r);
    uint8_t name[DNS_NAME_MAX];
    size_t pos;
    if (read_question(q, len, name, &r->qtype, &pos) < 0) return -1;
    if (r->qtype != DNS_T_AXFR && r->qtype != DNS_T_IXFR) return -1;
    uint16_t qclass = be16(q + pos - 2);
    if (qclass != 1 && qclass != 255) return -1; /* IN (ANY is answered as IN, as queries are) */
    r->id = be16(q);
    dns_name_lower(r->lname, name);
    r->question = q + DNS_HEADER_LEN;
    r->question_len = pos - DNS_HEADER_LEN;
    /* Every RR must be well-formed; an IXFR's authority SOA is the client's
     * version (RFC 1995 §3). TSIG in additional is read by dns/tsig.h. */
    unsigned an = be16(q + 6), ns = be16(q + 8), ar = be16(q + 10);
    uint16_t type;
    for (unsigned i = 0; i < an + ns + ar; i++) {
        bool in_ns = i >= an && i < an + ns;
        if (!skip_rr(q, len, &pos, &type, &r->serial, in_ns ? &r->has_serial : NULL)) return -1;
    }
    if (r->qtype == DNS_T_IXFR && !r->has_serial) return -1; /* RFC 1995 §3: it must be there */
    return 0;
}

size_t xfr_refusal(const uint8_t *q, size_t len, uint16_t rcode, uint8_t *out, size_t cap)
{
    if (len < DNS_HEADER_LEN || cap < 512) return 0;
    uint8_t name[DNS_NAME_MAX];
    uint16_t qtype;
    size_t qend;
    bool question = read_question(q, len, name, &qtype, &qend) == 0 && qend <= cap;
    memset(out, 0, DNS_HEADER_LEN);
    memcpy(out, q, 2);
    uint16_t flags = be16(q + 2);
    put_be16(out + 2, (uint16_t)(DNS_F_QR | (flags & (0x7800 | DNS_F_RD)) | (rcode & 0xf)));
    if (!question) return DNS_HEADER_LEN;
    put_be16(out + 4, 1);
    memcpy(out + DNS_HEADER_LEN, q + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
    return qend;
}

int xfr_soa_serial_offset(const uint8_t *rd, size_t rdlen)
{
    size_t a = dns_name_check(rd, rdlen);
    if (!a) return -1;
    size_t b = dns_name_check(rd + a, rdlen - a);
    if (!b || rdlen - a - b < 20) return -1;
    return (int)(a + b);
}

int xfr_soa_rr(struct xfr_stream *s, const uint8_t *rd, uint16_t rdlen, uint32_t ttl,
               uint32_t serial, struct xfr_rr *out, struct err *e)
{
    int off = xfr_soa_serial_offset(rd, rdlen);
    if (off < 0 || rdlen > sizeof s->soa) return err_set(e, "malformed SOA in the zone or journal");
    memcpy(s->soa, rd, rdlen);
    put_be32(s->soa + off, serial);
    *out = (struct xfr_rr){s->v->apex, DNS_T_SOA, ttl, s->soa, rdlen};
    return 0;
}

static int current_soa(struct xfr_stream *s, struct xfr_rr *out, struct err *e)
{
    const struct dns_rrset *soa = zone_version_soa(s->v);
    const uint8_t *p = rrset_first(soa);
    return xfr_soa_rr(s, rr_rdata(p), rr_rdlen(p), soa->ttl, s->v->serial, out, e);
}

/* The next RR of the whole zone: SOA, the rest in canonical order, SOA. */
static int axfr_next_rr(struct xfr_stream *s, struct xfr_rr *out, struct err *e)
{
    if (s->phase == AX_FIRST_SOA) {
        s->phase = AX_BODY;
        zone_cursor_start(&s->cursor, s->v);
        s->node = zone_cursor_next(&s->cursor);
        return current_soa(s, out, e) < 0 ? -1 : 1;
    }
    for (; s->phase == AX_BODY && s->node; s->node = zone_cursor_next(&s->cursor), s->set = 0) {
        const struct zone_node *n = s->node;
        for (; s->set < n->nrrsets; s->set++, s->rr = NULL) {
            const struct dns_rrset *set = &n->rrsets[s->set];
            if ((n->flags & ZN_APEX) && set->type == DNS_T_SOA) continue; /* first and last */
            s->rr = s->rr ? rrset_next(set, s->rr) : rrset_first(set);
            if (!s->rr) continue;
            *out = (struct xfr_rr){n->name, set->type, set->ttl, rr_rdata(s->rr), rr_rdlen(s->rr)};
            return 1;
        }
    }
    if (s->phase == AX_BODY) {
        s->phase = AX_LAST_SOA;
        return current_soa(s, out, e) < 0 ? -1 : 1;
    }
    return 0;
}

static int next_rr(struct xfr_stream *s, struct xfr_rr *out, struct err *e)
{
    switch (s->kind) {
    case XFR_IXFR:
        return xfr_ixfr_next_rr(s, out, e);
    case XFR_IXFR_UP_TO_DATE:
        if (s->phase != AX_FIRST_SOA) return 0;
        s->phase = AX_DONE;
        return current_soa(s, out, e) < 0 ? -1 : 1;
    default:
        return axfr_next_rr(s, out, e);
    }
}

int xfr_stream_open(const struct xfr_request *r, const struct zone_version *v, struct journal *j,
                    struct xfr_stream **out, struct err *e)
{
    *out = NULL;
    if (r->question_len > sizeof((struct xfr_stream *)0)->question)
        return err_set(e, "question too long");
    struct xfr_stream *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, "out of memory");
    zone_version_hold(v);
    s->v = v;
    s->id = r->id;
    memcpy(s->question, r->question, r->question_len);
    s->question_len = r->question_len;
    s->kind = XFR_AXFR;
    if (r->qtype == DNS_T_IXFR) {
        /* RFC 1982: the client is current unless our serial is newer. */
        if ((int32_t)(v->serial - r->serial) <= 0) {
            s->kind = XFR_IXFR_UP_TO_DATE;
        } else if (xfr_ixfr_plan(s, j, r->serial, e) < 0) {
            xfr_stream_close(s);
            return -1;
        }
    }
    *out = s;
    return 0;
}

/* ---- name compression for transfer messages ----
 *
 * A transfer writes hundreds of RRs per message, in canonical order, so
 * each owner shares its longest suffix with the owner written just before
 * it (at least the apex). Comparing with that one name is enough to
 * compress as well as a table of every name in the message would, and
 * costs a few label compares per RR: the query path's general table
 * (render.c, 96 positions, scanned for every suffix) spent 80% of an
 * AXFR's time once full. Byte-exact matches only: a pointer then never
 * changes a name's case. */
struct xfr_comp {
    uint8_t name[DNS_NAME_MAX]; /* the last owner written, uncompressed */
    uint8_t nl;                 /* its labels (the root not counted) */
    uint8_t start[DNS_NAME_MAX / 2];
    uint16_t off[DNS_NAME_MAX / 2]; /* where its suffix from label i is in the message; 0: cannot be
                                       pointed to (at or past 0x4000) */
};

static uint8_t label_starts(const uint8_t *n, uint8_t start[DNS_NAME_MAX / 2])
{
    uint8_t k = 0;
    for (size_t p = 0; n[p]; p += 1 + (size_t)n[p])
        start[k++] = (uint8_t)p;
    return k;
}

/* Writes name n compressed against c (NULL or empty: in full). With next,
 * next becomes n and where its suffixes now are. */
static bool comp_name(struct resp *r, const struct xfr_comp *c, const uint8_t *n,
                      struct xfr_comp *next)
{
    uint8_t start[DNS_NAME_MAX / 2];
    uint8_t nl = label_starts(n, start);
    int from = nl; /* the first label reached through a pointer; nl: none */
    uint16_t ptr = 0;
    if (c && c->nl) {
        int i = nl - 1, j = c->nl - 1;
        while (i >= 0 && j >= 0 && n[start[i]] == c->name[c->start[j]] &&
               !memcmp(n + start[i], c->name + c->start[j], 1 + (size_t)n[start[i]]))
            i--, j--;
        for (int k = i + 1; k < nl; k++) /* longest suffix that can be pointed to */
            if (c->off[j + 1 + (k - i - 1)]) {
                from = k;
                ptr = c->off[j + 1 + (k - i - 1)];
                break;
            }
    }
    if (next) {
        memcpy(next->name, n, dns_name_len(n));
        memcpy(next->start, start, nl);
        next->nl = nl;
        for (int k = from; k < nl; k++) /* the same suffix: where c has it */
            next->off[k] = c->off[k + c->nl - nl];
    }
    for (int k = 0; k < from; k++) {
        if (next) next->off[k] = r->len < 0x4000 ? (uint16_t)r->len : 0;
        if (!resp_put(r, n + start[k], 1 + (size_t)n[start[k]])) return false;
    }
    return from < nl ? resp_u16(r, (uint16_t)(0xc000 | ptr)) : resp_put(r, "", 1);
}

/* An RDATA name, compressed against the owner just written (arg). */
static bool comp_rdata_name(struct resp *r, const uint8_t *n, void *arg)
{
    return comp_name(r, arg, n, NULL);
}

/* One RR, all or nothing; on success comp[*cur ^ 1] holds its owner and
 * *cur flips to it (no copy of the state per RR). */
static bool comp_rr(struct resp *r, struct xfr_comp comp[2], int *cur, const struct xfr_rr *rr)
{
    size_t len = r->len, at;
    struct xfr_comp *c = &comp[*cur], *next = &comp[*cur ^ 1];
    bool ok = comp_name(r, c, rr->owner, next) && resp_u16(r, rr->type) &&
              resp_u16(r, DNS_CLASS_IN) && resp_u32(r, rr->ttl);
    at = r->len;
    ok = ok && resp_u16(r, 0) && resp_rdata(r, rr->type, rr->rd, rr->rdlen, comp_rdata_name, next);
    if (!ok) {
        r->len = len;
        r->fail = false;
        return false;
    }
    size_t n = r->len - at - 2;
    r->p[at] = (uint8_t)(n >> 8);
    r->p[at + 1] = (uint8_t)n;
    *cur ^= 1;
    return true;
}

int xfr_stream_next(struct xfr_stream *s, uint8_t *out, size_t cap, size_t *len, struct err *e)
{
    if (cap > 65535) cap = 65535;
    struct resp r;
    resp_init(&r, out, cap);
    uint8_t hdr[DNS_HEADER_LEN] = {0};
    put_be16(hdr, s->id);
    put_be16(hdr + 2, DNS_F_QR | DNS_F_AA);
    bool first = s->messages == 0;
    if (first) put_be16(hdr + 4, 1);
    if (!resp_put(&r, hdr, sizeof hdr) || (first && !resp_put(&r, s->question, s->question_len)))
        return err_set(e, "message buffer too small");
    unsigned an = 0;
    struct xfr_comp comp[2];
    int cur = 0;
    comp[0].nl = 0;
    for (;;) {
        if (!s->have_pending) {
            int k = next_rr(s, &s->pending, e);
            if (k < 0) return -1;
            if (k == 0) break;
            s->have_pending = true;
        }
        const struct xfr_rr *p = &s->pending;
        if (an == 65535 || !comp_rr(&r, comp, &cur, p)) {
            if (an == 0) return err_set(e, "a record does not fit in one message");
            break;
        }
        r.fail = false;
        an++;
        s->have_pending = false;
    }
    if (an == 0 && !first) return 0;
    put_be16(out + 6, (uint16_t)an);
    *len = r.len;
    s->records += an;
    s->messages++;
    return 1;
}

void xfr_stream_close(struct xfr_stream *s)
{
    if (!s) return;
    xfr_ixfr_close(s);
    zone_version_release(s->v);
    free(s);
}

enum xfr_kind xfr_stream_kind(const struct xfr_stream *s)
{
    return s->kind;
}

const char *xfr_kind_name(enum xfr_kind k)
{
    switch (k) {
    case XFR_AXFR:
        return "AXFR";
    case XFR_IXFR:
        return "IXFR";
    case XFR_IXFR_FULL:
        return "IXFR (whole zone: the journal does not reach back)";
    case XFR_IXFR_UP_TO_DATE:
        return "IXFR (up to date: SOA only)";
    }
    return "?";
}

uint64_t xfr_stream_records(const struct xfr_stream *s)
{
    return s->records;
}
uint64_t xfr_stream_messages(const struct xfr_stream *s)
{
    return s->messages;
}
uint32_t xfr_stream_serial(const struct xfr_stream *s)
{
    return s->v->serial;
}
