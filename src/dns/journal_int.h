/*
 * journal_int: what journal.c (writing) and journal_replay.c (reading)
 * share. Private to the journal; see journal.h for the format.
 */
#ifndef CEON_DNS_JOURNAL_INT_H
#define CEON_DNS_JOURNAL_INT_H
#include "dns/journal.h"
#include "dns/name.h"
#include <lmdb.h>
#include <pthread.h>

#define FORMAT 1
#define KIND_CHANGES 1
#define KIND_SNAPSHOT 2
#define ENTRY_HDR 16
#define META_LEN 60     /* with snap_bytes (issue 12) */
#define META_LEN_OLD 52 /* before it: snap_bytes reads as unknown (0) */
#define CHUNK_KEY 12    /* a snapshot chunk's key: the sequence number (8), the chunk index (4) */
#define CHUNK_BYTES ((size_t)1 << 20) /* a snapshot chunk's records, about */
#define MAP_SIZE ((size_t)1 << 30)    /* address space only: the file grows as used */
#define MAX_DBS 1024                  /* zones per environment, plus "meta" */

struct jretire;

/* A compaction queued for the background thread (journal_background.c),
 * written by jr_compact_job (journal_compact.c). */
struct jcompaction {
    struct jcompaction *next;
    uint8_t apex[DNS_NAME_MAX];
    struct zone_version *v; /* held until encoded */
    uint64_t seq;           /* the change set that ends at v's serial */
    uint64_t old_snap;      /* the snapshot the journal had when queued */
    uint32_t serial;        /* v's */
};

struct jzone {
    uint8_t apex[DNS_NAME_MAX];
    uint8_t len;
    MDB_dbi dbi;
};

struct journal {
    MDB_env *env;
    MDB_dbi meta;
    pthread_mutex_t lock; /* the dbi cache */
    struct jzone *zones;
    size_t nzones, cap;
    uint64_t max_entries, max_bytes;
    double size_ratio; /* change-set bytes / snapshot bytes that compaction also waits for */
    /* group commit (journal_commit.c) */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct journal_sub *queue, **tail; /* submitted, not yet taken by a committer */
    bool committing;
    struct jtip *tips; /* per zone: the newest submitted, uncommitted version */
    size_t ntips, captips;
    uint64_t commits, written; /* transactions and entries written by jr_write */
    uint64_t last_compaction;  /* Unix time of the last snapshot written, 0: none yet */
    /* background work (journal_compact.c): compactions, and the versions a
     * commit replaced, released after a grace period */
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;       /* work queued, work done, stop */
    pthread_mutex_t compact_mu; /* one compaction (or wholesale rewrite of a zone) at a time */
    pthread_t bg_thread;
    bool bg_started, bg_stop;
    bool bg_busy;                  /* the thread is running a compaction */
    uint8_t bg_apex[DNS_NAME_MAX]; /* ... of this zone */
    uint64_t throttled;            /* commits that waited for a compaction (bg_mu) */
    /* chunk transactions written and the time they held LMDB's writer
     * lock (begin to commit, fsync included if any), for traces */
    uint64_t chunk_txns, chunk_lock_ns, chunk_lock_max_ns;
    struct jcompaction *jobs; /* queued, oldest first, at most one per zone */
    struct jretire *retired;  /* replaced versions waiting for a grace period */
    size_t chunk_bytes;       /* records per snapshot chunk, about (CHUNK_BYTES) */
    /* Snapshot chunks are committed with the environment in
     * MDB_NOMETASYNC (LMDB 0.9 ignores per-transaction sync flags): data
     * pages synced, the meta page flushed by j->sync outside the writer
     * lock; begin_mu keeps every other write transaction from beginning,
     * hence committing, while the flag is set (journal_compact.c) */
    pthread_mutex_t begin_mu;
    bool chunk_meta_nosync;         /* false: chunks fully synced in their commit (traces) */
    int (*sync)(struct journal *j); /* mdb_env_sync; tests record the order */
    /* tests: called before the transaction of chunk `chunk` of n (n: the
     * switch); true stops the compaction there, as if the process died */
    bool (*test_hook)(void *ctx, size_t chunk, size_t n);
    void *test_ctx;
};

struct jtip {
    struct zone *z;
    struct zone_version *v;
};

struct jmeta {
    uint32_t base_serial; /* where the first change set starts (no snapshot): the file's
                           * serial when the journal began, kept when the file is edited */
    uint64_t file_hash;   /* content hash of the zone file last seen */
    uint32_t last_serial;
    uint64_t next_seq;
    uint64_t snap_seq; /* 0: no snapshot */
    uint64_t entries;  /* change sets since the snapshot (or the start) */
    uint64_t bytes;
    uint64_t snap_bytes; /* the snapshot's encoded bytes; 0: no snapshot, or written by a
                          * journal before this field (the ratio then does not apply) */
};

/* One decoded entry. */
struct decoded {
    int kind;
    uint32_t from, to;
    size_t n;
    struct dns_change *ch; /* owners and RDATA point into the LMDB value */
    size_t cap;
};

/* An encoded change set on its way into the journal. */
struct jr_entry {
    const uint8_t *apex;
    uint32_t from, to;
    uint8_t *buf; /* malloc'd */
    size_t size;
};

/* Presentation form without the trailing dot. */
const char *jr_ztext(const uint8_t *n, char buf[DNS_NAME_TEXT_MAX]);
#define ZNAME(n) jr_ztext((n), (char[DNS_NAME_TEXT_MAX]){0})
int jr_mdb_fail(struct err *e, int rc, const char *what, const uint8_t *apex);
int jr_zone_dbi(struct journal *j, const uint8_t *apex, MDB_dbi *dbi, struct err *e);
/* Begins a write transaction (every writer but a snapshot chunk's: see
 * begin_mu). */
int jr_txn_write(struct journal *j, MDB_txn **t);
/* 1 found, 0 absent, -1 error. */
int jr_meta_get(struct journal *j, MDB_txn *t, const uint8_t *apex, struct jmeta *m, struct err *e);
int jr_meta_put(struct journal *j, MDB_txn *t, const uint8_t *apex, const struct jmeta *m,
                struct err *e);
void jr_seq_key(uint64_t seq, uint8_t b[8], MDB_val *k);
/* The key of chunk idx of the snapshot at sequence number seq: it sorts
 * after entry seq and before entry seq + 1 (shorter keys first). */
void jr_chunk_key(uint64_t seq, uint32_t idx, uint8_t b[CHUNK_KEY], MDB_val *k);
/* The sequence number of an entry's or a chunk's key (0 if neither). */
uint64_t jr_key_seq(const MDB_val *k);
static inline bool jr_is_chunk(const MDB_val *k)
{
    return k->mv_size == CHUNK_KEY;
}
/* Decodes an entry strictly; the message names what is wrong. */
int jr_decode(const MDB_val *v, struct decoded *d, struct err *e);
/* Encodes a change set (out->apex is left to the caller). */
int jr_encode(uint32_t from, uint32_t to, const struct dns_change *changes, size_t n,
              struct jr_entry *out, struct err *e);
/* Writes the entries in order in one transaction (one fsync): all or none. */
int jr_write(struct journal *j, struct jr_entry *const *en, size_t n, struct err *e);
/* The entry header and one record, as jr_encode writes them. */
struct wbuf;
void jr_put_header(struct wbuf *w, int kind, uint32_t from, uint32_t to, uint32_t count);
void jr_put_record(struct wbuf *w, uint8_t op, const uint8_t *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rd, uint16_t rdlen);

/* zone_version_hash, one RRset at a time (FNV-1a from JR_HASH_INIT, in
 * zone_version_foreach's order), for walks that do something else too. */
#define JR_HASH_INIT 14695981039346656037ull
struct zone_node;
void jr_hash_rrset(uint64_t *h, const struct zone_node *node, const struct dns_rrset *s);

/* The compaction policy (journal.h): true when the zone's change sets since
 * its snapshot are `times` times past the limits (1: compact, 2: the
 * replay bound that jr_bg_throttle keeps). */
bool jr_over_limits(const struct journal *j, const struct jmeta *m, uint64_t times);

/* journal_compact.c: writes a queued compaction (the background thread,
 * compact_mu taken here); the chunk-writing fields of journal_open. */
void jr_compact_job(struct journal *j, struct jcompaction *job);
void jr_compact_init(struct journal *j);
/* journal_background.c: releases the versions waiting for a grace period
 * (the background thread, and compact_write between chunks). */
void jr_bg_drain_retired(struct journal *j);
/* journal_background.c: the background thread's share of journal_open and
 * journal_close (close cancels a running compaction and releases every
 * version still waiting). */
void jr_bg_init(struct journal *j);
void jr_bg_stop(struct journal *j);
/* After a commit published v on z (z's lock held, v current): hands a
 * compaction of v to the background thread if the zone wants one and has
 * none queued or running. */
void jr_bg_maybe_compact(struct journal *j, struct zone *z, const struct zone_version *v);
/* After a commit, by the committer (no lock held): waits for the zone's
 * queued or running compaction if the zone is more than twice over its
 * limits (the replay bound, journal.h). */
void jr_bg_throttle(struct journal *j, const uint8_t *apex);
/* The version a publish replaced: released by the background thread after
 * a grace period (here, synchronously, if the thread cannot run). */
void jr_bg_retire(struct journal *j, struct zone_version *old);
#endif
