#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "answer_parse.h"
#include "dns/query.h"
#include "dns/wire.h"

/* Responses are read with answer_parse.c, which shares no code with the
 * engine; expected records are written below in zone-file form. */
static struct msg M; /* the last parsed response */
static uint8_t OUT[65535];
static struct zone_set_handle H;

static void parse(const uint8_t *p, size_t len)
{
    ap_parse(&M, p, len);
}

static size_t mkq(uint8_t *q, const char *name, uint16_t type, int edns_size, uint8_t version,
                  bool dobit)
{
    memset(q, 0, 12);
    ap_put16(q, 0xbeef);
    ap_put16(q + 2, DNS_F_RD);
    ap_put16(q + 4, 1);
    size_t len = 12 + ap_name_wire(name, q + 12);
    ap_put16(q + len, type);
    ap_put16(q + len + 2, DNS_CLASS_IN);
    len += 4;
    if (edns_size >= 0) {
        ap_put16(q + 10, 1);
        uint8_t opt[11] = {0,
                           0,
                           DNS_T_OPT,
                           (uint8_t)(edns_size >> 8),
                           (uint8_t)edns_size,
                           0,
                           version,
                           dobit ? 0x80 : 0,
                           0,
                           0,
                           0};
        memcpy(q + len, opt, 11);
        len += 11;
    }
    return len;
}

/* Runs one query and parses the answer; UDP answers must respect the size. */
static size_t ask_raw(const uint8_t *q, size_t qlen, bool tcp, struct query_info *qi)
{
    rcu_read_lock();
    size_t n = dns_answer(zone_set_current(&H), q, qlen, OUT, sizeof OUT, tcp, qi);
    rcu_read_unlock();
    rcu_quiescent_state();
    if (n) parse(OUT, n);
    return n;
}

static void ask(const char *name, uint16_t type, int edns, bool tcp)
{
    uint8_t q[512];
    struct query_info qi;
    size_t n = ask_raw(q, mkq(q, name, type, edns, 0, false), tcp, &qi);
    assert_true(n > 0);
    if (!tcp) assert_true(n <= (edns < 512 ? 512u : (unsigned)edns));
    assert_int_equal(M.id, 0xbeef);
    assert_true(M.flags & DNS_F_QR);
    assert_true(M.flags & DNS_F_RD);
    assert_int_equal(qi.rcode & 0xf, DNS_RCODE(M.flags));
}

static int rcode(void)
{
    return DNS_RCODE(M.flags);
}
static bool aa(void)
{
    return M.flags & DNS_F_AA;
}
static bool tc(void)
{
    return M.flags & DNS_F_TC;
}

/* Is there an RR in section s with this owner, type and RDATA (given in
 * presentation form, absolute names, lowercase)? Returns its TTL + 1, or 0. */
static uint32_t has(int s, const char *owner, const char *type, const char *value)
{
    uint16_t t = ap_type(type);
    if (!t) fail_msg("bad expectation: type %s", type);
    for (int i = 0; i < M.n[s]; i++) {
        const struct prr *r = &M.rr[s][i];
        if (r->type == t && strcmp(r->owner_text, owner) == 0 && strcmp(r->text, value) == 0)
            return r->ttl + 1;
    }
    return 0;
}
#define LONG "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AN 0
#define NS 1
#define AR 2

static int setup(void **st)
{
    (void)st;
    rcu_register_thread();
    zone_set_handle_init(&H);
    struct zone_version *v;
    struct err e;
    if (zone_load_file(TEST_DATA "/example.org.zone", NULL, &v, &e)) fail_msg("%s", e.msg);
    rcu_thread_offline();
    assert_int_equal(zone_set_add(&H, zone_new(v, &e), &e), 0);
    rcu_thread_online();
    /* a second zone: long CNAME chains and a delegation with much glue */
    char text[8192] = "$ORIGIN example.com.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n"
                      "ns A 192.0.2.1\n";
    for (int i = 1; i <= 6; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "c%d CNAME c%d\n", i, i + 1);
    strcat(text, "c7 CNAME ns\n");
    /* MX whose first target is not ours (F2: no duplicate additional A) */
    strcat(text, "m MX 5 mx.other.net.\nm MX 10 mail\nm MX 20 mail\nmail A 192.0.2.7\n");
    for (int i = 1; i <= 13; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "big NS name-server-number-%02d.big\nname-server-number-%02d.big A 192.0.2.%d\n",
                 i, i, i);
    if (zone_load_string(text, "example.com", NULL, &v, &e)) fail_msg("%s", e.msg);
    rcu_thread_offline();
    assert_int_equal(zone_set_add(&H, zone_new(v, &e), &e), 0);
    rcu_thread_online();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    rcu_thread_offline();
    zone_set_handle_destroy(&H);
    rcu_thread_online();
    rcu_unregister_thread();
    return 0;
}

static void test_apex_and_case(void **st)
{
    (void)st;
    ask("example.org.", DNS_T_SOA, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_false(tc());
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.n[NS], 0);
    assert_true(has(AN, "example.org.", "SOA",
                    "ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300"));
    assert_false(M.opt);

    /* the question is echoed byte for byte and answers point at it */
    ask("WwW.ExAmPlE.oRg.", DNS_T_A, -1, false);
    assert_memory_equal(M.qname_raw, "\3WwW\7ExAmPlE\3oRg\0", 17);
    assert_memory_equal(OUT + 12, "\3WwW\7ExAmPlE\3oRg\0", 17);
    assert_int_equal(M.n[AN], 2);
    assert_memory_equal(M.rr[AN][0].owner, "\3WwW\7ExAmPlE\3oRg\0", 17);
    assert_memory_equal(OUT + M.rr[AN][0].owner_at, "\xc0\x0c", 2); /* compressed to the qname */
    assert_true(has(AN, "www.example.org.", "CNAME", "example.org."));
    assert_true(has(AN, "example.org.", "A", "192.0.2.1"));
}

static void test_cname(void **st)
{
    (void)st;
    ask("chain1.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[AN], 4);
    assert_true(has(AN, "chain1.example.org.", "CNAME", "chain2.example.org."));
    assert_true(has(AN, "chain2.example.org.", "CNAME", "www.example.org."));
    assert_true(has(AN, "www.example.org.", "CNAME", "example.org."));
    assert_true(has(AN, "example.org.", "A", "192.0.2.1"));
    /* the CNAME itself when asked for */
    ask("chain1.example.org.", DNS_T_CNAME, -1, false);
    assert_int_equal(M.n[AN], 1);
    /* RRSIG and NSEC may sit beside a CNAME: no chasing for them */
    ask("www.example.org.", DNS_T_RRSIG, -1, false);
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    ask("foo.wc.example.org.", DNS_T_NSEC, -1, false);
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    /* a loop stops once every name was seen */
    ask("loop1.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 2);
    assert_true(has(AN, "loop1.example.org.", "CNAME", "loop2.example.org."));
    assert_true(has(AN, "loop2.example.org.", "CNAME", "loop1.example.org."));
    /* out of zone: the resolver follows */
    ask("ext.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.n[NS], 0);
    /* to a name that does not exist: NXDOMAIN after the CNAME */
    ask("dangling.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), DNS_RC_NXDOMAIN);
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.n[NS], 1);
    assert_int_equal(M.rr[NS][0].type, DNS_T_SOA);
    /* to a name without the type: NODATA after the CNAME */
    ask("www.example.org.", DNS_T_TXT, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.n[NS], 1);
}

static void test_negative(void **st)
{
    (void)st;
    ask("nothere.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), DNS_RC_NXDOMAIN);
    assert_true(aa());
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    /* TTL = min(SOA TTL 3600, MINIMUM 300) */
    assert_int_equal(
        has(NS, "example.org.", "SOA",
            "ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300"),
        301);
    ask("ns1.example.org.", DNS_T_MX, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    assert_int_equal(M.rr[NS][0].ttl, 300);
    /* empty non-terminals are NODATA, not NXDOMAIN */
    ask("c.ent.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    ask("_tcp.example.org.", DNS_T_SRV, -1, false);
    assert_int_equal(rcode(), 0);
}

static void test_wildcard(void **st)
{
    (void)st;
    ask("foo.wild.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[AN], 1);
    assert_true(has(AN, "foo.wild.example.org.", "A", "192.0.2.80"));
    ask("x.y.wild.example.org.", DNS_T_TXT, -1, false);
    assert_true(has(AN, "x.y.wild.example.org.", "TXT", "\"wild\""));
    /* wildcard exists but not the type: NODATA */
    ask("foo.wild.example.org.", DNS_T_MX, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    /* the wildcard's parent is an ENT: NODATA */
    ask("wild.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 0);
    /* RFC 4592 §2.2.2: an existing ENT as closest encloser blocks *.ent */
    ask("x.ent.example.org.", DNS_T_A, -1, false);
    assert_true(has(AN, "x.ent.example.org.", "A", "192.0.2.10"));
    ask("x.c.ent.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), DNS_RC_NXDOMAIN);
    assert_int_equal(M.n[AN], 0);
    /* wildcard CNAME, followed in zone */
    ask("foo.wc.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 3);
    assert_true(has(AN, "foo.wc.example.org.", "CNAME", "www.example.org."));
    assert_true(has(AN, "www.example.org.", "CNAME", "example.org."));
    assert_true(has(AN, "example.org.", "A", "192.0.2.1"));
    /* the wildcard name itself answers as a normal name */
    ask("*.wild.example.org.", DNS_T_A, -1, false);
    assert_true(has(AN, "*.wild.example.org.", "A", "192.0.2.80"));
}

static void test_referral(void **st)
{
    (void)st;
    const char *names[] = {"www.sub.example.org.", "sub.example.org.", "deep.sub.example.org.",
                           "ns.sub.example.org."};
    for (int i = 0; i < 4; i++) {
        ask(names[i], DNS_T_A, -1, false);
        assert_int_equal(rcode(), 0);
        assert_false(aa());
        assert_int_equal(M.n[AN], 0);
        assert_int_equal(M.n[NS], 2);
        assert_true(has(NS, "sub.example.org.", "NS", "ns.sub.example.org."));
        assert_true(has(NS, "sub.example.org.", "NS", "ns1.example.org."));
        assert_true(has(AR, "ns.sub.example.org.", "A", "192.0.2.99"));
        assert_true(has(AR, "ns1.example.org.", "A", "192.0.2.53"));
        assert_true(has(AR, "ns1.example.org.", "AAAA", "2001:db8::53"));
        assert_int_equal(M.n[AR], 3);
    }
    ask("sub.example.org.", DNS_T_NS, -1, false);
    assert_false(aa());
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 2);
    /* DS at the cut is the parent's: authoritative answer */
    ask("sub.example.org.", DNS_T_DS, -1, false);
    assert_true(aa());
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.rr[AN][0].type, DNS_T_DS);
    assert_int_equal(M.n[NS], 0);
    /* DS below the cut is a referral again */
    ask("deep.sub.example.org.", DNS_T_DS, -1, false);
    assert_false(aa());
    assert_int_equal(M.n[NS], 2);
}

static void test_dname(void **st)
{
    (void)st;
    ask("x.dn.example.org.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[AN], 2);
    assert_true(has(AN, "dn.example.org.", "DNAME", "example.net."));
    assert_int_equal(has(AN, "x.dn.example.org.", "CNAME", "x.example.net."), 3601);
    /* the DNAME owner itself is not redirected */
    ask("dn.example.org.", DNS_T_DNAME, -1, false);
    assert_int_equal(M.n[AN], 1);
    ask("dn.example.org.", DNS_T_A, -1, false);
    assert_int_equal(M.n[AN], 0);
    assert_int_equal(M.n[NS], 1);
    /* DNAME into the zone is chased, here into a wildcard */
    ask("foo.dn2.example.org.", DNS_T_A, -1, false);
    assert_int_equal(M.n[AN], 3);
    assert_true(has(AN, "dn2.example.org.", "DNAME", "wild.example.org."));
    assert_true(has(AN, "foo.dn2.example.org.", "CNAME", "foo.wild.example.org."));
    assert_true(has(AN, "foo.wild.example.org.", "A", "192.0.2.80"));
    /* a substitution longer than 255 bytes: YXDOMAIN. The query name is
     * 255 bytes: 3 labels of 63, one of 45, then dn2.example.org (17). */
    char name[300];
    snprintf(name, sizeof name, "%.63s.%.63s.%.63s.%.45s.dn2.example.org.", LONG, LONG, LONG, LONG);
    uint8_t w[256];
    assert_int_equal(ap_name_wire(name, w), 255);
    ask(name, DNS_T_A, -1, true);
    assert_int_equal(rcode(), DNS_RC_YXDOMAIN);
    assert_int_equal(M.n[AN], 1);
    assert_true(has(AN, "dn2.example.org.", "DNAME", "wild.example.org."));
}

static void test_additional(void **st)
{
    (void)st;
    ask("example.org.", DNS_T_MX, -1, false);
    assert_int_equal(M.n[AN], 2);
    assert_int_equal(M.n[AR], 1); /* mx.elsewhere.net is not ours */
    assert_true(has(AR, "mail.example.org.", "A", "192.0.2.25"));
    ask("example.org.", DNS_T_NS, -1, false);
    assert_int_equal(M.n[AN], 2);
    assert_int_equal(M.n[AR], 2);
    assert_true(has(AR, "ns1.example.org.", "AAAA", "2001:db8::53"));
    ask("_sip._tcp.example.org.", DNS_T_SRV, -1, false);
    assert_int_equal(M.n[AN], 1);
    assert_true(has(AR, "sip.example.org.", "AAAA", "2001:db8::5"));
    assert_int_equal(M.n[AR], 1);
    /* An out-of-zone first target, then the same in-zone target twice:
     * mail's A is added once and ARCOUNT says so. */
    ask("m.example.com.", DNS_T_MX, -1, false);
    assert_int_equal(M.n[AN], 3);
    assert_int_equal(ap_u16(OUT + 10), 1);
    assert_int_equal(M.n[AR], 1);
    assert_true(has(AR, "mail.example.com.", "A", "192.0.2.7"));
}

static void test_refused_notimp_formerr(void **st)
{
    (void)st;
    ask("example.net.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), DNS_RC_REFUSED);
    assert_false(aa());
    assert_int_equal(M.qd, 1);
    assert_int_equal(M.n[AN] + M.n[NS] + M.n[AR], 0);

    uint8_t q[600];
    size_t n = mkq(q, "example.org.", DNS_T_A, -1, 0, false);
    q[2] |= DNS_OP_STATUS << 3;
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_NOTIMP);
    assert_int_equal((M.flags >> 11) & 0xf, DNS_OP_STATUS);

    n = mkq(q, "example.org.", DNS_T_A, -1, 0, false);
    ap_put16(q + 4, 0); /* QDCOUNT 0 */
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);
    assert_int_equal(M.qd, 0);
    ap_put16(q + 4, 2); /* QDCOUNT 2 (RFC 9619) */
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);
    ap_put16(q + 4, 1);
    ask_raw(q, n - 1, false, NULL); /* truncated question */
    assert_int_equal(rcode(), DNS_RC_FORMERR);
    /* an answer record that runs past the end */
    ap_put16(q + 6, 1);
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);
    ap_put16(q + 6, 0);
    /* two OPT records */
    n = mkq(q, "example.org.", DNS_T_A, 1232, 0, false);
    memcpy(q + n, q + n - 11, 11);
    ap_put16(q + 10, 2);
    ask_raw(q, n + 11, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);
    assert_false(M.opt);
    /* a compression loop in the question */
    n = mkq(q, "example.org.", DNS_T_A, -1, 0, false);
    q[12] = 0xc0;
    q[13] = 12;
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);

    /* responses and runts get nothing */
    n = mkq(q, "example.org.", DNS_T_A, -1, 0, false);
    q[2] |= 0x80;
    assert_int_equal(ask_raw(q, n, false, NULL), 0);
    assert_int_equal(ask_raw(q, 11, false, NULL), 0);
    /* other classes, transfers over UDP, meta types */
    n = mkq(q, "example.org.", DNS_T_A, -1, 0, false);
    ap_put16(q + n - 2, DNS_CLASS_CH);
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), DNS_RC_REFUSED);
    ask("example.org.", DNS_T_AXFR, -1, false);
    assert_int_equal(rcode(), DNS_RC_NOTIMP);
    ask("example.org.", DNS_T_AXFR, -1, true);
    assert_int_equal(rcode(), DNS_RC_REFUSED);
}

static void test_edns(void **st)
{
    (void)st;
    ask("example.org.", DNS_T_A, 4096, false);
    assert_int_equal(rcode(), 0);
    assert_true(M.opt);
    assert_int_equal(M.opt_size, 1232);
    assert_int_equal(M.opt_ttl, 0);
    assert_int_equal(M.opt_rdlen, 0);
    uint8_t q[512];
    size_t n = mkq(q, "example.org.", DNS_T_A, 1232, 0, true);
    ask_raw(q, n, false, NULL);
    assert_int_equal(M.opt_ttl, 0x8000); /* DO echoed */
    n = mkq(q, "example.org.", DNS_T_A, 1232, 1, false);
    struct query_info qi;
    ask_raw(q, n, false, &qi);
    assert_int_equal(qi.rcode, DNS_RC_BADVERS);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.opt_ttl >> 24, 1); /* extended rcode 16 >> 4 */
    assert_int_equal(M.n[AN], 0);
    /* a malformed option */
    n = mkq(q, "example.org.", DNS_T_A, 1232, 0, false);
    q[n - 1] = 4;
    memcpy(q + n, "\0\12\0\10", 4); /* cookie of 8 bytes announced, none given */
    ask_raw(q, n + 4, false, NULL);
    assert_int_equal(rcode(), DNS_RC_FORMERR);
}

static void test_truncation(void **st)
{
    (void)st;
    /* 40 TXT RRs do not fit in 512 or 1232 bytes: TC, answer cut at the RRset */
    ask("big.example.org.", DNS_T_TXT, -1, false);
    assert_true(tc());
    assert_true(aa());
    assert_int_equal(M.n[AN], 0);
    ask("big.example.org.", DNS_T_TXT, 1232, false);
    assert_true(tc());
    assert_true(M.opt);
    assert_true(M.len <= 1232);
    /* the client's size is honoured even above the 1232 we advertise */
    ask("big.example.org.", DNS_T_TXT, 4096, false);
    assert_false(tc());
    assert_int_equal(M.n[AN], 40);
    assert_int_equal(M.opt_size, 1232);
    /* over TCP all of it */
    ask("big.example.org.", DNS_T_TXT, -1, true);
    assert_false(tc());
    assert_int_equal(M.n[AN], 40);
    /* a small client size is raised to 512 */
    ask("example.org.", DNS_T_A, 100, false);
    assert_false(tc());
    /* a buffer smaller than the answer over TCP truncates too */
    uint8_t q[512], small[60];
    size_t n = mkq(q, "example.org.", DNS_T_NS, -1, 0, false);
    rcu_read_lock();
    size_t r = dns_answer(zone_set_current(&H), q, n, small, sizeof small, true, NULL);
    rcu_read_unlock();
    assert_true(r <= sizeof small);
    parse(small, r);
    assert_true(tc());
    /* the synthesised CNAME of a DNAME does not fit: the packet stays
     * consistent (nothing half written), TC, the DNAME kept */
    n = mkq(q, "foo.dn2.example.org.", DNS_T_A, -1, 0, false);
    rcu_read_lock();
    uint8_t mid[80];
    r = dns_answer(zone_set_current(&H), q, n, mid, sizeof mid, true, NULL);
    rcu_read_unlock();
    parse(mid, r);
    assert_true(tc());
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.rr[AN][0].type, DNS_T_DNAME);
}

static void test_any_unknown_compression(void **st)
{
    (void)st;
    ask("example.org.", DNS_T_ANY, -1, false);
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.rr[AN][0].type, DNS_T_A); /* the lowest type at the apex */
    ask("www.example.org.", DNS_T_ANY, -1, false);
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.rr[AN][0].type, DNS_T_CNAME);
    ask("unk.example.org.", 65000, -1, false);
    assert_int_equal(M.n[AN], 1);
    assert_int_equal(M.rr[AN][0].rdlen, 3);
    assert_memory_equal(M.rr[AN][0].rd, "\1\2\3", 3);
    /* compression: NS answer with in-zone targets is much shorter than
     * the uncompressed form; every owner is a pointer to the question */
    ask("example.org.", DNS_T_NS, -1, false);
    for (int i = 0; i < M.n[AN]; i++)
        assert_memory_equal(OUT + M.rr[AN][i].owner_at, "\xc0\x0c", 2);
    /* ns1.example.org in RDATA: "ns1" + pointer to the question */
    assert_true(M.len < 12 + 17 + 2 * (13 + 10 + 17) + 2 * (17 + 10 + 4) + (17 + 10 + 16));
}

static void test_knot_choices(void **st)
{
    (void)st;
    /* at most 5 redirections are written; the last target is still
     * answered if that needs no further redirection (as Knot 3.2) */
    ask("c1.example.com.", DNS_T_A, -1, false);
    assert_int_equal(rcode(), 0);
    assert_int_equal(M.n[AN], 5);
    assert_true(has(AN, "c5.example.com.", "CNAME", "c6.example.com."));
    ask("c3.example.com.", DNS_T_A, -1, false);
    assert_int_equal(M.n[AN], 6);
    assert_true(has(AN, "c7.example.com.", "CNAME", "ns.example.com."));
    assert_true(has(AN, "ns.example.com.", "A", "192.0.2.1"));
    /* a referral whose glue below the cut does not fit: TC (RFC 9471) */
    ask("www.big.example.com.", DNS_T_A, -1, false);
    assert_false(aa());
    assert_true(tc());
    assert_int_equal(M.n[NS], 13);
    assert_true(M.n[AR] < 13);
    ask("www.big.example.com.", DNS_T_A, 1232, false);
    assert_false(tc());
    assert_int_equal(M.n[AR], 13);
    /* class ANY is answered like IN; QTYPE 0 is NOTIMP; MAILA is a lookup */
    uint8_t q[512];
    size_t n = mkq(q, "ns.example.com.", DNS_T_A, -1, 0, false);
    ap_put16(q + n - 2, DNS_CLASS_ANY);
    ask_raw(q, n, false, NULL);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_true(has(AN, "ns.example.com.", "A", "192.0.2.1"));
    ask("ns.example.com.", 0, -1, false);
    assert_int_equal(rcode(), DNS_RC_NOTIMP);
    ask("ns.example.com.", DNS_T_MAILA, -1, false);
    assert_int_equal(rcode(), 0);
    assert_true(aa());
    assert_int_equal(M.n[NS], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apex_and_case),
        cmocka_unit_test(test_cname),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_wildcard),
        cmocka_unit_test(test_referral),
        cmocka_unit_test(test_dname),
        cmocka_unit_test(test_additional),
        cmocka_unit_test(test_refused_notimp_formerr),
        cmocka_unit_test(test_edns),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_any_unknown_compression),
        cmocka_unit_test(test_knot_choices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
