/*
 * acme/json: checked parsing of directory, order, authorization, account
 * and problem documents. See json.h for the bounds.
 */
#include "acme/json.h"

#include <string.h>
#include <jansson.h>

#include "util/xalloc.h"

/* Documents larger than this are refused before parsing (the HTTP layer
 * bounds bodies too; this keeps the parsers safe on their own, e.g. when fuzzed). */
#define MAX_DOCUMENT (1u << 20)

static const char *const status_names[] = {
    [ACME_STATUS_PENDING] = "pending",         [ACME_STATUS_READY] = "ready",
    [ACME_STATUS_PROCESSING] = "processing",   [ACME_STATUS_VALID] = "valid",
    [ACME_STATUS_INVALID] = "invalid",         [ACME_STATUS_EXPIRED] = "expired",
    [ACME_STATUS_DEACTIVATED] = "deactivated", [ACME_STATUS_REVOKED] = "revoked",
};

const char *acme_status_name(enum acme_status s)
{
    return (size_t)s < sizeof status_names / sizeof *status_names ? status_names[s] : "?";
}

static json_t *load_object(const char *text, size_t len, const char *what, struct err *e)
{
    if (len > MAX_DOCUMENT) {
        err_set(e, "%s: %zu bytes, more than the %u allowed", what, len, MAX_DOCUMENT);
        return NULL;
    }
    /* A raw NUL is never valid JSON text, but jansson lets one through
     * outside strings; the document's text is also kept as a C string
     * (problem documents reach the user verbatim), so refuse it here. */
    if (memchr(text, 0, len)) {
        err_set(e, "%s: not JSON (a NUL byte at offset %zu)", what,
                (size_t)((const char *)memchr(text, 0, len) - text));
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        err_set(e, "%s: not JSON (%s at offset %d)", what, jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        err_set(e, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

/* A string member no longer than max bytes, copied to *out. Absent is an
 * error only when required; present with another type always is. */
static int get_string(json_t *obj, const char *what, const char *key, size_t max, bool required,
                      char **out, struct err *e)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return err_set(e, "%s: no \"%s\"", what, key);
        return 0;
    }
    if (!json_is_string(v)) return err_set(e, "%s: \"%s\" is not a string", what, key);
    size_t len = json_string_length(v);
    if (len > max) return err_set(e, "%s: \"%s\" is %zu bytes, more than %zu", what, key, len, max);
    if (memchr(json_string_value(v), 0, len))
        return err_set(e, "%s: \"%s\" contains a NUL", what, key);
    *out = xstrdup(json_string_value(v));
    return 0;
}

/* URLs the client will send requests (and signatures) to: HTTPS only, as
 * RFC 8555 §6.1 requires, so a document cannot downgrade the transport. */
static int get_url(json_t *obj, const char *what, const char *key, bool required, char **out,
                   struct err *e)
{
    if (get_string(obj, what, key, ACME_MAX_URL, required, out, e) < 0) return -1;
    if (*out && strncmp(*out, "https://", 8) != 0) {
        free(*out);
        *out = NULL;
        return err_set(e, "%s: \"%s\" is not an https:// URL", what, key);
    }
    return 0;
}

static int get_status(json_t *obj, const char *what, enum acme_status *out, struct err *e)
{
    json_t *v = json_object_get(obj, "status");
    if (!json_is_string(v)) return err_set(e, "%s: \"status\" missing or not a string", what);
    for (size_t i = 0; i < sizeof status_names / sizeof *status_names; i++) {
        if (strcmp(json_string_value(v), status_names[i]) == 0) {
            *out = (enum acme_status)i;
            return 0;
        }
    }
    return err_set(e, "%s: unknown status \"%.40s\"", what, json_string_value(v));
}

int acme_parse_directory(const char *text, size_t len, struct acme_directory *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    json_t *root = load_object(text, len, "ACME directory", e);
    if (!root) return -1;
    const char *w = "ACME directory";
    int rc = -1;
    if (get_url(root, w, "newNonce", true, &out->new_nonce, e) < 0 ||
        get_url(root, w, "newAccount", true, &out->new_account, e) < 0 ||
        get_url(root, w, "newOrder", true, &out->new_order, e) < 0)
        goto out;
    json_t *meta = json_object_get(root, "meta");
    if (meta && !json_is_object(meta)) {
        err_set(e, "%s: \"meta\" is not an object", w);
        goto out;
    }
    if (meta &&
        get_string(meta, w, "termsOfService", ACME_MAX_URL, false, &out->terms_of_service, e) < 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    if (rc < 0) acme_directory_clear(out);
    return rc;
}

void acme_directory_clear(struct acme_directory *d)
{
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->terms_of_service);
    memset(d, 0, sizeof *d);
}

/* The identifier object {type: "dns", value: NAME}; value copied to *out. */
static int get_identifier(json_t *obj, const char *what, bool required, char **out, struct err *e)
{
    *out = NULL;
    json_t *id = json_object_get(obj, "identifier");
    if (!id) return required ? err_set(e, "%s: no \"identifier\"", what) : 0;
    if (!json_is_object(id)) return err_set(e, "%s: \"identifier\" is not an object", what);
    json_t *type = json_object_get(id, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "dns") != 0)
        return err_set(e, "%s: identifier type is not \"dns\"", what);
    return get_string(id, what, "value", ACME_MAX_NAME, true, out, e);
}

static struct acme_problem *problem_from(json_t *obj, const char *raw, size_t raw_len,
                                         struct err *e)
{
    const char *w = "problem document";
    struct acme_problem *p = xcalloc(1, sizeof *p);
    if (get_string(obj, w, "type", ACME_MAX_URL, false, &p->type, e) < 0 ||
        get_string(obj, w, "detail", ACME_MAX_DETAIL, false, &p->detail, e) < 0)
        goto fail;
    if (!p->type) p->type = xstrdup("about:blank"); /* RFC 7807 §4.2 */
    json_t *status = json_object_get(obj, "status");
    if (status) {
        if (!json_is_integer(status) || json_integer_value(status) < 100 ||
            json_integer_value(status) > 599) {
            err_set(e, "%s: \"status\" is not an HTTP status code", w);
            goto fail;
        }
        p->status = (int)json_integer_value(status);
    }
    json_t *subs = json_object_get(obj, "subproblems");
    if (subs) {
        if (!json_is_array(subs) || json_array_size(subs) > ACME_MAX_SUBPROBLEMS) {
            err_set(e, "%s: \"subproblems\" is not an array of at most %d", w,
                    ACME_MAX_SUBPROBLEMS);
            goto fail;
        }
        p->sub = xcalloc(json_array_size(subs), sizeof *p->sub);
        for (size_t i = 0; i < json_array_size(subs); i++) {
            json_t *s = json_array_get(subs, i);
            struct acme_subproblem *sp = &p->sub[p->n_sub++];
            if (!json_is_object(s)) {
                err_set(e, "%s: subproblem %zu is not an object", w, i);
                goto fail;
            }
            if (get_string(s, w, "type", ACME_MAX_URL, false, &sp->type, e) < 0 ||
                get_string(s, w, "detail", ACME_MAX_DETAIL, false, &sp->detail, e) < 0 ||
                get_identifier(s, w, false, &sp->identifier, e) < 0)
                goto fail;
        }
    }
    if (raw) {
        p->json = xmalloc(raw_len + 1);
        memcpy(p->json, raw, raw_len);
        p->json[raw_len] = 0;
    } else {
        p->json = json_dumps(obj, JSON_COMPACT);
        if (!p->json) p->json = xstrdup("{}");
    }
    return p;
fail:
    acme_problem_free(p);
    return NULL;
}

struct acme_problem *acme_parse_problem(const char *text, size_t len, struct err *e)
{
    json_t *root = load_object(text, len, "problem document", e);
    if (!root) return NULL;
    struct acme_problem *p = problem_from(root, text, len, e);
    json_decref(root);
    return p;
}

/* An optional embedded problem ("error" member of an order or challenge). */
static int get_problem(json_t *obj, const char *what, struct acme_problem **out, struct err *e)
{
    *out = NULL;
    json_t *v = json_object_get(obj, "error");
    if (!v) return 0;
    if (!json_is_object(v)) return err_set(e, "%s: \"error\" is not an object", what);
    *out = problem_from(v, NULL, 0, e);
    return *out ? 0 : err_prefix(e, "%s", what);
}

int acme_parse_order(const char *text, size_t len, struct acme_order_doc *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    const char *w = "ACME order";
    json_t *root = load_object(text, len, w, e);
    if (!root) return -1;
    int rc = -1;
    if (get_status(root, w, &out->status, e) < 0 ||
        get_url(root, w, "finalize", true, &out->finalize, e) < 0 ||
        get_url(root, w, "certificate", false, &out->certificate, e) < 0 ||
        get_problem(root, w, &out->error, e) < 0)
        goto out;
    json_t *authz = json_object_get(root, "authorizations");
    if (!json_is_array(authz) || json_array_size(authz) == 0 ||
        json_array_size(authz) > ACME_MAX_AUTHZ) {
        err_set(e, "%s: \"authorizations\" is not an array of 1 to %d URLs", w, ACME_MAX_AUTHZ);
        goto out;
    }
    out->authorizations = xcalloc(json_array_size(authz), sizeof *out->authorizations);
    for (size_t i = 0; i < json_array_size(authz); i++) {
        json_t *u = json_array_get(authz, i);
        if (!json_is_string(u) || json_string_length(u) > ACME_MAX_URL ||
            strlen(json_string_value(u)) != json_string_length(u) ||
            strncmp(json_string_value(u), "https://", 8) != 0) {
            err_set(e, "%s: authorization %zu is not an https:// URL", w, i);
            goto out;
        }
        out->authorizations[out->n_authorizations++] = xstrdup(json_string_value(u));
    }
    rc = 0;
out:
    json_decref(root);
    if (rc < 0) acme_order_doc_clear(out);
    return rc;
}

void acme_order_doc_clear(struct acme_order_doc *o)
{
    for (size_t i = 0; i < o->n_authorizations; i++)
        free(o->authorizations[i]);
    free(o->authorizations);
    free(o->finalize);
    free(o->certificate);
    acme_problem_free(o->error);
    memset(o, 0, sizeof *o);
}

/* Tokens go into the key authorization and so into a hash: RFC 8555 §8.1
 * says base64url characters only; anything else is a broken server. */
static bool token_ok(const char *t)
{
    if (!*t) return false;
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_'))
            return false;
    return true;
}

static int get_dns01(json_t *root, const char *w, struct acme_authz_doc *out, struct err *e)
{
    json_t *chs = json_object_get(root, "challenges");
    if (!json_is_array(chs) || json_array_size(chs) > 32)
        return err_set(e, "%s: \"challenges\" is not an array of at most 32", w);
    for (size_t i = 0; i < json_array_size(chs); i++) {
        json_t *c = json_array_get(chs, i);
        json_t *type = json_object_get(c, "type");
        if (!json_is_object(c) || !json_is_string(type))
            return err_set(e, "%s: challenge %zu has no type", w, i);
        if (strcmp(json_string_value(type), "dns-01") != 0 || out->has_dns01) continue;
        if (get_status(c, w, &out->dns01_status, e) < 0 ||
            get_url(c, w, "url", true, &out->dns01_url, e) < 0 ||
            get_string(c, w, "token", ACME_MAX_TOKEN, true, &out->dns01_token, e) < 0 ||
            get_problem(c, w, &out->dns01_error, e) < 0)
            return -1;
        if (!token_ok(out->dns01_token))
            return err_set(e, "%s: dns-01 token has characters outside base64url", w);
        out->has_dns01 = true;
    }
    return 0;
}

int acme_parse_authz(const char *text, size_t len, struct acme_authz_doc *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    const char *w = "ACME authorization";
    json_t *root = load_object(text, len, w, e);
    if (!root) return -1;
    int rc = -1;
    if (get_status(root, w, &out->status, e) < 0 ||
        get_identifier(root, w, true, &out->identifier, e) < 0 || get_dns01(root, w, out, e) < 0)
        goto out;
    json_t *wild = json_object_get(root, "wildcard");
    if (wild && !json_is_boolean(wild)) {
        err_set(e, "%s: \"wildcard\" is not a boolean", w);
        goto out;
    }
    out->wildcard = json_is_true(wild);
    rc = 0;
out:
    json_decref(root);
    if (rc < 0) acme_authz_doc_clear(out);
    return rc;
}

void acme_authz_doc_clear(struct acme_authz_doc *a)
{
    free(a->identifier);
    free(a->dns01_url);
    free(a->dns01_token);
    acme_problem_free(a->dns01_error);
    memset(a, 0, sizeof *a);
}

int acme_parse_account_status(const char *text, size_t len, enum acme_status *out, struct err *e)
{
    json_t *root = load_object(text, len, "ACME account", e);
    if (!root) return -1;
    int rc = get_status(root, "ACME account", out, e);
    json_decref(root);
    return rc;
}

void acme_problem_free(struct acme_problem *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_sub; i++) {
        free(p->sub[i].type);
        free(p->sub[i].detail);
        free(p->sub[i].identifier);
    }
    free(p->sub);
    free(p->type);
    free(p->detail);
    free(p->json);
    free(p);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct acme_problem *acme_problem_copy(const struct acme_problem *p)
{
    if (!p) return NULL;
    struct acme_problem *c = xcalloc(1, sizeof *c);
    c->type = dup_or_null(p->type);
    c->detail = dup_or_null(p->detail);
    c->status = p->status;
    c->json = dup_or_null(p->json);
    c->sub = xcalloc(p->n_sub, sizeof *c->sub);
    for (c->n_sub = 0; c->n_sub < p->n_sub; c->n_sub++) {
        c->sub[c->n_sub].type = dup_or_null(p->sub[c->n_sub].type);
        c->sub[c->n_sub].detail = dup_or_null(p->sub[c->n_sub].detail);
        c->sub[c->n_sub].identifier = dup_or_null(p->sub[c->n_sub].identifier);
    }
    return c;
}

void acme_problem_format(const struct acme_problem *p, char *buf, size_t cap)
{
    if (!cap) return;
    size_t n = (size_t)snprintf(buf, cap, "%s%s%s", p->type, p->detail ? ": " : "",
                                p->detail ? p->detail : "");
    for (size_t i = 0; i < p->n_sub && n < cap; i++) {
        const struct acme_subproblem *s = &p->sub[i];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s%s%s%s%s", i ? "; " : " (",
                              s->identifier ? s->identifier : "", s->identifier ? ": " : "",
                              s->type ? s->type : "", s->detail ? ": " : "",
                              s->detail ? s->detail : "");
        if (i + 1 == p->n_sub && n < cap) n += (size_t)snprintf(buf + n, cap - n, ")");
    }
}
