/* Unit tests of replaying SOA changes from the journal (issue 9 point 10):
 * an update that sets the SOA, before or after other updates, must replay
 * to exactly the zone capd served, at every start. The change set of an SOA
 * update deletes the SOA as it was at that serial, which is not the SOA of
 * the zone file once other updates have moved the serial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"

#include "journal_fixture.h"

/* Closes and reopens the journal and replays it onto the file (serial
 * file_serial, content extra): the replayed zone must be the one served
 * before (same records, serial and SOA). */
static struct zone *restart(const char *dir, struct journal **j, struct zone *z,
                            uint32_t file_serial, const char *extra, uint64_t entries)
{
    uint64_t want = zone_version_hash(zone_current(z));
    uint32_t serial = zone_current(z)->serial, refresh = soa_refresh(zone_current(z));
    zone_free(z);
    journal_close(*j);
    *j = jopen(dir);
    struct journal_replay_info info;
    z = start(*j, file_serial, extra, &info);
    assert_false(info.dropped || info.started);
    assert_int_equal(info.entries, entries);
    assert_int_equal(zone_current(z)->serial, serial);
    assert_int_equal(soa_refresh(zone_current(z)), refresh);
    assert_true(zone_version_hash(zone_current(z)) == want);
    return z;
}

/* The sequence: other updates, the SOA set, other updates. */
static void test_soa_update_between_updates(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 10, "", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 11);
    if (soa_update(z, j, 100, 900, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 100);
    if (update(z, j, 2, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 101);
    z = restart(f->dir, &j, z, 10, "", 3);
    assert_true(present(zone_current(z), "a-%u.example.org.", 1));
    assert_true(present(zone_current(z), "b-%u.example.org.", 2));
    /* Another SOA update on the replayed zone, then a second start. */
    if (soa_update(z, j, 200, 1800, &s, &e) < 0) fail_msg("%s", e.msg);
    if (update(z, j, 3, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 201);
    z = restart(f->dir, &j, z, 10, "", 5);
    assert_int_equal(soa_refresh(zone_current(z)), 1800);
    zone_free(z);
    journal_close(j);
}

/* SOA updates back to back, the first one as the journal's first entry and
 * then after plain ones, across the serial wrap (RFC 1982). */
static void test_soa_updates_in_a_row(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 0xfffffff0u, "", NULL);
    uint32_t s;
    struct err e;
    const uint32_t serials[] = {0xfffffff5u, 3, 7};
    for (unsigned i = 0; i < 3; i++)
        if (soa_update(z, j, serials[i], 1000 + i, &s, &e) < 0) fail_msg("%s", e.msg);
    for (unsigned i = 0; i < 4; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 11);
    for (unsigned i = 0; i < 2; i++)
        if (soa_update(z, j, 20 + i, 2000 + i, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 21);
    z = restart(f->dir, &j, z, 0xfffffff0u, "", 9);
    assert_int_equal(soa_refresh(zone_current(z)), 2001);
    /* A snapshot of the replayed zone replays the same way. */
    if (journal_compact(j, zone_current(z), &e) < 0) fail_msg("%s", e.msg);
    if (update(z, j, 9, &s, &e) < 0) fail_msg("%s", e.msg);
    z = restart(f->dir, &j, z, 0xfffffff0u, "", 1);
    zone_free(z);
    journal_close(j);
}

/* The zone file's SOA edited (serial lowered, refresh changed) after an SOA
 * update: the journal's change sets apply on top of the edited file, and
 * the SOA the update set replaces the edited one, as it replaced the
 * file's SOA when it was made. */
static void test_soa_update_over_edited_file(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 10, "", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    if (soa_update(z, j, 50, 600, &s, &e) < 0) fail_msg("%s", e.msg);
    if (update(z, j, 2, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 51);
    zone_free(z);
    journal_close(j);
    j = jopen(f->dir);
    struct zone_version *fv, *out;
    if (zone_load_string("$ORIGIN example.org.\n$TTL 3600\n"
                         "@ SOA ns1 hostmaster 9 7777 3600 1209600 300\n"
                         "@ NS ns1\nns1 A 192.0.2.1\nedited A 192.0.2.99\n",
                         "edited.zone", NULL, &fv, &e) < 0)
        fail_msg("%s", e.msg);
    struct journal_replay_info info;
    if (journal_replay(j, fv, &out, &info, &e) < 0) fail_msg("%s", e.msg);
    assert_non_null(out);
    zone_version_free(fv);
    assert_true(info.content_changed);
    assert_false(info.dropped);
    assert_int_equal(info.entries, 3);
    assert_int_equal(out->serial, 51);
    assert_int_equal(soa_refresh(out), 600);
    assert_true(present(out, "edited.example.org.", 0));
    assert_true(present(out, "a-%u.example.org.", 2));
    zone_version_free(out);
    journal_close(j);
}

/* A change set whose SOA deletion names another serial than the entry's
 * from-serial was not written by capd: replay refuses it rather than
 * replace the SOA it does not name. */
static void test_soa_deletion_of_another_serial(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 10, "", NULL);
    zone_free(z);
    uint8_t old[SOA_RDLEN], neu[SOA_RDLEN];
    struct dns_change c[] = {
        {DNS_CHANGE_DEL, APEX, DNS_T_SOA, 3600, soa_rdata(old, 7, 7200), old},
        {DNS_CHANGE_ADD, APEX, DNS_T_SOA, 3600, soa_rdata(neu, 11, 7200), neu}};
    struct err e;
    if (journal_append(j, APEX, 10, 11, c, 2, &e) < 0) fail_msg("%s", e.msg);
    journal_close(j);
    j = jopen(f->dir);
    struct zone_version *v = load(10, ""), *out = NULL;
    assert_int_equal(journal_replay(j, v, &out, NULL, &e), -1);
    assert_null(out);
    assert_string_equal(e.msg, "the journal of example.org cannot be replayed: entry 1 (serial 10 "
                               "-> 11) does not apply: it deletes an SOA of serial 7 (the zone's "
                               "is 10)");
    zone_version_free(v);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_soa_update_between_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soa_updates_in_a_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soa_update_over_edited_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soa_deletion_of_another_serial, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
