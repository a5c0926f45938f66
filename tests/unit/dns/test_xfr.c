/* Unit tests of outgoing zone transfers (dns/xfr.h) and TSIG (dns/tsig.h):
 * AXFR framing over many messages (first and last SOA, every RR exactly
 * once, the question only in the first message), a transfer that outlives
 * its version's replacement, IXFR difference sequences against the
 * journal's change sets (an SOA replaced on the way included), the
 * fallbacks (up to date, journal compacted, unknown serial), and TSIG:
 * a signed request verified, every answer message signed and checked by
 * libknot's client side, bad signatures and unknown keys refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libknot/packet/pkt.h>
#include <libknot/rrtype/tsig.h>
#include <libknot/tsig-op.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "dns/zone.h"
#include "util/buf.h"

#include "journal_fixture.h"

#define MAXMSG 4096
#define MAXRR 4096
#define APEX_LEN 13 /* example.org as a wire name */

/* One RR of an answer, names lowercase text, RDATA uncompressed. */
struct rr {
    char owner[DNS_NAME_TEXT_MAX];
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t rd[512];
};

struct answer {
    struct rr rr[MAXRR];
    size_t n;
    size_t messages;
};

/* An AXFR or IXFR query for example.org (IXFR with an authority SOA). */
static size_t make_query(uint8_t *q, uint16_t qtype, uint32_t serial)
{
    size_t n = 0;
    memset(q, 0, DNS_HEADER_LEN);
    put_be16(q, 0x1234);
    put_be16(q + 4, 1);
    put_be16(q + 8, qtype == DNS_T_IXFR);
    n = DNS_HEADER_LEN;
    memcpy(q + n, APEX, APEX_LEN);
    n += APEX_LEN;
    put_be16(q + n, qtype);
    put_be16(q + n + 2, 1);
    n += 4;
    if (qtype == DNS_T_IXFR) {
        memcpy(q + n, APEX, APEX_LEN);
        n += APEX_LEN;
        put_be16(q + n, DNS_T_SOA);
        put_be16(q + n + 2, 1);
        put_be32(q + n + 4, 0);
        put_be16(q + n + 8, SOA_RDLEN);
        n += 10;
        n += soa_rdata(q + n, serial, 7200);
    }
    return n;
}

/* Appends the answer RRs of message m to a, checking the header. */
static void parse_message(const uint8_t *m, size_t len, bool first, struct answer *a)
{
    assert_true(len >= DNS_HEADER_LEN);
    assert_int_equal(be16(m), 0x1234);
    assert_int_equal(be16(m + 2) & (DNS_F_QR | DNS_F_AA | 0xf), DNS_F_QR | DNS_F_AA);
    assert_int_equal(be16(m + 4), first ? 1 : 0); /* the question in the first message only */
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[DNS_NAME_MAX];
    if (first) {
        assert_true(dns_name_unpack(m, len, &pos, name) > 0);
        pos += 4;
    }
    for (unsigned i = 0; i < be16(m + 6); i++) {
        assert_true(a->n < MAXRR);
        struct rr *r = &a->rr[a->n++];
        assert_true(dns_name_unpack(m, len, &pos, name) > 0);
        uint8_t low[DNS_NAME_MAX];
        dns_name_lower(low, name);
        assert_true(dns_name_to_text(low, r->owner, sizeof r->owner) >= 0);
        assert_true(pos + 10 <= len);
        r->type = be16(m + pos);
        r->ttl = be32(m + pos + 4);
        size_t rdlen = be16(m + pos + 8);
        pos += 10;
        int n = dns_rdata_unpack(r->type, m, len, pos, rdlen, r->rd, sizeof r->rd);
        assert_true(n >= 0);
        r->rdlen = (uint16_t)n;
        pos += rdlen;
    }
}

/* Runs a stream to its end with messages of at most cap bytes. */
static void run(struct xfr_stream *s, size_t cap, struct answer *a)
{
    uint8_t msg[65535];
    size_t len;
    struct err e;
    int r;
    memset(a, 0, sizeof *a);
    while ((r = xfr_stream_next(s, msg, cap, &len, &e)) == 1) {
        assert_true(len <= cap);
        parse_message(msg, len, xfr_stream_messages(s) == 1, a);
        a->messages++;
    }
    if (r < 0) fail_msg("%s", e.msg);
}

static struct xfr_stream *open_stream(const struct zone_version *v, struct journal *j,
                                      uint16_t qtype, uint32_t serial)
{
    uint8_t q[512];
    size_t qlen = make_query(q, qtype, serial);
    struct xfr_request r;
    assert_true(xfr_is_request(q, qlen));
    assert_int_equal(xfr_request_parse(q, qlen, &r), 0);
    assert_int_equal(r.qtype, qtype);
    if (qtype == DNS_T_IXFR) assert_int_equal(r.serial, serial);
    struct xfr_stream *s;
    struct err e;
    if (xfr_stream_open(&r, v, j, &s, &e) < 0) fail_msg("%s", e.msg);
    return s;
}

static uint32_t soa_serial(const struct rr *r)
{
    assert_int_equal(r->type, DNS_T_SOA);
    return be32(r->rd + r->rdlen - 20);
}

/* ---- AXFR ---- */

struct want {
    struct rr rr[MAXRR];
    size_t n;
};

static int collect(void *ctx, const struct zone_node *node, const struct dns_rrset *s)
{
    struct want *w = ctx;
    if (s->type == DNS_T_SOA) return 0;
    for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p)) {
        struct rr *r = &w->rr[w->n++];
        memset(r, 0, sizeof *r);
        dns_name_to_text(node->name, r->owner, sizeof r->owner);
        r->type = s->type;
        r->ttl = s->ttl;
        r->rdlen = rr_rdlen(p);
        memcpy(r->rd, rr_rdata(p), r->rdlen);
    }
    return 0;
}

static int rr_cmp(const void *a, const void *b)
{
    const struct rr *x = a, *y = b;
    int c = strcmp(x->owner, y->owner);
    if (c) return c;
    if (x->type != y->type) return x->type < y->type ? -1 : 1;
    if (x->ttl != y->ttl) return x->ttl < y->ttl ? -1 : 1;
    if (x->rdlen != y->rdlen) return x->rdlen < y->rdlen ? -1 : 1;
    return memcmp(x->rd, y->rd, x->rdlen);
}

/* example.org with n names of an A and a TXT each, and a delegation with glue. */
static struct zone_version *big_zone(uint32_t serial, unsigned n)
{
    size_t cap = 64 * (size_t)n + 512, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap,
                            "$ORIGIN example.org.\n$TTL 3600\n"
                            "@ SOA ns1 hostmaster %u 7200 3600 1209600 300\n"
                            "@ NS ns1\nns1 A 192.0.2.1\nsub NS ns.sub\nns.sub A 192.0.2.9\n",
                            serial);
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "h%u A 10.0.%u.%u\nh%u TXT \"t%u\"\n", i,
                                i / 256, i % 256, i, i);
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "big.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    free(text);
    return v;
}

static void test_axfr_messages(void **st)
{
    (void)st;
    struct zone_version *v = big_zone(5, 300);
    static struct answer a;
    static struct want w;
    struct xfr_stream *s = open_stream(v, NULL, DNS_T_AXFR, 0);
    run(s, 512, &a);
    assert_int_equal(xfr_stream_kind(s), XFR_AXFR);
    assert_true(a.messages > 5); /* many small messages */
    assert_int_equal(xfr_stream_messages(s), a.messages);
    xfr_stream_close(s);
    assert_int_equal(a.n, v->nrecords + 1); /* the SOA twice */
    assert_int_equal(soa_serial(&a.rr[0]), 5);
    assert_int_equal(soa_serial(&a.rr[a.n - 1]), 5);
    w.n = 0;
    zone_version_foreach(v, collect, &w);
    assert_int_equal(w.n, a.n - 2);
    qsort(w.rr, w.n, sizeof w.rr[0], rr_cmp);
    qsort(a.rr + 1, a.n - 2, sizeof a.rr[0], rr_cmp);
    for (size_t i = 0; i < w.n; i++)
        assert_int_equal(rr_cmp(&w.rr[i], &a.rr[i + 1]), 0); /* each exactly once */
    /* The same zone in one large message. */
    s = open_stream(v, NULL, DNS_T_AXFR, 0);
    run(s, 65535, &a);
    assert_int_equal(a.messages, 1);
    assert_int_equal(a.n, v->nrecords + 1);
    xfr_stream_close(s);
    /* A message too small for any record is an error, not a loop. */
    s = open_stream(v, NULL, DNS_T_AXFR, 0);
    uint8_t msg[64];
    size_t len;
    struct err e;
    assert_int_equal(xfr_stream_next(s, msg, sizeof msg, &len, &e), -1);
    xfr_stream_close(s);
    zone_version_free(v);
}

/* Names compressed against the previous owner (xfr.c): deep names, names
 * in MX and CNAME RDATA, messages past 0x4000 bytes (where new names can
 * no longer be pointed to), several messages. Every RR decodes to exactly
 * the zone's, and the messages are smaller than uncompressed names. */
static void test_axfr_compression(void **st)
{
    (void)st;
    enum { N = 1100 };
    size_t cap = 160 * (size_t)N + 512, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap,
                            "$ORIGIN example.org.\n$TTL 3600\n"
                            "@ SOA ns1 hostmaster 9 7200 3600 1209600 300\n"
                            "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.1\nmail A 192.0.2.2\n");
    for (unsigned i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "h%u.d%u.Deep A 10.0.%u.%u\nh%u.d%u.Deep MX %u mail.example.org.\n"
                                "c%u CNAME h%u.d%u.deep\n",
                                i, i % 7, i / 256, i % 256, i, i % 7, i, i, i, i % 7);
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "deep.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    free(text);
    static struct answer a;
    static struct want w;
    struct xfr_stream *s = open_stream(v, NULL, DNS_T_AXFR, 0);
    uint8_t msg[65535];
    size_t mlen, bytes = 0, biggest = 0;
    int r;
    memset(&a, 0, sizeof a);
    while ((r = xfr_stream_next(s, msg, sizeof msg, &mlen, &e)) == 1) {
        parse_message(msg, mlen, xfr_stream_messages(s) == 1, &a);
        bytes += mlen;
        biggest = mlen > biggest ? mlen : biggest;
    }
    if (r < 0) fail_msg("%s", e.msg);
    assert_true(xfr_stream_messages(s) > 1);
    xfr_stream_close(s);
    assert_true(biggest > 0x4000);
    assert_int_equal(a.n, v->nrecords + 1);
    w.n = 0;
    zone_version_foreach(v, collect, &w);
    assert_int_equal(w.n, a.n - 2);
    size_t plain = 0; /* the same RRs with every name written in full */
    for (size_t i = 0; i < w.n; i++) {
        plain += strlen(w.rr[i].owner) + 1 + 10 + w.rr[i].rdlen;
    }
    qsort(w.rr, w.n, sizeof w.rr[0], rr_cmp);
    qsort(a.rr + 1, a.n - 2, sizeof a.rr[0], rr_cmp);
    for (size_t i = 0; i < w.n; i++)
        assert_int_equal(rr_cmp(&w.rr[i], &a.rr[i + 1]), 0);
    assert_true(bytes * 10 < plain * 6);
    zone_version_free(v);
}

/* A transfer keeps sending the version it started from after the zone has
 * moved on (and the old version left the zone): it holds it. */
static void test_axfr_outlives_publish(void **st)
{
    (void)st;
    struct err e;
    struct zone *z = zone_new(big_zone(7, 50), &e);
    assert_non_null(z);
    struct xfr_stream *s = open_stream(zone_current(z), NULL, DNS_T_AXFR, 0);
    uint8_t msg[65535];
    size_t len;
    assert_int_equal(xfr_stream_next(s, msg, 512, &len, &e), 1);
    uint8_t ip[4] = {192, 0, 2, 77};
    struct dns_change c = {DNS_CHANGE_ADD, APEX, DNS_T_A, 60, 4, ip};
    for (uint32_t serial = 8; serial < 11; serial++)
        if (zone_apply(z, &c, 1, serial, &e) < 0) fail_msg("%s", e.msg);
    static struct answer a;
    run(s, 512, &a); /* the rest, from the held version */
    assert_int_equal(soa_serial(&a.rr[a.n - 1]), 7);
    for (size_t i = 0; i < a.n; i++)
        assert_false(a.rr[i].type == DNS_T_A && a.rr[i].rd[3] == 77);
    xfr_stream_close(s);
    zone_free(z);
}

/* ---- IXFR ---- */

/* The answer as a compact string: "S<serial>/<refresh>" for an SOA, else
 * "<first label>:<type>". */
static void describe(const struct answer *a, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < a->n && n < cap; i++) {
        const struct rr *r = &a->rr[i];
        if (r->type == DNS_T_SOA)
            n += (size_t)snprintf(out + n, cap - n, "S%u/%u ", soa_serial(r),
                                  be32(r->rd + r->rdlen - 16));
        else
            n += (size_t)snprintf(out + n, cap - n, "%.*s:%u ", (int)strcspn(r->owner, "."),
                                  r->owner, r->type);
    }
}

static void test_ixfr_sequences(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 10, "", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg); /* 11: a-1 A, b-1 TXT */
    uint8_t a1[DNS_NAME_MAX], ip[4] = {10, 0, 0, 1};
    dns_name_from_text("a-1.example.org.", NULL, a1, &e);
    struct dns_update rm = {DNS_UPDATE_REMOVE_RR, a1, DNS_T_A, 0, ip, 4};
    if (dns_update_apply(z, APEX, NULL, 0, &rm, 1, j, &s, &e) < 0) fail_msg("%s", e.msg); /* 12 */
    if (soa_update(z, j, 20, 999, &s, &e) < 0) fail_msg("%s", e.msg); /* 20, refresh 999 */
    if (update(z, j, 3, &s, &e) < 0) fail_msg("%s", e.msg);           /* 21 */
    assert_int_equal(s, 21);
    const struct zone_version *v = zone_current(z);
    static struct answer a;
    char got[2048];

    struct xfr_stream *x = open_stream(v, j, DNS_T_IXFR, 10);
    assert_int_equal(xfr_stream_kind(x), XFR_IXFR);
    run(x, 512, &a);
    xfr_stream_close(x);
    describe(&a, got, sizeof got);
    /* RFC 1995 §4: ours, then per change set old SOA, deleted, new SOA,
     * added; ours last. The SOA before the SOA change keeps its old timers. */
    assert_string_equal(got, "S21/999 "
                             "S10/7200 S11/7200 a-1:1 b-1:16 "
                             "S11/7200 a-1:1 S12/7200 "
                             "S12/7200 S20/999 "
                             "S20/999 S21/999 a-3:1 b-3:16 "
                             "S21/999 ");
    /* From the middle of the journal, in small messages. */
    x = open_stream(v, j, DNS_T_IXFR, 12);
    run(x, 128, &a);
    assert_true(a.messages > 1);
    xfr_stream_close(x);
    describe(&a, got, sizeof got);
    assert_string_equal(got, "S21/999 S12/7200 S20/999 S20/999 S21/999 a-3:1 b-3:16 S21/999 ");
    /* Up to date (or newer): our SOA alone. */
    x = open_stream(v, j, DNS_T_IXFR, 21);
    assert_int_equal(xfr_stream_kind(x), XFR_IXFR_UP_TO_DATE);
    run(x, 512, &a);
    xfr_stream_close(x);
    describe(&a, got, sizeof got);
    assert_string_equal(got, "S21/999 ");
    /* A serial the journal never had, and no journal: the whole zone. */
    x = open_stream(v, j, DNS_T_IXFR, 9);
    assert_int_equal(xfr_stream_kind(x), XFR_IXFR_FULL);
    run(x, 512, &a);
    xfr_stream_close(x);
    assert_int_equal(a.n, v->nrecords + 1);
    x = open_stream(v, NULL, DNS_T_IXFR, 10);
    assert_int_equal(xfr_stream_kind(x), XFR_IXFR_FULL);
    xfr_stream_close(x);
    /* Compacted away: the whole zone. */
    if (journal_compact(j, v, &e) < 0) fail_msg("%s", e.msg);
    x = open_stream(v, j, DNS_T_IXFR, 10);
    assert_int_equal(xfr_stream_kind(x), XFR_IXFR_FULL);
    run(x, 512, &a);
    xfr_stream_close(x);
    assert_int_equal(soa_serial(&a.rr[0]), 21);
    assert_int_equal(soa_serial(&a.rr[a.n - 1]), 21);
    zone_free(z);
    journal_close(j);
}

static void test_request_parse(void **st)
{
    (void)st;
    uint8_t q[512];
    struct xfr_request r;
    size_t n = make_query(q, DNS_T_IXFR, 42);
    /* Every truncation is malformed, never read past the end. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(xfr_request_parse(q, cut, &r), -1);
    assert_int_equal(xfr_request_parse(q, n, &r), 0);
    put_be16(q + 8, 0); /* IXFR without the client's SOA */
    assert_int_equal(xfr_request_parse(q, n, &r), -1);
    n = make_query(q, DNS_T_A, 0);
    assert_false(xfr_is_request(q, n));
    n = make_query(q, DNS_T_AXFR, 0);
    put_be16(q + 2, DNS_F_QR);
    assert_false(xfr_is_request(q, n));
    put_be16(q + 2, 0);
    assert_true(xfr_is_request(q, n));
    uint8_t out[512];
    size_t len = xfr_refusal(q, n, DNS_RC_REFUSED, out, sizeof out);
    assert_int_equal(len, n);
    assert_int_equal(be16(out + 2) & 0xf, DNS_RC_REFUSED);
}

/* ---- TSIG ---- */

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="

static knot_pkt_t *parse_knot(uint8_t *wire, size_t len)
{
    knot_pkt_t *p = knot_pkt_new(wire, (uint16_t)len, NULL);
    assert_non_null(p);
    assert_int_equal(knot_pkt_parse(p, 0), 0);
    return p;
}

static void test_tsig(void **st)
{
    (void)st;
    struct dns_tsig_key *key, *other, *scratch;
    struct err e;
    if (dns_tsig_key_parse("xfr-key:" SECRET, &key, &e) < 0) fail_msg("%s", e.msg);
    if (dns_tsig_key_parse("other-key:" SECRET, &other, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(dns_tsig_key_parse("no-secret", &scratch, &e), -1);
    assert_int_equal(dns_tsig_key_parse("hmac-md5:k:" SECRET, &scratch, &e), -1);
    knot_tsig_key_t kk;
    assert_int_equal(knot_tsig_key_init_str(&kk, "xfr-key:" SECRET), 0);
    const struct dns_tsig_key *keys[] = {key};
    uint8_t q[1024], ans[1024];
    size_t ql, al;
    char why[256];
    struct dns_tsig_session client = {.key = key}, server;

    /* Unsigned. */
    ql = make_query(q, DNS_T_AXFR, 0);
    assert_int_equal(
        dns_tsig_check_request(keys, 1, q, ql, &server, ans, &al, sizeof ans, why, sizeof why), 0);
    /* Signed: verified, and the answer's messages signed in a chain that
     * libknot's client side accepts. */
    assert_int_equal(dns_tsig_sign(&client, q, &ql, sizeof q, &e), 0);
    assert_int_equal(
        dns_tsig_check_request(keys, 1, q, ql, &server, ans, &al, sizeof ans, why, sizeof why), 1);
    assert_int_equal(server.mac_len, client.mac_len);
    assert_memory_equal(server.mac, client.mac, client.mac_len);
    struct zone_version *v = big_zone(3, 40);
    struct xfr_stream *s = open_stream(v, NULL, DNS_T_AXFR, 0);
    uint8_t msg[2048], prev[64];
    size_t len, prev_len = client.mac_len;
    memcpy(prev, client.mac, prev_len);
    unsigned n = 0;
    while (xfr_stream_next(s, msg, 600 - dns_tsig_reserve(key), &len, &e) == 1) {
        assert_int_equal(dns_tsig_sign(&server, msg, &len, 600, &e), 0);
        knot_pkt_t *p = parse_knot(msg, len);
        assert_non_null(p->tsig_rr);
        int r =
            n == 0
                ? knot_tsig_client_check(p->tsig_rr, p->wire, p->size, prev, prev_len, &kk, 0)
                : knot_tsig_client_check_next(p->tsig_rr, p->wire, p->size, prev, prev_len, &kk, 0);
        assert_int_equal(r, 0);
        prev_len = knot_tsig_rdata_mac_length(p->tsig_rr);
        memcpy(prev, knot_tsig_rdata_mac(p->tsig_rr), prev_len);
        knot_pkt_free(p);
        n++;
    }
    assert_true(n > 1);
    xfr_stream_close(s);
    zone_version_free(v);

    /* A byte changed after signing: BADSIG in an unsigned TSIG, NOTAUTH. */
    uint8_t bad[1024];
    memcpy(bad, q, ql);
    bad[DNS_HEADER_LEN + 2] ^= 0x20; /* the case of one letter of the question */
    al = xfr_refusal(bad, ql, DNS_RC_NOTAUTH, ans, sizeof ans);
    assert_int_equal(
        dns_tsig_check_request(keys, 1, bad, ql, &server, ans, &al, sizeof ans, why, sizeof why),
        -1);
    assert_non_null(strstr(why, "BADSIG"));
    knot_pkt_t *p = parse_knot(ans, al);
    assert_int_equal(be16(ans + 2) & 0xf, DNS_RC_NOTAUTH);
    assert_non_null(p->tsig_rr);
    assert_int_equal(knot_tsig_rdata_error(p->tsig_rr), KNOT_RCODE_BADSIG);
    knot_pkt_free(p);
    /* Signed with a key we do not know: BADKEY. */
    struct dns_tsig_session oc = {.key = other};
    ql = make_query(q, DNS_T_AXFR, 0);
    assert_int_equal(dns_tsig_sign(&oc, q, &ql, sizeof q, &e), 0);
    al = xfr_refusal(q, ql, DNS_RC_NOTAUTH, ans, sizeof ans);
    assert_int_equal(
        dns_tsig_check_request(keys, 1, q, ql, &server, ans, &al, sizeof ans, why, sizeof why), -1);
    assert_non_null(strstr(why, "BADKEY"));
    p = parse_knot(ans, al);
    assert_int_equal(knot_tsig_rdata_error(p->tsig_rr), KNOT_RCODE_BADKEY);
    knot_pkt_free(p);
    /* Garbage is malformed. */
    assert_int_equal(
        dns_tsig_check_request(keys, 1, q, 5, &server, ans, &al, sizeof ans, why, sizeof why), -2);
    knot_tsig_key_deinit(&kk);
    dns_tsig_key_free(key);
    dns_tsig_key_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axfr_messages),
        cmocka_unit_test(test_axfr_compression),
        cmocka_unit_test(test_axfr_outlives_publish),
        cmocka_unit_test_setup_teardown(test_ixfr_sequences, setup, teardown),
        cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_tsig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
