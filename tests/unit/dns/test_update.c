/* Unit tests of the RFC 2136 update engine (dns/update.h): every update
 * kind, the apex's protection, SOA serial arithmetic, the CNAME rule and
 * the rules judged on the final state. Confinement, prerequisites,
 * atomicity, bad input and value-to-RDATA: test_update_rules.c. */
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

#include "update_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_apex_protection),
        cmocka_unit_test(test_soa_add_and_serials),
        cmocka_unit_test(test_cname),
        cmocka_unit_test(test_final_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
