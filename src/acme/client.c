/*
 * acme/client: the client object, signed requests with their nonces and
 * badNonce retries, the directory and the account. Orders are in order.c.
 */
#include "acme/client.h"

#include <string.h>
#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"

struct post {
    struct acme_client *c;
    char *url, *payload;
    bool with_jwk;
    int bad_nonces;
    acme_post_cb cb;
    void *arg;
    struct post *prev, *next;
};

struct account_waiter {
    acme_ready_cb cb;
    void *arg;
    struct account_waiter *next;
};

/* ---- nonces ---- */

static void nonce_keep(struct acme_client *c, const char *nonce)
{
    if (!nonce || !*nonce || strlen(nonce) > MAX_NONCE) return;
    if (c->n_nonces == NONCE_POOL) { /* the oldest is the likeliest to be stale */
        free(c->nonces[0]);
        memmove(c->nonces, c->nonces + 1, (NONCE_POOL - 1) * sizeof *c->nonces);
        c->n_nonces--;
    }
    c->nonces[c->n_nonces++] = xstrdup(nonce);
}

static char *nonce_take(struct acme_client *c)
{
    return c->n_nonces ? c->nonces[--c->n_nonces] : NULL;
}

/* ---- signed requests ---- */

static void post_free(struct post *p)
{
    struct acme_client *c = p->c;
    if (p->prev)
        p->prev->next = p->next;
    else
        c->posts = p->next;
    if (p->next) p->next->prev = p->prev;
    free(p->url);
    free(p->payload);
    free(p);
}

/* Frees p first: the callback may free the whole client. */
static void post_done(struct post *p, const struct acme_http_response *resp,
                      const struct acme_problem *problem, const char *err)
{
    acme_post_cb cb = p->cb;
    void *arg = p->arg;
    post_free(p);
    cb(arg, resp, problem, err);
}

static void post_send(struct post *p);

static void on_post_response(void *arg, const struct acme_http_response *resp, const char *err)
{
    struct post *p = arg;
    char msg[600];
    if (!resp) {
        snprintf(msg, sizeof msg, "%s: %s", p->url, err);
        post_done(p, NULL, NULL, msg);
        return;
    }
    nonce_keep(p->c, resp->replay_nonce);
    if (resp->status >= 200 && resp->status < 300) {
        post_done(p, resp, NULL, NULL);
        return;
    }
    struct err e;
    struct acme_problem *problem = acme_parse_problem(resp->body, resp->body_len, &e);
    if (problem && strcmp(problem->type, "urn:ietf:params:acme:error:badNonce") == 0 &&
        p->bad_nonces++ < ACME_MAX_BAD_NONCE) {
        log_debug("acme: badNonce from %s, retrying with a fresh nonce", p->url);
        acme_problem_free(problem);
        p->c->bad_nonce_retries++;
        post_send(p);
        return;
    }
    if (problem) {
        post_done(p, resp, problem, NULL);
        acme_problem_free(problem);
        return;
    }
    snprintf(msg, sizeof msg, "%s: HTTP %ld and no problem document (%s)", p->url, resp->status,
             e.msg);
    post_done(p, resp, NULL, msg);
}

static void post_signed(struct post *p, char *nonce)
{
    struct acme_client *c = p->c;
    struct err e;
    char *jws = acme_jws_sign(c->account_key, p->with_jwk ? NULL : c->account_url, nonce, p->url,
                              p->payload, &e);
    free(nonce);
    if (!jws) {
        post_done(p, NULL, NULL, e.msg);
        return;
    }
    int rc = acme_http_request(c->http, "POST", p->url, jws, "application/jose+json",
                               on_post_response, p, &e);
    free(jws);
    if (rc < 0) post_done(p, NULL, NULL, e.msg);
}

static void on_new_nonce(void *arg, const struct acme_http_response *resp, const char *err)
{
    struct post *p = arg;
    char msg[600];
    if (!resp || !resp->replay_nonce || strlen(resp->replay_nonce) > MAX_NONCE) {
        snprintf(msg, sizeof msg, "newNonce %s: %s", p->c->dir.new_nonce,
                 resp ? "no usable Replay-Nonce header" : err);
        post_done(p, NULL, NULL, msg);
        return;
    }
    post_signed(p, xstrdup(resp->replay_nonce));
}

static void post_send(struct post *p)
{
    char *nonce = nonce_take(p->c);
    if (nonce) {
        post_signed(p, nonce);
        return;
    }
    struct err e;
    if (acme_http_request(p->c->http, "HEAD", p->c->dir.new_nonce, NULL, NULL, on_new_nonce, p,
                          &e) < 0)
        post_done(p, NULL, NULL, e.msg);
}

void acme_post(struct acme_client *c, const char *url, const char *payload, bool with_jwk,
               acme_post_cb cb, void *arg)
{
    struct post *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->url = xstrdup(url);
    p->payload = payload ? xstrdup(payload) : NULL;
    p->with_jwk = with_jwk;
    p->cb = cb;
    p->arg = arg;
    p->next = c->posts;
    if (c->posts) c->posts->prev = p;
    c->posts = p;
    post_send(p);
}

void acme_post_abort(struct acme_client *c, void *arg)
{
    for (struct post *p = c->posts, *next; p; p = next) {
        next = p->next;
        if (p->arg != arg) continue;
        acme_http_cancel(c->http, p); /* the HEAD for a nonce or the POST: one at a time */
        post_free(p);
    }
}

/* ---- directory and account ---- */

/* Tells every waiter. The list is taken first, so an order started from a
 * callback waits for its own lookup, not this outcome. A waiter may free
 * the client (an order failing calls back its user): then the rest of the
 * list, orders freed with the client, is dropped untold. */
static void account_notify(struct acme_client *c, const char *err,
                           const struct acme_problem *problem)
{
    struct account_waiter *list = c->waiters;
    c->waiters = NULL;
    bool destroyed = false;
    /* acme_client_free sets *c->destroyed; it is reset below before this
     * frame ends unless the client is gone. GCC cannot see that and warns
     * at -O2 (dangling-pointer). */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
    c->destroyed = &destroyed;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    while (list) {
        struct account_waiter *w = list;
        list = w->next;
        acme_ready_cb cb = w->cb;
        void *arg = w->arg;
        free(w);
        if (!destroyed) cb(arg, err, problem);
    }
    if (!destroyed) c->destroyed = NULL;
}

static void account_failed(struct acme_client *c, const char *what, const char *err,
                           const struct acme_problem *problem)
{
    char msg[700], text[512];
    if (problem) {
        acme_problem_format(problem, text, sizeof text);
        err = text;
    }
    /* A longer message is cut, still one line. */
    if (snprintf(msg, sizeof msg, "%s: %s", what, err) >= (int)sizeof msg) msg[sizeof msg - 1] = 0;
    c->account = ACCOUNT_UNKNOWN; /* the next order tries again */
    account_notify(c, msg, problem);
}

static void on_account(void *arg, const struct acme_http_response *resp,
                       const struct acme_problem *problem, const char *err)
{
    struct acme_client *c = arg;
    bool lookup = c->account == ACCOUNT_LOOKUP;
    if (lookup && problem &&
        strcmp(problem->type, "urn:ietf:params:acme:error:accountDoesNotExist") == 0) {
        /* RFC 8555 §7.3: create it, agreeing to the terms as eon does. */
        json_t *req = json_pack("{s:b}", "termsOfServiceAgreed", 1);
        if (c->email) {
            char contact[300];
            snprintf(contact, sizeof contact, "mailto:%s", c->email);
            json_object_set_new(req, "contact", json_pack("[s]", contact));
        }
        char *payload = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        c->account = ACCOUNT_CREATE;
        acme_post(c, c->dir.new_account, payload, true, on_account, c);
        free(payload);
        return;
    }
    const char *what = lookup ? "looking up the ACME account" : "creating the ACME account";
    if (!resp || problem || err) {
        account_failed(c, what, err ? err : "no response", problem);
        return;
    }
    enum acme_status status;
    struct err e;
    if (!resp->location || strncmp(resp->location, "https://", 8) != 0) {
        account_failed(c, what, "no https:// Location (account URL) in the answer", NULL);
        return;
    }
    if (acme_parse_account_status(resp->body, resp->body_len, &status, &e) < 0) {
        account_failed(c, what, e.msg, NULL);
        return;
    }
    if (status != ACME_STATUS_VALID) {
        snprintf(e.msg, sizeof e.msg, "the account is %s", acme_status_name(status));
        account_failed(c, what, e.msg, NULL);
        return;
    }
    free(c->account_url);
    c->account_url = xstrdup(resp->location);
    c->account = ACCOUNT_READY;
    log_info("acme: account %s (%s)", c->account_url, lookup ? "existing" : "created");
    account_notify(c, NULL, NULL);
}

static void account_lookup(struct acme_client *c)
{
    c->account = ACCOUNT_LOOKUP;
    acme_post(c, c->dir.new_account, "{\"onlyReturnExisting\":true}", true, on_account, c);
}

static void on_directory(void *arg, const struct acme_http_response *resp, const char *err)
{
    struct acme_client *c = arg;
    struct err e;
    char what[600];
    snprintf(what, sizeof what, "ACME directory %s", c->directory_url);
    if (!resp) {
        account_failed(c, what, err, NULL);
        return;
    }
    if (resp->status != 200) {
        snprintf(e.msg, sizeof e.msg, "HTTP %ld", resp->status);
        account_failed(c, what, e.msg, NULL);
        return;
    }
    if (acme_parse_directory(resp->body, resp->body_len, &c->dir, &e) < 0) {
        account_failed(c, what, e.msg, NULL);
        return;
    }
    c->have_directory = true;
    account_lookup(c);
}

void acme_account_ensure(struct acme_client *c, acme_ready_cb cb, void *arg)
{
    if (c->account == ACCOUNT_READY) {
        cb(arg, NULL, NULL);
        return;
    }
    struct account_waiter *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->arg = arg;
    w->next = c->waiters;
    c->waiters = w;
    if (c->account != ACCOUNT_UNKNOWN) return; /* under way: this order is told with the others */
    if (c->have_directory) {
        account_lookup(c);
        return;
    }
    c->account = ACCOUNT_LOOKUP;
    struct err e;
    if (acme_http_request(c->http, "GET", c->directory_url, NULL, NULL, on_directory, c, &e) < 0)
        account_failed(c, "fetching the ACME directory", e.msg, NULL);
}

void acme_account_unwait(struct acme_client *c, void *arg)
{
    for (struct account_waiter **w = &c->waiters; *w; w = &(*w)->next) {
        if ((*w)->arg == arg) {
            struct account_waiter *gone = *w;
            *w = gone->next;
            free(gone);
            return;
        }
    }
}

/* ---- the client ---- */

/* One plain address: a mailto: URL with hfields or several addresses is
 * refused by CAs (RFC 8555 §7.3), better said here. */
static bool email_ok(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 254 || !strchr(s, '@')) return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr(",?<>()[]\\\";:", *s)) return false;
    return true;
}

struct acme_client *acme_client_new(uv_loop_t *loop, const struct acme_client_config *cfg,
                                    struct err *e)
{
    if (!cfg->directory_url || strncmp(cfg->directory_url, "https://", 8) != 0) {
        err_set(e, "ACME directory URL must be https://");
        return NULL;
    }
    if (cfg->email && !email_ok(cfg->email)) {
        err_set(e, "%s: not a plain email address", cfg->email);
        return NULL;
    }
    EVP_PKEY *key = cfg->account_key;
    if (key) {
        if (!acme_jws_alg(key)) {
            err_set(e, "account key: only RSA (2048 to 8192 bits) and P-256 keys can sign");
            return NULL;
        }
        EVP_PKEY_up_ref(key);
    } else if (!(key = acme_key_generate(cfg->account_key_type, e))) {
        return NULL;
    }
    struct acme_client *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->account_key = key;
    if (acme_jwk_thumbprint(key, c->thumbprint, e) < 0 ||
        !(c->http = acme_http_new(loop, cfg->ca_file, "https", e))) {
        EVP_PKEY_free(key);
        free(c);
        return NULL;
    }
    c->directory_url = xstrdup(cfg->directory_url);
    c->email = cfg->email ? xstrdup(cfg->email) : NULL;
    c->order_timeout_s = cfg->order_timeout_s ? cfg->order_timeout_s : ACME_ORDER_TIMEOUT_DEFAULT_S;
    return c;
}

EVP_PKEY *acme_client_account_key(struct acme_client *c)
{
    return c->account_key;
}

const char *acme_client_account_url(const struct acme_client *c)
{
    return c->account == ACCOUNT_READY ? c->account_url : NULL;
}

size_t acme_client_bad_nonce_retries(const struct acme_client *c)
{
    return c->bad_nonce_retries;
}

size_t acme_client_orders_running(const struct acme_client *c)
{
    return c->n_orders;
}

void acme_client_free(struct acme_client *c)
{
    if (!c) return;
    if (c->destroyed) *c->destroyed = true;
    acme_orders_abandon(c);
    while (c->waiters) {
        struct account_waiter *w = c->waiters;
        c->waiters = w->next;
        free(w);
    }
    while (c->posts)
        post_free(c->posts);
    acme_http_free(c->http); /* aborts requests: none calls back */
    for (size_t i = 0; i < c->n_nonces; i++)
        free(c->nonces[i]);
    acme_directory_clear(&c->dir);
    EVP_PKEY_free(c->account_key);
    free(c->account_url);
    free(c->directory_url);
    free(c->email);
    free(c);
}
