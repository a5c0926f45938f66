/*
 * metrics_http: the statistics endpoint (`capd --metrics-listen ADDR:PORT`,
 * off by default). Answers `GET /metrics` over HTTP/1.x with the Prometheus
 * text format, built by the sources the caller registers (net/stats.h for
 * DNS, the eon layer for updates, ...), then closes the connection. Any
 * other path gets 404, any other method 405, anything unparsable 400.
 *
 * It faces whoever can reach the address, so it is bounded like the DNS
 * listeners: at most METRICS_HTTP_MAX_CONNS connections (more are closed
 * on accept), a request head of at most METRICS_HTTP_MAX_REQUEST bytes
 * that must arrive within METRICS_HTTP_TIMEOUT_MS, and the response is
 * written once (no keep-alive). Runs on the caller's libuv loop.
 */
#ifndef CEON_NET_METRICS_HTTP_H
#define CEON_NET_METRICS_HTTP_H
#include "util/err.h"
#include "util/metrics.h"
#include <stddef.h>
#include <uv.h>

#define METRICS_HTTP_MAX_CONNS 16
#define METRICS_HTTP_MAX_REQUEST 4096
#define METRICS_HTTP_TIMEOUT_MS 5000

struct metrics_http;

/* addr: "127.0.0.1:9153", "[::1]:9153" (numeric; no name resolution).
 * The sources are called in order on each scrape; the array is copied. */
int metrics_http_start(uv_loop_t *loop, const char *addr, const struct metrics_source *sources,
                       size_t nsources, struct metrics_http **out, struct err *e);
/* Closes the listener and every connection; memory goes in the loop's
 * close callbacks. Safe on NULL. */
void metrics_http_stop(struct metrics_http *m);

/* What a request head asks for (exposed for the fuzz target). */
enum metrics_http_request {
    METRICS_REQ_INCOMPLETE, /* no end of head yet */
    METRICS_REQ_METRICS,    /* GET /metrics */
    METRICS_REQ_NOT_FOUND,  /* GET of another path */
    METRICS_REQ_BAD_METHOD, /* a well-formed request with another method */
    METRICS_REQ_BAD,        /* not HTTP/1.x */
};
enum metrics_http_request metrics_http_parse(const char *p, size_t len);
#endif
