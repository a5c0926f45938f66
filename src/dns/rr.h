/*
 * rr: one resource record in uncompressed wire form, and parsing a record
 * from presentation text with libzscanner (so every type libzscanner knows
 * is accepted, exactly as in a zone file).
 */
#ifndef CEON_DNS_RR_H
#define CEON_DNS_RR_H
#include "dns/name.h"
#include "util/err.h"
#include <stdint.h>

/* A self-contained record (about 64 KiB: allocate it, do not put several
 * on a small stack). */
struct dns_rr {
    uint8_t owner[DNS_NAME_MAX];
    uint16_t owner_len;
    uint16_t type, rclass;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t rdata[65535];
};

/*
 * Parses one record given as separate presentation fields, e.g.
 *   dns_rr_parse_text("mail", "MX", "10 mail.example.org.", 3600, origin, rr, e)
 * owner may be relative to origin (origin NULL: owner must be absolute, "@"
 * is then invalid); type is a mnemonic or TYPEnnn; value is the RDATA text in
 * zone-file syntax (relative names in it are relative to origin; RFC 3597
 * "\# len hex" is accepted for any type). The class is IN.
 * Fills *rr and returns 0, or returns -1 with a one-line reason in e.
 */
int dns_rr_parse_text(const char *owner, const char *type, const char *value, uint32_t ttl,
                      const uint8_t *origin, struct dns_rr *rr, struct err *e);

/* Same, for one whole zone-file line "owner [ttl] [class] type rdata" with
 * default_ttl used when the line has none. */
int dns_rr_parse_line(const char *line, const uint8_t *origin, uint32_t default_ttl,
                      struct dns_rr *rr, struct err *e);
#endif
