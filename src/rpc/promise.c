/* Promise caps: a capability that is known only later. The peer may name,
 * in a call's params, a capability inside the results of another of its
 * calls to us that we have not answered yet (CapDescriptor.receiverAnswer).
 * Calls to it, from the network or from local code, wait here in order
 * and go to the capability once the answer returns. */
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"

struct pending {
    struct pending *next;
    struct rpc_call *call;     /* an incoming call, or */
    struct rpc_req *req;       /* a local request whose response goes to */
    struct rpc_promise *relay; /* this promise */
};

struct rpc_cap *promise_cap_new(void)
{
    return cap_new(RPC_CAP_PROMISE);
}

static void push(struct rpc_cap *pc, struct pending *n)
{
    struct pending **tail = (struct pending **)&pc->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = n;
}

void promise_cap_deliver(struct rpc_cap *pc, struct rpc_call *call)
{
    if (pc->resolved) {
        cap_deliver(pc->resolved, call);
        return;
    }
    struct pending *n = calloc(1, sizeof *n);
    if (!n) {
        rpc_call_fail(call, "out of memory");
        return;
    }
    n->call = call;
    push(pc, n);
}

void promise_cap_queue(struct rpc_cap *pc, struct rpc_req *req, struct rpc_promise *p)
{
    struct pending *n = calloc(1, sizeof *n);
    if (!n) {
        rpc_req_free(req);
        promise_deliver(p, response_error("out of memory", 0));
        rpc_promise_unref(p);
        return;
    }
    n->req = req;
    n->relay = p;
    push(pc, n);
}

static void relay_done(void *ud, struct rpc_response *r)
{
    struct rpc_promise *p = ud;
    promise_deliver(p, r);
    rpc_promise_unref(p);
}

void promise_cap_resolve(struct rpc_cap *pc, struct rpc_cap *to)
{
    if (pc->resolved) {
        rpc_cap_unref(to);
        return;
    }
    pc->resolved = to;
    rpc_cap_ref(pc); /* what waited may drop the last outside reference */
    while (pc->pending) {
        struct pending *n = pc->pending;
        pc->pending = n->next;
        if (n->call) {
            cap_deliver(to, n->call);
        } else {
            rpc_cap_unref(n->req->target);
            n->req->target = rpc_cap_ref(to);
            rpc_promise_unref(rpc_req_send(n->req, relay_done, n->relay));
        }
        free(n);
    }
    rpc_cap_unref(pc);
}

void promise_cap_free(struct rpc_cap *pc)
{
    /* Only reached once nothing waits: waiters hold a reference until
     * the promise resolves, and resolving delivers everything. */
    while (pc->pending) {
        struct pending *n = pc->pending;
        pc->pending = n->next;
        if (n->call) {
            rpc_call_fail(n->call, "capability dropped before it was known");
        } else {
            rpc_req_free(n->req);
            promise_deliver(n->relay, response_error("capability dropped", 0));
            rpc_promise_unref(n->relay);
        }
        free(n);
    }
    rpc_cap_unref(pc->resolved);
}

void answer_resolve_waiters(struct rpc_answer *a, const char *why)
{
    while (a->waiters) {
        struct answer_waiter *w = a->waiters;
        a->waiters = w->next;
        struct rpc_cap *to;
        if (why)
            to = rpc_cap_broken(why);
        else if (a->exception)
            to = rpc_cap_broken(a->exception);
        else if (!a->have_msg)
            to = rpc_cap_broken("called null capability");
        else
            to = cap_from_path(a->content, w->ops, w->nops, a->caps, a->ncaps);
        promise_cap_resolve(w->cap, to);
        rpc_cap_unref(w->cap);
        free(w);
    }
}
