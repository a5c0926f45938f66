/*
 * cert: Domain.cert (schema/eon.capnp), certificates by ACME DNS-01 with
 * the acme layer, and their renewals pushed to CertCallbacks.
 *
 * Domain.cert(email, domains, org, callback):
 *  1. Checked before anything else, so nothing reaches the CA or a path
 *     unchecked: EMAIL (a plain address, see eon_cert_email_ok), 1 to
 *     ACME_MAX_NAMES names (a trailing dot dropped, lowercased, duplicates
 *     dropped), each a name a CA issues for (acme_name_ok, "*." allowed
 *     first), each the capability's domain or below it, and in the same
 *     served zone (the challenge record is written there). A refusal is an
 *     exception naming the name; the CA never hears of it.
 *  2. A certificate on disk (STATE/certs/FIRST/fullcert.pem and
 *     privkey.pem, FIRST = the first name) for exactly these names, whose
 *     key is privkey.pem and which is not due for renewal, is delivered
 *     without ACME. Otherwise an order runs: account key from
 *     STATE/accounts/EMAIL/account.pem (or a new one), certificate key
 *     privkey.pem reused (or a new one), each DNS-01 value added as one
 *     TXT record at _acme-challenge.NAME through the update engine and
 *     journal (as Domain.update), removed again whatever the outcome;
 *     each value is recorded in STATE/acme-challenges first, so one that a
 *     killed capd left is removed at the next start (cert_pending.h).
 *  3. callback.register(success, error, cert = chain leaf first, key =
 *     PKCS#8 PEM, renewed = false), and Domain.cert returns once register
 *     has answered. A CA refusal is register(success = false, error = the
 *     CA's text).
 *
 * One order per name at a time: a call for exactly the names of a running
 * order joins it; a call sharing only some names with it is refused.
 * Orders for other names run at once. Nothing blocks the loop: files and
 * key generation on libuv's thread pool, HTTPS in the acme layer.
 *
 * Renewal (per certificate directory): at acme_cert_renew_at (notAfter -
 * renew_before, never before two thirds of the lifetime), whether or not
 * anyone listens; every callback that received that certificate gets the
 * new one with renewed = true. A failed renewal is logged and tried again
 * after 1 min, doubling up to 1 day. What a renewal needs besides the
 * certificate (email, org, the capability's domain) is saved in
 * STATE/certs/FIRST/ceon-renew, so capd re-arms renewals at start;
 * callbacks do not survive a restart (they are the clients' objects).
 * A callback whose register call fails (its connection is gone) is
 * dropped.
 */
#ifndef CEON_EON_CERT_H
#define CEON_EON_CERT_H
#include "acme/key.h"
#include "dns/zone.h"
#include "rpc/rpc.h"
#include "util/err.h"
#include "util/metrics.h"
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define EON_CERT_LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
#define EON_CERT_LE_PROD "https://acme-v02.api.letsencrypt.org/directory"
#define EON_CERT_RENEW_BEFORE_DAYS 30

struct eon_cert_config {
    const char *directory_url;   /* NULL: Let's Encrypt staging (production with prod) */
    bool prod;                   /* --prod */
    const char *ca_file;         /* extra trust anchors for the CA's HTTPS, or NULL */
    long renew_before_days;      /* 0: EON_CERT_RENEW_BEFORE_DAYS */
    enum acme_key_type key_type; /* new certificate and account keys */
    bool key_type_set;           /* else P-256 */
};

struct eon_ctx;
struct eon_certs;

/* The certificate service of one capd: state_root is STATE (certs/ and
 * accounts/ below it are created when first needed). Re-arms the renewal
 * of every certificate on disk that has a ceon-renew file. */
struct eon_certs *eon_certs_new(struct eon_ctx *ctx, const char *state_root,
                                const struct eon_cert_config *cfg, struct err *e);
/* capd is stopping: orders cancelled (their records removed), timers
 * stopped, callbacks released. Calls waiting are failed. */
void eon_certs_stop(struct eon_certs *m);
/* After the loop has finished. */
void eon_certs_free(struct eon_certs *m);

/* What Domain.cert needs from the Domain it was called on. */
struct eon_cert_scope {
    struct zone *zone;      /* the served zone of the capability */
    const uint8_t *confine; /* the capability's domain, lowercase wire */
    const char *name;       /* the same, presentation (logs, ceon-renew) */
};
void eon_cert_call(struct eon_certs *m, const struct eon_cert_scope *scope, struct rpc_call *call);

/* EMAIL as it may become a directory name: LOCAL@DOMAIN, at most 254
 * characters, LOCAL of letters, digits and . _ + - (not starting with a
 * dot), DOMAIN a DNS name (acme_name_ok, no wildcard). */
bool eon_cert_email_ok(const char *email);

/* The statistics of m (eon/stats.h renders them): orders running, and per
 * certificate capd keeps renewing (by its first name) the renewal time,
 * its expiry (notAfter), the next attempt, failed attempts since the last
 * success, callbacks. */
void eon_certs_render(struct eon_certs *m, struct metrics_text *t);
#endif
