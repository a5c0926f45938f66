/*
 * acme/order: one certificate order as an explicit state machine (RFC 8555
 * §7.4). Each state has at most one request or one batch of hook calls in
 * flight; its answer is handled by the function for that state and moves
 * the order on. See acme.h for the sequence. This file: the order's
 * lifetime, its requests and waits, the hook batches, start and cancel;
 * order_steps.c handles each state's answer.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "acme/order_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* What each state is doing, for messages. */
const char *const order_state_what[] = {
    [ORDER_STARTING] = "account",
    [ORDER_CREATING] = "creating the order",
    [ORDER_FETCHING_AUTHZ] = "fetching an authorization",
    [ORDER_SETTING_TXT] = "adding the challenge TXT records",
    [ORDER_ANSWERING] = "answering a challenge",
    [ORDER_POLLING_AUTHZ] = "validating an authorization",
    [ORDER_POLLING_READY] = "waiting for the order to be ready",
    [ORDER_FINALIZING] = "finalizing the order",
    [ORDER_POLLING_VALID] = "waiting for the certificate",
    [ORDER_DOWNLOADING] = "downloading the certificate",
    [ORDER_CLEARING_TXT] = "removing the challenge TXT records",
    [ORDER_DONE] = "done",
};

/* ---- lifetime ---- */

static void order_free(uv_handle_t *handle)
{
    struct acme_order *o = handle->data;
    for (size_t i = 0; i < o->n_names; i++)
        free(o->names[i]);
    free(o->names);
    for (size_t i = 0; i < o->n_records; i++) {
        struct record *r = &o->records[i];
        free(r->authz_url), free(r->identifier), free(r->challenge_url), free(r->txt_name);
    }
    free(o->records);
    EVP_PKEY_free(o->cert_key);
    free(o->email), free(o->org), free(o->url), free(o->cert_pem);
    acme_order_doc_clear(&o->doc);
    acme_problem_free(o->error.problem);
    free(o);
}

static void unlink_order(struct acme_order *o)
{
    struct acme_client *c = o->client;
    if (o->prev)
        o->prev->next = o->next;
    else
        c->orders = o->next;
    if (o->next) o->next->prev = o->prev;
    c->n_orders--;
    /* Hooks still out (abandoned order) find their order gone. */
    for (struct hook_ticket *t = o->tickets; t; t = t->next)
        t->order = NULL;
    o->tickets = NULL;
    uv_timer_stop(&o->timer);
    uv_close((uv_handle_t *)&o->timer, order_free); /* o lives until the loop's next turn */
}

/* The end: the user's callback last, as it may free the client. */
static void finish(struct acme_order *o)
{
    o->state = ORDER_DONE;
    unlink_order(o);
    if (o->failed) {
        log_info("acme: order for %s failed: %s", o->names[0], o->error.message);
        o->cb(o->cb_arg, NULL, &o->error);
    } else {
        log_info("acme: certificate issued for %s (%zu names)", o->names[0], o->n_names);
        o->cb(o->cb_arg, o->cert_pem, NULL);
    }
}

void acme_orders_abandon(struct acme_client *c)
{
    while (c->orders) {
        struct acme_order *o = c->orders;
        acme_account_unwait(c, o);
        unlink_order(o);
    }
}

/* Records the first failure and goes to removing the records. */
void order_fail(struct acme_order *o, const struct acme_problem *problem, const char *fmt, ...)
{
    if (!o->failed) {
        o->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->error.message, sizeof o->error.message, fmt, ap);
        va_end(ap);
        o->error.problem = acme_problem_copy(problem);
    }
    order_clear_records(o);
}

/* ---- requests and waits ---- */

void order_post(struct acme_order *o, enum order_state state, const char *url, const char *payload)
{
    o->state = state;
    acme_post(o->client, url, payload, false, order_on_response, o);
}

static void on_wait_over(uv_timer_t *timer);

/* Waits before polling again: Retry-After if the CA sent one (RFC 8555
 * §7.5.1), clamped to 1..60 s so neither a zero nor a huge value breaks
 * the loop or the order's time bound. Otherwise a short wait that doubles
 * up to 1 s: a CA that validates in a few hundred milliseconds (most do)
 * is not made to wait a whole second per step, and a slow one is polled at
 * most five times in its first 2.5 s. */
void order_wait_and_poll(struct acme_order *o, long retry_after)
{
    if (o->wait_state != o->state || o->wait_cursor != o->cursor) {
        o->wait_state = o->state;
        o->wait_cursor = o->cursor;
        o->wait_round = 0;
    }
    uint64_t ms;
    if (retry_after > 0)
        ms = (uint64_t)(retry_after > 60 ? 60 : retry_after) * 1000;
    else
        ms = o->wait_round >= 4 ? 1000 : 100u << o->wait_round;
    o->wait_round++;
    uint64_t when = uv_now(o->client->loop) + ms;
    if (when > o->deadline) {
        order_fail(o, NULL, "%s: no final state within %u s", order_state_what[o->state],
                   o->client->order_timeout_s);
        return;
    }
    uv_timer_start(&o->timer, on_wait_over, ms, 0);
}

static void on_wait_over(uv_timer_t *timer)
{
    struct acme_order *o = timer->data;
    if (o->cancelled) {
        order_fail(o, NULL, "cancelled");
        return;
    }
    if (o->state == ORDER_POLLING_AUTHZ)
        order_post(o, o->state, o->records[o->cursor].authz_url, NULL);
    else /* POLLING_READY or POLLING_VALID */
        order_post(o, o->state, o->url, NULL);
}

/* ---- hooks ---- */

static void hooks_finished(struct acme_order *o)
{
    if (--o->hooks_outstanding) return;
    if (o->state == ORDER_CLEARING_TXT) {
        finish(o);
    } else if (o->cancelled) {
        order_fail(o, NULL, "cancelled");
    } else if (o->failed) {
        order_clear_records(o);
    } else {
        o->cursor = 0;
        order_answer_next(o);
    }
}

static void on_hook_done(void *arg, int ok, const char *why)
{
    struct hook_ticket *t = arg;
    struct acme_order *o = t->order;
    struct record *r = t->record;
    if (o) {
        if (t->prev)
            t->prev->next = t->next;
        else
            o->tickets = t->next;
        if (t->next) t->next->prev = t->prev;
    }
    free(t);
    if (!o) return;
    if (ok != 0) {
        why = why ? why : "failed";
        if (o->state == ORDER_SETTING_TXT && !o->failed) {
            o->failed = true;
            snprintf(o->error.message, sizeof o->error.message, "adding TXT %s to %s: %s",
                     r->txt_value, r->txt_name, why);
        } else if (o->state == ORDER_CLEARING_TXT) {
            log_error("acme: removing TXT %s from %s: %s", r->txt_value, r->txt_name, why);
        }
    }
    hooks_finished(o);
}

static void call_hook(struct acme_order *o, struct record *r, bool set)
{
    struct hook_ticket *t = xcalloc(1, sizeof *t);
    t->order = o;
    t->record = r;
    t->next = o->tickets;
    if (o->tickets) o->tickets->prev = t;
    o->tickets = t;
    o->hooks_outstanding++;
    if (set)
        o->hooks.set_txt(o->hooks.ctx, r->txt_name, r->txt_value, on_hook_done, t);
    else
        o->hooks.clear_txt(o->hooks.ctx, r->txt_name, r->txt_value, on_hook_done, t);
}

/* Calls the hook for every record concerned. The count starts at one so
 * that hooks answering before they return cannot end the batch early. */
void order_hook_batch(struct acme_order *o, enum order_state state)
{
    o->state = state;
    o->hooks_outstanding = 1;
    for (size_t i = 0; i < o->n_records; i++) {
        struct record *r = &o->records[i];
        if (state == ORDER_SETTING_TXT && r->needs_challenge) {
            r->txt_set = true;
            call_hook(o, r, true);
        } else if (state == ORDER_CLEARING_TXT && r->txt_set) {
            r->txt_set = false;
            call_hook(o, r, false);
        }
    }
    hooks_finished(o);
}

void order_clear_records(struct acme_order *o)
{
    uv_timer_stop(&o->timer);
    order_hook_batch(o, ORDER_CLEARING_TXT);
}

/* ---- start ---- */

static void on_account_ready(void *arg, const char *err, const struct acme_problem *problem)
{
    struct acme_order *o = arg;
    if (err || o->cancelled) {
        order_fail(o, problem, "%s", err ? err : "cancelled");
        return;
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < o->n_names; i++)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", o->names[i]));
    json_t *req = json_pack("{s:o}", "identifiers", ids);
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    order_post(o, ORDER_CREATING, o->client->dir.new_order, payload);
    free(payload);
}

static void on_start(uv_timer_t *timer)
{
    struct acme_order *o = timer->data;
    if (o->cancelled) {
        order_fail(o, NULL, "cancelled");
        return;
    }
    acme_account_ensure(o->client, on_account_ready, o);
}

struct acme_order *acme_order_start(struct acme_client *c, const char *const names[], size_t n,
                                    EVP_PKEY *cert_key, const char *email, const char *org,
                                    const struct acme_dns_hooks *hooks, acme_order_cb cb, void *arg,
                                    struct err *e)
{
    if (n == 0 || n > ACME_MAX_NAMES) {
        err_set(e, "an order needs 1 to %d names", ACME_MAX_NAMES);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!acme_name_ok(names[i])) {
            err_set(e, "%.260s: not a DNS name a CA issues for", names[i]);
            return NULL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(names[i], names[j]) == 0) {
                err_set(e, "%s is asked for twice", names[i]);
                return NULL;
            }
        }
    }
    if (!cert_key || !acme_jws_alg(cert_key)) {
        err_set(e, "certificate key: an RSA (2048 to 8192 bits) or P-256 key is needed");
        return NULL;
    }
    if (!hooks || !hooks->set_txt || !hooks->clear_txt || !cb) {
        err_set(e, "acme_order_start: set_txt, clear_txt and a callback are needed");
        return NULL;
    }
    struct acme_order *o = xcalloc(1, sizeof *o);
    o->client = c;
    o->names = xcalloc(n, sizeof *o->names);
    for (; o->n_names < n; o->n_names++)
        o->names[o->n_names] = xstrdup(names[o->n_names]);
    EVP_PKEY_up_ref(cert_key);
    o->cert_key = cert_key;
    o->email = email && *email ? xstrdup(email) : NULL;
    o->org = org && *org ? xstrdup(org) : NULL;
    o->hooks = *hooks;
    o->cb = cb;
    o->cb_arg = arg;
    o->deadline = uv_now(c->loop) + (uint64_t)c->order_timeout_s * 1000;
    uv_timer_init(c->loop, &o->timer);
    o->timer.data = o;
    o->next = c->orders;
    if (c->orders) c->orders->prev = o;
    c->orders = o;
    c->n_orders++;
    o->state = ORDER_STARTING;
    uv_timer_start(&o->timer, on_start, 0, 0); /* from the loop, never from inside this call */
    return o;
}

void acme_order_cancel(struct acme_order *o)
{
    if (o->cancelled || o->failed || o->state >= ORDER_CLEARING_TXT) return;
    o->cancelled = true;
    /* A CA that stalls must not hold the order, and so capd's stop, for a
     * whole request timeout (ACME_HTTP_TIMEOUT_MS): the order's request in
     * flight is aborted, its wait for the account forgotten, and the order
     * goes to removing its records from the loop (on_wait_over), as a cut
     * wait does. Hook calls in flight are local zone updates: the batch
     * ends, and with it the order, when they answer (hooks_finished). */
    acme_account_unwait(o->client, o);
    acme_post_abort(o->client, o);
    if (o->state != ORDER_SETTING_TXT) uv_timer_start(&o->timer, on_wait_over, 0, 0);
}
