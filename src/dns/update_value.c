/*
 * Taking RDATA out of an update's `value` (see dns_update_value_rdata in
 * update.h). The value comes from the network, so every read is bounded by
 * vlen and every write by cap.
 */
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include <string.h>

enum {
    T_HINFO = 13,
    T_SPF = 99,
    T_LOC = 29,
    T_NID = 104,
    T_L32 = 105,
    T_L64 = 106,
    T_EUI48 = 108,
    T_EUI64 = 109,
    T_KEY = 25,
    T_SSHFP = 44,
    T_TLSA = 52,
    T_SMIMEA = 53,
    T_CDS = 59,
    T_CDNSKEY = 60,
    T_TA = 32768,
    T_DLV = 32769,
};

static int copy_prefix(const uint8_t *v, size_t vlen, size_t n, uint8_t *out, size_t cap)
{
    if (n > vlen || n > cap || n > 65535) return -1;
    memcpy(out, v, n);
    return (int)n;
}

/* Length of the fixed-size opaque types, 0 if t is not one. */
static size_t fixed_size(uint16_t t, const uint8_t *v, size_t vlen)
{
    switch (t) {
    case DNS_T_A:
        return 4;
    case DNS_T_AAAA:
        return 16;
    case T_EUI48:
        return 6;
    case T_EUI64:
        return 8;
    case T_L32:
        return 6;
    case T_L64:
    case T_NID:
        return 10;
    case T_LOC:
        /* RFC 1876: only version 0 is defined, and it is 16 bytes. */
        return vlen >= 1 && v[0] == 0 ? 16 : 0;
    default:
        return 0;
    }
}

/* The fields of list f from the front of the value; the rest is ignored. */
static int walk_fields(const uint8_t *f, const uint8_t *v, size_t vlen, uint8_t *out, size_t cap)
{
    size_t next;
    return dns_rdata_walk(f, v, 0, vlen, &next, out, cap);
}

/* TXT/SPF: the whole value, a sequence of <character-string>s. */
static int char_strings(const uint8_t *v, size_t vlen, uint8_t *out, size_t cap)
{
    if (vlen == 0) {
        if (cap < 1) return -1;
        out[0] = 0;
        return 1;
    }
    for (size_t pos = 0; pos < vlen; pos += 1 + (size_t)v[pos])
        if (1 + (size_t)v[pos] > vlen - pos) return -1;
    return copy_prefix(v, vlen, vlen, out, cap);
}

/* Digest length of DS-like records (RFC 4034, 4509, 5933, 6605), 0 if the
 * digest type does not fix it. */
static size_t ds_digest_len(uint8_t digest_type)
{
    switch (digest_type) {
    case 1:
        return 20; /* SHA-1 */
    case 2:
        return 32; /* SHA-256 */
    case 3:
        return 32; /* GOST R 34.11-94 */
    case 4:
        return 48; /* SHA-384 */
    default:
        return 0;
    }
}

/* Types whose fixed header we check, and whose trailing digest length the
 * header may determine. Returns the RDATA length, or -1 if malformed, or 0
 * to mean "the whole value". */
static long structured(uint16_t t, const uint8_t *v, size_t vlen)
{
    size_t d;
    switch (t) {
    case DNS_T_DS:
    case T_CDS:
    case T_TA:
    case T_DLV:
        if (vlen < 4) return -1;
        d = ds_digest_len(v[3]);
        return d ? (long)(4 + d) : 0;
    case T_SSHFP: /* RFC 4255, 6594 */
        if (vlen < 2) return -1;
        d = v[1] == 1 ? 20 : v[1] == 2 ? 32 : 0;
        return d ? (long)(2 + d) : 0;
    case T_TLSA: /* RFC 6698, 8162 */
    case T_SMIMEA:
        if (vlen < 3) return -1;
        d = v[2] == 1 ? 32 : v[2] == 2 ? 64 : 0;
        return d ? (long)(3 + d) : 0;
    case DNS_T_DNSKEY:
    case T_CDNSKEY:
    case T_KEY:
        return vlen < 4 ? -1 : 0;
    case DNS_T_CAA: { /* RFC 8659: flags, tag length (1..), tag (alphanumeric), value */
        if (vlen < 2 || v[1] == 0 || (size_t)v[1] > vlen - 2) return -1;
        for (size_t i = 0; i < v[1]; i++) {
            uint8_t c = v[2 + i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                return -1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

int dns_update_value_rdata(uint16_t t, const uint8_t *v, size_t vlen, uint8_t *out, size_t cap)
{
    if (t == 0 || dns_type_is_meta(t)) return -1;
    if (!v) vlen = 0;
    size_t fs = fixed_size(t, v, vlen);
    if (fs) return copy_prefix(v, vlen, fs, out, cap);
    if (t == DNS_T_A || t == DNS_T_AAAA || t == T_LOC) return -1; /* LOC other than version 0 */
    if (t == DNS_T_TXT || t == T_SPF) return char_strings(v, vlen, out, cap);
    if (t == T_HINFO) {
        static const uint8_t f[] = {DNS_FIELD_STR, DNS_FIELD_STR, DNS_FIELD_END};
        return walk_fields(f, v, vlen, out, cap);
    }
    const uint8_t *f = dns_rdata_fields(t);
    if (f) {
        int n = walk_fields(f, v, vlen, out, cap);
        if (n < 0 || !dns_rdata_check(t, out, (size_t)n)) return -1;
        return n;
    }
    long s = structured(t, v, vlen);
    if (s < 0) return -1;
    return copy_prefix(v, vlen, s ? (size_t)s : vlen, out, cap);
}
