/*
 * acme: an RFC 8555 (ACME) client for DNS-01, on libcurl + jansson +
 * OpenSSL, running on a libuv loop without ever blocking it.
 *
 * Use:
 *   struct acme_client_config cfg = {.directory_url = URL, .ca_file = NULL,
 *       .account_key = key_or_NULL, .email = "ryan@example.org"};
 *   struct acme_client *c = acme_client_new(loop, &cfg, &e);
 *   struct acme_dns_hooks hooks = {.ctx = zone, .set_txt = add, .clear_txt = del};
 *   acme_order_start(c, names, n, cert_key, email, org, &hooks, done, arg, &e);
 *   ... uv_run(loop) ...
 *   done(arg, chain_pem, NULL) or done(arg, NULL, &error)
 *
 * Client: the directory is fetched, and the account looked up
 * (onlyReturnExisting) or else created (termsOfServiceAgreed, contact
 * mailto:EMAIL), on the first order; the account key is config's (a
 * reference is taken) or generated (RSA-2048 by default, as eon's accounts;
 * P-256 supported). Requests are JWS-signed with RS256 (RSA) or ES256 (P-256).
 * The ACME server's HTTPS certificate is always verified, against the
 * system trust store plus ca_file's certificates when ca_file is set.
 * Nonces come from Replay-Nonce and newNonce; a badNonce answer is retried
 * with a fresh nonce, up to ACME_MAX_BAD_NONCE times.
 *
 * Order, a state machine (order.c): newOrder for the names -> every
 * authorization fetched -> for each pending one, hooks->set_txt(ctx,
 * "_acme-challenge.NAME", value) with value = base64url(SHA-256(token "."
 * thumbprint)) (a wildcard *.NAME uses _acme-challenge.NAME, so NAME and
 * *.NAME put two values at one name: set_txt ADDS a value to the RRset and
 * clear_txt removes exactly that value) -> once every set_txt has called
 * its done callback, each challenge is answered -> authorizations, then the
 * order, polled to a final state (every Retry-After honoured, 1 s when
 * absent, clamped to 1..60 s; a poll failing in transport or with a 5xx
 * tried again, 5 times per order; the whole order bounded by order_timeout_s)
 * -> finalize with a CSR (subject emailAddress=email, O=org, DNS SANs, no
 * CN) -> the PEM chain downloaded and checked (leaf first, our key, our
 * names) -> clear_txt for every value set, whatever the outcome, and the
 * completion callback once all clears are done.
 *
 * Errors reach the callback as struct acme_error: a one-line message, and
 * the CA's problem document (type, detail, subproblems, and the JSON text
 * as sent) when the CA refused something.
 *
 * Callbacks (completion, hooks' done) run on the loop's thread. Completion
 * is never called from inside acme_order_start. A hook may call its done
 * callback before returning or later. The client may be freed from a
 * completion callback.
 */
#ifndef CEON_ACME_H
#define CEON_ACME_H
#include <stddef.h>
#include <uv.h>

#include "acme/cert.h"
#include "acme/json.h"
#include "acme/key.h"
#include "util/err.h"

#define ACME_MAX_BAD_NONCE 10
#define ACME_ORDER_TIMEOUT_DEFAULT_S 600
#define ACME_MAX_NAMES ACME_MAX_AUTHZ

struct acme_client_config {
    const char *directory_url;           /* https:// URL of the directory */
    const char *ca_file;                 /* extra trust anchors (PEM), or NULL */
    EVP_PKEY *account_key;               /* NULL: generate account_key_type */
    enum acme_key_type account_key_type; /* default (0) RSA-2048 */
    const char *email;                   /* account contact mailto:EMAIL, or NULL */
    unsigned order_timeout_s;            /* 0: ACME_ORDER_TIMEOUT_DEFAULT_S */
};

struct acme_client;
struct acme_order;

/* A key generated on libuv's thread pool, so the loop keeps serving (an
 * RSA-4096 key can take seconds). cb(arg, key, NULL) with a key the callee
 * owns, or cb(arg, NULL, why), from the loop. acme_client_new generates
 * its account key synchronously when given none: give it one from here. */
typedef void (*acme_keygen_cb)(void *arg, EVP_PKEY *key, const char *err);
int acme_key_generate_async(uv_loop_t *loop, enum acme_key_type type, acme_keygen_cb cb, void *arg,
                            struct err *e);

struct acme_client *acme_client_new(uv_loop_t *loop, const struct acme_client_config *cfg,
                                    struct err *e);
/* The account key (borrowed), for the caller to store after a success. */
EVP_PKEY *acme_client_account_key(struct acme_client *c);
/* The account URL once known (after the first order got that far), else NULL. */
const char *acme_client_account_url(const struct acme_client *c);
/* Orders still running abandon their work without calling back or clearing
 * records; free when none is (or from the last one's completion callback).
 * Handles close on the loop's next turn. */
void acme_client_free(struct acme_client *c);

/* Completion of a hook call: ok 0 or -1 with why (copied). */
typedef void (*acme_hook_done_cb)(void *done_arg, int ok, const char *why);

struct acme_dns_hooks {
    void *ctx;
    /* Add value to the TXT RRset of name ("_acme-challenge.example.org",
     * no trailing dot), then call done(done_arg, 0, NULL) once the record is served. */
    void (*set_txt)(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                    void *done_arg);
    /* Remove exactly that value from name's TXT RRset. */
    void (*clear_txt)(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                      void *done_arg);
};

struct acme_error {
    char message[512];
    struct acme_problem *problem; /* the CA's, or NULL for a local or transport error */
};

/* cert_pem: the chain, leaf first, NUL-terminated (valid during the call)
 * and err NULL; or cert_pem NULL and err set. */
typedef void (*acme_order_cb)(void *arg, const char *cert_pem, const struct acme_error *err);

/* Starts an order for names (1..ACME_MAX_NAMES distinct DNS names, "*."
 * allowed first, no trailing dot), certificate key cert_key (a reference is
 * taken), CSR subject email/org (org may be NULL or ""). hooks is copied.
 * NULL + e if the arguments are wrong; otherwise cb is called exactly once. */
struct acme_order *acme_order_start(struct acme_client *c, const char *const names[], size_t n,
                                    EVP_PKEY *cert_key, const char *email, const char *org,
                                    const struct acme_dns_hooks *hooks, acme_order_cb cb, void *arg,
                                    struct err *e);
/* How many badNonce answers were retried (for logs and tests). */
size_t acme_client_bad_nonce_retries(const struct acme_client *c);
/* Stops an order (capd shutting down, the requester gone): the request in
 * flight is aborted (its connection dropped, not waited for), no further
 * request or challenge answer, the records set so far are cleared, and the
 * completion callback gets "cancelled" from the loop. Only before that
 * callback: the order is gone after it. */
void acme_order_cancel(struct acme_order *o);
/* Orders started and not yet called back. */
size_t acme_client_orders_running(const struct acme_client *c);
#endif
