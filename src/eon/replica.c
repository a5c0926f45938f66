/*
 * replica: one queue per secondary, on the loop thread (docs/replication.md).
 *
 *   CONNECTING     a new connection through the stored URI: getName is in
 *                  flight (it must name our zone)
 *   FULL_TRANSFER  the whole zone from one held version: the clear call,
 *                  then chunks, at most REPL_CHUNKS_IN_FLIGHT at a time
 *                  (calls on one connection arrive in order)
 *   INCREMENTAL    one Secondary.update with the journal's changes since
 *                  `acked` in flight
 *   IDLE           up to date, or nothing can be sent
 *   BACKOFF        disconnected or failed: a timer reconnects (1 s doubling
 *                  to 60 s)
 *
 * A queue is stepped when a call of it is answered and when the zone's
 * serial moves (eon_repl_changed wakes the loop). Calls made before a
 * failure or a re-registration are answered into the void: each carries
 * the generation it was made in.
 */
#include "eon/replica_int.h"
#include "dns/journal.h"
#include "eon/gen/eon.capnp.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <urcu-qsbr.h>

uint64_t repl_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

const char *replica_state_name(enum eon_replica_state s)
{
    static const char *names[] = {"connecting", "full_transfer", "incremental", "idle", "backoff"};
    return s <= EON_REPLICA_BACKOFF ? names[s] : "?";
}

const struct zone_version *repl_hold_current(struct repl_zone *z)
{
    rcu_thread_online();
    struct zone *zn = zone_set_get(zone_set_current(z->repl->ctx->zones), z->apex);
    const struct zone_version *v = zn ? zone_current(zn) : NULL;
    if (v) zone_version_hold(v);
    rcu_thread_offline();
    return v;
}

/* ------------------------------------------------------------ lifetime */

static void timer_closed(uv_handle_t *h)
{
    struct replica *r = h->data;
    free(r->uri);
    free(r);
}

void replica_unref(struct replica *r)
{
    if (--r->refs > 0) return;
    if (r->cap) rpc_cap_unref(r->cap);
    if (r->xv) zone_version_release(r->xv);
    if (r->timer_open) {
        uv_close((uv_handle_t *)&r->timer, timer_closed);
        return;
    }
    free(r->uri);
    free(r);
}

struct replica *replica_new(struct repl_zone *z, const char *base, const char *uri)
{
    struct replica *r = xcalloc(1, sizeof *r);
    r->refs = 1;
    r->zone = z;
    snprintf(r->base, sizeof r->base, "%s", base);
    r->uri = xstrdup(uri);
    r->state = EON_REPLICA_BACKOFF;
    r->backoff_ms = REPL_BACKOFF_MIN_MS;
    r->next = z->replicas;
    z->replicas = r;
    z->n++;
    return r;
}

/* Forgets what is in flight: its answers will be ignored. */
static void drop_in_flight(struct replica *r)
{
    r->gen++;
    if (r->xv) {
        /* The secondary may have been cleared: only a whole zone repairs it. */
        zone_version_release(r->xv);
        r->xv = NULL;
        r->full_next = true;
    }
}

void replica_remove(struct replica *r)
{
    struct repl_zone *z = r->zone;
    for (struct replica **p = &z->replicas; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            z->n--;
            break;
        }
    r->removed = true;
    drop_in_flight(r);
    if (r->timer_open) uv_timer_stop(&r->timer);
    if (r->cap) {
        rpc_cap_unref(r->cap);
        r->cap = NULL;
    }
    replica_unref(r);
}

/* ------------------------------------------------------------ calls */

struct flight {
    struct replica *r;
    unsigned gen;
    enum { F_PROBE, F_SOA_CHECK, F_INCREMENTAL, F_CLEAR, F_CHUNK } kind;
    uint32_t to; /* F_INCREMENTAL: the serial it brings the secondary to */
};

static struct flight *flight_new(struct replica *r, int kind)
{
    struct flight *f = xcalloc(1, sizeof *f);
    f->r = r;
    f->gen = r->gen;
    f->kind = kind;
    r->refs++;
    r->inflight++;
    return f;
}

/* The flight's answer still matters: frees f, tells whether to go on. */
static struct replica *flight_end(struct flight *f)
{
    struct replica *r = f->r;
    bool live = f->gen == r->gen && !r->removed &&
                !__atomic_load_n(&r->zone->repl->stopping, __ATOMIC_RELAXED);
    r->inflight--;
    free(f);
    if (!live) {
        /* The last stale answer: a queue that waited for it (re-registered
         * or reconnected meanwhile) goes on. */
        if (!r->removed && !r->zone->repl->stopping && r->inflight == 0 &&
            r->state == EON_REPLICA_IDLE)
            replica_step(r);
        replica_unref(r);
        return NULL;
    }
    r->refs--; /* the list still holds it */
    return r;
}

static void connect_now(uv_timer_t *t);

void replica_schedule_connect(struct replica *r, unsigned ms)
{
    if (!r->timer_open) {
        uv_timer_init(r->zone->repl->ctx->loop, &r->timer);
        r->timer.data = r;
        r->timer_open = true;
    }
    r->state = EON_REPLICA_BACKOFF;
    uv_timer_start(&r->timer, connect_now, ms, 0);
}

/* Disconnected, an exception, or a call we could not make: wait, then
 * reconnect through the stored URI. */
static void backoff(struct replica *r, const char *what, const char *why)
{
    r->failures++;
    log_error("secondary %s of %s: %s: %s; reconnecting in %u s", r->base, r->zone->name, what, why,
              r->backoff_ms / 1000);
    drop_in_flight(r);
    if (r->cap) {
        rpc_cap_unref(r->cap);
        r->cap = NULL;
    }
    replica_schedule_connect(r, r->backoff_ms);
    r->backoff_ms =
        r->backoff_ms * 2 > REPL_BACKOFF_MAX_MS ? REPL_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void on_probe(void *ud, struct rpc_response *resp)
{
    struct replica *r = flight_end(ud);
    if (!r) {
        rpc_response_free(resp);
        return;
    }
    if (resp->error) {
        backoff(r, "getName", resp->error);
    } else {
        capnp_text t = eon_Secondary_getName_Results_get_name(
            eon_Secondary_getName_Results_from_ptr(resp->content));
        char name[DNS_NAME_TEXT_MAX];
        snprintf(name, sizeof name, "%.*s", (int)(t.len < 300 ? t.len : 300), t.str ? t.str : "");
        size_t l = strlen(name);
        if (l > 1 && name[l - 1] == '.') name[l - 1] = 0;
        if (strcasecmp(name, r->zone->name) != 0) {
            backoff(r, "wrong secondary", "it serves another zone (getName answered that name)");
            log_error("secondary %s of %s: getName answered '%s'", r->base, r->zone->name, name);
        } else {
            log_info("secondary %s of %s: connected", r->base, r->zone->name);
            r->state = EON_REPLICA_IDLE;
            r->verify = true;
            replica_step(r);
        }
    }
    rpc_response_free(resp);
}

static void connect_now(uv_timer_t *t)
{
    struct replica *r = t->data;
    struct eon_repl *rp = r->zone->repl;
    if (r->removed || rp->stopping || !rp->ctx->vat) return;
    struct err e;
    struct rpc_cap *cap = rpc_vat_restore_uri(rp->ctx->vat, r->uri, &e);
    if (!cap) {
        backoff(r, "its capability file", e.msg);
        return;
    }
    r->cap = cap;
    r->state = EON_REPLICA_CONNECTING;
    struct flight *f = flight_new(r, F_PROBE);
    struct rpc_req *req = rpc_req_new(cap, eon_Secondary_ID, eon_Secondary_getName_ORDINAL);
    capnp_ptr_b_init_struct(rpc_req_params(req), 0, 0);
    rpc_promise_unref(rpc_req_send(req, on_probe, f));
}

void replica_attach(struct replica *r, struct rpc_cap *cap)
{
    drop_in_flight(r);
    if (r->timer_open) uv_timer_stop(&r->timer);
    if (r->cap) rpc_cap_unref(r->cap);
    r->cap = cap;
    r->backoff_ms = REPL_BACKOFF_MIN_MS;
    r->state = EON_REPLICA_IDLE;
    r->verify = true;
}

static void persist(struct replica *r)
{
    struct err e;
    if (replica_save_serial(r, &e) < 0)
        log_error("secondary %s of %s: %s (it will get a full transfer after a restart)", r->base,
                  r->zone->name, e.msg);
}

static void on_update(void *ud, struct rpc_response *resp)
{
    struct flight *f = ud;
    int kind = f->kind;
    uint32_t to = f->to;
    struct replica *r = flight_end(f);
    if (!r) {
        rpc_response_free(resp);
        return;
    }
    struct err e;
    int rc = replica_update_result(resp, &e);
    bool exception = resp->error != NULL;
    rpc_response_free(resp);
    if (rc < 0 && exception) {
        backoff(r, "Secondary.update", e.msg);
        return;
    }
    if (rc < 0) {
        if (kind == F_SOA_CHECK) {
            log_info("secondary %s of %s: not at our serial %u (%s): sending the whole zone",
                     r->base, r->zone->name, to, e.msg);
            r->full_next = true;
            r->state = EON_REPLICA_IDLE;
            replica_step(r);
            return;
        }
        r->failures++;
        if (kind == F_INCREMENTAL) {
            log_error("secondary %s of %s: refused the changes %u -> %u: %s; sending the whole "
                      "zone",
                      r->base, r->zone->name, r->acked, to, e.msg);
            if (r->after_full)
                log_error("secondary %s of %s: warning: it refused the changes right after a "
                          "full transfer: its serial is ahead of ours (it bumped a serial that "
                          "was not newer); it gets full transfers from now on",
                          r->base, r->zone->name);
            r->full_next = true;
            r->state = EON_REPLICA_IDLE;
            replica_step(r);
        } else {
            /* A full transfer refused: retrying at once would loop. */
            r->full_next = true;
            backoff(r, "full transfer refused", e.msg);
        }
        return;
    }
    r->backoff_ms = REPL_BACKOFF_MIN_MS;
    if (kind == F_INCREMENTAL || kind == F_SOA_CHECK) {
        if (kind == F_SOA_CHECK)
            log_info("secondary %s of %s: already at serial %u", r->base, r->zone->name, to);
        r->acked = to;
        r->acked_known = true;
        r->incrementals++;
        r->after_full = false;
        persist(r);
        r->state = EON_REPLICA_IDLE;
    }
    replica_step(r);
}

static void full_done(struct replica *r)
{
    r->acked = r->xv->serial;
    r->acked_known = true;
    r->after_full = true;
    r->fulls++;
    log_info("secondary %s of %s: full transfer done, serial %u, %llu records in %llu ms", r->base,
             r->zone->name, r->acked, (unsigned long long)r->x_records,
             (unsigned long long)(repl_now_ms() - r->x_started_ms));
    zone_version_release(r->xv);
    r->xv = NULL;
    persist(r);
    r->state = EON_REPLICA_IDLE;
}

static void full_pump(struct replica *r)
{
    while (!r->x_done && r->inflight < REPL_CHUNKS_IN_FLIGHT) {
        struct flight *f = flight_new(r, r->x_cleared ? F_CHUNK : F_CLEAR);
        struct err e;
        int rc = r->x_cleared ? replica_send_chunk(r, on_update, f, &e)
                              : replica_send_clear(r, on_update, f, &e);
        if (rc != 0) {
            flight_end(f);
            backoff(r, "full transfer", e.msg);
            return;
        }
        r->x_cleared = true;
    }
    if (r->x_done && r->inflight == 0) full_done(r);
}

static void start_full(struct replica *r, const struct zone_version *v)
{
    r->xv = v; /* the hold passes to the transfer */
    r->x_cleared = r->x_done = false;
    zone_cursor_start(&r->x_zc, v);
    r->x_nd = NULL;
    r->x_set = 0;
    r->x_rr = NULL;
    r->x_records = 0;
    r->x_started_ms = repl_now_ms();
    r->full_next = false;
    r->state = EON_REPLICA_FULL_TRANSFER;
    log_info("secondary %s of %s: full transfer of serial %u (%zu records)", r->base, r->zone->name,
             v->serial, v->nrecords);
    full_pump(r);
}

void replica_step(struct replica *r)
{
    if (r->removed || !r->cap || r->zone->repl->stopping) return;
    if (r->state == EON_REPLICA_BACKOFF || r->state == EON_REPLICA_CONNECTING) return;
    if (r->state == EON_REPLICA_FULL_TRANSFER) {
        full_pump(r);
        if (r->state == EON_REPLICA_FULL_TRANSFER) return;
    }
    if (r->inflight) return;
    const struct zone_version *v = repl_hold_current(r->zone);
    if (!v) {
        r->state = EON_REPLICA_IDLE;
        return;
    }
    if (!r->behind_since_ms && (!r->acked_known || r->acked != v->serial))
        r->behind_since_ms = repl_now_ms();
    /* Unknown serial, or a secondary that registered again (or that we
     * reconnected to) while it should be at our serial: a restart may
     * have lost its zone, and with nothing new to send it would serve
     * nothing until the next change. One call with the SOA prerequisite
     * tells. When it is behind, the incremental's prerequisite tells. */
    bool check_current = r->verify && r->acked_known && r->acked == v->serial;
    if (((!r->acked_known && !r->checked) || check_current) && !r->full_next) {
        r->checked = true;
        r->verify = false;
        struct flight *f = flight_new(r, F_SOA_CHECK);
        struct err e;
        f->to = v->serial;
        replica_send_soa_check(r, v, on_update, f, &e);
        r->state = EON_REPLICA_INCREMENTAL;
        zone_version_release(v);
        return;
    }
    if (!r->acked_known || r->full_next) {
        start_full(r, v);
        return;
    }
    if (r->acked == v->serial) {
        r->state = EON_REPLICA_IDLE;
        r->behind_since_ms = 0;
        zone_version_release(v);
        return;
    }
    r->verify = false; /* the incremental's prerequisite checks */
    struct flight *f = flight_new(r, F_INCREMENTAL);
    struct err e;
    int rc = replica_send_incremental(r, v, &f->to, on_update, f, &e);
    if (rc == 0) {
        r->state = EON_REPLICA_INCREMENTAL;
        zone_version_release(v);
        return;
    }
    flight_end(f);
    if (rc > 0) {
        log_info("secondary %s of %s: the journal does not cover serial %u: sending the whole "
                 "zone",
                 r->base, r->zone->name, r->acked);
        start_full(r, v);
        return;
    }
    zone_version_release(v);
    backoff(r, "reading the journal", e.msg);
}
