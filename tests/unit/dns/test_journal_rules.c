/* Unit tests of the journal's start-up rule (dns/journal.h): which of the
 * zone file and the journal wins when the file changed since the journal
 * began, and that every later start agrees with the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <time.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "dns/zone.h"

#include "journal_fixture.h"

static void test_zone_file_newer(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 3; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    zone_free(z);
    /* Serial 103 is the journal's: not newer, the journal is replayed. 104 wins. */
    struct journal_replay_info info;
    z = start(j, 104, "extra TXT \"from the file\"\n", &info);
    assert_true(info.dropped);
    assert_int_equal(info.entries, 3);
    assert_int_equal(zone_current(z)->serial, 104);
    assert_false(present(zone_current(z), "a-%u.example.org.", 0));
    uint32_t js;
    assert_true(journal_serial(j, APEX, &js));
    assert_int_equal(js, 104);
    if (update(z, j, 7, &s, &e) < 0) fail_msg("%s", e.msg);
    zone_free(z);
    z = start(j, 104, "extra TXT \"from the file\"\n", &info);
    assert_int_equal(info.entries, 1);
    assert_int_equal(zone_current(z)->serial, 105);
    assert_true(present(zone_current(z), "a-%u.example.org.", 7));
    zone_free(z);
    /* Across the wrap: 5 is newer than 105? No. 2^31 + 200 is older than 105? Yes,
     * (105 - (2^31+200)) mod 2^32 < 2^31, so the journal stays. */
    z = start(j, 0x80000000u + 200, "extra TXT \"from the file\"\n", &info);
    assert_false(info.dropped);
    assert_true(info.content_changed);
    zone_free(z);
    journal_close(j);
}

/* A journal without entries follows the file, even to an older serial. */
static void test_zone_file_empty_journal(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct journal_replay_info info;
    struct zone *z = start(j, 10, "", &info);
    assert_true(info.started);
    zone_free(z);
    z = start(j, 5, "x A 192.0.2.5\n", &info);
    assert_false(info.dropped || info.content_changed);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 6);
    zone_free(z);
    journal_close(j);
}

static void test_zone_file_edited(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 3; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    zone_free(z);
    /* Content changed, serial not advanced: the journal applies on top. */
    struct journal_replay_info info;
    z = start(j, 100, "edited A 192.0.2.99\n", &info);
    assert_true(info.content_changed);
    assert_false(info.dropped);
    assert_int_equal(info.entries, 3);
    assert_int_equal(zone_current(z)->serial, 103);
    assert_true(present(zone_current(z), "edited.example.org.", 0));
    assert_true(present(zone_current(z), "b-%u.example.org.", 2));
    zone_free(z);
    /* The new content is recorded: no warning the second time. */
    z = start(j, 100, "edited A 192.0.2.99\n", &info);
    assert_false(info.content_changed);
    assert_int_equal(info.entries, 3);
    /* After a snapshot, the snapshot replaces the file's content. */
    assert_int_equal(journal_last_compaction(j), 0); /* none since open */
    time_t before = time(NULL);
    if (journal_compact(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    assert_true(journal_last_compaction(j) >= (uint64_t)before);
    zone_free(z);
    z = start(j, 100, "other A 192.0.2.98\n", &info);
    assert_true(info.content_changed && info.from_snapshot);
    assert_int_equal(info.entries, 0);
    assert_false(present(zone_current(z), "other.example.org.", 0));
    assert_true(present(zone_current(z), "edited.example.org.", 0));
    assert_int_equal(zone_current(z)->serial, 103);
    zone_free(z);
    journal_close(j);
}

/* The file edited with a serial that is neither the journal's base nor
 * newer than its latest (here lowered from 10 to 9): the change sets apply
 * on top of the edit at the first start and at every later one. */
static void test_zone_file_lowered_serial(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct journal_replay_info info;
    struct zone *z = start(j, 10, "", &info);
    assert_true(info.started);
    uint32_t s;
    struct err e;
    if (update(z, j, 0, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 11);
    zone_free(z);
    journal_close(j);
    for (int round = 0; round < 3; round++) {
        j = jopen(f->dir);
        z = start(j, 9, "edited A 192.0.2.99\n", &info);
        assert_int_equal(info.content_changed, round == 0);
        assert_false(info.dropped || info.started || info.from_snapshot);
        assert_int_equal(info.entries, 1 + round);
        assert_int_equal(zone_current(z)->serial, 11 + round);
        assert_true(present(zone_current(z), "edited.example.org.", 0));
        for (int i = 0; i <= round; i++)
            assert_true(present(zone_current(z), "a-%u.example.org.", 10u * (unsigned)i));
        /* Acknowledged updates after the edit survive the next start too. */
        if (update(z, j, 10u * (unsigned)(round + 1), &s, &e) < 0) fail_msg("%s", e.msg);
        assert_int_equal(s, 12 + round);
        zone_free(z);
        journal_close(j);
    }
}

/* Issue 9 point 11: SOA updates moved the journal's serial more than 2^31
 * past the unchanged file's (1 -> 2^31 -> 4000000000), so that the file's
 * serial is newer by RFC 1982. The file did not change: the journal is
 * replayed, at every start. A file that did change, with that serial or a
 * newer one, still wins. */
static void test_unchanged_file_far_behind(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 1, "", NULL);
    uint32_t s;
    struct err e;
    if (soa_update(z, j, 0x80000000u, 7200, &s, &e) < 0) fail_msg("%s", e.msg);
    if (soa_update(z, j, 4000000000u, 7200, &s, &e) < 0) fail_msg("%s", e.msg);
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 4000000001u);
    assert_true(serial_newer(1, s));
    zone_free(z);
    struct journal_replay_info info;
    for (int round = 0; round < 2; round++) {
        z = start(j, 1, "", &info);
        assert_false(info.dropped || info.content_changed || info.started);
        assert_int_equal(info.entries, 3);
        assert_int_equal(zone_current(z)->serial, 4000000001u);
        assert_true(present(zone_current(z), "a-%u.example.org.", 1));
        zone_free(z);
    }
    z = start(j, 1, "edited A 192.0.2.99\n", &info);
    assert_true(info.dropped);
    assert_int_equal(info.entries, 3);
    assert_int_equal(zone_current(z)->serial, 1);
    assert_true(present(zone_current(z), "edited.example.org.", 0));
    assert_false(present(zone_current(z), "a-%u.example.org.", 1));
    zone_free(z);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zone_file_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_file_empty_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_file_edited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_file_lowered_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_file_far_behind, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
