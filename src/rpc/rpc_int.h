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
#include "util/addrlimit.h"
#include "util/xalloc.h"

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

/* Owned by the connection's export table; `refs` counts the peer's
 * references (descriptors sent minus Released), not ours. */
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

/* A message parked on an answer that has not returned (a pipelined call
 * or Disembargo); its bytes count against the connection's budget. */
struct queued_msg {
    struct queued_msg *next;
    struct capnp_msg *msg;
    struct rpc_answer *ans; /* the call's own answer (QUEUED), NULL for a Disembargo */
    size_t bytes;
};

/* Every question the peer asked is in the answer table from its arrival:
 * QUEUED (a call pipelined on an answer that has not returned; its
 * message waits in that answer's queue), RUNNING (delivered, not
 * returned), RETURNED (kept until the peer's Finish for pipelining).
 * `finished` is the peer's Finish, which may come in any state. */
enum answer_state { ANSWER_QUEUED, ANSWER_RUNNING, ANSWER_RETURNED };

/* Owned by the connection's answer table alone; rpc_call and queued_msg
 * point at it without a reference and are detached when it goes. */
struct rpc_answer {
    uint32_t id;
    enum answer_state state;
    bool finished, release_on_return;
    size_t held;                  /* bytes of the kept Return, charged to the connection */
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

/* References: the caller of rpc_req_send (until rpc_promise_unref), the
 * question table while awaiting the Return, each pipeline cap on it, a
 * local call answering it, a promise cap's queue holding it. */
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

/* Owned by whoever must answer it: the dispatch function (until
 * rpc_call_return/fail), a promise cap's pending list, or a forwarded
 * request's callback. */
struct rpc_call {
    struct rpc_vat *vat;
    size_t held;               /* bytes of the params message charged to conn */
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

/* A connection's life. DEAD: closed for the protocol (no input handled,
 * nothing new sent) but its tables are intact until the vat's prepare or
 * check callback tears it down (conn_reap), so a handler that caused the
 * close still holds valid pointers until it has returned. GONE: torn
 * down; the handle may still be closing, and an accepted connection
 * keeps its slot until it is closed. */
enum conn_state { CONN_CONNECTING, CONN_OPEN, CONN_DEAD, CONN_GONE };
/* Flow control: PAUSED when the connection's budget is spent. */
enum conn_read { READ_OFF, READ_ON, READ_PAUSED };

/* References: the vat's list (until the handle has closed), each pending
 * uv_write, each open libuv handle, the dirty and dead lists, every
 * import cap, every promise and call on it. */
struct rpc_conn {
    struct rpc_vat *vat;          /* NULL once the vat is freed (closing handles) */
    struct rpc_conn *next, *prev; /* vat's list */
    struct rpc_conn *dirty_next, *dead_next;
    bool dirty;
    enum conn_state state;
    enum conn_read reading;
    bool graceful;      /* DEAD: send what is queued, then shut down */
    bool was_open;      /* reached CONN_OPEN (it has a connected stream) */
    bool shutting_down; /* uv_shutdown pending */
    bool slot_held;     /* accepted: counted in the vat's naccepted */
    int refs;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_handle_t h;
        uv_stream_t s;
    } h;
    bool is_pipe, handle_open, client;
    /* One timer for every deadline below (0 = not set). */
    uv_timer_t timer;
    bool timer_open;
    uint64_t last_rx;
    uint64_t auth_due;   /* server side: restore a service by then */
    uint64_t drain_due;  /* reading paused: the peer must drain by then */
    uint64_t close_due;  /* shutting down: force the close then */
    uint64_t idle_due;   /* next look at how long the peer was quiet */
    bool authed;         /* server side: a service was restored */
    struct addr_key src; /* accepted TCP: the source prefix counted in per_addr */
    bool src_counted;
    /* Bytes this connection makes us hold besides its output: params of
     * calls in flight and messages queued on answers (freed as we make
     * progress), kept answers (freed by the peer's Finish, which we must
     * read: they count for pausing, not against resuming). */
    size_t held, held_kept;
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
};

static inline bool conn_dead(const struct rpc_conn *c)
{
    return c->state >= CONN_DEAD;
}

struct svc_entry {
    uint8_t hash[32];
    struct rpc_cap *cap;
};

/* Restored capabilities by hashed ID: a repeated restore neither reads
 * the store again nor makes a new object (which would be a new export). */
struct restore_entry {
    uint8_t hash[32];
    struct rpc_cap *cap; /* strong */
    uint64_t used;       /* for eviction: least recently used goes */
};

struct rpc_vat {
    uv_loop_t *loop;
    struct tls_key *key;
    bool tls;
    struct rpc_vat_config cfg;
    struct rpc_conn *conns;
    struct rpc_conn *dirty, *dead;
    /* Output and teardown run from both: prepare (before the loop
     * polls) and check (right after, for closes caused by input). */
    uv_prepare_t flush;
    uv_check_t check;
    bool flush_active;
    int handles_open; /* flush and check: the vat is freed when both closed */
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
    struct restore_entry *rcache;
    uint32_t nrcache;
    uint64_t rcache_clock;
    uint32_t naccepted;                        /* open connections from listeners */
    uint32_t nauthed;                          /* of those, the ones that restored a service */
    struct addr_limit per_addr;                /* accepted TCP connections per source prefix */
    uint64_t accept_error_logged;              /* uv_now of the last accept error logged */
    uint64_t refusal_logged;                   /* uv_now of the last over-the-limit log */
    uint64_t refused_full, refused_per_source; /* for rpc_vat_stats */
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

/* ------------------------------------------------------------ conn.c, conn_io.c */

void conn_ref(struct rpc_conn *c);
void conn_unref(struct rpc_conn *c);
/* Queues a message for sending (flushed before the loop polls). -1 when
 * the connection is dead or went dead now (over its output limit). */
int conn_send(struct rpc_conn *c, struct capnp_builder *b);
/* Sends Abort (if possible) and marks the connection dead. Returns -1,
 * for handlers to pass up. */
int conn_abort(struct rpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks the connection dead without a message (peer gone); the teardown
 * runs from the loop (conn_reap), never inside the caller. */
void conn_close(struct rpc_conn *c, const char *why);
struct rpc_conn *conn_new(struct rpc_vat *v);
void conn_start_reading(struct rpc_conn *c);
/* The peer restored a service: the pre-authentication deadline is off. */
void conn_authenticated(struct rpc_conn *c);
struct rpc_conn *conn_connect(struct rpc_vat *v, const struct sturdy_ref *ref);
/* Flushes output, resumes paused readers, tears down dead connections. */
void vat_flush_now(struct rpc_vat *v);
/* Frames and handles buffered input (conn_io.c). */
void conn_drain_input(struct rpc_conn *c);
/* uv_read_start on the stream (conn_io.c); closes on failure. */
void conn_read_start(struct rpc_conn *c);
/* Schedules a flush (and a resume check) from the loop. */
void conn_mark_dirty(struct rpc_conn *c);
/* Hands TLS output to the socket. */
void conn_flush_tls(struct rpc_conn *c);
/* (Re)arms the connection's one timer for its nearest deadline. */
void conn_arm_timer(struct rpc_conn *c);
void conn_timer_init(struct rpc_conn *c);
/* Flow control: bytes held for the peer besides output (see held). */
void conn_charge(struct rpc_conn *c, size_t n, bool kept);
void conn_credit(struct rpc_conn *c, size_t n, bool kept);
/* Output + held bytes against the budget: pauses or schedules resuming. */
void conn_check_budget(struct rpc_conn *c);
size_t msg_bytes(const struct capnp_msg *m);

/* ------------------------------------------------------------ proto.c */

/* Handles one complete incoming message (takes ownership of m). Returns
 * -1 when the connection went dead (the caller stops handling input). */
int proto_handle(struct rpc_conn *c, struct capnp_msg *m);
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
/* Our question p was answered with takeFromOtherQuestion naming answer a
 * (a tail call): a's results become p's response. */
void proto_deliver_taken(struct rpc_promise *p, struct rpc_answer *a);
/* A new outgoing Message in b; the caller picks its member. */
rpc_Message_B proto_new_msg(struct capnp_builder *b);
/* conn_send, then frees the builder. */
void proto_send_free(struct rpc_conn *c, struct capnp_builder *b);
/* Runs a call that waited in another answer's queue (its own answer a is
 * QUEUED); takes m. -1 when the connection went dead. */
int proto_run_queued_call(struct rpc_conn *c, struct rpc_answer *a, struct capnp_msg *m);

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
/* Parks a message until answer a returns (takes *m); own is the queued
 * call's own answer (QUEUED), NULL for other messages. */
void queue_on(struct rpc_conn *c, struct rpc_answer *a, struct capnp_msg **m,
              struct rpc_answer *own);

/* ------------------------------------------------------------ vat.c */

struct rpc_cap *vat_lookup_service(struct rpc_vat *v, const uint8_t *id, size_t len, bool *found);
/* The connection's handle is closed: off the vat's list, slot freed. */
void vat_conn_closed(struct rpc_vat *v, struct rpc_conn *c);
#endif
