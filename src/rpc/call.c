/* The context of an incoming call (from the network or a local caller):
 * params, results under construction, answering, and delivery to the
 * target capability (local dispatch, forwarding, Persistent.save). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/gen/persistent.capnp.h"
#include "rpc/rpc_int.h"

/* ------------------------------------------------------------ calls */

struct rpc_call *call_new(struct rpc_vat *v)
{
    struct rpc_call *c = xcalloc(1, sizeof *c);
    c->vat = v;
    capnp_builder_init(&c->out, 0);
    c->ret = rpc_Message_init_return(rpc_Message_new_root(&c->out));
    return c;
}

void call_free(struct rpc_call *c)
{
    if (c->answer && c->answer->call == c) c->answer->call = NULL;
    for (uint32_t i = 0; i < c->npcaps; i++)
        rpc_cap_unref(c->pcaps[i]);
    free(c->pcaps);
    for (uint32_t i = 0; i < c->nrcaps; i++)
        rpc_cap_unref(c->rcaps[i]);
    free(c->rcaps);
    msg_destroy(c->msg);
    if (c->req_bld) {
        capnp_builder_free(c->req_bld);
        free(c->req_bld);
    }
    capnp_builder_free(&c->out);
    if (c->conn) {
        if (c->held) conn_credit(c->conn, c->held, false);
        conn_unref(c->conn);
    }
    if (c->local) rpc_promise_unref(c->local);
    free(c);
}

uint64_t rpc_call_interface(const struct rpc_call *call)
{
    return call->iface;
}
uint16_t rpc_call_method(const struct rpc_call *call)
{
    return call->method;
}
capnp_ptr_r rpc_call_params(struct rpc_call *call)
{
    return call->params;
}
struct rpc_vat *rpc_call_vat(const struct rpc_call *call)
{
    return call->vat;
}

bool rpc_call_cancelled(const struct rpc_call *call)
{
    if (call->local) return false;
    return call->cancelled || !call->answer || !call->conn || conn_dead(call->conn);
}

struct rpc_cap *rpc_call_param_cap(struct rpc_call *call, uint32_t idx)
{
    if (idx >= call->npcaps || !call->pcaps[idx])
        return rpc_cap_broken("no capability at that index");
    return rpc_cap_ref(call->pcaps[idx]);
}

capnp_ptr_b rpc_call_results(struct rpc_call *call)
{
    if (!call->results_init) {
        call->results_init = true;
        call->payload = rpc_Return_init_results(call->ret);
        call->results = rpc_Payload_ptr_content(call->payload);
    }
    return call->results;
}

uint32_t rpc_call_add_cap(struct rpc_call *call, struct rpc_cap *cap)
{
    rpc_call_results(call);
    return cap_list_add(&call->rcaps, &call->nrcaps, &call->rcap_cap, cap);
}

/* A local call's results become a response read from the call's builder. */
static void local_return(struct rpc_call *call, const char *exception, int type)
{
    struct rpc_promise *p = call->local;
    struct rpc_response *r;
    if (exception) {
        r = response_error(exception, type);
    } else {
        r = calloc(1, sizeof *r);
        struct capnp_builder *b = r ? malloc(sizeof *b) : NULL;
        if (!b) {
            free(r);
            r = response_error("out of memory", EXC_FAILED);
        } else {
            rpc_call_results(call);
            *b = call->out; /* move the builder into the response */
            capnp_builder_init(&call->out, 0);
            r->bld = b;
            struct err e = {"out of memory"};
            r->msg = calloc(1, sizeof *r->msg);
            if (!r->msg || capnp_msg_from_builder(r->msg, b, &e) < 0) {
                free(r->msg);
                r->msg = NULL;
                rpc_response_free(r);
                r = response_error(e.msg, EXC_FAILED);
            } else {
                rpc_Return_R ret = rpc_Message_get_return(rpc_Message_read_root(r->msg));
                r->content = rpc_Payload_get_content(rpc_Return_get_results(ret));
                r->caps = call->rcaps;
                r->ncaps = call->nrcaps;
                call->rcaps = NULL;
                call->nrcaps = 0;
            }
        }
    }
    promise_deliver(p, r);
}

static void finish_call(struct rpc_call *call, const char *exception, int type)
{
    if (call->local)
        local_return(call, exception, type);
    else if (call->answer && call->conn && !conn_dead(call->conn))
        proto_send_return(call, exception, type);
    call_free(call);
}

void rpc_call_return(struct rpc_call *call)
{
    finish_call(call, NULL, 0);
}

void rpc_call_fail(struct rpc_call *call, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    finish_call(call, buf, EXC_FAILED);
}

void rpc_call_unimplemented(struct rpc_call *call)
{
    char buf[128];
    snprintf(buf, sizeof buf, "Method not implemented (interface %016llx, method %u)",
             (unsigned long long)call->iface, call->method);
    finish_call(call, buf, EXC_UNIMPLEMENTED);
}

/* Calls on a non-local cap received from the network are forwarded as a
 * new request; the response is copied back into the original call. */
static void forward_done(void *ud, struct rpc_response *r)
{
    struct rpc_call *call = ud;
    if (r->error) {
        finish_call(call, r->error, r->error_type);
    } else {
        if (capnp_copy(rpc_call_results(call), r->content) < 0) {
            rpc_response_free(r);
            finish_call(call, "malformed results", EXC_FAILED);
            return;
        }
        for (uint32_t i = 0; i < r->ncaps; i++)
            rpc_call_add_cap(call, r->caps[i]);
        finish_call(call, NULL, 0);
    }
    rpc_response_free(r);
}

static void save_results(struct rpc_call *call, const char *uri)
{
    /* sturdyRef is an AnyPointer; the original puts the URI there as Text. */
    persistent_Persistent_SaveResults_B res =
        persistent_Persistent_SaveResults_init_ptr(rpc_call_results(call));
    capnp_ptr_b_set_text(persistent_Persistent_SaveResults_ptr_sturdyRef(res), uri,
                         (uint32_t)strlen(uri));
    rpc_call_return(call);
}

void cap_deliver(struct rpc_cap *target, struct rpc_call *call)
{
    switch (target->kind) {
    case RPC_CAP_LOCAL: {
        struct rpc_object *o = (struct rpc_object *)target;
        if (call->iface == RPC_PERSISTENT_ID && call->method == RPC_PERSISTENT_SAVE &&
            o->sturdy_uri) {
            save_results(call, o->sturdy_uri);
            return;
        }
        /* Keep the object alive while it runs. */
        rpc_cap_ref(target);
        o->vt->dispatch(o, call);
        rpc_cap_unref(target);
        return;
    }
    case RPC_CAP_BROKEN:
        finish_call(call, target->error, EXC_FAILED);
        return;
    case RPC_CAP_PROMISE:
        promise_cap_deliver(target, call);
        return;
    default:
        break;
    }
    struct rpc_req *req = rpc_req_new(target, call->iface, call->method);
    if (!req) {
        finish_call(call, "out of memory", EXC_FAILED);
        return;
    }
    if (capnp_copy(req->params, call->params) < 0) {
        rpc_req_free(req);
        finish_call(call, "malformed params", EXC_FAILED);
        return;
    }
    for (uint32_t i = 0; i < call->npcaps; i++)
        rpc_req_add_cap(req, call->pcaps[i] ? call->pcaps[i] : &oom_cap);
    rpc_promise_unref(rpc_req_send(req, forward_done, call));
}
