#include "dns/name.h"
#include <ctype.h>
#include <string.h>

#define L4(c) c, c + 1, c + 2, c + 3
#define L16(c) L4(c), L4(c + 4), L4(c + 8), L4(c + 12)
#define L64(c) L16(c), L16(c + 16), L16(c + 32), L16(c + 48)
const uint8_t dns_lower_tab[256] = {
    L64(0), '@', L16('a'), L4('a' + 16), L4('a' + 20), 'y',      'z',      '[',
    '\\',   ']', '^',      '_',          L16(96),      L16(112), L64(128), L64(192),
};
#undef L4
#undef L16
#undef L64

static inline uint8_t lower(uint8_t c)
{
    return dns_lower_tab[c];
}

size_t dns_name_len(const uint8_t *n)
{
    const uint8_t *p = n;
    while (*p)
        p += *p + 1;
    return (size_t)(p - n) + 1;
}

size_t dns_name_check(const uint8_t *p, size_t max)
{
    size_t i = 0;
    for (;;) {
        if (i >= max || i >= DNS_NAME_MAX) return 0;
        uint8_t l = p[i];
        if (l == 0) return i + 1;
        if (l > DNS_LABEL_MAX) return 0;
        i += 1 + (size_t)l;
    }
}

int dns_name_from_text(const char *text, const uint8_t *origin, uint8_t out[DNS_NAME_MAX],
                       struct err *e)
{
    const char *s = text;
    size_t len = 0; /* bytes written to out */
    if (!*s) return err_set(e, "empty domain name");
    if (strcmp(s, "@") == 0) {
        if (!origin) return err_set(e, "'@' used without an origin");
        size_t ol = dns_name_len(origin);
        memcpy(out, origin, ol);
        return (int)ol;
    }
    if (strcmp(s, ".") == 0) {
        out[0] = 0;
        return 1;
    }
    bool absolute = false;
    while (*s) {
        size_t lpos = len++;
        uint8_t llen = 0;
        if (*s == '.') return err_set(e, "empty label in domain name '%s'", text);
        while (*s && *s != '.') {
            int c;
            if (*s == '\\') {
                s++;
                if (isdigit((unsigned char)s[0])) {
                    if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
                        return err_set(e, "bad \\DDD escape in domain name '%s'", text);
                    c = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
                    if (c > 255)
                        return err_set(e, "\\DDD escape above 255 in domain name '%s'", text);
                    s += 3;
                } else if (*s) {
                    c = (unsigned char)*s++;
                } else {
                    return err_set(e, "trailing backslash in domain name '%s'", text);
                }
            } else {
                c = (unsigned char)*s++;
            }
            if (llen == DNS_LABEL_MAX)
                return err_set(e, "label longer than 63 bytes in domain name '%s'", text);
            if (len + 1 >= DNS_NAME_MAX)
                return err_set(e, "domain name '%s' longer than 255 bytes", text);
            out[len++] = (uint8_t)c;
            llen++;
        }
        out[lpos] = llen;
        if (*s == '.') {
            s++;
            if (!*s) absolute = true;
        }
    }
    if (absolute) {
        out[len++] = 0;
        return (int)len;
    }
    if (!origin) return err_set(e, "relative domain name '%s' without an origin", text);
    size_t ol = dns_name_len(origin);
    if (len + ol > DNS_NAME_MAX)
        return err_set(e, "domain name '%s' longer than 255 bytes with the origin", text);
    memcpy(out + len, origin, ol);
    return (int)(len + ol);
}

int dns_name_to_text(const uint8_t *n, char *out, size_t cap)
{
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 >= cap) goto full;                                                               \
        out[o++] = (ch);                                                                           \
    } while (0)
    if (!*n) {
        PUT('.');
        out[o] = 0;
        return (int)o;
    }
    while (*n) {
        uint8_t l = *n++;
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = *n++;
            if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
                c == '$') {
                PUT('\\');
                PUT((char)c);
            } else if (c <= ' ' || c >= 127) {
                PUT('\\');
                PUT((char)('0' + c / 100));
                PUT((char)('0' + c / 10 % 10));
                PUT((char)('0' + c % 10));
            } else {
                PUT((char)c);
            }
        }
        PUT('.');
    }
    out[o] = 0;
    return (int)o;
full:
    if (cap) out[o < cap ? o : cap - 1] = 0;
    return -1;
#undef PUT
}

/* Eight bytes lowered at once: a byte gets 0x20 when it is 'A'..'Z' (the
 * case table's only change). a keeps each byte's low 7 bits so no sum
 * carries into the next byte; bytes with the top bit set are left alone. */
static inline uint64_t lower8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t a = x & 0x7f * ones;
    uint64_t upper = (a + (0x80 - 'A') * ones) & ~(a + (0x80 - 'Z' - 1) * ones) & ~x & 0x80 * ones;
    return x | upper >> 2;
}

size_t dns_name_lower(uint8_t *dst, const uint8_t *n)
{
    size_t len = dns_name_len(n);
    dns_name_lower_len(dst, n, len);
    return len;
}

void dns_name_lower_len(uint8_t *dst, const uint8_t *n, size_t len)
{
    /* The whole name, length bytes included: they are at most 63 and
     * never in 'A'..'Z'. dst may be n. */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, n + i, 8);
        x = lower8(x);
        memcpy(dst + i, &x, 8);
    }
    for (; i < len; i++)
        dst[i] = lower(n[i]);
}

int dns_name_labels(const uint8_t *n)
{
    int c = 0;
    while (*n) {
        n += *n + 1;
        c++;
    }
    return c;
}

bool dns_name_equal(const uint8_t *a, const uint8_t *b)
{
    for (;;) {
        if (*a != *b) return false;
        uint8_t l = *a;
        if (!l) return true;
        a++, b++;
        for (uint8_t i = 0; i < l; i++)
            if (lower(a[i]) != lower(b[i])) return false;
        a += l, b += l;
    }
}

const uint8_t *dns_name_skip(const uint8_t *n, int skip)
{
    while (skip-- > 0 && *n)
        n += *n + 1;
    return n;
}

int dns_name_cmp(const uint8_t *a, const uint8_t *b)
{
    /* Collect label offsets, then compare from the rightmost label. */
    const uint8_t *la[128], *lb[128];
    int na = 0, nb = 0;
    for (const uint8_t *p = a; *p; p += *p + 1)
        la[na++] = p;
    for (const uint8_t *p = b; *p; p += *p + 1)
        lb[nb++] = p;
    while (na > 0 && nb > 0) {
        const uint8_t *x = la[--na], *y = lb[--nb];
        uint8_t lx = x[0], ly = y[0];
        uint8_t m = lx < ly ? lx : ly;
        for (uint8_t i = 1; i <= m; i++) {
            uint8_t cx = lower(x[i]), cy = lower(y[i]);
            if (cx != cy) return cx < cy ? -1 : 1;
        }
        if (lx != ly) return lx < ly ? -1 : 1;
    }
    return na == nb ? 0 : (na < nb ? -1 : 1);
}

bool dns_name_is_subdomain(const uint8_t *name, const uint8_t *parent)
{
    int d = dns_name_labels(name) - dns_name_labels(parent);
    if (d < 0) return false;
    return dns_name_equal(dns_name_skip(name, d), parent);
}

int dns_name_unpack(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[DNS_NAME_MAX])
{
    size_t p = *pos, o = 0;
    size_t end = 0; /* position after the name where it started */
    bool jumped = false;
    size_t lowest = p; /* pointers must go strictly below every position seen */
    for (;;) {
        if (p >= len) return -1;
        uint8_t l = pkt[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= len) return -1;
            size_t target = (size_t)(l & 0x3f) << 8 | pkt[p + 1];
            if (!jumped) {
                end = p + 2;
                jumped = true;
            }
            if (target >= lowest) return -1;
            lowest = target;
            p = target;
            continue;
        }
        if (l & 0xc0) return -1; /* 0x40 and 0x80: extended / reserved label types */
        if (o + 1 + l > DNS_NAME_MAX) return -1;
        if (l == 0) {
            out[o++] = 0;
            *pos = jumped ? end : p + 1;
            return (int)o;
        }
        if (p + 1 + l > len) return -1;
        memcpy(out + o, pkt + p, 1 + (size_t)l);
        o += 1 + (size_t)l;
        p += 1 + (size_t)l;
    }
}

uint32_t dns_name_hash(const uint8_t *lname, size_t len)
{
    /* 8 bytes per step, multiply-xorshift mixing: names are short and this
     * runs several times per query. Any function works as long as it is
     * the same for the store and the lookup. */
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, lname + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, lname + i, len - i);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
    }
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}
