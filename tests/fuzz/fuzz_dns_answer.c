/*
 * fuzz_dns_answer: parse a query and answer it, against a fixed zone.
 *
 * Input: one control byte, then the query packet. Control bit 0 picks UDP
 * or TCP, bits 1-2 the output buffer size handed to dns_answer (512, 1232,
 * 4096, 65535).
 *
 * Checked on every response:
 *  - it never exceeds outcap, and over UDP never exceeds what the query
 *    allows: 512 bytes without EDNS, max(512, the EDNS size) with it. The
 *    OPT record is looked for by this file's own walk of the query, not
 *    taken from the engine;
 *  - it parses back completely: header with QR set and the query's ID,
 *    exactly QDCOUNT+ANCOUNT+NSCOUNT+ARCOUNT records, every name (with
 *    compression pointers) and every RDATA (names in RDATA decompressed)
 *    valid, nothing left over;
 *  - the engine is deterministic: the same query answers the same bytes.
 */
#include "dns/name.h"
#include "dns/query.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "fuzz_check.h"

/* The fixed zones: every rule of the engine has a name to hit (the same
 * shapes as tests/e2e/zones/example.com.zone, smaller). */
static const char zone_com[] =
    "$ORIGIN example.com.\n"
    "$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\n"
    "@ NS ns2.example.net.\n"
    "@ MX 10 mail\n"
    "@ A 192.0.2.1\n"
    "@ AAAA 2001:db8::1\n"
    "@ TXT \"apex\"\n"
    "ns1 A 192.0.2.53\n"
    "ns1 AAAA 2001:db8::53\n"
    "mail A 192.0.2.25\n"
    "www A 192.0.2.80\n"
    "www A 192.0.2.81\n"
    "www AAAA 2001:db8::80\n"
    "unknown TYPE65400 \\# 2 abcd\n"
    "alias CNAME www\n"
    "chain CNAME alias\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "out CNAME www.example.net.\n"
    "x.y.ent A 192.0.2.10\n"
    "*.wild A 192.0.2.100\n"
    "*.wild MX 10 mail\n"
    "blocked.wild TXT \"b\"\n"
    "*.wcname CNAME www\n"
    "child NS ns1.child\n"
    "child NS ns.example.net.\n"
    "child DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
    "ns1.child A 192.0.2.201\n"
    "dn DNAME example.net.\n"
    "dni DNAME inner\n"
    "www.inner A 192.0.2.150\n"
    "long DNAME "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.\n"
    "_sip._tcp SRV 10 60 5060 mail\n"
    "big TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "big TXT \"7123456789012345678901234567890123456789012345678901234567890123456789\"\n";
static const char zone_net[] = "$ORIGIN example.net.\n"
                               "$TTL 300\n"
                               "@ SOA ns admin 7 3600 600 86400 3600\n"
                               "@ NS ns\n"
                               "ns A 198.51.100.53\n"
                               "* TXT \"apex wildcard\"\n";

static struct zone_set_handle zones;

static void add_zone(const char *text, const char *name)
{
    struct err e;
    struct zone_version *v;
    if (zone_load_string(text, name, NULL, &v, &e) < 0) {
        fprintf(stderr, "fuzz_dns_answer: %s\n", e.msg);
        abort();
    }
    struct zone *z = zone_new(v, &e);
    if (!z || zone_set_add(&zones, z, &e) < 0) {
        fprintf(stderr, "fuzz_dns_answer: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    zone_set_handle_init(&zones);
    add_zone(zone_com, "example.com");
    add_zone(zone_net, "example.net");
    /* registered only after the writes above: a registered, online thread
     * must not wait for its own grace period */
    rcu_register_thread();
    return 0;
}

/* Skips one (possibly compressed) name; false if malformed. */
static bool skip_name(const uint8_t *p, size_t len, size_t *pos)
{
    uint8_t name[DNS_NAME_MAX];
    return dns_name_unpack(p, len, pos, name) >= 0;
}

/* The EDNS UDP size of query q, or 0 if this walk finds no OPT record. */
static size_t query_edns_size(const uint8_t *q, size_t len)
{
    if (len < DNS_HEADER_LEN) return 0;
    size_t pos = DNS_HEADER_LEN;
    for (size_t i = 0; i < be16(q + 4); i++) {
        if (!skip_name(q, len, &pos) || len - pos < 4) return 0;
        pos += 4;
    }
    size_t rrs = (size_t)be16(q + 6) + be16(q + 8) + be16(q + 10);
    for (size_t i = 0; i < rrs; i++) {
        if (!skip_name(q, len, &pos) || len - pos < 10) return 0;
        uint16_t type = be16(q + pos), rdlen = be16(q + pos + 8);
        if (type == DNS_T_OPT) return be16(q + pos + 2);
        pos += 10;
        if (len - pos < rdlen) return 0;
        pos += rdlen;
    }
    return 0;
}

/* Parses the response completely; aborts on anything malformed. */
static void check_response(const uint8_t *r, size_t len, const uint8_t *q)
{
    static uint8_t rd[65536 + 512];
    CHECK(len >= DNS_HEADER_LEN);
    CHECK(memcmp(r, q, 2) == 0);
    uint16_t flags = be16(r + 2);
    CHECK(flags & DNS_F_QR);
    size_t pos = DNS_HEADER_LEN;
    for (size_t i = 0; i < be16(r + 4); i++) {
        CHECK(skip_name(r, len, &pos));
        CHECK(len - pos >= 4);
        pos += 4;
    }
    size_t rrs = (size_t)be16(r + 6) + be16(r + 8) + be16(r + 10);
    size_t opts = 0;
    for (size_t i = 0; i < rrs; i++) {
        CHECK(skip_name(r, len, &pos));
        CHECK(len - pos >= 10);
        uint16_t type = be16(r + pos), rdlen = be16(r + pos + 8);
        pos += 10;
        CHECK(len - pos >= rdlen);
        if (type == DNS_T_OPT) {
            opts++;
        } else {
            int n = dns_rdata_unpack(type, r, len, pos, rdlen, rd, sizeof rd);
            CHECK(n >= 0);
            if (dns_rdata_fields(type)) CHECK(dns_rdata_check(type, rd, (size_t)n));
        }
        pos += rdlen;
    }
    CHECK(pos == len);
    CHECK(opts <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = {512, 1232, 4096, 65535};
    static uint8_t out[65535], again[65535];
    if (size < 1) return 0;
    bool tcp = data[0] & 1;
    size_t outcap = caps[(data[0] >> 1) & 3];
    const uint8_t *q = data + 1;
    size_t qlen = size - 1;

    rcu_read_lock();
    const struct zone_set *zs = zone_set_current(&zones);
    struct query_info qi;
    size_t n = dns_answer(zs, q, qlen, out, outcap, tcp, &qi);
    size_t n2 = dns_answer(zs, q, qlen, again, outcap, tcp, NULL);
    rcu_read_unlock();
    rcu_quiescent_state();

    CHECK(n == n2 && memcmp(out, again, n) == 0);
    if (n == 0) return 0;
    CHECK(n <= outcap);
    if (!tcp) {
        size_t edns = query_edns_size(q, qlen);
        size_t limit = edns ? (edns < 512 ? 512 : edns) : 512;
        if (n > limit) fprintf(stderr, "UDP response of %zu bytes, query allows %zu\n", n, limit);
        CHECK(n <= limit);
    }
    check_response(out, n, q);
    return 0;
}
