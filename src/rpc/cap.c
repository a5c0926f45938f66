/* Capabilities, objects, outgoing requests, promises, responses and
 * waiting. The incoming call context is in call.c, network specifics in
 * proto.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/gen/persistent.capnp.h"
#include "rpc/rpc_int.h"

struct rpc_cap *cap_new(enum rpc_cap_kind kind)
{
    struct rpc_cap *c = xcalloc(1, sizeof *c);
    c->refs = 1;
    c->kind = kind;
    return c;
}

/* A statically allocated broken cap for out-of-memory paths: never freed. */
struct rpc_cap oom_cap = {.refs = 1 << 30, .kind = RPC_CAP_BROKEN, .error = "out of memory"};

struct rpc_cap *rpc_cap_broken(const char *msg)
{
    struct rpc_cap *c = cap_new(RPC_CAP_BROKEN);
    if (!c || !(c->error = strdup(msg))) {
        free(c);
        return &oom_cap;
    }
    return c;
}

void rpc_object_init(struct rpc_object *o, const struct rpc_object_vtbl *vt)
{
    memset(o, 0, sizeof *o);
    o->cap.refs = 1;
    o->cap.kind = RPC_CAP_LOCAL;
    o->vt = vt;
}

int rpc_object_set_sturdy_uri(struct rpc_object *o, const char *uri)
{
    char *u = strdup(uri);
    if (!u) return -1;
    free(o->sturdy_uri);
    o->sturdy_uri = u;
    return 0;
}

struct rpc_object *rpc_cap_object(struct rpc_cap *c)
{
    return c && c->kind == RPC_CAP_LOCAL ? (struct rpc_object *)c : NULL;
}

struct rpc_cap *rpc_cap_ref(struct rpc_cap *c)
{
    if (c) c->refs++;
    return c;
}

void rpc_cap_unref(struct rpc_cap *c)
{
    if (!c || --c->refs > 0) return;
    switch (c->kind) {
    case RPC_CAP_LOCAL: {
        struct rpc_object *o = (struct rpc_object *)c;
        free(o->sturdy_uri);
        o->sturdy_uri = NULL;
        if (o->vt->destroy) o->vt->destroy(o);
        return;
    }
    case RPC_CAP_IMPORT: {
        struct rpc_conn *conn = c->conn;
        struct rpc_import *im = idmap_get(&conn->imports, c->id);
        if (im && im->cap == c) {
            idmap_del(&conn->imports, c->id);
            if (!conn_dead(conn)) proto_send_release(conn, c->id, im->remote_refs);
            free(im);
        }
        conn_unref(conn);
        break;
    }
    case RPC_CAP_PIPELINE:
        rpc_promise_unref(c->pq);
        free(c->ops);
        break;
    case RPC_CAP_BROKEN:
        free(c->error);
        break;
    case RPC_CAP_PROMISE:
        promise_cap_free(c);
        break;
    }
    free(c);
}

void cap_break_import(struct rpc_cap *c, const char *why)
{
    struct rpc_conn *conn = c->conn;
    c->kind = RPC_CAP_BROKEN;
    c->conn = NULL;
    c->error = strdup(why ? why : "disconnected");
    conn_unref(conn);
}

struct rpc_cap *cap_from_path(capnp_ptr_r content, const uint16_t *ops, uint32_t nops,
                              struct rpc_cap **caps, uint32_t ncaps)
{
    capnp_ptr_r p = content;
    for (uint32_t i = 0; i < nops; i++)
        p = capnp_struct_r_ptr(capnp_ptr_r_struct(p), ops[i]);
    uint32_t idx;
    if (p.msg && capnp_msg_error(p.msg)) return rpc_cap_broken("malformed results");
    if (capnp_ptr_r_is_null(p)) return rpc_cap_broken("called null capability");
    if (!capnp_ptr_r_cap(p, &idx)) return rpc_cap_broken("pipelined pointer is not a capability");
    if (idx >= ncaps || !caps[idx]) return rpc_cap_broken("called null capability");
    return rpc_cap_ref(caps[idx]);
}

/* ------------------------------------------------------------ responses */

struct rpc_response *response_error(const char *msg, int type)
{
    struct rpc_response *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->errbuf = strdup(msg);
    r->error = r->errbuf ? r->errbuf : "out of memory";
    r->error_type = type;
    return r;
}

struct rpc_cap *rpc_response_cap(struct rpc_response *r, uint32_t idx)
{
    if (r->error || idx >= r->ncaps || !r->caps[idx])
        return rpc_cap_broken("no capability at that index");
    return rpc_cap_ref(r->caps[idx]);
}

void rpc_response_free(struct rpc_response *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < r->ncaps; i++)
        rpc_cap_unref(r->caps[i]);
    free(r->caps);
    msg_destroy(r->msg);
    if (r->bld) {
        capnp_builder_free(r->bld);
        free(r->bld);
    }
    free(r->buf);
    free(r->errbuf);
    free(r);
}

/* ------------------------------------------------------------ requests */

struct rpc_req *rpc_req_new(struct rpc_cap *target, uint64_t interface_id, uint16_t method)
{
    struct rpc_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->target = rpc_cap_ref(target);
    r->iface = interface_id;
    r->method = method;
    capnp_builder_init(&r->bld, 0);
    /* The target and question ID are written when it is sent. */
    r->call = rpc_Message_init_call(rpc_Message_new_root(&r->bld));
    rpc_Call_set_interfaceId(r->call, interface_id);
    rpc_Call_set_methodId(r->call, method);
    r->payload = rpc_Call_init_params(r->call);
    r->params = rpc_Payload_ptr_content(r->payload);
    return r;
}

capnp_ptr_b rpc_req_params(struct rpc_req *req)
{
    return req->params;
}

uint32_t cap_list_add(struct rpc_cap ***arr, uint32_t *n, uint32_t *cap, struct rpc_cap *c)
{
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 4;
        struct rpc_cap **na = realloc(*arr, sizeof *na * nc);
        if (!na) return UINT32_MAX;
        *arr = na;
        *cap = nc;
    }
    (*arr)[*n] = rpc_cap_ref(c);
    return (*n)++;
}

uint32_t rpc_req_add_cap(struct rpc_req *req, struct rpc_cap *cap)
{
    return cap_list_add(&req->caps, &req->ncaps, &req->cap_cap, cap);
}

void rpc_req_free(struct rpc_req *req)
{
    if (!req) return;
    for (uint32_t i = 0; i < req->ncaps; i++)
        rpc_cap_unref(req->caps[i]);
    free(req->caps);
    capnp_builder_free(&req->bld);
    rpc_cap_unref(req->target);
    free(req);
}

/* ------------------------------------------------------------ promises */

static struct rpc_promise *promise_new(void)
{
    struct rpc_promise *p = calloc(1, sizeof *p);
    if (p) p->refs = 1;
    return p;
}

void promise_deliver(struct rpc_promise *p, struct rpc_response *r)
{
    if (p->returned) {
        rpc_response_free(r);
        return;
    }
    p->returned = true;
    if (!r) r = response_error("out of memory", EXC_FAILED);
    if (p->cb && r) {
        rpc_response_fn cb = p->cb;
        p->cb = NULL;
        cb(p->ud, r);
    } else {
        p->resp = r;
    }
}

void rpc_promise_unref(struct rpc_promise *p)
{
    if (!p || --p->refs > 0) return;
    if (p->conn) {
        if (p->returned && !p->finish_sent && !conn_dead(p->conn)) {
            p->finish_sent = true;
            proto_send_finish(p->conn, p->id);
        }
        if (p->in_table) {
            idmap_del(&p->conn->questions, p->id);
            idalloc_put(&p->conn->qids, p->id);
        }
        conn_unref(p->conn);
    }
    if (p->resp) rpc_response_free(p->resp);
    free(p->param_exports);
    free(p);
}

struct rpc_cap *rpc_promise_cap(struct rpc_promise *p, const uint16_t *path, uint32_t n)
{
    if (n > RPC_MAX_OPS) return rpc_cap_broken("pipeline path too long");
    if (!p->conn) {
        /* A local call has run already; its results are kept only when
         * it was sent without a callback. */
        if (!p->returned || !p->resp)
            return rpc_cap_broken("pipelining on this local call is not supported");
        if (p->resp->error) return rpc_cap_broken(p->resp->error);
        return cap_from_path(p->resp->content, path, n, p->resp->caps, p->resp->ncaps);
    }
    struct rpc_cap *c = cap_new(RPC_CAP_PIPELINE);
    if (!c) return &oom_cap;
    c->ops = malloc(sizeof *c->ops * (n ? n : 1));
    if (!c->ops) {
        free(c);
        return &oom_cap;
    }
    if (n) memcpy(c->ops, path, sizeof *c->ops * n);
    c->nops = n;
    c->pq = p;
    c->conn = p->conn;
    p->refs++;
    return c;
}

/* ------------------------------------------------------------ sending */

static void fail_now(struct rpc_promise *p, const char *msg, int type)
{
    promise_deliver(p, response_error(msg, type));
}

struct rpc_promise *rpc_req_send(struct rpc_req *req, rpc_response_fn cb, void *ud)
{
    struct rpc_promise *p = promise_new();
    if (!p) {
        struct rpc_response *r = response_error("out of memory", EXC_FAILED);
        if (cb && r) cb(ud, r);
        rpc_req_free(req);
        return NULL;
    }
    p->cb = cb;
    p->ud = ud;
    while (req->target->kind == RPC_CAP_PROMISE && req->target->resolved) {
        struct rpc_cap *to = rpc_cap_ref(req->target->resolved);
        rpc_cap_unref(req->target);
        req->target = to;
    }
    struct rpc_cap *t = req->target;
    if (t->kind == RPC_CAP_PROMISE) {
        p->refs++; /* the queue's */
        promise_cap_queue(t, req, p);
        return p;
    }
    switch (t->kind) {
    case RPC_CAP_BROKEN:
        fail_now(p, t->error, EXC_FAILED);
        break;
    case RPC_CAP_IMPORT:
    case RPC_CAP_PIPELINE:
        if (conn_dead(t->conn)) {
            fail_now(p, t->conn->error ? t->conn->error : "disconnected", EXC_DISCONNECTED);
            break;
        }
        p->conn = t->conn;
        conn_ref(p->conn);
        proto_send_call(t->conn, p, req);
        break;
    case RPC_CAP_PROMISE: /* handled above */
        break;
    case RPC_CAP_LOCAL: {
        struct rpc_call *call = call_new(NULL);
        struct capnp_builder *b = call ? malloc(sizeof *b) : NULL;
        struct err e;
        if (!b) {
            if (call) call_free(call);
            fail_now(p, "out of memory", EXC_FAILED);
            break;
        }
        *b = req->bld; /* the params stay in the request's builder */
        capnp_builder_init(&req->bld, 0);
        call->req_bld = b;
        e = (struct err){"out of memory"};
        call->msg = calloc(1, sizeof *call->msg);
        if (!call->msg || capnp_msg_from_builder(call->msg, b, &e) < 0) {
            free(call->msg);
            call->msg = NULL;
            call_free(call);
            fail_now(p, e.msg, EXC_FAILED);
            break;
        }
        rpc_Call_R c = rpc_Message_get_call(rpc_Message_read_root(call->msg));
        call->params = rpc_Payload_get_content(rpc_Call_get_params(c));
        call->iface = req->iface;
        call->method = req->method;
        call->pcaps = req->caps;
        call->npcaps = req->ncaps;
        req->caps = NULL;
        req->ncaps = 0;
        call->local = p;
        p->refs++;
        cap_deliver(t, call);
        break;
    }
    }
    rpc_req_free(req);
    return p;
}

/* ------------------------------------------------------------ waiting */

static void wait_timeout(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

struct rpc_response *rpc_promise_wait(struct rpc_promise *p, unsigned timeout_ms, struct err *e)
{
    return rpc_promise_wait_typed(p, timeout_ms, NULL, e);
}

struct rpc_response *rpc_promise_wait_typed(struct rpc_promise *p, unsigned timeout_ms,
                                            int *exception_type, struct err *e)
{
    if (exception_type) *exception_type = -1;
    if (!p) {
        err_set(e, "out of memory");
        return NULL;
    }
    if (!p->returned) {
        uv_loop_t *loop = p->conn ? p->conn->vat->loop : NULL;
        if (!loop) {
            err_set(e, "local call did not answer");
            return NULL;
        }
        bool expired = false;
        uv_timer_t timer;
        uv_timer_init(loop, &timer);
        timer.data = &expired;
        uv_timer_start(&timer, wait_timeout, timeout_ms, 0);
        while (!p->returned && !expired)
            uv_run(loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&timer, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        if (!p->returned) {
            err_set(e, "timed out after %u ms waiting for an answer", timeout_ms);
            return NULL;
        }
    }
    struct rpc_response *r = p->resp;
    if (!r) {
        err_set(e, "the response was already taken");
        return NULL;
    }
    p->resp = NULL;
    if (r->error) {
        if (exception_type) *exception_type = r->error_type;
        err_set(e, "%s", r->error);
        rpc_response_free(r);
        return NULL;
    }
    return r;
}

struct rpc_response *rpc_call_wait(struct rpc_req *req, unsigned timeout_ms, struct err *e)
{
    return rpc_call_wait_typed(req, timeout_ms, NULL, e);
}

struct rpc_response *rpc_call_wait_typed(struct rpc_req *req, unsigned timeout_ms,
                                         int *exception_type, struct err *e)
{
    struct rpc_promise *p = rpc_req_send(req, NULL, NULL);
    struct rpc_response *r = rpc_promise_wait_typed(p, timeout_ms, exception_type, e);
    rpc_promise_unref(p);
    return r;
}

char *rpc_save_wait(struct rpc_cap *cap, unsigned timeout_ms, struct err *e)
{
    struct rpc_req *req = rpc_req_new(cap, RPC_PERSISTENT_ID, RPC_PERSISTENT_SAVE);
    if (!req) {
        err_set(e, "out of memory");
        return NULL;
    }
    /* SaveParams with sealFor unset reads the same as an empty struct. */
    capnp_ptr_b_init_struct(req->params, 0, 0);
    struct rpc_response *r = rpc_call_wait(req, timeout_ms, e);
    if (!r) return NULL;
    capnp_text t = capnp_ptr_r_text(persistent_Persistent_SaveResults_get_sturdyRef(
        persistent_Persistent_SaveResults_from_ptr(r->content)));
    char *uri = NULL;
    if (r->msg && capnp_msg_error(r->msg))
        err_set(e, "malformed save results: %s", capnp_msg_error(r->msg));
    else if (t.len == 0)
        err_set(e, "save returned no sturdy ref");
    else if (!(uri = strndup(t.str, t.len)))
        err_set(e, "out of memory");
    rpc_response_free(r);
    return uri;
}
