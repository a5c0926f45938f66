/* The protocol, incoming: one function per message type. Peers that
 * break the rules get an Abort and lose the connection; nothing here
 * trusts a count or an ID from the wire. Handlers return -1 once the
 * connection is dead, up to proto_handle and the input loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc_int.h"
#include "util/log.h"

/* ------------------------------------------------------------ handlers */

static void answer_with(struct rpc_conn *c, struct rpc_answer *a, struct rpc_cap *cap,
                        const char *exception)
{
    struct rpc_call *call = call_new(c->vat);
    call->conn = c;
    conn_ref(c);
    call->answer = a;
    a->state = ANSWER_RUNNING;
    if (exception) {
        proto_send_return(call, exception, 0);
    } else {
        capnp_ptr_b_set_cap(rpc_call_results(call), rpc_call_add_cap(call, cap));
        proto_send_return(call, NULL, 0);
    }
    call_free(call);
}

/* Server side, before the peer restored a service: all it may do is
 * restore one, finish, abort, and call what a failed restore gave it
 * (which fails at once without reading the params). Anything else could
 * make us work or hold memory for a stranger. */
static bool preauth(const struct rpc_conn *c)
{
    return !c->client && !c->authed;
}

static int handle_bootstrap(struct rpc_conn *c, rpc_Bootstrap_R b)
{
    struct rpc_answer *a = answer_new(c, rpc_Bootstrap_get_questionId(b));
    if (!a) return -1;
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
    if (cap && c->exports.len > c->vat->cfg.max_exports) {
        /* The export limit holds for Bootstrap too (a restore that makes
         * a new object each time would grow the table). */
        answer_with(c, a, NULL, "too many capabilities exported on this connection");
    } else if (cap) {
        conn_authenticated(c);
        answer_with(c, a, cap, NULL);
    } else {
        answer_with(c, a, NULL, RPC_UNKNOWN_SERVICE);
    }
    rpc_cap_unref(cap);
    return conn_dead(c) ? -1 : 0;
}

/* Delivers a call whose answer a is registered and whose target is known. */
static int start_call(struct rpc_conn *c, struct rpc_answer *a, struct capnp_msg **m,
                      rpc_Call_R call_r, struct rpc_cap *target)
{
    struct rpc_call *call = call_new(c->vat);
    call->conn = c;
    conn_ref(c);
    call->answer = a;
    a->call = call;
    a->state = ANSWER_RUNNING;
    call->cancelled = a->finished;
    call->iface = rpc_Call_get_interfaceId(call_r);
    call->method = rpc_Call_get_methodId(call_r);
    rpc_Payload_R payload = rpc_Call_get_params(call_r);
    int rc = read_captable(c, rpc_Payload_get_capTable(payload), &call->pcaps, &call->npcaps);
    call->msg = *m;
    *m = NULL;
    /* The params are ours until the call returns: the peer's budget. */
    call->held = msg_bytes(call->msg);
    conn_charge(c, call->held, false);
    call->params = rpc_Payload_get_content(payload);
    if (rc < 0 || capnp_msg_error(call->msg)) {
        rpc_cap_unref(target);
        call_free(call);
        return conn_abort(c, "malformed call");
    }
    enum rpc_Call_sendResultsTo_which to =
        rpc_Call_sendResultsTo_which(rpc_Call_get_sendResultsTo(call_r));
    if (to == rpc_Call_sendResultsTo_yourself) {
        a->yourself = true; /* a tail call: the peer takes the results from us */
    } else if (to != rpc_Call_sendResultsTo_caller) {
        rpc_cap_unref(target);
        rpc_call_fail(call, "third-party sendResultsTo is not supported");
        return conn_dead(c) ? -1 : 0;
    }
    if (c->exports.len > c->vat->cfg.max_exports) {
        rpc_cap_unref(target);
        rpc_call_fail(call, "too many capabilities exported on this connection");
        return conn_dead(c) ? -1 : 0;
    }
    if (log_enabled(LOG_DEBUG))
        log_debug("rpc: call %u: interface %016llx method %u", a->id,
                  (unsigned long long)call->iface, call->method);
    cap_deliver(target, call);
    rpc_cap_unref(target);
    return conn_dead(c) ? -1 : 0;
}

static int handle_call(struct rpc_conn *c, struct capnp_msg **m, rpc_Call_R call_r)
{
    uint32_t qid = rpc_Call_get_questionId(call_r);
    struct wire_target t;
    if (read_target(rpc_Call_get_target(call_r), &t) < 0) return conn_abort(c, "bad call target");
    struct rpc_cap *target = NULL;
    if (!t.promised) {
        struct rpc_export *e = preauth(c) ? NULL : idmap_get(&c->exports, t.id);
        if (!e) return conn_abort(c, "call to unknown export %u", t.id);
        target = rpc_cap_ref(e->cap);
    } else {
        struct rpc_answer *ta = idmap_get(&c->answers, t.id);
        if (!ta) return conn_abort(c, "call on unknown question %u", t.id);
        if (ta->state != ANSWER_RETURNED) {
            if (preauth(c)) return conn_abort(c, "only Bootstrap before a service is restored");
            /* In the table from now on (counted against the limits, and
             * nameable by later calls, Finish and receiverAnswer); run
             * when ta returns. */
            struct rpc_answer *a = answer_new(c, qid);
            if (!a) return -1;
            a->state = ANSWER_QUEUED;
            queue_on(c, ta, m, a);
            return 0;
        }
        bool queue;
        target = answer_cap(c, &t, &queue, &ta);
    }
    if (preauth(c)) {
        /* Only a failed restore's exception, echoed without the params. */
        bool ok =
            target && target->kind == RPC_CAP_BROKEN &&
            rpc_CapDescriptor_LR_len(rpc_Payload_get_capTable(rpc_Call_get_params(call_r))) == 0;
        if (!ok) {
            rpc_cap_unref(target);
            return conn_abort(c, "only Bootstrap before a service is restored");
        }
        struct rpc_answer *a = answer_new(c, qid);
        if (a) answer_with(c, a, NULL, target->error);
        rpc_cap_unref(target);
        return conn_dead(c) ? -1 : 0;
    }
    struct rpc_answer *a = answer_new(c, qid);
    if (!a) {
        rpc_cap_unref(target);
        return -1;
    }
    return start_call(c, a, m, call_r, target);
}

/* A call that waited in another answer's queue (its own answer a is
 * QUEUED): that answer has returned, so its target is known now. */
int proto_run_queued_call(struct rpc_conn *c, struct rpc_answer *a, struct capnp_msg *m)
{
    struct capnp_msg *owned = m;
    rpc_Call_R call_r = rpc_Message_get_call(rpc_Message_read_root(m));
    struct wire_target t;
    bool queue;
    struct rpc_answer *ta;
    int rc;
    if (read_target(rpc_Call_get_target(call_r), &t) < 0) {
        rc = conn_abort(c, "bad call target");
    } else {
        struct rpc_cap *target = answer_cap(c, &t, &queue, &ta);
        if (!target || queue) { /* not reached: ta has just returned */
            rpc_cap_unref(target);
            rc = conn_abort(c, "call on question %u that is not answered", t.id);
        } else {
            rc = start_call(c, a, &owned, call_r, target);
        }
    }
    msg_destroy(owned);
    return rc;
}

static int handle_return(struct rpc_conn *c, struct capnp_msg **m, rpc_Return_R r)
{
    uint32_t id = rpc_Return_get_answerId(r);
    struct rpc_promise *p = idmap_get(&c->questions, id);
    if (!p || p->returned) return conn_abort(c, "Return for unknown question %u", id);
    if (rpc_Return_get_releaseParamCaps(r)) {
        /* releaseParamCaps: the peer counts our params' caps as released. */
        for (uint32_t i = 0; i < p->nparam_exports && !conn_dead(c); i++)
            release_export(c, p->param_exports[i], 1);
        p->nparam_exports = 0;
    }
    struct rpc_response *resp = NULL;
    switch (rpc_Return_which(r)) {
    case rpc_Return_results: {
        rpc_Payload_R payload = rpc_Return_get_results(r);
        resp = xcalloc(1, sizeof *resp);
        int rc = read_captable(c, rpc_Payload_get_capTable(payload), &resp->caps, &resp->ncaps);
        resp->msg = *m;
        *m = NULL;
        resp->content = rpc_Payload_get_content(payload);
        if (rc < 0 || capnp_msg_error(resp->msg)) {
            rpc_response_free(resp);
            return conn_abort(c, "malformed Return");
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
        if (!a || !a->yourself || a->redirect)
            return conn_abort(c, "takeFromOtherQuestion names a question that is not a tail call");
        if (a->state == ANSWER_RETURNED)
            proto_deliver_taken(p, a);
        else
            a->redirect = p; /* keeps the "awaiting Return" reference */
        return conn_dead(c) ? -1 : 0;
    }
    default:
        resp = response_error("unsupported kind of Return", 0);
        break;
    }
    /* Let go of the "awaiting Return" reference after delivery. */
    promise_deliver(p, resp);
    rpc_promise_unref(p);
    return conn_dead(c) ? -1 : 0;
}

static int handle_finish(struct rpc_conn *c, rpc_Finish_R f)
{
    uint32_t id = rpc_Finish_get_questionId(f);
    struct rpc_answer *a = idmap_get(&c->answers, id);
    if (!a || a->finished) return conn_abort(c, "Finish for unknown question %u", id);
    a->finished = true;
    bool release = rpc_Finish_get_releaseResultCaps(f);
    if (a->call) a->call->cancelled = true;
    if (a->state != ANSWER_RETURNED) {
        /* Queued or running: freed when it returns. */
        a->release_on_return = release;
        return 0;
    }
    /* Pipelined calls still queued on it keep it until they have run. */
    if (a->queue) return 0;
    if (release) release_result_exports(c, a);
    answer_free(c, a);
    return conn_dead(c) ? -1 : 0;
}

static int handle_disembargo(struct rpc_conn *c, struct capnp_msg **m, rpc_Disembargo_R d)
{
    rpc_Disembargo_context_R ctx = rpc_Disembargo_get_context(d);
    enum rpc_Disembargo_context_which which = rpc_Disembargo_context_which(ctx);
    if (which != rpc_Disembargo_context_senderLoopback)
        return conn_abort(c, "unexpected Disembargo context %u", (unsigned)which);
    struct wire_target t;
    if (read_target(rpc_Disembargo_get_target(d), &t) < 0)
        return conn_abort(c, "bad Disembargo target");
    struct rpc_cap *cap;
    if (!t.promised) {
        struct rpc_export *e = idmap_get(&c->exports, t.id);
        cap = e ? rpc_cap_ref(e->cap) : NULL;
    } else {
        bool queue;
        struct rpc_answer *a;
        cap = answer_cap(c, &t, &queue, &a);
        if (queue) {
            queue_on(c, a, m, NULL);
            return 0;
        }
    }
    while (cap && cap->kind == RPC_CAP_PROMISE && cap->resolved) {
        struct rpc_cap *to = rpc_cap_ref(cap->resolved);
        rpc_cap_unref(cap);
        cap = to;
    }
    if (!cap || cap->conn != c || (cap->kind != RPC_CAP_IMPORT && cap->kind != RPC_CAP_PIPELINE)) {
        rpc_cap_unref(cap);
        return conn_abort(c, "Disembargo target does not point back to the sender");
    }
    /* Everything we forwarded to the target is already queued for
     * sending, so the reply can go now and still arrive after it. */
    struct capnp_builder b;
    rpc_Disembargo_B out = rpc_Message_init_disembargo(proto_new_msg(&b));
    write_target(rpc_Disembargo_init_target(out), cap);
    rpc_Disembargo_context_set_receiverLoopback(rpc_Disembargo_init_context(out),
                                                rpc_Disembargo_context_get_senderLoopback(ctx));
    proto_send_free(c, &b);
    rpc_cap_unref(cap);
    return conn_dead(c) ? -1 : 0;
}

static int handle_resolve(struct rpc_conn *c, rpc_Resolve_R r)
{
    /* exception: calls on the promise will fail on their own */
    if (rpc_Resolve_which(r) != rpc_Resolve_cap) return 0;
    /* We keep calling the promise (the peer forwards), which keeps call
     * order without embargoes; take and drop the reference it carries. */
    rpc_CapDescriptor_R d = rpc_Resolve_get_cap(r);
    enum rpc_CapDescriptor_which kind = rpc_CapDescriptor_which(d);
    if (kind == rpc_CapDescriptor_senderHosted || kind == rpc_CapDescriptor_senderPromise) {
        struct rpc_cap *cap = import_cap(c, kind == rpc_CapDescriptor_senderHosted
                                                ? rpc_CapDescriptor_get_senderHosted(d)
                                                : rpc_CapDescriptor_get_senderPromise(d));
        if (!cap) return conn_abort(c, "too many imports");
        rpc_cap_unref(cap);
    }
    return 0;
}

static int handle_unimplemented(struct rpc_conn *c, rpc_Message_R inner)
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
    return conn_dead(c) ? -1 : 0;
}

static int send_unimplemented(struct rpc_conn *c, struct capnp_msg *m)
{
    /* The echo is never larger than what the peer sent: the copy may
     * read each word of the message once (a tree), and a message whose
     * pointers share targets (a DAG, which would copy out to many times
     * its size) fails the copy and gets an Abort instead. */
    size_t words = msg_bytes(m) / 8;
    capnp_msg_set_limits(m, words ? words : 1, CAPNP_DEFAULT_NESTING);
    struct capnp_builder b;
    rpc_Message_B out = proto_new_msg(&b);
    /* Message.unimplemented echoes the peer's message as it came, so it is
     * copied into the union's one pointer (rpc_Message_init_unimplemented
     * would make an empty Message there; the generated setter of the
     * AnyPointer member obsoleteSave gives the same slot), and then the
     * discriminant (u16 0) is set: the only hand-placed field in the vat,
     * checked by the generated reader in tests/unit/rpc/test_rpc_faults.c. */
    if (capnp_copy(rpc_Message_ptr_obsoleteSave(out), capnp_msg_root(m)) < 0 ||
        capnp_msg_error(m)) {
        capnp_builder_free(&b);
        return conn_abort(c, "unknown message that cannot be echoed: %s",
                          capnp_msg_error(m) ? capnp_msg_error(m) : "copy failed");
    }
    capnp_struct_b_set_u16(out.b, 0, rpc_Message_unimplemented);
    proto_send_free(c, &b);
    return conn_dead(c) ? -1 : 0;
}

/* Aborts when reading the message so far found it malformed. Each case
 * below reads its member first, so the check covers it. */
static bool malformed(struct rpc_conn *c, struct capnp_msg *m)
{
    if (!capnp_msg_error(m)) return false;
    conn_abort(c, "malformed message: %s", capnp_msg_error(m));
    return true;
}

/* What a peer may send before it restored a service (see preauth()). */
static bool allowed_preauth(enum rpc_Message_which w)
{
    return w == rpc_Message_bootstrap || w == rpc_Message_finish || w == rpc_Message_abort ||
           w == rpc_Message_call;
}

int proto_handle(struct rpc_conn *c, struct capnp_msg *owned)
{
    struct capnp_msg *m = owned, **mp = &owned;
    rpc_Message_R msg = rpc_Message_read_root(m);
    enum rpc_Message_which which = rpc_Message_which(msg);
    int rc = -1;
    if (conn_dead(c)) {
        msg_destroy(owned);
        return -1;
    }
    if (preauth(c) && !allowed_preauth(which)) {
        conn_abort(c, "only Bootstrap before a service is restored");
        msg_destroy(owned);
        return -1;
    }
    switch (which) {
    case rpc_Message_call: {
        rpc_Call_R body = rpc_Message_get_call(msg);
        if (!malformed(c, m)) rc = handle_call(c, mp, body);
        break;
    }
    case rpc_Message_return: {
        rpc_Return_R body = rpc_Message_get_return(msg);
        if (!malformed(c, m)) rc = handle_return(c, mp, body);
        break;
    }
    case rpc_Message_finish: {
        rpc_Finish_R body = rpc_Message_get_finish(msg);
        if (!malformed(c, m)) rc = handle_finish(c, body);
        break;
    }
    case rpc_Message_release: {
        rpc_Release_R body = rpc_Message_get_release(msg);
        if (!malformed(c, m)) {
            release_export(c, rpc_Release_get_id(body), rpc_Release_get_referenceCount(body));
            rc = conn_dead(c) ? -1 : 0;
        }
        break;
    }
    case rpc_Message_bootstrap: {
        rpc_Bootstrap_R body = rpc_Message_get_bootstrap(msg);
        if (!malformed(c, m)) rc = handle_bootstrap(c, body);
        break;
    }
    case rpc_Message_resolve: {
        rpc_Resolve_R body = rpc_Message_get_resolve(msg);
        if (!malformed(c, m)) rc = handle_resolve(c, body);
        break;
    }
    case rpc_Message_disembargo: {
        rpc_Disembargo_R body = rpc_Message_get_disembargo(msg);
        if (!malformed(c, m)) rc = handle_disembargo(c, mp, body);
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
        if (!malformed(c, m)) rc = handle_unimplemented(c, body);
        break;
    }
    default: /* only the members above are structs we understand */
        if (!malformed(c, m)) rc = send_unimplemented(c, m);
        break;
    }
    msg_destroy(owned);
    return rc < 0 || conn_dead(c) ? -1 : 0;
}
