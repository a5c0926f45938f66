/*
 * domain: the Domain and Primary services (schema/eon.capnp) and the
 * restorer for saved ones (schema/store.capnp in the rpc service store).
 *
 * A Domain capability is confined to one name and everything below it:
 * getName, delegate (a new, separately revocable capability for a name
 * below in the same zone, saved before it is returned; a name in another
 * zone this capd serves is refused and nothing is saved) and update (RFC 2136 through the dns
 * layer's update engine, answered only once durable and visible).
 * Primary is eon/primary.h's.
 * cert (ACME DNS-01) is eon/cert.h's.
 * Every call is logged at level >= 1 with the domain and the outcome.
 */
#ifndef CEON_EON_DOMAIN_H
#define CEON_EON_DOMAIN_H
#include "eon/stats.h"
#include "dns/zone.h"
#include "rpc/rpc.h"
#include "rpc/store.h"
#include "util/err.h"
#include <stdbool.h>
#include <uv.h>

struct journal;
struct eon_certs;

/* What every service needs; owned by the server, outlives the services. */
struct eon_ctx {
    uv_loop_t *loop;
    struct rpc_vat *vat;
    struct svc_store *store;
    struct zone_set_handle *zones;
    struct journal *journal;
    unsigned updates_in_flight; /* and certificate orders (eon/cert.c): both hold the vat */
    bool stopping;              /* the vat is freed once the last update has answered */
    struct eon_stats stats;
    struct eon_certs *certs;             /* Domain.cert (eon/cert.h); NULL: off */
    struct eon_secondaries *secondaries; /* --primary (eon/secondary.h); NULL: none */
};

/* Frees c->vat once stopping and no update is in flight. */
void eon_ctx_release_vat(struct eon_ctx *c);

/* A Domain service for `name` (presentation form, no trailing dot) in the
 * zone whose apex is `primary`; id (may be NULL) gives its sturdy URI.
 * Returns a new reference or NULL. */
struct rpc_cap *eon_domain_new(struct eon_ctx *c, const char *name, const char *primary,
                               const uint8_t *id, size_t id_len, struct err *e);

/* rpc_restore_fn for the vat: a saved (delegated) Domain by its ID. */
struct rpc_cap *eon_restore(void *ctx, const uint8_t *id, size_t len);

/* Checks delegate's subdomain argument: the label rules of
 * eon_name_labels_check (eon/state.h; the same ones cap file names obey)
 * and, with parent, the full name within 255 wire bytes. Returns 0 or -1
 * with the reason. */
int eon_subdomain_check(const char *sub, const char *parent, struct err *e);
#endif
