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
#define META_LEN 52
#define MAP_SIZE ((size_t)1 << 30) /* address space only: the file grows as used */
#define MAX_DBS 1024               /* zones per environment, plus "meta" */

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
    /* group commit (journal_commit.c) */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct journal_sub *queue, **tail; /* submitted, not yet taken by a committer */
    bool committing;
    struct jtip *tips; /* per zone: the newest submitted, uncommitted version */
    size_t ntips, captips;
    uint64_t commits, written; /* transactions and entries written by jr_write */
    uint64_t last_compaction;  /* Unix time of the last snapshot written, 0: none yet */
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
/* 1 found, 0 absent, -1 error. */
int jr_meta_get(struct journal *j, MDB_txn *t, const uint8_t *apex, struct jmeta *m, struct err *e);
int jr_meta_put(struct journal *j, MDB_txn *t, const uint8_t *apex, const struct jmeta *m,
                struct err *e);
void jr_seq_key(uint64_t seq, uint8_t b[8], MDB_val *k);
uint64_t jr_key_seq(const MDB_val *k);
/* Decodes an entry strictly; the message names what is wrong. */
int jr_decode(const MDB_val *v, struct decoded *d, struct err *e);
/* Encodes a change set (out->apex is left to the caller). */
int jr_encode(uint32_t from, uint32_t to, const struct dns_change *changes, size_t n,
              struct jr_entry *out, struct err *e);
/* Writes the entries in order in one transaction (one fsync): all or none. */
int jr_write(struct journal *j, struct jr_entry *const *en, size_t n, struct err *e);
#endif
