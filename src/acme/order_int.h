/*
 * acme/order_int.h: what order.c (an order's lifetime, requests, waits,
 * hook batches, start and cancel) and order_steps.c (the answer to each
 * state's request, moving the order on) share. Internal to the layer.
 */
#ifndef CEON_ACME_ORDER_INT_H
#define CEON_ACME_ORDER_INT_H
#include <stdbool.h>

#include "acme/client.h"

enum order_state {
    ORDER_STARTING,       /* directory and account (client.c) */
    ORDER_CREATING,       /* POST newOrder */
    ORDER_FETCHING_AUTHZ, /* POST-as-GET each authorization in turn */
    ORDER_SETTING_TXT,    /* set_txt hooks outstanding */
    ORDER_ANSWERING,      /* POST {} to each pending dns-01 challenge in turn */
    ORDER_POLLING_AUTHZ,  /* each pending authorization until valid or invalid */
    ORDER_POLLING_READY,  /* the order until ready */
    ORDER_FINALIZING,     /* POST the CSR */
    ORDER_POLLING_VALID,  /* the order until valid */
    ORDER_DOWNLOADING,    /* POST-as-GET the certificate */
    ORDER_CLEARING_TXT,   /* clear_txt hooks outstanding, success or not */
    ORDER_DONE,
};

extern const char *const order_state_what[];

/* One authorization of the order and its DNS-01 record. */
struct record {
    char *authz_url;
    char *identifier; /* as the CA names it: without "*." */
    bool wildcard;
    bool needs_challenge; /* pending: we must prove control */
    char *challenge_url;
    char *txt_name; /* _acme-challenge.IDENTIFIER */
    char txt_value[44];
    bool txt_set; /* set_txt was called, so clear_txt will be */
};

/* What a hook's done callback gets: outlives an abandoned order, whose
 * hooks may still call back later (then order is NULL). */
struct hook_ticket {
    struct acme_order *order;
    struct record *record;
    struct hook_ticket *prev, *next;
};

struct acme_order {
    struct acme_client *client;
    struct acme_order *prev, *next;
    enum order_state state;
    char **names;
    size_t n_names;
    EVP_PKEY *cert_key;
    char *email, *org;
    struct acme_dns_hooks hooks;
    acme_order_cb cb;
    void *cb_arg;
    uv_timer_t timer;  /* start, poll waits */
    uint64_t deadline; /* uv_now() ms */
    char *url;
    struct acme_order_doc doc;
    struct record *records;
    size_t n_records, cursor;
    size_t hooks_outstanding;
    int transient_failures; /* while polling, see on_response */
    /* What the last wait was for (state, cursor) and how many waits it had:
     * without Retry-After the wait grows 100 ms, 200, 400, 800, then 1 s. */
    enum order_state wait_state;
    size_t wait_cursor;
    unsigned wait_round;
    bool cancelled;
    struct hook_ticket *tickets;
    bool failed;
    struct acme_error error;
    char *cert_pem;
};

/* order.c */
/* POST payload (NULL: POST-as-GET) to url in state; the answer goes to order_on_response. */
void order_post(struct acme_order *o, enum order_state state, const char *url, const char *payload);
/* Records the first failure and goes to removing the records. */
void __attribute__((format(printf, 3, 4)))
order_fail(struct acme_order *o, const struct acme_problem *problem, const char *fmt, ...);
/* Polls again after Retry-After (clamped) or a short growing wait. */
void order_wait_and_poll(struct acme_order *o, long retry_after);
/* Calls set_txt (ORDER_SETTING_TXT) or clear_txt (ORDER_CLEARING_TXT) for every record concerned.
 */
void order_hook_batch(struct acme_order *o, enum order_state state);
void order_clear_records(struct acme_order *o);

/* order_steps.c */
/* Answers the next pending challenge, then polls the authorizations. */
void order_answer_next(struct acme_order *o);
/* The answer to the order's request (acme_post_cb). */
void order_on_response(void *arg, const struct acme_http_response *resp,
                       const struct acme_problem *problem, const char *err);
#endif
