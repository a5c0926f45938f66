/*
 * cert_renew: one renewal unit per certificate directory (STATE/certs/FIRST):
 * a timer set to the certificate's renewal time and the callbacks that
 * received it. Units come from Domain.cert (issued or from disk) and, at
 * start, from the ceon-renew files on disk. A unit lives as long as capd:
 * every certificate capd knows how to renew is renewed, listened to or
 * not, so a client that comes back finds a fresh one on disk.
 *
 * Callbacks per unit are bounded (CERT_UNIT_MAX_CALLBACKS, the oldest is
 * dropped): the rpc layer tells no one that a connection went away, so a
 * callback is only known dead when a register call to it fails.
 */
#include "eon/cert_int.h"
#include "eon/gen/eon.capnp.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>

enum unit_state { UNIT_WAITING, UNIT_CLOSING };

struct cert_unit {
    struct cert_unit *next;
    struct eon_certs *m;
    enum unit_state state;
    struct cert_spec spec;
    time_t renew_at;  /* of the certificate on disk */
    time_t not_after; /* its expiry, for the statistics */
    time_t due;       /* the timer's aim: renew_at, or a retry after a failure */
    unsigned failures;
    uv_timer_t timer;
    struct rpc_cap *cbs[CERT_UNIT_MAX_CALLBACKS];
    size_t ncbs;
    unsigned pushes; /* register calls in flight: the unit stays until they answer */
};

static struct cert_unit *find(struct eon_certs *m, const char *first)
{
    for (struct cert_unit *u = m->units; u; u = u->next)
        if (!strcmp(u->spec.names[0], first)) return u;
    return NULL;
}

static void unit_free_if_done(struct cert_unit *u)
{
    if (u->state != UNIT_CLOSING || u->pushes || u->timer.data) return;
    cert_spec_clear(&u->spec);
    free(u);
}

static void timer_closed(uv_handle_t *h)
{
    struct cert_unit *u = h->data;
    u->timer.data = NULL;
    unit_free_if_done(u);
}

static void on_timer(uv_timer_t *t);

static void arm(struct cert_unit *u)
{
    time_t now = time(NULL);
    long s = u->due > now ? (long)(u->due - now) : 0;
    if (s > CERT_TIMER_MAX_S) s = CERT_TIMER_MAX_S;
    uv_timer_start(&u->timer, on_timer, (uint64_t)s * 1000, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct cert_unit *u = t->data;
    if (u->m->stopping) return;
    if (time(NULL) < u->due) {
        arm(u);
        return;
    }
    struct err e;
    if (cert_renew_start(u->m, &u->spec, &e) < 0) cert_unit_failed(u->m, u->spec.names[0], e.msg);
}

static void drop_callback(struct cert_unit *u, size_t i)
{
    rpc_cap_unref(u->cbs[i]);
    memmove(&u->cbs[i], &u->cbs[i + 1], (u->ncbs - i - 1) * sizeof u->cbs[0]);
    u->ncbs--;
}

struct push {
    struct cert_unit *u;
    struct rpc_cap *cb; /* identity only: the unit holds the reference */
};

static void pushed(void *arg, bool ok)
{
    struct push *p = arg;
    struct cert_unit *u = p->u;
    u->pushes--;
    if (!ok && u->state == UNIT_WAITING)
        for (size_t i = 0; i < u->ncbs; i++)
            if (u->cbs[i] == p->cb) {
                log_info("certs/%s: a callback is gone (its register call failed): dropped",
                         u->spec.names[0]);
                drop_callback(u, i);
                break;
            }
    free(p);
    unit_free_if_done(u);
}

void cert_unit_update(struct eon_certs *m, const struct cert_spec *spec, time_t renew_at,
                      time_t not_after, const char *chain, const char *key, struct rpc_cap *except)
{
    struct cert_unit *u = find(m, spec->names[0]);
    struct cert_spec copy;
    if (cert_spec_copy(&copy, spec) < 0) {
        log_error("certs/%s: out of memory: renewal not armed", spec->names[0]);
        return;
    }
    if (!u) {
        if (!(u = calloc(1, sizeof *u))) {
            cert_spec_clear(&copy);
            log_error("certs/%s: out of memory: renewal not armed", spec->names[0]);
            return;
        }
        u->m = m;
        uv_timer_init(m->loop, &u->timer);
        u->timer.data = u;
        u->next = m->units;
        m->units = u;
    } else {
        cert_spec_clear(&u->spec);
    }
    u->spec = copy;
    u->spec.zone = NULL; /* looked up again when renewing */
    u->renew_at = u->due = renew_at;
    u->not_after = not_after;
    u->failures = 0;
    arm(u);
    char when[32];
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&renew_at, &tm));
    log_info("certs/%s: renewal at %s", spec->names[0], when);
    if (!chain) return;
    for (size_t i = 0; i < u->ncbs; i++) {
        if (u->cbs[i] == except) continue;
        struct push *p = malloc(sizeof *p);
        if (!p) continue;
        p->u = u;
        p->cb = u->cbs[i];
        u->pushes++;
        log_info("certs/%s: pushing the renewed certificate to a callback", spec->names[0]);
        cert_register_send(u->cbs[i], true, NULL, chain, key, true, pushed, p);
    }
}

void cert_unit_add_callback(struct eon_certs *m, const struct cert_spec *spec, struct rpc_cap *cb)
{
    struct cert_unit *u = find(m, spec->names[0]);
    if (!u) return;
    for (size_t i = 0; i < u->ncbs; i++)
        if (u->cbs[i] == cb) return;
    if (u->ncbs == CERT_UNIT_MAX_CALLBACKS) {
        log_info("certs/%s: %d callbacks: the oldest is dropped", spec->names[0],
                 CERT_UNIT_MAX_CALLBACKS);
        drop_callback(u, 0);
    }
    u->cbs[u->ncbs++] = rpc_cap_ref(cb);
}

void cert_unit_failed(struct eon_certs *m, const char *first, const char *why)
{
    struct cert_unit *u = find(m, first);
    if (!u) return;
    long backoff = CERT_BACKOFF_MIN_S;
    for (unsigned i = 0; i < u->failures && backoff < CERT_BACKOFF_MAX_S; i++)
        backoff *= 2;
    if (backoff > CERT_BACKOFF_MAX_S) backoff = CERT_BACKOFF_MAX_S;
    u->failures++;
    u->due = time(NULL) + backoff;
    log_error("certs/%s: renewal failed (%s); trying again in %ld s", first, why, backoff);
    arm(u);
}

void cert_units_stop(struct eon_certs *m)
{
    while (m->units) {
        struct cert_unit *u = m->units;
        m->units = u->next;
        u->state = UNIT_CLOSING;
        while (u->ncbs)
            drop_callback(u, u->ncbs - 1);
        uv_close((uv_handle_t *)&u->timer, timer_closed);
    }
}

/* ------------------------------------------------------------ register */

struct sent {
    cert_sent_fn done;
    void *arg;
};

static void on_sent(void *ud, struct rpc_response *r)
{
    struct sent *s = ud;
    bool ok = r->error == NULL;
    if (!ok) log_info("CertCallback.register failed: %s", r->error);
    rpc_response_free(r);
    if (s->done) s->done(s->arg, ok);
    free(s);
}

void cert_register_send(struct rpc_cap *cb, bool success, const char *error, const char *chain,
                        const char *key, bool renewed, cert_sent_fn done, void *arg)
{
    struct sent *s = malloc(sizeof *s);
    if (!s) {
        if (done) done(arg, false);
        return;
    }
    s->done = done;
    s->arg = arg;
    struct rpc_req *req = rpc_req_new(cb, eon_CertCallback_ID, eon_CertCallback_register_ORDINAL);
    eon_CertCallback_register_Params_B p =
        eon_CertCallback_register_Params_init_ptr(rpc_req_params(req));
    eon_CertCallback_register_Params_set_success(p, success);
    if (error) eon_CertCallback_register_Params_set_error(p, error, (uint32_t)strlen(error));
    if (chain) eon_CertCallback_register_Params_set_cert(p, chain, (uint32_t)strlen(chain));
    if (key) eon_CertCallback_register_Params_set_key(p, key, (uint32_t)strlen(key));
    eon_CertCallback_register_Params_set_renewed(p, renewed);
    rpc_promise_unref(rpc_req_send(req, on_sent, s));
}

void eon_certs_render(struct eon_certs *m, struct metrics_text *t)
{
    metrics_family(t, "capd_acme_orders", "gauge", "ACME orders running");
    metrics_sample(t, "capd_acme_orders", NULL, m->njobs);
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"capd_certificate_expiry_timestamp_seconds", "the certificate's notAfter, Unix time"},
        {"capd_certificate_renewal_timestamp_seconds",
         "when the certificate is due for renewal (notAfter - renew-before, not before two "
         "thirds of its lifetime), Unix time"},
        {"capd_certificate_next_attempt_timestamp_seconds",
         "when capd tries next: the renewal time, or a retry after a failure, Unix time"},
        {"capd_certificate_renewal_failures",
         "failed renewal attempts since the last success (retried with backoff)"},
        {"capd_certificate_callbacks", "callbacks that get the renewed certificate"},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        metrics_family(t, fam[f].name, "gauge", fam[f].help);
        for (const struct cert_unit *u = m->units; u; u = u->next) {
            if (u->state != UNIT_WAITING) continue;
            const char *l[] = {"name", u->spec.names[0], NULL};
            uint64_t v = f == 0   ? (uint64_t)u->not_after
                         : f == 1 ? (uint64_t)u->renew_at
                         : f == 2 ? (uint64_t)u->due
                         : f == 3 ? u->failures
                                  : u->ncbs;
            metrics_sample(t, fam[f].name, l, v);
        }
    }
}
