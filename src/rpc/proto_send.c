/* The messages we send: Return (with the pipelined calls that waited for
 * it), Call, Bootstrap, Finish, Release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc_int.h"
#include "util/log.h"

/* A new outgoing Message in b; the caller picks its member. */
rpc_Message_B proto_new_msg(struct capnp_builder *b)
{
    capnp_builder_init(b, 0);
    return rpc_Message_new_root(b);
}

void proto_send_free(struct rpc_conn *c, struct capnp_builder *b)
{
    conn_send(c, b);
    capnp_builder_free(b);
}

void proto_send_finish(struct rpc_conn *c, uint32_t qid)
{
    struct capnp_builder b;
    rpc_Finish_B f = rpc_Message_init_finish(proto_new_msg(&b));
    rpc_Finish_set_questionId(f, qid);
    rpc_Finish_set_releaseResultCaps(f, false); /* we Release */
    proto_send_free(c, &b);
}

void proto_send_release(struct rpc_conn *c, uint32_t id, uint32_t n)
{
    struct capnp_builder b;
    rpc_Release_B r = rpc_Message_init_release(proto_new_msg(&b));
    rpc_Release_set_id(r, id);
    rpc_Release_set_referenceCount(r, n);
    proto_send_free(c, &b);
}

/* A tail call came back to us (sendResultsTo.yourself) and the peer
 * answered our question with takeFromOtherQuestion: the answer's results
 * become the response, copied so they outlive the answer. */
void proto_deliver_taken(struct rpc_promise *p, struct rpc_answer *a)
{
    struct rpc_response *r = NULL;
    if (a->exception) {
        r = response_error(a->exception, 0);
    } else if ((r = calloc(1, sizeof *r))) {
        struct err e = {"out of memory"};
        r->bld = malloc(sizeof *r->bld);
        if (r->bld) capnp_builder_init(r->bld, 0);
        r->msg = calloc(1, sizeof *r->msg);
        if (r->bld && r->msg) {
            capnp_ptr_b root = capnp_builder_root(r->bld);
            if (a->have_msg) capnp_copy(root, a->content);
        }
        if (!r->bld || !r->msg || capnp_msg_from_builder(r->msg, r->bld, &e) < 0) {
            free(r->msg);
            r->msg = NULL;
            rpc_response_free(r);
            r = response_error(e.msg, 0);
        } else {
            r->content = capnp_msg_root(r->msg);
            r->caps = calloc(a->ncaps ? a->ncaps : 1, sizeof *r->caps);
            for (uint32_t i = 0; r->caps && i < a->ncaps; i++)
                r->caps[i] = rpc_cap_ref(a->caps[i]);
            r->ncaps = r->caps ? a->ncaps : 0;
        }
    }
    promise_deliver(p, r);
    rpc_promise_unref(p);
}

static void keep_results(struct rpc_conn *c, struct rpc_answer *a, struct capnp_builder *out)
{
    struct err e;
    a->bld = xmalloc(sizeof *a->bld);
    *a->bld = *out;
    a->held = capnp_builder_size(a->bld);
    conn_charge(c, a->held, true);
    capnp_builder_init(out, 0);
    if (capnp_msg_from_builder(&a->result_msg, a->bld, &e) == 0) {
        a->have_msg = true;
        rpc_Return_R r = rpc_Message_get_return(rpc_Message_read_root(&a->result_msg));
        a->content = rpc_Payload_get_content(rpc_Return_get_results(r));
    }
}

/* The Return of a tail call: the results stay here for the peer's
 * takeFromOtherQuestion; their caps never cross the wire. */
static void send_return_elsewhere(struct rpc_call *call, const char *exception)
{
    struct rpc_conn *c = call->conn;
    struct rpc_answer *a = call->answer;
    if (exception) {
        a->exception = xstrdup(exception);
    } else {
        rpc_call_results(call);
        a->caps = call->rcaps;
        a->ncaps = call->nrcaps;
        call->rcaps = NULL;
        call->nrcaps = 0;
        keep_results(c, a, &call->out);
    }
    struct capnp_builder b;
    rpc_Return_B ret = rpc_Message_init_return(proto_new_msg(&b));
    rpc_Return_set_answerId(ret, a->id);
    rpc_Return_set_releaseParamCaps(ret, false);
    rpc_Return_set_resultsSentElsewhere(ret);
    proto_send_free(c, &b);
}

void proto_send_return(struct rpc_call *call, const char *exception, int type)
{
    struct rpc_conn *c = call->conn;
    struct rpc_answer *a = call->answer;
    if (a->yourself) {
        send_return_elsewhere(call, exception);
        goto returned;
    }
    rpc_Return_set_answerId(call->ret, a->id);
    rpc_Return_set_releaseParamCaps(call->ret, false);
    if (exception) {
        rpc_Exception_B ex = rpc_Return_init_exception(call->ret);
        rpc_Exception_set_reason(ex, exception, (uint32_t)strlen(exception));
        rpc_Exception_set_type(ex, (uint16_t)type);
        a->exception = xstrdup(exception);
    } else {
        rpc_call_results(call);
        uint32_t n = call->nrcaps;
        if (n) {
            rpc_CapDescriptor_LB l = rpc_Payload_init_capTable(call->payload, n);
            a->result_exports = xmalloc(sizeof(uint32_t) * n);
            for (uint32_t i = 0; i < n; i++) {
                uint32_t id;
                bool did;
                proto_write_capdesc(c, rpc_CapDescriptor_LB_at(l, i), call->rcaps[i], &id, &did);
                if (did) a->result_exports[a->nresult_exports++] = id;
            }
        }
        a->caps = call->rcaps;
        a->ncaps = n;
        call->rcaps = NULL;
        call->nrcaps = 0;
    }
    conn_send(c, &call->out);
    /* Keep the results readable for calls pipelined on them. */
    if (!exception && a->ncaps && (!a->finished || a->queue || a->waiters))
        keep_results(c, a, &call->out);
returned:
    a->state = ANSWER_RETURNED;
    a->call = NULL;
    call->answer = NULL;
    answer_resolve_waiters(a, NULL);
    if (a->redirect) {
        struct rpc_promise *p = a->redirect;
        a->redirect = NULL;
        proto_deliver_taken(p, a);
    }
    /* Deliver what was pipelined on this answer, in order. */
    uint32_t id = a->id;
    conn_ref(c);
    while (a->queue && !conn_dead(c)) {
        struct queued_msg *q = a->queue;
        a->queue = q->next;
        struct capnp_msg *m = q->msg;
        struct rpc_answer *own = q->ans;
        conn_credit(c, q->bytes, false);
        free(q);
        if (own)
            proto_run_queued_call(c, own, m);
        else
            proto_handle(c, m);
        if (conn_dead(c) || idmap_get(&c->answers, id) != a) break;
    }
    if (!conn_dead(c) && idmap_get(&c->answers, id) == a && a->finished) {
        if (a->release_on_return) release_result_exports(c, a);
        answer_free(c, a);
    }
    conn_unref(c);
}

/* ------------------------------------------------------------ sending */

void proto_send_call(struct rpc_conn *c, struct rpc_promise *p, struct rpc_req *req)
{
    uint32_t qid = idalloc_get(&c->qids);
    idmap_put(&c->questions, qid, p);
    p->id = qid;
    p->in_table = true;
    p->refs++; /* until the Return */
    rpc_Call_set_questionId(req->call, qid);
    write_target(rpc_Call_init_target(req->call), req->target);
    if (req->ncaps) {
        rpc_CapDescriptor_LB l = rpc_Payload_init_capTable(req->payload, req->ncaps);
        p->param_exports = xmalloc(sizeof(uint32_t) * req->ncaps);
        for (uint32_t i = 0; i < req->ncaps; i++) {
            uint32_t id;
            bool did;
            proto_write_capdesc(c, rpc_CapDescriptor_LB_at(l, i), req->caps[i], &id, &did);
            if (did) p->param_exports[p->nparam_exports++] = id;
        }
    }
    conn_send(c, &req->bld);
}

uint32_t proto_bootstrap(struct rpc_conn *c, struct rpc_promise *p, const uint8_t *id, size_t len)
{
    uint32_t qid = idalloc_get(&c->qids);
    idmap_put(&c->questions, qid, p);
    p->id = qid;
    p->in_table = true;
    p->refs++;
    struct capnp_builder b;
    rpc_Bootstrap_B boot = rpc_Message_init_bootstrap(proto_new_msg(&b));
    rpc_Bootstrap_set_questionId(boot, qid);
    if (len)
        capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(boot), (const char *)id,
                             (uint32_t)len);
    proto_send_free(c, &b);
    return qid;
}
