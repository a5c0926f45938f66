#include "net/metrics_http.h"
#include "net/addr.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A connection goes READING -> WRITING -> DRAINING -> CLOSING, or straight
 * to CLOSING on a timeout, an error or a stop. DRAINING: the response is
 * written and our side shut down; what the client still sends is read and
 * dropped until it closes (or the deadline), because closing a socket with
 * unread input sends a reset that can destroy the response before the
 * client reads it (the oversized-request case). */
enum mconn_state { MCONN_READING, MCONN_WRITING, MCONN_DRAINING, MCONN_CLOSING };

/* Held by the server's list from accept until both its handles are closed
 * (handles_open reaches 0), then freed. */
struct mconn {
    uv_tcp_t tcp;
    uv_timer_t deadline;
    int handles_open;
    enum mconn_state state;
    struct metrics_http *srv;
    struct mconn *next, **pprev;
    char req[METRICS_HTTP_MAX_REQUEST];
    size_t len;
    uv_write_t wr;
    uv_shutdown_t sh;
    char *resp;
};

/* Freed once the listener is closed and no connection is left: the
 * connections point back at it until their close callbacks ran. */
struct metrics_http {
    uv_tcp_t listener;
    bool listener_open, stopping;
    struct metrics_source *src;
    size_t nsrc;
    struct mconn *conns;
    size_t nconns;
};

static void maybe_free_server(struct metrics_http *m)
{
    if (m->listener_open || m->nconns) return;
    free(m->src);
    free(m);
}

static void conn_closed(uv_handle_t *h)
{
    struct mconn *c = h->data;
    if (--c->handles_open) return;
    struct metrics_http *m = c->srv;
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    m->nconns--;
    free(c->resp);
    free(c);
    maybe_free_server(m);
}

static void conn_close(struct mconn *c)
{
    if (c->state == MCONN_CLOSING) return;
    c->state = MCONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    uv_close((uv_handle_t *)&c->deadline, conn_closed);
}

static void on_deadline(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *sh, int status)
{
    struct mconn *c = sh->data;
    if (c->state != MCONN_WRITING) return; /* closed meanwhile */
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->state = MCONN_DRAINING;
    c->len = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) conn_close(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct mconn *c = w->data;
    if (c->state != MCONN_WRITING) return;
    c->sh.data = c;
    if (status < 0 || uv_shutdown(&c->sh, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c);
}

static const char *const status_line[] = {
    [METRICS_REQ_METRICS] = "200 OK",
    [METRICS_REQ_NOT_FOUND] = "404 Not Found",
    [METRICS_REQ_BAD_METHOD] = "405 Method Not Allowed",
    [METRICS_REQ_BAD] = "400 Bad Request",
};

/* Builds the whole response (head and body) and writes it once. */
static void respond(struct mconn *c, enum metrics_http_request r)
{
    struct metrics_text body;
    metrics_text_init(&body);
    const char *status = status_line[r];
    if (r == METRICS_REQ_METRICS) {
        for (size_t i = 0; i < c->srv->nsrc; i++)
            c->srv->src[i].render(c->srv->src[i].ud, &body);
        if (!metrics_text_ok(&body)) {
            log_error("metrics: the statistics do not fit in %u bytes", METRICS_TEXT_MAX);
            status = "500 Internal Server Error";
            metrics_text_free(&body);
        }
    }
    size_t blen = body.len;
    size_t cap = blen + 256;
    c->resp = malloc(cap);
    if (!c->resp) {
        metrics_text_free(&body);
        conn_close(c);
        return;
    }
    int n = snprintf(c->resp, cap,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, blen);
    if (blen) memcpy(c->resp + n, body.p, blen);
    metrics_text_free(&body);
    uv_buf_t b = uv_buf_init(c->resp, (unsigned)((size_t)n + blen));
    c->state = MCONN_WRITING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct mconn *c = h->data;
    /* Never more than the request limit in all; a full buffer that is not
     * a request yet is answered 400 in on_read. */
    if (c->state == MCONN_DRAINING) c->len = 0; /* dropped: reuse the buffer */
    *buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof c->req - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct mconn *c = s->data;
    if (nread < 0) {
        conn_close(c); /* an error, or the client's end after our response */
        return;
    }
    if (c->state != MCONN_READING) return;
    c->len += (size_t)nread;
    enum metrics_http_request r = metrics_http_parse(c->req, c->len);
    if (r == METRICS_REQ_INCOMPLETE && c->len == sizeof c->req) r = METRICS_REQ_BAD;
    if (r != METRICS_REQ_INCOMPLETE) respond(c, r);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct metrics_http *m = l->data;
    if (status < 0) return;
    struct mconn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->srv = m;
    c->tcp.data = c->deadline.data = c;
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->deadline);
    c->handles_open = 2;
    c->next = m->conns;
    if (m->conns) m->conns->pprev = &c->next;
    c->pprev = &m->conns;
    m->conns = c;
    m->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || m->nconns > METRICS_HTTP_MAX_CONNS) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, METRICS_HTTP_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* "ADDR:PORT" or "[V6]:PORT" into a. */
static int parse_listen(const char *text, struct net_addr *a, struct err *e)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return err_set(e, "'%s' is not ADDR:PORT (e.g. 127.0.0.1:9153 or [::1]:9153)", text);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return err_set(e, "'%s': the port must be 1..65535", text);
    char host[128];
    size_t hl = (size_t)(colon - text);
    if (hl >= sizeof host) return err_set(e, "'%s': address too long", text);
    memcpy(host, text, hl);
    host[hl] = 0;
    return net_addr_parse(a, host, (uint16_t)port, e);
}

int metrics_http_start(uv_loop_t *loop, const char *addr, const struct metrics_source *sources,
                       size_t nsources, struct metrics_http **out, struct err *e)
{
    struct net_addr a;
    if (parse_listen(addr, &a, e) < 0) return -1;
    struct metrics_http *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, "out of memory");
    m->src = calloc(nsources ? nsources : 1, sizeof *m->src);
    if (!m->src) {
        free(m);
        return err_set(e, "out of memory");
    }
    memcpy(m->src, sources, nsources * sizeof *sources);
    m->nsrc = nsources;
    uv_tcp_init(loop, &m->listener);
    m->listener.data = m;
    m->listener_open = true;
    int rc = uv_tcp_bind(&m->listener, (const struct sockaddr *)&a.ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&m->listener, 16, on_connection);
    if (rc != 0) {
        err_set(e, "cannot listen on %s: %s", addr, uv_strerror(rc));
        metrics_http_stop(m);
        return -1;
    }
    *out = m;
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct metrics_http *m = h->data;
    m->listener_open = false;
    maybe_free_server(m);
}

void metrics_http_stop(struct metrics_http *m)
{
    if (!m || m->stopping) return;
    m->stopping = true;
    for (struct mconn *c = m->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&m->listener, listener_closed);
}

/* ------------------------------------------------------------ parsing */

static const char *find_head_end(const char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (p[i] == '\n' && p[i + 1] == '\n') return p + i;
        if (i + 3 < len && !memcmp(p + i, "\r\n\r\n", 4)) return p + i;
    }
    return NULL;
}

enum metrics_http_request metrics_http_parse(const char *p, size_t len)
{
    const char *end = find_head_end(p, len);
    if (!end) return METRICS_REQ_INCOMPLETE;
    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    size_t lim = (size_t)(end - p) + 2; /* the head's first '\n' is at end or end + 1 */
    const char *eol = memchr(p, '\n', lim < len ? lim : len);
    if (!eol) return METRICS_REQ_BAD;
    size_t ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r') ll--;
    const char *sp1 = memchr(p, ' ', ll);
    if (!sp1 || sp1 == p) return METRICS_REQ_BAD;
    for (const char *q = p; q < sp1; q++)
        if (*q < 'A' || *q > 'Z') return METRICS_REQ_BAD;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', ll - (size_t)(target - p));
    if (!sp2 || sp2 == target) return METRICS_REQ_BAD;
    size_t vl = ll - (size_t)(sp2 + 1 - p);
    if (vl != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
        return METRICS_REQ_BAD;
    if ((size_t)(sp1 - p) != 3 || memcmp(p, "GET", 3)) return METRICS_REQ_BAD_METHOD;
    size_t tl = (size_t)(sp2 - target);
    if (tl >= 8 && !memcmp(target, "/metrics", 8) && (tl == 8 || target[8] == '?'))
        return METRICS_REQ_METRICS;
    return METRICS_REQ_NOT_FOUND;
}
