/*
 * primary: the Primary service of a zone (schema/eon.capnp): getName,
 * registerSeconday (the secondary's capability is saved and stored, then
 * it gets a replication queue: eon/replica.h) and updateSecondaries
 * (forwards operations to every secondary as they are, as eon does).
 * Only holders of the zone's Primary capability can call these: it is the
 * Primary's method, and the capability is never handed out by capd
 * itself (STATE/caps/primary/ZONE.cap).
 */
#ifndef CEON_EON_PRIMARY_H
#define CEON_EON_PRIMARY_H
#include "eon/domain.h"
#include "eon/replica.h"

/* Zone `name`'s Primary with the fixed service id; repl may be NULL (no
 * state dir: registering is refused). Returns a new reference or NULL. */
struct rpc_cap *eon_primary_new(struct eon_ctx *c, struct eon_repl *repl, const char *name,
                                const uint8_t *id, size_t id_len, struct err *e);
#endif
