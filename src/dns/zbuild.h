/*
 * zbuild: the mutable side of the zone store (private to src/dns). A
 * builder collects RRs (from a zone file, or from an old version plus a
 * change set) in hash-indexed nodes, then zb_freeze lays them out as one
 * immutable zone_version: nodes sorted canonically, empty non-terminals
 * added, flags and parent links computed, one arena.
 */
#ifndef CEON_DNS_ZBUILD_H
#define CEON_DNS_ZBUILD_H
#include "dns/zone.h"

struct zbuild;

/* apex: wire name, any case. NULL on out of memory. */
struct zbuild *zb_new(const uint8_t *apex);
void zb_free(struct zbuild *b);
/* File name used in freeze-time messages ("file:line: ..."); NULL for
 * messages without a location. The string must outlive the builder. */
void zb_set_file(struct zbuild *b, const char *file);

/* Adds one RR (see DNS_CHANGE_ADD). keep_ttl: an existing RRset keeps its
 * TTL (zone files: the first record's TTL wins); otherwise the RRset takes
 * the new RR's TTL. line is remembered for messages. Returns 1 if added,
 * 0 if already present, -1 with e set (outside the zone, meta type,
 * malformed RDATA, out of memory). */
int zb_add(struct zbuild *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
           uint16_t rdlen, bool keep_ttl, unsigned long line, struct err *e);
/* Applies one deletion (DNS_CHANGE_DEL, _DEL_RRSET, _DEL_NAME). Returns 0,
 * or -1 with e set (owner outside the zone). */
int zb_del(struct zbuild *b, enum dns_change_op op, const uint8_t *owner, uint16_t type,
           const uint8_t *rd, uint16_t rdlen, struct err *e);
/* Copies every RRset of v into the builder (which must be empty and have
 * the same apex). */
int zb_load_version(struct zbuild *b, const struct zone_version *v, struct err *e);

/* Prepares an incremental change of v: copies v's RRsets of owner into the
 * builder (once per name; the builder then references v's RDATA, so v must
 * outlive it). Call before the zb_add/zb_del of each owner, then finish with
 * zb_freeze_onto. */
int zb_touch(struct zbuild *b, const struct zone_version *v, const uint8_t *owner, struct err *e);
/* Builds old with every touched name replaced by its builder contents (an
 * emptied name disappears unless it is still an empty non-terminal), the SOA
 * serial set to serial. Only touched names are checked. Cost: one sequential
 * copy of old plus the touched names, no re-sorting or re-hashing of the
 * untouched ones. */
int zb_freeze_onto(struct zbuild *b, const struct zone_version *old, uint32_t serial,
                   struct zone_version **out, struct err *e);

/* Lets zb_freeze carve a big zone's nodes from slabs (dns/zslab.h). For a
 * transfer (dns/zone_loader.h); not for zone files: measured on
 * bench/load.sh's 1,000,000-record file, slabs raised capd's peak RSS by
 * 9 MiB (195 vs 186 MiB, every round): malloc'd nodes reuse the heap the
 * parse gave back, slabs add to it. */
void zb_use_slabs(struct zbuild *b);

/* Checks the zone (one SOA RR at the apex, CNAME exclusivity, single
 * DNAME) and builds the version. If set_serial, the SOA serial becomes
 * serial. Nothing is shared with the builder, and nothing but zb_free may
 * follow (success or not: the freeze gives back the builder's memory as
 * soon as it can, to lower a big load's peak). */
int zb_freeze(struct zbuild *b, bool set_serial, uint32_t serial, struct zone_version **out,
              struct err *e);

/* The canonical order of names (RFC 4034 §6.1) as one memcmp of keys:
 * writes the key of name (a lowercase wire name) to out (at most
 * 2 * DNS_NAME_MAX bytes) and returns its length. */
size_t zb_canonical_key(const uint8_t *name, uint8_t *out);

/* Checks a whole version as loading a zone file would: every RR through
 * zb_add's checks (owner in the zone, storable type, well-formed RDATA),
 * then zb_freeze's rules on every name. zb_freeze_onto checks only the
 * names a change touched, so this is how tests and fuzz targets confirm
 * that incremental changes keep the whole zone valid. If rebuilt is not
 * NULL it gets the version built from scratch (the caller frees it), to
 * compare with v. */
int zb_check_version(const struct zone_version *v, struct zone_version **rebuilt, struct err *e);
#endif
