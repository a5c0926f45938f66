/*
 * cert_int.h: what cert.c (calls, orders, deliveries), cert_params.c (the
 * call's parameters checked), cert_store.c (the files, on libuv's thread
 * pool; the service's set-up), cert_renew.c (renewal timers, the
 * callbacks they push to, register calls) and cert_pending.c (challenge
 * values recorded in the state dir, removed at start after a kill) share.
 * Internal to eon/cert.
 */
#ifndef CEON_EON_CERT_INT_H
#define CEON_EON_CERT_INT_H
#include "acme/acme.h"
#include "dns/name.h"
#include "eon/cert.h"
#include "eon/domain.h"
#include <time.h>

#define CERT_EMAIL_MAX 254
#define CERT_ORG_MAX 64          /* X.509 ub-organization-name */
#define CERT_FILE_MAX (1u << 20) /* a PEM chain or key larger than this is not ours */
#define CERT_UNIT_MAX_CALLBACKS 64
/* Orders (and disk reads) at once: each holds HTTPS connections, keys and
 * a CA's rate limit; a capability holder asking for many names at once
 * waits for some to finish instead of exhausting them. */
#define CERT_MAX_JOBS 32
#define CERT_BACKOFF_MIN_S 60
#define CERT_BACKOFF_MAX_S (24L * 3600)
/* Timers never sleep longer than this, and check the wall clock again on
 * waking: a suspended machine or a clock that jumps still renews on time. */
#define CERT_TIMER_MAX_S (24L * 3600)
/* Challenge records live minutes; a resolver that cached an older RRset
 * for an hour (eon's TTL) would hide a retry's new value from the CA. */
#define CERT_TXT_TTL 60

struct cert_acct;
struct cert_unit;

/* What one certificate is ordered for: the names, the account and the
 * capability whose zone gets the challenge records. */
struct cert_spec {
    char *names[ACME_MAX_NAMES]; /* lowercase, no trailing dot, distinct */
    size_t n;
    char email[CERT_EMAIL_MAX + 1];
    char org[CERT_ORG_MAX + 1];
    char domain[DNS_NAME_TEXT_MAX]; /* the capability's domain */
    uint8_t confine[DNS_NAME_MAX];  /* the same, lowercase wire */
    struct zone *zone;
};
int cert_spec_copy(struct cert_spec *dst, const struct cert_spec *src);
void cert_spec_clear(struct cert_spec *s);

struct eon_certs {
    struct eon_ctx *ctx;
    uv_loop_t *loop;
    char *certs_dir, *accounts_dir; /* STATE/certs, STATE/accounts */
    char *pending_dir;              /* STATE/acme-challenges (cert_pending.h) */
    char *directory_url, *ca_file;
    long renew_before_s;
    enum acme_key_type key_type;
    struct cert_job *jobs;
    unsigned njobs;
    struct cert_acct *accts;
    struct cert_unit *units;
    bool stopping;
};

/* ---- cert_store.c: files (run on libuv's thread pool unless noted) ---- */

/* STATE/certs/FIRST and the three files in it. */
struct cert_loaded {
    char *chain_pem; /* fullcert.pem, or NULL */
    EVP_PKEY *key;   /* privkey.pem, else a new key (key_new) */
    bool key_new;
    EVP_PKEY *account; /* accounts/EMAIL/account.pem, else a new key */
    bool account_new;
    bool cached; /* chain_pem is for exactly the names, key's, and not due */
    time_t renew_at;
};
/* Reads what an order for spec needs; new keys are generated only when
 * the cache does not answer. 0, or -1 + e. */
int cert_store_load(const struct eon_certs *m, const struct cert_spec *spec,
                    struct cert_loaded *out, struct err *e);
void cert_loaded_clear(struct cert_loaded *l);
/* Writes privkey.pem (if key_pem), fullcert.pem, ceon-renew and, if
 * account_pem, accounts/EMAIL/account.pem: 0600 files, 0750 directories. */
int cert_store_save(const struct eon_certs *m, const struct cert_spec *spec, const char *chain_pem,
                    const char *key_pem, const char *account_pem, struct err *e);
/* On the loop at start: calls fn for every STATE/certs/D with a readable
 * ceon-renew and fullcert.pem (spec filled, zone NULL; renew_at of the
 * certificate). Entries that do not parse are logged and skipped. */
typedef void (*cert_scan_fn)(struct eon_certs *m, const struct cert_spec *spec, time_t renew_at,
                             time_t not_after);
void cert_store_scan(struct eon_certs *m, cert_scan_fn fn);

/* ---- cert_params.c ---- */

/* The served zone of lname (wire, lowercase), read the way domain.c reads it; NULL if none. */
struct zone *cert_zone_of(struct eon_certs *m, const uint8_t *lname);
/* Domain.cert's parameters as a spec (names canonical and checked, zone
 * set) and its callback (*cb, a reference); -1 + e names what is wrong. */
int cert_params_decode(struct eon_certs *m, const struct eon_cert_scope *sc, struct rpc_call *call,
                       struct cert_spec *s, struct rpc_cap **cb, struct err *e);

/* ---- cert.c ---- */

/* Starts (or joins) an order for spec that no call waits on: a renewal.
 * 0, or -1 + e when it cannot start (a conflicting order runs). */
int cert_renew_start(struct eon_certs *m, const struct cert_spec *spec, struct err *e);
/* Adds (add) or removes exactly one TXT value at name (text, no trailing
 * dot) in zone, confined to confine (wire), through the update engine and
 * journal on the thread pool; done(done_arg, 0 or -1, why) on the loop. An
 * added value is first recorded in pending_dir, and the record dropped once
 * its removal is journaled (cert_pending.h). */
void cert_txt_change(struct eon_certs *m, struct zone *zone, const uint8_t *confine, bool add,
                     const char *name, const char *value, acme_hook_done_cb done, void *done_arg);

/* ---- cert_pending.c ---- */

/* At start, on the loop: removes every value that STATE/acme-challenges
 * records (an order that did not finish its clean-up), each holding the
 * vat like an update; files that do not parse are logged and left. */
void cert_pending_sweep(struct eon_certs *m);

/* ---- cert_renew.c: one unit per certificate directory ---- */

/* A certificate for spec is now on disk (issued, or found at start):
 * (re)arms its renewal. chain/key (NULL at start) are pushed with
 * renewed = true to the unit's callbacks except `except`. */
void cert_unit_update(struct eon_certs *m, const struct cert_spec *spec, time_t renew_at,
                      time_t not_after, const char *chain, const char *key, struct rpc_cap *except);
/* cb received the certificate of spec: it gets the renewals. */
void cert_unit_add_callback(struct eon_certs *m, const struct cert_spec *spec, struct rpc_cap *cb);
/* A renewal of spec's directory failed: try again after the backoff. */
void cert_unit_failed(struct eon_certs *m, const char *first, const char *why);
void cert_units_stop(struct eon_certs *m);
/* Sends register(...) to cb; done(arg, ok) when it answered (ok false: it
 * failed, e.g. the connection is gone). cb gets its own reference. */
typedef void (*cert_sent_fn)(void *arg, bool ok);
void cert_register_send(struct rpc_cap *cb, bool success, const char *error, const char *chain,
                        const char *key, bool renewed, cert_sent_fn done, void *arg);
#endif
