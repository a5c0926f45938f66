/*
 * rpc: a Cap'n Proto RPC vat (level 1, two-party) on libuv.
 *
 * Capabilities are `struct rpc_cap` handles, reference counted
 * (rpc_cap_ref/rpc_cap_unref). A cap is one of: a local object (an
 * rpc_object, whose first member is its cap), an import from a connection,
 * a pipelined promise (a capability inside the future result of a call),
 * or broken (carries an error text). Every call goes through the same API
 * whatever the kind; results come back as an rpc_response.
 *
 * Services implement `struct rpc_object` with a dispatch function that
 * gets an `struct rpc_call`: the method, its params, a results builder and
 * a cap table. The call is answered with rpc_call_return or rpc_call_fail,
 * either inside dispatch or later (asynchronously); until then the call
 * stays valid even if the connection goes away (its answer is dropped).
 *
 * Everything runs on the vat's loop thread. Callbacks may run before the
 * function that caused them returns only where documented.
 */
#ifndef CEON_RPC_RPC_H
#define CEON_RPC_RPC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "capnp/capnp.h"
#include "rpc/sturdy.h"
#include "util/err.h"

/* Persistent.save (capnp/persistent.capnp). */
#define RPC_PERSISTENT_ID 0xc8cb212fcd9f5691ULL
#define RPC_PERSISTENT_SAVE 0
/* The text of the restorer's refusal, as the original. */
#define RPC_UNKNOWN_SERVICE "Unknown persistent service ID"

struct rpc_vat;
struct rpc_conn;
struct rpc_call;
struct rpc_req;
struct rpc_promise;
struct rpc_object;

/* PROMISE: known later (a capability in the results of a call the peer
 * made to us that has not returned yet); calls wait for it. */
enum rpc_cap_kind {
    RPC_CAP_LOCAL,
    RPC_CAP_IMPORT,
    RPC_CAP_PIPELINE,
    RPC_CAP_BROKEN,
    RPC_CAP_PROMISE
};

/* Fields are private; the struct is visible so objects can embed it.
 * References: whoever rpc_cap_ref'd it (the application, export tables,
 * cap tables of calls and responses, the restore cache, promise caps). */
struct rpc_cap {
    int refs;
    enum rpc_cap_kind kind;
    struct rpc_conn *conn;  /* IMPORT, PIPELINE */
    uint32_t id;            /* IMPORT: import id */
    struct rpc_promise *pq; /* PIPELINE */
    uint16_t *ops;          /* PIPELINE: pointer-field path */
    uint32_t nops;
    char *error;              /* BROKEN */
    struct rpc_cap *resolved; /* PROMISE, once known */
    void *pending;            /* PROMISE: calls waiting for it */
};

struct rpc_object_vtbl {
    /* Handles a call (interface id and method via rpc_call_interface and
     * rpc_call_method). Must eventually answer it exactly once. */
    void (*dispatch)(struct rpc_object *self, struct rpc_call *call);
    /* The last reference went away: free the object. */
    void (*destroy)(struct rpc_object *self);
};

struct rpc_object {
    struct rpc_cap cap; /* first: an object is its own local cap */
    const struct rpc_object_vtbl *vt;
    char *sturdy_uri; /* set: Persistent.save answers it */
};

/* ------------------------------------------------------------ objects, caps */

/* Initialises an object with one reference (owned by the caller). */
void rpc_object_init(struct rpc_object *o, const struct rpc_object_vtbl *vt);
/* Makes Persistent.save on this object return uri (copied). */
int rpc_object_set_sturdy_uri(struct rpc_object *o, const char *uri);
static inline struct rpc_cap *rpc_object_cap(struct rpc_object *o)
{
    return &o->cap;
}

struct rpc_cap *rpc_cap_ref(struct rpc_cap *c);
void rpc_cap_unref(struct rpc_cap *c);
/* A cap whose every call fails with msg. */
struct rpc_cap *rpc_cap_broken(const char *msg);
/* The local object behind c, or NULL if c is not local. */
struct rpc_object *rpc_cap_object(struct rpc_cap *c);

/* ------------------------------------------------------------ server side */

uint64_t rpc_call_interface(const struct rpc_call *call);
uint16_t rpc_call_method(const struct rpc_call *call);
/* The params struct (AnyPointer: use the generated P_X_from_ptr). */
capnp_ptr_r rpc_call_params(struct rpc_call *call);
/* The capability at cap-table index idx of the params (a new reference;
 * a broken cap when idx is not a capability). */
struct rpc_cap *rpc_call_param_cap(struct rpc_call *call, uint32_t idx);
/* The results slot (AnyPointer: use the generated P_X_init_ptr). */
capnp_ptr_b rpc_call_results(struct rpc_call *call);
/* Adds cap to the results' cap table (takes a new reference), returns its
 * index for capnp_ptr_b_set_cap / the generated setter. */
uint32_t rpc_call_add_cap(struct rpc_call *call, struct rpc_cap *cap);
/* Sends the results; the call is freed. */
void rpc_call_return(struct rpc_call *call);
/* Fails the call with an exception (reason = formatted text). */
void rpc_call_fail(struct rpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Fails with an "unimplemented" exception (unknown interface/method). */
void rpc_call_unimplemented(struct rpc_call *call);
/* True when the caller is gone (finished early or disconnected): the
 * answer will be dropped, finishing early saves work. */
bool rpc_call_cancelled(const struct rpc_call *call);
/* The vat the call arrived on (NULL for a local call). */
struct rpc_vat *rpc_call_vat(const struct rpc_call *call);

/* ------------------------------------------------------------ client side */

/* Starts a call on target (the request keeps a reference to target). */
struct rpc_req *rpc_req_new(struct rpc_cap *target, uint64_t interface_id, uint16_t method);
/* The params slot (AnyPointer: use the generated P_X_init_ptr). */
capnp_ptr_b rpc_req_params(struct rpc_req *req);
/* Adds cap to the params' cap table (new reference); returns its index. */
uint32_t rpc_req_add_cap(struct rpc_req *req, struct rpc_cap *cap);
void rpc_req_free(struct rpc_req *req); /* only for a request never sent */

struct rpc_response {
    const char *error;   /* NULL on success, else the exception's reason */
    int error_type;      /* Exception.Type when error is set */
    capnp_ptr_r content; /* the results struct (use P_X_from_ptr) */
    /* private */
    struct capnp_msg *msg;
    struct capnp_builder *bld;
    void *buf;
    struct rpc_cap **caps;
    uint32_t ncaps;
    char *errbuf;
};
/* The capability at index idx of the results' cap table (new reference;
 * broken if absent). */
struct rpc_cap *rpc_response_cap(struct rpc_response *r, uint32_t idx);
void rpc_response_free(struct rpc_response *r);

/* Called once with the response, which cb owns (rpc_response_free). */
typedef void (*rpc_response_fn)(void *ud, struct rpc_response *r);

/* Sends the request (consumed). cb may be NULL: the response is then kept
 * for rpc_promise_wait. Returns the promise, with one reference owned by
 * the caller (rpc_promise_unref; the call is not cancelled by that).
 * cb may run before this returns (immediate failures, local objects). */
struct rpc_promise *rpc_req_send(struct rpc_req *req, rpc_response_fn cb, void *ud);
void rpc_promise_unref(struct rpc_promise *p);
/* A capability inside the (future) results: the pointer field path
 * path[0..n) from the results struct, e.g. {0} for the first pointer
 * field. Calls on it are pipelined. New reference. */
struct rpc_cap *rpc_promise_cap(struct rpc_promise *p, const uint16_t *path, uint32_t n);
/* Runs the loop until p's response arrives or timeout_ms passes (for
 * programs like capc: never from inside a loop callback such as a
 * dispatch function, libuv's uv_run is not reentrant). Returns
 * the response (caller frees), or NULL with e filled (the remote
 * exception's text, a connection error, or a timeout). Only for promises
 * sent without a callback. */
struct rpc_response *rpc_promise_wait(struct rpc_promise *p, unsigned timeout_ms, struct err *e);
/* Send + wait + unref: the blocking helper for command-line tools. */
struct rpc_response *rpc_call_wait(struct rpc_req *req, unsigned timeout_ms, struct err *e);

/* rpc.capnp Exception.Type: what kind of failure an exception reports. */
enum rpc_exception_type {
    RPC_EXCEPTION_FAILED = 0,
    RPC_EXCEPTION_OVERLOADED = 1,
    RPC_EXCEPTION_DISCONNECTED = 2,
    RPC_EXCEPTION_UNIMPLEMENTED = 3,
};
/* The same, and when they fail with an exception (the peer's, or a local
 * one such as a lost connection) *exception_type gets its type; -1 when
 * no answer came (timeout). Callers that decide by the kind of failure
 * (e.g. trying another interface when a method is unimplemented) must use
 * this, never the exception's text, which differs between peers. */
struct rpc_response *rpc_promise_wait_typed(struct rpc_promise *p, unsigned timeout_ms,
                                            int *exception_type, struct err *e);
struct rpc_response *rpc_call_wait_typed(struct rpc_req *req, unsigned timeout_ms,
                                         int *exception_type, struct err *e);

/* Persistent.save on cap: the sturdy ref URI (malloc'd) or NULL. */
char *rpc_save_wait(struct rpc_cap *cap, unsigned timeout_ms, struct err *e);

/* ------------------------------------------------------------ the vat */

struct rpc_vat_config {
    const char *secret_key_file; /* PEM path; "" = ephemeral; NULL = none */
    bool disable_tls;            /* serve plain TCP, "insecure" URIs */
    size_t max_message_bytes;    /* 0 = 16 MiB */
    uint32_t max_questions;      /* outstanding peer questions; 0 = 4096 */
    uint32_t max_exports;        /* exports and imports; 0 = 65536 */
    uint32_t
        idle_timeout_ms;    /* quiet and holding nothing: 0 = 600000 (10 min); UINT32_MAX = none */
    size_t max_write_queue; /* unsent bytes before aborting; 0 = 64 MiB */
    /* Connections accepted from listeners and still open; one more is
     * accepted and closed at once. 0 = 512. */
    uint32_t max_conns;
    /* An accepted connection must finish TLS and restore a service
     * (a Bootstrap answered with a capability) within this, else it is
     * closed. 0 = 10000 (10 s); UINT32_MAX = no deadline. */
    uint32_t auth_timeout_ms;
    /* Flow control: bytes one connection may make us hold (output not yet
     * written, params of its calls in flight, calls queued on unanswered
     * questions, kept answers). Over it we stop reading from the peer
     * until it drains. 0 = 4 MiB. */
    size_t conn_budget_bytes;
    /* Reading paused for this long (the peer does not read our output):
     * close. 0 = 30000; UINT32_MAX = never. */
    uint32_t drain_timeout_ms;
    /* A closing connection's pending writes get this long, then the
     * socket is closed anyway. 0 = 5000. */
    uint32_t close_timeout_ms;
    /* Open accepted TCP connections per source address prefix (/v4_prefix
     * for IPv4, /v6_prefix for IPv6). 0 = 32 (and prefixes /32, /64). */
    uint32_t max_conns_per_addr;
    uint8_t v4_prefix, v6_prefix;
    /* Slots of max_conns kept for connections that restored a service:
     * unauthenticated ones get at most max_conns - this. 0 = max_conns/4;
     * UINT32_MAX = none kept. */
    uint32_t reserved_conns;
    /* Connections that hold capabilities (which idle_timeout_ms spares):
     * closed after this long without input. 0 = never. */
    uint32_t holder_idle_timeout_ms;
    /* Largest message before a service is restored. 0 = 64 KiB. */
    size_t preauth_message_bytes;
    /* Words each incoming message may read through pointers (the C++
     * library's ReaderOptions.traversalLimitInWords). 0 = 8 Mi. */
    uint64_t traversal_limit_words;
};

/* Also sets SIGPIPE to ignored if it has the default action. */
struct rpc_vat *rpc_vat_new(uv_loop_t *loop, const struct rpc_vat_config *cfg, struct err *e);
/* Closes every connection and listener and frees the vat. Run the loop
 * afterwards so libuv can finish closing handles. */
void rpc_vat_free(struct rpc_vat *v);
uv_loop_t *rpc_vat_loop(struct rpc_vat *v);

/* Listens on "tcp:HOST:PORT" or "unix:PATH". HOST is resolved with the
 * system resolver unless it is an address. */
int rpc_vat_listen(struct rpc_vat *v, const char *addr, struct err *e);
/* Listens on a resolved TCP address. */
int rpc_vat_listen_sockaddr(struct rpc_vat *v, const struct sockaddr *sa, struct err *e);
/* Serves an already connected stream socket (unix or TCP; e.g. one end
 * of a socketpair), which the vat now owns. */
int rpc_vat_serve_fd(struct rpc_vat *v, int fd, struct err *e);
/* The port actually bound by the last TCP listen (for port 0). */
int rpc_vat_bound_port(struct rpc_vat *v);
/* What goes into URIs: "tcp:HOST:PORT" or "unix:PATH". Default: the
 * address given to rpc_vat_listen. */
int rpc_vat_set_public_address(struct rpc_vat *v, const char *addr, struct err *e);
/* The sturdy ref URI for service id (malloc'd), or NULL with no address. */
char *rpc_vat_sturdy_uri(struct rpc_vat *v, const uint8_t *id, size_t len);
/* The server key's fingerprint ("" when TLS is disabled). */
const char *rpc_vat_fingerprint(const struct rpc_vat *v);
/* A fixed service's ID: HMAC-SHA256(SHA-256(key PEM), name). Returns -1
 * when the vat has no key. */
int rpc_vat_derive_id(const struct rpc_vat *v, const char *name, uint8_t out[32]);

/* Serves cap to Bootstrap requests carrying this ID (new reference). */
int rpc_vat_add_service(struct rpc_vat *v, const uint8_t *id, size_t len, struct rpc_cap *cap,
                        struct err *e);
void rpc_vat_remove_service(struct rpc_vat *v, const uint8_t *id, size_t len);
/* Fallback for IDs not added above: returns a new reference, or NULL
 * (the client then gets RPC_UNKNOWN_SERVICE, whatever e says). */
typedef struct rpc_cap *(*rpc_restore_fn)(void *ud, const uint8_t *id, size_t len);
void rpc_vat_set_restorer(struct rpc_vat *v, rpc_restore_fn fn, void *ud);
/* Served to Bootstrap without an object ID (new reference; NULL: none). */
void rpc_vat_set_bootstrap(struct rpc_vat *v, struct rpc_cap *cap);

/* Client: connects (or reuses a connection) to the vat of ref and asks
 * for its service ID. Returns a cap at once; calls on it are pipelined
 * until the connection is up; connection errors (refused, fingerprint
 * mismatch, unknown ID) arrive as the calls' errors. */
struct rpc_cap *rpc_vat_restore(struct rpc_vat *v, const struct sturdy_ref *ref);
/* The same from a URI; NULL with e filled when it does not parse. */
struct rpc_cap *rpc_vat_restore_uri(struct rpc_vat *v, const char *uri, struct err *e);

/* Counters for tests and logs. */
struct rpc_stats {
    uint32_t conns, questions, answers, imports, exports;
    uint32_t closing;            /* torn down, socket not closed yet (slot still held) */
    uint32_t accepted;           /* slots in use: accepted connections not yet closed */
    uint32_t paused;             /* connections whose reading is paused (budget spent) */
    size_t held;                 /* bytes held for peers besides output */
    uint32_t authenticated;      /* accepted connections that restored a service */
    uint64_t refused_full;       /* connections refused since start: no slot free */
    uint64_t refused_per_source; /* ... : their source prefix had its share */
};
void rpc_vat_stats(struct rpc_vat *v, struct rpc_stats *s);
#endif
