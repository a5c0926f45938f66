/* Connections: lifecycle, output batching (messages queued during one
 * loop iteration go out in one write), flow control (one byte budget per
 * connection), deadlines (one timer) and teardown in one place. Reading,
 * framing and connecting are in conn_io.c.
 *
 * Closing never frees anything in the caller's frame: conn_close and
 * conn_abort mark the connection dead and the vat's prepare or check
 * callback tears it down (conn_reap), so a handler that caused the close
 * keeps valid pointers into the tables until it has returned. */
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
    struct rpc_conn *c = xcalloc(1, sizeof *c);
    c->vat = v;
    c->refs = 1; /* the vat's list; dropped when the handle has closed */
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

static void conn_reap(struct rpc_conn *c);

static void on_prepare(uv_prepare_t *h)
{
    vat_flush_now(h->data);
}
/* Right after the poll, only teardown: a close caused by input is
 * finished in the same loop turn (a waiting rpc_promise_wait sees it),
 * while output keeps being batched for the prepare callback. */
static void on_check(uv_check_t *h)
{
    struct rpc_vat *v = h->data;
    while (v->dead) {
        struct rpc_conn *c = v->dead;
        v->dead = c->dead_next;
        conn_reap(c);
    }
}

static void service_start(struct rpc_vat *v)
{
    if (v->flush_active) return;
    v->flush_active = true;
    uv_prepare_start(&v->flush, on_prepare);
    uv_check_start(&v->check, on_check);
}

void conn_mark_dirty(struct rpc_conn *c)
{
    struct rpc_vat *v = c->vat;
    if (c->dirty || !v) return;
    c->dirty = true;
    conn_ref(c);
    c->dirty_next = v->dirty;
    v->dirty = c;
    service_start(v);
}

size_t msg_bytes(const struct capnp_msg *m)
{
    size_t n = 0;
    for (uint32_t i = 0; m && i < m->nsegs; i++)
        n += (size_t)m->segs[i].words * 8;
    return n;
}

/* Room for n more bytes after the first len of *buf (capacity *cap),
 * doubling from `initial`: -1 when out of memory (*buf unchanged). The
 * size follows what the peer makes us send or buffer, so a failure
 * costs the connection, not the process. */
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

/* ------------------------------------------------------------ flow control */

static size_t conn_used(const struct rpc_conn *c)
{
    return c->out_len + c->write_queue + c->held + c->held_kept;
}

/* The largest kept answer (only asked for when kept answers are over the
 * budget, so the walk over the answer table is off the common path). */
static size_t largest_kept(const struct rpc_conn *c)
{
    size_t max = 0;
    uint64_t k;
    void *v;
    for (uint32_t i = 0; idmap_next(&c->answers, &i, &k, &v);) {
        const struct rpc_answer *a = v;
        if (a->held > max) max = a->held;
    }
    return max;
}

/* Reading is resumed once what our own progress frees (output, calls in
 * flight) is down to half the budget (not at the first byte below it,
 * which would take one more message per write), and the kept answers fit
 * the budget, or all of them but the largest fit half of it: one honest
 * answer larger than the budget must not block the Finish that frees it
 * (it is among what we have not read), while a peer that keeps many
 * answers unfinished stays paused and is closed at the drain deadline
 * (fuzz_rpc_frames' bigchild_unfinished held 18 MB of a 4 MiB budget
 * when kept answers did not count at all). */
static bool can_resume(const struct rpc_conn *c)
{
    size_t budget = c->vat->cfg.conn_budget_bytes;
    if (c->out_len + c->write_queue + c->held > budget / 2) return false;
    return c->held_kept <= budget || c->held_kept - largest_kept(c) <= budget / 2;
}

void conn_check_budget(struct rpc_conn *c)
{
    if (conn_dead(c)) return;
    struct rpc_vat *v = c->vat;
    if (conn_used(c) > v->cfg.conn_budget_bytes && c->reading == READ_ON) {
        /* Stop taking work from a peer that makes us hold more than its
         * share; what it sent is still handled once it drains. */
        uv_read_stop(&c->h.s);
        c->reading = READ_PAUSED;
        if (v->cfg.drain_timeout_ms != UINT32_MAX)
            c->drain_due = uv_now(v->loop) + v->cfg.drain_timeout_ms;
        conn_arm_timer(c);
        if (log_enabled(LOG_DEBUG))
            log_debug("rpc: reading paused: %zu bytes held for the peer", conn_used(c));
    }
    if (c->reading == READ_PAUSED && can_resume(c))
        conn_mark_dirty(c); /* resumed from the loop, not inside a handler */
}

void conn_charge(struct rpc_conn *c, size_t n, bool kept)
{
    size_t *h = kept ? &c->held_kept : &c->held;
    *h += n;
    conn_check_budget(c);
}

void conn_credit(struct rpc_conn *c, size_t n, bool kept)
{
    size_t *h = kept ? &c->held_kept : &c->held;
    *h = n > *h ? 0 : *h - n;
    conn_check_budget(c);
}

static void conn_resume(struct rpc_conn *c)
{
    if (c->reading != READ_PAUSED || conn_dead(c) || !can_resume(c)) return;
    c->reading = READ_ON;
    c->drain_due = 0;
    conn_arm_timer(c);
    conn_drain_input(c); /* what arrived before the pause */
    if (conn_dead(c) || c->reading != READ_ON) return;
    conn_read_start(c);
}

/* ------------------------------------------------------------ output */

int conn_send(struct rpc_conn *c, struct capnp_builder *b)
{
    if (conn_dead(c)) return -1;
    size_t n = capnp_builder_size(b);
    if (capnp_builder_error(b) || n == 0)
        return conn_abort(c, "cannot build a message: %s",
                          capnp_builder_error(b) ? capnp_builder_error(b) : "empty");
    /* Checked here, when queued, not only when written: a peer that does
     * not read must not make us buffer without end in between. */
    if (c->out_len + c->write_queue + n > c->vat->cfg.max_write_queue) {
        conn_close(c, "the peer does not read what we send");
        return -1;
    }
    if (reserve(&c->out, &c->out_cap, c->out_len, n, 4096) < 0) {
        conn_close(c, "out of memory");
        return -1;
    }
    c->out_len += capnp_builder_write(b, c->out + c->out_len, n);
    conn_mark_dirty(c);
    conn_check_budget(c);
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct rpc_conn *c = w->c;
    c->write_queue -= w->len;
    free(w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_close(c, uv_strerror(status));
    else
        conn_check_budget(c);
    conn_unref(c);
}

static void write_raw(struct rpc_conn *c, uint8_t *buf, size_t len)
{
    struct wreq *w = xmalloc(sizeof *w);
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
        return;
    }
    /* TLS adds a little to what conn_send admitted. */
    if (c->write_queue > c->vat->cfg.max_write_queue + 65536)
        conn_close(c, "the peer does not read what we send");
}

/* Output may go out while open, and while dead but closing gracefully
 * (an Abort and a TLS close_notify are sent before the socket closes). */
static bool can_write(const struct rpc_conn *c)
{
    if (!c->handle_open || !c->was_open) return false;
    return c->state == CONN_OPEN || (c->state == CONN_DEAD && c->graceful);
}

void conn_flush_tls(struct rpc_conn *c)
{
    uint8_t *buf;
    size_t len;
    while (can_write(c) && c->tls && tls_session_take_output(c->tls, &buf, &len))
        write_raw(c, buf, len);
}

static void conn_flush(struct rpc_conn *c)
{
    if (!can_write(c) || c->out_len == 0) return;
    if (c->tls) {
        struct err e;
        int r = tls_session_write(c->tls, c->out, c->out_len, &e);
        c->out_len = 0;
        if (r < 0) {
            conn_close(c, e.msg);
            return;
        }
        conn_flush_tls(c);
        return;
    }
    uint8_t *buf = c->out;
    size_t len = c->out_len;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    write_raw(c, buf, len);
}

/* ------------------------------------------------------------ closing */

static void on_timer_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void close_timer(struct rpc_conn *c)
{
    if (!c->timer_open) return;
    c->timer_open = false;
    conn_ref(c); /* until the timer is closed */
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* The socket is closed for good: only now is the slot free. */
static void on_stream_closed(uv_handle_t *h)
{
    struct rpc_conn *c = h->data;
    close_timer(c);
    if (c->vat) vat_conn_closed(c->vat, c);
    conn_unref(c); /* the vat list's */
    conn_unref(c); /* the handle's */
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct rpc_conn *c = req->data;
    free(req);
    c->shutting_down = false;
    if (!uv_is_closing(&c->h.h)) uv_close(&c->h.h, on_stream_closed);
}

/* Closes the socket: after the queued writes when graceful, but never
 * later than close_timeout_ms (a peer that does not read would otherwise
 * keep the socket, and its slot, for ever). */
static void close_transport(struct rpc_conn *c, bool graceful)
{
    c->auth_due = c->drain_due = c->idle_due = 0;
    if (!c->handle_open) {
        close_timer(c);
        if (c->vat) vat_conn_closed(c->vat, c);
        conn_unref(c); /* the vat list's */
        return;
    }
    c->handle_open = false;
    uv_read_stop(&c->h.s);
    conn_ref(c); /* until the handle is closed */
    if (graceful && c->was_open && c->write_queue > 0) {
        uv_shutdown_t *req = xmalloc(sizeof *req);
        req->data = c;
        if (uv_shutdown(req, &c->h.s, on_shutdown) == 0) {
            c->shutting_down = true;
            c->close_due = uv_now(c->h.h.loop) + c->vat->cfg.close_timeout_ms;
            conn_arm_timer(c);
            return;
        }
        free(req);
    }
    uv_close(&c->h.h, on_stream_closed);
}

static void mark_dead(struct rpc_conn *c, const char *why, bool graceful)
{
    if (conn_dead(c)) return;
    struct rpc_vat *v = c->vat;
    c->state = CONN_DEAD;
    c->graceful = graceful && c->was_open;
    c->error = xstrdup(why);
    if (log_enabled(LOG_DEBUG)) log_debug("rpc: connection closed: %s", why);
    if (c->reading != READ_OFF) {
        uv_read_stop(&c->h.s);
        c->reading = READ_OFF;
    }
    conn_ref(c); /* the dead list's */
    c->dead_next = v->dead;
    v->dead = c;
    service_start(v);
}

/* The one place where a connection is torn down. */
static void conn_reap(struct rpc_conn *c)
{
    if (c->graceful && c->tls && tls_session_established(c->tls)) tls_session_shutdown(c->tls);
    conn_flush(c);
    conn_flush_tls(c);
    c->state = CONN_GONE;
    close_transport(c, c->graceful);
    proto_teardown(c);
    conn_unref(c); /* the dead list's */
}

void conn_close(struct rpc_conn *c, const char *why)
{
    mark_dead(c, why, false);
}

int conn_abort(struct rpc_conn *c, const char *fmt, ...)
{
    if (conn_dead(c)) return -1;
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
    mark_dead(c, why, true);
    return -1;
}

void vat_flush_now(struct rpc_vat *v)
{
    while (v->dirty || v->dead) {
        while (v->dirty) {
            struct rpc_conn *c = v->dirty;
            v->dirty = c->dirty_next;
            c->dirty = false;
            conn_flush(c);
            conn_resume(c);
            conn_unref(c);
        }
        if (v->dead) {
            struct rpc_conn *c = v->dead;
            v->dead = c->dead_next;
            conn_reap(c);
        }
    }
    if (v->flush_active) {
        v->flush_active = false;
        uv_prepare_stop(&v->flush);
        uv_check_stop(&v->check);
    }
}

/* ------------------------------------------------------------ deadlines */

/* Quiet but holding capabilities either way (a registered callback may
 * be called hours later) is not idle, nor is a call still running
 * either way: only holder_idle_timeout_ms applies then. */
static bool holds_something(struct rpc_conn *c)
{
    if (c->imports.len || c->exports.len) return true;
    uint64_t k;
    void *val;
    for (uint32_t i = 0; idmap_next(&c->answers, &i, &k, &val);)
        if (((struct rpc_answer *)val)->state != ANSWER_RETURNED) return true;
    for (uint32_t i = 0; idmap_next(&c->questions, &i, &k, &val);)
        if (!((struct rpc_promise *)val)->returned) return true;
    return false;
}

static void check_idle(struct rpc_conn *c, uint64_t now)
{
    const struct rpc_vat_config *cfg = &c->vat->cfg;
    uint64_t quiet = now - c->last_rx;
    bool holds = holds_something(c);
    if (cfg->idle_timeout_ms != UINT32_MAX && quiet >= cfg->idle_timeout_ms && !holds) {
        conn_close(c, "idle timeout");
        return;
    }
    if (cfg->holder_idle_timeout_ms && quiet >= cfg->holder_idle_timeout_ms) {
        conn_close(c, "idle timeout (holding capabilities)");
        return;
    }
    /* Look again when the next rule could apply, or a quarter of the
     * idle time from now when only holding keeps it open. */
    uint64_t next = UINT64_MAX;
    if (cfg->idle_timeout_ms != UINT32_MAX) {
        uint64_t at = c->last_rx + cfg->idle_timeout_ms;
        next = at > now ? at : now + (cfg->idle_timeout_ms / 4 ? cfg->idle_timeout_ms / 4 : 1);
    }
    if (cfg->holder_idle_timeout_ms) {
        uint64_t at = c->last_rx + cfg->holder_idle_timeout_ms;
        if (at < next) next = at;
    }
    c->idle_due = next == UINT64_MAX ? 0 : next;
}

static void on_timer(uv_timer_t *t)
{
    struct rpc_conn *c = t->data;
    uint64_t now = uv_now(t->loop);
    if (c->close_due && now >= c->close_due) {
        c->close_due = 0;
        if (c->shutting_down && !uv_is_closing(&c->h.h)) uv_close(&c->h.h, on_stream_closed);
        return;
    }
    if (conn_dead(c)) return;
    if (c->auth_due && now >= c->auth_due && !c->authed) {
        char why[96];
        snprintf(why, sizeof why, "no service restored within %u ms", c->vat->cfg.auth_timeout_ms);
        conn_close(c, why);
        return;
    }
    if (c->drain_due && now >= c->drain_due && c->reading == READ_PAUSED) {
        conn_close(c, "the peer does not read what we send (drain deadline)");
        return;
    }
    if (c->idle_due && now >= c->idle_due) check_idle(c, now);
    if (!conn_dead(c)) conn_arm_timer(c);
}

void conn_timer_init(struct rpc_conn *c)
{
    if (c->timer_open || uv_timer_init(c->h.h.loop ? c->h.h.loop : c->vat->loop, &c->timer) < 0)
        return;
    c->timer_open = true;
    c->timer.data = c;
}

void conn_arm_timer(struct rpc_conn *c)
{
    if (!c->timer_open) return;
    uint64_t due = 0;
    uint64_t d[] = {c->auth_due, c->drain_due, c->close_due, c->idle_due};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i] && (!due || d[i] < due)) due = d[i];
    if (!due) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->timer.loop);
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

void conn_authenticated(struct rpc_conn *c)
{
    if (c->authed) return;
    c->authed = true;
    c->auth_due = 0;
    conn_arm_timer(c);
    /* Whole messages from here on (the pre-authentication cap is off). */
    c->framer.max_bytes = c->vat->cfg.max_message_bytes;
    if (c->slot_held) c->vat->nauthed++;
}
