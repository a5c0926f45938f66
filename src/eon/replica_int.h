/*
 * replica_int: what the replication files share (replica.c: the state
 * machine; replica_send.c: the calls' contents; replica_files.c: the
 * state dir and registration; replica_stats.c: statistics). Private to
 * the eon layer.
 */
#ifndef CEON_EON_REPLICA_INT_H
#define CEON_EON_REPLICA_INT_H
#include "dns/name.h"
#include "dns/zone.h"
#include "eon/replica.h"
#include <uv.h>

/* Incremental batches: at most this many operations / bytes of names and
 * values per call (more goes in the next one), far below what a
 * secondary accepts in one call (EON_UPDATE_MAX_ITEMS). */
#define REPL_BATCH_OPS 4096u
#define REPL_BATCH_BYTES (1u << 20)
/* Full transfers: records per chunk call, and chunk calls in flight. */
#define REPL_CHUNK_RECORDS 2000u
#define REPL_CHUNK_BYTES (1u << 20)
#define REPL_CHUNKS_IN_FLIGHT 3u
/* Reconnection waits: 1 s doubling to 60 s. */
#define REPL_BACKOFF_MIN_MS 1000u
#define REPL_BACKOFF_MAX_MS 60000u

struct repl_zone;

struct replica {
    int refs; /* the zone's list (until removed) and each call in flight */
    struct repl_zone *zone;
    struct replica *next;
    bool removed;
    char base[EON_SECONDARY_BASE_MAX]; /* file name without .cap */
    char *uri;
    struct rpc_cap *cap; /* NULL: not connected (BACKOFF) */
    enum eon_replica_state state;
    unsigned gen;      /* bumped when the calls in flight no longer count */
    unsigned inflight; /* calls in flight, any generation */
    bool acked_known;
    uint32_t acked;
    bool full_next;  /* the next step is a full transfer */
    bool after_full; /* the last thing completed was a full transfer */
    bool checked;    /* the SOA check was tried since acked became unknown */
    bool verify;     /* (re)attached: the secondary may have lost its state since it
                        acked; confirm with the SOA check before calling it up to date */
    /* the full transfer in progress: a held version and a cursor over its
     * nodes in canonical order (the apex SOA sent last of all) */
    const struct zone_version *xv;
    bool x_cleared, x_done;
    struct zone_cursor x_zc;
    const struct zone_node *x_nd; /* the node being sent; NULL: the next one */
    size_t x_set;
    const uint8_t *x_rr;
    uint64_t x_records;
    uint64_t x_started_ms;
    uv_timer_t timer;
    bool timer_open;
    unsigned backoff_ms;
    uint64_t behind_since_ms; /* 0: not behind as far as we know */
    uint64_t fulls, incrementals, failures;
};

struct repl_zone {
    struct eon_repl *repl;
    struct repl_zone *next;
    char name[DNS_NAME_TEXT_MAX]; /* as written */
    uint8_t apex[DNS_NAME_MAX];   /* lowercase wire */
    char dir[4096];               /* STATE/caps/secondary/NAME */
    struct replica *replicas;
    unsigned n;
};

struct eon_repl {
    struct eon_ctx *ctx;
    const struct eon_state *st;
    struct repl_zone *zones;
    uv_async_t async;
    bool async_open;
    int stopping; /* atomic: read by the publish hook */
};

uint64_t repl_now_ms(void);
struct repl_zone *repl_zone_find(struct eon_repl *r, const char *name);
/* The zone's current version, held (zone_version_release), or NULL when
 * the zone is no longer served. */
const struct zone_version *repl_hold_current(struct repl_zone *z);

/* replica.c */
struct replica *replica_new(struct repl_zone *z, const char *base, const char *uri);
void replica_unref(struct replica *r);
void replica_step(struct replica *r);
/* Takes cap (a reference) as the secondary's, dropping what was in flight. */
void replica_attach(struct replica *r, struct rpc_cap *cap);
/* Connects through the stored URI after `ms` milliseconds. */
void replica_schedule_connect(struct replica *r, unsigned ms);
void replica_remove(struct replica *r);
const char *replica_state_name(enum eon_replica_state s);

/* replica_send.c: the calls. Each returns 0 (sent), 1 (nothing to send,
 * or for an incremental batch: not covered by the journal, send the whole
 * zone) or -1 with e set. cb gets ud. */
int replica_send_incremental(struct replica *r, const struct zone_version *v, uint32_t *to,
                             rpc_response_fn cb, void *ud, struct err *e);
/* An update with no operations and the prerequisite that the secondary
 * has v's SOA exactly: for a secondary whose serial we do not know (a
 * lost .serial file, eon's HOST.cap), which may well be up to date
 * already; a full transfer would make a ceon secondary bump its serial. */
int replica_send_soa_check(struct replica *r, const struct zone_version *v, rpc_response_fn cb,
                           void *ud, struct err *e);
int replica_send_clear(struct replica *r, rpc_response_fn cb, void *ud, struct err *e);
/* The next chunk of r->xv from r's cursor; sets r->x_done with the last. */
int replica_send_chunk(struct replica *r, rpc_response_fn cb, void *ud, struct err *e);
/* "Secondary.update": reads success/error of a response. Returns 0 when
 * the secondary applied it, else -1 with its error (or the exception). */
int replica_update_result(struct rpc_response *resp, struct err *e);
/* Owner names as eon spells them: presentation form without the final dot. */
void repl_name_text(const uint8_t *wire, char *out, size_t cap);

/* replica_files.c */
int replica_save_serial(struct replica *r, struct err *e);
int repl_zone_load(struct repl_zone *z, struct err *e);
#endif
