/*
 * acme/order: one certificate order as an explicit state machine (RFC 8555
 * §7.4). Each state has at most one request or one batch of hook calls in
 * flight; its answer is handled by the function for that state and moves
 * the order on. See acme.h for the sequence.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "acme/client.h"
#include "util/b64url.h"
#include "util/log.h"
#include "util/xalloc.h"

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

static const char *const state_what[] = {
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

/* Poll failures (transport, 5xx) retried per order before giving up. */
#define MAX_TRANSIENT_FAILURES 5

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

static void fetch_next_authz(struct acme_order *o);
static void answer_next(struct acme_order *o);
static void poll_next_authz(struct acme_order *o);
static void clear_records(struct acme_order *o);
static void on_response(void *arg, const struct acme_http_response *resp,
                        const struct acme_problem *problem, const char *err);

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
static void __attribute__((format(printf, 3, 4)))
fail(struct acme_order *o, const struct acme_problem *problem, const char *fmt, ...)
{
    if (!o->failed) {
        o->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->error.message, sizeof o->error.message, fmt, ap);
        va_end(ap);
        o->error.problem = acme_problem_copy(problem);
    }
    clear_records(o);
}

/* ---- requests and waits ---- */

static void post(struct acme_order *o, enum order_state state, const char *url, const char *payload)
{
    o->state = state;
    acme_post(o->client, url, payload, false, on_response, o);
}

static void on_wait_over(uv_timer_t *timer);

/* Waits before polling again: Retry-After if the CA sent one (RFC 8555
 * §7.5.1), clamped to 1..60 s so neither a zero nor a huge value breaks
 * the loop or the order's time bound. Otherwise a short wait that doubles
 * up to 1 s: a CA that validates in a few hundred milliseconds (most do)
 * is not made to wait a whole second per step, and a slow one is polled at
 * most five times in its first 2.5 s. */
static void wait_and_poll(struct acme_order *o, long retry_after)
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
        fail(o, NULL, "%s: no final state within %u s", state_what[o->state],
             o->client->order_timeout_s);
        return;
    }
    uv_timer_start(&o->timer, on_wait_over, ms, 0);
}

static void on_wait_over(uv_timer_t *timer)
{
    struct acme_order *o = timer->data;
    if (o->cancelled) {
        fail(o, NULL, "cancelled");
        return;
    }
    if (o->state == ORDER_POLLING_AUTHZ)
        post(o, o->state, o->records[o->cursor].authz_url, NULL);
    else /* POLLING_READY or POLLING_VALID */
        post(o, o->state, o->url, NULL);
}

/* ---- hooks ---- */

static void hooks_finished(struct acme_order *o)
{
    if (--o->hooks_outstanding) return;
    if (o->state == ORDER_CLEARING_TXT) {
        finish(o);
    } else if (o->cancelled) {
        fail(o, NULL, "cancelled");
    } else if (o->failed) {
        clear_records(o);
    } else {
        o->cursor = 0;
        answer_next(o);
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
static void hook_batch(struct acme_order *o, enum order_state state)
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

static void clear_records(struct acme_order *o)
{
    uv_timer_stop(&o->timer);
    hook_batch(o, ORDER_CLEARING_TXT);
}

/* ---- the states ---- */

static void authz_failed(struct acme_order *o, struct acme_authz_doc *a)
{
    struct record *r = &o->records[o->cursor];
    if (a->dns01_error) {
        char text[400];
        acme_problem_format(a->dns01_error, text, sizeof text);
        fail(o, a->dns01_error, "%s%s: %s", r->wildcard ? "*." : "", r->identifier, text);
    } else {
        fail(o, NULL, "%s%s: authorization is %s", r->wildcard ? "*." : "", r->identifier,
             acme_status_name(a->status));
    }
}

static void on_authz(struct acme_order *o, const struct acme_http_response *resp)
{
    struct record *r = &o->records[o->cursor];
    struct acme_authz_doc a;
    struct err e;
    if (acme_parse_authz(resp->body, resp->body_len, &a, &e) < 0) {
        fail(o, NULL, "%s: %s", r->authz_url, e.msg);
        return;
    }
    if (o->state == ORDER_FETCHING_AUTHZ) {
        r->identifier = xstrdup(a.identifier);
        r->wildcard = a.wildcard;
        if (a.status == ACME_STATUS_PENDING) {
            if (!a.has_dns01) {
                fail(o, NULL, "%s: the CA offers no dns-01 challenge", a.identifier);
                goto out;
            }
            size_t len = strlen(a.identifier) + sizeof "_acme-challenge.";
            r->txt_name = xmalloc(len);
            snprintf(r->txt_name, len, "_acme-challenge.%s", a.identifier);
            r->challenge_url = xstrdup(a.dns01_url);
            if (acme_dns01_txt_value(a.dns01_token, o->client->thumbprint, r->txt_value, &e) < 0) {
                fail(o, NULL, "%s: %s", a.identifier, e.msg);
                goto out;
            }
            r->needs_challenge = true;
        } else if (a.status != ACME_STATUS_VALID) { /* valid: an earlier proof is reused */
            authz_failed(o, &a);
            goto out;
        }
        o->cursor++;
        fetch_next_authz(o);
    } else { /* ORDER_POLLING_AUTHZ */
        if (a.status == ACME_STATUS_VALID) {
            o->cursor++;
            poll_next_authz(o);
        } else if (a.status == ACME_STATUS_PENDING || a.status == ACME_STATUS_PROCESSING) {
            wait_and_poll(o, resp->retry_after);
        } else {
            authz_failed(o, &a);
        }
    }
out:
    acme_authz_doc_clear(&a);
}

static void fetch_next_authz(struct acme_order *o)
{
    if (o->cursor < o->n_records)
        post(o, ORDER_FETCHING_AUTHZ, o->records[o->cursor].authz_url, NULL);
    else
        hook_batch(o, ORDER_SETTING_TXT); /* every record, not only the first (eon's bug) */
}

static void answer_next(struct acme_order *o)
{
    while (o->cursor < o->n_records && !o->records[o->cursor].needs_challenge)
        o->cursor++;
    if (o->cursor < o->n_records) {
        post(o, ORDER_ANSWERING, o->records[o->cursor].challenge_url, "{}");
        return;
    }
    o->cursor = 0;
    poll_next_authz(o);
}

static void poll_next_authz(struct acme_order *o)
{
    while (o->cursor < o->n_records && !o->records[o->cursor].needs_challenge)
        o->cursor++;
    if (o->cursor < o->n_records)
        post(o, ORDER_POLLING_AUTHZ, o->records[o->cursor].authz_url, NULL);
    else
        post(o, ORDER_POLLING_READY, o->url, NULL);
}

static void finalize(struct acme_order *o)
{
    unsigned char *der;
    size_t der_len;
    struct err e;
    if (acme_csr_der(o->cert_key, (const char *const *)o->names, o->n_names, o->email, o->org, &der,
                     &der_len, &e) < 0) {
        fail(o, NULL, "%s", e.msg);
        return;
    }
    char *csr = xmalloc(b64url_enc_len(der_len) + 1);
    b64url_encode(der, der_len, csr);
    OPENSSL_free(der);
    json_t *req = json_pack("{s:s}", "csr", csr);
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    free(csr);
    post(o, ORDER_FINALIZING, o->doc.finalize, payload);
    free(payload);
}

/* An order object: after creation, while polling, after finalize. */
static void on_order(struct acme_order *o, const struct acme_http_response *resp)
{
    struct acme_order_doc doc;
    struct err e;
    if (acme_parse_order(resp->body, resp->body_len, &doc, &e) < 0) {
        fail(o, NULL, "%s", e.msg);
        return;
    }
    acme_order_doc_clear(&o->doc);
    o->doc = doc;
    if (doc.status == ACME_STATUS_INVALID || doc.status == ACME_STATUS_EXPIRED ||
        doc.status == ACME_STATUS_DEACTIVATED || doc.status == ACME_STATUS_REVOKED) {
        char text[400] = "";
        if (doc.error) acme_problem_format(doc.error, text, sizeof text);
        fail(o, doc.error, "%s: the order is %s%s%s", state_what[o->state],
             acme_status_name(doc.status), doc.error ? ": " : "", text);
        return;
    }
    if (o->state == ORDER_CREATING) {
        if (!resp->location || strncmp(resp->location, "https://", 8) != 0) {
            fail(o, NULL, "newOrder: no https:// Location (order URL) in the answer");
            return;
        }
        o->url = xstrdup(resp->location);
        o->records = xcalloc(doc.n_authorizations, sizeof *o->records);
        o->n_records = doc.n_authorizations;
        for (size_t i = 0; i < doc.n_authorizations; i++)
            o->records[i].authz_url = xstrdup(doc.authorizations[i]);
        o->cursor = 0;
        fetch_next_authz(o);
    } else if (doc.status == ACME_STATUS_VALID) {
        if (!doc.certificate) {
            fail(o, NULL, "the order is valid but names no certificate URL");
            return;
        }
        post(o, ORDER_DOWNLOADING, doc.certificate, NULL);
    } else if (doc.status == ACME_STATUS_READY && o->state == ORDER_POLLING_READY) {
        finalize(o);
    } else if (o->state == ORDER_FINALIZING) {
        o->state = ORDER_POLLING_VALID;
        wait_and_poll(o, resp->retry_after);
    } else {
        wait_and_poll(o, resp->retry_after);
    }
}

static void on_certificate(struct acme_order *o, const struct acme_http_response *resp)
{
    struct err e;
    if (acme_cert_chain_check(resp->body, resp->body_len, o->cert_key,
                              (const char *const *)o->names, o->n_names, &e) < 0) {
        fail(o, NULL, "the certificate from %s: %s", o->doc.certificate, e.msg);
        return;
    }
    o->cert_pem = xstrdup(resp->body);
    clear_records(o);
}

static void on_response(void *arg, const struct acme_http_response *resp,
                        const struct acme_problem *problem, const char *err)
{
    struct acme_order *o = arg;
    if (o->cancelled) {
        fail(o, NULL, "cancelled");
        return;
    }
    /* A poll is only a read: a dropped connection or a 5xx from a busy CA
     * is worth another try within the order's time bound. */
    bool polling = o->state == ORDER_POLLING_AUTHZ || o->state == ORDER_POLLING_READY ||
                   o->state == ORDER_POLLING_VALID;
    if (polling && (err || (resp && resp->status >= 500)) &&
        o->transient_failures++ < MAX_TRANSIENT_FAILURES) {
        log_info("acme: %s: %s; trying again", state_what[o->state], err ? err : problem->type);
        wait_and_poll(o, resp ? resp->retry_after : -1);
        return;
    }
    if (problem) {
        char text[400];
        acme_problem_format(problem, text, sizeof text);
        fail(o, problem, "%s: %s", state_what[o->state], text);
        return;
    }
    if (err) {
        fail(o, NULL, "%s: %s", state_what[o->state], err);
        return;
    }
    switch (o->state) {
    case ORDER_FETCHING_AUTHZ:
    case ORDER_POLLING_AUTHZ:
        on_authz(o, resp);
        break;
    case ORDER_ANSWERING:
        /* The challenge's own status adds nothing: the authorization,
         * polled next, says how validation went. */
        o->cursor++;
        answer_next(o);
        break;
    case ORDER_CREATING:
    case ORDER_POLLING_READY:
    case ORDER_FINALIZING:
    case ORDER_POLLING_VALID:
        on_order(o, resp);
        break;
    case ORDER_DOWNLOADING:
        on_certificate(o, resp);
        break;
    default:
        fail(o, NULL, "internal: a response in state %s", state_what[o->state]);
    }
}

/* ---- start ---- */

static void on_account_ready(void *arg, const char *err, const struct acme_problem *problem)
{
    struct acme_order *o = arg;
    if (err || o->cancelled) {
        fail(o, problem, "%s", err ? err : "cancelled");
        return;
    }
    json_t *ids = json_array();
    for (size_t i = 0; i < o->n_names; i++)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", o->names[i]));
    json_t *req = json_pack("{s:o}", "identifiers", ids);
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    post(o, ORDER_CREATING, o->client->dir.new_order, payload);
    free(payload);
}

static void on_start(uv_timer_t *timer)
{
    struct acme_order *o = timer->data;
    if (o->cancelled) {
        fail(o, NULL, "cancelled");
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
