/*
 * secondary_int: what secondary.c (the service and its update queue) and
 * upstream.c (the link to the primary) share. Private to those two.
 */
#ifndef CEON_EON_SECONDARY_INT_H
#define CEON_EON_SECONDARY_INT_H
#include "dns/name.h"
#include "eon/secondary.h"
#include <uv.h>

/* A staged full transfer: at most this many records, and bytes (owners,
 * RDATA and bookkeeping); over it the transfer is refused and dropped. */
#define SEC_STAGE_MAX_RECORDS 2000000u
#define SEC_STAGE_MAX_BYTES ((size_t)64 << 20)

enum sec_link { SEC_LINK_IDLE, SEC_LINK_CONNECTING, SEC_LINK_REGISTERED, SEC_LINK_RETRYING };

struct sec_job;
struct sec_service;
struct zone_loader;

/* A full transfer being received: each call's adds go into the loader as
 * the call is applied, so the zone is built while the rest still arrives
 * and only its layout remains when the SOA comes. */
struct sec_stage {
    bool active;
    struct zone_loader *ld;
    size_t n;     /* adds staged */
    size_t bytes; /* what the bound counts: owners, RDATA, a record's bookkeeping */
    bool has_soa; /* an apex SOA was added: soa_serial is its serial */
    uint32_t soa_serial;
    uint8_t *scratch; /* 65535 bytes: one RDATA being checked */
    uint64_t t_first; /* uv_hrtime when the transfer's first call was applied */
};

/* One --primary FILE and its zone. */
struct eon_secondary {
    struct eon_secondaries *set;
    char *file;   /* as given */
    char *uri;    /* its content, trailing white space dropped */
    char *record; /* STATE/secondary/<base64url(SHA-256(uri))> */
    /* The zone once known (record or getName): as the primary spells it. */
    char name[DNS_NAME_TEXT_MAX];
    uint8_t apex[DNS_NAME_MAX]; /* lowercase wire; apex[0] == 0 && !name[0]: unknown */
    uint8_t as_written[DNS_NAME_MAX];
    struct zone *zone; /* in the served set once it has a version; else NULL */
    struct sec_service *svc;
    uint8_t id[32];
    /* The update FIFO: one job in flight at a time. */
    struct sec_job *head, **tail;
    bool busy;
    bool adding; /* the job in flight adds the zone to the served set */
    struct sec_stage stage;
    bool stage_dropped; /* a transfer was refused half-way: refuse its rest */
    /* The link (upstream.c). */
    enum sec_link link;
    uv_timer_t timer;
    bool timer_init;
    struct rpc_cap *primary;
    unsigned gen;        /* bumped at every new attempt: stale answers are dropped */
    const char *waiting; /* the call whose answer the timer is the deadline of */
    uint64_t attempt_ns; /* uv_hrtime when the current attempt began (for the log) */
    /* Statistics, written on the loop. */
    uint32_t serial;      /* last serial applied */
    uint64_t last_update; /* Unix time of the last update applied from the primary */
    uint64_t full_transfers, updates_applied, failures;
};

struct eon_secondaries {
    struct eon_ctx *ctx; /* set at start */
    struct journal *journal;
    struct zone_set_handle *zones;
    unsigned retry_wait_s;
    size_t stage_max_bytes; /* SEC_STAGE_MAX_BYTES (tests lower it) */
    eon_derive_id_fn derive;
    void *derive_ud;
    bool stopping, reloading;
    unsigned adding; /* jobs in flight that add a zone to the set */
    struct eon_secondary *v;
    size_t n;
};

/* secondary.c: the zone's name is now known (from getName): checks it
 * against other zones, writes the record, makes the service. */
int sec_set_name(struct eon_secondary *s, const char *name, struct err *e);
/* The Secondary capability of s (borrowed; NULL before sec_service_make). */
struct rpc_cap *sec_service_cap(struct eon_secondary *s);
/* Makes s's service object (one reference, s's), Persistent.save giving uri. */
int sec_service_make(struct eon_secondary *s, const char *uri, struct err *e);
/* Lets go of s's service: calls still arriving on it fail. */
void sec_service_drop(struct eon_secondary *s);
/* The queue: start what can run (after a re-read ended), or, when
 * stopping, fail what is queued; free the staged transfer. */
void sec_queue_kick(struct eon_secondary *s);
void sec_queue_stop(struct eon_secondary *s);
void sec_stage_free(struct eon_secondary *s);

/* upstream.c */
void sec_link_start(struct eon_secondary *s);
void sec_link_stop(struct eon_secondary *s);
void sec_link_heartbeat(struct eon_secondary *s);
const char *sec_link_state_name(enum sec_link l);
#endif
