/* Unit tests of journal_reload (dns/journal_reload.h): the start-up rule
 * applied to a served zone, alone and while other threads update it. The
 * reference for "right" is always a restart: what start() (journal_replay
 * on a fresh zone) makes of the same file and journal must be exactly what
 * the reload left served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal.h"
#include "dns/journal_reload.h"
#include "dns/update.h"
#include "dns/zone.h"

#include "journal_fixture.h"

/* Reloads z from the file content (serial, extra); fails the test on error. */
static struct journal_reload_info reload(struct journal *j, struct zone *z, uint32_t serial,
                                         const char *extra)
{
    struct journal_reload_info info;
    struct err e;
    if (journal_reload(j, z, load(serial, extra), &info, &e) < 0) fail_msg("%s", e.msg);
    return info;
}

/* What a restart would serve from this file and j equals what z serves. */
static void assert_same_as_restart(struct journal *j, struct zone *z, uint32_t serial,
                                   const char *extra)
{
    struct zone *r = start(j, serial, extra, NULL);
    assert_int_equal(zone_current(r)->serial, zone_current(z)->serial);
    assert_true(zone_version_hash(zone_current(r)) == zone_version_hash(zone_current(z)));
    zone_free(r);
}

static void test_unchanged(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "x A 192.0.2.7\n", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    const struct zone_version *before = zone_current(z);
    /* Same records in another layout: nothing to do, nothing published. */
    struct journal_reload_info info = reload(j, z, 100, "x 3600 IN A 192.0.2.7 ; comment\n");
    assert_int_equal(info.outcome, JOURNAL_RELOAD_UNCHANGED);
    assert_ptr_equal(zone_current(z), before);
    assert_int_equal(info.old_serial, 101);
    assert_int_equal(info.new_serial, 101);
    assert_true(present(zone_current(z), "a-%u.example.org.", 1));
    zone_free(z);
    journal_close(j);
}

/* An edit without a newer serial: the change sets go on top of it, as at
 * a start, and later updates chain on. */
static void test_edit_on_top(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 3; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    struct journal_reload_info info = reload(j, z, 100, "edited A 192.0.2.99\n");
    assert_int_equal(info.outcome, JOURNAL_RELOAD_ON_TOP);
    assert_int_equal(info.entries, 3);
    assert_int_equal(info.old_serial, 103);
    assert_int_equal(info.new_serial, 103);
    assert_true(present(zone_current(z), "edited.example.org.", 0));
    for (unsigned i = 0; i < 3; i++)
        assert_true(present(zone_current(z), "b-%u.example.org.", i));
    if (update(z, j, 3, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 104);
    /* The same file again is unchanged now: its hash was recorded. */
    assert_int_equal(reload(j, z, 100, "edited A 192.0.2.99\n").outcome, JOURNAL_RELOAD_UNCHANGED);
    assert_same_as_restart(j, z, 100, "edited A 192.0.2.99\n");
    zone_free(z);
    journal_close(j);
}

/* An edit with a newer serial wins: the journal restarts from it. */
static void test_file_wins(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 2; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    struct journal_reload_info info = reload(j, z, 200, "new A 192.0.2.50\n");
    assert_int_equal(info.outcome, JOURNAL_RELOAD_FILE_WINS);
    assert_int_equal(info.entries, 2);
    assert_int_equal(info.old_serial, 102);
    assert_int_equal(info.new_serial, 200);
    assert_true(present(zone_current(z), "new.example.org.", 0));
    assert_false(present(zone_current(z), "a-%u.example.org.", 0));
    uint32_t js;
    assert_true(journal_serial(j, APEX, &js));
    assert_int_equal(js, 200);
    if (update(z, j, 5, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 201);
    assert_same_as_restart(j, z, 200, "new A 192.0.2.50\n");
    zone_free(z);
    journal_close(j);
}

/* The journal no longer applies on top of the edit (a CNAME where an
 * update added an A): the served version and the journal stay. */
static void test_edit_conflicts(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    const struct zone_version *before = zone_current(z);
    struct journal_reload_info info;
    assert_int_equal(journal_reload(j, z, load(100, "a-1 CNAME elsewhere.example.\n"), &info, &e),
                     -1);
    assert_non_null(strstr(e.msg, "example.org"));
    assert_ptr_equal(zone_current(z), before);
    /* Nothing recorded: the next reload of the good file is a no-op and a
     * restart from it serves the same. */
    assert_int_equal(reload(j, z, 100, "").outcome, JOURNAL_RELOAD_UNCHANGED);
    if (update(z, j, 2, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_same_as_restart(j, z, 100, "");
    zone_free(z);
    journal_close(j);
}

static void test_no_journal(void **st)
{
    (void)st;
    struct err e;
    struct zone *z = zone_new(load(7, ""), &e);
    assert_non_null(z);
    struct journal_reload_info info = reload(NULL, z, 7, "");
    assert_int_equal(info.outcome, JOURNAL_RELOAD_UNCHANGED);
    info = reload(NULL, z, 7, "more A 192.0.2.3\n");
    assert_int_equal(info.outcome, JOURNAL_RELOAD_NO_JOURNAL);
    assert_true(present(zone_current(z), "more.example.org.", 0));
    /* Another zone's file is refused. */
    struct zone_version *other;
    assert_int_equal(zone_load_string("$ORIGIN example.net.\n@ 60 SOA a b 1 2 3 4 5\n", "o.zone",
                                      NULL, &other, &e),
                     0);
    assert_int_equal(journal_reload(NULL, z, other, &info, &e), -1);
    zone_free(z);
}

/* ---- reloads while updates run ---- */

#define THREADS 4
#define UPDATES 150
struct upd_arg {
    struct zone *z;
    struct journal *j;
    unsigned base;
    int failed;
    struct err why;
    int done; /* atomic: the worker has finished */
};

static void *upd_worker(void *p)
{
    struct upd_arg *a = p;
    for (unsigned k = 0; k < UPDATES; k++) {
        uint32_t s;
        struct err e;
        if (update(a->z, a->j, a->base + k, &s, &e) < 0 && !a->failed++) a->why = e;
    }
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Updates never fail because of a reload, every acknowledged one is still
 * served after reloads that keep the serial (the rule puts them on top of
 * each edit), and what is served is what a restart would serve. A last
 * edit with a newer serial wins over all of them, and updates after it
 * chain from it. Without the wait for the group commit in journal_reload
 * this fails: updates fail ("the journal is at serial ...") or vanish. */
static void test_reload_during_updates(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 100, "", NULL);
    pthread_t t[THREADS];
    struct upd_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct upd_arg){.z = z, .j = j, .base = 1000u * (unsigned)(i + 1)};
        assert_int_equal(pthread_create(&t[i], NULL, upd_worker, &a[i]), 0);
    }
    char extra[64] = "";
    /* Reload until every worker is done (at least twice): bounded by the
     * updates, which never wait for a reload for long. */
    unsigned r = 0;
    struct err e = {{0}}; /* the first problem; checked once the workers are joined */
    for (bool busy = true; (busy || r < 2) && !e.msg[0]; r++) {
        busy = false;
        for (int i = 0; i < THREADS; i++)
            busy |= !__atomic_load_n(&a[i].done, __ATOMIC_ACQUIRE);
        snprintf(extra, sizeof extra, "edit-%u TXT \"edit %u\"\n", r, r);
        struct journal_reload_info info;
        if (journal_reload(j, z, load(100, extra), &info, &e) < 0) break;
        if (info.outcome != JOURNAL_RELOAD_ON_TOP && info.outcome != JOURNAL_RELOAD_STARTED)
            err_set(&e, "reload %u: outcome %d", r, (int)info.outcome);
        else if (!present(zone_current(z), "edit-%u.example.org.", r))
            err_set(&e, "reload %u: the edit is not served", r);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (e.msg[0]) fail_msg("%s", e.msg);
    for (int i = 0; i < THREADS; i++)
        if (a[i].failed) fail_msg("%d updates failed: %s", a[i].failed, a[i].why.msg);
    for (int i = 0; i < THREADS; i++)
        for (unsigned k = 0; k < UPDATES; k++)
            assert_true(present(zone_current(z), "b-%u.example.org.", a[i].base + k));
    assert_int_equal(zone_current(z)->serial, 100 + THREADS * UPDATES);
    assert_same_as_restart(j, z, 100, extra);

    /* The file wins while updates run: whatever got in after it chains from 5000. */
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct upd_arg){.z = z, .j = j, .base = 100000u * (unsigned)(i + 1)};
        assert_int_equal(pthread_create(&t[i], NULL, upd_worker, &a[i]), 0);
    }
    struct journal_reload_info info;
    int rc = journal_reload(j, z, load(5000, "won A 192.0.2.200\n"), &info, &e);
    for (int i = 0; i < THREADS; i++) /* before any check: the workers use this frame */
        pthread_join(t[i], NULL);
    if (rc < 0) fail_msg("%s", e.msg);
    assert_int_equal(info.outcome, JOURNAL_RELOAD_FILE_WINS);
    for (int i = 0; i < THREADS; i++)
        if (a[i].failed) fail_msg("%d updates failed: %s", a[i].failed, a[i].why.msg);
    assert_true(present(zone_current(z), "won.example.org.", 0));
    assert_false(present(zone_current(z), "edit-%u.example.org.", 0));
    assert_false(present(zone_current(z), "b-%u.example.org.", 1000));
    uint32_t after = zone_current(z)->serial - 5000; /* updates acknowledged after the reload */
    assert_true(after <= THREADS * UPDATES);
    unsigned seen = 0;
    for (int i = 0; i < THREADS; i++)
        for (unsigned k = 0; k < UPDATES; k++)
            seen += present(zone_current(z), "b-%u.example.org.", a[i].base + k);
    assert_int_equal(seen, after);
    assert_same_as_restart(j, z, 5000, "won A 192.0.2.200\n");
    zone_free(z);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_on_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_conflicts, setup, teardown),
        cmocka_unit_test(test_no_journal),
        cmocka_unit_test_setup_teardown(test_reload_during_updates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
