#include "eon/domain.h"
#include "eon/cert.h"
#include "eon/convert.h"
#include "eon/state.h"
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "eon/gen/eon.capnp.h"
#include "eon/saved.h"
#include "eon/secondary.h"
#include "rpc/sturdy.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

static const uint8_t root_name[1] = {0};

struct eon_domain {
    struct rpc_object obj; /* first */
    struct eon_ctx *ctx;
    struct zone *zone;
    char name[DNS_NAME_TEXT_MAX];    /* presentation, no trailing dot, case as given */
    char primary[DNS_NAME_TEXT_MAX]; /* the zone apex, same form */
    uint8_t wire[DNS_NAME_MAX];      /* lowercase */
};

/* The served zone containing lname. The loop thread is an RCU reader kept
 * offline (net/tcp.h); go online just for the lookup. A zone that a
 * reload removes stays allocated until capd exits (eon/reload.h), so the
 * pointer stays valid; served() tells whether it is still served. */
static struct zone *find_zone(struct eon_ctx *c, const uint8_t *lname)
{
    rcu_thread_online();
    struct zone *z = zone_set_find(zone_set_current(c->zones), lname);
    rcu_thread_offline();
    return z;
}

/* Whether d's zone is still in the served set (a reload may have removed
 * it, and may bring the same zone back). */
static bool served(const struct eon_domain *d)
{
    if (!d->zone) return false;
    rcu_thread_online();
    bool in = zone_set_get(zone_set_current(d->ctx->zones), d->zone->apex) == d->zone;
    rcu_thread_offline();
    return in;
}

/* "example.org" from a wire name. */
static void name_text(const uint8_t *wire, char *out, size_t cap)
{
    if (dns_name_to_text(wire, out, cap) < 0 && cap) out[0] = 0;
    size_t l = strlen(out);
    if (l > 1 && out[l - 1] == '.') out[l - 1] = 0;
}

int eon_subdomain_check(const char *sub, const char *parent, struct err *e)
{
    struct err le;
    if (eon_name_labels_check(sub, &le) < 0)
        return err_set(e, "invalid subdomain '%.300s': %s", sub, le.msg);
    /* Wire length of SUB.PARENT: each label adds one length byte, so it is
     * strlen(sub) + 1 + wire(parent); checked by parsing. */
    char full[2 * DNS_NAME_TEXT_MAX];
    snprintf(full, sizeof full, "%s.%s", sub, parent);
    uint8_t w[DNS_NAME_MAX];
    struct err ne;
    if (strlen(full) > 253 || dns_name_from_text(full, root_name, w, &ne) < 0)
        return err_set(e,
                       "invalid subdomain '%.100s...': with %.200s it is longer than a DNS name "
                       "may be (255 bytes)",
                       sub, parent);
    return 0;
}

/* ------------------------------------------------------------ update */

struct upd_job {
    uv_work_t work;
    struct eon_domain *d; /* holds a reference */
    struct rpc_call *call;
    struct eon_update_req req; /* copied out: the message is gone when the work runs */
    int rc;
    uint32_t serial;
    struct err err;
    uint64_t started_us; /* for the latency histogram (eon/stats.h) */
};

static void job_free(struct upd_job *j)
{
    eon_update_req_free(&j->req);
    free(j);
}

/* On a libuv pool thread: the engine blocks on the zone's writer lock,
 * the journal's fsync and an RCU grace period; the loop keeps serving. */
static void update_work(uv_work_t *w)
{
    struct upd_job *j = w->data;
    j->rc = dns_update_apply(j->d->zone, j->d->wire, j->req.p, j->req.np, j->req.u, j->req.nu,
                             j->d->ctx->journal, &j->serial, &j->err);
}

static void update_done(uv_work_t *w, int status)
{
    struct upd_job *j = w->data;
    struct eon_domain *d = j->d;
    if (status != 0) {
        j->rc = -1;
        err_set(&j->err, "update cancelled: capd is stopping");
    }
    d->ctx->updates_in_flight--;
    eon_stats_update_done(d->ctx, j->rc == 0, j->started_us);
    eon_Domain_update_Results_B res = eon_Domain_update_Results_init_ptr(rpc_call_results(j->call));
    eon_Domain_update_Results_set_success(res, j->rc == 0);
    if (j->rc == 0) {
        log_info("Domain(%s).update(%zu prerequisites, %zu updates): ok, serial %u", d->name,
                 j->req.np, j->req.nu, j->serial);
    } else {
        eon_Domain_update_Results_set_error(res, j->err.msg, (uint32_t)strlen(j->err.msg));
        log_info("Domain(%s).update(%zu prerequisites, %zu updates): failed: %s", d->name,
                 j->req.np, j->req.nu, j->err.msg);
    }
    rpc_call_return(j->call);
    struct eon_ctx *c = d->ctx;
    rpc_cap_unref(&d->obj.cap);
    job_free(j);
    eon_ctx_release_vat(c);
}

void eon_ctx_release_vat(struct eon_ctx *c)
{
    if (c->stopping && c->updates_in_flight == 0 && c->vat) {
        rpc_vat_free(c->vat);
        c->vat = NULL;
    }
}

/* An owner inside this capability's subtree that capd serves from another
 * (deeper) zone would land in this zone's data below the cut and never be
 * served: refuse it, as delegate does. Owners outside the subtree are left
 * to the update engine, which names them. */
static int check_owner_zone(struct eon_domain *d, const uint8_t *owner, struct err *e)
{
    uint8_t lower[DNS_NAME_MAX];
    dns_name_lower(lower, owner);
    if (!dns_name_is_subdomain(lower, d->zone->apex)) return 0;
    struct zone *z = find_zone(d->ctx, lower);
    if (!z || z == d->zone) return 0;
    char name[DNS_NAME_TEXT_MAX], other[DNS_NAME_TEXT_MAX];
    name_text(owner, name, sizeof name);
    name_text(z->apex, other, sizeof other);
    return err_set(e,
                   "%s is in the zone %s, which this capd serves apart from %s (use %s's own "
                   "capability)",
                   name, other, d->name, other);
}

static int check_owner_zones(struct eon_domain *d, const struct eon_update_req *r, struct err *e)
{
    for (size_t i = 0; i < r->np; i++)
        if (check_owner_zone(d, r->p[i].owner, e) < 0) return -1;
    for (size_t i = 0; i < r->nu; i++)
        if (check_owner_zone(d, r->u[i].owner, e) < 0) return -1;
    return 0;
}

static void do_update(struct eon_domain *d, struct rpc_call *call)
{
    uint64_t started_us = uv_hrtime() / 1000;
    struct upd_job *j = calloc(1, sizeof *j);
    struct err e;
    if (!j) {
        eon_stats_update_done(d->ctx, false, started_us);
        rpc_call_fail(call, "out of memory");
        return;
    }
    j->call = call;
    j->started_us = started_us;
    if (d->ctx->stopping) {
        free(j);
        eon_stats_update_done(d->ctx, false, started_us);
        rpc_call_fail(call, "capd is stopping");
        return;
    }
    eon_Domain_update_Params_R params = eon_Domain_update_Params_from_ptr(rpc_call_params(call));
    bool in = served(d);
    if (!in || eon_update_decode(params, &j->req, &e) < 0 ||
        check_owner_zones(d, &j->req, &e) < 0) {
        if (!in) err_set(&e, "%s is no longer served by this capd", d->name);
        log_info("Domain(%s).update: failed: %s", d->name, e.msg);
        eon_stats_update_done(d->ctx, false, started_us);
        eon_Domain_update_Results_B res =
            eon_Domain_update_Results_init_ptr(rpc_call_results(call));
        eon_Domain_update_Results_set_success(res, false);
        eon_Domain_update_Results_set_error(res, e.msg, (uint32_t)strlen(e.msg));
        rpc_call_return(call);
        job_free(j);
        return;
    }
    j->d = d;
    rpc_cap_ref(&d->obj.cap);
    j->work.data = j;
    d->ctx->updates_in_flight++;
    if (uv_queue_work(d->ctx->loop, &j->work, update_work, update_done) != 0) {
        d->ctx->updates_in_flight--;
        rpc_cap_unref(&d->obj.cap);
        job_free(j);
        eon_stats_update_done(d->ctx, false, started_us);
        rpc_call_fail(call, "cannot queue the update");
    }
}

/* ------------------------------------------------------------ delegate */

static int save_domain(struct eon_ctx *c, const uint8_t *id, size_t idlen, const char *name,
                       const char *primary, struct err *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (eon_saved_domain_encode(name, primary, &buf, &len, e) < 0) return -1;
    int rc = svc_store_put(c->store, id, idlen, buf, len, e);
    free(buf);
    struct err de;
    /* put can fail after the rename (fsync of the directory): no entry
     * may outlive a refused delegate. */
    if (rc < 0 && svc_store_del(c->store, id, idlen, &de) < 0)
        log_error("delegate: cannot remove the unsaved entry: %s", de.msg);
    return rc;
}

static void do_delegate(struct eon_domain *d, struct rpc_call *call)
{
    eon_Domain_delegate_Params_R params =
        eon_Domain_delegate_Params_from_ptr(rpc_call_params(call));
    capnp_text t = eon_Domain_delegate_Params_get_subdomain(params);
    struct err e;
    char sub[DNS_NAME_TEXT_MAX];
    snprintf(sub, sizeof sub, "%.*s", (int)(t.len < 1000 ? t.len : 1000), t.str);
    size_t l = strlen(sub);
    if (l > 1 && sub[l - 1] == '.') sub[l - 1] = 0; /* "test." is "test" */
    if (strlen(t.str) != t.len) err_set(&e, "invalid subdomain: contains a NUL byte");
    if (strlen(t.str) != t.len || eon_subdomain_check(sub, d->name, &e) < 0) {
        log_info("Domain(%s).delegate: refused: %s", d->name, e.msg);
        rpc_call_fail(call, "%s", e.msg);
        return;
    }
    char full[2 * DNS_NAME_TEXT_MAX];
    snprintf(full, sizeof full, "%s.%s", sub, d->name);
    /* The service first (it checks that capd serves FULL in this zone),
     * then the saved entry: a refusal leaves nothing behind in the store,
     * and saving is the last step that can fail. */
    uint8_t id[32];
    struct rpc_cap *cap = NULL;
    if (sturdy_random_id(id, &e) < 0 ||
        !(cap = eon_domain_new(d->ctx, full, d->primary, id, sizeof id, &e)) ||
        save_domain(d->ctx, id, sizeof id, full, d->primary, &e) < 0) {
        if (cap) rpc_cap_unref(cap);
        log_error("Domain(%s).delegate(%s): %s", d->name, sub, e.msg);
        rpc_call_fail(call, "cannot delegate %s: %s", full, e.msg);
        return;
    }
    eon_Domain_delegate_Results_B res =
        eon_Domain_delegate_Results_init_ptr(rpc_call_results(call));
    eon_Domain_delegate_Results_set_domain(res, rpc_call_add_cap(call, cap));
    rpc_cap_unref(cap);
    log_info("Domain(%s).delegate(%s): new capability for %s", d->name, sub, full);
    rpc_call_return(call);
}

/* ------------------------------------------------------------ dispatch */

static void domain_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct eon_domain *d = (struct eon_domain *)self;
    if (rpc_call_interface(call) != eon_Domain_ID) {
        rpc_call_unimplemented(call);
        return;
    }
    switch (rpc_call_method(call)) {
    case eon_Domain_getName_ORDINAL: {
        eon_Domain_getName_Results_B r =
            eon_Domain_getName_Results_init_ptr(rpc_call_results(call));
        eon_Domain_getName_Results_set_name(r, d->name, (uint32_t)strlen(d->name));
        log_info("Domain(%s).getName", d->name);
        rpc_call_return(call);
        return;
    }
    case eon_Domain_delegate_ORDINAL:
        if (!served(d)) {
            rpc_call_fail(call, "%s is no longer served by this capd", d->name);
            return;
        }
        do_delegate(d, call);
        return;
    case eon_Domain_update_ORDINAL:
        do_update(d, call);
        return;
    case eon_Domain_cert_ORDINAL: {
        if (!served(d)) {
            rpc_call_fail(call, "%s is no longer served by this capd", d->name);
            return;
        }
        struct eon_cert_scope sc = {.zone = d->zone, .confine = d->wire, .name = d->name};
        eon_cert_call(d->ctx->certs, &sc, call);
        return;
    }
    default:
        rpc_call_unimplemented(call);
    }
}

static void domain_destroy(struct rpc_object *self)
{
    free(self);
}

static const struct rpc_object_vtbl domain_vt = {domain_dispatch, domain_destroy};

struct rpc_cap *eon_domain_new(struct eon_ctx *c, const char *name, const char *primary,
                               const uint8_t *id, size_t id_len, struct err *e)
{
    uint8_t wire[DNS_NAME_MAX], pwire[DNS_NAME_MAX];
    uint8_t name_as_given[DNS_NAME_MAX], primary_as_given[DNS_NAME_MAX];
    struct err ne;
    if (dns_name_from_text(name, root_name, name_as_given, &ne) < 0 ||
        dns_name_from_text(primary, root_name, primary_as_given, &ne) < 0) {
        err_set(e, "invalid saved name '%s' / '%s': %s", name, primary, ne.msg);
        return NULL;
    }
    dns_name_lower(wire, name_as_given);
    dns_name_lower(pwire, primary_as_given);
    struct zone *z = find_zone(c, wire);
    if (z && !dns_name_equal(z->apex, pwire) && dns_name_is_subdomain(z->apex, pwire)) {
        /* A zone cut between: capd answers those names from the other
         * zone, which updates through primary's zone never change; a
         * capability from primary's side must not reach it either. */
        char apex[DNS_NAME_TEXT_MAX];
        name_text(z->apex, apex, sizeof apex);
        err_set(e,
                "%s is in the zone %s, which this capd serves apart from %s; a capability "
                "for %s does not reach into it (use %s's own capability, "
                "caps/domain/%s.cap in capd's state dir)",
                name, apex, primary, primary, apex, apex);
        return NULL;
    }
    if (!z || !dns_name_equal(z->apex, pwire)) {
        err_set(e, "%s is not in a zone this capd serves as %s", name, primary);
        return NULL;
    }
    struct eon_domain *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(e, "out of memory");
        return NULL;
    }
    rpc_object_init(&d->obj, &domain_vt);
    d->ctx = c;
    d->zone = z;
    memcpy(d->wire, wire, dns_name_len(wire));
    /* Case kept, as the original keeps it: getName answers with it, and a
     * delegation saves it (and derives nothing from a lowercased copy). */
    name_text(name_as_given, d->name, sizeof d->name);
    name_text(primary_as_given, d->primary, sizeof d->primary);
    if (id) {
        char *uri = rpc_vat_sturdy_uri(c->vat, id, id_len);
        if (!uri || rpc_object_set_sturdy_uri(&d->obj, uri) < 0) {
            free(uri);
            rpc_cap_unref(&d->obj.cap);
            err_set(e, "out of memory");
            return NULL;
        }
        free(uri);
    }
    return &d->obj.cap;
}

/* ------------------------------------------------------------ restorer */

/* The zone of a name saved by an older eon, which saved no zone: the
 * served zone the name is in, spelled as capd names it. */
static int primary_of(struct eon_ctx *c, const char *name, char *out, struct err *e)
{
    uint8_t wire[DNS_NAME_MAX];
    struct err ne;
    if (dns_name_from_text(name, root_name, wire, &ne) < 0)
        return err_set(e, "invalid saved name '%s': %s", name, ne.msg);
    dns_name_lower(wire, wire);
    struct zone *z = find_zone(c, wire);
    if (!z) return err_set(e, "%s is not in a zone this capd serves", name);
    name_text(z->apex_as_written, out, DNS_NAME_TEXT_MAX);
    return 0;
}

struct rpc_cap *eon_restore(void *ctx, const uint8_t *id, size_t len)
{
    struct eon_ctx *c = ctx;
    uint8_t *data = NULL;
    size_t dlen = 0;
    struct err e;
    int r = svc_store_get(c->store, id, len, &data, &dlen, &e);
    if (r <= 0) {
        if (r < 0) log_error("restore: %s", e.msg);
        return NULL;
    }
    struct rpc_cap *cap = NULL;
    struct eon_saved saved;
    if (eon_saved_decode(data, dlen, &saved, &e) == 0) {
        if (saved.kind == EON_SAVED_SECONDARY)
            cap = eon_secondary_restore(c->secondaries, saved.name, id, len, &e);
        else if (saved.primary[0] || primary_of(c, saved.name, saved.primary, &e) == 0)
            cap = eon_domain_new(c, saved.name, saved.primary, id, len, &e);
    }
    if (!cap) log_error("restore: %s", e.msg);
    free(data);
    return cap;
}
