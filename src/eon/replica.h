/*
 * replica: capd's replication of its zones to secondaries over Cap'n
 * Proto (the primary side of docs/replication.md).
 *
 * Every secondary registered for a zone (Primary.registerSeconday, or a
 * file in STATE/caps/secondary/ZONE/ at start) gets its own queue, driven
 * from the journal: when the zone's serial moves (the publish hook) and
 * the queue is idle, one Secondary.update carries every change set since
 * the serial the secondary is known to have (`acked`), with that serial's
 * SOA as a prerequisite; a secondary that is not there, or that the
 * journal no longer covers, gets the whole zone from one held version.
 * Queues never wait for one another and nothing here delays an update's
 * reply: the publish hook only wakes the loop (uv_async_send).
 *
 * Everything runs on the loop thread, except eon_repl_changed.
 */
#ifndef CEON_EON_REPLICA_H
#define CEON_EON_REPLICA_H
#include "eon/domain.h"
#include "eon/state.h"
#include "rpc/rpc.h"
#include "util/err.h"
#include "util/metrics.h"
#include <stdint.h>

/* Most secondaries per zone: one more registration is refused. */
#define EON_REPL_MAX_SECONDARIES 64

struct eon_repl;

/* The replication of every zone of c; st (the state dir) outlives it. */
struct eon_repl *eon_repl_new(struct eon_ctx *c, const struct eon_state *st, struct err *e);
/* Zone `name` (as written, no trailing dot) is served: makes its
 * STATE/caps/secondary/ZONE directory and starts a queue for every
 * secondary recorded there (ours and eon's files), which connects and
 * catches up. Calling it again for the same zone does nothing. */
int eon_repl_zone_start(struct eon_repl *r, const char *name, struct err *e);
/* Primary.registerSeconday on zone `name`: saves the secondary's
 * capability (Persistent.save, asynchronously), stores its URI, then
 * answers call and starts (or resumes) its queue. Takes a reference to
 * secondary. */
void eon_repl_register(struct eon_repl *r, const char *name, struct rpc_cap *secondary,
                       struct rpc_call *call);
/* Primary.updateSecondaries: the call's operations to every secondary of
 * the zone; answers success when all did, else the first error. */
void eon_repl_forward(struct eon_repl *r, const char *name, struct rpc_call *call);
/* zone_publish_hook (any thread): the zone changed; wakes the queues. */
void eon_repl_changed(void *ud, const uint8_t *apex, uint32_t serial);
/* Drops every capability and timer (before the vat is freed); run the
 * loop afterwards. */
void eon_repl_stop(struct eon_repl *r);
void eon_repl_free(struct eon_repl *r);
/* The capd_secondary_* families (metrics_source render; ud: the repl). */
void eon_repl_render(void *ud, struct metrics_text *t);

/* For tests and the statistics: the state of secondary `base` (its file
 * name without .cap) of zone `name`. Returns -1 when there is none. */
enum eon_replica_state {
    EON_REPLICA_CONNECTING,
    EON_REPLICA_FULL_TRANSFER,
    EON_REPLICA_INCREMENTAL,
    EON_REPLICA_IDLE,
    EON_REPLICA_BACKOFF,
};
struct eon_replica_info {
    enum eon_replica_state state;
    bool acked_known;
    uint32_t acked;
    uint64_t full_transfers, incrementals, failures;
};
int eon_repl_info(struct eon_repl *r, const char *name, const char *base,
                  struct eon_replica_info *out);
/* How many secondaries zone `name` has. */
unsigned eon_repl_count(struct eon_repl *r, const char *name);
#endif
