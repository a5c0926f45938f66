/* Connections: libuv streams (TCP or unix), optional TLS, message framing,
 * output batching (messages queued during one loop iteration go out in
 * one write), limits (message size, unsent bytes, idle time). */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"
#include "util/log.h"

struct wreq {
    uv_write_t req;
    struct rpc_conn *c;
    uint8_t *buf;
    size_t len;
};

struct rpc_conn *conn_new(struct rpc_vat *v)
{
    struct rpc_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->vat = v;
    c->refs = 1; /* the vat's list; dropped when closed */
    capnp_framer_init(&c->framer, v->cfg.max_message_bytes, 0);
    c->next = v->conns;
    if (v->conns) v->conns->prev = c;
    v->conns = c;
    c->h.h.data = c;
    return c;
}

void conn_ref(struct rpc_conn *c)
{
    c->refs++;
}

void conn_unref(struct rpc_conn *c)
{
    if (!c || --c->refs > 0) return;
    tls_session_free(c->tls);
    capnp_framer_free(&c->framer);
    free(c->in);
    free(c->out);
    free(c->error);
    idmap_free(&c->questions);
    idmap_free(&c->answers);
    idmap_free(&c->imports);
    idmap_free(&c->exports);
    idmap_free(&c->export_by_cap);
    idalloc_free(&c->qids);
    idalloc_free(&c->eids);
    free(c);
}

static void on_prepare(uv_prepare_t *h)
{
    vat_flush_now(h->data);
}

static void mark_dirty(struct rpc_conn *c)
{
    struct rpc_vat *v = c->vat;
    if (c->dirty) return;
    c->dirty = true;
    conn_ref(c);
    c->dirty_next = v->dirty;
    v->dirty = c;
    if (!v->flush_active) {
        v->flush_active = true;
        uv_prepare_start(&v->flush, on_prepare);
    }
}

/* Room for n more bytes after the first len of *buf (capacity *cap),
 * doubling from `initial`: -1 when out of memory (*buf unchanged). */
static int reserve(uint8_t **buf, size_t *cap, size_t len, size_t n, size_t initial)
{
    if (n <= *cap - len) return 0;
    size_t nc = *cap ? *cap : initial;
    while (nc - len < n)
        nc *= 2;
    uint8_t *p = realloc(*buf, nc);
    if (!p) return -1;
    *buf = p;
    *cap = nc;
    return 0;
}

int conn_send(struct rpc_conn *c, struct capnp_builder *b)
{
    if (c->closed) return -1;
    size_t n = capnp_builder_size(b);
    if (capnp_builder_error(b) || n == 0) {
        conn_abort(c, "cannot build a message: %s",
                   capnp_builder_error(b) ? capnp_builder_error(b) : "empty");
        return -1;
    }
    if (reserve(&c->out, &c->out_cap, c->out_len, n, 4096) < 0) {
        conn_close(c, "out of memory");
        return -1;
    }
    c->out_len += capnp_builder_write(b, c->out + c->out_len, n);
    mark_dirty(c);
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct rpc_conn *c = w->c;
    c->write_queue -= w->len;
    free(w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED) conn_close(c, uv_strerror(status));
    conn_unref(c);
}

static int write_raw(struct rpc_conn *c, uint8_t *buf, size_t len)
{
    struct wreq *w = malloc(sizeof *w);
    if (!w) {
        free(buf);
        conn_close(c, "out of memory");
        return -1;
    }
    w->c = c;
    w->buf = buf;
    w->len = len;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    conn_ref(c);
    c->write_queue += len;
    int r = uv_write(&w->req, &c->h.s, &b, 1, on_write);
    if (r < 0) {
        c->write_queue -= len;
        free(buf);
        free(w);
        conn_unref(c);
        conn_close(c, uv_strerror(r));
        return -1;
    }
    if (c->write_queue > c->vat->cfg.max_write_queue) {
        conn_close(c, "the peer does not read what we send");
        return -1;
    }
    return 0;
}

static void flush_tls(struct rpc_conn *c)
{
    uint8_t *buf;
    size_t len;
    while (!c->closed && c->tls && tls_session_take_output(c->tls, &buf, &len))
        write_raw(c, buf, len);
}

static void conn_flush(struct rpc_conn *c)
{
    if (c->closed || !c->connected || c->out_len == 0) return;
    if (c->tls) {
        struct err e;
        int r = tls_session_write(c->tls, c->out, c->out_len, &e);
        c->out_len = 0;
        if (r < 0) {
            conn_close(c, e.msg);
            return;
        }
        flush_tls(c);
        return;
    }
    uint8_t *buf = c->out;
    size_t len = c->out_len;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    write_raw(c, buf, len);
}

void vat_flush_now(struct rpc_vat *v)
{
    while (v->dirty) {
        struct rpc_conn *c = v->dirty;
        v->dirty = c->dirty_next;
        c->dirty = false;
        conn_flush(c);
        conn_unref(c);
    }
    if (v->flush_active) {
        v->flush_active = false;
        uv_prepare_stop(&v->flush);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct rpc_conn *c = h->data;
    conn_unref(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct rpc_conn *c = req->data;
    free(req);
    uv_close(&c->h.h, on_handle_closed);
}

static void close_timer(struct rpc_conn *c, uv_timer_t *t, bool *open)
{
    if (!*open) return;
    *open = false;
    conn_ref(c); /* until the timer is closed */
    uv_close((uv_handle_t *)t, on_handle_closed);
}

static void close_transport(struct rpc_conn *c, bool graceful)
{
    close_timer(c, &c->idle, &c->idle_open);
    close_timer(c, &c->auth, &c->auth_open);
    if (!c->handle_open) return;
    c->handle_open = false;
    uv_read_stop(&c->h.s);
    conn_ref(c); /* until the handle is closed */
    if (graceful && c->connected && c->write_queue < 65536) {
        uv_shutdown_t *req = malloc(sizeof *req);
        if (req) {
            req->data = c;
            if (uv_shutdown(req, &c->h.s, on_shutdown) == 0) return;
            free(req);
        }
    }
    uv_close(&c->h.h, on_handle_closed);
}

static void do_close(struct rpc_conn *c, const char *why, bool graceful)
{
    if (c->closed) return;
    conn_ref(c);
    if (graceful && c->connected && c->tls && tls_session_established(c->tls)) {
        tls_session_shutdown(c->tls);
        flush_tls(c);
    }
    c->closed = true;
    c->error = strdup(why);
    if (log_enabled(LOG_DEBUG)) log_debug("rpc: connection closed: %s", why);
    close_transport(c, graceful);
    vat_conn_closed(c->vat, c);
    proto_teardown(c);
    conn_unref(c); /* the vat list's reference */
    conn_unref(c);
}

void conn_close(struct rpc_conn *c, const char *why)
{
    do_close(c, why, false);
}

void conn_abort(struct rpc_conn *c, const char *fmt, ...)
{
    if (c->closed) return;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    log_info("rpc: aborting connection: %s", why);
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Exception_B ex = rpc_Message_init_abort(rpc_Message_new_root(&b));
    rpc_Exception_set_reason(ex, why, (uint32_t)strlen(why));
    conn_send(c, &b);
    capnp_builder_free(&b);
    conn_flush(c);
    do_close(c, why, true);
}

/* ------------------------------------------------------------ reading */

/* Frames and handles what is in c->in. Reentrant: a handler that runs
 * the loop (rpc_call_wait) gets later input handled by a nested call,
 * which continues where this one stands, so the stream stays in order. */
static void drain_input(struct rpc_conn *c)
{
    while (!c->closed && c->in_head < c->in_len) {
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
            struct capnp_msg *m = calloc(1, sizeof *m);
            if (!m || capnp_framer_take(&c->framer, m, &e) < 0) {
                free(m);
                conn_abort(c, "%s", m ? e.msg : "out of memory");
                return;
            }
            capnp_msg_set_limits(m, CAPNP_DEFAULT_TRAVERSAL_WORDS, CAPNP_DEFAULT_NESTING);
            proto_handle(c, m);
        }
    }
    if (c->in_head == c->in_len) c->in_head = c->in_len = 0;
}

static int feed_plain(void *ud, const uint8_t *p, size_t n)
{
    struct rpc_conn *c = ud;
    if (c->closed) return -1;
    if (c->in_head == c->in_len) c->in_head = c->in_len = 0;
    if (n > c->in_cap - c->in_len && c->in_head > 0) {
        memmove(c->in, c->in + c->in_head, c->in_len - c->in_head);
        c->in_len -= c->in_head;
        c->in_head = 0;
    }
    if (reserve(&c->in, &c->in_cap, c->in_len, n, 65536) < 0) {
        conn_close(c, "out of memory");
        return -1;
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    drain_input(c);
    return c->closed ? -1 : 0;
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
    if (nread == 0) return;
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
            if (!c->closed) conn_close(c, e.msg[0] ? e.msg : "TLS failure");
        } else {
            flush_tls(c);
            if (c->out_len) mark_dirty(c);
        }
    } else {
        feed_plain(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    conn_unref(c);
}

static void on_idle(uv_timer_t *t)
{
    struct rpc_conn *c = t->data;
    uint64_t idle = c->vat->cfg.idle_timeout_ms;
    if (uv_now(c->vat->loop) - c->last_rx < idle) return;
    /* Quiet but holding capabilities either way (a registered callback
     * may be called hours later) is not idle: TCP keepalive finds dead
     * peers. Nor is quiet with a call still running either way. */
    if (c->imports.len || c->exports.len) return;
    uint64_t k;
    void *val;
    for (uint32_t i = 0; idmap_next(&c->answers, &i, &k, &val);)
        if (!((struct rpc_answer *)val)->returned) return;
    for (uint32_t i = 0; idmap_next(&c->questions, &i, &k, &val);)
        if (!((struct rpc_promise *)val)->returned) return;
    conn_close(c, "idle timeout");
}

static void on_auth_deadline(uv_timer_t *t)
{
    struct rpc_conn *c = t->data;
    char why[96];
    snprintf(why, sizeof why, "no service restored within %u ms", c->vat->cfg.auth_timeout_ms);
    conn_close(c, why);
}

void conn_authenticated(struct rpc_conn *c)
{
    c->authed = true;
    close_timer(c, &c->auth, &c->auth_open);
}

void conn_start_reading(struct rpc_conn *c)
{
    c->connected = true;
    c->last_rx = uv_now(c->vat->loop);
    uint32_t idle = c->vat->cfg.idle_timeout_ms;
    if (idle != UINT32_MAX && uv_timer_init(c->vat->loop, &c->idle) == 0) {
        c->idle_open = true;
        c->idle.data = c;
        uint64_t every = idle / 4 ? idle / 4 : 1;
        uv_timer_start(&c->idle, on_idle, every, every);
    }
    /* A peer that connects to us (the TLS handshake included) has a
     * short while to restore a service; only then does the idle rule
     * above, which is generous, apply alone. */
    uint32_t auth = c->vat->cfg.auth_timeout_ms;
    if (!c->client && !c->authed && auth != UINT32_MAX &&
        uv_timer_init(c->vat->loop, &c->auth) == 0) {
        c->auth_open = true;
        c->auth.data = c;
        uv_timer_start(&c->auth, on_auth_deadline, auth, 0);
    }
    if (!c->is_pipe) {
        uv_tcp_nodelay(&c->h.tcp, 1);
        uv_tcp_keepalive(&c->h.tcp, 1, 60);
    }
    int r = uv_read_start(&c->h.s, on_alloc, on_read);
    if (r < 0) {
        conn_close(c, uv_strerror(r));
        return;
    }
    if (c->tls) {
        struct err e;
        if (tls_session_start(c->tls, &e) < 0) {
            conn_close(c, e.msg);
            return;
        }
        flush_tls(c);
    }
    if (c->out_len) mark_dirty(c);
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
    if (c->closed) {
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
    if (c->closed) {
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
    if (c->closed || status < 0 || !res) {
        if (res) uv_freeaddrinfo(res);
        if (!c->closed) {
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
        if (c->client && !c->closed && strcmp(c->key, key) == 0) return c;
    struct rpc_conn *c = conn_new(v);
    if (!c) return NULL;
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
    struct connecting *k = calloc(1, sizeof *k);
    if (!k) {
        conn_close(c, "out of memory");
        return c;
    }
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
