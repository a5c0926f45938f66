/* The protocol: one function per message type, the four tables, cap
 * descriptors. Peers that break the rules get an Abort and lose the
 * connection; nothing here trusts a count or an ID from the wire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc_int.h"
#include "util/log.h"

/* A new outgoing Message in b; the caller picks its member. */
static rpc_Message_B new_msg(struct capnp_builder *b)
{
    capnp_builder_init(b, 0);
    return rpc_Message_new_root(b);
}

static void send_free(struct rpc_conn *c, struct capnp_builder *b)
{
    conn_send(c, b);
    capnp_builder_free(b);
}

void proto_send_finish(struct rpc_conn *c, uint32_t qid)
{
    struct capnp_builder b;
    rpc_Finish_B f = rpc_Message_init_finish(new_msg(&b));
    rpc_Finish_set_questionId(f, qid);
    rpc_Finish_set_releaseResultCaps(f, false); /* we Release */
    send_free(c, &b);
}

void proto_send_release(struct rpc_conn *c, uint32_t id, uint32_t n)
{
    struct capnp_builder b;
    rpc_Release_B r = rpc_Message_init_release(new_msg(&b));
    rpc_Release_set_id(r, id);
    rpc_Release_set_referenceCount(r, n);
    send_free(c, &b);
}

/* A tail call came back to us (sendResultsTo.yourself) and the peer
 * answered our question with takeFromOtherQuestion: the answer's results
 * become the response, copied so they outlive the answer. */
static void deliver_taken(struct rpc_promise *p, struct rpc_answer *a)
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

static void keep_results(struct rpc_answer *a, struct capnp_builder *out)
{
    struct err e;
    a->bld = malloc(sizeof *a->bld);
    if (!a->bld) return;
    *a->bld = *out;
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
        a->exception = strdup(exception);
    } else {
        rpc_call_results(call);
        a->caps = call->rcaps;
        a->ncaps = call->nrcaps;
        call->rcaps = NULL;
        call->nrcaps = 0;
        keep_results(a, &call->out);
    }
    struct capnp_builder b;
    rpc_Return_B ret = rpc_Message_init_return(new_msg(&b));
    rpc_Return_set_answerId(ret, a->id);
    rpc_Return_set_releaseParamCaps(ret, false);
    rpc_Return_set_resultsSentElsewhere(ret);
    send_free(c, &b);
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
        a->exception = strdup(exception);
        if (!a->exception) a->exception = strdup("failed");
    } else {
        rpc_call_results(call);
        uint32_t n = call->nrcaps;
        if (n) {
            rpc_CapDescriptor_LB l = rpc_Payload_init_capTable(call->payload, n);
            a->result_exports = malloc(sizeof(uint32_t) * n);
            for (uint32_t i = 0; i < n; i++) {
                uint32_t id;
                bool did;
                proto_write_capdesc(c, rpc_CapDescriptor_LB_at(l, i), call->rcaps[i], &id, &did);
                if (did && a->result_exports) a->result_exports[a->nresult_exports++] = id;
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
        keep_results(a, &call->out);
returned:
    a->returned = true;
    a->call = NULL;
    call->answer = NULL;
    answer_resolve_waiters(a, NULL);
    if (a->redirect) {
        struct rpc_promise *p = a->redirect;
        a->redirect = NULL;
        deliver_taken(p, a);
    }
    /* Deliver what was pipelined on this answer, in order. */
    uint32_t id = a->id;
    conn_ref(c);
    while (a->queue && !c->closed) {
        struct queued_msg *q = a->queue;
        a->queue = q->next;
        struct capnp_msg *m = q->msg;
        free(q);
        proto_handle(c, m);
        if (c->closed || idmap_get(&c->answers, id) != a) break;
    }
    if (!c->closed && idmap_get(&c->answers, id) == a && a->finished) {
        if (a->release_on_return) release_result_exports(c, a);
        answer_free(c, a);
    }
    conn_unref(c);
}

/* ------------------------------------------------------------ handlers */

static void answer_with(struct rpc_conn *c, struct rpc_answer *a, struct rpc_cap *cap,
                        const char *exception)
{
    struct rpc_call *call = call_new(c->vat);
    if (!call) {
        conn_abort(c, "out of memory");
        return;
    }
    call->conn = c;
    conn_ref(c);
    call->answer = a;
    if (exception) {
        proto_send_return(call, exception, 0);
    } else {
        capnp_ptr_b_set_cap(rpc_call_results(call), rpc_call_add_cap(call, cap));
        proto_send_return(call, NULL, 0);
    }
    call_free(call);
}

static void handle_bootstrap(struct rpc_conn *c, rpc_Bootstrap_R b)
{
    struct rpc_answer *a = answer_new(c, rpc_Bootstrap_get_questionId(b));
    if (!a) return;
    capnp_ptr_r oid = rpc_Bootstrap_get_deprecatedObjectId(b);
    struct rpc_cap *cap = NULL;
    if (capnp_ptr_r_is_null(oid)) {
        cap = rpc_cap_ref(c->vat->bootstrap);
    } else if (capnp_ptr_r_kind(oid) == CAPNP_PTR_LIST) {
        /* The original sends the raw service ID as Text. */
        capnp_text t = capnp_ptr_r_text(oid);
        bool found;
        cap = vat_lookup_service(c->vat, (const uint8_t *)t.str, t.len, &found);
    }
    if (cap) {
        conn_authenticated(c);
        answer_with(c, a, cap, NULL);
        rpc_cap_unref(cap);
    } else {
        answer_with(c, a, NULL, RPC_UNKNOWN_SERVICE);
    }
}

static void handle_call(struct rpc_conn *c, struct capnp_msg **m, rpc_Call_R call_r)
{
    uint32_t qid = rpc_Call_get_questionId(call_r);
    struct wire_target t;
    if (read_target(rpc_Call_get_target(call_r), &t) < 0) {
        conn_abort(c, "bad call target");
        return;
    }
    struct rpc_cap *target = NULL;
    if (!t.promised) {
        struct rpc_export *e = idmap_get(&c->exports, t.id);
        if (!e) {
            conn_abort(c, "call to unknown export %u", t.id);
            return;
        }
        target = rpc_cap_ref(e->cap);
    } else {
        bool queue;
        struct rpc_answer *ta;
        target = answer_cap(c, &t, &queue, &ta);
        if (!ta) {
            conn_abort(c, "call on unknown question %u", t.id);
            return;
        }
        if (queue) {
            if (idmap_get(&c->answers, qid) || c->answers.len >= c->vat->cfg.max_questions) {
                conn_abort(c, "question %u is already in use or too many questions", qid);
                return;
            }
            queue_on(ta, m);
            return;
        }
    }
    struct rpc_answer *a = answer_new(c, qid);
    struct rpc_call *call = a ? call_new(c->vat) : NULL;
    if (!call) {
        if (a) answer_free(c, a);
        rpc_cap_unref(target);
        return;
    }
    call->conn = c;
    conn_ref(c);
    call->answer = a;
    a->call = call;
    call->iface = rpc_Call_get_interfaceId(call_r);
    call->method = rpc_Call_get_methodId(call_r);
    rpc_Payload_R payload = rpc_Call_get_params(call_r);
    int rc = read_captable(c, rpc_Payload_get_capTable(payload), &call->pcaps, &call->npcaps);
    call->msg = *m;
    *m = NULL;
    call->params = rpc_Payload_get_content(payload);
    if (rc < 0 || capnp_msg_error(call->msg)) {
        rpc_cap_unref(target);
        call_free(call);
        conn_abort(c, "malformed call");
        return;
    }
    enum rpc_Call_sendResultsTo_which to =
        rpc_Call_sendResultsTo_which(rpc_Call_get_sendResultsTo(call_r));
    if (to == rpc_Call_sendResultsTo_yourself) {
        a->yourself = true; /* a tail call: the peer takes the results from us */
    } else if (to != rpc_Call_sendResultsTo_caller) {
        rpc_cap_unref(target);
        rpc_call_fail(call, "third-party sendResultsTo is not supported");
        return;
    }
    if (c->exports.len > c->vat->cfg.max_exports) {
        rpc_cap_unref(target);
        rpc_call_fail(call, "too many capabilities exported on this connection");
        return;
    }
    if (log_enabled(LOG_DEBUG))
        log_debug("rpc: call %u: interface %016llx method %u", qid, (unsigned long long)call->iface,
                  call->method);
    cap_deliver(target, call);
    rpc_cap_unref(target);
}

static void handle_return(struct rpc_conn *c, struct capnp_msg **m, rpc_Return_R r)
{
    uint32_t id = rpc_Return_get_answerId(r);
    struct rpc_promise *p = idmap_get(&c->questions, id);
    if (!p || p->returned) {
        conn_abort(c, "Return for unknown question %u", id);
        return;
    }
    if (rpc_Return_get_releaseParamCaps(r)) {
        /* releaseParamCaps: the peer counts our params' caps as released. */
        for (uint32_t i = 0; i < p->nparam_exports && !c->closed; i++)
            release_export(c, p->param_exports[i], 1);
        p->nparam_exports = 0;
    }
    struct rpc_response *resp = NULL;
    switch (rpc_Return_which(r)) {
    case rpc_Return_results: {
        rpc_Payload_R payload = rpc_Return_get_results(r);
        resp = calloc(1, sizeof *resp);
        if (!resp) {
            conn_abort(c, "out of memory");
            return;
        }
        int rc = read_captable(c, rpc_Payload_get_capTable(payload), &resp->caps, &resp->ncaps);
        resp->msg = *m;
        *m = NULL;
        resp->content = rpc_Payload_get_content(payload);
        if (rc < 0 || capnp_msg_error(resp->msg)) {
            rpc_response_free(resp);
            conn_abort(c, "malformed Return");
            return;
        }
        break;
    }
    case rpc_Return_exception: {
        rpc_Exception_R ex = rpc_Return_get_exception(r);
        capnp_text reason = rpc_Exception_get_reason(ex);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)reason.len, reason.str);
        if (!buf[0]) snprintf(buf, sizeof buf, "remote call failed");
        resp = response_error(buf, rpc_Exception_get_type(ex));
        break;
    }
    case rpc_Return_canceled:
        resp = response_error("call canceled", 0);
        break;
    case rpc_Return_takeFromOtherQuestion: { /* the results of our answer to a tail call */
        struct rpc_answer *a = idmap_get(&c->answers, rpc_Return_get_takeFromOtherQuestion(r));
        if (!a || !a->yourself || a->redirect) {
            conn_abort(c, "takeFromOtherQuestion names a question that is not a tail call");
            return;
        }
        if (a->returned)
            deliver_taken(p, a);
        else
            a->redirect = p; /* keeps the "awaiting Return" reference */
        return;
    }
    default:
        resp = response_error("unsupported kind of Return", 0);
        break;
    }
    /* Let go of the "awaiting Return" reference after delivery. */
    promise_deliver(p, resp);
    rpc_promise_unref(p);
}

static void handle_finish(struct rpc_conn *c, rpc_Finish_R f)
{
    uint32_t id = rpc_Finish_get_questionId(f);
    struct rpc_answer *a = idmap_get(&c->answers, id);
    if (!a || a->finished) {
        conn_abort(c, "Finish for unknown question %u", id);
        return;
    }
    a->finished = true;
    bool release = rpc_Finish_get_releaseResultCaps(f);
    if (a->call) a->call->cancelled = true;
    if (!a->returned) {
        a->release_on_return = release;
        return;
    }
    if (release) release_result_exports(c, a);
    answer_free(c, a);
}

static void handle_disembargo(struct rpc_conn *c, struct capnp_msg **m, rpc_Disembargo_R d)
{
    rpc_Disembargo_context_R ctx = rpc_Disembargo_get_context(d);
    enum rpc_Disembargo_context_which which = rpc_Disembargo_context_which(ctx);
    if (which != rpc_Disembargo_context_senderLoopback) {
        conn_abort(c, "unexpected Disembargo context %u", (unsigned)which);
        return;
    }
    struct wire_target t;
    if (read_target(rpc_Disembargo_get_target(d), &t) < 0) {
        conn_abort(c, "bad Disembargo target");
        return;
    }
    struct rpc_cap *cap;
    if (!t.promised) {
        struct rpc_export *e = idmap_get(&c->exports, t.id);
        cap = e ? rpc_cap_ref(e->cap) : NULL;
    } else {
        bool queue;
        struct rpc_answer *a;
        cap = answer_cap(c, &t, &queue, &a);
        if (queue) {
            queue_on(a, m);
            return;
        }
    }
    while (cap && cap->kind == RPC_CAP_PROMISE && cap->resolved) {
        struct rpc_cap *to = rpc_cap_ref(cap->resolved);
        rpc_cap_unref(cap);
        cap = to;
    }
    if (!cap || cap->conn != c || (cap->kind != RPC_CAP_IMPORT && cap->kind != RPC_CAP_PIPELINE)) {
        rpc_cap_unref(cap);
        conn_abort(c, "Disembargo target does not point back to the sender");
        return;
    }
    /* Everything we forwarded to the target is already queued for
     * sending, so the reply can go now and still arrive after it. */
    struct capnp_builder b;
    rpc_Disembargo_B out = rpc_Message_init_disembargo(new_msg(&b));
    write_target(rpc_Disembargo_init_target(out), cap);
    rpc_Disembargo_context_set_receiverLoopback(rpc_Disembargo_init_context(out),
                                                rpc_Disembargo_context_get_senderLoopback(ctx));
    send_free(c, &b);
    rpc_cap_unref(cap);
}

static void handle_resolve(struct rpc_conn *c, rpc_Resolve_R r)
{
    /* exception: calls on the promise will fail on their own */
    if (rpc_Resolve_which(r) != rpc_Resolve_cap) return;
    /* We keep calling the promise (the peer forwards), which keeps call
     * order without embargoes; take and drop the reference it carries. */
    rpc_CapDescriptor_R d = rpc_Resolve_get_cap(r);
    enum rpc_CapDescriptor_which kind = rpc_CapDescriptor_which(d);
    if (kind == rpc_CapDescriptor_senderHosted || kind == rpc_CapDescriptor_senderPromise) {
        struct rpc_cap *cap = import_cap(c, kind == rpc_CapDescriptor_senderHosted
                                                ? rpc_CapDescriptor_get_senderHosted(d)
                                                : rpc_CapDescriptor_get_senderPromise(d));
        if (!cap) {
            conn_abort(c, "too many imports");
            return;
        }
        rpc_cap_unref(cap);
    }
}

static void handle_unimplemented(struct rpc_conn *c, rpc_Message_R inner)
{
    enum rpc_Message_which which = rpc_Message_which(inner);
    if (which == rpc_Message_call || which == rpc_Message_bootstrap) {
        uint32_t qid = which == rpc_Message_call
                           ? rpc_Call_get_questionId(rpc_Message_get_call(inner))
                           : rpc_Bootstrap_get_questionId(rpc_Message_get_bootstrap(inner));
        struct rpc_promise *p = idmap_get(&c->questions, qid);
        if (p && !p->returned) {
            promise_deliver(p, response_error("the peer does not implement this",
                                              rpc_Exception_Type_unimplemented));
            rpc_promise_unref(p);
        }
    }
}

static void send_unimplemented(struct rpc_conn *c, struct capnp_msg *m)
{
    struct capnp_builder b;
    rpc_Message_B out = new_msg(&b);
    /* Message.unimplemented echoes the peer's message as it came, so it is
     * copied into the union's one pointer (rpc_Message_init_unimplemented
     * would make an empty Message there; the generated setter of the
     * AnyPointer member obsoleteSave gives the same slot), and then the
     * discriminant (u16 0) is set: the only hand-placed field in the vat,
     * checked by the generated reader in tests/unit/rpc/test_rpc_faults.c. */
    capnp_copy(rpc_Message_ptr_obsoleteSave(out), capnp_msg_root(m));
    capnp_struct_b_set_u16(out.b, 0, rpc_Message_unimplemented);
    send_free(c, &b);
}

/* Aborts when reading the message so far found it malformed. Each case
 * below reads its member first, so the check covers it. */
static bool malformed(struct rpc_conn *c, struct capnp_msg *m)
{
    if (!capnp_msg_error(m)) return false;
    conn_abort(c, "malformed message: %s", capnp_msg_error(m));
    return true;
}

void proto_handle(struct rpc_conn *c, struct capnp_msg *owned)
{
    struct capnp_msg *m = owned, **mp = &owned;
    rpc_Message_R msg = rpc_Message_read_root(m);
    switch (rpc_Message_which(msg)) {
    case rpc_Message_call: {
        rpc_Call_R body = rpc_Message_get_call(msg);
        if (!malformed(c, m)) handle_call(c, mp, body);
        break;
    }
    case rpc_Message_return: {
        rpc_Return_R body = rpc_Message_get_return(msg);
        if (!malformed(c, m)) handle_return(c, mp, body);
        break;
    }
    case rpc_Message_finish: {
        rpc_Finish_R body = rpc_Message_get_finish(msg);
        if (!malformed(c, m)) handle_finish(c, body);
        break;
    }
    case rpc_Message_release: {
        rpc_Release_R body = rpc_Message_get_release(msg);
        if (!malformed(c, m))
            release_export(c, rpc_Release_get_id(body), rpc_Release_get_referenceCount(body));
        break;
    }
    case rpc_Message_bootstrap: {
        rpc_Bootstrap_R body = rpc_Message_get_bootstrap(msg);
        if (!malformed(c, m)) handle_bootstrap(c, body);
        break;
    }
    case rpc_Message_resolve: {
        rpc_Resolve_R body = rpc_Message_get_resolve(msg);
        if (!malformed(c, m)) handle_resolve(c, body);
        break;
    }
    case rpc_Message_disembargo: {
        rpc_Disembargo_R body = rpc_Message_get_disembargo(msg);
        if (!malformed(c, m)) handle_disembargo(c, mp, body);
        break;
    }
    case rpc_Message_abort: {
        rpc_Exception_R body = rpc_Message_get_abort(msg);
        if (malformed(c, m)) break;
        capnp_text reason = rpc_Exception_get_reason(body);
        char buf[600];
        snprintf(buf, sizeof buf, "peer aborted the connection: %.*s", (int)reason.len, reason.str);
        conn_close(c, buf);
        break;
    }
    case rpc_Message_unimplemented: {
        rpc_Message_R body = rpc_Message_get_unimplemented(msg);
        if (!malformed(c, m)) handle_unimplemented(c, body);
        break;
    }
    default: /* only the members above are structs we understand */
        if (!malformed(c, m)) send_unimplemented(c, m);
        break;
    }
    msg_destroy(owned);
}

/* ------------------------------------------------------------ sending */

void proto_send_call(struct rpc_conn *c, struct rpc_promise *p, struct rpc_req *req)
{
    uint32_t qid = idalloc_get(&c->qids);
    if (idmap_put(&c->questions, qid, p) < 0) {
        idalloc_put(&c->qids, qid);
        promise_deliver(p, response_error("out of memory", 0));
        return;
    }
    p->id = qid;
    p->in_table = true;
    p->refs++; /* until the Return */
    rpc_Call_set_questionId(req->call, qid);
    write_target(rpc_Call_init_target(req->call), req->target);
    if (req->ncaps) {
        rpc_CapDescriptor_LB l = rpc_Payload_init_capTable(req->payload, req->ncaps);
        p->param_exports = malloc(sizeof(uint32_t) * req->ncaps);
        for (uint32_t i = 0; i < req->ncaps; i++) {
            uint32_t id;
            bool did;
            proto_write_capdesc(c, rpc_CapDescriptor_LB_at(l, i), req->caps[i], &id, &did);
            if (did && p->param_exports) p->param_exports[p->nparam_exports++] = id;
        }
    }
    conn_send(c, &req->bld);
}

uint32_t proto_bootstrap(struct rpc_conn *c, struct rpc_promise *p, const uint8_t *id, size_t len)
{
    uint32_t qid = idalloc_get(&c->qids);
    if (idmap_put(&c->questions, qid, p) < 0) {
        idalloc_put(&c->qids, qid);
        promise_deliver(p, response_error("out of memory", 0));
        return qid;
    }
    p->id = qid;
    p->in_table = true;
    p->refs++;
    struct capnp_builder b;
    rpc_Bootstrap_B boot = rpc_Message_init_bootstrap(new_msg(&b));
    rpc_Bootstrap_set_questionId(boot, qid);
    if (len)
        capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(boot), (const char *)id,
                             (uint32_t)len);
    send_free(c, &b);
    return qid;
}
