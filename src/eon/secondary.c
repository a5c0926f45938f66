/*
 * The Secondary service and its per-zone update queue (eon/secondary.h).
 * The zones, their records and statistics are in secondary_set.c; the link
 * to the primary in upstream.c.
 */
#include "dns/journal.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone_loader.h"
#include "eon/convert.h"
#include "eon/domain.h"
#include "eon/gen/eon.capnp.h"
#include "eon/secondary_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sec_service {
    struct rpc_object obj;     /* first */
    struct eon_secondary *sec; /* NULL once capd let go of it (stopping) */
};

enum job_kind { JOB_INCREMENTAL, JOB_STAGE };

/* One Secondary.update call, queued, then on the thread pool. */
struct sec_job {
    struct sec_job *next;
    struct eon_secondary *sec;
    struct rpc_call *call;
    struct eon_update_req req; /* copied out of the message */
    uv_work_t work;
    enum job_kind kind;
    bool starts, ends;     /* a full transfer starts / ends with this call */
    struct zone *new_zone; /* the first transfer's zone, added to the set */
    int rc;
    uint32_t serial, offered; /* applied; the staged SOA's (bumped if not newer) */
    size_t records;
    /* The last call of a transfer, for its log line (uv_hrtime, ns): the
     * first call began, this call's adds were staged, the zone was laid
     * out, served, journaled. Where a transfer's time goes, without a profiler. */
    uint64_t t_first, t_staged, t_built, t_served, t_journaled;
    struct err err;
};

/* ------------------------------------------------------------ staging */

static void stage_reset(struct sec_stage *st)
{
    zone_loader_free(st->ld);
    free(st->scratch);
    memset(st, 0, sizeof *st);
}

/* Presentation form without the trailing dot, as the engine's messages. */
static void owner_text(const uint8_t *n, char out[DNS_NAME_TEXT_MAX])
{
    int l = dns_name_to_text(n, out, DNS_NAME_TEXT_MAX);
    if (l > 1 && out[l - 1] == '.') out[l - 1] = 0;
}

/* Stages one add of a full transfer: the update engine's checks on the
 * owner, type, TTL and RDATA, the bounds, then into the zone being built. */
static int stage_add(struct eon_secondary *s, const struct dns_update *u, struct err *e)
{
    struct sec_stage *st = &s->stage;
    uint8_t lower[DNS_NAME_MAX];
    char owner[DNS_NAME_TEXT_MAX]; /* for messages only: made when one is */
    size_t ol = dns_name_lower(lower, u->owner);
    if (!dns_name_is_subdomain(lower, s->apex)) {
        owner_text(u->owner, owner);
        return err_set(e, "name %s is outside %s", owner, s->name);
    }
    if (u->ttl > 0x7fffffffu) {
        owner_text(u->owner, owner);
        return err_set(e, "TTL %u of %s is above the maximum 2147483647", u->ttl, owner);
    }
    if (!st->scratch && !(st->scratch = malloc(65535))) return err_set(e, "out of memory");
    int rl = dns_update_value_rdata(u->type, u->rdata, u->rdlen, st->scratch, 65535);
    if (rl < 0) {
        owner_text(u->owner, owner);
        return err_set(e, "malformed RDATA for type %u at %s", u->type, owner);
    }
    /* The same count as when the records were kept aside before being
     * built: the bound means what it meant. */
    size_t cost = sizeof(struct dns_change) + ol + (size_t)rl;
    if (st->n >= SEC_STAGE_MAX_RECORDS || st->bytes + cost > s->set->stage_max_bytes)
        return err_set(e,
                       "the full transfer of %s is larger than this capd accepts (at most %u "
                       "records and %zu bytes staged); the transfer is dropped",
                       s->name, SEC_STAGE_MAX_RECORDS, s->set->stage_max_bytes);
    if (zone_loader_add(st->ld, u->owner, u->type, u->ttl, st->scratch, (uint16_t)rl, e) < 0) {
        err_prefix(e, "the full transfer of %s is not a valid zone", s->name);
        return -1;
    }
    if (u->type == DNS_T_SOA && dns_name_equal(lower, s->apex) && rl >= 20) {
        st->has_soa = true; /* the last one counts, as when built at the end */
        st->soa_serial = be32(st->scratch + rl - 20);
    }
    st->n++;
    st->bytes += cost;
    return 0;
}

/* The staged zone becomes the zone's next version: laid out (the records
 * are already in the loader), published (for the first transfer, added to
 * the served set), then journaled as a snapshot that replaces the zone's
 * journal. On the thread pool. */
static int stage_finish(struct eon_secondary *s, struct sec_job *j, struct err *e)
{
    struct sec_stage *st = &s->stage;
    if (!st->has_soa) return err_set(e, "the full transfer of %s has no SOA", s->name);
    uint32_t serial = st->soa_serial;
    j->offered = serial;
    j->records = st->n;
    j->t_first = st->t_first;
    j->t_staged = uv_hrtime();
    struct zone_version *nv = NULL;
    struct zone *z = s->zone;
    struct journal *jr = s->set->journal;
    int rc = -1;
    const struct zone_version *cur = NULL;
    if (z) {
        zone_lock(z);
        cur = zone_current(z);
        if (jr && journal_tip(jr, z)) {
            err_set(e, "an update of %s is still being committed", s->name);
            goto out;
        }
    }
    /* A serial not newer than ours is bumped, as eon does, except when the
     * transfer is exactly what we serve (a primary that lost track of us
     * sends the zone again): bumping then would only make our serial
     * differ from the primary's for nothing. */
    bool same = cur && serial == cur->serial;
    if (cur && !serial_newer(serial, cur->serial)) serial = serial_next(cur->serial);
    if (zone_loader_freeze(st->ld, same ? cur->serial : serial, &nv, e) < 0) {
        err_prefix(e, "the full transfer of %s is not a valid zone", s->name);
        goto out;
    }
    if (same && zone_version_hash(nv) == zone_version_hash(cur)) {
        zone_version_free(nv);
        j->serial = j->offered;
        rc = 0;
        goto out;
    }
    if (same) { /* the same serial, other content: the next serial (a loader freezes once) */
        struct zone_version *bumped = NULL;
        int r = zone_version_apply(nv, NULL, 0, serial, &bumped, e);
        zone_version_free(nv);
        if (r < 0) goto out;
        nv = bumped;
    }
    j->t_built = uv_hrtime();
    /* Served first, journaled second: queries get the zone without waiting
     * for the snapshot's write, and the call is answered only once the
     * snapshot is durable, so what the primary sees acknowledged survives
     * a restart (a crash in between restarts from the old journal, and the
     * primary, never answered, sends the zone again). If the snapshot
     * fails, the zone goes back to the version the journal has. Nothing
     * else changes the zone meanwhile: its calls run one at a time and we
     * hold its writer lock (a first transfer's zone takes no other calls
     * before this one ends). */
    if (z) {
        zone_version_hold(cur);
        zone_publish(z, nv);
    } else {
        if (!(z = zone_new(nv, e))) goto out;
        zone_set_apex_as_written(z, s->as_written);
        if (zone_set_add(s->set->zones, z, e) < 0) {
            zone_free(z);
            goto out;
        }
        j->new_zone = z;
    }
    j->t_served = uv_hrtime();
    if (jr && journal_snapshot_replace(jr, nv, e) < 0) {
        err_prefix(e, "journal");
        if (s->zone) {
            zone_publish(z, (struct zone_version *)cur); /* our hold becomes the zone's */
        } else {
            struct zone *gone = zone_set_remove(s->set->zones, s->apex);
            if (gone) zone_free(gone);
            j->new_zone = gone ? NULL : z; /* still served: the next transfer replaces it */
        }
        goto out;
    }
    if (s->zone) zone_version_release(cur);
    j->t_journaled = uv_hrtime();
    j->serial = serial;
    rc = 0;
out:
    if (s->zone) zone_unlock(s->zone);
    return rc;
}

/* One call of a full transfer. Anything wrong drops the whole transfer:
 * the primary starts a new one. */
static int stage_call(struct eon_secondary *s, struct sec_job *j, struct err *e)
{
    struct sec_stage *st = &s->stage;
    size_t i = 0;
    if (j->starts) {
        s->stage_dropped = false;
        stage_reset(st);
        st->t_first = uv_hrtime();
        if (!(st->ld = zone_loader_new(s->apex))) {
            s->stage_dropped = !j->ends;
            return err_set(e, "out of memory staging the full transfer of %s", s->name);
        }
        st->active = true;
        i = 1;
    }
    int rc = 0;
    if (!st->active) {
        rc = err_set(e,
                     "the full transfer of %s was dropped (an earlier call was refused): waiting "
                     "for the primary to start a new one",
                     s->name);
        if (j->ends) s->stage_dropped = false;
        return rc;
    }
    if (j->req.np) rc = err_set(e, "a full transfer of %s takes no prerequisites", s->name);
    for (; rc == 0 && i < j->req.nu; i++) {
        if (j->req.u[i].kind != DNS_UPDATE_ADD)
            rc = err_set(e,
                         "a full transfer of %s takes only adds (update %zu is not one); the "
                         "transfer is dropped",
                         s->name, i);
        else
            rc = stage_add(s, &j->req.u[i], e);
    }
    if (rc == 0 && j->ends) rc = stage_finish(s, j, e);
    if (rc < 0 || j->ends) stage_reset(st);
    s->stage_dropped = rc < 0 && !j->ends;
    return rc;
}

/* ------------------------------------------------------------ the queue */

static void pump(struct eon_secondary *s);

static void job_work(uv_work_t *w)
{
    struct sec_job *j = w->data;
    struct eon_secondary *s = j->sec;
    if (j->kind == JOB_STAGE)
        j->rc = stage_call(s, j, &j->err);
    else
        j->rc = dns_update_apply(s->zone, s->apex, j->req.p, j->req.np, j->req.u, j->req.nu,
                                 s->set->journal, &j->serial, &j->err);
}

static void answer(struct sec_job *j)
{
    eon_Secondary_update_Results_B res =
        eon_Secondary_update_Results_init_ptr(rpc_call_results(j->call));
    eon_Secondary_update_Results_set_success(res, j->rc == 0);
    if (j->rc)
        eon_Secondary_update_Results_set_error(res, j->err.msg, (uint32_t)strlen(j->err.msg));
    rpc_call_return(j->call);
    eon_update_req_free(&j->req);
    free(j);
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e6;
}

static void job_done(uv_work_t *w, int status)
{
    struct sec_job *j = w->data;
    struct eon_secondary *s = j->sec;
    struct eon_secondaries *set = s->set;
    if (status != 0) {
        j->rc = -1;
        err_set(&j->err, "update cancelled: capd is stopping");
    }
    s->busy = false;
    if (s->adding) {
        s->adding = false;
        set->adding--;
    }
    if (j->new_zone) s->zone = j->new_zone;
    if (j->rc < 0) {
        s->failures++;
        log_error("secondary %s (--primary %s): update refused: %s", s->name, s->file, j->err.msg);
    } else if (j->kind == JOB_INCREMENTAL || j->ends) {
        s->serial = j->serial;
        s->last_update = (uint64_t)time(NULL);
        if (j->kind == JOB_STAGE) {
            s->full_transfers++;
            char phases[224] = "";
            if (j->t_journaled)
                snprintf(phases, sizeof phases,
                         " in %.0f ms (staged %.0f ms after its first call, laid out in %.0f ms, "
                         "served %.0f ms later, journaled in %.0f ms)",
                         ms_between(j->t_first, j->t_journaled),
                         ms_between(j->t_first, j->t_staged), ms_between(j->t_staged, j->t_built),
                         ms_between(j->t_built, j->t_served),
                         ms_between(j->t_served, j->t_journaled));
            if (j->serial != j->offered)
                log_error("secondary %s: full transfer of %zu records, serial %u%s (the primary's "
                          "%u is not newer than ours: bumped, as eon does)",
                          s->name, j->records, j->serial, phases, j->offered);
            else
                log_error("secondary %s: full transfer of %zu records, serial %u%s", s->name,
                          j->records, j->serial, phases);
        } else {
            s->updates_applied++;
            log_info("secondary %s: update (%zu prerequisites, %zu updates): ok, serial %u",
                     s->name, j->req.np, j->req.nu, j->serial);
        }
    }
    struct eon_ctx *c = set->ctx;
    answer(j);
    c->updates_in_flight--;
    pump(s);
    eon_ctx_release_vat(c);
}

/* Whether a call starts / ends a full transfer (apex SOA removed first /
 * apex SOA added). */
static void classify(struct eon_secondary *s, struct sec_job *j)
{
    const struct dns_update *u = j->req.u;
    j->starts = j->req.nu && u[0].kind == DNS_UPDATE_REMOVE_RRSET && u[0].type == DNS_T_SOA &&
                dns_name_equal(u[0].owner, s->apex);
    for (size_t i = 0; i < j->req.nu && !j->ends; i++)
        j->ends = u[i].kind == DNS_UPDATE_ADD && u[i].type == DNS_T_SOA &&
                  dns_name_equal(u[i].owner, s->apex);
    /* After a dropped transfer its remaining calls are refused too: they
     * are adds that must not reach the served zone one by one. */
    j->kind = j->starts || s->stage.active || s->stage_dropped ? JOB_STAGE : JOB_INCREMENTAL;
}

/* Starts the next queued call if none runs: strictly one at a time, in
 * arrival order. */
static void pump(struct eon_secondary *s)
{
    struct eon_secondaries *set = s->set;
    while (!s->busy && s->head) {
        struct sec_job *j = s->head;
        if (set->stopping) {
            s->head = j->next;
            j->rc = err_set(&j->err, "capd is stopping");
            answer(j);
            continue;
        }
        classify(s, j);
        if (j->kind == JOB_STAGE && j->ends && !s->zone) {
            /* It adds the zone to the served set: not while a re-read
             * reads the set (eon_secondaries_reload_end pumps again). */
            if (set->reloading) return;
            s->adding = true;
            set->adding++;
        }
        s->head = j->next;
        if (!s->head) s->tail = &s->head;
        if (j->kind == JOB_INCREMENTAL && !s->zone) {
            j->rc = err_set(&j->err, "zone %s has not been transferred yet", s->name);
            s->failures++;
            answer(j);
            continue;
        }
        j->work.data = j;
        s->busy = true;
        set->ctx->updates_in_flight++;
        if (uv_queue_work(set->ctx->loop, &j->work, job_work, job_done) != 0) {
            s->busy = false;
            set->ctx->updates_in_flight--;
            if (s->adding) {
                s->adding = false;
                set->adding--;
            }
            j->rc = err_set(&j->err, "cannot queue the update");
            answer(j);
        }
    }
}

static void do_update(struct eon_secondary *s, struct rpc_call *call)
{
    struct sec_job *j = xcalloc(1, sizeof *j);
    j->sec = s;
    j->call = call;
    eon_Secondary_update_Params_R sp = eon_Secondary_update_Params_from_ptr(rpc_call_params(call));
    eon_Domain_update_Params_R dp = {sp.r}; /* the same two lists */
    if (s->set->stopping) {
        j->rc = err_set(&j->err, "capd is stopping");
    } else if (eon_update_decode_max(dp, &j->req, EON_SECONDARY_MAX_ITEMS, &j->err) < 0) {
        j->rc = -1;
        s->failures++;
        log_error("secondary %s (--primary %s): update refused: %s", s->name, s->file, j->err.msg);
    }
    if (j->rc < 0) {
        answer(j);
        return;
    }
    *s->tail = j;
    s->tail = &j->next;
    pump(s);
}

void sec_queue_stop(struct eon_secondary *s)
{
    pump(s); /* with set->stopping: fails what is queued */
}

void sec_queue_kick(struct eon_secondary *s)
{
    pump(s);
}

void sec_stage_free(struct eon_secondary *s)
{
    stage_reset(&s->stage);
}

/* ------------------------------------------------------------ service */

static void service_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct sec_service *svc = (struct sec_service *)self;
    struct eon_secondary *s = svc->sec;
    if (rpc_call_interface(call) != eon_Secondary_ID) {
        rpc_call_unimplemented(call);
        return;
    }
    if (!s) {
        rpc_call_fail(call, "capd is stopping");
        return;
    }
    switch (rpc_call_method(call)) {
    case eon_Secondary_getName_ORDINAL: {
        eon_Secondary_getName_Results_B r =
            eon_Secondary_getName_Results_init_ptr(rpc_call_results(call));
        eon_Secondary_getName_Results_set_name(r, s->name, (uint32_t)strlen(s->name));
        rpc_call_return(call);
        return;
    }
    case eon_Secondary_update_ORDINAL:
        do_update(s, call);
        return;
    default:
        rpc_call_unimplemented(call);
    }
}

static void service_destroy(struct rpc_object *self)
{
    struct sec_service *svc = (struct sec_service *)self;
    if (svc->sec) svc->sec->svc = NULL;
    free(svc);
}

static const struct rpc_object_vtbl service_vt = {service_dispatch, service_destroy};

struct rpc_cap *sec_service_cap(struct eon_secondary *s)
{
    return s->svc ? &s->svc->obj.cap : NULL;
}

int sec_service_make(struct eon_secondary *s, const char *uri, struct err *e)
{
    struct sec_service *svc = xcalloc(1, sizeof *svc);
    rpc_object_init(&svc->obj, &service_vt);
    svc->sec = s;
    if (rpc_object_set_sturdy_uri(&svc->obj, uri) < 0) {
        rpc_cap_unref(&svc->obj.cap);
        return err_set(e, "out of memory");
    }
    s->svc = svc;
    return 0;
}

void sec_service_drop(struct eon_secondary *s)
{
    struct sec_service *svc = s->svc;
    if (!svc) return;
    svc->sec = NULL;
    s->svc = NULL;
    rpc_cap_unref(&svc->obj.cap);
}
