/*
 * acme/client.h: what client.c and order.c share. Internal to the layer.
 */
#ifndef CEON_ACME_CLIENT_H
#define CEON_ACME_CLIENT_H
#include <stdbool.h>

#include "acme/acme.h"
#include "acme/http.h"

/* Nonces kept for later requests; more are fetched when it runs dry. */
#define NONCE_POOL 8
#define MAX_NONCE 256

enum account_state { ACCOUNT_UNKNOWN, ACCOUNT_LOOKUP, ACCOUNT_CREATE, ACCOUNT_READY };

struct account_waiter;
struct post;

struct acme_client {
    uv_loop_t *loop;
    struct acme_http *http;
    EVP_PKEY *account_key;
    char thumbprint[44];
    char *directory_url, *email;
    unsigned order_timeout_s;

    bool have_directory;
    struct acme_directory dir;
    enum account_state account;
    char *account_url;
    struct account_waiter *waiters; /* orders waiting for directory + account */
    bool *destroyed;                /* set while telling waiters; see account_notify */

    char *nonces[NONCE_POOL];
    size_t n_nonces;
    size_t bad_nonce_retries;

    struct post *posts; /* signed requests in flight */
    struct acme_order *orders;
    size_t n_orders;
};

/* The outcome of a signed request: a 2xx response, or problem (the CA's
 * document, for a 4xx/5xx), or err (transport or a non-problem error body).
 * Exactly one of them is non-NULL... except that resp is also passed with
 * problem so callers can see the status. */
typedef void (*acme_post_cb)(void *arg, const struct acme_http_response *resp,
                             const struct acme_problem *problem, const char *err);

/* POST a JWS of payload (NULL: POST-as-GET) to url, signed with the account
 * key and kid = account URL, or with the JWK embedded if with_jwk (newAccount).
 * badNonce is retried here. The callback is called from the loop, once. */
void acme_post(struct acme_client *c, const char *url, const char *payload, bool with_jwk,
               acme_post_cb cb, void *arg);
/* Drops every signed request made with arg (its HTTPS request, for a nonce
 * or the POST itself, aborted): its callback never runs. */
void acme_post_abort(struct acme_client *c, void *arg);

/* Directory fetched and account known: cb(arg, NULL, NULL), possibly at once;
 * else cb(arg, message, problem_or_NULL). */
typedef void (*acme_ready_cb)(void *arg, const char *err, const struct acme_problem *problem);
void acme_account_ensure(struct acme_client *c, acme_ready_cb cb, void *arg);
/* Forgets an order's wait for the account (the order is going away). */
void acme_account_unwait(struct acme_client *c, void *arg);

/* order.c: drops every order without calling back (client being freed). */
void acme_orders_abandon(struct acme_client *c);
#endif
