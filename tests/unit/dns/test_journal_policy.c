/* Unit tests of the compaction trigger (issue 12, journal.h "Compaction"):
 * on a zone much bigger than its updates, max_entries change sets do not
 * compact until they also weigh size_ratio times the snapshot; ratio 0
 * compacts at max_entries as before; the absolute byte cap compacts
 * whatever the ratio; a metadata record written before the snapshot's size
 * was kept (52 bytes) still opens, compacts at max_entries, and the next
 * snapshot records the size. The expectations are computed here from the
 * metadata, not with the journal's own policy function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal_int.h"
#include "util/buf.h"

#include "journal_fixture.h"

#define HOSTS 2000     /* the zone's extra records: a snapshot of ~60 KB */
#define MAX_ENTRIES 10 /* the scaled-down max_entries (capd's default is 1000) */

/* example.org with HOSTS A records besides the fixture's SOA, NS, A. */
static struct zone_version *load_big(void)
{
    size_t cap = 200 + (size_t)HOSTS * 40, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap,
                            "$ORIGIN example.org.\n$TTL 3600\n"
                            "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
                            "@ NS ns1\nns1 A 192.0.2.1\n");
    for (unsigned i = 0; i < HOSTS; i++)
        len += (size_t)snprintf(text + len, cap - len, "host-%u A 198.51.%u.%u\n", i,
                                (i / 256) % 256, i % 256);
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "big.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    free(text);
    return v;
}

static struct jmeta meta(struct journal *j, size_t *len)
{
    MDB_txn *t;
    MDB_val k, v;
    struct jmeta m;
    struct err e;
    uint8_t l[DNS_NAME_MAX];
    assert_int_equal(mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t), 0);
    assert_int_equal(jr_meta_get(j, t, APEX, &m, &e), 1);
    k.mv_size = dns_name_lower(l, APEX);
    k.mv_data = l;
    assert_int_equal(mdb_get(t, j->meta, &k, &v), 0);
    if (len) *len = v.mv_size;
    mdb_txn_abort(t);
    return m;
}

/* Rewrites the zone's metadata as a journal before snap_bytes wrote it:
 * the first 52 bytes of the record. */
static void truncate_meta(struct journal *j)
{
    MDB_txn *t;
    MDB_val k, v;
    uint8_t l[DNS_NAME_MAX], old[META_LEN_OLD];
    k.mv_size = dns_name_lower(l, APEX);
    k.mv_data = l;
    assert_int_equal(mdb_txn_begin(j->env, NULL, 0, &t), 0);
    assert_int_equal(mdb_get(t, j->meta, &k, &v), 0);
    assert_int_equal(v.mv_size, META_LEN);
    memcpy(old, v.mv_data, sizeof old);
    v.mv_size = sizeof old;
    v.mv_data = old;
    assert_int_equal(mdb_put(t, j->meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
}

/* A journal with the limits, the big zone started from it and compacted
 * once, so that its snapshot's size is recorded. */
static struct zone *open_compacted(const char *dir, struct journal **j, double ratio,
                                   uint64_t max_bytes)
{
    *j = jopen(dir);
    journal_set_limits(*j, MAX_ENTRIES, max_bytes);
    journal_set_size_ratio(*j, ratio);
    struct zone *z = start_from(*j, load_big(), NULL);
    uint32_t s;
    struct err e;
    if (update(z, *j, 100000, &s, &e) < 0) fail_msg("%s", e.msg);
    if (journal_compact(*j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    struct jmeta m = meta(*j, NULL);
    assert_int_equal(m.entries, 0);
    /* every host's record is at least owner (10) + type, TTL, length, RDATA (12) */
    assert_true(m.snap_bytes > (uint64_t)HOSTS * 22);
    return z;
}

/* Updates one at a time (each one's background work finished) until one
 * compacts the zone; returns how many it took (0: none within `limit`).
 * Every state left uncompacted must not have been due by `due`; *last is
 * the last of them and *step the biggest change set seen (if not NULL). */
static unsigned updates_until(struct zone *z, struct journal *j, unsigned first, unsigned limit,
                              bool (*due)(const struct jmeta *), struct jmeta *last, uint64_t *step)
{
    struct jmeta prev = meta(j, NULL);
    for (unsigned k = 1; k <= limit; k++) {
        uint32_t s;
        struct err e;
        if (update(z, j, first + k, &s, &e) < 0) fail_msg("%s", e.msg);
        journal_background_wait(j);
        struct jmeta m = meta(j, NULL);
        if (m.snap_seq != prev.snap_seq) return k;
        assert_false(due(&m));
        if (step && m.bytes - prev.bytes > *step) *step = m.bytes - prev.bytes;
        if (last) *last = m;
        prev = m;
    }
    return 0;
}

static unsigned updates_until_compaction(struct zone *z, struct journal *j, unsigned first,
                                         unsigned limit, bool (*due)(const struct jmeta *))
{
    return updates_until(z, j, first, limit, due, NULL, NULL);
}

static bool due_quarter(const struct jmeta *m) /* ratio 0.25, no byte cap reached */
{
    return m->entries >= MAX_ENTRIES && 4 * m->bytes >= m->snap_bytes;
}

static bool due_entries(const struct jmeta *m)
{
    return m->entries >= MAX_ENTRIES;
}

/* The big zone: MAX_ENTRIES small updates do not compact it; it compacts
 * once the change sets weigh a quarter of the snapshot, and not before. */
static void test_ratio_defers(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_compacted(f->dir, &j, 0.25, 0);
    uint64_t snap_bytes = meta(j, NULL).snap_bytes;
    struct jmeta last;
    uint64_t step = 0;
    unsigned k = updates_until(z, j, 0, 10000, due_quarter, &last, &step);
    assert_true(k > MAX_ENTRIES);
    /* the update that compacted is the one that brought the change sets
     * to a quarter of the snapshot (the one before did not: updates_until) */
    assert_true(4 * (last.bytes + step) >= snap_bytes);
    /* and the new snapshot's size is recorded (it grew by k updates) */
    assert_true(meta(j, NULL).snap_bytes > snap_bytes);
    zone_free(z);
    journal_close(j);
}

/* Ratio 0: the zone's size does not matter, MAX_ENTRIES change sets
 * compact, as before the ratio existed. */
static void test_ratio_zero(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_compacted(f->dir, &j, 0, 0);
    assert_int_equal(updates_until_compaction(z, j, 0, 100, due_entries), MAX_ENTRIES);
    assert_int_equal(updates_until_compaction(z, j, 100, 100, due_entries), MAX_ENTRIES);
    zone_free(z);
    journal_close(j);
}

#define BYTE_CAP 400 /* a few updates' change sets (each under 100 bytes) */

static bool due_cap(const struct jmeta *m)
{
    return m->bytes >= BYTE_CAP || due_quarter(m);
}

/* The absolute cap compacts whatever the ratio and the count: BYTE_CAP
 * bytes are a few updates, far from a quarter of the snapshot. */
static void test_byte_cap(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_compacted(f->dir, &j, 0.25, BYTE_CAP);
    assert_true(meta(j, NULL).snap_bytes / 4 > BYTE_CAP);
    unsigned k = updates_until_compaction(z, j, 0, 100, due_cap);
    assert_in_range(k, 1, MAX_ENTRIES - 1);
    zone_free(z);
    journal_close(j);
}

/* A metadata record from before snap_bytes (52 bytes): the journal opens
 * and replays it, the size reads as unknown so MAX_ENTRIES change sets
 * compact as before, and that snapshot records the size (60 bytes). */
static void test_old_meta(void **st)
{
    struct fixture *f = *st;
    struct journal *j;
    struct zone *z = open_compacted(f->dir, &j, 0.25, 0);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    uint64_t want = zone_version_hash(zone_current(z));
    zone_free(z);
    truncate_meta(j);
    journal_close(j);

    j = jopen(f->dir);
    journal_set_limits(j, MAX_ENTRIES, 0);
    struct journal_replay_info info;
    z = start_from(j, load_big(), &info);
    assert_true(info.from_snapshot);
    assert_int_equal(info.entries, 1);
    /* the replayed zone, not the file (which lacks update 1) */
    assert_true(zone_version_hash(zone_current(z)) == want);
    size_t len;
    struct jmeta m = meta(j, &len);
    assert_int_equal(m.snap_bytes, 0);
    assert_int_equal(m.entries, 1);
    /* the replay left the old record alone; the next commit rewrites it */
    if (update(z, j, 2, &s, &e) < 0) fail_msg("%s", e.msg);
    journal_background_wait(j);
    m = meta(j, &len);
    assert_int_equal(len, META_LEN);
    assert_int_equal(m.snap_bytes, 0);
    /* two entries so far: MAX_ENTRIES - 2 more compact */
    assert_int_equal(updates_until_compaction(z, j, 10, 100, due_entries), MAX_ENTRIES - 2);
    m = meta(j, NULL);
    assert_true(m.snap_bytes > (uint64_t)HOSTS * 22);
    /* from now on the ratio applies */
    assert_true(updates_until_compaction(z, j, 200, 10000, due_quarter) > MAX_ENTRIES);
    zone_free(z);
    journal_close(j);
}

/* The replay bound's test (times 2) against hand-made metadata. */
static void test_twice(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    journal_set_limits(j, 1000, 1u << 20);
    journal_set_size_ratio(j, 0.25);
    struct jmeta m = {.entries = 2500, .bytes = 300000, .snap_bytes = 1000000};
    assert_true(jr_over_limits(j, &m, 1));  /* 2,500 >= 1,000 and 300 KB >= 250 KB */
    assert_false(jr_over_limits(j, &m, 2)); /* 300 KB < 500 KB: no wait */
    m.bytes = 500000;
    assert_true(jr_over_limits(j, &m, 2));
    m.entries = 1999; /* fewer than 2 x max_entries: no wait however heavy, below the cap */
    assert_false(jr_over_limits(j, &m, 2));
    m.bytes = 2u << 20; /* twice the cap */
    assert_true(jr_over_limits(j, &m, 2));
    m = (struct jmeta){.entries = 0, .bytes = 5u << 20};
    assert_false(jr_over_limits(j, &m, 1)); /* nothing since the snapshot */
    m = (struct jmeta){.entries = 1000, .bytes = 1, .snap_bytes = 0};
    assert_true(jr_over_limits(j, &m, 1)); /* size unknown: max_entries alone */
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ratio_defers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratio_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
