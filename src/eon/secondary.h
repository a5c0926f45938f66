/*
 * secondary: capd as a secondary of zones another capd (or eon) is the
 * primary of, one zone per `--primary FILE` (docs/replication.md,
 * docs/state-dir.md "Secondary zones").
 *
 * The Secondary service (schema/eon.capnp) of zone Z has the fixed ID
 * rpc_vat_derive_id("secondary_" + Z) and a SavedService.secondary{Z}
 * record in the store, so a restarted capd presents the same capability.
 * getName answers Z. update calls of one zone are applied strictly one at
 * a time in arrival order (a FIFO with one job on libuv's thread pool):
 *   - a call whose first operation removes the apex SOA starts a full
 *     transfer: it and the following calls are staged aside (adds only,
 *     bounded in records and bytes) while the old content is served; the
 *     call that adds the apex SOA ends it: the staged records become the
 *     zone's next version at once, journaled as a snapshot that replaces
 *     the zone's journal (dns/journal.h), then published, then answered.
 *     A staged serial that is not newer than the served one is bumped to
 *     served + 1, as eon does;
 *   - any other call goes through the update engine (dns/update.h)
 *     confined to Z, durable before it is answered.
 * A zone has no zone file: it joins the served set once it has a version
 * (from the journal at start, or its first transfer), and is answered
 * authoritatively like any other.
 *
 * The link to the primary (connect, getName, registerSeconday, heartbeat,
 * retry) is eon/upstream.h's. Everything here runs on the loop thread
 * except the jobs' work functions.
 */
#ifndef CEON_EON_SECONDARY_H
#define CEON_EON_SECONDARY_H
#include "dns/zone.h"
#include "rpc/rpc.h"
#include "util/err.h"
#include "util/metrics.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eon_ctx;
struct journal;
struct eon_secondaries;

/* A fixed service ID for name (HMAC of the key, as the zone's Domain and
 * Primary): the server's, which also works with TLS off. */
typedef int (*eon_derive_id_fn)(void *ud, const char *name, uint8_t out[32], struct err *e);

/* At start, before DNS: reads every --primary FILE (its URI) and the
 * record STATE/secondary/<hash of the URI> naming its zone; a zone the
 * journal has is served at once. A zone that is also served otherwise (-z,
 * -a) is refused with a message naming both. files may be empty (n = 0:
 * *out is NULL). retry_wait_s: --primary-retry-wait. */
int eon_secondaries_open(const char *const *files, size_t n, unsigned retry_wait_s,
                         const char *state_root, struct journal *j, struct zone_set_handle *zones,
                         struct eon_secondaries **out, struct err *e);
/* Whether apex (lowercase wire) is the zone of one of the secondaries:
 * such a zone gets no Domain or Primary capability. NULL s: false. */
bool eon_secondaries_has(const struct eon_secondaries *s, const uint8_t *apex);
/* On the loop, once the vat listens: the services of known zones, then
 * the link loops. */
int eon_secondaries_start(struct eon_secondaries *s, struct eon_ctx *ctx, eon_derive_id_fn derive,
                          void *derive_ud, struct err *e);
/* capd is stopping: timers stop, queued calls fail, no new link. */
void eon_secondaries_stop(struct eon_secondaries *s);
/* After the loop has finished. NULL is ignored. */
void eon_secondaries_free(struct eon_secondaries *s);

/* The restorer's branch for a SavedService.secondary record: the
 * Secondary service of zone `name` (new reference), or NULL with e set
 * when no --primary file has that zone. */
struct rpc_cap *eon_secondary_restore(struct eon_secondaries *s, const char *name,
                                      const uint8_t *id, size_t len, struct err *e);

/* The zone set must not change while a SIGHUP re-read runs (eon/reload.h:
 * its worker reads the set without being an RCU reader). begin fails when
 * a secondary zone is being added right now (try again); while a re-read
 * runs, a first transfer waits before it adds its zone; end lets it go. */
int eon_secondaries_reload_begin(struct eon_secondaries *s, struct err *e);
void eon_secondaries_reload_end(struct eon_secondaries *s);

/* Statistics (metrics_source render; ud = struct eon_secondaries *). */
void eon_secondaries_render(void *ud, struct metrics_text *t);
#endif
