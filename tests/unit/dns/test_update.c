/* Unit tests of the RFC 2136 update engine (dns/update.h): every
 * prerequisite and update kind, their exact error texts, atomicity, serial
 * arithmetic and the value-to-RDATA rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rr.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"

static const char *ZONE = "$ORIGIN example.org.\n"
                          "$TTL 3600\n"
                          "@ SOA ns1 hostmaster 100 7200 3600 1209600 300\n"
                          "@ NS ns1\n"
                          "@ NS ns2\n"
                          "ns1 A 192.0.2.1\n"
                          "ns2 A 192.0.2.2\n"
                          "www A 192.0.2.10\n"
                          "www A 192.0.2.11\n"
                          "alias CNAME www\n"
                          "a.b.ent A 192.0.2.20\n"
                          "test 300 A 192.0.2.30\n"
                          "mx MX 10 mail.example.org.\n";

static uint8_t *N(const char *t)
{
    static uint8_t bufs[16][DNS_NAME_MAX];
    static int i;
    struct err e;
    uint8_t *b = bufs[i++ & 15];
    if (dns_name_from_text(t, (const uint8_t *)"\7example\3org", b, &e) < 0) fail_msg("%s", e.msg);
    return b;
}

/* RDATA from presentation text, in one of 16 rotating buffers (N and R
 * reuse their buffers: build update arrays right before use). */
struct rd {
    uint8_t d[512];
    uint16_t len;
};
static struct rd *R(const char *type, const char *value)
{
    static struct rd bufs[16];
    static int i;
    static struct dns_rr rr;
    struct err e;
    if (dns_rr_parse_text("x.example.org.", type, value, 0, (const uint8_t *)"\7example\3org", &rr,
                          &e) < 0)
        fail_msg("%s %s: %s", type, value, e.msg);
    struct rd *r = &bufs[i++ & 15];
    assert_true(rr.rdlen <= sizeof r->d);
    memcpy(r->d, rr.rdata, rr.rdlen);
    r->len = rr.rdlen;
    return r;
}

static uint16_t T(const char *type)
{
    int t = dns_type_from_text(type);
    assert_true(t > 0);
    return (uint16_t)t;
}

static struct zone *mkzone(const char *text)
{
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "test.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    struct zone *z = zone_new(v, &e);
    assert_non_null(z);
    return z;
}

static const struct dns_rrset *rrset(struct zone *z, const char *owner, const char *type)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, N(owner));
    const struct zone_node *n = zone_version_find(zone_current(z), l, len);
    return n ? node_rrset(n, T(type)) : NULL;
}

static bool has(struct zone *z, const char *owner, const char *type, const char *value)
{
    const struct dns_rrset *s = rrset(z, owner, type);
    struct rd *r = R(type, value);
    for (const uint8_t *p = s ? rrset_first(s) : NULL; p; p = rrset_next(s, p))
        if (dns_rdata_cmp(s->type, rr_rdata(p), rr_rdlen(p), r->d, r->len) == 0) return true;
    return false;
}

static struct dns_update ADD(const char *owner, const char *type, const char *value, uint32_t ttl) {
    struct rd *r = R(type, value);
    return (struct dns_update){DNS_UPDATE_ADD, N(owner), T(type), ttl, r->d, r->len};
} static struct dns_update DEL_RR(const char *owner, const char *type, const char *value) {
    struct rd *r = R(type, value);
    return (struct dns_update){DNS_UPDATE_REMOVE_RR, N(owner), T(type), 0, r->d, r->len};
} static struct dns_update DEL_SET(const char *owner, const char *type) {
    return (struct dns_update){DNS_UPDATE_REMOVE_RRSET, N(owner), T(type), 0, NULL, 0};
} static struct dns_update DEL_ALL(const char *owner) {
    return (struct dns_update){DNS_UPDATE_REMOVE_ALL, N(owner), 0, 0, NULL, 0};
} static struct dns_prereq PRE(enum dns_prereq_kind k, const char *owner, const char *type,
                               const char *value) {
    struct dns_prereq p = {k, N(owner), type ? T(type) : 0, NULL, 0};
    if (value) {
        struct rd *r = R(type, value);
        p.rdata = r->d;
        p.rdlen = r->len;
    }
    return p;
}

/* Runs an update confined to `confine`; returns 0/-1, message in e. */
static int
run(struct zone *z, const char *confine, const struct dns_prereq *p, size_t np,
    const struct dns_update *u, size_t nu, uint32_t *serial, struct err *e)
{
    memset(e->msg, 0, sizeof e->msg);
    return dns_update_apply(z, N(confine), p, np, u, nu, NULL, serial, e);
}

#define OK(z, p, np, u, nu)                                                                        \
    do {                                                                                           \
        struct err e_;                                                                             \
        uint32_t s_;                                                                               \
        if (run(z, "example.org.", p, np, u, nu, &s_, &e_) != 0) fail_msg("%s", e_.msg);           \
    } while (0)
#define FAILS(z, confine, p, np, u, nu, text)                                                      \
    do {                                                                                           \
        struct err e_;                                                                             \
        uint32_t s_, before_ = zone_current(z)->serial;                                            \
        assert_int_equal(run(z, confine, p, np, u, nu, &s_, &e_), -1);                             \
        assert_string_equal(e_.msg, text);                                                         \
        assert_int_equal(zone_current(z)->serial, before_);                                        \
    } while (0)

static void test_add(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    uint32_t s;
    struct err e;
    struct dns_update u[] = {ADD("test.example.org.", "A", "128.232.113.136", 3600)};
    assert_int_equal(run(z, "test.example.org.", NULL, 0, u, 1, &s, &e), 0);
    assert_int_equal(s, 101);
    assert_int_equal(zone_current(z)->serial, 101);
    assert_true(has(z, "test", "A", "128.232.113.136"));
    assert_true(has(z, "test", "A", "192.0.2.30"));
    /* A new RR sets the RRset's TTL (RFC 2181 §5.2). */
    assert_int_equal(rrset(z, "test", "A")->ttl, 3600);
    /* Duplicate: nothing changes, no new serial. */
    assert_int_equal(run(z, "test.example.org.", NULL, 0, u, 1, &s, &e), 0);
    assert_int_equal(s, 101);
    assert_int_equal(zone_current(z)->serial, 101);
    assert_int_equal(rrset(z, "test", "A")->count, 2);
    /* Same RR with another TTL: the RRset's TTL changes, RRs stay. */
    u[0].ttl = 60;
    assert_int_equal(run(z, "test.example.org.", NULL, 0, u, 1, &s, &e), 0);
    assert_int_equal(s, 102);
    assert_int_equal(rrset(z, "test", "A")->ttl, 60);
    assert_int_equal(rrset(z, "test", "A")->count, 2);
    /* A new name, and names in RDATA compared case-insensitively. */
    struct dns_update u2[] = {ADD("new.example.org.", "MX", "10 Mail.Example.ORG.", 300),
                              ADD("new.example.org.", "MX", "10 mail.example.org.", 300),
                              ADD("mx.example.org.", "MX", "10 MAIL.example.org.", 3600)};
    OK(z, NULL, 0, u2, 3);
    assert_int_equal(rrset(z, "new", "MX")->count, 1);
    assert_int_equal(rrset(z, "mx", "MX")->count, 1);
    assert_int_equal(zone_current(z)->serial, 103);
    zone_free(z);
}

static void test_remove(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u1[] = {DEL_RR("www.example.org.", "A", "192.0.2.10")};
    OK(z, NULL, 0, u1, 1);
    assert_false(has(z, "www", "A", "192.0.2.10"));
    assert_true(has(z, "www", "A", "192.0.2.11"));
    assert_int_equal(zone_current(z)->serial, 101);
    /* Absent RR, absent RRset, absent name: success without a new serial. */
    struct dns_update u2[] = {DEL_RR("www.example.org.", "A", "192.0.2.99"),
                              DEL_SET("www.example.org.", "TXT"), DEL_ALL("nope.example.org.")};
    OK(z, NULL, 0, u2, 3);
    assert_int_equal(zone_current(z)->serial, 101);
    struct dns_update u3[] = {DEL_SET("www.example.org.", "A")};
    OK(z, NULL, 0, u3, 1);
    assert_null(rrset(z, "www", "A"));
    struct dns_update u4[] = {DEL_ALL("mx.example.org."), DEL_ALL("a.b.ent.example.org.")};
    OK(z, NULL, 0, u4, 2);
    assert_null(rrset(z, "mx", "MX"));
    assert_null(rrset(z, "a.b.ent", "A"));
    assert_int_equal(zone_current(z)->serial, 103);
    /* At the apex, REMOVE_ALL keeps the SOA and NS (§3.4.2.3). */
    struct dns_update u5[] = {ADD("example.org.", "TXT", "\"v=spf1 -all\"", 300),
                              ADD("example.org.", "MX", "10 mx", 300)};
    OK(z, NULL, 0, u5, 2);
    struct dns_update u6[] = {DEL_ALL("example.org.")};
    OK(z, NULL, 0, u6, 1);
    assert_null(rrset(z, "@", "TXT"));
    assert_null(rrset(z, "@", "MX"));
    assert_non_null(rrset(z, "@", "SOA"));
    assert_int_equal(rrset(z, "@", "NS")->count, 2);
    assert_int_equal(zone_current(z)->serial, 105);
    zone_free(z);
}

static void test_apex_protection(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u1[] = {DEL_SET("example.org.", "SOA")};
    FAILS(z, "example.org.", NULL, 0, u1, 1, "cannot remove the apex SOA of example.org");
    struct dns_update u2[] = {
        DEL_RR("example.org.", "SOA", "ns1 hostmaster 100 7200 3600 1209600 300")};
    FAILS(z, "example.org.", NULL, 0, u2, 1, "cannot remove the apex SOA of example.org");
    struct dns_update u3[] = {DEL_SET("EXAMPLE.org.", "NS")};
    FAILS(z, "example.org.", NULL, 0, u3, 1,
          "cannot remove the NS records at the apex of example.org");
    struct dns_update u4[] = {DEL_RR("example.org.", "NS", "ns1"),
                              DEL_RR("example.org.", "NS", "ns2")};
    FAILS(z, "example.org.", NULL, 0, u4, 2,
          "cannot remove the last NS record at the apex of example.org");
    assert_int_equal(rrset(z, "@", "NS")->count, 2); /* the first removal was not applied */
    /* Replacing the last NS: add first, then remove. */
    struct dns_update u5[] = {DEL_RR("example.org.", "NS", "ns1"),
                              ADD("example.org.", "NS", "ns3.example.net.", 3600),
                              DEL_RR("example.org.", "NS", "ns2")};
    OK(z, NULL, 0, u5, 3);
    assert_int_equal(rrset(z, "@", "NS")->count, 1);
    assert_true(has(z, "@", "NS", "ns3.example.net."));
    /* SOA below the apex. */
    struct dns_update u6[] = {ADD("sub.example.org.", "SOA", "ns1 hostmaster 1 2 3 4 5", 3600)};
    FAILS(z, "example.org.", NULL, 0, u6, 1,
          "SOA records are only allowed at the apex example.org, not at sub.example.org");
    zone_free(z);
}

static void test_soa_add_and_serials(void **st)
{
    (void)st;
    struct zone *z =
        mkzone("example.org. 3600 SOA ns1.example.org. h.example.org. 4294967294 1 2 3 "
               "4\nexample.org. 3600 NS ns1.example.org.\n");
    struct dns_update a[] = {ADD("a.example.org.", "A", "192.0.2.1", 60)};
    uint32_t s;
    struct err e;
    assert_int_equal(run(z, "example.org.", NULL, 0, a, 1, &s, &e), 0);
    assert_int_equal(s, 4294967295u);
    a[0] = ADD("b.example.org.", "A", "192.0.2.2", 60);
    assert_int_equal(run(z, "example.org.", NULL, 0, a, 1, &s, &e), 0);
    assert_int_equal(s, 0); /* RFC 1982: wraps to 0 */
    a[0] = ADD("c.example.org.", "A", "192.0.2.3", 60);
    assert_int_equal(run(z, "example.org.", NULL, 0, a, 1, &s, &e), 0);
    assert_int_equal(s, 1);
    assert_int_equal(zone_version_soa(zone_current(z))->count, 1);
    /* An SOA with an older serial (0 is older than 1) is refused... */
    struct dns_update soa[] = {ADD("example.org.", "SOA", "ns1 h 0 1 2 3 4", 3600)};
    FAILS(z, "example.org.", NULL, 0, soa, 1,
          "SOA serial 0 is not newer than the current serial 1 of example.org");
    /* ...a newer one (across the wrap: 4000000000 is older, 1000 newer) replaces the SOA and
     * its serial is used as is. */
    soa[0] = ADD("example.org.", "SOA", "ns1 h 4000000000 1 2 3 4", 3600);
    FAILS(z, "example.org.", NULL, 0, soa, 1,
          "SOA serial 4000000000 is not newer than the current serial 1 of example.org");
    soa[0] = ADD("example.org.", "SOA", "ns9 h 1000 10 20 30 40", 7200);
    assert_int_equal(run(z, "example.org.", NULL, 0, soa, 1, &s, &e), 0);
    assert_int_equal(s, 1000);
    assert_int_equal(zone_current(z)->serial, 1000);
    assert_true(has(z, "@", "SOA", "ns9 h 1000 10 20 30 40"));
    assert_int_equal(rrset(z, "@", "SOA")->ttl, 7200);
    zone_free(z);
    /* serial_newer itself. */
    assert_true(serial_newer(1, 0));
    assert_true(serial_newer(0, 0xffffffffu));
    assert_true(serial_newer(0x7fffffffu, 0));
    assert_false(serial_newer(0x80000000u, 0)); /* exactly 2^31 apart: undefined, not newer */
    assert_false(serial_newer(0, 0x80000000u));
    assert_false(serial_newer(5, 5));
    assert_false(serial_newer(0xffffffffu, 0));
    assert_int_equal(serial_next(0xffffffffu), 0);
}

static void test_cname(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u1[] = {ADD("www.example.org.", "CNAME", "elsewhere.example.net.", 300)};
    FAILS(z, "example.org.", NULL, 0, u1, 1,
          "cannot add CNAME at www.example.org: the name has other records");
    struct dns_update u2[] = {ADD("alias.example.org.", "TXT", "\"x\"", 300)};
    FAILS(z, "example.org.", NULL, 0, u2, 1,
          "cannot add TXT at alias.example.org: the name has a CNAME");
    struct dns_update u3[] = {ADD("example.org.", "CNAME", "x.example.net.", 300)};
    FAILS(z, "example.org.", NULL, 0, u3, 1,
          "cannot add CNAME at example.org: the name has other records");
    /* A CNAME replaces the CNAME (§3.4.2.2). */
    struct dns_update u4[] = {ADD("alias.example.org.", "CNAME", "ns1.example.org.", 300)};
    OK(z, NULL, 0, u4, 1);
    assert_int_equal(rrset(z, "alias", "CNAME")->count, 1);
    assert_true(has(z, "alias", "CNAME", "ns1.example.org."));
    /* Updates see the effect of earlier ones: remove the A RRset, then add a CNAME. */
    struct dns_update u5[] = {DEL_SET("www.example.org.", "A"),
                              ADD("www.example.org.", "CNAME", "alias.example.org.", 300)};
    OK(z, NULL, 0, u5, 2);
    assert_true(has(z, "www", "CNAME", "alias.example.org."));
    assert_null(rrset(z, "www", "A"));
    zone_free(z);
}

/* Issue 9 point 12: the apex SOA and NS and the CNAME rule are judged on
 * the state the whole update leaves, as RFC 2136 applies an update as a
 * unit; the message names what the update did wrong. */
static void test_final_state(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    /* The apex NS RRset replaced: removed as a whole, then added to. */
    struct dns_update u1[] = {DEL_SET("example.org.", "NS"),
                              ADD("example.org.", "NS", "ns3.example.net.", 3600)};
    OK(z, NULL, 0, u1, 2);
    assert_int_equal(rrset(z, "@", "NS")->count, 1);
    assert_true(has(z, "@", "NS", "ns3.example.net."));
    /* Its last RR removed, then another added. */
    struct dns_update u2[] = {DEL_RR("example.org.", "NS", "ns3.example.net."),
                              ADD("example.org.", "NS", "ns1", 3600)};
    OK(z, NULL, 0, u2, 2);
    assert_true(has(z, "@", "NS", "ns1"));
    assert_int_equal(zone_current(z)->serial, 102);
    /* Added, then the RRset removed: nothing left, refused. */
    struct dns_update u3[] = {ADD("example.org.", "NS", "ns2", 3600),
                              DEL_SET("example.org.", "NS")};
    FAILS(z, "example.org.", NULL, 0, u3, 2,
          "cannot remove the NS records at the apex of example.org");
    /* A CNAME added before the A RRset it replaces is removed; a CNAME
     * removed before data is added beside its owner. */
    struct dns_update u4[] = {ADD("www.example.org.", "CNAME", "alias.example.org.", 300),
                              DEL_SET("www.example.org.", "A"),
                              DEL_SET("alias.example.org.", "CNAME"),
                              ADD("alias.example.org.", "TXT", "\"x\"", 300)};
    OK(z, NULL, 0, u4, 4);
    assert_true(has(z, "www", "CNAME", "alias.example.org."));
    assert_null(rrset(z, "www", "A"));
    assert_true(has(z, "alias", "TXT", "\"x\""));
    assert_null(rrset(z, "alias", "CNAME"));
    /* Both added at a new name: the one added last is named. */
    struct dns_update u5[] = {ADD("new.example.org.", "A", "192.0.2.1", 300),
                              ADD("new.example.org.", "CNAME", "www.example.org.", 300)};
    FAILS(z, "example.org.", NULL, 0, u5, 2,
          "cannot add CNAME at new.example.org: the name has other records");
    struct dns_update u6[] = {ADD("new.example.org.", "CNAME", "www.example.org.", 300),
                              ADD("new.example.org.", "MX", "10 www.example.org.", 300)};
    FAILS(z, "example.org.", NULL, 0, u6, 2,
          "cannot add MX at new.example.org: the name has a CNAME");
    /* The apex SOA removed and replaced by a newer one... */
    struct dns_update u7[] = {DEL_SET("example.org.", "SOA"),
                              ADD("example.org.", "SOA", "ns1 hostmaster 500 1 2 3 4", 3600)};
    OK(z, NULL, 0, u7, 2);
    assert_int_equal(zone_current(z)->serial, 500);
    assert_true(has(z, "@", "SOA", "ns1 hostmaster 500 1 2 3 4"));
    /* ...but not by an older one, nor removed after an SOA was added. */
    u7[1] = ADD("example.org.", "SOA", "ns1 hostmaster 400 1 2 3 4", 3600);
    FAILS(z, "example.org.", NULL, 0, u7, 2,
          "SOA serial 400 is not newer than the current serial 500 of example.org");
    struct dns_update u8[] = {ADD("example.org.", "SOA", "ns1 hostmaster 600 1 2 3 4", 3600),
                              DEL_RR("example.org.", "SOA", "ns1 hostmaster 600 1 2 3 4")};
    FAILS(z, "example.org.", NULL, 0, u8, 2, "cannot remove the apex SOA of example.org");
    assert_true(has(z, "@", "SOA", "ns1 hostmaster 500 1 2 3 4"));
    zone_free(z);
}

static void test_confinement(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u1[] = {ADD("evil.example.org.", "A", "192.0.2.66", 300)};
    FAILS(z, "test.example.org.", NULL, 0, u1, 1,
          "name evil.example.org is outside test.example.org");
    struct dns_update u2[] = {ADD("a.test.example.org.", "A", "192.0.2.1", 300),
                              ADD("xtest.example.org.", "A", "192.0.2.66", 300)};
    FAILS(z, "test.example.org.", NULL, 0, u2, 2,
          "name xtest.example.org is outside test.example.org");
    assert_null(rrset(z, "a.test", "A"));
    struct dns_prereq p1[] = {PRE(DNS_PREREQ_EXISTS, "www.example.org.", "A", NULL)};
    struct dns_update ok[] = {ADD("A.Test.EXAMPLE.org.", "A", "192.0.2.1", 300)};
    FAILS(z, "test.example.org.", p1, 1, ok, 1, "name www.example.org is outside test.example.org");
    struct dns_update u3[] = {ADD("example.com.", "A", "192.0.2.66", 300)};
    FAILS(z, "example.org.", NULL, 0, u3, 1, "name example.com is outside example.org");
    FAILS(z, "example.com.", NULL, 0, u3, 1, "name example.com is outside example.org");
    uint32_t s;
    struct err e;
    assert_int_equal(run(z, "TEST.example.org.", NULL, 0, ok, 1, &s, &e), 0);
    assert_true(has(z, "a.test", "A", "192.0.2.1"));
    zone_free(z);
}

static void test_prereqs(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u[] = {ADD("new.example.org.", "A", "192.0.2.77", 300)};
    struct dns_prereq p;
#define PF(kind, owner, type, value, text)                                                         \
    p = PRE(kind, owner, type, value);                                                             \
    u[0] = ADD("new.example.org.", "A", "192.0.2.77", 300);                                        \
    FAILS(z, "example.org.", &p, 1, u, 1, text);                                                   \
    assert_null(rrset(z, "new", "A"))
#define PO(kind, owner, type, value)                                                               \
    p = PRE(kind, owner, type, value);                                                             \
    OK(z, &p, 1, NULL, 0)
    PF(DNS_PREREQ_EXISTS, "test.example.org.", "AAAA", NULL,
       "prerequisite failed: test.example.org AAAA does not exist");
    PF(DNS_PREREQ_EXISTS, "nope.example.org.", "A", NULL,
       "prerequisite failed: nope.example.org A does not exist");
    PO(DNS_PREREQ_EXISTS, "TEST.example.org.", "A", NULL);
    PF(DNS_PREREQ_NOT_EXISTS, "test.example.org.", "A", NULL,
       "prerequisite failed: test.example.org A exists");
    PO(DNS_PREREQ_NOT_EXISTS, "test.example.org.", "AAAA", NULL);
    PO(DNS_PREREQ_NOT_EXISTS, "nope.example.org.", "A", NULL);
    PF(DNS_PREREQ_EXISTS_DATA, "test.example.org.", "A", "192.0.2.31",
       "prerequisite failed: test.example.org A differs from the given records");
    PF(DNS_PREREQ_EXISTS_DATA, "test.example.org.", "AAAA", "::1",
       "prerequisite failed: test.example.org AAAA does not exist");
    PO(DNS_PREREQ_EXISTS_DATA, "test.example.org.", "A", "192.0.2.30");
    /* Value dependent: one record of a two-record RRset is not the RRset. */
    PF(DNS_PREREQ_EXISTS_DATA, "www.example.org.", "A", "192.0.2.10",
       "prerequisite failed: www.example.org A differs from the given records");
    struct dns_prereq two[] = {PRE(DNS_PREREQ_EXISTS_DATA, "www.example.org.", "A", "192.0.2.11"),
                               PRE(DNS_PREREQ_EXISTS_DATA, "WWW.example.org.", "A", "192.0.2.10"),
                               PRE(DNS_PREREQ_EXISTS_DATA, "www.example.org.", "A", "192.0.2.10")};
    OK(z, two, 3, NULL, 0);
    struct dns_prereq three[] = {
        two[0], two[1], PRE(DNS_PREREQ_EXISTS_DATA, "www.example.org.", "A", "192.0.2.12")};
    u[0] = ADD("new.example.org.", "A", "192.0.2.77", 300);
    FAILS(z, "example.org.", three, 3, u, 1,
          "prerequisite failed: www.example.org A differs from the given records");
    /* Names in RDATA compare case-insensitively. */
    PO(DNS_PREREQ_EXISTS_DATA, "alias.example.org.", "CNAME", "WWW.EXAMPLE.ORG.");
    PO(DNS_PREREQ_NAME_IN_USE, "www.example.org.", NULL, NULL);
    PF(DNS_PREREQ_NAME_IN_USE, "nope.example.org.", NULL, NULL,
       "prerequisite failed: name nope.example.org is not in use");
    /* An empty non-terminal is not in use (§2.4.4). */
    PF(DNS_PREREQ_NAME_IN_USE, "b.ent.example.org.", NULL, NULL,
       "prerequisite failed: name b.ent.example.org is not in use");
    PO(DNS_PREREQ_NOT_NAME_IN_USE, "b.ent.example.org.", NULL, NULL);
    PO(DNS_PREREQ_NOT_NAME_IN_USE, "nope.example.org.", NULL, NULL);
    PF(DNS_PREREQ_NOT_NAME_IN_USE, "example.org.", NULL, NULL,
       "prerequisite failed: name example.org is in use");
    /* Prerequisites are checked before any update, against the zone as it was. */
    struct dns_prereq nx = PRE(DNS_PREREQ_NOT_NAME_IN_USE, "new.example.org.", NULL, NULL);
    u[0] = ADD("new.example.org.", "A", "192.0.2.77", 300);
    OK(z, &nx, 1, u, 1);
    assert_true(has(z, "new", "A", "192.0.2.77"));
    assert_int_equal(zone_current(z)->serial, 101);
    FAILS(z, "example.org.", &nx, 1, u, 1, "prerequisite failed: name new.example.org is in use");
    zone_free(z);
#undef PF
#undef PO
}

static void test_atomicity(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    const struct zone_version *before = zone_current(z);
    struct dns_update u[] = {ADD("one.example.org.", "A", "192.0.2.1", 300),
                             DEL_SET("www.example.org.", "A"),
                             ADD("alias.example.org.", "A", "192.0.2.2", 300)};
    FAILS(z, "example.org.", NULL, 0, u, 3,
          "cannot add A at alias.example.org: the name has a CNAME");
    assert_ptr_equal(zone_current(z), before); /* not even a new version */
    assert_null(rrset(z, "one", "A"));
    assert_int_equal(rrset(z, "www", "A")->count, 2);
    /* A malformed value anywhere stops everything before the lock is taken. */
    struct dns_update m[] = {
        ADD("one.example.org.", "A", "192.0.2.1", 300),
        {DNS_UPDATE_ADD, N("two.example.org."), DNS_T_A, 300, (const uint8_t *)"\1\2\3", 3}};
    FAILS(z, "example.org.", NULL, 0, m, 2, "malformed RDATA for A at two.example.org");
    assert_null(rrset(z, "one", "A"));
    zone_free(z);
}

static void test_bad_input(void **st)
{
    (void)st;
    struct zone *z = mkzone(ZONE);
    struct dns_update u1[] = {{DNS_UPDATE_ADD, N("x.example.org."), DNS_T_MX, 300,
                               (const uint8_t *)"\0\12\4mail\7exam", 11}};
    FAILS(z, "example.org.", NULL, 0, u1, 1, "malformed RDATA for MX at x.example.org");
    struct dns_update u2[] = {
        {DNS_UPDATE_ADD, N("x.example.org."), DNS_T_ANY, 300, (const uint8_t *)"", 0}};
    FAILS(z, "example.org.", NULL, 0, u2, 1,
          "type ANY cannot be used in an update (at x.example.org)");
    struct dns_update u3[] = {DEL_SET("x.example.org.", "A")};
    u3[0].type = DNS_T_AXFR;
    FAILS(z, "example.org.", NULL, 0, u3, 1,
          "type AXFR cannot be used in an update (at x.example.org)");
    u3[0].type = 0;
    FAILS(z, "example.org.", NULL, 0, u3, 1,
          "type TYPE0 cannot be used in an update (at x.example.org)");
    struct dns_prereq p = PRE(DNS_PREREQ_EXISTS, "x.example.org.", "A", NULL);
    p.type = DNS_T_OPT;
    FAILS(z, "example.org.", &p, 1, NULL, 0,
          "type OPT cannot be used in a prerequisite (at x.example.org)");
    p = PRE(DNS_PREREQ_EXISTS_DATA, "x.example.org.", "A", "192.0.2.1");
    p.rdlen = 2;
    FAILS(z, "example.org.", &p, 1, NULL, 0, "malformed RDATA for A at x.example.org");
    struct dns_update u4[] = {ADD("x.example.org.", "A", "192.0.2.1", 0x80000000u)};
    FAILS(z, "example.org.", NULL, 0, u4, 1,
          "TTL 2147483648 of x.example.org A is above the maximum 2147483647");
    u4[0].ttl = 0x7fffffffu;
    OK(z, NULL, 0, u4, 1);
    zone_free(z);
}

/* The Cap'n Proto value may carry a tail (the OCaml client sends a 4096-byte
 * buffer for most types). */
static void test_value_rdata(void **st)
{
    (void)st;
    static uint8_t v[4096], out[65535];
    memset(v, 0xee, sizeof v);
    memcpy(v, "\x80\xe8\x71\x88", 4);
    assert_int_equal(dns_update_value_rdata(DNS_T_A, v, sizeof v, out, sizeof out), 4);
    assert_memory_equal(out, v, 4);
    assert_int_equal(dns_update_value_rdata(DNS_T_A, v, 3, out, sizeof out), -1);
    assert_int_equal(dns_update_value_rdata(DNS_T_AAAA, v, sizeof v, out, sizeof out), 16);
    assert_int_equal(dns_update_value_rdata(DNS_T_AAAA, v, 15, out, sizeof out), -1);
    /* A name, then garbage. */
    memcpy(v, "\3www\7example\3org\0", 17);
    assert_int_equal(dns_update_value_rdata(DNS_T_CNAME, v, sizeof v, out, sizeof out), 17);
    assert_int_equal(dns_update_value_rdata(DNS_T_NS, v, 16, out, sizeof out), -1);
    /* MX: preference + name. */
    memcpy(v, "\0\12\4mail\7example\3org\0", 20);
    assert_int_equal(dns_update_value_rdata(DNS_T_MX, v, sizeof v, out, sizeof out), 20);
    assert_memory_equal(out, v, 20);
    /* SOA as the OCaml client encodes it: RNAME compressed against MNAME. */
    static const uint8_t soa[] = "\2ns\7example\3org\0"
                                 "\12hostmaster\xc0\x03"
                                 "\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5";
    memset(v, 0xee, sizeof v);
    memcpy(v, soa, sizeof soa - 1);
    int n = dns_update_value_rdata(DNS_T_SOA, v, sizeof v, out, sizeof out);
    static const uint8_t want[] = "\2ns\7example\3org\0"
                                  "\12hostmaster\7example\3org\0"
                                  "\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, sizeof want - 1);
    /* Forward pointers and pointer loops are refused. */
    memcpy(v, "\xc0\x00", 2);
    assert_int_equal(dns_update_value_rdata(DNS_T_NS, v, 2, out, sizeof out), -1);
    memcpy(v, "\xc0\x05\0\0\0\0\0", 7);
    assert_int_equal(dns_update_value_rdata(DNS_T_NS, v, 7, out, sizeof out), -1);
    /* SRV: 6 bytes + target. */
    memcpy(v, "\0\1\0\2\0\x50\3sip\0\xff\xff", 13);
    assert_int_equal(dns_update_value_rdata(DNS_T_SRV, v, 13, out, sizeof out), 11);
    /* TXT: the whole value is the strings; OCaml's TXT "" is an empty value. */
    assert_int_equal(
        dns_update_value_rdata(DNS_T_TXT, (const uint8_t *)"\5hello\2hi", 9, out, sizeof out), 9);
    assert_int_equal(
        dns_update_value_rdata(DNS_T_TXT, (const uint8_t *)"\5hello\xee", 7, out, sizeof out), -1);
    assert_int_equal(dns_update_value_rdata(DNS_T_TXT, (const uint8_t *)"", 0, out, sizeof out), 1);
    assert_int_equal(out[0], 0);
    /* A 300-byte TXT as the OCaml client splits it: 255 + 45. */
    v[0] = 255;
    memset(v + 1, 'a', 255);
    v[256] = 45;
    memset(v + 257, 'b', 45);
    assert_int_equal(dns_update_value_rdata(DNS_T_TXT, v, 302, out, sizeof out), 302);
    /* CAA: whole value, tag checked. */
    assert_int_equal(dns_update_value_rdata(DNS_T_CAA, (const uint8_t *)"\0\5issueletsencrypt.org",
                                            22, out, sizeof out),
                     22);
    assert_int_equal(dns_update_value_rdata(DNS_T_CAA, (const uint8_t *)"\0\0", 2, out, sizeof out),
                     -1);
    assert_int_equal(
        dns_update_value_rdata(DNS_T_CAA, (const uint8_t *)"\0\5is-ue", 7, out, sizeof out), -1);
    /* DS with SHA-256: 4 + 32 taken from a longer buffer. */
    memset(v, 0x11, 100);
    v[3] = 2;
    assert_int_equal(dns_update_value_rdata(DNS_T_DS, v, 100, out, sizeof out), 36);
    assert_int_equal(dns_update_value_rdata(DNS_T_DS, v, 3, out, sizeof out), -1);
    /* Unknown types are opaque (RFC 3597): the whole value. */
    assert_int_equal(dns_update_value_rdata(65280, v, 100, out, sizeof out), 100);
    assert_int_equal(dns_update_value_rdata(DNS_T_ANY, v, 100, out, sizeof out), -1);
    assert_int_equal(dns_update_value_rdata(0, v, 100, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_apex_protection),
        cmocka_unit_test(test_soa_add_and_serials),
        cmocka_unit_test(test_cname),
        cmocka_unit_test(test_final_state),
        cmocka_unit_test(test_confinement),
        cmocka_unit_test(test_prereqs),
        cmocka_unit_test(test_atomicity),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_value_rdata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
