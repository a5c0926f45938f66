/*
 * replica_zones: the replication of every zone (struct eon_repl): the
 * zones' queues, the publish hook, Primary.updateSecondaries, and stopping.
 */
#include "eon/replica_int.h"
#include "dns/wire.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <stdlib.h>
#include <string.h>

static const uint8_t root_name[1] = {0};

static void on_changed(uv_async_t *a)
{
    struct eon_repl *rp = a->data;
    if (rp->stopping) return;
    for (struct repl_zone *z = rp->zones; z; z = z->next)
        for (struct replica *r = z->replicas; r; r = r->next)
            if (r->state == EON_REPLICA_IDLE) replica_step(r);
}

struct eon_repl *eon_repl_new(struct eon_ctx *c, const struct eon_state *st, struct err *e)
{
    struct eon_repl *rp = xcalloc(1, sizeof *rp);
    rp->ctx = c;
    rp->st = st;
    if (uv_async_init(c->loop, &rp->async, on_changed) != 0) {
        free(rp);
        err_set(e, "replication: cannot make its wake-up handle");
        return NULL;
    }
    rp->async.data = rp;
    rp->async_open = true;
    return rp;
}

struct repl_zone *repl_zone_find(struct eon_repl *rp, const char *name)
{
    uint8_t w[DNS_NAME_MAX];
    struct err e;
    if (!rp || dns_name_from_text(name, root_name, w, &e) < 0) return NULL;
    dns_name_lower(w, w);
    for (struct repl_zone *z = rp->zones; z; z = z->next)
        if (dns_name_equal(z->apex, w)) return z;
    return NULL;
}

int eon_repl_zone_start(struct eon_repl *rp, const char *name, struct err *e)
{
    if (repl_zone_find(rp, name)) return 0;
    struct repl_zone *z = xcalloc(1, sizeof *z);
    struct err ne;
    if (dns_name_from_text(name, root_name, z->apex, &ne) < 0) {
        free(z);
        return err_set(e, "zone %s: %s", name, ne.msg);
    }
    dns_name_lower(z->apex, z->apex);
    if (eon_state_secondary_dir(rp->st, name, z->dir, sizeof z->dir, e) < 0) {
        free(z);
        return -1;
    }
    z->repl = rp;
    snprintf(z->name, sizeof z->name, "%s", name);
    z->next = rp->zones;
    rp->zones = z;
    return repl_zone_load(z, e);
}

void eon_repl_changed(void *ud, const uint8_t *apex, uint32_t serial)
{
    (void)apex;
    (void)serial;
    struct eon_repl *rp = ud;
    /* Any thread, the zone's writer lock held: only wake the loop (many
     * publishes before it runs make one wake-up). */
    if (!__atomic_load_n(&rp->stopping, __ATOMIC_ACQUIRE)) uv_async_send(&rp->async);
}

static void async_closed(uv_handle_t *h)
{
    (void)h;
}

void eon_repl_stop(struct eon_repl *rp)
{
    if (!rp || rp->stopping) return;
    __atomic_store_n(&rp->stopping, 1, __ATOMIC_RELEASE);
    for (struct repl_zone *z = rp->zones; z; z = z->next)
        while (z->replicas)
            replica_remove(z->replicas);
    if (rp->async_open) {
        uv_close((uv_handle_t *)&rp->async, async_closed);
        rp->async_open = false;
    }
}

void eon_repl_free(struct eon_repl *rp)
{
    if (!rp) return;
    eon_repl_stop(rp);
    while (rp->zones) {
        struct repl_zone *z = rp->zones;
        rp->zones = z->next;
        free(z);
    }
    free(rp);
}

int eon_repl_info(struct eon_repl *rp, const char *name, const char *base,
                  struct eon_replica_info *out)
{
    struct repl_zone *z = repl_zone_find(rp, name);
    for (struct replica *r = z ? z->replicas : NULL; r; r = r->next) {
        if (strcmp(r->base, base) != 0) continue;
        *out = (struct eon_replica_info){r->state, r->acked_known,  r->acked,
                                         r->fulls, r->incrementals, r->failures};
        return 0;
    }
    return -1;
}

unsigned eon_repl_count(struct eon_repl *rp, const char *name)
{
    struct repl_zone *z = repl_zone_find(rp, name);
    return z ? z->n : 0;
}

/* ------------------------------------------------------------ updateSecondaries */

struct fwd {
    struct rpc_call *call;
    unsigned pending;
    char error[512]; /* the first error, "" if none */
};

static void fwd_error(struct fwd *f, const char *base, const char *msg)
{
    if (!f->error[0]) snprintf(f->error, sizeof f->error, "secondary %.100s: %.380s", base, msg);
}

static void fwd_finish(struct fwd *f, const char *zone)
{
    eon_Primary_updateSecondaries_Results_B res =
        eon_Primary_updateSecondaries_Results_init_ptr(rpc_call_results(f->call));
    eon_Primary_updateSecondaries_Results_set_success(res, !f->error[0]);
    if (f->error[0])
        eon_Primary_updateSecondaries_Results_set_error(res, f->error, (uint32_t)strlen(f->error));
    log_info("Primary(%s).updateSecondaries: %s", zone, f->error[0] ? f->error : "ok");
    rpc_call_return(f->call);
    free(f);
}

struct fwd_one {
    struct fwd *f;
    struct replica *r;
};

static void on_forwarded(void *ud, struct rpc_response *resp)
{
    struct fwd_one *o = ud;
    struct err e;
    if (replica_update_result(resp, &e) < 0) fwd_error(o->f, o->r->base, e.msg);
    rpc_response_free(resp);
    char zone[DNS_NAME_TEXT_MAX];
    snprintf(zone, sizeof zone, "%s", o->r->zone->name);
    replica_unref(o->r);
    if (--o->f->pending == 0) fwd_finish(o->f, zone);
    free(o);
}

void eon_repl_forward(struct eon_repl *rp, const char *name, struct rpc_call *call)
{
    struct repl_zone *z = repl_zone_find(rp, name);
    struct eon_update_req req = {0};
    struct err e;
    /* Checked here, so a malformed list is refused once, not by each
     * secondary. */
    if (eon_update_decode(eon_Domain_update_Params_from_ptr(rpc_call_params(call)), &req, &e) < 0) {
        eon_update_req_free(&req);
        rpc_call_fail(call, "updateSecondaries: %s", e.msg);
        return;
    }
    eon_update_req_free(&req);
    struct fwd *f = xcalloc(1, sizeof *f);
    f->call = call;
    f->pending = 1; /* until every call is made */
    for (struct replica *r = z ? z->replicas : NULL; r; r = r->next) {
        if (!r->cap || r->state == EON_REPLICA_CONNECTING) {
            fwd_error(f, r->base, "not connected (reconnecting)");
            continue;
        }
        struct rpc_req *rq = rpc_req_new(r->cap, eon_Secondary_ID, eon_Secondary_update_ORDINAL);
        if (capnp_copy(rpc_req_params(rq), rpc_call_params(call)) < 0) {
            rpc_req_free(rq);
            fwd_error(f, r->base, "cannot copy the operations");
            continue;
        }
        struct fwd_one *o = xcalloc(1, sizeof *o);
        o->f = f;
        o->r = r;
        r->refs++;
        f->pending++;
        rpc_promise_unref(rpc_req_send(rq, on_forwarded, o));
    }
    if (--f->pending == 0) fwd_finish(f, name);
}
