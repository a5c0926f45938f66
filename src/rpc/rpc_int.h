/*
 * rpc internals shared by cap.c (caps, calls, promises), conn.c
 * (transport), proto.c (protocol messages), tables.c and vat.c. The wire
 * layout is the generated rpc/gen/rpc.capnp.h.
 */
#ifndef CEON_RPC_INT_H
#define CEON_RPC_INT_H
#include <stdlib.h>

#include "capnp/frame.h"
#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc.h"
#include "rpc/tls.h"

#define RPC_MAX_OPS 64

/* ------------------------------------------------------------ idmap */

/* Open-addressing map from a 64-bit key to a pointer. */
struct idmap {
    uint64_t *keys;
    void **vals;
    uint32_t cap, len;
};
void *idmap_get(const struct idmap *m, uint64_t k);
int idmap_put(struct idmap *m, uint64_t k, void *v);
void *idmap_del(struct idmap *m, uint64_t k);
void idmap_free(struct idmap *m);
/* Iteration: for (uint32_t i = 0; idmap_next(m, &i, &k, &v);) */
bool idmap_next(const struct idmap *m, uint32_t *i, uint64_t *k, void **v);

/* IDs we allocate (questions, exports): lowest reusable first. */
struct idalloc {
    uint32_t *free;
    uint32_t nfree, cap, next;
};
uint32_t idalloc_get(struct idalloc *a);
void idalloc_put(struct idalloc *a, uint32_t id);
void idalloc_free(struct idalloc *a);

/* ------------------------------------------------------------ targets */

/* A MessageTarget or PromisedAnswer as read from the wire (rpc.capnp). */
struct wire_target {
    bool promised; /* promisedAnswer (else importedCap) */
    uint32_t id;
    uint32_t nops;
    uint16_t ops[RPC_MAX_OPS];
};

/* ------------------------------------------------------------ structures */

struct rpc_export {
    uint32_t id;
    struct rpc_cap *cap; /* strong */
    uint32_t refs;       /* times sent, minus released */
};

struct rpc_import {
    struct rpc_cap *cap; /* weak: the cap removes itself when freed */
    uint32_t remote_refs;
};

struct answer_waiter {
    struct answer_waiter *next;
    struct rpc_cap *cap; /* PROMISE, strong */
    uint32_t nops;
    uint16_t ops[RPC_MAX_OPS];
};

struct queued_msg {
    struct queued_msg *next;
    struct capnp_msg *msg;
};

struct rpc_answer {
    uint32_t id;
    bool returned, finished, release_on_return;
    bool yourself;                /* sendResultsTo.yourself: results stay here */
    struct rpc_promise *redirect; /* our question answered by takeFromOtherQuestion */
    struct rpc_call *call;        /* in flight */
    struct capnp_builder *bld;    /* our Return, kept for pipelined calls */
    /* after return, kept until Finish for pipelined calls */
    char *exception;
    struct capnp_msg result_msg;
    bool have_msg;
    capnp_ptr_r content;
    struct rpc_cap **caps;
    uint32_t ncaps;
    uint32_t *result_exports; /* export ids counted in the Return */
    uint32_t nresult_exports;
    struct queued_msg *queue, *queue_tail; /* messages waiting for the return */
    struct answer_waiter *waiters;         /* promise caps on these results */
};

struct rpc_promise {
    int refs;
    struct rpc_conn *conn; /* NULL: local call */
    uint32_t id;
    bool returned, finish_sent, in_table;
    rpc_response_fn cb;
    void *ud;
    struct rpc_response *resp; /* kept when cb is NULL, or local (pipelining) */
    uint32_t *param_exports;
    uint32_t nparam_exports;
};

struct rpc_call {
    struct rpc_vat *vat;
    struct rpc_conn *conn;     /* network call: answer goes here */
    struct rpc_answer *answer; /* NULL once the connection dropped it */
    struct rpc_promise *local; /* local call: response goes here */
    uint64_t iface;
    uint16_t method;
    bool cancelled;
    /* params */
    struct capnp_msg *msg; /* owns the incoming message (or the request's builder view) */
    struct capnp_builder *req_bld;
    capnp_ptr_r params;
    struct rpc_cap **pcaps;
    uint32_t npcaps;
    /* results: a Message{return} under construction */
    struct capnp_builder out;
    rpc_Return_B ret;
    rpc_Payload_B payload;
    capnp_ptr_b results;
    bool results_init;
    struct rpc_cap **rcaps;
    uint32_t nrcaps, rcap_cap;
};

struct rpc_req {
    struct rpc_cap *target;
    uint64_t iface;
    uint16_t method;
    struct capnp_builder bld; /* a Message{call} */
    rpc_Call_B call;
    rpc_Payload_B payload;
    capnp_ptr_b params;
    struct rpc_cap **caps;
    uint32_t ncaps, cap_cap;
};

struct rpc_conn {
    struct rpc_vat *vat;
    struct rpc_conn *next, *prev; /* vat's list */
    struct rpc_conn *dirty_next;
    bool dirty;
    int refs;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_handle_t h;
        uv_stream_t s;
    } h;
    bool is_pipe, handle_open, connected, closed, client;
    uv_timer_t idle;
    bool idle_open;
    uint64_t last_rx;
    /* Server side: until the peer restores a service (auth_timeout_ms). */
    uv_timer_t auth;
    bool auth_open, authed;
    bool accepted; /* from a listener: counted in the vat's naccepted */
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai;
    struct sturdy_ref peer;                           /* client: where we connect to */
    char key[STURDY_MAX_HOST + STURDY_MAX_PATH + 80]; /* reuse key */
    struct tls_session *tls;
    struct capnp_framer framer;
    char *error; /* why it closed */
    /* output: serialized plaintext waiting for the flush */
    uint8_t *out;
    size_t out_len, out_cap;
    size_t write_queue; /* bytes handed to libuv, not yet written */
    /* plaintext input not yet framed and handled: in[in_head..in_len) */
    uint8_t *in;
    size_t in_head, in_len, in_cap;
    /* tables */
    struct idmap questions, answers, imports, exports, export_by_cap;
    struct idalloc qids, eids;
    uint32_t nanswers_live;
};

struct svc_entry {
    uint8_t hash[32];
    struct rpc_cap *cap;
};

struct rpc_vat {
    uv_loop_t *loop;
    struct tls_key *key;
    bool tls;
    struct rpc_vat_config cfg;
    struct rpc_conn *conns;
    struct rpc_conn *dirty;
    uv_prepare_t flush;
    bool flush_active;
    uv_handle_t **listeners;
    uint32_t nlisteners;
    int bound_port;
    bool have_public;
    struct sturdy_ref public_addr;
    struct svc_entry *svcs;
    uint32_t nsvcs, svc_cap;
    rpc_restore_fn restore;
    void *restore_ud;
    struct rpc_cap *bootstrap;
    bool freeing;
    uint32_t naccepted;           /* open connections from listeners */
    uint64_t accept_error_logged; /* uv_now of the last accept error logged */
    uint64_t refusal_logged;      /* uv_now of the last over-the-limit log */
};

static inline void msg_destroy(struct capnp_msg *m)
{
    if (m) {
        capnp_msg_free(m);
        free(m);
    }
}

/* ------------------------------------------------------------ cap.c, call.c */

/* Exception.Type values for response_error and finish_call. */
enum {
    EXC_FAILED = rpc_Exception_Type_failed,
    EXC_DISCONNECTED = rpc_Exception_Type_disconnected,
    EXC_UNIMPLEMENTED = rpc_Exception_Type_unimplemented,
};

/* A statically allocated broken cap for out-of-memory paths: never freed. */
extern struct rpc_cap oom_cap;
/* Appends a new reference to c to a growable cap list: its index, or
 * UINT32_MAX when out of memory. */
uint32_t cap_list_add(struct rpc_cap ***arr, uint32_t *n, uint32_t *cap, struct rpc_cap *c);

struct rpc_cap *cap_new(enum rpc_cap_kind kind);
/* Applies a pointer path to results content; caps is its cap table. */
struct rpc_cap *cap_from_path(capnp_ptr_r content, const uint16_t *ops, uint32_t nops,
                              struct rpc_cap **caps, uint32_t ncaps);
/* Delivers an incoming call to target (local dispatch or forwarding). */
void cap_deliver(struct rpc_cap *target, struct rpc_call *call);
struct rpc_call *call_new(struct rpc_vat *v);
void call_free(struct rpc_call *call);
void promise_deliver(struct rpc_promise *p, struct rpc_response *r);
struct rpc_response *response_error(const char *msg, int type);
/* The import cap became unusable: the connection is gone. */
void cap_break_import(struct rpc_cap *c, const char *why);

/* ------------------------------------------------------------ promise.c */

struct rpc_cap *promise_cap_new(void);
/* Resolves pc to `to` (reference taken over) and delivers what waited. */
void promise_cap_resolve(struct rpc_cap *pc, struct rpc_cap *to);
/* An incoming call to a promise cap: delivered now or when it resolves. */
void promise_cap_deliver(struct rpc_cap *pc, struct rpc_call *call);
/* A request to a promise cap not yet resolved: kept with its promise p
 * until then (both taken over). */
void promise_cap_queue(struct rpc_cap *pc, struct rpc_req *req, struct rpc_promise *p);
void promise_cap_free(struct rpc_cap *pc);
/* Resolves every promise waiting on answer a (returned or going away). */
void answer_resolve_waiters(struct rpc_answer *a, const char *why);

/* ------------------------------------------------------------ conn.c */

void conn_ref(struct rpc_conn *c);
void conn_unref(struct rpc_conn *c);
/* Queues a message for sending (flushed before the loop polls). */
int conn_send(struct rpc_conn *c, struct capnp_builder *b);
/* Sends Abort (if possible) and closes. */
void conn_abort(struct rpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Closes without a message (peer gone). */
void conn_close(struct rpc_conn *c, const char *why);
struct rpc_conn *conn_new(struct rpc_vat *v);
void conn_start_reading(struct rpc_conn *c);
/* The peer restored a service: the pre-authentication deadline is off. */
void conn_authenticated(struct rpc_conn *c);
struct rpc_conn *conn_connect(struct rpc_vat *v, const struct sturdy_ref *ref);
void vat_flush_now(struct rpc_vat *v);

/* ------------------------------------------------------------ proto.c */

/* Handles one complete incoming message (takes ownership of m). */
void proto_handle(struct rpc_conn *c, struct capnp_msg *m);
/* Writes a cap descriptor for cap into d, exporting as needed; records
 * new senderHosted ids in *exported (may be NULL). */
void proto_write_capdesc(struct rpc_conn *c, rpc_CapDescriptor_B d, struct rpc_cap *cap,
                         uint32_t *exported, bool *did_export);
void proto_send_call(struct rpc_conn *c, struct rpc_promise *p, struct rpc_req *req);
void proto_send_finish(struct rpc_conn *c, uint32_t qid);
void proto_send_release(struct rpc_conn *c, uint32_t id, uint32_t n);
void proto_send_return(struct rpc_call *call, const char *exception, int type);
uint32_t proto_bootstrap(struct rpc_conn *c, struct rpc_promise *p, const uint8_t *id, size_t len);
/* Drops every table entry (connection closed). */
void proto_teardown(struct rpc_conn *c);

/* ------------------------------------------------------------ tables.c */

int read_target(rpc_MessageTarget_R t, struct wire_target *out);
void write_target(rpc_MessageTarget_B t, struct rpc_cap *cap);
void release_export(struct rpc_conn *c, uint32_t id, uint32_t n);
/* A reference to import id (counted once more), NULL over the limit. */
struct rpc_cap *import_cap(struct rpc_conn *c, uint32_t id);
/* The cap a promisedAnswer target names: NULL with *ans NULL when the
 * answer is unknown, NULL with *queue set when it has not returned. */
struct rpc_cap *answer_cap(struct rpc_conn *c, const struct wire_target *t, bool *queue,
                           struct rpc_answer **ans);
int read_captable(struct rpc_conn *c, rpc_CapDescriptor_LR l, struct rpc_cap ***out, uint32_t *n);
void free_caps(struct rpc_cap **caps, uint32_t n);
/* NULL (and the connection aborted) on a duplicate ID or over the limit. */
struct rpc_answer *answer_new(struct rpc_conn *c, uint32_t id);
void answer_free(struct rpc_conn *c, struct rpc_answer *a);
void release_result_exports(struct rpc_conn *c, struct rpc_answer *a);
/* Parks a message until the answer returns (takes *m). */
void queue_on(struct rpc_answer *a, struct capnp_msg **m);

/* ------------------------------------------------------------ vat.c */

struct rpc_cap *vat_lookup_service(struct rpc_vat *v, const uint8_t *id, size_t len, bool *found);
void vat_conn_closed(struct rpc_vat *v, struct rpc_conn *c);
#endif
