#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dns/name.h"
#include "dns/wire.h"

static int from(const char *t, const uint8_t *origin, uint8_t *out)
{
    struct err e;
    return dns_name_from_text(t, origin, out, &e);
}

static void test_text_roundtrip(void **st)
{
    (void)st;
    uint8_t n[DNS_NAME_MAX];
    char t[DNS_NAME_TEXT_MAX];
    assert_int_equal(from("www.Example.org.", NULL, n), 17);
    assert_memory_equal(n, "\3www\7Example\3org\0", 17);
    assert_int_equal(dns_name_to_text(n, t, sizeof t), 16);
    assert_string_equal(t, "www.Example.org.");
    assert_int_equal(from(".", NULL, n), 1);
    assert_int_equal(n[0], 0);
    dns_name_to_text(n, t, sizeof t);
    assert_string_equal(t, ".");
    /* escapes: \. inside a label, \DDD, and printing them back */
    assert_int_equal(from("a\\.b.c\\032d\\\\.", NULL, n), 10);
    assert_memory_equal(n, "\3a.b\4c d\\\0", 10);
    dns_name_to_text(n, t, sizeof t);
    assert_string_equal(t, "a\\.b.c\\032d\\\\.");
    /* non-printable bytes come back as \DDD */
    assert_int_equal(from("\\000\\255x.", NULL, n), 5);
    dns_name_to_text(n, t, sizeof t);
    assert_string_equal(t, "\\000\\255x.");
    /* too small a buffer */
    assert_int_equal(dns_name_to_text(n, t, 4), -1);
    assert_int_equal(strlen(t), 3);
}

static void test_text_relative_and_errors(void **st)
{
    (void)st;
    uint8_t o[DNS_NAME_MAX], n[DNS_NAME_MAX];
    from("example.org.", NULL, o);
    assert_int_equal(from("www", o, n), 17);
    assert_true(dns_name_equal(n, (const uint8_t *)"\3www\7example\3org"));
    assert_int_equal(from("@", o, n), 13);
    assert_int_equal(from("www", NULL, n), -1); /* relative without origin */
    assert_int_equal(from("@", NULL, n), -1);
    assert_int_equal(from("a..b.", NULL, n), -1);
    assert_int_equal(from("", NULL, n), -1);
    assert_int_equal(from("\\256.", NULL, n), -1);
    assert_int_equal(from("\\25", NULL, n), -1);
    assert_int_equal(from("a\\", NULL, n), -1);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".");
    assert_int_equal(from(label, NULL, n), -1); /* 64-byte label */
    label[63] = '.';
    label[64] = 0;
    assert_int_equal(from(label, NULL, n), 65); /* 63 is fine */
    /* 255 bytes is the limit: 4 labels of 63 = 256 bytes with root: too long */
    char longname[300] = "";
    for (int i = 0; i < 4; i++) {
        strncat(longname, label, sizeof longname - strlen(longname) - 1);
    }
    assert_int_equal(from(longname, NULL, n), -1);
    /* 3x63 + one 61-byte label = 3*64 + 62 + 1 = 255 bytes: fits */
    char ok[300] = "";
    for (int i = 0; i < 3; i++)
        strcat(ok, label);
    strcat(ok, label + 2);
    assert_int_equal(from(ok, NULL, n), 255);
    ok[strlen(ok) - 1] = 0; /* relative, plus origin "org." makes it too long */
    from("org.", NULL, o);
    assert_int_equal(from(ok, o, n), -1);
}

static void test_compare(void **st)
{
    (void)st;
    /* RFC 4034 §6.1 example, in canonical order */
    const char *order[] = {"example.",         "a.example.",      "yljkjljk.a.example.",
                           "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
                           "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
    uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX];
    for (size_t i = 0; i < 9; i++)
        for (size_t k = 0; k < 9; k++) {
            from(order[i], NULL, a);
            from(order[k], NULL, b);
            int c = dns_name_cmp(a, b);
            if (i < k)
                assert_true(c < 0);
            else if (i > k)
                assert_true(c > 0);
            else
                assert_int_equal(c, 0);
        }
    from("WWW.example.ORG.", NULL, a);
    from("www.EXAMPLE.org.", NULL, b);
    assert_true(dns_name_equal(a, b));
    assert_int_equal(dns_name_cmp(a, b), 0);
    uint8_t l[DNS_NAME_MAX];
    assert_int_equal(dns_name_lower(l, a), 17);
    assert_memory_equal(l, "\3www\7example\3org\0", 17);
    assert_int_equal(dns_name_labels(a), 3);
    assert_int_equal(dns_name_labels((const uint8_t *)""), 0);
    from("example.org.", NULL, b);
    assert_true(dns_name_is_subdomain(a, b));
    assert_true(dns_name_is_subdomain(b, b));
    assert_false(dns_name_is_subdomain(b, a));
    from("xample.org.", NULL, b);
    assert_false(dns_name_is_subdomain(a, b));
    assert_true(dns_name_is_subdomain(a, (const uint8_t *)""));
    assert_memory_equal(dns_name_skip(a, 1), "\7example\3ORG\0", 13);
}

static void test_check(void **st)
{
    (void)st;
    assert_int_equal(dns_name_check((const uint8_t *)"\3www\0", 5), 5);
    assert_int_equal(dns_name_check((const uint8_t *)"\3www\0", 4), 0);  /* root label missing */
    assert_int_equal(dns_name_check((const uint8_t *)"\xc0\x0c", 2), 0); /* pointers not allowed */
    assert_int_equal(dns_name_check((const uint8_t *)"\x40", 1), 0);
}

static void test_unpack(void **st)
{
    (void)st;
    uint8_t pkt[64] = {0};
    /* offset 12: www.example.org; offset 29: mail + pointer to example.org */
    memcpy(pkt + 12, "\3www\7example\3org\0", 17);
    memcpy(pkt + 29, "\4mail\xc0\x10", 7);
    uint8_t out[DNS_NAME_MAX];
    size_t pos = 29;
    assert_int_equal(dns_name_unpack(pkt, 36, &pos, out), 18);
    assert_int_equal(pos, 36);
    assert_memory_equal(out, "\4mail\7example\3org\0", 18);
    pos = 12;
    assert_int_equal(dns_name_unpack(pkt, 36, &pos, out), 17);
    assert_int_equal(pos, 29);

    /* a pointer to itself, a forward pointer, and a two-pointer loop */
    uint8_t loop[20] = {0};
    loop[12] = 0xc0, loop[13] = 12;
    pos = 12;
    assert_int_equal(dns_name_unpack(loop, 14, &pos, out), -1);
    loop[13] = 14, loop[14] = 0;
    pos = 12;
    assert_int_equal(dns_name_unpack(loop, 15, &pos, out), -1);
    loop[12] = 0xc0, loop[13] = 14, loop[14] = 0xc0, loop[15] = 12;
    pos = 14;
    assert_int_equal(dns_name_unpack(loop, 16, &pos, out), -1);
    /* label running past the end, pointer cut in half, reserved types */
    uint8_t cut[] = {5, 'a', 'b'};
    pos = 0;
    assert_int_equal(dns_name_unpack(cut, sizeof cut, &pos, out), -1);
    uint8_t half[] = {1, 'a', 0xc0};
    pos = 0;
    assert_int_equal(dns_name_unpack(half, sizeof half, &pos, out), -1);
    uint8_t ext[] = {0x41, 0};
    pos = 0;
    assert_int_equal(dns_name_unpack(ext, sizeof ext, &pos, out), -1);
    pos = 5;
    assert_int_equal(dns_name_unpack(ext, sizeof ext, &pos, out), -1); /* start out of bounds */

    /* pointers that chain backwards to build a name longer than 255 bytes */
    uint8_t big[600];
    size_t o = 0;
    big[o++] = 0;
    size_t prev = 0;
    for (int i = 0; i < 5; i++) {
        size_t here = o;
        big[o++] = 63;
        memset(big + o, 'a', 63);
        o += 63;
        big[o++] = (uint8_t)(0xc0 | prev >> 8);
        big[o++] = (uint8_t)prev;
        prev = here;
    }
    pos = prev;
    assert_int_equal(dns_name_unpack(big, o, &pos, out), -1);
}

/* dns_name_lower (eight bytes at a time) against the case table byte by
 * byte: every byte value in labels of every length up to 63, at every
 * alignment, in place and into another buffer. */
static void test_lower_every_byte(void **st)
{
    (void)st;
    uint8_t n[DNS_NAME_MAX], out[DNS_NAME_MAX], want[DNS_NAME_MAX];
    for (int start = 0; start < 256; start += 7)
        for (int l = 1; l <= 63; l++) {
            size_t len = 0;
            n[len++] = (uint8_t)l; /* a label of l bytes, then 3, then the root */
            for (int k = 0; k < l; k++)
                n[len++] = (uint8_t)(start + k);
            n[len++] = 3;
            memcpy(n + len, "A\xc1z", 3);
            len += 3;
            n[len++] = 0;
            for (size_t i = 0; i < len; i++)
                want[i] = dns_lower(n[i]);
            for (size_t i = 0; i < len; i += 1 + want[i]) /* length bytes kept */
                want[i] = n[i];
            assert_int_equal(dns_name_lower(out, n), len);
            assert_memory_equal(out, want, len);
            assert_int_equal(dns_name_lower(n, n), len);
            assert_memory_equal(n, want, len);
        }
}

static void test_types(void **st)
{
    (void)st;
    char b[16];
    assert_string_equal(dns_type_to_text(DNS_T_MX, b), "MX");
    assert_string_equal(dns_type_to_text(65000, b), "TYPE65000");
    assert_int_equal(dns_type_from_text("aaaa"), DNS_T_AAAA);
    assert_int_equal(dns_type_from_text("TYPE65000"), 65000);
    assert_int_equal(dns_type_from_text("TYPE65536"), -1);
    assert_int_equal(dns_type_from_text("BOGUS"), -1);
    /* RDATA validation and canonical comparison */
    assert_true(dns_rdata_check(DNS_T_MX, (const uint8_t *)"\0\12\4mail\0", 8));
    assert_false(dns_rdata_check(DNS_T_MX, (const uint8_t *)"\0\12\4mail", 7));
    assert_false(dns_rdata_check(DNS_T_A, (const uint8_t *)"\1\2\3", 3));
    assert_int_equal(
        dns_rdata_cmp(DNS_T_NS, (const uint8_t *)"\2NS\0", 4, (const uint8_t *)"\2ns\0", 4), 0);
    assert_true(dns_rdata_cmp(DNS_T_TXT, (const uint8_t *)"\2NS", 3, (const uint8_t *)"\2ns", 3) <
                0);
    uint8_t soa[] = "\3NS1\0\2HM\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5";
    dns_rdata_canonicalize(DNS_T_SOA, soa, 29);
    assert_memory_equal(soa, "\3ns1\0\2hm\0", 9);
    /* RDATA with a compressed name read from a packet */
    uint8_t pkt[40] = {0};
    memcpy(pkt + 12, "\3www\7example\3org\0", 17);
    memcpy(pkt + 29, "\0\12\4mail\xc0\x10", 9);
    uint8_t rd[64];
    assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 38, 29, 9, rd, sizeof rd), 20);
    assert_memory_equal(rd, "\0\12\4mail\7example\3org\0", 20);
    assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 38, 29, 8, rd, sizeof rd), -1);
    assert_int_equal(dns_rdata_unpack(DNS_T_MX, pkt, 38, 29, 10, rd, sizeof rd), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_roundtrip),   cmocka_unit_test(test_text_relative_and_errors),
        cmocka_unit_test(test_compare),          cmocka_unit_test(test_check),
        cmocka_unit_test(test_unpack),           cmocka_unit_test(test_types),
        cmocka_unit_test(test_lower_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
