/*
 * fuzz_dns_packet: the DNS message parser on arbitrary bytes.
 *
 * Walks the input as a DNS message the way the query engine and later the
 * update engine do: header, questions, then every RR with its owner name
 * (dns_name_unpack, compression pointers included) and its RDATA
 * (dns_rdata_unpack, which decompresses names embedded in RDATA).
 *
 * Checked on every name that parses: it is a valid uncompressed wire name
 * (dns_name_check agrees on its length), the read position stays inside the
 * packet and moves forward, and presentation form round-trips to the same
 * bytes. Checked on every RDATA that unpacks: it fits the output buffer and
 * passes dns_rdata_check for its type, and canonicalising it keeps it valid.
 */
#include "dns/name.h"
#include "dns/wire.h"
#include "util/buf.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

/* Reads one name at *pos and checks its invariants. Returns false when the
 * packet is malformed there (then the walk stops). */
static bool read_name(const uint8_t *pkt, size_t len, size_t *pos)
{
    uint8_t name[DNS_NAME_MAX];
    size_t before = *pos;
    int n = dns_name_unpack(pkt, len, pos, name);
    if (n < 0) return false;
    CHECK(n >= 1 && n <= DNS_NAME_MAX);
    CHECK(*pos > before && *pos <= len);
    CHECK(dns_name_check(name, (size_t)n) == (size_t)n);
    CHECK(dns_name_len(name) == (size_t)n);
    CHECK(dns_name_labels(name) <= 127);

    /* presentation form and back gives the same bytes, case included */
    char text[DNS_NAME_TEXT_MAX];
    int tl = dns_name_to_text(name, text, sizeof text);
    CHECK(tl > 0);
    uint8_t back[DNS_NAME_MAX];
    struct err e;
    int bl = dns_name_from_text(text, NULL, back, &e);
    CHECK(bl == n);
    CHECK(memcmp(back, name, (size_t)n) == 0);

    /* lowercase copy: same length, equal ignoring case, same hash domain */
    uint8_t low[DNS_NAME_MAX];
    CHECK(dns_name_lower(low, name) == (size_t)n);
    CHECK(dns_name_equal(low, name));
    CHECK(dns_name_cmp(low, name) == 0);
    CHECK(dns_name_is_subdomain(name, low + (n > 1 ? 1 + low[0] : 0)));
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < DNS_HEADER_LEN) return 0;
    size_t counts[4] = {be16(data + 4), be16(data + 6), be16(data + 8), be16(data + 10)};
    size_t pos = DNS_HEADER_LEN;

    for (size_t i = 0; i < counts[0]; i++) {
        if (!read_name(data, size, &pos) || size - pos < 4) return 0;
        pos += 4;
    }
    static uint8_t rd[65536 + 512];
    for (int s = 1; s < 4; s++) {
        for (size_t i = 0; i < counts[s]; i++) {
            if (!read_name(data, size, &pos) || size - pos < 10) return 0;
            uint16_t type = be16(data + pos);
            uint16_t rdlen = be16(data + pos + 8);
            pos += 10;
            if (size - pos < rdlen) return 0;
            int n = dns_rdata_unpack(type, data, size, pos, rdlen, rd, sizeof rd);
            if (n >= 0) {
                CHECK((size_t)n <= sizeof rd);
                if (dns_rdata_fields(type) && !dns_type_is_meta(type)) {
                    CHECK(dns_rdata_check(type, rd, (size_t)n));
                    dns_rdata_canonicalize(type, rd, (size_t)n);
                    CHECK(dns_rdata_check(type, rd, (size_t)n));
                    CHECK(dns_rdata_cmp(type, rd, (size_t)n, rd, (size_t)n) == 0);
                }
            }
            pos += rdlen;
        }
    }
    return 0;
}
