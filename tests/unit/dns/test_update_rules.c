/* Unit tests of the RFC 2136 update engine (dns/update.h), continued from
 * test_update.c: confinement to the capability's domain, every
 * prerequisite and its exact error text, atomicity, bad input and the
 * value-to-RDATA rules. */
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
        cmocka_unit_test(test_confinement), cmocka_unit_test(test_prereqs),
        cmocka_unit_test(test_atomicity),   cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_value_rdata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
