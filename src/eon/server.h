/*
 * server: capd's Cap'n Proto side. capd.c only parses options into a
 * struct eon_config and calls these, in this order:
 *
 *   eon_server_open    after the zones are loaded, before DNS starts:
 *                      opens the state dir and the journal and replays the
 *                      journal into the served zones, so the first answer
 *                      already reflects every acknowledged update;
 *   eon_server_listen  on the loop: starts the vat (TLS key, listener),
 *                      registers each zone's Domain and Primary service,
 *                      writes STATE/caps/{domain,primary}/NAME.cap, logs
 *                      one line per zone;
 *   eon_server_reload  from the SIGHUP handler: re-reads the zone files
 *                      (eon/reload.h); new zones get their services and
 *                      cap files; done is called when no re-read runs;
 *   eon_server_stop    from the SIGTERM handler: closes the listener and
 *                      connections (run the loop afterwards);
 *   eon_server_free    after the loop has finished.
 *
 * Without a listen address capd serves DNS only: open still replays an
 * existing journal (it never creates a state dir then), listen logs that
 * the Cap'n Proto interface is off.
 */
#ifndef CEON_EON_SERVER_H
#define CEON_EON_SERVER_H
#include "dns/zone.h"
#include "eon/cert.h"
#include "rpc/rpc.h"
#include "util/err.h"
#include "util/metrics.h"
#include <stdbool.h>
#include <uv.h>

struct eon_config {
    const char *state_dir;       /* NULL: "state" */
    const char *listen_address;  /* "tcp:HOST:PORT" or "unix:PATH"; NULL: DNS only */
    const char *secret_key_file; /* PEM path, "" ephemeral; NULL: not given */
    const char *public_address;  /* for URIs; NULL: the listen address */
    bool disable_tls;
    /* The vat's limits (docs/security.md); 0 fields take the defaults,
     * the key and TLS fields are taken from above instead. */
    struct rpc_vat_config limits;
    /* Domain.cert's ACME client and renewals (eon/cert.h). */
    struct eon_cert_config cert;
    /* --primary FILEs: this capd is a secondary of their zones
     * (eon/secondary.h); --primary-retry-wait in seconds (0: 60). */
    const char *const *primaries;
    size_t nprimaries;
    unsigned primary_retry_wait;
};

struct eon_server;
struct eon_zonefiles;

/* Checks the options together (e.g. a listen address needs a key file
 * unless TLS is off) without touching anything. */
int eon_config_check(const struct eon_config *cfg, struct err *e);

int eon_server_open(const struct eon_config *cfg, struct zone_set_handle *zones,
                    struct eon_server **out, struct err *e);
int eon_server_listen(struct eon_server *s, uv_loop_t *loop, struct err *e);
int eon_server_reload(struct eon_server *s, uv_loop_t *loop, struct eon_zonefiles *zf,
                      void (*done)(void *ud), void *ud, struct err *e);
void eon_server_stop(struct eon_server *s);
void eon_server_free(struct eon_server *s);
/* The statistics of s's services (eon/stats.h) for the metrics endpoint:
 * fills src with a render function and its argument. */
void eon_server_metrics(struct eon_server *s, struct metrics_source *src);
/* The publish hook that drives replication to secondaries (eon/replica.h),
 * for capd to chain with NOTIFY's (cmd/capd_xfr.h); *fn is NULL when
 * there is nothing to replicate (no Cap'n Proto side). */
void eon_server_replication_hook(struct eon_server *s, zone_publish_hook *fn, void **ud);
/* The update journal (for IXFR), or NULL when there is none (DNS only
 * without a state dir). Valid until eon_server_free. */
struct journal *eon_server_journal(const struct eon_server *s);
#endif
