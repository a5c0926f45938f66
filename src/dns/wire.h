/*
 * wire: DNS message constants (RFC 1035 §4.1, RFC 6891) and what the rest of
 * the dns layer needs to know about RDATA layouts: which types embed domain
 * names (for compression on output, for decompression of received RDATA,
 * for canonical form, and for additional-section processing).
 *
 * Types not listed here are opaque (RFC 3597): their RDATA is copied
 * byte for byte and never compressed.
 */
#ifndef CEON_DNS_WIRE_H
#define CEON_DNS_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_UDP_DEFAULT 512      /* RFC 1035 limit without EDNS */
#define DNS_EDNS_ADVERTISED 1232 /* our EDNS UDP payload size (DNS flag day 2020) */

enum dns_class { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_NONE = 254, DNS_CLASS_ANY = 255 };

enum dns_type {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_MD = 3,
    DNS_T_MF = 4,
    DNS_T_CNAME = 5,
    DNS_T_SOA = 6,
    DNS_T_MB = 7,
    DNS_T_MG = 8,
    DNS_T_MR = 9,
    DNS_T_NULL = 10,
    DNS_T_WKS = 11,
    DNS_T_PTR = 12,
    DNS_T_HINFO = 13,
    DNS_T_MINFO = 14,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_RP = 17,
    DNS_T_AFSDB = 18,
    DNS_T_RT = 21,
    DNS_T_SIG = 24,
    DNS_T_PX = 26,
    DNS_T_AAAA = 28,
    DNS_T_NXT = 30,
    DNS_T_SRV = 33,
    DNS_T_NAPTR = 35,
    DNS_T_KX = 36,
    DNS_T_A6 = 38,
    DNS_T_DNAME = 39,
    DNS_T_OPT = 41,
    DNS_T_DS = 43,
    DNS_T_RRSIG = 46,
    DNS_T_NSEC = 47,
    DNS_T_DNSKEY = 48,
    DNS_T_NSEC3 = 50,
    DNS_T_SVCB = 64,
    DNS_T_HTTPS = 65,
    DNS_T_TKEY = 249,
    DNS_T_TSIG = 250,
    DNS_T_IXFR = 251,
    DNS_T_AXFR = 252,
    DNS_T_MAILB = 253,
    DNS_T_MAILA = 254,
    DNS_T_ANY = 255,
    DNS_T_CAA = 257,
};

enum dns_opcode {
    DNS_OP_QUERY = 0,
    DNS_OP_IQUERY = 1,
    DNS_OP_STATUS = 2,
    DNS_OP_NOTIFY = 4,
    DNS_OP_UPDATE = 5
};

enum dns_rcode {
    DNS_RC_NOERROR = 0,
    DNS_RC_FORMERR = 1,
    DNS_RC_SERVFAIL = 2,
    DNS_RC_NXDOMAIN = 3,
    DNS_RC_NOTIMP = 4,
    DNS_RC_REFUSED = 5,
    DNS_RC_YXDOMAIN = 6,
    DNS_RC_YXRRSET = 7,
    DNS_RC_NXRRSET = 8,
    DNS_RC_NOTAUTH = 9,
    DNS_RC_NOTZONE = 10,
    DNS_RC_BADVERS = 16, /* extended rcode: needs an OPT record */
};

/* Header flag bits in the 16-bit flags word (bytes 2-3). */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_AD 0x0020
#define DNS_F_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags)&0xf)

/* Meta types and QTYPE-only values (RFC 6895 §3.1): never stored in a zone. */
static inline bool dns_type_is_meta(uint16_t t)
{
    return t == DNS_T_OPT || (t >= 128 && t <= 255);
}

/*
 * RDATA layout descriptors. Each known type is a list of fields; names are
 * the only fields whose length depends on content. "Compressible" names
 * (RFC 3597 §4: only the RFC 1035 types) may be written with compression
 * pointers and must be decompressed when read from a packet.
 */
enum dns_field {
    DNS_FIELD_END = 0,
    DNS_FIELD_CNAME, /* domain name, compressible on output */
    DNS_FIELD_NAME,  /* domain name, never compressed; lowercased in canonical form */
    DNS_FIELD_FIX1,  /* 1 opaque byte */
    DNS_FIELD_FIX2,  /* 2 opaque bytes */
    DNS_FIELD_FIX4,  /* 4 opaque bytes */
    DNS_FIELD_FIX18, /* 18 opaque bytes (RRSIG fixed part) */
    DNS_FIELD_STR,   /* <character-string>: length byte + bytes */
    DNS_FIELD_REST,  /* everything that is left */
};

/* The field list of type t, or NULL if the type has no embedded names (its
 * RDATA is opaque for every purpose here). */
const uint8_t *dns_rdata_fields(uint16_t t);

/* True if names in t's RDATA may be compressed on output (RFC 3597 §4). */
bool dns_type_compressible(uint16_t t);

/* For additional-section processing (RFC 1034 §4.3.2 step 6, RFC 2782):
 * the offset of the target host name inside one RR's RDATA of type t (NS: 0,
 * MX: 2, SRV: 6), or -1 if t triggers no additional processing. */
int dns_rdata_target_offset(uint16_t t);

/* Validates untrusted RDATA of type t (rdlen bytes, uncompressed): every
 * field present, names well formed, nothing left over for fixed layouts.
 * Opaque types are always valid. */
bool dns_rdata_check(uint16_t t, const uint8_t *rd, size_t rdlen);

/* Reads RDATA of type t that starts at pkt[pos] and is rdlen bytes in the
 * packet, decompressing embedded names of compressible types, into out
 * (cap bytes). Returns the uncompressed length, or -1 if malformed or too
 * large. */
int dns_rdata_unpack(uint16_t t, const uint8_t *pkt, size_t len, size_t pos, size_t rdlen,
                     uint8_t *out, size_t cap);

/* What dns_rdata_unpack and dns_update_value_rdata share: walks the field
 * list f over buf[pos..end), writing the fields to out (cap bytes) with
 * names expanded (a compression pointer may point anywhere in buf before
 * it). Sets *next to the position after the last field; what follows is
 * the caller's business. Returns the uncompressed length, or -1 if a field
 * is malformed or the result exceeds cap or 65535 bytes. */
int dns_rdata_walk(const uint8_t *f, const uint8_t *buf, size_t pos, size_t end, size_t *next,
                   uint8_t *out, size_t cap);

/* Canonical form of RDATA (RFC 4034 §6.2, as amended by RFC 6840 §5.1):
 * embedded names of the listed types lowercased, in place. */
void dns_rdata_canonicalize(uint16_t t, uint8_t *rd, size_t rdlen);

/* Compares two RDATAs of type t in canonical form (RFC 4034 §6.3) without
 * modifying them: the ordering used for RRs inside an RRset, and the
 * equality used for "this RR is already present". */
int dns_rdata_cmp(uint16_t t, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Mnemonic of type t ("A", "MX", ...) or NULL if it has none (then print
 * TYPEnnn, RFC 3597 §5). dns_type_to_text always writes something (buf must
 * hold 16 bytes) and returns buf. */
const char *dns_type_name(uint16_t t);
const char *dns_type_to_text(uint16_t t, char buf[16]);
/* Parses "MX", "mx", "TYPE15". Returns the type, or -1 if unknown. */
int dns_type_from_text(const char *s);
const char *dns_rcode_name(uint16_t rcode);
#endif
