/* Unit tests of the journal functions a secondary zone needs (issue 14):
 * journal_snapshot_replace (a full transfer replaces the zone's journal,
 * whatever serial it was at, atomically) and journal_load_zone (a zone
 * with no zone file served from its snapshot and the change sets after
 * it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"

#include "journal_fixture.h"

/* No journal, or a zone file's journal without a snapshot: nothing to
 * serve without the file. */
static void test_load_absent(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone_version *v = (struct zone_version *)1;
    struct err e;
    assert_int_equal(journal_load_zone(j, APEX, &v, NULL, &e), 0);
    assert_null(v);
    struct zone *z = start(j, 10, "", NULL);
    uint32_t serial;
    assert_int_equal(update(z, j, 1, &serial, &e), 0);
    assert_int_equal(journal_load_zone(j, APEX, &v, NULL, &e), 0);
    assert_null(v);
    zone_free(z);
    journal_close(j);
}

/* A snapshot with no journal before it; updates after it through the
 * normal path; reopening serves snapshot + change sets. */
static void test_snapshot_then_updates(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone_version *v = load(5, "www A 192.0.2.80\n");
    struct err e;
    assert_int_equal(journal_snapshot_replace(j, v, &e), 0);
    uint32_t serial = 0;
    assert_true(journal_serial(j, APEX, &serial));
    assert_int_equal(serial, 5);
    struct zone *z = zone_new(v, &e);
    assert_non_null(z);
    for (unsigned i = 1; i <= 3; i++)
        if (update(z, j, i, &serial, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(serial, 8);
    zone_free(z);
    journal_close(j);

    j = jopen(f->dir);
    struct journal_replay_info info;
    struct zone_version *out = NULL;
    if (journal_load_zone(j, APEX, &out, &info, &e) != 1) fail_msg("%s", e.msg);
    assert_int_equal(out->serial, 8);
    assert_true(info.from_snapshot);
    assert_int_equal(info.entries, 3);
    assert_true(present(out, "www.example.org.", 0));
    for (unsigned i = 1; i <= 3; i++) {
        assert_true(present(out, "a-%u.example.org.", i));
        assert_true(present(out, "b-%u.example.org.", i));
    }
    /* IXFR from the snapshot's serial still works */
    struct journal_iter *it;
    assert_int_equal(journal_iter_open(j, APEX, 5, &it, &e), 0);
    journal_iter_close(it);
    zone_version_free(out);
    journal_close(j);
}

/* A later full transfer replaces everything, even with an older serial:
 * the old change sets are gone (IXFR from them falls back to the whole
 * zone) and the zone is the snapshot's. */
static void test_replace_any_serial(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct err e;
    struct zone *z = start(j, 100, "old A 192.0.2.9\n", NULL);
    uint32_t serial;
    for (unsigned i = 1; i <= 2; i++)
        if (update(z, j, i, &serial, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(serial, 102);
    struct zone_version *nv = load(7, "new A 192.0.2.10\n");
    assert_int_equal(journal_snapshot_replace(j, nv, &e), 0);
    assert_true(journal_serial(j, APEX, &serial));
    assert_int_equal(serial, 7);
    struct journal_iter *it;
    assert_int_equal(journal_iter_open(j, APEX, 100, &it, &e), 1);
    assert_int_equal(journal_iter_open(j, APEX, 101, &it, &e), 1);
    /* updates chain on from the snapshot */
    zone_lock(z);
    zone_publish(z, nv);
    zone_unlock(z);
    if (update(z, j, 9, &serial, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(serial, 8);
    zone_free(z);
    journal_close(j);

    j = jopen(f->dir);
    struct zone_version *out;
    if (journal_load_zone(j, APEX, &out, NULL, &e) != 1) fail_msg("%s", e.msg);
    assert_int_equal(out->serial, 8);
    assert_true(present(out, "new.example.org.", 0));
    assert_true(present(out, "a-9.example.org.", 0));
    assert_false(present(out, "old.example.org.", 0));
    assert_false(present(out, "a-1.example.org.", 0));
    zone_version_free(out);
    /* replacing twice in a row keeps one snapshot */
    struct zone_version *v2 = load(9, "");
    assert_int_equal(journal_snapshot_replace(j, v2, &e), 0);
    assert_int_equal(journal_snapshot_replace(j, v2, &e), 0);
    if (journal_load_zone(j, APEX, &out, NULL, &e) != 1) fail_msg("%s", e.msg);
    assert_int_equal(out->serial, 9);
    assert_int_equal(out->nrecords, v2->nrecords);
    zone_version_free(out);
    zone_version_free(v2);
    journal_close(j);
}

/* A version from records alone, as a full transfer gives them. */
static void test_build_version(void **st)
{
    (void)st;
    struct zone_version *src = load(4, "www A 192.0.2.80\nmail MX 10 www\n"), *v;
    struct dns_change ch[16];
    size_t n = 0;
    struct zone_cursor zc;
    zone_cursor_start(&zc, src);
    for (const struct zone_node *nd; (nd = zone_cursor_next(&zc));)
        for (uint16_t k = 0; k < nd->nrrsets; k++) {
            const struct dns_rrset *rs = &nd->rrsets[k];
            for (const uint8_t *p = rrset_first(rs); p; p = rrset_next(rs, p))
                ch[n++] = (struct dns_change){DNS_CHANGE_ADD, nd->name,    rs->type,
                                              rs->ttl,        rr_rdlen(p), rr_rdata(p)};
        }
    struct err e;
    if (journal_build_version(APEX, ch, n, 9, &v, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(v->serial, 9);
    assert_int_equal(v->nrecords, src->nrecords);
    assert_true(present(v, "mail.example.org.", 0));
    zone_version_free(v);
    /* without the SOA, or with a change that is not an addition: refused */
    size_t soa = 0;
    while (ch[soa].type != DNS_T_SOA)
        soa++;
    struct dns_change keep = ch[soa];
    ch[soa] = ch[n - 1];
    assert_int_equal(journal_build_version(APEX, ch, n - 1, 9, &v, &e), -1);
    ch[soa] = keep;
    ch[0].op = DNS_CHANGE_DEL;
    assert_int_equal(journal_build_version(APEX, ch, n, 9, &v, &e), -1);
    assert_non_null(strstr(e.msg, "not an addition"));
    zone_version_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_then_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_any_serial, setup, teardown),
        cmocka_unit_test(test_build_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
