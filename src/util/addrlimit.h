/*
 * Per-source-address connection counts, shared by the DNS-over-TCP
 * server (net) and the RPC vat (rpc), which both accept from anyone: one
 * address (an IPv4 /32, an IPv6 /64 by default: a single host usually
 * has a whole /64) may hold at most `max` connections at once, so one
 * client cannot take every slot.
 *
 * A plain array scanned linearly: it holds at most one entry per open
 * connection (a few hundred), and is touched only on accept and close.
 */
#ifndef CEON_UTIL_ADDRLIMIT_H
#define CEON_UTIL_ADDRLIMIT_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "util/xalloc.h"

/* An address prefix: family byte + 16 address bytes, masked. */
struct addr_key {
    uint8_t b[17];
};

struct addr_limit_entry {
    struct addr_key key;
    uint32_t n;
};

struct addr_limit {
    struct addr_limit_entry *e;
    uint32_t len, cap;
    uint32_t max;             /* per prefix; 0 = no limit */
    uint8_t v4_bits, v6_bits; /* prefix lengths */
};

static inline void addr_limit_init(struct addr_limit *l, uint32_t max, uint8_t v4_bits,
                                   uint8_t v6_bits)
{
    memset(l, 0, sizeof *l);
    l->max = max;
    l->v4_bits = v4_bits && v4_bits <= 32 ? v4_bits : 32;
    l->v6_bits = v6_bits && v6_bits <= 128 ? v6_bits : 64;
}

static inline void addr_limit_free(struct addr_limit *l)
{
    free(l->e);
    l->e = NULL;
    l->len = l->cap = 0;
}

/* The masked key of sa; false for families without an address (unix). */
static inline bool addr_limit_key(const struct addr_limit *l, const struct sockaddr *sa,
                                  struct addr_key *k)
{
    memset(k, 0, sizeof *k);
    const uint8_t *a;
    unsigned bits, len;
    if (sa->sa_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        bits = l->v4_bits;
        len = 4;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        a = a6->s6_addr;
        bits = l->v6_bits;
        len = 16;
        /* An IPv4 client on a dual-stack socket counts as IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            a += 12;
            bits = l->v4_bits;
            len = 4;
        }
    } else {
        return false;
    }
    k->b[0] = len == 4 ? 4 : 6;
    for (unsigned i = 0; i < len && bits; i++) {
        unsigned take = bits >= 8 ? 8 : bits;
        k->b[1 + i] = (uint8_t)(a[i] & (0xff00u >> take));
        bits -= take;
    }
    return true;
}

/* Counts one more connection from k: false (nothing counted) when the
 * prefix is at its limit. */
static inline bool addr_limit_acquire(struct addr_limit *l, const struct addr_key *k)
{
    for (uint32_t i = 0; i < l->len; i++)
        if (memcmp(l->e[i].key.b, k->b, sizeof k->b) == 0) {
            if (l->max && l->e[i].n >= l->max) return false;
            l->e[i].n++;
            return true;
        }
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->e = xrealloc(l->e, sizeof *l->e * l->cap);
    }
    l->e[l->len].key = *k;
    l->e[l->len++].n = 1;
    return true;
}

static inline void addr_limit_release(struct addr_limit *l, const struct addr_key *k)
{
    for (uint32_t i = 0; i < l->len; i++)
        if (memcmp(l->e[i].key.b, k->b, sizeof k->b) == 0) {
            if (--l->e[i].n == 0) l->e[i] = l->e[--l->len];
            return;
        }
}

/* Connections counted for k now. */
static inline uint32_t addr_limit_count(const struct addr_limit *l, const struct addr_key *k)
{
    for (uint32_t i = 0; i < l->len; i++)
        if (memcmp(l->e[i].key.b, k->b, sizeof k->b) == 0) return l->e[i].n;
    return 0;
}
#endif
