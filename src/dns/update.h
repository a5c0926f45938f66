/*
 * update: the RFC 2136 update engine behind Domain.update.
 *
 * Callers give native C prerequisites and updates (the eon layer converts
 * from Cap'n Proto). dns_update_apply evaluates them against the zone's
 * current version and, if every prerequisite holds, computes one change
 * set, appends it to the journal (durable, fsync'd), and only then publishes
 * the new version. Either everything is applied or nothing is. Concurrent
 * updates share one journal transaction and fsync (group commit, see
 * journal.h) but are still applied one after the other, each seeing the
 * ones before it.
 *
 * Semantics (RFC 2136 §2.4, §2.5, §3.2, §3.4, with the differences noted):
 *  - Every owner must be `confine` or below it, else the update fails with
 *    "name N is outside C" and nothing is evaluated further.
 *  - Prerequisites are all checked against the version current when the
 *    update starts, in order; the first that fails is reported.
 *      EXISTS          an RRset of that type exists at owner;
 *      EXISTS_DATA     value dependent (§2.4.2): all EXISTS_DATA prereqs for one
 *                      owner and type together must equal that RRset exactly
 *                      (RDATA compared in canonical form, TTL ignored);
 *      NOT_EXISTS      no RRset of that type at owner;
 *      NAME_IN_USE     owner has at least one RR (an empty non-terminal is not
 *                      in use, §2.4.4);
 *      NOT_NAME_IN_USE owner has no RR.
 *  - Updates are applied in order, each seeing the effect of the previous:
 *      ADD           adds one RR; an RR already present (canonical RDATA
 *                    equality) is not added twice, but a different TTL
 *                    updates the TTL of the whole RRset (§3.4.2.2, RFC 2181
 *                    §5.2: an RRset has one TTL, the last one given wins).
 *                    A CNAME, DNAME or SOA replaces an existing one at that
 *                    owner.
 *      REMOVE_RRSET  removes the RRset owner/type (absent: no-op);
 *      REMOVE_ALL    removes every RRset at owner; at the apex the SOA and NS
 *                    RRsets are kept (§3.4.2.3);
 *      REMOVE_RR     removes the one RR with that RDATA (absent: no-op).
 *    Where RFC 2136 silently ignores an update that cannot be applied, we
 *    fail the whole update with a message instead, because the caller gets
 *    success=true and would believe it happened. These rules are checked on
 *    the state the whole update leaves (RFC 2136 applies an update as a
 *    unit), so a later update in the same request may repair what an
 *    earlier one did: removing the apex NS RRset and then adding new NS
 *    records is accepted. Refused are final states where
 *      the apex has no SOA (it was removed and no new one added);
 *      the apex had NS records and has none (the message says whether the
 *      RRset was removed as a whole or RR by RR);
 *      a name has a CNAME and other data (RRSIG and NSEC may share a
 *      CNAME's owner, RFC 4035 §2.5); the message names the side the
 *      update added last;
 *      a name below the apex has an SOA;
 *      the apex SOA was set by the update with a serial not newer (RFC
 *      1982) than the zone's before the update.
 *    Names are checked in the order the update first touches them.
 *  - The SOA serial is incremented once per update that changes something
 *    (RFC 1982: 0xffffffff + 1 = 0), unless the update itself set a newer SOA,
 *    whose serial is then used as is.
 *    An update that changes nothing succeeds without a new serial.
 *  - Meta types (ANY, AXFR, OPT, ...) and type 0 are refused everywhere; a
 *    TTL above 2^31-1 is refused (RFC 2181 §8).
 *
 * RDATA: `rdata`/`rdlen` of a dns_prereq or dns_update is the raw Cap'n Proto
 * `value`: uncompressed wire RDATA that may be followed by unrelated bytes
 * (the OCaml client sends a 4096-byte buffer for most types). See
 * dns_update_value_rdata for how the RDATA is taken from it.
 *
 * Error texts are part of the interface (tests and clients match them):
 *   name evil.example.org is outside test.example.org
 *   prerequisite failed: test.example.org A does not exist
 *   prerequisite failed: test.example.org A exists
 *   prerequisite failed: test.example.org A differs from the given records
 *   prerequisite failed: name test.example.org is not in use
 *   prerequisite failed: name test.example.org is in use
 *   malformed RDATA for MX at test.example.org
 *   type ANY cannot be used in an update (at test.example.org)
 *   type ANY cannot be used in a prerequisite (at test.example.org)
 *   TTL 4294967295 of test.example.org A is above the maximum 2147483647
 *   cannot remove the apex SOA of example.org
 *   cannot remove the NS records at the apex of example.org
 *   cannot remove the last NS record at the apex of example.org
 *   cannot add CNAME at www.example.org: the name has other records
 *   cannot add A at www.example.org: the name has a CNAME
 *   SOA records are only allowed at the apex example.org, not at x.example.org
 *   SOA serial 5 is not newer than the current serial 7 of example.org
 *   journal: <reason>            (nothing was published)
 * Names are printed in presentation form without the trailing dot.
 */
#ifndef CEON_DNS_UPDATE_H
#define CEON_DNS_UPDATE_H
#include "dns/zone.h"
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

enum dns_prereq_kind {
    DNS_PREREQ_EXISTS,
    DNS_PREREQ_EXISTS_DATA,
    DNS_PREREQ_NOT_EXISTS,
    DNS_PREREQ_NAME_IN_USE,
    DNS_PREREQ_NOT_NAME_IN_USE
};
struct dns_prereq {
    enum dns_prereq_kind kind;
    const uint8_t *owner; /* valid wire name, any case */
    uint16_t type;        /* EXISTS, EXISTS_DATA, NOT_EXISTS */
    const uint8_t *rdata; /* EXISTS_DATA: the raw value */
    uint16_t rdlen;
};

enum dns_update_kind {
    DNS_UPDATE_ADD,
    DNS_UPDATE_REMOVE_RRSET,
    DNS_UPDATE_REMOVE_ALL,
    DNS_UPDATE_REMOVE_RR
};
struct dns_update {
    enum dns_update_kind kind;
    const uint8_t *owner; /* valid wire name, any case */
    uint16_t type;        /* ADD, REMOVE_RRSET, REMOVE_RR */
    uint32_t ttl;         /* ADD */
    const uint8_t *rdata; /* ADD, REMOVE_RR: the raw value */
    uint16_t rdlen;
};

/*
 * Applies the update atomically to zone z (see the top of this file).
 * confine: wire name, the capability's domain (must be the apex of z or
 * below it). j: the zone's journal, or NULL for an update that is not made
 * durable (tests, capd without a state dir). On success returns 0 and sets
 * *new_serial to the serial now published (the old one if nothing changed);
 * the change is durable before the new version is published. On failure
 * returns -1 with the message in e, and the zone and journal are unchanged.
 * Takes z's writer lock; must not be called by a thread that holds pointers
 * into the zone store (zone_publish waits for an RCU grace period).
 */
int dns_update_apply(struct zone *z, const uint8_t *confine, const struct dns_prereq *p, size_t np,
                     const struct dns_update *u, size_t nu, struct journal *j, uint32_t *new_serial,
                     struct err *e);

/*
 * Takes the RDATA of type t from the front of an untrusted value (v, vlen)
 * and writes it uncompressed to out (cap bytes, 65535 always suffices).
 * Returns its length, or -1 if the value is malformed for t (or t is a meta
 * type or 0).
 *  - Types whose layout determines their length take it from the front and
 *    ignore the rest: A, AAAA, the name types (NS, CNAME, PTR, DNAME, MD, MF,
 *    MB, MG, MR), SOA, MX, AFSDB, RT, KX, PX, SRV, NAPTR, MINFO, RP, HINFO,
 *    LOC (version 0), EUI48, EUI64, L32, L64, NID, and DS/CDS, SSHFP, TLSA,
 *    SMIMEA when the digest/matching type fixes the digest length.
 *    Names may use compression pointers that point backwards inside the
 *    value (the OCaml client compresses an SOA's RNAME against its MNAME);
 *    they are expanded.
 *  - TXT and SPF: the whole value is a sequence of character-strings (the
 *    OCaml client sends exactly the encoded strings, a value over 255 bytes
 *    split into 255-byte strings); it must parse exactly. An empty value is
 *    one empty string (RDATA 00), which is what the OCaml client sends for
 *    TXT "".
 *  - Every other type (CAA, DNSKEY, NULL, SVCB, unknown types per RFC 3597,
 *    ...) takes the whole value; CAA, DNSKEY/CDNSKEY/KEY and DS-like types
 *    get their fixed parts checked.
 */
int dns_update_value_rdata(uint16_t t, const uint8_t *v, size_t vlen, uint8_t *out, size_t cap);

/* RFC 1982 serial arithmetic. serial_newer(a, b): a is newer than b
 * (a > b in sequence space; undefined pairs, exactly 2^31 apart, are not
 * newer). serial_next(s): s + 1 modulo 2^32. */
static inline bool serial_newer(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}
static inline uint32_t serial_next(uint32_t s)
{
    return s + 1u;
}
#endif
