/* Unit tests of journal compaction in chunks, off the commit path (issue
 * 12, dns/journal_compact.c): updates committed while a compaction writes
 * its chunks stay after the snapshot and replay on top of it; IXFR from
 * the journal falls back to the whole zone from a serial before the
 * snapshot and still yields the diffs from one after it; a compaction
 * interrupted between chunk transactions (or cancelled by journal_close)
 * leaves a journal that replays to the live zone, and the next one cleans
 * up after it. Chunks are made small so a zone of a few hundred records
 * takes many of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/journal_int.h"
#include "util/buf.h"

#include "journal_fixture.h"

#define SMALL_CHUNK 256 /* bytes of records per chunk: about 7 records */

/* reopen (journal_fixture.h) with small chunks: the replayed zone must be
 * the live one, replayed from a snapshot (or not) with `entries` change
 * sets applied after it. Returns the new zone and journal; frees the old
 * zone. */
static struct zone *reopen_expect(const char *dir, struct journal **j, struct zone *z,
                                  bool from_snapshot, unsigned entries)
{
    struct journal_replay_info info;
    z = reopen(dir, j, z, SMALL_CHUNK, &info);
    assert_int_equal(info.from_snapshot, from_snapshot);
    assert_int_equal(info.entries, entries);
    return z;
}

/* A journal in dir with small chunks, and the zone started from it. */
static struct zone *open_small(const char *dir, struct journal **j)
{
    *j = jopen(dir);
    (*j)->chunk_bytes = SMALL_CHUNK;
    return start(*j, 1, "", NULL);
}

/* Change sets an IXFR from `since` gets from the journal; -1: it must
 * send the whole zone instead. Checks that they chain up to `until`. */
static int ixfr_count(struct journal *j, uint32_t since, uint32_t until)
{
    struct journal_iter *it;
    struct err e;
    int r = journal_iter_open(j, APEX, since, &it, &e);
    if (r < 0) fail_msg("%s", e.msg);
    if (r == 1) return -1;
    uint32_t from, to, at = since;
    const struct dns_change *ch;
    size_t n;
    int count = 0;
    while ((r = journal_iter_next(it, &from, &to, &ch, &n, &e)) > 0) {
        assert_int_equal(from, at);
        at = to;
        count++;
    }
    if (r < 0) fail_msg("%s", e.msg);
    journal_iter_close(it);
    assert_int_equal(at, until);
    return count;
}

/* The chunk keys of the zone's database: how many, and whether they all
 * belong to the snapshot the metadata names, numbered 0, 1, ... */
static size_t chunk_keys(struct journal *j, bool *all_current)
{
    MDB_dbi dbi;
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    struct jmeta m;
    struct err e;
    assert_int_equal(jr_zone_dbi(j, APEX, &dbi, &e), 0);
    assert_int_equal(mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(jr_meta_get(j, t, APEX, &m, &e), 1);
    assert_int_equal(mdb_cursor_open(t, dbi, &cur), 0);
    size_t n = 0;
    *all_current = true;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (jr_is_chunk(&k)) {
            *all_current = *all_current && jr_key_seq(&k) == m.snap_seq &&
                           be32((const uint8_t *)k.mv_data + 8) == n;
            n++;
        }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    return n;
}

/* A compaction that must succeed; returns its chunk count (all of them
 * the current snapshot's). */
static size_t compact_ok(struct journal *j, struct zone *z)
{
    struct err e;
    bool current;
    if (journal_compact(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    size_t n = chunk_keys(j, &current);
    assert_true(current);
    return n;
}

/* ---- updates during a compaction ---- */

struct during {
    struct zone *z;
    struct journal *j;
    size_t at_chunk; /* run the updates before this chunk's transaction */
    unsigned first, n;
    uint32_t serial_before; /* the zone's serial when they started */
    int ran;
};

static bool updates_hook(void *ctx, size_t chunk, size_t n)
{
    struct during *d = ctx;
    (void)n;
    if (chunk != d->at_chunk || d->ran++) return false;
    d->serial_before = zone_current(d->z)->serial;
    updates(d->z, d->j, d->first, d->n);
    return false;
}

static void test_updates_during_compaction(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_small(f->dir, &j);
    updates(z, j, 0, 100); /* 203 records: about 30 chunks */
    struct during d = {z, j, 3, 1000, 5, 0, 0};
    j->test_hook = updates_hook;
    j->test_ctx = &d;
    struct err e;
    uint32_t x = zone_current(z)->serial; /* the snapshot's serial */
    if (journal_compact(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(d.ran, 1);
    assert_int_equal(d.serial_before, x);
    uint32_t live = zone_current(z)->serial;
    assert_int_equal(live, x + 5);
    bool current;
    assert_true(chunk_keys(j, &current) > 10);
    assert_true(current);
    /* IXFR: from before the snapshot, the whole zone; from it and after
     * it, the change sets made during the compaction. */
    assert_int_equal(ixfr_count(j, x - 1, live), -1);
    assert_int_equal(ixfr_count(j, 1, live), -1);
    assert_int_equal(ixfr_count(j, x, live), 5);
    assert_int_equal(ixfr_count(j, x + 2, live), 3);
    assert_int_equal(ixfr_count(j, live, live), 0);
    j->test_hook = NULL;
    z = reopen_expect(f->dir, &j, z, true, 5);
    zone_free(z);
    journal_close(j);
}

/* The commit path hands the compaction to the background thread; updates
 * made while it writes (from its hook, between chunks) are committed and
 * published without waiting for it. */
static void test_background(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_small(f->dir, &j);
    journal_set_limits(j, 60, 0);
    struct during d = {z, j, 4, 1000, 7, 0, 0};
    j->test_hook = updates_hook;
    j->test_ctx = &d;
    updates(z, j, 0, 60); /* the 60th queues a compaction of serial 61 */
    journal_background_wait(j);
    assert_int_equal(d.ran, 1);
    assert_int_equal(d.serial_before, 61);
    assert_true(journal_last_compaction(j) > 0);
    assert_int_equal(zone_current(z)->serial, 68);
    assert_int_equal(ixfr_count(j, 60, 68), -1);
    assert_int_equal(ixfr_count(j, 61, 68), 7);
    assert_false(journal_wants_compaction(j, APEX));
    j->test_hook = NULL;
    z = reopen_expect(f->dir, &j, z, true, 7);
    zone_free(z);
    journal_close(j);
}

/* ---- interrupted compactions ---- */

/* Stops a compaction before chunk `at` (SIZE_MAX: before the switch,
 * every chunk written); records how many chunks it had. */
struct kill {
    size_t at, n;
};

static bool kill_hook(void *ctx, size_t chunk, size_t n)
{
    struct kill *k = ctx;
    k->n = n;
    return chunk == (k->at == SIZE_MAX ? n : k->at);
}

static void test_interrupted(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_small(f->dir, &j);
    updates(z, j, 0, 50);
    struct err e;
    bool current;
    /* Killed after 3 of its chunks: readers skip them. */
    struct kill k = {3, 0};
    j->test_hook = kill_hook;
    j->test_ctx = &k;
    assert_int_equal(journal_compact(j, zone_current(z), &e), -1);
    assert_true(k.n > 10);
    assert_int_equal(chunk_keys(j, &current), 3);
    assert_false(current);
    updates(z, j, 50, 4);                       /* serial 55 */
    assert_int_equal(ixfr_count(j, 1, 55), 54); /* over the stale chunks */
    j->test_hook = NULL;
    z = reopen_expect(f->dir, &j, z, false, 54);
    /* The next compaction drops what the first left. */
    size_t n55 = compact_ok(j, z);
    assert_true(n55 > 10);
    /* Killed with every chunk written but before the switch: the journal
     * still replays from the previous snapshot. */
    updates(z, j, 60, 3); /* serial 58 */
    j->chunk_bytes = 64;
    k = (struct kill){SIZE_MAX, 0};
    j->test_hook = kill_hook;
    j->test_ctx = &k;
    assert_int_equal(journal_compact(j, zone_current(z), &e), -1);
    size_t n64 = k.n;
    assert_int_equal(chunk_keys(j, &current), n55 + n64);
    assert_false(current);
    j->test_hook = NULL;
    z = reopen_expect(f->dir, &j, z, true, 3);
    /* Then one at the same place with bigger chunks (fewer of them): it
     * overwrites the first of the leftovers and deletes the rest. */
    assert_true(compact_ok(j, z) < n64);
    z = reopen_expect(f->dir, &j, z, true, 0);
    zone_free(z);
    journal_close(j);
}

/* ---- a journal written before chunks ---- */

/* Rewrites the zone's chunked snapshot as one entry under its 8-byte key,
 * as journals were written before chunks existed. */
static void unchunk(struct journal *j)
{
    MDB_dbi dbi;
    MDB_txn *t;
    MDB_cursor *cur;
    MDB_val k, v;
    struct jmeta m;
    struct err e;
    assert_int_equal(jr_zone_dbi(j, APEX, &dbi, &e), 0);
    assert_int_equal(mdb_txn_begin(j->env, NULL, 0, &t), 0);
    assert_int_equal(jr_meta_get(j, t, APEX, &m, &e), 1);
    assert_int_equal(mdb_cursor_open(t, dbi, &cur), 0);
    uint8_t *whole = NULL;
    size_t size = ENTRY_HDR;
    uint32_t count = 0;
    int rc;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && jr_is_chunk(&k)) {
        assert_true(jr_key_seq(&k) == m.snap_seq);
        whole = realloc(whole, size + v.mv_size);
        if (size == ENTRY_HDR) memcpy(whole, v.mv_data, ENTRY_HDR);
        memcpy(whole + size, (uint8_t *)v.mv_data + ENTRY_HDR, v.mv_size - ENTRY_HDR);
        size += v.mv_size - ENTRY_HDR;
        count += be32((uint8_t *)v.mv_data + 12);
        assert_int_equal(mdb_cursor_del(cur, 0), 0);
    }
    assert_non_null(whole);
    put_be32(whole + 12, count);
    uint8_t kb[8];
    jr_seq_key(m.snap_seq, kb, &k);
    v = (MDB_val){size, whole};
    assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
    free(whole);
}

static void test_unchunked_snapshot(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_small(f->dir, &j);
    updates(z, j, 0, 30); /* serial 31 */
    compact_ok(j, z);
    unchunk(j);
    bool current;
    assert_int_equal(chunk_keys(j, &current), 0);
    updates(z, j, 30, 3); /* serial 34 */
    assert_int_equal(ixfr_count(j, 31, 34), 3);
    assert_int_equal(ixfr_count(j, 30, 34), -1);
    z = reopen_expect(f->dir, &j, z, true, 3);
    /* The next compaction replaces it with chunks. */
    assert_true(compact_ok(j, z) > 5);
    z = reopen_expect(f->dir, &j, z, true, 0);
    zone_free(z);
    journal_close(j);
}

/* ---- close during a background compaction ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool in_hook, open;
};

static bool gate_hook(void *ctx, size_t chunk, size_t n)
{
    struct gate *g = ctx;
    (void)n;
    if (chunk != 2) return false;
    pthread_mutex_lock(&g->mu);
    g->in_hook = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return false;
}

static void *closer(void *arg)
{
    journal_close(arg);
    return NULL;
}

static void test_close_cancels(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_small(f->dir, &j);
    journal_set_limits(j, 40, 0);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    j->test_hook = gate_hook;
    j->test_ctx = &g;
    updates(z, j, 0, 40); /* queues a compaction, which stops in the hook */
    pthread_mutex_lock(&g.mu);
    while (!g.in_hook)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    updates(z, j, 40, 3); /* commits go on meanwhile */
    uint64_t want = zone_version_hash(zone_current(z));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, closer, j), 0);
    while (!__atomic_load_n(&j->bg_stop, __ATOMIC_ACQUIRE))
        usleep(1000);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t, NULL); /* closed: the compaction was abandoned */
    zone_free(z);
    j = jopen(f->dir);
    struct journal_replay_info info;
    z = start(j, 1, "", &info);
    assert_false(info.from_snapshot);
    assert_int_equal(info.entries, 43);
    assert_true(zone_version_hash(zone_current(z)) == want);
    zone_free(z);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_updates_during_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchunked_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
