/*
 * Journal compaction: a zone's snapshot written in chunks off the commit
 * path, and the synchronous forms (issue 12). Format: journal.h.
 *
 * A snapshot of serial X is written in chunks (entries of kind 2, X to X,
 * about CHUNK_BYTES of records each) under the keys (s, 0), (s, 1), ...,
 * where s is the sequence number of the change set that brought the zone to
 * X. Those keys sort between entry s and entry s + 1, so the snapshot sits
 * at X's place in the sequence: change sets appended while it was being
 * written (s + 1, ...) stay where they are and replay on top of it.
 *
 * A compaction: the committing thread, holding the zone lock, only notices
 * that the zone wants one, holds the version it just published and queues
 * it (jr_bg_maybe_compact). The journal's background thread encodes the
 * snapshot off every lock, lets the version go, writes each chunk in a
 * transaction of its own (the LMDB writer lock is held for one chunk at a
 * time, so group commits slip in between; the chunk's commit skips the
 * meta page's fsync, which follows outside the lock: write_chunk), then one small transaction
 * deletes every key before (s, 0) and points the metadata at s. Until that
 * last transaction the metadata still names the old snapshot, and readers
 * skip chunks that are not the current snapshot's: a compaction interrupted
 * at any point (kill -9) leaves a journal that replays to the same zone;
 * the next compaction deletes what it left. Every transaction first checks
 * that the zone's journal is still the one the compaction started from
 * (same snapshot, entry s still the change set to X): a drop, a full
 * transfer's replacement or a restart from the zone file meanwhile
 * abandons it.
 *
 * The queue, the background thread that runs these compactions, the
 * throttle and the release of replaced versions: journal_background.c.
 */
#include "dns/journal_int.h"
#include "dns/zone.h"
#include "util/buf.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>
/* ---- the snapshot in chunks ---- */

struct chunks {
    uint8_t **buf;
    size_t *size;
    size_t n, cap;
};

struct enc {
    struct chunks *c;
    size_t limit;
    struct wbuf w;
    uint8_t *cur;
    uint32_t count, serial;
    uint64_t *hash; /* NULL, or zone_version_hash computed on the way */
};

static void chunks_free(struct chunks *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->buf[i]);
    free(c->buf);
    free(c->size);
    memset(c, 0, sizeof *c);
}

/* Closes the chunk being filled: its header gets the record count. */
static void enc_close(struct enc *x)
{
    if (!x->cur) return;
    struct wbuf h;
    wbuf_init(&h, x->cur, ENTRY_HDR);
    jr_put_header(&h, KIND_SNAPSHOT, x->serial, x->serial, x->count);
    x->c->buf[x->c->n] = x->cur;
    x->c->size[x->c->n++] = x->w.len;
    x->cur = NULL;
}

/* Starts a chunk: room for `limit` bytes of records plus the largest record. */
static int enc_open(struct enc *x)
{
    enc_close(x);
    struct chunks *c = x->c;
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 8;
        uint8_t **nb = realloc(c->buf, nc * sizeof *nb);
        if (nb) c->buf = nb;
        size_t *ns = nb ? realloc(c->size, nc * sizeof *ns) : NULL;
        if (!ns) return -1;
        c->size = ns;
        c->cap = nc;
    }
    size_t cap = ENTRY_HDR + x->limit + 2 + DNS_NAME_MAX + 8 + 65535;
    if (!(x->cur = malloc(cap))) return -1;
    wbuf_init(&x->w, x->cur, cap);
    jr_put_header(&x->w, KIND_SNAPSHOT, x->serial, x->serial, 0);
    x->count = 0;
    return 0;
}

static int enc_rrset(void *ctx, const struct zone_node *node, const struct dns_rrset *s)
{
    struct enc *x = ctx;
    if (x->hash) jr_hash_rrset(x->hash, node, s);
    for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p)) {
        if ((!x->cur || x->w.len >= ENTRY_HDR + x->limit) && enc_open(x) < 0) return -1;
        jr_put_record(&x->w, DNS_CHANGE_ADD, node->name, s->type, s->ttl, rr_rdata(p), rr_rdlen(p));
        x->count++;
    }
    return 0;
}

/* Every RR of v in chunks of about `limit` bytes (at least one chunk);
 * with hash, v's content hash too (one walk for both). */
static int snapshot_encode(const struct zone_version *v, size_t limit, struct chunks *c,
                           uint64_t *hash, struct err *e)
{
    struct enc x = {.c = c, .limit = limit, .serial = v->serial, .hash = hash};
    if (hash) *hash = JR_HASH_INIT;
    memset(c, 0, sizeof *c);
    if (zone_version_foreach(v, enc_rrset, &x) != 0 || (!x.cur && !c->n && enc_open(&x) < 0)) {
        free(x.cur);
        chunks_free(c);
        return err_set(e, "out of memory for a snapshot of %s", ZNAME(v->apex));
    }
    enc_close(&x);
    return 0;
}

/* What the snapshot weighs in the journal: the compaction policy's measure
 * of the zone (jmeta.snap_bytes). */
static uint64_t chunks_bytes(const struct chunks *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->size[i];
    return n;
}

static int put_chunks(MDB_txn *t, MDB_dbi dbi, uint64_t seq, const struct chunks *c, size_t from,
                      size_t to)
{
    for (size_t i = from; i < to; i++) {
        uint8_t kb[CHUNK_KEY];
        MDB_val k, v = {c->size[i], c->buf[i]};
        jr_chunk_key(seq, (uint32_t)i, kb, &k);
        int rc = mdb_put(t, dbi, &k, &v, 0);
        if (rc) return rc;
    }
    return 0;
}

/* The tail every snapshot shares: the new metadata, the commit. */
static int snap_commit(struct journal *j, MDB_txn *t, const uint8_t *apex, const struct jmeta *m,
                       struct err *e)
{
    if (jr_meta_put(j, t, apex, m, e) < 0) {
        mdb_txn_abort(t);
        return -1;
    }
    int rc = mdb_txn_commit(t);
    if (rc) return jr_mdb_fail(e, rc, "cannot commit a snapshot", apex);
    __atomic_store_n(&j->last_compaction, (uint64_t)time(NULL), __ATOMIC_RELAXED);
    return 0;
}

/* ---- writing a compaction ---- */

/* 0: the zone's journal (in t) is still the one the compaction of serial
 * `serial` at entry seq started from; 1: it changed; -1: error. */
static int still_valid(struct journal *j, MDB_txn *t, MDB_dbi dbi, const uint8_t *apex,
                       uint64_t seq, uint64_t old_snap, uint32_t serial, struct jmeta *m,
                       struct err *e)
{
    int got = jr_meta_get(j, t, apex, m, e);
    if (got <= 0) return got < 0 ? -1 : 1;
    if (m->snap_seq != old_snap) return 1;
    uint8_t kb[8];
    MDB_val k, v;
    jr_seq_key(seq, kb, &k);
    int rc = mdb_get(t, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return 1;
    if (rc) return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    const uint8_t *p = v.mv_data;
    return v.mv_size >= ENTRY_HDR && p[1] == KIND_CHANGES && be32(p + 8) == serial ? 0 : 1;
}

/* The last transaction: every key before (seq, 0) goes (the old snapshot,
 * the change sets up to seq, chunks an interrupted compaction left), so do
 * chunks past the new snapshot's last, and the metadata names the new one. */
static int switch_snapshot(struct journal *j, MDB_txn *t, MDB_dbi dbi, const uint8_t *apex,
                           uint64_t seq, size_t nchunks, uint64_t snap_bytes, struct jmeta *m,
                           struct err *e)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t n = 0, bytes = 0;
    int rc = mdb_cursor_open(t, dbi, &cur);
    if (rc) {
        mdb_txn_abort(t);
        return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    }
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        uint64_t s = jr_key_seq(&k);
        if (s > seq || (s == seq && jr_is_chunk(&k))) break;
        if (!jr_is_chunk(&k) && s > m->snap_seq && v.mv_size >= ENTRY_HDR &&
            ((const uint8_t *)v.mv_data)[1] == KIND_CHANGES) {
            n++;
            bytes += v.mv_size;
        }
        rc = mdb_cursor_del(cur, 0);
    }
    for (uint8_t kb[CHUNK_KEY]; rc == 0 || rc == MDB_NOTFOUND;) {
        jr_chunk_key(seq, (uint32_t)nchunks, kb, &k);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc || !jr_is_chunk(&k) || jr_key_seq(&k) != seq) break;
        rc = mdb_cursor_del(cur, 0);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(t);
        return jr_mdb_fail(e, rc, "cannot drop compacted entries", apex);
    }
    m->snap_seq = seq;
    m->snap_bytes = snap_bytes;
    m->entries = m->entries > n ? m->entries - n : 0;
    m->bytes = m->bytes > bytes ? m->bytes - bytes : 0;
    return snap_commit(j, t, apex, m, e);
}

static bool stopping(struct journal *j)
{
    return __atomic_load_n(&j->bg_stop, __ATOMIC_ACQUIRE);
}

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* compact_mu held: one compaction writes at a time. */
static void chunk_timed(struct journal *j, uint64_t ns)
{
    j->chunk_txns++;
    j->chunk_lock_ns += ns;
    if (ns > j->chunk_lock_max_ns) j->chunk_lock_max_ns = ns;
}

/* One chunk's transaction: 0 written, 1 the journal changed, -1 error.
 * The commit syncs the chunk's data pages but not LMDB's meta page: the
 * environment is in MDB_NOMETASYNC from after this transaction began
 * (LMDB's writer lock held, so no other writer is in a transaction) until
 * after it committed, and begin_mu keeps any other writer from beginning
 * in between (a writer that began after the commit released the lock
 * would otherwise commit with its meta page unsynced: an acknowledged
 * update a power cut could undo). The caller flushes (j->sync) after,
 * outside the writer lock, before the next chunk and the switch. Not
 * MDB_NOSYNC: LMDB keeps the file consistent only if a meta page never
 * reaches the disk before the pages it names, which NOMETASYNC still
 * guarantees (data synced first) and NOSYNC does not; a power cut before
 * the flush can at worst undo this chunk's commit, which the metadata
 * does not name yet (the switch comes after the flush). */
static int write_chunk(struct journal *j, MDB_dbi dbi, const uint8_t *apex, uint64_t seq,
                       uint64_t old_snap, uint32_t serial, const struct chunks *c, size_t i,
                       struct err *e)
{
    MDB_txn *t;
    struct jmeta m;
    pthread_mutex_lock(&j->begin_mu);
    int rc = mdb_txn_begin(j->env, NULL, 0, &t);
    if (rc) {
        pthread_mutex_unlock(&j->begin_mu);
        return jr_mdb_fail(e, rc, "cannot begin a transaction", apex);
    }
    int v = still_valid(j, t, dbi, apex, seq, old_snap, serial, &m, e);
    if (v == 0 && (rc = put_chunks(t, dbi, seq, c, i, i + 1)) == 0) {
        if (j->chunk_meta_nosync) mdb_env_set_flags(j->env, MDB_NOMETASYNC, 1);
        rc = mdb_txn_commit(t);
        if (j->chunk_meta_nosync) mdb_env_set_flags(j->env, MDB_NOMETASYNC, 0);
    } else {
        mdb_txn_abort(t);
    }
    pthread_mutex_unlock(&j->begin_mu);
    if (v != 0) return v;
    return rc ? jr_mdb_fail(e, rc, "cannot write a snapshot chunk", apex) : 0;
}

static int env_sync(struct journal *j)
{
    return mdb_env_sync(j->env, 1);
}

/* Writes the chunks, one transaction each, then switches; compact_mu held.
 * 0 done, 1 abandoned (the journal changed, or close), -1 error. In the
 * background, versions waiting for their grace period are released
 * between chunks, with compact_mu dropped meanwhile (every transaction
 * checks the journal again). */
static int compact_write(struct journal *j, const uint8_t *apex, const struct chunks *c,
                         uint64_t seq, uint64_t old_snap, uint32_t serial, bool background,
                         struct err *e)
{
    MDB_dbi dbi;
    if (jr_zone_dbi(j, apex, &dbi, e) < 0) return -1;
    for (size_t i = 0; i <= c->n; i++) {
        if (background) { /* no grace period under compact_mu: its waiters may be readers */
            pthread_mutex_unlock(&j->compact_mu);
            jr_bg_drain_retired(j);
        }
        bool killed = j->test_hook && j->test_hook(j->test_ctx, i, c->n);
        if (background) pthread_mutex_lock(&j->compact_mu);
        if (killed || (background && stopping(j))) return 1;
        MDB_txn *t;
        struct jmeta m;
        uint64_t t0 = mono_ns();
        if (i == c->n) { /* an ordinary commit: its fsync covers the chunks too */
            int rc = jr_txn_write(j, &t);
            if (rc) return jr_mdb_fail(e, rc, "cannot begin a transaction", apex);
            int v = still_valid(j, t, dbi, apex, seq, old_snap, serial, &m, e);
            if (v != 0) {
                mdb_txn_abort(t);
                return v;
            }
            return switch_snapshot(j, t, dbi, apex, seq, c->n, chunks_bytes(c), &m, e);
        }
        int v = write_chunk(j, dbi, apex, seq, old_snap, serial, c, i, e);
        if (v != 0) return v;
        chunk_timed(j, mono_ns() - t0);
        /* Flushed now, outside the writer lock (group commits go on),
         * before the next chunk and before the switch. */
        if (j->chunk_meta_nosync && (v = j->sync(j)))
            return jr_mdb_fail(e, v, "cannot flush a snapshot chunk", apex);
    }
    return 0;
}
void jr_compact_job(struct journal *j, struct jcompaction *job)
{
    struct chunks c;
    struct err e;
    int r = snapshot_encode(job->v, j->chunk_bytes, &c, NULL, &e);
    zone_version_release(job->v); /* the chunks are all the rest needs */
    job->v = NULL;
    if (r == 0) {
        pthread_mutex_lock(&j->compact_mu);
        r = compact_write(j, job->apex, &c, job->seq, job->old_snap, job->serial, true, &e);
        pthread_mutex_unlock(&j->compact_mu);
        chunks_free(&c);
    }
    if (r < 0)
        log_error("warning: journal compaction for %s failed (the journal keeps growing): %s",
                  ZNAME(job->apex), e.msg);
}
void jr_compact_init(struct journal *j)
{
    j->chunk_bytes = CHUNK_BYTES;
    pthread_mutex_init(&j->begin_mu, NULL);
    j->chunk_meta_nosync = true;
    j->sync = env_sync;
}

/* ---- the synchronous forms ---- */

int journal_compact(struct journal *j, const struct zone_version *v, struct err *e)
{
    MDB_txn *t;
    struct jmeta m;
    pthread_mutex_lock(&j->compact_mu);
    int r = -1, rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t);
    int got = rc ? jr_mdb_fail(e, rc, "cannot begin a transaction", v->apex)
                 : jr_meta_get(j, t, v->apex, &m, e);
    if (!rc) mdb_txn_abort(t);
    if (got == 0) err_set(e, "no journal for %s", ZNAME(v->apex));
    if (got <= 0) goto out;
    if (m.last_serial != v->serial) {
        err_set(e, "the journal of %s is at serial %u, the version at %u", ZNAME(v->apex),
                m.last_serial, v->serial);
        goto out;
    }
    r = 0;
    if (!m.entries) goto out; /* nothing since the snapshot (or the start) */
    struct chunks c;
    uint8_t apex[DNS_NAME_MAX];
    uint32_t serial = v->serial;
    dns_name_lower(apex, v->apex); /* v is not used once encoded */
    if ((r = snapshot_encode(v, j->chunk_bytes, &c, NULL, e)) < 0) goto out;
    r = compact_write(j, apex, &c, m.next_seq - 1, m.snap_seq, serial, false, e);
    chunks_free(&c);
    if (r == 1) r = err_set(e, "the journal of %s changed during its compaction", ZNAME(apex));
out:
    pthread_mutex_unlock(&j->compact_mu);
    return r;
}

/* The whole journal of the zone becomes one snapshot of v: used when the
 * content was not built from the journal's chain (a full transfer), so no
 * serial check, and the old entries go in the same transaction. */
int journal_snapshot_replace(struct journal *j, const struct zone_version *v, struct err *e)
{
    MDB_dbi dbi;
    if (jr_zone_dbi(j, v->apex, &dbi, e) < 0) return -1;
    struct chunks c;
    uint64_t hash; /* computed here, not under the writer lock */
    if (snapshot_encode(v, j->chunk_bytes, &c, &hash, e) < 0) return -1;
    pthread_mutex_lock(&j->compact_mu);
    MDB_txn *t;
    struct jmeta m;
    int r = -1, rc = jr_txn_write(j, &t);
    if (rc) {
        jr_mdb_fail(e, rc, "cannot begin a transaction", v->apex);
        goto out;
    }
    int got = jr_meta_get(j, t, v->apex, &m, e);
    if (got < 0) {
        mdb_txn_abort(t);
        goto out;
    }
    /* Sequence numbers keep growing across the replacement, so an
     * iterator opened before it never meets a reused key. */
    uint64_t seq = got ? m.next_seq : 1;
    if ((rc = mdb_drop(t, dbi, 0)) || (rc = put_chunks(t, dbi, seq, &c, 0, c.n))) {
        mdb_txn_abort(t);
        jr_mdb_fail(e, rc, "cannot write a snapshot", v->apex);
        goto out;
    }
    m = (struct jmeta){.base_serial = v->serial,
                       .file_hash = hash,
                       .last_serial = v->serial,
                       .next_seq = seq + 1,
                       .snap_seq = seq,
                       .snap_bytes = chunks_bytes(&c)};
    if ((r = snap_commit(j, t, v->apex, &m, e)) == 0)
        __atomic_add_fetch(&j->commits, 1, __ATOMIC_RELAXED);
out:
    pthread_mutex_unlock(&j->compact_mu);
    chunks_free(&c);
    return r;
}
