/*
 * query: the authoritative query engine. One call per received packet:
 * parse, look up in the zone store, render the response into the caller's
 * buffer. No heap allocation, no locks, no logging: the caller logs from
 * struct query_info if it wants to.
 *
 * Behaviour (RFC 1034 §4.3.2 with RFC 2181, RFC 4592, RFC 6672):
 *  - AA set on answers from zone data (not on referrals, not on REFUSED).
 *  - CNAME chains are followed inside the zone of the query, never to a name
 *    already visited, and at most DNS_CNAME_CHAIN_MAX CNAME/DNAME
 *    redirections are written (5, as Knot 3.2 does); a target outside the
 *    zone ends the chain (the resolver follows it). Queries for RRSIG or NSEC
 *    at a CNAME owner do not follow it (those types may sit beside a CNAME).
 *  - Wildcards per RFC 4592 (closest encloser, empty non-terminals block
 *    synthesis, wildcard CNAMEs), owner name synthesised from the query.
 *  - NXDOMAIN / NODATA carry the apex SOA in authority with
 *    TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
 *  - At or below a zone cut: referral (NS in authority, in-zone A/AAAA glue
 *    in additional, AA clear), except DS at the cut itself, which is answered
 *    from the parent side.
 *  - DNAME (RFC 6672): DNAME RR plus a synthesised CNAME (TTL of the DNAME),
 *    then the target is chased in-zone like a CNAME target; YXDOMAIN if the
 *    synthesised name would exceed 255 bytes.
 *  - Additional section: A and AAAA of in-zone NS, MX and SRV targets
 *    (exact or wildcard matches, glue below cuts included), each RRset
 *    written only if it fits; a referral whose glue below the cut does not
 *    fit sets TC (RFC 9471 §3.1).
 *  - ANY (RFC 8482 §4.2): we answer with ONE RRset of the node, the one with
 *    the lowest type number (CNAME if the node has one), over UDP and TCP
 *    alike. Deterministic and small.
 *  - Names outside every served zone: REFUSED (no AA). Opcodes other than
 *    QUERY: NOTIMP. Malformed queries that still have a header: FORMERR.
 *    QDCOUNT 0 : FORMERR; QDCOUNT > 1: FORMERR (RFC 9619). Packets with QR
 *    set get no answer (dns_answer returns 0). Class ANY is answered like IN
 *    (RFC 1035 §3.2.5), other classes: REFUSED. QTYPE 0, TSIG, TKEY: NOTIMP.
 *    AXFR/IXFR: NOTIMP over UDP, REFUSED over TCP (zone transfers are served
 *    by a different path, with access control, later). Other meta QTYPEs
 *    (OPT, MAILA, MAILB) are looked up like any type, as Knot does.
 *  - EDNS(0) (RFC 6891): a query with OPT gets OPT in the response with our
 *    UDP size 1232, version 0, DO bit copied (we do not sign, so DO only
 *    echoes), no options. Version > 0: BADVERS. More than one OPT, OPT not
 *    in additional or with a non-root owner: FORMERR.
 *  - UDP size limit: 512 without EDNS, else the client's EDNS size (at least
 *    512), in both cases at most outcap. (1232 is only what we advertise as
 *    our own receive size.) Over it, the response is cut at an RRset boundary
 *    and TC is set: answer RRsets written so far stay, nothing after them is
 *    added. Authority RRsets (SOA, referral NS) that do not fit also set TC;
 *    additional RRsets that do not fit are left out without TC (RFC 2181
 *    §9). Over TCP the limit is outcap (at most 65535).
 *  - Names are compressed on output (owner names and names in RDATA of the
 *    RFC 1035 types); the question is echoed byte for byte, so its case is
 *    preserved, and answers owned by the query name point at it.
 */
#ifndef CEON_DNS_QUERY_H
#define CEON_DNS_QUERY_H
#include "dns/zone.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_CNAME_CHAIN_MAX 5

/* What happened, for logging and statistics. Filled as far as the query was
 * understood (qname_len 0 if the question could not be read). */
struct query_info {
    uint16_t id;
    uint16_t qtype, qclass;
    uint16_t rcode; /* response rcode incl. extended bits (e.g. 16 BADVERS) */
    uint16_t opcode;
    uint8_t qname[DNS_NAME_MAX]; /* as received (case preserved), uncompressed */
    uint16_t qname_len;
    bool tc;            /* response truncated */
    bool aa;            /* response authoritative */
    bool edns;          /* query had OPT */
    uint16_t edns_size; /* client's advertised UDP size (0 if no EDNS) */
    uint16_t ancount, nscount, arcount;
};

/*
 * Parses query q (qlen bytes), answers from the zone set zs (the caller is
 * inside an RCU read-side section: see dns/zone.h), writes the response into
 * out (at most outcap bytes; over UDP further limited to 512 or the client's
 * EDNS size) and returns its length, or 0 if nothing must be sent (the
 * packet is a response, or too short to hold a header). zs may be NULL
 * (treated as no zones). qi may be NULL. outcap should be at least 512; with
 * less the engine still never writes past outcap.
 */
size_t dns_answer(const struct zone_set *zs, const uint8_t *q, size_t qlen, uint8_t *out,
                  size_t outcap, bool over_tcp, struct query_info *qi);
#endif
