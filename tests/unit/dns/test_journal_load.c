/* Unit tests of the journal under load (issue 12, brief J): snapshot
 * chunks are written without an fsync of their own, so every chunk must
 * be flushed (journal->sync) before the switch to the snapshot, and a
 * failed flush must leave the old snapshot in place; and updates that
 * outrun a background compaction are held back, so that start-up never
 * replays more than twice the limit plus one group commit's change sets
 * (journal.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/journal_int.h"

#include "journal_fixture.h"

#define SMALL_CHUNK 256 /* bytes of records per chunk: about 7 records */

static struct jmeta meta(struct journal *j)
{
    MDB_txn *t;
    struct jmeta m;
    struct err e;
    assert_int_equal(mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(jr_meta_get(j, t, APEX, &m, &e), 1);
    mdb_txn_abort(t);
    return m;
}

static uint64_t snap_seq(struct journal *j)
{
    return meta(j).snap_seq;
}

/* ---- the flush before the switch ---- */

/* What happened, in order: 'T' before a chunk's transaction, 'S' before
 * the switch's, 'F' a flush. */
struct order {
    char ev[256];
    size_t n;
    int fail_at; /* the flush that fails with EIO (1-based; 0: none) */
    int flushes;
};

static struct order *rec;

static bool order_hook(void *ctx, size_t chunk, size_t n)
{
    struct order *o = ctx;
    if (o->n + 1 < sizeof o->ev) o->ev[o->n++] = chunk == n ? 'S' : 'T';
    return false;
}

static int order_sync(struct journal *j)
{
    if (rec->n + 1 < sizeof rec->ev) rec->ev[rec->n++] = 'F';
    if (++rec->flushes == rec->fail_at) return EIO;
    return mdb_env_sync(j->env, 1);
}

/* Every chunk transaction is followed by a flush before the next
 * transaction: in particular, the last chunk is flushed before the
 * switch. */
static void test_chunks_flushed_before_switch(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    j->chunk_bytes = SMALL_CHUNK;
    struct zone *z = start(j, 1, "", NULL);
    updates(z, j, 0, 20);
    struct order o = {0};
    rec = &o;
    j->sync = order_sync;
    j->test_hook = order_hook;
    j->test_ctx = &o;
    struct err e;
    if (journal_compact(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    o.ev[o.n] = 0;
    assert_true(o.n > 10);
    assert_int_equal(o.ev[o.n - 1], 'S');
    for (size_t i = 0; i + 1 < o.n; i += 2) {
        assert_int_equal(o.ev[i], 'T');
        assert_int_equal(o.ev[i + 1], 'F');
    }
    assert_true(snap_seq(j) > 0);
    j->test_hook = NULL;
    struct journal_replay_info info;
    z = reopen(f->dir, &j, z, 0, &info);
    assert_true(info.from_snapshot);
    assert_int_equal(info.entries, 0);
    zone_free(z);
    journal_close(j);
}

/* A flush that fails stops the compaction before the switch: the journal
 * keeps its previous state and replays to the same zone. */
static void test_failed_flush_keeps_journal(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    j->chunk_bytes = SMALL_CHUNK;
    struct zone *z = start(j, 1, "", NULL);
    updates(z, j, 0, 20);
    for (int at = 1; at <= 3; at += 2) {
        struct order o = {.fail_at = at};
        rec = &o;
        j->sync = order_sync;
        j->test_hook = order_hook;
        j->test_ctx = &o;
        struct err e;
        assert_int_equal(journal_compact(j, zone_current(z), &e), -1);
        assert_non_null(strstr(e.msg, "cannot flush a snapshot chunk"));
        o.ev[o.n] = 0;
        assert_null(strchr(o.ev, 'S')); /* no switch */
        assert_int_equal(snap_seq(j), 0);
        j->test_hook = NULL;
        struct journal_replay_info info;
        z = reopen(f->dir, &j, z, SMALL_CHUNK, &info);
        assert_false(info.from_snapshot);
        assert_int_equal(info.entries, 20);
    }
    zone_free(z);
    journal_close(j);
}

/* ---- a full transfer's snapshot ---- */

/* journal_snapshot_replace computes the content hash on its encoding walk:
 * the metadata records the same hash as zone_version_hash, and the zone
 * loads back whole. */
static void test_snapshot_replace_hash(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    j->chunk_bytes = SMALL_CHUNK;
    struct zone *z = start(j, 1, "", NULL);
    updates(z, j, 0, 30);
    struct err e;
    if (journal_snapshot_replace(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    struct jmeta m = meta(j);
    assert_true(m.file_hash == zone_version_hash(zone_current(z)));
    assert_int_equal(m.last_serial, zone_current(z)->serial);
    assert_int_equal(m.entries, 0);
    struct zone_version *v;
    struct journal_replay_info info;
    assert_int_equal(journal_load_zone(j, APEX, &v, &info, &e), 1);
    assert_true(zone_version_hash(v) == m.file_hash);
    zone_version_free(v);
    zone_free(z);
    journal_close(j);
}

/* ---- the replay bound ---- */

#define LIMIT 10
#define OUTRUN (6 * LIMIT)

/* The first background compaction stops before its first chunk until the
 * updater has made OUTRUN more updates or is held back by the journal
 * (at most 30 s: the test then fails on the count). */
struct slow {
    struct journal *j;
    unsigned done; /* updates made (atomic) */
    bool held;     /* the updater was held back */
    int ran;
};

static bool slow_hook(void *ctx, size_t chunk, size_t n)
{
    struct slow *s = ctx;
    (void)n;
    if (chunk != 0 || s->ran++) return false;
    for (int ms = 0; ms < 30000; ms++) {
        pthread_mutex_lock(&s->j->bg_mu);
        s->held = s->j->throttled > 0;
        pthread_mutex_unlock(&s->j->bg_mu);
        if (s->held || __atomic_load_n(&s->done, __ATOMIC_ACQUIRE) >= OUTRUN) break;
        usleep(1000);
    }
    return false;
}

static void test_replay_bound(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    j->chunk_bytes = SMALL_CHUNK;
    journal_set_limits(j, LIMIT, 0);
    struct zone *z = start(j, 1, "", NULL);
    struct slow s = {.j = j};
    j->test_hook = slow_hook;
    j->test_ctx = &s;
    uint32_t serial;
    struct err e;
    /* LIMIT updates queue a compaction; the ones after it outrun it. What
     * a start-up would replay at any moment is the metadata's count of
     * change sets since the snapshot. */
    uint64_t most = 0;
    for (unsigned i = 0; i < LIMIT + OUTRUN; i++) {
        if (update(z, j, i, &serial, &e) < 0) fail_msg("%s", e.msg);
        __atomic_store_n(&s.done, i + 1 > LIMIT ? i + 1 - LIMIT : 0, __ATOMIC_RELEASE);
        uint64_t n = meta(j).entries;
        most = n > most ? n : most;
    }
    if (most > 2 * LIMIT + 1) /* one updater: batches of one */
        fail_msg("%llu change sets since the snapshot, more than 2 x %d + 1",
                 (unsigned long long)most, LIMIT);
    assert_true(most > LIMIT); /* the compaction was outrun */
    assert_true(s.held);
    /* Closed at once (a compaction may be queued or running: close drops
     * it, as a kill would). */
    j->test_hook = NULL;
    struct journal_replay_info info;
    z = reopen(f->dir, &j, z, 0, &info);
    assert_true(info.from_snapshot);
    assert_true(info.entries <= 2 * LIMIT + 1);
    zone_free(z);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chunks_flushed_before_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_flush_keeps_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_replace_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
