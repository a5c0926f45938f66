/* render (issue 12's query path): name compression in resp_name. The
 * shortcuts it takes for speed (the question's own buffer written as a
 * pointer, a word-at-a-time exact label compare before the case-folding one,
 * the labels written in one copy) must give the bytes the plain search gave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "dns/name.h"
#include "dns/render.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "util/buf.h"
#include "util/err.h"
#include <urcu-qsbr.h>

static uint8_t B[512];

#define HM                                                                                         \
    "\x0ahostmaster\x07"                                                                           \
    "example\x03org"
#define HM_UP                                                                                      \
    "\x0aHOSTMASTER\x07"                                                                           \
    "EXAMPLE\x03ORG"

/* A name whose long label differs only in case compresses to the first; one
 * that differs in a byte the case table does not fold does not. */
static void test_long_label_case(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, sizeof B);
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_true(resp_name(&r, (const uint8_t *)HM_UP, true));
    size_t at = r.len;
    assert_true(resp_name(&r, (const uint8_t *)HM, true));
    assert_int_equal(r.len - at, 2);
    assert_memory_equal(B + at, "\xc0\x0c", 2);
    /* "hostmastes": the same length, the last byte of the label's second word differs */
    at = r.len;
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x0ahostmastes\x07"
                                           "example\x03org",
                          true));
    assert_int_equal(r.len - at, 11 + 2); /* the label, then a pointer to example.org */
    assert_memory_equal(B + at + 11, "\xc0\x17", 2);
    /* "hostmaster" with its first byte differing (within the first word) */
    at = r.len;
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x0a_ostmaster\x07"
                                           "example\x03org",
                          true));
    assert_int_equal(r.len - at, 11 + 2);
    assert_memory_equal(B + at + 11, "\xc0\x17", 2);
}

/* The question's buffer is written as a pointer to where it was written;
 * an equal name in another buffer reaches the same pointer by the search. */
static void test_question_pointer(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, sizeof B);
    const uint8_t *q = (const uint8_t *)"\x03www\x07"
                                        "Example\x03org";
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_true(resp_name(&r, q, true));
    r.qname = q;
    r.qname_off = 12;
    size_t at = r.len;
    assert_true(resp_name(&r, q, true));
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x03WWW\x07"
                                           "example\x03ORG",
                          true));
    assert_int_equal(r.len - at, 4);
    assert_memory_equal(B + at, "\xc0\x0c\xc0\x0c", 4);
    /* uncompressed writes ignore it */
    at = r.len;
    assert_true(resp_name(&r, q, false));
    assert_int_equal(r.len - at, 17);
    assert_memory_equal(B + at, q, 17);
}

/* A name that does not fit leaves the packet and the compression table as
 * they were: no later name may point into bytes never written. */
static void test_failed_write(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, 20);
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_false(resp_name(&r, (const uint8_t *)HM, true));
    assert_int_equal(r.len, 12);
    assert_int_equal(r.ncomp, 0);
    r.fail = false;
    assert_true(resp_name(&r, (const uint8_t *)"\x03org", true));
    assert_int_equal(r.len, 17);
    assert_int_equal(r.ncomp, 1);
    assert_memory_equal(B + 12, "\x03org", 5);
}

/* One question (header, qname, type, class) in both buffers, then the
 * negative SOA: through the layout (a) and through resp_rrset (b). Then a
 * name that could compress against the SOA's. Returns whether the layout
 * wrote it; the bytes and the compression table must be the same. */
static bool negative_soa_same(const struct zone_version *v, const char *qtext, const char *after)
{
    static uint8_t a[512], b[512];
    uint8_t q[DNS_NAME_MAX], n[DNS_NAME_MAX];
    struct err e;
    assert_true(dns_name_from_text(qtext, NULL, q, &e) > 0);
    assert_true(dns_name_from_text(after, NULL, n, &e) > 0);
    struct resp ra, rb;
    resp_init(&ra, a, sizeof a);
    resp_init(&rb, b, sizeof b);
    struct resp *rs[2] = {&ra, &rb};
    for (int i = 0; i < 2; i++) {
        assert_true(resp_put(rs[i], "0123456789ab", 12));
        assert_true(resp_name(rs[i], q, true));
        rs[i]->qname = q, rs[i]->qname_off = 12;
        assert_true(resp_u16(rs[i], DNS_T_TXT) && resp_u16(rs[i], DNS_CLASS_IN));
    }
    const struct zone_soa_layout *l = &v->soa_layout;
    bool fast = resp_negative_soa(&ra, l, v->apex, dns_name_len(q), ra.ncomp);
    const struct dns_rrset *soa = zone_version_soa(v);
    const uint8_t *rd = rr_rdata(soa->rdata);
    uint32_t minimum = be32(rd + rr_rdlen(soa->rdata) - 4);
    assert_int_equal(resp_rrset(&rb, v->apex, soa, soa->ttl < minimum ? soa->ttl : minimum), 1);
    if (!fast)
        assert_int_equal(resp_rrset(&ra, v->apex, soa, soa->ttl < minimum ? soa->ttl : minimum), 1);
    for (int i = 0; i < 2; i++)
        assert_true(resp_name(rs[i], n, true));
    assert_int_equal(ra.len, rb.len);
    assert_memory_equal(a, b, ra.len);
    assert_int_equal(ra.ncomp, rb.ncomp);
    for (uint16_t i = 0; i < ra.ncomp; i++) {
        assert_int_equal(ra.comp[i].off, rb.comp[i].off);
        assert_int_equal(ra.comp[i].rest, rb.comp[i].rest);
    }
    return fast;
}

static struct zone *soa_zone(const char *soa)
{
    char text[256];
    snprintf(text, sizeof text, "$ORIGIN example.org.\n@ 3600 SOA %s 1 2 3 4 300\n@ NS ns1\n", soa);
    struct zone_version *v;
    struct err e;
    assert_int_equal(zone_load_string(text, "example.org", NULL, &v, &e), 0);
    struct zone *z = zone_new(v, &e); /* publishing lays the SOA out */
    assert_non_null(z);
    return z;
}

/* Frees *z (if any) and puts in its place a zone with this SOA's MNAME
 * and RNAME, whose SOA must be laid out or not; returns its version. */
static const struct zone_version *next_soa_zone(struct zone **z, const char *soa, bool laid_out)
{
    if (*z) zone_free(*z);
    *z = soa_zone(soa);
    const struct zone_version *v = zone_current(*z);
    assert_int_equal(v->soa_layout.soa != NULL, laid_out);
    return v;
}

/* The negative answer's SOA from its per-version layout: the bytes and the
 * compression entries of the general writer, for questions whose labels
 * can and cannot compress against MNAME and RNAME; the layout is used
 * where it is certain and left to the general path elsewhere. */
static void test_negative_soa_layout(void **st)
{
    (void)st;
    rcu_register_thread();
    struct zone *z = NULL;
    const struct zone_version *v = next_soa_zone(&z, "ns1 hostmaster", true);
    assert_true(negative_soa_same(v, "nx1.example.org.", "a.ns1.example.org."));
    assert_true(negative_soa_same(v, "a.B.Example.ORG.", "hostmaster.example.org."));
    assert_true(negative_soa_same(v, "EXAMPLE.org.", "x.hostmaster.example.org."));
    assert_true(negative_soa_same(v, "ns2.example.org.", "ns1.example.org."));
    assert_true(negative_soa_same(v, "a.ns1.x.example.org.", "ns1.x.example.org."));
    /* the question's last label before the apex is MNAME's or RNAME's */
    assert_false(negative_soa_same(v, "NS1.example.org.", "a.ns1.example.org."));
    assert_false(negative_soa_same(v, "a.ns1.example.org.", "b.ns1.example.org."));
    assert_false(negative_soa_same(v, "x.hostmaster.example.org.", "hostmaster.example.org."));
    /* MNAME the apex; RNAME under MNAME's label; names out of the zone */
    v = next_soa_zone(&z, "@ hostmaster", true);
    assert_true(negative_soa_same(v, "a.example.org.", "hostmaster.example.org."));
    assert_true(negative_soa_same(v, "example.org.", "example.org."));
    v = next_soa_zone(&z, "ns1 hostmaster.ns1", false);
    assert_false(negative_soa_same(v, "a.example.org.", "ns1.example.org."));
    v = next_soa_zone(&z, "ns1.example.net. hostmaster", false);
    assert_false(negative_soa_same(v, "a.example.org.", "example.net."));
    zone_free(z);
    rcu_unregister_thread();
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_long_label_case),
        cmocka_unit_test(test_negative_soa_layout),
        cmocka_unit_test(test_question_pointer),
        cmocka_unit_test(test_failed_write),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
