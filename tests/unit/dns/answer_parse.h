/* A DNS response parser for the query tests, written from RFC 1035 alone:
 * it uses none of ceon's name, RDATA or buffer code, so a mistake in
 * those cannot be repeated here and cancel out. Names come out in
 * presentation form, lowercased (names compare without case); RDATA of
 * the types the tests use comes out as the zone-file text a person would
 * write, anything else in the RFC 3597 form (\# LEN HEX).
 *
 * A malformed response fails the running cmocka test. */
#ifndef CEON_TEST_ANSWER_PARSE_H
#define CEON_TEST_ANSWER_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AP_TEXT 1100 /* room for the text of any RDATA the tests query */

struct prr {
    uint8_t owner[256]; /* owner as a wire name, decompressed, case kept */
    char owner_text[1100];
    size_t owner_at; /* where the owner starts in the packet */
    uint16_t type, rclass;
    uint32_t ttl;
    uint16_t rdlen;     /* on the wire */
    uint8_t rd[2048];   /* RDATA as on the wire (names may be pointers) */
    char text[AP_TEXT]; /* RDATA in presentation form */
};

struct msg {
    size_t len;
    uint16_t id, flags;
    uint16_t qd;
    uint8_t qname_raw[256];
    uint16_t qtype;
    int n[3]; /* answer, authority, additional (OPT not counted) */
    struct prr rr[3][64];
    bool opt;
    uint16_t opt_size;
    uint32_t opt_ttl;
    uint16_t opt_rdlen;
};

/* Parses the response p[0..len) into *m; everything must be consumed. */
void ap_parse(struct msg *m, const uint8_t *p, size_t len);

/* Big-endian fields, written out so the tests need no project helper. */
static inline uint16_t ap_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t ap_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ap_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Text name ("a.b." or "a.b", no escapes) to wire form; returns its length. */
size_t ap_name_wire(const char *text, uint8_t *out);
/* Type mnemonic ("A", "SOA", "TYPE65000") to its number; 0 if unknown. */
uint16_t ap_type(const char *mnemonic);
#endif
