/*
 * convert: Domain.update's Cap'n Proto lists <-> the dns layer's native
 * prerequisites and updates.
 *
 * Decoding (server side) takes untrusted params: every name must be text
 * without NUL bytes that parses as a domain name (relative names are taken
 * as absolute, as the original sends them without the trailing dot), union
 * kinds must be known, values longer than 65535 bytes are refused. Values
 * are passed on raw: the update engine takes the RDATA from their front
 * (dns_update_value_rdata) and rejects malformed ones. Names and values are
 * copied, so the result outlives the message. Confinement (names at or
 * below the capability's domain) is the engine's check.
 */
#ifndef CEON_EON_CONVERT_H
#define CEON_EON_CONVERT_H
#include "dns/update.h"
#include "eon/gen/eon.capnp.h"
#include "eon/specenc.h"
#include "util/err.h"
#include <stddef.h>

/* Most prerequisites + updates in one Domain.update call. */
#define EON_UPDATE_MAX_ITEMS 10000u
/* ... in one Secondary.update call: eon's primary sends a whole zone in
 * one call. The message size limit (16 MiB by default: at most ~700,000
 * operations) binds first; what decoding allocates follows the bytes the
 * names and values really take. */
#define EON_SECONDARY_MAX_ITEMS 1000000u

struct eon_update_req {
    struct dns_prereq *p;
    size_t np;
    struct dns_update *u;
    size_t nu;
    uint8_t *mem; /* owner names and values */
};

/* On failure *r is left freeable (eon_update_req_free). Errors name the
 * element: "update 2: invalid name 'a..b': ...". */
int eon_update_decode(eon_Domain_update_Params_R params, struct eon_update_req *r, struct err *e);
/* The same with another bound on prerequisites + updates. */
int eon_update_decode_max(eon_Domain_update_Params_R params, struct eon_update_req *r,
                          uint32_t max_items, struct err *e);
void eon_update_req_free(struct eon_update_req *r);

/* Client side: fills params from capc's records (eon/specenc.h). */
void eon_update_encode(eon_Domain_update_Params_B params, const struct eon_rec *prereqs, size_t np,
                       const struct eon_rec *updates, size_t nu);
#endif
