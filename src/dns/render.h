/*
 * render: writing a DNS response into a caller buffer, with name
 * compression (private to src/dns). Everything lives in struct resp, on the
 * caller's stack: no allocation. Writes never pass `cap`; an RRset either
 * goes in whole or not at all (the caller decides about TC).
 */
#ifndef CEON_DNS_RENDER_H
#define CEON_DNS_RENDER_H
#include "dns/zone.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_COMP_MAX 96 /* remembered name positions for compression */

struct resp {
    uint8_t *p;
    size_t len, cap;
    bool fail; /* the last write did not fit */
    /* The question's name as written at qname_off (NULL: none): the owner of
     * most answers is that very buffer, written as a pointer without a
     * search. */
    const uint8_t *qname;
    uint16_t qname_off;
    uint16_t ncomp;
    struct {
        uint16_t off; /* position of a label in the packet */
        uint8_t rest; /* uncompressed bytes from there to the end of the name */
    } comp[RESP_COMP_MAX];
};

void resp_init(struct resp *r, uint8_t *buf, size_t cap);
bool resp_put(struct resp *r, const void *d, size_t n);
bool resp_u16(struct resp *r, uint16_t v);
bool resp_u32(struct resp *r, uint32_t v);
/* Writes name n (uncompressed wire); with compress, reuses the longest
 * suffix already in the packet (matched case-insensitively, RFC 1035
 * §4.1.4) and remembers the new labels for later names. */
bool resp_name(struct resp *r, const uint8_t *n, bool compress);
/* Writes one name of RDATA (uncompressed wire); the writer's compression. */
typedef bool (*resp_name_fn)(struct resp *r, const uint8_t *n, void *arg);
/* Writes RDATA of `type` (validated when its version was built): the
 * embedded names of the RFC 1035 types through name(r, n, arg), the rest
 * as is. The one RDATA field walk of the query path and of transfers. */
bool resp_rdata(struct resp *r, uint16_t type, const uint8_t *rd, uint16_t rdlen, resp_name_fn name,
                void *arg);
/* Writes one RR (class IN): owner, type, TTL, RDATA with the embedded names
 * of RFC 1035 types compressed. All or nothing: on failure the packet and
 * the compression table are as before. */
bool resp_rr(struct resp *r, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
             uint16_t rdlen);
/* Writes a whole RRset with owner `owner` and TTL ttl (callers pass s->ttl
 * or an override such as the negative-answer SOA TTL). All or nothing: on
 * failure the packet and the compression table are as before. Returns the
 * number of RRs written (0 = did not fit). */
int resp_rrset(struct resp *r, const uint8_t *owner, const struct dns_rrset *s, uint32_t ttl);
/* The negative answer's SOA (owner the apex) from its per-version layout,
 * written when nothing but the question is in the packet: qname (qlen
 * bytes, at r->qname_off, its labels the first q_ncomp entries of the
 * compression table) ends in the apex. Writes the very bytes resp_rrset
 * would and remembers the same positions; returns false, having written
 * nothing, whenever that is not certain (then resp_rrset answers). */
bool resp_negative_soa(struct resp *r, const struct zone_soa_layout *l, const uint8_t *apex,
                       size_t qlen, uint16_t q_ncomp);
#endif
