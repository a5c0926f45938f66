#include "net/tcp.h"
#include "dns/xfr.h"
#include "util/addrlimit.h"
#include "util/buf.h"
#include "util/log.h"
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#define TCP_MSG_MAX 65535
#define TCP_INBUF_INITIAL 4096
/* Stop reading (and so stop answering) a client that has this many answer
 * bytes queued and unread: a slow reader cannot make us buffer without bound. */
#define TCP_PENDING_MAX (256 * 1024)
#define TCP_BACKLOG 128

struct tcp_conn {
    uv_tcp_t h; /* first: the handle's address is the connection's */
    uv_timer_t idle;
    struct dns_tcp *srv;
    struct tcp_conn *prev, *next;
    struct sockaddr_storage peer;
    uint8_t *in;
    size_t in_len, in_cap;
    size_t pending_bytes; /* queued by uv_write, not yet written */
    unsigned pending_writes;
    int open_handles; /* h and idle: freed when both are closed */
    bool reading, eof, closing;
    bool in_frame;       /* a partial frame is buffered: the timer is its deadline */
    bool src_counted;    /* src is counted in the server's per_addr */
    struct addr_key src; /* the source prefix */
    /* A zone transfer writing on this connection: its other queries wait. */
    struct xfr_transfer *xfr;
};

struct tcp_write {
    uv_write_t req;
    struct tcp_conn *c;
    size_t len;
    uint8_t data[];
};

struct dns_tcp {
    uv_loop_t *loop;
    const struct zone_set_handle *zones;
    struct xfr_out *xfr; /* NULL: AXFR/IXFR are answered by the query engine (REFUSED) */
    unsigned max_conns, idle_ms, frame_ms;
    uv_tcp_t *listeners;
    size_t nlisteners;
    size_t live; /* handles and connections not yet released */
    size_t nconns;
    struct addr_limit per_addr; /* open connections per source prefix */
    struct tcp_conn *conns;
    bool stopping;
    uint64_t accept_error_logged; /* uv_now of the last accept error logged */
    uint64_t refusal_logged;      /* uv_now of the last per-address refusal logged */
    /* One answer at a time: the loop is single-threaded. */
    uint8_t answer[2 + TCP_MSG_MAX];
};

static void maybe_free_server(struct dns_tcp *t)
{
    if (t->stopping && t->live == 0) {
        addr_limit_free(&t->per_addr);
        free(t->listeners);
        free(t);
    }
}

static void conn_free_cb(uv_handle_t *h)
{
    struct tcp_conn *c = h->data;
    if (--c->open_handles > 0) return;
    struct dns_tcp *t = c->srv;
    free(c->in);
    free(c);
    t->live--;
    maybe_free_server(t);
}

static void conn_close(struct tcp_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    struct dns_tcp *t = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    t->nconns--;
    xfr_transfer_abort(c->xfr);
    c->xfr = NULL;
    if (c->src_counted) addr_limit_release(&t->per_addr, &c->src);
    c->src_counted = false;
    if (log_enabled(LOG_DEBUG)) {
        char ps[NET_ADDR_STRLEN];
        net_addr_format((struct sockaddr *)&c->peer, ps, sizeof ps);
        log_debug("tcp %s: closed", ps);
    }
    /* Queued writes complete with UV_ECANCELED before the close callback. */
    uv_close((uv_handle_t *)&c->h, conn_free_cb);
    uv_close((uv_handle_t *)&c->idle, conn_free_cb);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct tcp_conn *c = h->data;
    /* process_frames keeps room for at least the rest of the current frame. */
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void process_frames(struct tcp_conn *c);
static void idle_restart(struct tcp_conn *c);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void idle_cb(uv_timer_t *timer);

/* One timer per connection. Between frames it is the idle timeout,
 * restarted only by progress: a complete query read, or an answer
 * written. Once the first bytes of a frame are in, it becomes that
 * frame's fixed deadline, which later bytes do not extend: a client
 * trickling a byte now and then cannot hold a connection (RFC 7766 §6.2.3
 * leaves the policy to the server). */
static void idle_restart(struct tcp_conn *c)
{
    if (!c->in_frame) uv_timer_start(&c->idle, idle_cb, c->srv->idle_ms, 0);
}

static void frame_deadline(struct tcp_conn *c, bool partial)
{
    if (partial && !c->in_frame) {
        c->in_frame = true;
        uv_timer_start(&c->idle, idle_cb, c->srv->frame_ms, 0);
    } else if (!partial && c->in_frame) {
        c->in_frame = false;
        idle_restart(c);
    }
}

static void write_cb(uv_write_t *req, int status)
{
    struct tcp_write *w = (struct tcp_write *)req;
    struct tcp_conn *c = w->c;
    c->pending_writes--;
    c->pending_bytes -= w->len;
    free(w);
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* A client that reads its answers is not idle (RFC 7766 §6.2.3). */
    idle_restart(c);
    /* Not reading means held back by TCP_PENDING_MAX or at end of input:
     * answer what is left, resume reading, or close after the last answer. */
    if (!c->reading && c->pending_bytes < TCP_PENDING_MAX / 2) process_frames(c);
}

/* Sends len bytes in order after everything queued before: straight to
 * the socket when nothing is queued and it has room, else by uv_write
 * with a copy (only then does an answer cost an allocation). */
static void send_answer(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->h, &b, 1);
    if (n == (int)len) return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    struct tcp_write *w = malloc(sizeof *w + len - done);
    if (!w) {
        conn_close(c);
        return;
    }
    w->c = c;
    w->len = len - done;
    memcpy(w->data, data + done, w->len);
    b = uv_buf_init((char *)w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, write_cb) < 0) {
        free(w);
        conn_close(c);
        return;
    }
    c->pending_writes++;
    c->pending_bytes += w->len;
}

/* A transfer wrote a message, or ended: the next queries wait for it. */
static void xfr_progress(void *conn, int status, bool finished)
{
    struct tcp_conn *c = conn;
    if (finished) c->xfr = NULL;
    if (status < 0) {
        conn_close(c);
        return;
    }
    idle_restart(c);
    if (finished) process_frames(c);
}

/* Answers every complete query in the input buffer, in order, unless the
 * client is not reading its answers; then keeps the rest for later. */
static void process_frames(struct tcp_conn *c)
{
    struct dns_tcp *t = c->srv;
    size_t pos = 0;
    bool held = false;
    rcu_thread_online();
    const struct zone_set *zs = zone_set_current(t->zones);
    while (!c->closing && !c->xfr && c->in_len - pos >= 2) {
        size_t len = be16(c->in + pos);
        if (c->in_len - pos < 2 + len) break;
        if (c->pending_bytes >= TCP_PENDING_MAX) {
            held = true;
            break;
        }
        size_t alen;
        if (t->xfr && xfr_is_request(c->in + pos + 2, len)) {
            alen = 0;
            xfr_out_query(t->xfr, zs, c->in + pos + 2, len, (const struct sockaddr *)&c->peer,
                          (uv_stream_t *)&c->h, xfr_progress, c, t->answer + 2, TCP_MSG_MAX, &alen,
                          &c->xfr);
            zs = zone_set_current(t->zones); /* it may have gone offline */
        } else {
            alen = net_answer(t->zones, &zs, c->in + pos + 2, len, t->answer + 2, TCP_MSG_MAX, true,
                              (const struct sockaddr *)&c->peer);
        }
        pos += 2 + len;
        if (alen > 0) {
            put_be16(t->answer, (uint16_t)alen);
            send_answer(c, t->answer, 2 + alen);
        }
    }
    rcu_thread_offline();
    if (c->closing) return;

    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    /* Progress restarts the idle timeout. What is left is the start of a
     * frame, which gets its deadline, unless it is a complete one held
     * back for a client that does not read (the idle timeout applies). */
    if (pos > 0) {
        c->in_frame = false;
        idle_restart(c);
    }
    if (c->xfr) {
        /* Nothing more is read until the transfer ends (xfr_progress). */
        if (c->reading) uv_read_stop((uv_stream_t *)&c->h);
        c->reading = false;
        return;
    }
    frame_deadline(c, !held && c->in_len > 0);
    if (c->in_len >= 2) {
        size_t need = 2 + (size_t)be16(c->in);
        if (need > c->in_cap) {
            uint8_t *p = realloc(c->in, need);
            if (!p) {
                conn_close(c);
                return;
            }
            c->in = p;
            c->in_cap = need;
        }
    }
    if (c->eof) {
        if (c->pending_writes == 0) conn_close(c);
        return;
    }
    if (held && c->reading) {
        if (log_enabled(LOG_DEBUG)) {
            char ps[NET_ADDR_STRLEN];
            net_addr_format((struct sockaddr *)&c->peer, ps, sizeof ps);
            log_debug("tcp %s: client not reading, %zu answer bytes queued: pausing", ps,
                      c->pending_bytes);
        }
        uv_read_stop((uv_stream_t *)&c->h);
        c->reading = false;
    } else if (!held && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb) < 0) {
            conn_close(c);
            return;
        }
        c->reading = true;
    }
}

static void idle_cb(uv_timer_t *timer)
{
    struct tcp_conn *c = timer->data;
    if (log_enabled(LOG_DEBUG)) {
        char ps[NET_ADDR_STRLEN];
        net_addr_format((struct sockaddr *)&c->peer, ps, sizeof ps);
        log_debug("tcp %s: %s", ps, c->in_frame ? "frame deadline" : "idle timeout");
    }
    conn_close(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct tcp_conn *c = s->data;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* Half-close: the client has sent everything; answer what is
         * complete, then close once the answers are written. */
        uv_read_stop(s);
        c->reading = false;
        c->eof = true;
        process_frames(c);
        return;
    }
    c->in_len += (size_t)nread;
    process_frames(c);
}

static void reject_free_cb(uv_handle_t *h)
{
    struct dns_tcp *t = h->data;
    free(h);
    t->live--;
    maybe_free_server(t);
}

static void connection_cb(uv_stream_t *l, int status)
{
    struct dns_tcp *t = l->data;
    if (status < 0) {
        /* Typically out of file descriptors under a connection flood: say
         * so at most once a second. */
        uint64_t now = uv_now(t->loop);
        if (now - t->accept_error_logged >= 1000 || t->accept_error_logged == 0) {
            log_error("TCP accept failed: %s", uv_strerror(status));
            t->accept_error_logged = now ? now : 1;
        }
        return;
    }
    if (t->nconns >= t->max_conns) {
        /* Accept and close at once: the client gets a clean failure instead
         * of waiting in the backlog. */
        uv_tcp_t *r = malloc(sizeof *r);
        if (!r || uv_tcp_init(t->loop, r) < 0) {
            free(r);
            return;
        }
        r->data = t;
        t->live++;
        uv_accept(l, (uv_stream_t *)r);
        log_info("tcp: connection refused, %u connections open", t->max_conns);
        uv_close((uv_handle_t *)r, reject_free_cb);
        return;
    }
    struct tcp_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->in = malloc(TCP_INBUF_INITIAL))) {
        free(c);
        return;
    }
    c->in_cap = TCP_INBUF_INITIAL;
    c->srv = t;
    uv_tcp_init(t->loop, &c->h);
    uv_timer_init(t->loop, &c->idle);
    c->h.data = c;
    c->idle.data = c;
    c->open_handles = 2;
    t->live++;
    c->next = t->conns;
    if (t->conns) t->conns->prev = c;
    t->conns = c;
    t->nconns++;

    int plen = sizeof c->peer;
    if (uv_accept(l, (uv_stream_t *)&c->h) < 0 ||
        uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &plen) < 0) {
        conn_close(c);
        return;
    }
    if (addr_limit_key(&t->per_addr, (struct sockaddr *)&c->peer, &c->src)) {
        if (!addr_limit_acquire(&t->per_addr, &c->src)) {
            uint64_t now = uv_now(t->loop);
            if (now - t->refusal_logged >= 1000 || t->refusal_logged == 0) {
                log_info("tcp: connection refused, %u connections open from that address",
                         t->per_addr.max);
                t->refusal_logged = now ? now : 1;
            }
            conn_close(c);
            return;
        }
        c->src_counted = true;
    }
    /* Each answer is one complete write: do not hold it back for an ACK. */
    uv_tcp_nodelay(&c->h, 1);
    uv_timer_start(&c->idle, idle_cb, t->idle_ms, 0);
    if (log_enabled(LOG_DEBUG)) {
        char ps[NET_ADDR_STRLEN];
        net_addr_format((struct sockaddr *)&c->peer, ps, sizeof ps);
        log_debug("tcp %s: connected", ps);
    }
    if (uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb) < 0) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void listener_close_cb(uv_handle_t *h)
{
    struct dns_tcp *t = h->data;
    t->live--;
    maybe_free_server(t);
}

size_t dns_tcp_connections(const struct dns_tcp *t)
{
    return t ? t->nconns : 0;
}

void dns_tcp_stop(struct dns_tcp *t)
{
    if (!t || t->stopping) return;
    t->stopping = true;
    for (size_t i = 0; i < t->nlisteners; i++)
        uv_close((uv_handle_t *)&t->listeners[i], listener_close_cb);
    while (t->conns)
        conn_close(t->conns);
    maybe_free_server(t);
}

static int listen_one(struct dns_tcp *t, uv_tcp_t *h, const struct net_addr *a, struct err *e)
{
    char as[NET_ADDR_STRLEN];
    net_addr_format((const struct sockaddr *)&a->ss, as, sizeof as);
    int r = uv_tcp_init_ex(t->loop, h, a->ss.ss_family);
    if (r < 0) return err_set(e, "cannot open TCP socket for %s: %s", as, uv_strerror(r));
    h->data = t;
    t->live++;
    t->nlisteners++;
    unsigned flags = 0;
    if (a->ss.ss_family == AF_INET6) {
        if (net_addr_is_any(a)) {
            /* "::" serves IPv4 too, whatever net.ipv6.bindv6only says. */
            uv_os_fd_t fd;
            int off = 0;
            if (uv_fileno((uv_handle_t *)h, &fd) == 0)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        } else {
            flags = UV_TCP_IPV6ONLY;
        }
    }
    /* libuv may report a bind error only at listen time. */
    r = uv_tcp_bind(h, (const struct sockaddr *)&a->ss, flags);
    if (r == 0) r = uv_listen((uv_stream_t *)h, TCP_BACKLOG, connection_cb);
    if (r < 0) return err_set(e, "cannot listen on TCP %s: %s", as, uv_strerror(r));
    return 0;
}

int dns_tcp_start(uv_loop_t *loop, const struct dns_tcp_config *cfg, struct dns_tcp **out,
                  struct err *e)
{
    *out = NULL;
    struct dns_tcp *t = calloc(1, sizeof *t);
    if (t) t->listeners = calloc(cfg->naddrs ? cfg->naddrs : 1, sizeof *t->listeners);
    if (!t || !t->listeners) {
        free(t);
        return err_set(e, "out of memory");
    }
    t->loop = loop;
    t->zones = cfg->zones;
    t->xfr = cfg->xfr;
    t->max_conns = cfg->max_conns ? cfg->max_conns : DNS_TCP_MAX_CONNS;
    t->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DNS_TCP_IDLE_MS;
    t->frame_ms = cfg->frame_timeout_ms ? cfg->frame_timeout_ms : t->idle_ms;
    addr_limit_init(&t->per_addr,
                    cfg->max_conns_per_addr ? cfg->max_conns_per_addr : DNS_TCP_MAX_PER_ADDR,
                    cfg->v4_prefix, cfg->v6_prefix);
    for (size_t i = 0; i < cfg->naddrs; i++) {
        if (listen_one(t, &t->listeners[i], &cfg->addrs[i], e) < 0) {
            dns_tcp_stop(t);
            return -1;
        }
    }
    *out = t;
    return 0;
}
