/*
 * acme/order_steps: the answer to each state's request (RFC 8555 §7.4):
 * the authorizations fetched and polled, the challenges answered, the
 * order polled, finalized with the CSR, the certificate downloaded and
 * checked. Each handler moves the order on (order_int.h, order.c).
 */
#include <string.h>
#include <jansson.h>

#include "acme/order_int.h"
#include "util/b64url.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Poll failures (transport, 5xx) retried per order before giving up. */
#define MAX_TRANSIENT_FAILURES 5

static void fetch_next_authz(struct acme_order *o);
static void poll_next_authz(struct acme_order *o);

static void authz_failed(struct acme_order *o, struct acme_authz_doc *a)
{
    struct record *r = &o->records[o->cursor];
    if (a->dns01_error) {
        char text[400];
        acme_problem_format(a->dns01_error, text, sizeof text);
        order_fail(o, a->dns01_error, "%s%s: %s", r->wildcard ? "*." : "", r->identifier, text);
    } else {
        order_fail(o, NULL, "%s%s: authorization is %s", r->wildcard ? "*." : "", r->identifier,
                   acme_status_name(a->status));
    }
}

static void on_authz(struct acme_order *o, const struct acme_http_response *resp)
{
    struct record *r = &o->records[o->cursor];
    struct acme_authz_doc a;
    struct err e;
    if (acme_parse_authz(resp->body, resp->body_len, &a, &e) < 0) {
        order_fail(o, NULL, "%s: %s", r->authz_url, e.msg);
        return;
    }
    if (o->state == ORDER_FETCHING_AUTHZ) {
        r->identifier = xstrdup(a.identifier);
        r->wildcard = a.wildcard;
        if (a.status == ACME_STATUS_PENDING) {
            if (!a.has_dns01) {
                order_fail(o, NULL, "%s: the CA offers no dns-01 challenge", a.identifier);
                goto out;
            }
            size_t len = strlen(a.identifier) + sizeof "_acme-challenge.";
            r->txt_name = xmalloc(len);
            snprintf(r->txt_name, len, "_acme-challenge.%s", a.identifier);
            r->challenge_url = xstrdup(a.dns01_url);
            if (acme_dns01_txt_value(a.dns01_token, o->client->thumbprint, r->txt_value, &e) < 0) {
                order_fail(o, NULL, "%s: %s", a.identifier, e.msg);
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
            order_wait_and_poll(o, resp->retry_after);
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
        order_post(o, ORDER_FETCHING_AUTHZ, o->records[o->cursor].authz_url, NULL);
    else
        order_hook_batch(o, ORDER_SETTING_TXT); /* every record, not only the first (eon's bug) */
}

void order_answer_next(struct acme_order *o)
{
    while (o->cursor < o->n_records && !o->records[o->cursor].needs_challenge)
        o->cursor++;
    if (o->cursor < o->n_records) {
        order_post(o, ORDER_ANSWERING, o->records[o->cursor].challenge_url, "{}");
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
        order_post(o, ORDER_POLLING_AUTHZ, o->records[o->cursor].authz_url, NULL);
    else
        order_post(o, ORDER_POLLING_READY, o->url, NULL);
}

static void finalize(struct acme_order *o)
{
    unsigned char *der;
    size_t der_len;
    struct err e;
    if (acme_csr_der(o->cert_key, (const char *const *)o->names, o->n_names, o->email, o->org, &der,
                     &der_len, &e) < 0) {
        order_fail(o, NULL, "%s", e.msg);
        return;
    }
    char *csr = xmalloc(b64url_enc_len(der_len) + 1);
    b64url_encode(der, der_len, csr);
    OPENSSL_free(der);
    json_t *req = json_pack("{s:s}", "csr", csr);
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    free(csr);
    order_post(o, ORDER_FINALIZING, o->doc.finalize, payload);
    free(payload);
}

/* An order object: after creation, while polling, after finalize. */
static void on_order(struct acme_order *o, const struct acme_http_response *resp)
{
    struct acme_order_doc doc;
    struct err e;
    if (acme_parse_order(resp->body, resp->body_len, &doc, &e) < 0) {
        order_fail(o, NULL, "%s", e.msg);
        return;
    }
    acme_order_doc_clear(&o->doc);
    o->doc = doc;
    if (doc.status == ACME_STATUS_INVALID || doc.status == ACME_STATUS_EXPIRED ||
        doc.status == ACME_STATUS_DEACTIVATED || doc.status == ACME_STATUS_REVOKED) {
        char text[400] = "";
        if (doc.error) acme_problem_format(doc.error, text, sizeof text);
        order_fail(o, doc.error, "%s: the order is %s%s%s", order_state_what[o->state],
                   acme_status_name(doc.status), doc.error ? ": " : "", text);
        return;
    }
    if (o->state == ORDER_CREATING) {
        if (!resp->location || strncmp(resp->location, "https://", 8) != 0) {
            order_fail(o, NULL, "newOrder: no https:// Location (order URL) in the answer");
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
            order_fail(o, NULL, "the order is valid but names no certificate URL");
            return;
        }
        order_post(o, ORDER_DOWNLOADING, doc.certificate, NULL);
    } else if (doc.status == ACME_STATUS_READY && o->state == ORDER_POLLING_READY) {
        finalize(o);
    } else if (o->state == ORDER_FINALIZING) {
        o->state = ORDER_POLLING_VALID;
        order_wait_and_poll(o, resp->retry_after);
    } else {
        order_wait_and_poll(o, resp->retry_after);
    }
}

static void on_certificate(struct acme_order *o, const struct acme_http_response *resp)
{
    struct err e;
    if (acme_cert_chain_check(resp->body, resp->body_len, o->cert_key,
                              (const char *const *)o->names, o->n_names, &e) < 0) {
        order_fail(o, NULL, "the certificate from %s: %s", o->doc.certificate, e.msg);
        return;
    }
    o->cert_pem = xstrdup(resp->body);
    order_clear_records(o);
}

void order_on_response(void *arg, const struct acme_http_response *resp,
                       const struct acme_problem *problem, const char *err)
{
    struct acme_order *o = arg;
    if (o->cancelled) {
        order_fail(o, NULL, "cancelled");
        return;
    }
    /* A poll is only a read: a dropped connection or a 5xx from a busy CA
     * is worth another try within the order's time bound. */
    bool polling = o->state == ORDER_POLLING_AUTHZ || o->state == ORDER_POLLING_READY ||
                   o->state == ORDER_POLLING_VALID;
    if (polling && (err || (resp && resp->status >= 500)) &&
        o->transient_failures++ < MAX_TRANSIENT_FAILURES) {
        log_info("acme: %s: %s; trying again", order_state_what[o->state],
                 err ? err : problem->type);
        order_wait_and_poll(o, resp ? resp->retry_after : -1);
        return;
    }
    if (problem) {
        char text[400];
        acme_problem_format(problem, text, sizeof text);
        order_fail(o, problem, "%s: %s", order_state_what[o->state], text);
        return;
    }
    if (err) {
        order_fail(o, NULL, "%s: %s", order_state_what[o->state], err);
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
        order_answer_next(o);
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
        order_fail(o, NULL, "internal: a response in state %s", order_state_what[o->state]);
    }
}
