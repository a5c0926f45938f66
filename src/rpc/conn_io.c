/* Connections, the input side: reading (TLS or plain), framing and
 * handing messages to the protocol in stream order, starting a
 * connection's deadlines, and connecting as a client. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"
#include "util/log.h"

/* Frames and handles what is in c->in. Reentrant: a handler that runs
 * the loop (rpc_call_wait) gets later input handled by a nested call,
 * which continues where this one stands, so the stream stays in order.
 * Stops while reading is paused: the rest waits for the peer to drain. */
void conn_drain_input(struct rpc_conn *c)
{
    while (!conn_dead(c) && c->reading != READ_PAUSED && c->in_head < c->in_len) {
        size_t used = 0;
        struct err e;
        int r =
            capnp_framer_feed(&c->framer, c->in + c->in_head, c->in_len - c->in_head, &used, &e);
        c->in_head += used;
        if (r < 0) {
            conn_abort(c, "%s", e.msg);
            return;
        }
        if (r == 1) {
            /* The body was allocated as bytes arrived (peer-sized, so a
             * failure there is the framer's error); this is ours. */
            struct capnp_msg *m = xcalloc(1, sizeof *m);
            if (capnp_framer_take(&c->framer, m, &e) < 0) {
                free(m);
                conn_abort(c, "%s", e.msg);
                return;
            }
            capnp_msg_set_limits(m, c->vat->cfg.traversal_limit_words, CAPNP_DEFAULT_NESTING);
            if (proto_handle(c, m) < 0) return;
        }
    }
    if (c->in_head == c->in_len) c->in_head = c->in_len = 0;
}

static int feed_plain(void *ud, const uint8_t *p, size_t n)
{
    struct rpc_conn *c = ud;
    if (conn_dead(c)) return -1;
    if (c->in_head == c->in_len) c->in_head = c->in_len = 0;
    if (n > c->in_cap - c->in_len && c->in_head > 0) {
        memmove(c->in, c->in + c->in_head, c->in_len - c->in_head);
        c->in_len -= c->in_head;
        c->in_head = 0;
    }
    uint8_t *nb = c->in;
    size_t need = c->in_len + n, cap = c->in_cap ? c->in_cap : 65536;
    while (cap < need)
        cap *= 2;
    if (cap != c->in_cap && !(nb = realloc(c->in, cap))) {
        conn_close(c, "out of memory");
        return -1;
    }
    c->in = nb;
    c->in_cap = cap;
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    conn_drain_input(c);
    return conn_dead(c) ? -1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    /* Bytes are copied out before anything runs, so one buffer serves. */
    static char rbuf[65536];
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rpc_conn *c = s->data;
    if (nread == 0 || conn_dead(c)) return;
    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "connection closed by peer" : uv_strerror((int)nread));
        return;
    }
    c->last_rx = uv_now(c->vat->loop);
    conn_ref(c);
    if (c->tls) {
        struct err e;
        e.msg[0] = 0;
        if (tls_session_input(c->tls, (const uint8_t *)buf->base, (size_t)nread, feed_plain, c,
                              &e) < 0) {
            if (!conn_dead(c)) conn_close(c, e.msg[0] ? e.msg : "TLS failure");
        } else {
            conn_flush_tls(c);
            if (c->out_len) conn_mark_dirty(c);
        }
    } else {
        feed_plain(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    conn_unref(c);
}

void conn_read_start(struct rpc_conn *c)
{
    int r = uv_read_start(&c->h.s, on_alloc, on_read);
    if (r < 0) conn_close(c, uv_strerror(r));
}

void conn_start_reading(struct rpc_conn *c)
{
    struct rpc_vat *v = c->vat;
    uint64_t now = uv_now(v->loop);
    c->state = CONN_OPEN;
    c->was_open = true;
    c->last_rx = now;
    conn_timer_init(c);
    uint32_t idle = v->cfg.idle_timeout_ms != UINT32_MAX ? v->cfg.idle_timeout_ms : 0;
    if (v->cfg.holder_idle_timeout_ms && (!idle || v->cfg.holder_idle_timeout_ms < idle))
        idle = v->cfg.holder_idle_timeout_ms;
    if (idle) c->idle_due = now + idle;
    /* A peer that connects to us (the TLS handshake included) has a
     * short while to restore a service, and until then small messages
     * only; after that the idle rules apply alone. */
    if (!c->client && !c->authed) {
        if (v->cfg.auth_timeout_ms != UINT32_MAX) c->auth_due = now + v->cfg.auth_timeout_ms;
        if (v->cfg.preauth_message_bytes < c->framer.max_bytes)
            c->framer.max_bytes = v->cfg.preauth_message_bytes;
    }
    conn_arm_timer(c);
    if (!c->is_pipe) {
        uv_tcp_nodelay(&c->h.tcp, 1);
        uv_tcp_keepalive(&c->h.tcp, 1, 60);
    }
    c->reading = READ_ON;
    conn_read_start(c);
    if (conn_dead(c)) return;
    if (c->tls) {
        struct err e;
        if (tls_session_start(c->tls, &e) < 0) {
            conn_close(c, e.msg);
            return;
        }
        conn_flush_tls(c);
    }
    if (c->out_len) conn_mark_dirty(c); /* what was queued while connecting */
}

/* ------------------------------------------------------------ connecting */

struct connecting {
    struct rpc_conn *c;
    struct addrinfo *ai, *cur;
    struct addrinfo lit; /* an address literal needs no resolver */
    struct sockaddr_storage lit_sa;
};

static void try_next(struct connecting *k);

static void on_retry_closed(uv_handle_t *h)
{
    struct rpc_conn *c = h->data;
    try_next(c->connect_req.data);
}

static void connect_failed(struct connecting *k, int status)
{
    struct rpc_conn *c = k->c;
    char where[STURDY_MAX_PATH + STURDY_MAX_HOST + 16], msg[sizeof where + 128];
    sturdy_describe(&c->peer, where, sizeof where);
    if (status == UV_ECONNREFUSED || status == UV_ENOENT)
        snprintf(msg, sizeof msg, "connection refused (is capd running at %s?)", where);
    else
        snprintf(msg, sizeof msg, "cannot connect to %s: %s", where, uv_strerror(status));
    if (k->ai) uv_freeaddrinfo(k->ai);
    free(k);
    conn_close(c, msg);
    conn_unref(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct connecting *k = req->data;
    struct rpc_conn *c = k->c;
    if (conn_dead(c)) {
        if (k->ai) uv_freeaddrinfo(k->ai);
        free(k);
        conn_unref(c);
        return;
    }
    if (status < 0) {
        if (k->cur && k->cur->ai_next && status != UV_ECANCELED) {
            /* Try the next address with a fresh handle. */
            c->handle_open = false;
            k->cur = k->cur->ai_next;
            uv_close(&c->h.h, on_retry_closed);
            return;
        }
        connect_failed(k, status);
        return;
    }
    if (k->ai) uv_freeaddrinfo(k->ai);
    free(k);
    conn_start_reading(c);
    conn_unref(c);
}

static void try_next(struct connecting *k)
{
    struct rpc_conn *c = k->c;
    if (conn_dead(c)) {
        if (k->ai) uv_freeaddrinfo(k->ai);
        free(k);
        conn_unref(c);
        return;
    }
    int r = uv_tcp_init(c->vat->loop, &c->h.tcp);
    if (r < 0) {
        connect_failed(k, r);
        return;
    }
    c->h.h.data = c;
    c->handle_open = true;
    c->connect_req.data = k;
    r = uv_tcp_connect(&c->connect_req, &c->h.tcp, k->cur->ai_addr, on_connect);
    if (r < 0) {
        c->connect_req.data = k;
        if (k->cur->ai_next) {
            k->cur = k->cur->ai_next;
            c->handle_open = false;
            uv_close(&c->h.h, on_retry_closed);
            return;
        }
        connect_failed(k, r);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct connecting *k = req->data;
    struct rpc_conn *c = k->c;
    if (conn_dead(c) || status < 0 || !res) {
        if (res) uv_freeaddrinfo(res);
        if (!conn_dead(c)) {
            char msg[STURDY_MAX_HOST + 128];
            snprintf(msg, sizeof msg, "cannot resolve %s: %s", c->peer.host,
                     status < 0 ? uv_strerror(status) : "no address");
            conn_close(c, msg);
        }
        free(k);
        conn_unref(c);
        return;
    }
    k->ai = k->cur = res;
    try_next(k);
}

struct rpc_conn *conn_connect(struct rpc_vat *v, const struct sturdy_ref *ref)
{
    char key[sizeof((struct rpc_conn *)0)->key];
    char where[STURDY_MAX_PATH + STURDY_MAX_HOST + 16];
    sturdy_describe(ref, where, sizeof where);
    snprintf(key, sizeof key, "%s|%s", ref->insecure ? "insecure" : ref->fingerprint, where);
    for (struct rpc_conn *c = v->conns; c; c = c->next)
        if (c->client && !conn_dead(c) && strcmp(c->key, key) == 0) return c;
    struct rpc_conn *c = conn_new(v);
    c->client = true;
    c->peer = *ref;
    memcpy(c->key, key, sizeof key);
    if (!ref->insecure) {
        struct err e;
        c->tls = tls_session_client(ref->fingerprint, &e);
        if (!c->tls) {
            conn_close(c, e.msg);
            return c;
        }
    }
    struct connecting *k = xcalloc(1, sizeof *k);
    k->c = c;
    conn_ref(c);
    if (ref->kind == STURDY_UNIX) {
        c->is_pipe = true;
        uv_pipe_init(v->loop, &c->h.pipe, 0);
        c->h.h.data = c;
        c->handle_open = true;
        c->connect_req.data = k;
        uv_pipe_connect(&c->connect_req, &c->h.pipe, ref->path, on_connect);
        return c;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&k->lit_sa;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&k->lit_sa;
    if (uv_ip4_addr(ref->host, ref->port, s4) == 0 || uv_ip6_addr(ref->host, ref->port, s6) == 0) {
        k->lit.ai_addr = (struct sockaddr *)&k->lit_sa;
        k->cur = &k->lit;
        try_next(k);
        return c;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", ref->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = k;
    int r = uv_getaddrinfo(v->loop, &c->gai, on_resolved, ref->host, port, &hints);
    if (r < 0) {
        free(k);
        conn_unref(c);
        char msg[STURDY_MAX_HOST + 128];
        snprintf(msg, sizeof msg, "cannot resolve %s: %s", ref->host, uv_strerror(r));
        conn_close(c, msg);
    }
    return c;
}
