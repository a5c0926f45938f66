#include "dns/wire.h"
#include "dns/name.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Field layouts of the types that embed domain names (RFC 1035 §3.3,
 * RFC 1183, RFC 2163, RFC 2230, RFC 2535, RFC 2782, RFC 3403, RFC 4034,
 * RFC 6672). Every type here is in the RFC 4034 §6.2 list, so all their
 * names are lowercased in canonical form. */
/* Field lists, each ending in DNS_FIELD_END (static: returned by pointer). */
static const uint8_t f_name1[] = {DNS_FIELD_CNAME, DNS_FIELD_END};
static const uint8_t f_soa[] = {DNS_FIELD_CNAME, DNS_FIELD_CNAME, DNS_FIELD_FIX4, DNS_FIELD_FIX4,
                                DNS_FIELD_FIX4,  DNS_FIELD_FIX4,  DNS_FIELD_FIX4, DNS_FIELD_END};
static const uint8_t f_minfo[] = {DNS_FIELD_CNAME, DNS_FIELD_CNAME, DNS_FIELD_END};
static const uint8_t f_mx[] = {DNS_FIELD_FIX2, DNS_FIELD_CNAME, DNS_FIELD_END};
static const uint8_t f_rp[] = {DNS_FIELD_NAME, DNS_FIELD_NAME, DNS_FIELD_END};
static const uint8_t f_afsdb[] = {DNS_FIELD_FIX2, DNS_FIELD_NAME, DNS_FIELD_END};
static const uint8_t f_px[] = {DNS_FIELD_FIX2, DNS_FIELD_NAME, DNS_FIELD_NAME, DNS_FIELD_END};
static const uint8_t f_srv[] = {DNS_FIELD_FIX2, DNS_FIELD_FIX2, DNS_FIELD_FIX2, DNS_FIELD_NAME,
                                DNS_FIELD_END};
static const uint8_t f_naptr[] = {DNS_FIELD_FIX2, DNS_FIELD_FIX2, DNS_FIELD_STR, DNS_FIELD_STR,
                                  DNS_FIELD_STR,  DNS_FIELD_NAME, DNS_FIELD_END};
static const uint8_t f_dname[] = {DNS_FIELD_NAME, DNS_FIELD_END};
static const uint8_t f_sig[] = {DNS_FIELD_FIX18, DNS_FIELD_NAME, DNS_FIELD_REST, DNS_FIELD_END};
static const uint8_t f_nxt[] = {DNS_FIELD_NAME, DNS_FIELD_REST, DNS_FIELD_END};

static const uint8_t *fields_of(uint16_t t)
{
    switch (t) {
    case DNS_T_NS:
    case DNS_T_MD:
    case DNS_T_MF:
    case DNS_T_CNAME:
    case DNS_T_MB:
    case DNS_T_MG:
    case DNS_T_MR:
    case DNS_T_PTR:
        return f_name1;
    case DNS_T_SOA:
        return f_soa;
    case DNS_T_MINFO:
        return f_minfo;
    case DNS_T_MX:
        return f_mx;
    case DNS_T_RP:
        return f_rp;
    case DNS_T_AFSDB:
    case DNS_T_RT:
    case DNS_T_KX:
        return f_afsdb;
    case DNS_T_PX:
        return f_px;
    case DNS_T_SRV:
        return f_srv;
    case DNS_T_NAPTR:
        return f_naptr;
    case DNS_T_DNAME:
        return f_dname;
    case DNS_T_SIG:
    case DNS_T_RRSIG:
        return f_sig;
    case DNS_T_NXT:
        return f_nxt;
    default:
        return NULL;
    }
}

const uint8_t *dns_rdata_fields(uint16_t t)
{
    return fields_of(t);
}

bool dns_type_compressible(uint16_t t)
{
    switch (t) {
    case DNS_T_NS:
    case DNS_T_MD:
    case DNS_T_MF:
    case DNS_T_CNAME:
    case DNS_T_SOA:
    case DNS_T_MB:
    case DNS_T_MG:
    case DNS_T_MR:
    case DNS_T_PTR:
    case DNS_T_MINFO:
    case DNS_T_MX:
        return true;
    default:
        return false;
    }
}

int dns_rdata_target_offset(uint16_t t)
{
    switch (t) {
    case DNS_T_NS:
        return 0;
    case DNS_T_MX:
        return 2;
    case DNS_T_SRV:
        return 6;
    default:
        return -1;
    }
}

static size_t fixed_len(uint8_t f)
{
    switch (f) {
    case DNS_FIELD_FIX1:
        return 1;
    case DNS_FIELD_FIX2:
        return 2;
    case DNS_FIELD_FIX4:
        return 4;
    case DNS_FIELD_FIX18:
        return 18;
    default:
        return 0;
    }
}

bool dns_rdata_check(uint16_t t, const uint8_t *rd, size_t rdlen)
{
    if (t == DNS_T_A) return rdlen == 4;
    if (t == DNS_T_AAAA) return rdlen == 16;
    const uint8_t *f = fields_of(t);
    if (!f) return true;
    size_t pos = 0;
    for (; *f != DNS_FIELD_END; f++) {
        switch (*f) {
        case DNS_FIELD_CNAME:
        case DNS_FIELD_NAME: {
            size_t n = dns_name_check(rd + pos, rdlen - pos);
            if (!n) return false;
            pos += n;
            break;
        }
        case DNS_FIELD_STR:
            if (pos >= rdlen || pos + 1 + rd[pos] > rdlen) return false;
            pos += 1 + (size_t)rd[pos];
            break;
        case DNS_FIELD_REST:
            pos = rdlen;
            break;
        default:
            if (pos + fixed_len(*f) > rdlen) return false;
            pos += fixed_len(*f);
        }
    }
    return pos == rdlen;
}

int dns_rdata_walk(const uint8_t *f, const uint8_t *buf, size_t pos, size_t end, size_t *next,
                   uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (; *f != DNS_FIELD_END; f++) {
        size_t n;
        switch (*f) {
        case DNS_FIELD_CNAME:
        case DNS_FIELD_NAME: {
            uint8_t name[DNS_NAME_MAX];
            /* The name starts before end; pointers may go anywhere before it. */
            int nl = dns_name_unpack(buf, end, &pos, name);
            if (nl < 0 || (size_t)nl > cap - o) return -1;
            memcpy(out + o, name, (size_t)nl);
            o += (size_t)nl;
            continue;
        }
        case DNS_FIELD_STR:
            if (pos >= end) return -1;
            n = 1 + (size_t)buf[pos];
            break;
        case DNS_FIELD_REST:
            n = end - pos;
            break;
        default:
            n = fixed_len(*f);
            if (!n) return -1; /* not a field */
        }
        if (n > end - pos || n > cap - o) return -1;
        memcpy(out + o, buf + pos, n);
        o += n;
        pos += n;
    }
    *next = pos;
    return o <= 65535 ? (int)o : -1;
}

int dns_rdata_unpack(uint16_t t, const uint8_t *pkt, size_t len, size_t pos, size_t rdlen,
                     uint8_t *out, size_t cap)
{
    if (pos > len || rdlen > len - pos) return -1;
    const uint8_t *f = fields_of(t);
    if (!f) {
        if (rdlen > cap || !dns_rdata_check(t, pkt + pos, rdlen)) return -1;
        memcpy(out, pkt + pos, rdlen);
        return (int)rdlen;
    }
    size_t next;
    int n = dns_rdata_walk(f, pkt, pos, pos + rdlen, &next, out, cap);
    return n >= 0 && next == pos + rdlen ? n : -1;
}

/* Yields the bytes of an RDATA in canonical form (names lowercased) one at
 * a time, without copying it. Malformed RDATA is yielded as is. */
struct canon_iter {
    const uint8_t *rd, *f;
    size_t len, pos, seg_end;
    bool lower;
};

static int canon_next(struct canon_iter *it)
{
    if (it->pos >= it->len) return -1;
    while (it->pos >= it->seg_end) {
        it->lower = false;
        if (!it->f || *it->f == DNS_FIELD_END) {
            it->seg_end = it->len;
            break;
        }
        uint8_t f = *it->f++;
        size_t left = it->len - it->pos, n;
        switch (f) {
        case DNS_FIELD_CNAME:
        case DNS_FIELD_NAME:
            n = dns_name_check(it->rd + it->pos, left);
            if (!n) {
                it->f = NULL;
                n = left;
            } else {
                it->lower = true;
            }
            break;
        case DNS_FIELD_STR:
            n = 1 + (size_t)it->rd[it->pos];
            break;
        case DNS_FIELD_REST:
            n = left;
            break;
        default:
            n = fixed_len(f);
        }
        it->seg_end = it->pos + (n < left ? n : left);
    }
    uint8_t c = it->rd[it->pos++];
    if (it->lower && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
    return c;
}

void dns_rdata_canonicalize(uint16_t t, uint8_t *rd, size_t rdlen)
{
    struct canon_iter it = {rd, fields_of(t), rdlen, 0, 0, false};
    for (size_t i = 0; i < rdlen; i++)
        rd[i] = (uint8_t)canon_next(&it);
}

int dns_rdata_cmp(uint16_t t, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    const uint8_t *f = fields_of(t);
    if (!f) {
        size_t m = alen < blen ? alen : blen;
        int c = m ? memcmp(a, b, m) : 0;
        if (c) return c;
        return alen == blen ? 0 : (alen < blen ? -1 : 1);
    }
    struct canon_iter x = {a, f, alen, 0, 0, false}, y = {b, f, blen, 0, 0, false};
    for (;;) {
        int ca = canon_next(&x), cb = canon_next(&y);
        if (ca != cb) return ca < cb ? -1 : 1;
        if (ca < 0) return 0;
    }
}

static const struct {
    uint16_t t;
    const char *name;
} type_names[] = {
    {DNS_T_A, "A"},
    {DNS_T_NS, "NS"},
    {DNS_T_MD, "MD"},
    {DNS_T_MF, "MF"},
    {DNS_T_CNAME, "CNAME"},
    {DNS_T_SOA, "SOA"},
    {DNS_T_MB, "MB"},
    {DNS_T_MG, "MG"},
    {DNS_T_MR, "MR"},
    {DNS_T_NULL, "NULL"},
    {DNS_T_WKS, "WKS"},
    {DNS_T_PTR, "PTR"},
    {DNS_T_HINFO, "HINFO"},
    {DNS_T_MINFO, "MINFO"},
    {DNS_T_MX, "MX"},
    {DNS_T_TXT, "TXT"},
    {DNS_T_RP, "RP"},
    {DNS_T_AFSDB, "AFSDB"},
    {DNS_T_RT, "RT"},
    {DNS_T_SIG, "SIG"},
    {DNS_T_PX, "PX"},
    {DNS_T_AAAA, "AAAA"},
    {29, "LOC"},
    {DNS_T_NXT, "NXT"},
    {DNS_T_SRV, "SRV"},
    {DNS_T_NAPTR, "NAPTR"},
    {DNS_T_KX, "KX"},
    {37, "CERT"},
    {DNS_T_A6, "A6"},
    {DNS_T_DNAME, "DNAME"},
    {DNS_T_OPT, "OPT"},
    {42, "APL"},
    {DNS_T_DS, "DS"},
    {44, "SSHFP"},
    {45, "IPSECKEY"},
    {DNS_T_RRSIG, "RRSIG"},
    {DNS_T_NSEC, "NSEC"},
    {DNS_T_DNSKEY, "DNSKEY"},
    {49, "DHCID"},
    {DNS_T_NSEC3, "NSEC3"},
    {51, "NSEC3PARAM"},
    {52, "TLSA"},
    {53, "SMIMEA"},
    {59, "CDS"},
    {60, "CDNSKEY"},
    {61, "OPENPGPKEY"},
    {62, "CSYNC"},
    {63, "ZONEMD"},
    {DNS_T_SVCB, "SVCB"},
    {DNS_T_HTTPS, "HTTPS"},
    {99, "SPF"},
    {104, "NID"},
    {105, "L32"},
    {106, "L64"},
    {107, "LP"},
    {108, "EUI48"},
    {109, "EUI64"},
    {DNS_T_TKEY, "TKEY"},
    {DNS_T_TSIG, "TSIG"},
    {DNS_T_IXFR, "IXFR"},
    {DNS_T_AXFR, "AXFR"},
    {DNS_T_MAILB, "MAILB"},
    {DNS_T_MAILA, "MAILA"},
    {DNS_T_ANY, "ANY"},
    {256, "URI"},
    {DNS_T_CAA, "CAA"},
};

const char *dns_type_name(uint16_t t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].t == t) return type_names[i].name;
    return NULL;
}

const char *dns_type_to_text(uint16_t t, char buf[16])
{
    const char *n = dns_type_name(t);
    if (n)
        snprintf(buf, 16, "%s", n);
    else
        snprintf(buf, 16, "TYPE%u", (unsigned)t);
    return buf;
}

int dns_type_from_text(const char *s)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcasecmp(type_names[i].name, s) == 0) return type_names[i].t;
    if (strncasecmp(s, "TYPE", 4) == 0 && s[4]) {
        unsigned long v = 0;
        for (const char *p = s + 4; *p; p++) {
            if (*p < '0' || *p > '9') return -1;
            v = v * 10 + (unsigned long)(*p - '0');
            if (v > 65535) return -1;
        }
        return (int)v;
    }
    return -1;
}

const char *dns_rcode_name(uint16_t rcode)
{
    static const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                  "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < sizeof names / sizeof names[0]) return names[rcode];
    if (rcode == DNS_RC_BADVERS) return "BADVERS";
    return "RCODE?";
}
