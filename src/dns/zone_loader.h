/*
 * zone_loader: a whole zone built record by record, for callers outside
 * src/dns whose records arrive over time (a secondary's full transfer,
 * eon/secondary.c). Each add goes into the builder as it comes, so when
 * the last record arrives only the layout (zb_freeze) remains; collecting
 * the records first and building at the end (journal_build_version) costs
 * the whole zb_add pass after the transfer.
 */
#ifndef CEON_DNS_ZONE_LOADER_H
#define CEON_DNS_ZONE_LOADER_H
#include "dns/zone.h"
#include "util/err.h"

struct zone_loader;

/* apex: wire name, any case. NULL when out of memory. */
struct zone_loader *zone_loader_new(const uint8_t *apex);
void zone_loader_free(struct zone_loader *l);
/* Adds one RR (an RRset takes the TTL of its latest RR, as in
 * journal_build_version). Returns 1 if added, 0 if already there, -1 with
 * e set (outside the zone, a type that cannot be stored, malformed RDATA,
 * out of memory). */
int zone_loader_add(struct zone_loader *l, const uint8_t *owner, uint16_t type, uint32_t ttl,
                    const uint8_t *rd, uint16_t rdlen, struct err *e);
/* Checks the zone (zb_freeze's rules) and lays it out as a version whose
 * SOA serial is serial. Once per loader (the builder gives its index back
 * on the way); then only zone_loader_free. Another serial afterwards:
 * zone_version_apply with no changes. */
int zone_loader_freeze(struct zone_loader *l, uint32_t serial, struct zone_version **out,
                       struct err *e);
#endif
