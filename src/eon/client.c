#include "eon/client.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "eon/state.h"
#include "rpc/rpc.h"
#include "rpc/sturdy.h"
#include "util/atomicfile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Long enough for a durable update on a slow disk; a capc that hangs
 * forever on a stuck server is worse than a clear timeout. */
#define CALL_TIMEOUT_MS 60000

struct session {
    uv_loop_t loop;
    struct rpc_vat *vat;
    struct rpc_cap *cap;
};

static int session_open(struct session *s, const char *cap_file, struct err *e)
{
    memset(s, 0, sizeof *s);
    struct sturdy_ref ref;
    if (sturdy_load_file(cap_file, &ref, e) < 0) return -1;
    if (uv_loop_init(&s->loop) != 0) return err_set(e, "cannot create an event loop");
    struct rpc_vat_config cfg = {.secret_key_file = NULL};
    s->vat = rpc_vat_new(&s->loop, &cfg, e);
    if (!s->vat) {
        uv_loop_close(&s->loop);
        return -1;
    }
    s->cap = rpc_vat_restore(s->vat, &ref);
    return 0;
}

static void session_close(struct session *s)
{
    if (s->cap) rpc_cap_unref(s->cap);
    if (s->vat) rpc_vat_free(s->vat);
    /* Let libuv finish closing the handles, then release the loop. */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
}

static int copy_text(capnp_text t, char *out, size_t cap, struct err *e)
{
    if (t.len + 1 > cap) return err_set(e, "name from the server is too long");
    memcpy(out, t.str, t.len);
    out[t.len] = 0;
    return 0;
}

static int get_name(struct session *s, char *out, size_t cap, struct err *e)
{
    struct rpc_req *req = rpc_req_new(s->cap, eon_Domain_ID, eon_Domain_getName_ORDINAL);
    eon_Domain_getName_Params_init_ptr(rpc_req_params(req));
    struct err ce;
    int exception_type;
    struct rpc_response *r = rpc_call_wait_typed(req, CALL_TIMEOUT_MS, &exception_type, &ce);
    if (!r) {
        /* A Primary capability: its getName has another interface ID. By
         * the exception's type: its text differs between capd and eon. */
        if (exception_type != RPC_EXCEPTION_UNIMPLEMENTED) return err_set(e, "%s", ce.msg);
        req = rpc_req_new(s->cap, eon_Primary_ID, eon_Primary_getName_ORDINAL);
        eon_Primary_getName_Params_init_ptr(rpc_req_params(req));
        r = rpc_call_wait(req, CALL_TIMEOUT_MS, e);
        if (!r) return -1;
        int rc = copy_text(
            eon_Primary_getName_Results_get_name(eon_Primary_getName_Results_from_ptr(r->content)),
            out, cap, e);
        rpc_response_free(r);
        return rc;
    }
    int rc = copy_text(
        eon_Domain_getName_Results_get_name(eon_Domain_getName_Results_from_ptr(r->content)), out,
        cap, e);
    rpc_response_free(r);
    return rc;
}

int eon_client_get_name(const char *cap_file, char *out, size_t cap, struct err *e)
{
    struct session s;
    if (session_open(&s, cap_file, e) < 0) return -1;
    int rc = get_name(&s, out, cap, e);
    session_close(&s);
    return rc;
}

int eon_client_delegate(const char *cap_file, const char *subdomain, const char *cap_dir,
                        char *path_out, size_t path_cap, struct err *e)
{
    struct session s;
    if (session_open(&s, cap_file, e) < 0) return -1;
    int rc = -1;
    char name[1024];
    char *uri = NULL;
    struct rpc_cap *dom = NULL;
    struct rpc_promise *p = NULL;
    if (get_name(&s, name, sizeof name, e) < 0) goto out;
    /* The server's name becomes part of a local file name: check it. */
    if (!eon_name_file_safe(name)) {
        err_set(e, "the server's domain name is not usable as a file name");
        goto out;
    }
    struct rpc_req *req = rpc_req_new(s.cap, eon_Domain_ID, eon_Domain_delegate_ORDINAL);
    eon_Domain_delegate_Params_B params = eon_Domain_delegate_Params_init_ptr(rpc_req_params(req));
    eon_Domain_delegate_Params_set_subdomain(params, subdomain, (uint32_t)strlen(subdomain));
    p = rpc_req_send(req, NULL, NULL);
    /* Pipelined: save the new capability without waiting for delegate. */
    static const uint16_t domain_field[1] = {0};
    dom = rpc_promise_cap(p, domain_field, 1);
    struct err se;
    uri = rpc_save_wait(dom, CALL_TIMEOUT_MS, &se);
    /* delegate's own error (e.g. an invalid subdomain) explains a failed
     * save better than the save's. */
    struct rpc_response *r = rpc_promise_wait(p, CALL_TIMEOUT_MS, e);
    if (!r) goto out;
    rpc_response_free(r);
    if (!uri) {
        err_set(e, "%s", se.msg);
        goto out;
    }
    int n;
    if (!cap_dir || !*cap_dir)
        n = snprintf(path_out, path_cap, "%s.%s.cap", subdomain, name);
    else
        n = snprintf(path_out, path_cap, "%s%s%s.%s.cap", cap_dir,
                     cap_dir[strlen(cap_dir) - 1] == '/' ? "" : "/", subdomain, name);
    if (n < 0 || (size_t)n >= path_cap) {
        err_set(e, "capability file path too long");
        goto out;
    }
    if (atomic_write_file(path_out, uri, strlen(uri), 0600, e) < 0) goto out;
    rc = 0;
out:
    free(uri);
    if (dom) rpc_cap_unref(dom);
    if (p) rpc_promise_unref(p);
    session_close(&s);
    return rc;
}

int eon_client_update(const char *cap_file, const struct eon_rec *prereqs, size_t np,
                      const struct eon_rec *updates, size_t nu, struct err *e)
{
    struct session s;
    if (session_open(&s, cap_file, e) < 0) return -1;
    struct rpc_req *req = rpc_req_new(s.cap, eon_Domain_ID, eon_Domain_update_ORDINAL);
    eon_update_encode(eon_Domain_update_Params_init_ptr(rpc_req_params(req)), prereqs, np, updates,
                      nu);
    int rc = -1;
    struct rpc_response *r = rpc_call_wait(req, CALL_TIMEOUT_MS, e);
    if (r) {
        eon_Domain_update_Results_R res = eon_Domain_update_Results_from_ptr(r->content);
        if (eon_Domain_update_Results_get_success(res)) {
            rc = 0;
        } else {
            capnp_text t = eon_Domain_update_Results_get_error(res);
            err_set(e, "%.*s", (int)(t.len > 480 ? 480 : t.len),
                    t.len ? t.str : "update failed (no reason given)");
        }
        rpc_response_free(r);
    }
    session_close(&s);
    return rc;
}

struct cert_wait {
    bool done;
    int error_type;
    char error[512];
};

static void on_cert_return(void *ud, struct rpc_response *r)
{
    struct cert_wait *w = ud;
    w->done = true;
    if (r->error) {
        snprintf(w->error, sizeof w->error, "%s", r->error);
        w->error_type = r->error_type;
    }
    rpc_response_free(r);
}

/* How one connection's cert session ended. */
enum cert_end {
    CERT_END_DONE,   /* a renewal arrived and exit_when_renewed */
    CERT_END_FAILED, /* capd refused or reported a failure: e says why */
    CERT_END_LOST,   /* the connection went away (capd stopped): e says how */
};

static enum cert_end cert_session(const char *cap_file, const char *email, char *const *domains,
                                  size_t nd, const char *org, struct eon_certcb_state *st,
                                  bool exit_when_renewed, struct err *e)
{
    struct session s;
    if (session_open(&s, cap_file, e) < 0) return CERT_END_FAILED;
    struct rpc_cap *cb = eon_certcb_new(st);
    if (!cb) {
        session_close(&s);
        err_set(e, "out of memory");
        return CERT_END_FAILED;
    }
    struct rpc_req *req = rpc_req_new(s.cap, eon_Domain_ID, eon_Domain_cert_ORDINAL);
    eon_Domain_cert_Params_B params = eon_Domain_cert_Params_init_ptr(rpc_req_params(req));
    eon_Domain_cert_Params_set_email(params, email, (uint32_t)strlen(email));
    capnp_list_b dl = eon_Domain_cert_Params_init_domains(params, (uint32_t)nd);
    for (size_t i = 0; i < nd; i++)
        capnp_list_b_set_text(dl, (uint32_t)i, domains[i], (uint32_t)strlen(domains[i]));
    if (org) eon_Domain_cert_Params_set_org(params, org, (uint32_t)strlen(org));
    eon_Domain_cert_Params_set_certCallback(params, rpc_req_add_cap(req, cb));
    rpc_cap_unref(cb); /* the request holds it now; capd holds it once sent */
    struct cert_wait w = {0};
    struct rpc_promise *p = rpc_req_send(req, on_cert_return, &w);
    unsigned renewed_before = st->renewed;
    enum cert_end end;
    for (;;) {
        if (st->failed) {
            err_set(e, "%s", st->error);
            end = CERT_END_FAILED;
            break;
        }
        if (w.done && w.error[0]) {
            err_set(e, "%s", w.error);
            end = w.error_type == RPC_EXCEPTION_DISCONNECTED ? CERT_END_LOST : CERT_END_FAILED;
            break;
        }
        if (exit_when_renewed && st->renewed > renewed_before) {
            end = CERT_END_DONE;
            break;
        }
        /* Nothing left to wait for: the connection is gone. */
        if (uv_run(&s.loop, UV_RUN_ONCE) == 0 && !st->failed && !(w.done && w.error[0])) {
            err_set(e, "the connection to capd ended");
            end = CERT_END_LOST;
            break;
        }
    }
    rpc_promise_unref(p);
    session_close(&s);
    return end;
}

int eon_client_cert(const char *cap_file, const char *email, char *const *domains, size_t nd,
                    const char *org, struct eon_certcb_state *st, bool exit_when_renewed,
                    struct err *e)
{
    if (nd == 0) return err_set(e, "give at least one domain (-d DOMAIN)");
    unsigned backoff_s = 1;
    for (;;) {
        unsigned had = st->updated + st->renewed;
        enum cert_end end =
            cert_session(cap_file, email, domains, nd, org, st, exit_when_renewed, e);
        if (end == CERT_END_DONE) return 0;
        /* Before the first certificate every end is an answer for the
         * user; after it capc is a long-running client that must outlive
         * a restart of capd, so it calls again (capd delivers from disk,
         * and registers the new callback for the renewals). */
        if (end == CERT_END_FAILED || st->updated + st->renewed == 0) return -1;
        if (st->updated + st->renewed > had) backoff_s = 1; /* it worked for a while */
        fprintf(stderr, "capc: %s; calling capd again in %u s\n", e->msg, backoff_s);
        sleep(backoff_s);
        backoff_s = backoff_s >= 32 ? 60 : backoff_s * 2;
    }
}
