/*
 * cert: Domain.cert and the orders behind it (see cert.h). A job is one
 * certificate directory's work, in these states:
 *
 *   LOADING   on libuv's thread pool: the files read, missing keys made
 *   ORDERING  the acme order runs; challenge records go in and out
 *             through the update engine on the thread pool (txt_*)
 *   SAVING    on the thread pool: the new files written
 *   then the job is finished: every waiting call's callback gets the
 *   result, the renewal unit (cert_renew.c) is updated, the job is freed.
 *
 * A job holds the vat (ctx->updates_in_flight) until it is finished, so
 * capd's stop waits for a cancelled order to remove its records.
 */
#include "eon/cert_int.h"
#include "eon/cert_pending.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "eon/gen/eon.capnp.h"
#include "eon/state.h"
#include "util/log.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

static const uint8_t root_name[1] = {0};

enum job_state { JOB_LOADING, JOB_ORDERING, JOB_SAVING };

struct waiter {
    struct waiter *next;
    struct rpc_call *call;
    struct rpc_cap *cb;
};

struct cert_job {
    struct cert_job *next;
    struct eon_certs *m;
    enum job_state state;
    struct cert_spec spec;
    struct waiter *waiters;
    bool renewal; /* started by the renewal timer */
    uv_work_t work;
    int rc;
    struct err err;
    struct cert_loaded ld;
    struct cert_acct *acct;
    struct acme_order *order;
    char *chain, *key_pem, *account_pem;
};

struct cert_acct {
    struct cert_acct *next;
    struct eon_certs *m;
    char email[CERT_EMAIL_MAX + 1];
    struct acme_client *client;
    bool on_disk; /* account.pem holds this key */
    unsigned refs;
};

/* ------------------------------------------------------------ accounts */

/* One acme client per account while orders use it: one directory fetch,
 * one account lookup, and two first orders for a new EMAIL at once use
 * one new account instead of racing to create two. */
static struct cert_acct *acct_get(struct eon_certs *m, const char *email, EVP_PKEY *key,
                                  bool on_disk, struct err *e)
{
    for (struct cert_acct *a = m->accts; a; a = a->next)
        if (!strcmp(a->email, email)) {
            a->refs++;
            return a;
        }
    struct cert_acct *a = calloc(1, sizeof *a);
    if (!a) {
        err_set(e, "out of memory");
        return NULL;
    }
    snprintf(a->email, sizeof a->email, "%s", email);
    struct acme_client_config cfg = {.directory_url = m->directory_url,
                                     .ca_file = m->ca_file,
                                     .account_key = key,
                                     .email = email};
    if (!(a->client = acme_client_new(m->loop, &cfg, e))) {
        free(a);
        return NULL;
    }
    a->m = m;
    a->on_disk = on_disk;
    a->refs = 1;
    a->next = m->accts;
    m->accts = a;
    return a;
}

static void acct_put(struct cert_acct *a)
{
    if (!a || --a->refs) return;
    struct cert_acct **pp = &a->m->accts;
    while (*pp != a)
        pp = &(*pp)->next;
    *pp = a->next;
    acme_client_free(a->client);
    free(a);
}

/* ------------------------------------------------------------ callbacks */

/* Domain.cert returns once its callback has answered, as eon's does. */
static void waiter_sent(void *arg, bool ok)
{
    (void)ok;
    struct rpc_call *call = arg;
    rpc_call_return(call);
}

/* ------------------------------------------------------------ finishing */

static void names_text(const struct cert_spec *s, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < s->n && used < cap; i++) {
        int l = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", s->names[i]);
        if (l < 0) break;
        used += (size_t)l;
    }
}

static void job_unlink(struct cert_job *j)
{
    struct cert_job **pp = &j->m->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp) *pp = j->next;
}

/* Answers every waiter (chain NULL: failed with why), updates the unit,
 * frees the job and lets the vat go. */
static time_t not_after_of(const char *chain);

static void job_finish(struct cert_job *j, const char *chain, const char *key, time_t renew_at,
                       bool fresh, const char *why)
{
    struct eon_certs *m = j->m;
    struct eon_ctx *ctx = m->ctx;
    char names[1024];
    names_text(&j->spec, names, sizeof names);
    job_unlink(j);
    m->njobs--;
    if (!m->stopping) {
        if (chain)
            cert_unit_update(m, &j->spec, renew_at, not_after_of(chain), fresh ? chain : NULL, key,
                             NULL);
        else if (j->renewal)
            cert_unit_failed(m, j->spec.names[0], why);
    }
    for (struct waiter *w = j->waiters, *next; w; w = next) {
        next = w->next;
        if (m->stopping) {
            rpc_call_fail(w->call, "capd is stopping");
        } else {
            if (chain) cert_unit_add_callback(m, &j->spec, w->cb);
            cert_register_send(w->cb, chain != NULL, chain ? NULL : why, chain, key, false,
                               waiter_sent, w->call);
        }
        rpc_cap_unref(w->cb);
        free(w);
    }
    if (chain)
        log_info("certs/%s: certificate for %s %s", j->spec.names[0], names,
                 fresh ? "issued" : "delivered from disk");
    else
        log_error("certs/%s: certificate for %s: %s", j->spec.names[0], names, why);
    acct_put(j->acct);
    cert_loaded_clear(&j->ld);
    cert_spec_clear(&j->spec);
    free(j->chain);
    if (j->key_pem) OPENSSL_cleanse(j->key_pem, strlen(j->key_pem));
    free(j->key_pem);
    if (j->account_pem) OPENSSL_cleanse(j->account_pem, strlen(j->account_pem));
    free(j->account_pem);
    free(j);
    ctx->updates_in_flight--;
    eon_ctx_release_vat(ctx);
}

/* The leaf's notAfter (0 if unreadable: the statistics then say so). */
static time_t not_after_of(const char *chain)
{
    struct acme_cert_info info;
    struct err e;
    if (acme_cert_info_from_pem(chain, strlen(chain), &info, &e) < 0) return 0;
    time_t t = info.not_after;
    acme_cert_info_clear(&info);
    return t;
}

static time_t renew_at_of(struct eon_certs *m, const char *chain)
{
    struct acme_cert_info info;
    struct err e;
    if (acme_cert_info_from_pem(chain, strlen(chain), &info, &e) < 0) return time(NULL);
    time_t at = acme_cert_renew_at(&info, m->renew_before_s);
    acme_cert_info_clear(&info);
    return at;
}

/* ------------------------------------------------------------ saving */

static void save_work(uv_work_t *w)
{
    struct cert_job *j = w->data;
    j->rc = cert_store_save(j->m, &j->spec, j->chain, j->ld.key_new ? j->key_pem : NULL,
                            j->account_pem, &j->err);
}

static void save_done(uv_work_t *w, int status)
{
    struct cert_job *j = w->data;
    if (status != 0) j->rc = err_set(&j->err, "cancelled");
    if (j->rc < 0)
        /* The certificate is good and the client gets it; only the next
         * start or cert call will not find it on disk. */
        log_error("certs/%s: the new certificate could not be saved: %s", j->spec.names[0],
                  j->err.msg);
    else if (j->acct)
        j->acct->on_disk = true;
    job_finish(j, j->chain, j->key_pem, renew_at_of(j->m, j->chain), true, NULL);
}

/* ------------------------------------------------------------ ordering */

static void order_done(void *arg, const char *cert_pem, const struct acme_error *err)
{
    struct cert_job *j = arg;
    j->order = NULL;
    struct err e;
    if (!cert_pem) {
        job_finish(j, NULL, NULL, 0, false, err ? err->message : "failed");
        return;
    }
    if (!(j->chain = strdup(cert_pem)) || !(j->key_pem = acme_key_to_pem(j->ld.key, &e)) ||
        (!j->acct->on_disk &&
         !(j->account_pem = acme_key_to_pem(acme_client_account_key(j->acct->client), &e)))) {
        job_finish(j, NULL, NULL, 0, false, "out of memory");
        return;
    }
    j->state = JOB_SAVING;
    j->work.data = j;
    if (uv_queue_work(j->m->loop, &j->work, save_work, save_done) != 0) {
        j->rc = err_set(&j->err, "cannot queue the work");
        save_done(&j->work, 0);
    }
}

/* Challenge records: one TXT value added or removed by the update engine
 * on the thread pool, journaled like any Domain.update. An ADD and a
 * REMOVE_RR of that one value, never the RRset: NAME and *.NAME put two
 * values at the same name, and a user's own values there stay. */
struct txt_op {
    uv_work_t work;
    struct zone *zone;
    uint8_t confine[DNS_NAME_MAX];
    struct journal *journal;
    const char *pending_dir;
    struct dns_update u;
    uint8_t owner[DNS_NAME_MAX];
    uint8_t rdata[1 + 255];
    char name[DNS_NAME_TEXT_MAX];
    char value[256];
    acme_hook_done_cb done;
    void *done_arg;
    int rc;
    struct err err;
    bool forget_failed;
    struct err forget_err;
};

static void txt_work(uv_work_t *w)
{
    struct txt_op *op = w->data;
    uint32_t serial;
    bool add = op->u.kind == DNS_UPDATE_ADD;
    /* Recorded before it can be in the journal: a kill -9 from here on
     * leaves a file that the next start's sweep acts on. */
    if (add && cert_pending_record(op->pending_dir, op->name, op->value, &op->err) < 0) {
        op->rc = -1;
        return;
    }
    op->rc =
        dns_update_apply(op->zone, op->confine, NULL, 0, &op->u, 1, op->journal, &serial, &op->err);
    /* Forgotten once its removal is journaled. A failed add keeps its
     * record: the order clears every value it tried to set, and that
     * removal (or the next start's) forgets it. */
    if (op->rc == 0 && !add &&
        cert_pending_forget(op->pending_dir, op->name, op->value, &op->forget_err) < 0)
        op->forget_failed = true;
}

static void txt_done(uv_work_t *w, int status)
{
    struct txt_op *op = w->data;
    if (status != 0) op->rc = err_set(&op->err, "cancelled: capd is stopping");
    log_info("acme: %s TXT at %s: %s", op->u.kind == DNS_UPDATE_ADD ? "added" : "removed", op->name,
             op->rc == 0 ? "ok" : op->err.msg);
    if (op->forget_failed) log_error("acme: %s", op->forget_err.msg);
    op->done(op->done_arg, op->rc, op->rc == 0 ? NULL : op->err.msg);
    free(op);
}

void cert_txt_change(struct eon_certs *m, struct zone *zone, const uint8_t *confine, bool add,
                     const char *name, const char *value, acme_hook_done_cb done, void *done_arg)
{
    struct txt_op *op = calloc(1, sizeof *op);
    size_t vl = strlen(value);
    struct err ne;
    if (!op || vl > 255 || strlen(name) >= sizeof op->name ||
        dns_name_from_text(name, root_name, op->owner, &ne) < 0) {
        free(op);
        done(done_arg, -1, "bad challenge record name or value");
        return;
    }
    op->work.data = op;
    op->zone = zone;
    memcpy(op->confine, confine, dns_name_len(confine));
    op->journal = m->ctx->journal;
    op->pending_dir = m->pending_dir;
    snprintf(op->name, sizeof op->name, "%s", name);
    memcpy(op->value, value, vl + 1);
    op->rdata[0] = (uint8_t)vl;
    memcpy(op->rdata + 1, value, vl);
    op->u = (struct dns_update){.kind = add ? DNS_UPDATE_ADD : DNS_UPDATE_REMOVE_RR,
                                .owner = op->owner,
                                .type = DNS_T_TXT,
                                .ttl = CERT_TXT_TTL,
                                .rdata = op->rdata,
                                .rdlen = (uint16_t)(vl + 1)};
    op->done = done;
    op->done_arg = done_arg;
    if (uv_queue_work(m->loop, &op->work, txt_work, txt_done) != 0) {
        free(op);
        done(done_arg, -1, "cannot queue the update");
    }
}

static void txt_set(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                    void *done_arg)
{
    struct cert_job *j = ctx;
    cert_txt_change(j->m, j->spec.zone, j->spec.confine, true, name, value, done, done_arg);
}

static void txt_clear(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                      void *done_arg)
{
    struct cert_job *j = ctx;
    cert_txt_change(j->m, j->spec.zone, j->spec.confine, false, name, value, done, done_arg);
}

static void start_order(struct cert_job *j)
{
    struct err e;
    struct cert_loaded *ld = &j->ld;
    if (!(j->acct = acct_get(j->m, j->spec.email, ld->account, !ld->account_new, &e))) {
        job_finish(j, NULL, NULL, 0, false, e.msg);
        return;
    }
    struct acme_dns_hooks hooks = {.ctx = j, .set_txt = txt_set, .clear_txt = txt_clear};
    j->state = JOB_ORDERING;
    j->order = acme_order_start(j->acct->client, (const char *const *)j->spec.names, j->spec.n,
                                ld->key, j->spec.email, j->spec.org, &hooks, order_done, j, &e);
    if (!j->order) job_finish(j, NULL, NULL, 0, false, e.msg);
}

/* ------------------------------------------------------------ loading */

static void load_work(uv_work_t *w)
{
    struct cert_job *j = w->data;
    j->rc = cert_store_load(j->m, &j->spec, &j->ld, &j->err);
}

static void load_done(uv_work_t *w, int status)
{
    struct cert_job *j = w->data;
    if (status != 0) j->rc = err_set(&j->err, "cancelled: capd is stopping");
    if (j->rc < 0 || j->m->stopping) {
        job_finish(j, NULL, NULL, 0, false, j->rc < 0 ? j->err.msg : "capd is stopping");
        return;
    }
    if (j->ld.cached) {
        struct err e;
        char *key = acme_key_to_pem(j->ld.key, &e);
        if (!key) {
            job_finish(j, NULL, NULL, 0, false, e.msg);
            return;
        }
        j->key_pem = key;
        job_finish(j, j->ld.chain_pem, key, j->ld.renew_at, false, NULL);
        return;
    }
    start_order(j);
}

/* ------------------------------------------------------------ starting */

static bool names_shared(const struct cert_spec *a, const struct cert_spec *b, bool *same)
{
    size_t common = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t k = 0; k < b->n; k++)
            if (!strcmp(a->names[i], b->names[k])) common++;
    *same = common == a->n && common == b->n && !strcmp(a->names[0], b->names[0]);
    return common > 0 || !strcmp(a->names[0], b->names[0]);
}

/* The running job spec joins, NULL if none; -1 + e when one conflicts. */
static int find_job(struct eon_certs *m, const struct cert_spec *spec, struct cert_job **out,
                    struct err *e)
{
    *out = NULL;
    for (struct cert_job *j = m->jobs; j; j = j->next) {
        bool same;
        if (!names_shared(&j->spec, spec, &same)) continue;
        if (same) {
            *out = j;
            return 0;
        }
        char names[1024];
        names_text(&j->spec, names, sizeof names);
        return err_set(e,
                       "a certificate for %s (certs/%s) is being ordered; ask again once it "
                       "is done",
                       names, j->spec.names[0]);
    }
    return 0;
}

static struct cert_job *job_start(struct eon_certs *m, const struct cert_spec *spec, struct err *e)
{
    if (m->njobs >= CERT_MAX_JOBS) {
        err_set(e, "%d certificate orders are running; ask again once some are done",
                CERT_MAX_JOBS);
        return NULL;
    }
    struct cert_job *j = calloc(1, sizeof *j);
    if (!j || cert_spec_copy(&j->spec, spec) < 0) {
        free(j);
        err_set(e, "out of memory");
        return NULL;
    }
    j->m = m;
    j->state = JOB_LOADING;
    j->work.data = j;
    if (uv_queue_work(m->loop, &j->work, load_work, load_done) != 0) {
        cert_spec_clear(&j->spec);
        free(j);
        err_set(e, "cannot queue the work");
        return NULL;
    }
    m->ctx->updates_in_flight++;
    m->njobs++;
    j->next = m->jobs;
    m->jobs = j;
    return j;
}

int cert_renew_start(struct eon_certs *m, const struct cert_spec *spec, struct err *e)
{
    struct cert_job *j;
    if (m->stopping) return err_set(e, "capd is stopping");
    if (find_job(m, spec, &j, e) < 0) return -1;
    if (j) return 0;
    struct cert_spec s = *spec;
    if (!(s.zone = cert_zone_of(m, spec->confine)))
        return err_set(e, "%s is no longer served by this capd", spec->domain);
    log_info("certs/%s: renewing", spec->names[0]);
    if (!(j = job_start(m, &s, e))) return -1;
    j->renewal = true;
    return 0;
}

/* ------------------------------------------------------------ Domain.cert */

void eon_cert_call(struct eon_certs *m, const struct eon_cert_scope *sc, struct rpc_call *call)
{
    struct cert_spec s;
    struct rpc_cap *cb = NULL;
    struct err e;
    struct cert_job *j = NULL;
    if (!m) {
        rpc_call_fail(call, "certificates are off in this capd");
        return;
    }
    if (m->stopping) {
        rpc_call_fail(call, "capd is stopping");
        return;
    }
    if (cert_params_decode(m, sc, call, &s, &cb, &e) < 0) {
        log_info("Domain(%s).cert: refused: %s", sc->name, e.msg);
        rpc_call_fail(call, "%s", e.msg);
        return;
    }
    char names[1024];
    names_text(&s, names, sizeof names);
    struct waiter *w = calloc(1, sizeof *w);
    if (!w || find_job(m, &s, &j, &e) < 0 || (!j && !(j = job_start(m, &s, &e)))) {
        if (!w) err_set(&e, "out of memory");
        log_info("Domain(%s).cert(%s, [%s]): refused: %s", sc->name, s.email, names, e.msg);
        rpc_call_fail(call, "%s", e.msg);
        free(w);
        rpc_cap_unref(cb);
        cert_spec_clear(&s);
        return;
    }
    log_info("Domain(%s).cert(%s, [%s]): %s", sc->name, s.email, names,
             j->waiters || j->renewal ? "joins the running order" : "started");
    w->call = call;
    w->cb = cb;
    w->next = j->waiters;
    j->waiters = w;
    cert_spec_clear(&s);
}

/* ------------------------------------------------------------ lifetime */

void eon_certs_stop(struct eon_certs *m)
{
    if (!m || m->stopping) return;
    m->stopping = true;
    for (struct cert_job *j = m->jobs; j; j = j->next)
        if (j->state == JOB_ORDERING && j->order) acme_order_cancel(j->order);
    cert_units_stop(m);
}
