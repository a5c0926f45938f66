/* Unit tests for the primary side of replication (eon/primary.h,
 * eon/replica.h): full transfer then incremental calls, falling back to a
 * full transfer, registering again after losing state, the .cap files and
 * a restart, a stalled secondary, Primary.updateSecondaries. The world
 * they run on (a primary, test Secondaries over loopback) is
 * replica_world.c. */
#include "replica_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/wire.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "util/atomicfile.h"

/* ------------------------------------------------------------ tests */

static void full_then_incremental(void **state)
{
    (void)state;
    world_up(4500);
    struct err e;
    struct tsec *s = sec_new();
    if (register_sec(s, &e) < 0) fail_msg("register: %s", e.msg);
    /* Answered only once the URI Persistent.save gave is on disk. */
    char *path = cap_file(s->uri);
    assert_non_null(path);
    char prefix[400];
    snprintf(prefix, sizeof prefix, "%s/127.0.0.1_", W.secdir);
    assert_memory_equal(path, prefix, strlen(prefix));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(eon_repl_count(W.repl, "example.org"), 1);
    assert_true(converge(s, 10000));
    /* Its serial unknown: first whether it has our SOA (no operations),
     * which it has not; then the clear, 4502 records in chunks of 2000,
     * the SOA last of all. */
    assert_int_equal(s->nrecs, 5);
    assert_int_equal(s->recs[0].np, 1);
    assert_int_equal(s->recs[0].nu, 0);
    assert_int_equal(s->recs[0].prereq_serial, 10);
    assert_true(s->recs[1].clear);
    assert_int_equal(s->recs[1].np, 0);
    assert_int_equal(s->recs[2].nu, 2000);
    assert_int_equal(s->recs[3].nu, 2000);
    assert_int_equal(s->recs[4].nu, 503);
    for (int i = 2; i < 4; i++)
        assert_false(s->recs[i].soa_add);
    assert_true(s->recs[4].soa_add_last);
    assert_int_equal(s->recs[4].soa_serial, 10);
    char *base = base_of(path);
    struct eon_replica_info info = replica_info(base);
    assert_int_equal(info.state, EON_REPLICA_IDLE);
    assert_true(info.acked_known);
    assert_int_equal(info.acked, 10);
    assert_int_equal(info.full_transfers, 1);
    char sp[512];
    snprintf(sp, sizeof sp, "%s/%s.serial", W.secdir, base);
    size_t len;
    char *serial = read_file(sp, 100, &len, &e);
    assert_non_null(serial);
    assert_string_equal(serial, "10\n");
    free(serial);

    /* Three updates before the loop runs: one call carries them all,
     * with the SOA at 10 as prerequisite and the SOA at 13 last. */
    primary_add("a1.example.org", "192.0.2.11");
    primary_add("a2.example.org", "192.0.2.12");
    primary_add("a3.example.org", "192.0.2.13");
    assert_true(converge(s, 5000));
    assert_int_equal(s->nrecs, 6);
    assert_int_equal(s->recs[5].np, 1);
    assert_int_equal(s->recs[5].prereq_serial, 10);
    assert_int_equal(s->recs[5].nu, 4);
    assert_true(s->recs[5].soa_add_last);
    assert_int_equal(s->recs[5].soa_serial, 13);
    info = replica_info(base);
    assert_int_equal(info.acked, 13);
    assert_int_equal(info.incrementals, 1);
    assert_int_equal(info.full_transfers, 1);
    /* the statistics say the same, labelled with the .cap file's name */
    struct metrics_text t;
    metrics_text_init(&t);
    eon_repl_render(W.repl, &t);
    assert_true(metrics_text_ok(&t));
    char want[600];
    const char *fams[][2] = {{"capd_secondary_acked_serial", "13"},
                             {"capd_secondary_lag_serials", "0"},
                             {"capd_secondary_full_transfers_total", "1"},
                             {"capd_secondary_incremental_updates_total", "1"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "%s{zone=\"example.org\",secondary=\"%s.cap\"} %s\n",
                 fams[i][0], base, fams[i][1]);
        if (!strstr(t.p, want)) fail_msg("no '%s' in:\n%s", want, t.p);
    }
    snprintf(want, sizeof want,
             "capd_secondary_state{zone=\"example.org\",secondary=\"%s.cap\",state=\"idle\"} 1\n",
             base);
    if (!strstr(t.p, want)) fail_msg("no '%s' in:\n%s", want, t.p);
    metrics_text_free(&t);
    free(base);
    free(path);
    world_down();
    sec_free(s);
}

static void falls_back_to_full(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    struct tsec *s = sec_joined();
    char *base = sec_base(s);

    /* The secondary moved on its own (serial 11): the prerequisite fails,
     * the whole zone follows. */
    zone_add_a(s->zone, NULL, "rogue.example.org", "192.0.2.99");
    size_t before = s->nrecs;
    primary_add("b1.example.org", "192.0.2.21");
    assert_true(converge(s, 5000));
    assert_int_equal(s->recs[before].np, 1); /* the refused incremental */
    assert_true(s->recs[before + 1].clear);
    struct eon_replica_info info = replica_info(base);
    assert_int_equal(info.full_transfers, 2);
    assert_true(info.failures >= 1);

    /* Down (exceptions) while the journal is compacted past its serial:
     * after the reconnection the journal no longer covers it, so the
     * whole zone again. */
    s->mode = SEC_EXCEPTION;
    primary_add("b2.example.org", "192.0.2.22");
    run_for(100);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
    assert_int_equal(info.state, EON_REPLICA_BACKOFF);
    primary_add("b3.example.org", "192.0.2.23");
    rcu_thread_online();
    const struct zone_version *v = zone_current(W.zone);
    zone_version_hold(v);
    rcu_thread_offline();
    if (journal_compact(W.journal, v, &e) < 0) fail_msg("%s", e.msg);
    zone_version_release(v);
    s->mode = SEC_OK;
    before = s->nrecs;
    assert_true(converge(s, 5000));
    assert_true(s->recs[before].clear); /* no incremental tried */
    info = replica_info(base);
    assert_int_equal(info.full_transfers, 3);
    assert_int_equal(info.state, EON_REPLICA_IDLE);
    free(base);
    world_down();
    sec_free(s);
}

/* A secondary that lost its zone (a restart from an empty state dir, the
 * same capability) registers again while the primary has nothing new: it
 * must still get the zone, not wait for the next change. The registration
 * is checked with the SOA prerequisite, which fails, so a full transfer
 * follows. */
static void reregistered_after_losing_state(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    struct tsec *s = sec_joined();
    run_for(20);
    struct zone_version *empty;
    assert_int_equal(zone_synthesize(apex, 1, &empty, &e), 0);
    zone_lock(s->zone);
    zone_publish(s->zone, empty);
    zone_unlock(s->zone);
    assert_int_equal(serial_of(s->zone), 1);
    size_t before = s->nrecs;
    if (register_sec(s, &e) < 0) fail_msg("register again: %s", e.msg);
    assert_true(converge(s, 5000));
    assert_int_equal(s->recs[before].np, 1); /* the SOA check, refused */
    assert_int_equal(s->recs[before].nu, 0);
    assert_true(s->recs[before + 1].clear);
    /* Registering again while it does have our serial: one check, which
     * holds, and nothing else. */
    run_for(20);
    before = s->nrecs;
    if (register_sec(s, &e) < 0) fail_msg("register a third time: %s", e.msg);
    run_for(200);
    assert_int_equal(s->nrecs, before + 1);
    assert_int_equal(s->recs[before].nu, 0);
    char *base = sec_base(s);
    struct eon_replica_info info = replica_info(base);
    assert_int_equal(info.full_transfers, 2);
    assert_int_equal(info.state, EON_REPLICA_IDLE);
    free(base);
    world_down();
    sec_free(s);
}

static void files_and_restart(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    struct tsec *s1 = sec_new(), *s2 = sec_new(), *s3 = sec_new();
    if (register_sec(s1, &e) < 0 || register_sec(s2, &e) < 0) fail_msg("register: %s", e.msg);
    /* two capabilities on one host: two files */
    char *p1 = cap_file(s1->uri), *p2 = cap_file(s2->uri);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_string_not_equal(p1, p2);
    assert_int_equal(count_caps(), 2);
    assert_true(converge(s1, 5000));
    assert_true(converge(s2, 5000));
    /* the same capability again: its own file, replaced */
    if (register_sec(s1, &e) < 0) fail_msg("register: %s", e.msg);
    assert_int_equal(count_caps(), 2);
    assert_int_equal(eon_repl_count(W.repl, "example.org"), 2);
    char *again = cap_file(s1->uri);
    assert_string_equal(again, p1);
    assert_true(converge(s1, 5000));

    /* A secondary without a sturdy ref: save fails, so does the call. */
    struct tsec bare = {0};
    rpc_object_init(&bare.o, &sec_vt);
    assert_int_equal(register_sec(&bare, &e), -1);
    if (!strstr(e.msg, "save")) fail_msg("%s", e.msg);
    assert_int_equal(count_caps(), 2);

    /* A restart: the files are read (eon's HOST.cap too), and the queues
     * connect through the stored URIs and catch up. */
    char eon_file[512];
    snprintf(eon_file, sizeof eon_file, "%s/127.0.0.1.cap", W.secdir);
    char line[600];
    snprintf(line, sizeof line, "%s\n", s3->uri);
    assert_int_equal(atomic_write_file(eon_file, line, strlen(line), 0600, &e), 0);
    /* s2's serial is lost: it is asked whether it has our SOA, which it
     * has, so it gets no full transfer. */
    char *b2 = base_of(p2), sp2[600];
    snprintf(sp2, sizeof sp2, "%s/%s.serial", W.secdir, b2);
    assert_int_equal(unlink(sp2), 0);
    eon_repl_stop(W.repl);
    run_for(50);
    eon_repl_free(W.repl);
    W.repl = eon_repl_new(&W.ctx, &W.st, &e);
    zone_set_publish_hook(eon_repl_changed, W.repl);
    if (eon_repl_zone_start(W.repl, "example.org", &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(eon_repl_count(W.repl, "example.org"), 3);
    struct eon_replica_info info;
    for (int i = 0; i < 200; i++) {
        run_for(10);
        if (eon_repl_info(W.repl, "example.org", b2, &info) == 0 && info.acked_known) break;
    }
    assert_int_equal(eon_repl_info(W.repl, "example.org", b2, &info), 0);
    assert_true(info.acked_known);
    assert_int_equal(info.acked, serial_of(W.zone));
    assert_int_equal(info.full_transfers, 0);
    size_t full1 = s1->nrecs;
    primary_add("c1.example.org", "192.0.2.31");
    assert_true(converge(s1, 5000));
    assert_true(converge(s2, 5000));
    assert_true(converge(s3, 5000));
    /* s1 caught up with one incremental call (its serial was on disk) */
    assert_int_equal(s1->nrecs, full1 + 1);
    assert_int_equal(s1->recs[full1].np, 1);
    assert_int_equal(s1->recs[full1].nu, 2);
    info = replica_info("127.0.0.1");
    assert_int_equal(info.full_transfers, 1);
    free(b2);
    free(again);
    free(p1);
    free(p2);
    world_down();
    sec_free(s1);
    sec_free(s2);
    sec_free(s3);
}

static void stalled_secondary_delays_nobody(void **state)
{
    (void)state;
    world_up(10);
    struct tsec *a = sec_joined(), *b = sec_joined();
    a->mode = SEC_STALL;
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "d%d.example.org", i);
        primary_add(name, "192.0.2.41");
        assert_true(converge(b, 5000));
    }
    /* a holds its one incremental call: nothing more was sent to it */
    assert_int_equal(a->nstalled, 1);
    char *basea = sec_base(a);
    assert_int_equal(replica_info(basea).state, EON_REPLICA_INCREMENTAL);
    /* Primary.updateSecondaries reaches b at once, and answers when a
     * does too. */
    a->mode = SEC_OK;
    for (size_t i = 0; i < a->nstalled; i++)
        sec_update(a, a->stalled[i]);
    a->nstalled = 0;
    assert_true(converge(a, 5000));
    free(basea);
    world_down();
    sec_free(a);
    sec_free(b);
}

static void update_secondaries(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    struct tsec *a = sec_joined(), *b = sec_joined();
    size_t na = a->nrecs, nb = b->nrecs;
    struct rpc_cap *p = rpc_vat_restore_uri(W.svat, W.puri, &e);
    struct rpc_req *req = rpc_req_new(p, eon_Primary_ID, eon_Primary_updateSecondaries_ORDINAL);
    uint8_t ip[4] = {192, 0, 2, 51};
    struct eon_rec up = {.kind = EON_SPEC_ADD,
                         .name = "f.example.org",
                         .type = DNS_T_A,
                         .ttl = 60,
                         .rdata = ip,
                         .rdlen = 4};
    eon_update_encode(eon_Domain_update_Params_init_ptr(rpc_req_params(req)), NULL, 0, &up, 1);
    struct rpc_response *r = rpc_call_wait(req, 5000, &e);
    assert_non_null(r);
    assert_true(eon_Primary_updateSecondaries_Results_get_success(
        eon_Primary_updateSecondaries_Results_from_ptr(r->content)));
    rpc_response_free(r);
    assert_int_equal(a->nrecs, na + 1);
    assert_int_equal(b->nrecs, nb + 1);
    assert_int_equal(a->recs[na].nu, 1);
    /* a refusal by one secondary is the answer's error */
    a->mode = SEC_EXCEPTION;
    req = rpc_req_new(p, eon_Primary_ID, eon_Primary_updateSecondaries_ORDINAL);
    eon_update_encode(eon_Domain_update_Params_init_ptr(rpc_req_params(req)), NULL, 0, &up, 1);
    r = rpc_call_wait(req, 5000, &e);
    assert_non_null(r);
    eon_Primary_updateSecondaries_Results_R res =
        eon_Primary_updateSecondaries_Results_from_ptr(r->content);
    assert_false(eon_Primary_updateSecondaries_Results_get_success(res));
    if (!strstr(eon_Primary_updateSecondaries_Results_get_error(res).str, "down"))
        fail_msg("%s", eon_Primary_updateSecondaries_Results_get_error(res).str);
    rpc_response_free(r);
    rpc_cap_unref(p);
    world_down();
    sec_free(a);
    sec_free(b);
}

int main(void)
{
    rcu_register_thread();
    rcu_thread_offline();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_then_incremental), cmocka_unit_test(falls_back_to_full),
        cmocka_unit_test(files_and_restart),     cmocka_unit_test(stalled_secondary_delays_nobody),
        cmocka_unit_test(update_secondaries),    cmocka_unit_test(reregistered_after_losing_state),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rcu_thread_online();
    rcu_unregister_thread();
    return rc;
}
