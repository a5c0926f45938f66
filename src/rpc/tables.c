/* The connection's tables: message targets, exports and imports (with
 * their reference counts), cap descriptors, answers, and tearing it all
 * down when the connection goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"

/* ------------------------------------------------------------ targets */

static int read_promised(rpc_PromisedAnswer_R pa, struct wire_target *out)
{
    out->promised = true;
    out->nops = 0;
    out->id = rpc_PromisedAnswer_get_questionId(pa);
    rpc_PromisedAnswer_Op_LR ops = rpc_PromisedAnswer_get_transform(pa);
    for (uint32_t i = 0; i < rpc_PromisedAnswer_Op_LR_len(ops); i++) {
        rpc_PromisedAnswer_Op_R op = rpc_PromisedAnswer_Op_LR_at(ops, i);
        enum rpc_PromisedAnswer_Op_which k = rpc_PromisedAnswer_Op_which(op);
        if (k == rpc_PromisedAnswer_Op_noop) continue;
        if (k != rpc_PromisedAnswer_Op_getPointerField || out->nops >= RPC_MAX_OPS) return -1;
        out->ops[out->nops++] = rpc_PromisedAnswer_Op_get_getPointerField(op);
    }
    return 0;
}

int read_target(rpc_MessageTarget_R t, struct wire_target *out)
{
    enum rpc_MessageTarget_which which = rpc_MessageTarget_which(t);
    memset(out, 0, offsetof(struct wire_target, ops));
    if (which == rpc_MessageTarget_importedCap) {
        out->id = rpc_MessageTarget_get_importedCap(t);
        return 0;
    }
    if (which != rpc_MessageTarget_promisedAnswer) return -1;
    return read_promised(rpc_MessageTarget_get_promisedAnswer(t), out);
}

static void write_promised(rpc_PromisedAnswer_B pa, uint32_t qid, const uint16_t *ops, uint32_t n)
{
    rpc_PromisedAnswer_set_questionId(pa, qid);
    rpc_PromisedAnswer_Op_LB l = rpc_PromisedAnswer_init_transform(pa, n);
    for (uint32_t i = 0; i < n; i++)
        rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_LB_at(l, i), ops[i]);
}

void write_target(rpc_MessageTarget_B t, struct rpc_cap *cap)
{
    if (cap->kind == RPC_CAP_IMPORT)
        rpc_MessageTarget_set_importedCap(t, cap->id);
    else
        write_promised(rpc_MessageTarget_init_promisedAnswer(t), cap->pq->id, cap->ops, cap->nops);
}

/* ------------------------------------------------------------ exports, imports */

void proto_write_capdesc(struct rpc_conn *c, rpc_CapDescriptor_B d, struct rpc_cap *cap,
                         uint32_t *exported, bool *did_export)
{
    *did_export = false;
    if (!cap) {
        rpc_CapDescriptor_set_none(d);
        return;
    }
    if (cap->conn == c && cap->kind == RPC_CAP_IMPORT) {
        rpc_CapDescriptor_set_receiverHosted(d, cap->id);
        return;
    }
    if (cap->conn == c && cap->kind == RPC_CAP_PIPELINE) {
        write_promised(rpc_CapDescriptor_init_receiverAnswer(d), cap->pq->id, cap->ops, cap->nops);
        return;
    }
    /* Local objects, broken caps and caps of other connections (proxied)
     * are hosted here. */
    struct rpc_export *e = idmap_get(&c->export_by_cap, (uintptr_t)cap);
    if (e && e->refs < UINT32_MAX) {
        e->refs++;
    } else {
        /* Every export counts, whatever made it. Calls and Bootstraps
         * fail once the table is over max_exports; one answer's cap
         * table can still add to it, so this is the backstop: a peer
         * that never releases loses the connection instead of growing
         * the table. The abort only marks the connection dead, so the
         * caller's answer stays valid. */
        if (e || c->exports.len >= 2 * (size_t)c->vat->cfg.max_exports) {
            rpc_CapDescriptor_set_none(d);
            conn_abort(c, "too many capabilities exported on this connection (limit %u)",
                       c->vat->cfg.max_exports);
            return;
        }
        e = xmalloc(sizeof *e);
        uint32_t id = idalloc_get(&c->eids);
        idmap_put(&c->exports, id, e);
        idmap_put(&c->export_by_cap, (uintptr_t)cap, e);
        e->id = id;
        e->cap = rpc_cap_ref(cap);
        e->refs = 1;
    }
    rpc_CapDescriptor_set_senderHosted(d, e->id);
    *exported = e->id;
    *did_export = true;
}

void release_export(struct rpc_conn *c, uint32_t id, uint32_t n)
{
    struct rpc_export *e = idmap_get(&c->exports, id);
    if (!e || n > e->refs) {
        conn_abort(c, "Release of export %u by %u is more than it holds", id, n);
        return;
    }
    e->refs -= n;
    if (e->refs > 0) return;
    idmap_del(&c->exports, id);
    idmap_del(&c->export_by_cap, (uintptr_t)e->cap);
    idalloc_put(&c->eids, id);
    struct rpc_cap *cap = e->cap;
    free(e);
    rpc_cap_unref(cap);
}

struct rpc_cap *import_cap(struct rpc_conn *c, uint32_t id)
{
    struct rpc_import *im = idmap_get(&c->imports, id);
    if (im) {
        im->remote_refs++;
        return rpc_cap_ref(im->cap);
    }
    if (c->imports.len >= c->vat->cfg.max_exports) return NULL;
    struct rpc_cap *cap = cap_new(RPC_CAP_IMPORT);
    im = xmalloc(sizeof *im);
    idmap_put(&c->imports, id, im);
    cap->conn = c;
    cap->id = id;
    conn_ref(c);
    im->cap = cap;
    im->remote_refs = 1;
    return cap;
}

struct rpc_cap *answer_cap(struct rpc_conn *c, const struct wire_target *t, bool *queue,
                           struct rpc_answer **ans)
{
    *queue = false;
    struct rpc_answer *a = idmap_get(&c->answers, t->id);
    *ans = a;
    if (!a) return NULL;
    if (a->state != ANSWER_RETURNED) {
        *queue = true;
        return NULL;
    }
    if (a->exception) return rpc_cap_broken(a->exception);
    if (!a->have_msg) return rpc_cap_broken("called null capability");
    /* Each pipelined call gets the whole traversal budget again: the
     * kept answer is ours (we built it), and its budget would otherwise
     * wear out after some millions of calls and fail every later one. */
    capnp_msg_set_limits(&a->result_msg, c->vat->cfg.traversal_limit_words, CAPNP_DEFAULT_NESTING);
    return cap_from_path(a->content, t->ops, t->nops, a->caps, a->ncaps);
}

/* Reads a cap table into caps; -1 on a protocol violation. */
int read_captable(struct rpc_conn *c, rpc_CapDescriptor_LR l, struct rpc_cap ***out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    uint32_t len = rpc_CapDescriptor_LR_len(l);
    if (len == 0) return 0;
    if (len > c->vat->cfg.max_exports) return -1;
    struct rpc_cap **caps = calloc(len, sizeof *caps);
    if (!caps) return -1;
    *out = caps;
    for (uint32_t i = 0; i < len; i++) {
        rpc_CapDescriptor_R d = rpc_CapDescriptor_LR_at(l, i);
        struct wire_target t;
        bool queue;
        struct rpc_answer *a;
        switch (rpc_CapDescriptor_which(d)) {
        case rpc_CapDescriptor_none:
            break;
        case rpc_CapDescriptor_senderHosted:
            caps[i] = import_cap(c, rpc_CapDescriptor_get_senderHosted(d));
            if (!caps[i]) goto fail;
            break;
        case rpc_CapDescriptor_senderPromise:
            caps[i] = import_cap(c, rpc_CapDescriptor_get_senderPromise(d));
            if (!caps[i]) goto fail;
            break;
        case rpc_CapDescriptor_receiverHosted: {
            struct rpc_export *e = idmap_get(&c->exports, rpc_CapDescriptor_get_receiverHosted(d));
            if (!e) goto fail;
            caps[i] = rpc_cap_ref(e->cap);
            break;
        }
        case rpc_CapDescriptor_receiverAnswer: {
            if (read_promised(rpc_CapDescriptor_get_receiverAnswer(d), &t) < 0) goto fail;
            caps[i] = answer_cap(c, &t, &queue, &a);
            if (!a) goto fail;
            if (queue) {
                /* Known when we answer that question. */
                struct answer_waiter *w = xmalloc(sizeof *w);
                caps[i] = promise_cap_new();
                w->cap = rpc_cap_ref(caps[i]);
                w->nops = t.nops;
                memcpy(w->ops, t.ops, sizeof t.ops[0] * t.nops);
                w->next = a->waiters;
                a->waiters = w;
            }
            break;
        }
        default:
            caps[i] = rpc_cap_broken("third-party capabilities are not supported");
            break;
        }
        *n = i + 1;
    }
    *n = len;
    return 0;
fail:
    *n = len;
    return -1;
}

void free_caps(struct rpc_cap **caps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        rpc_cap_unref(caps[i]);
    free(caps);
}

/* ------------------------------------------------------------ answers */

void answer_free(struct rpc_conn *c, struct rpc_answer *a)
{
    idmap_del(&c->answers, a->id);
    answer_resolve_waiters(a, conn_dead(c) ? (c->error ? c->error : "disconnected")
                                           : "the question was dropped before it returned");
    if (a->redirect) {
        struct rpc_promise *p = a->redirect;
        a->redirect = NULL;
        promise_deliver(p, response_error("the results went away", 0));
        rpc_promise_unref(p);
    }
    if (a->call) a->call->answer = NULL;
    conn_credit(c, a->held, true);
    free_caps(a->caps, a->ncaps);
    if (a->have_msg) capnp_msg_free(&a->result_msg);
    if (a->bld) {
        capnp_builder_free(a->bld);
        free(a->bld);
    }
    while (a->queue) {
        struct queued_msg *q = a->queue;
        a->queue = q->next;
        conn_credit(c, q->bytes, false);
        msg_destroy(q->msg);
        free(q);
    }
    free(a->result_exports);
    free(a->exception);
    free(a);
}

void release_result_exports(struct rpc_conn *c, struct rpc_answer *a)
{
    for (uint32_t i = 0; i < a->nresult_exports && !conn_dead(c); i++)
        release_export(c, a->result_exports[i], 1);
    a->nresult_exports = 0;
}

struct rpc_answer *answer_new(struct rpc_conn *c, uint32_t id)
{
    if (idmap_get(&c->answers, id)) {
        conn_abort(c, "question %u is already in use", id);
        return NULL;
    }
    if (c->answers.len >= c->vat->cfg.max_questions) {
        conn_abort(c, "too many outstanding questions (limit %u)", c->vat->cfg.max_questions);
        return NULL;
    }
    struct rpc_answer *a = xcalloc(1, sizeof *a);
    idmap_put(&c->answers, id, a);
    a->id = id;
    a->state = ANSWER_RUNNING;
    return a;
}

void queue_on(struct rpc_conn *c, struct rpc_answer *a, struct capnp_msg **m,
              struct rpc_answer *own)
{
    struct queued_msg *q = xmalloc(sizeof *q);
    q->next = NULL;
    q->msg = *m;
    q->ans = own;
    q->bytes = msg_bytes(*m);
    conn_charge(c, q->bytes, false);
    *m = NULL;
    if (a->queue_tail && a->queue)
        a->queue_tail->next = q;
    else
        a->queue = q;
    a->queue_tail = q;
}

void proto_teardown(struct rpc_conn *c)
{
    const char *why = c->error ? c->error : "disconnected";
    uint64_t k;
    void *v;
    /* Questions: fail the ones still waiting. Collect first: callbacks may
     * change the tables. */
    uint32_t n = c->questions.len, i = 0, j = 0;
    struct rpc_promise **qs = calloc(n ? n : 1, sizeof *qs);
    for (uint32_t it = 0; qs && idmap_next(&c->questions, &it, &k, &v);)
        qs[j++] = v;
    for (i = 0; i < j; i++)
        qs[i]->in_table = false;
    idmap_free(&c->questions);
    for (i = 0; i < j; i++) {
        struct rpc_promise *p = qs[i];
        if (!p->returned) {
            promise_deliver(p, response_error(why, rpc_Exception_Type_disconnected));
            rpc_promise_unref(p);
        }
    }
    free(qs);
    while (c->answers.len) {
        uint32_t it = 0;
        idmap_next(&c->answers, &it, &k, &v);
        answer_free(c, v);
    }
    while (c->exports.len) {
        uint32_t it = 0;
        idmap_next(&c->exports, &it, &k, &v);
        struct rpc_export *e = v;
        idmap_del(&c->exports, k);
        struct rpc_cap *cap = e->cap;
        free(e);
        rpc_cap_unref(cap);
    }
    idmap_free(&c->export_by_cap);
    while (c->imports.len) {
        uint32_t it = 0;
        idmap_next(&c->imports, &it, &k, &v);
        struct rpc_import *im = v;
        idmap_del(&c->imports, k);
        cap_break_import(im->cap, why);
        free(im);
    }
}
