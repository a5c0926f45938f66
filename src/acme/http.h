/*
 * acme/http: HTTPS requests on libcurl's multi interface, driven by a libuv
 * loop (uv_poll per socket, one uv_timer for curl's timeouts), so no request
 * ever blocks the loop. Internal to the acme layer.
 *
 * Verification is always on: the system trust store plus, optionally, the
 * certificates in ca_file (a private CA such as pebble's). Response bodies
 * are bounded by ACME_HTTP_MAX_BODY; a larger one fails the request.
 */
#ifndef CEON_ACME_HTTP_H
#define CEON_ACME_HTTP_H
#include <stddef.h>
#include <uv.h>

#include "util/err.h"

/* 1 MiB: a certificate chain is a few KiB and an order of 100 names ~20 KiB. */
#define ACME_HTTP_MAX_BODY (1u << 20)
/* Header values kept (Location, Replay-Nonce, ...) are at most this long. */
#define ACME_HTTP_MAX_HEADER 2048
/* Whole-request bound, connection included. */
#define ACME_HTTP_TIMEOUT_MS 30000

struct acme_http;

struct acme_http_response {
    long status;
    char *body; /* NUL-terminated (not counted in body_len) */
    size_t body_len;
    /* Headers ACME uses, NULL if absent. */
    char *location, *replay_nonce, *content_type;
    /* Retry-After in seconds (delta or HTTP date), -1 if absent or unparsable. */
    long retry_after;
};

/* resp is NULL when the request failed below HTTP (connection, TLS,
 * timeout, body too large); err then says why. The response is freed when
 * the callback returns. */
typedef void (*acme_http_cb)(void *arg, const struct acme_http_response *resp, const char *err);

/* protocols: curl's protocol list, "https" in production (tests of this
 * layer alone may allow "file"). NULL + e on failure. */
struct acme_http *acme_http_new(uv_loop_t *loop, const char *ca_file, const char *protocols,
                                struct err *e);
/* Starts a request. method "GET", "HEAD" or "POST"; body (POST) is copied.
 * The callback runs later from the loop, never from inside this call. */
int acme_http_request(struct acme_http *h, const char *method, const char *url, const char *body,
                      const char *content_type, acme_http_cb cb, void *arg, struct err *e);
/* A Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP date,
 * as seconds from now (0 for a date past); -1 if it is neither. */
long acme_http_parse_retry_after(const char *value);
/* Number of requests started and not yet called back. */
size_t acme_http_pending(const struct acme_http *h);
/* Aborts every pending request started with this arg: its connection is
 * dropped at once and its callback never runs. For an owner that is going
 * away (an order cancelled while capd stops) and cannot wait for a CA that
 * stalls up to ACME_HTTP_TIMEOUT_MS. Returns how many were aborted. */
size_t acme_http_cancel(struct acme_http *h, void *arg);
/* Aborts pending requests without calling their callbacks and closes the
 * handles; the memory goes once the loop has run the close callbacks. */
void acme_http_free(struct acme_http *h);
#endif
