/* Unit tests of the Secondary service (eon/secondary.h, issue 14), driven
 * through the rpc library as a primary drives it: eon's full transfer
 * (call 1 removes the apex SOA, call 2 adds every record as single values,
 * names in descending order, apex ops last with the SOA first among
 * them), ceon's chunked one, a serial that is not newer, names outside the
 * zone, a transfer over the bound, chunks built as they arrive giving
 * exactly the zone built at once (interrupted or not), a burst of incremental updates applied
 * in arrival order, and a restart serving the journal's state. The link
 * to a primary is not started (eon/upstream.c is the e2e tests'). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/journal.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "eon/domain.h"
#include "eon/gen/eon.capnp.h"
#include "eon/secondary_int.h"
#include "rpc/store.h"
#include "util/atomicfile.h"
#include "util/buf.h"

struct world {
    char dir[64];
    uv_loop_t loop;
    struct zone_set_handle zones;
    struct journal *j;
    struct eon_ctx ctx;
    struct eon_secondaries *set;
};

static int derive(void *ud, const char *name, uint8_t out[32], struct err *e)
{
    (void)ud;
    (void)e;
    static const uint8_t secret[32] = {1, 2, 3};
    sturdy_derive_id(secret, name, out);
    return 0;
}

static void open_world(struct world *w)
{
    struct err e;
    char path[128], jdir[128], sdir[128];
    uv_loop_init(&w->loop);
    zone_set_handle_init(&w->zones);
    snprintf(jdir, sizeof jdir, "%s/journal", w->dir);
    snprintf(sdir, sizeof sdir, "%s/store", w->dir);
    if (journal_open(jdir, &w->j, &e) < 0) fail_msg("%s", e.msg);
    snprintf(path, sizeof path, "%s/example.org.cap", w->dir);
    const char *files[] = {path};
    if (eon_secondaries_open(files, 1, 1, w->dir, w->j, &w->zones, &w->set, &e) < 0)
        fail_msg("%s", e.msg);
    memset(&w->ctx, 0, sizeof w->ctx);
    w->ctx.loop = &w->loop;
    w->ctx.zones = &w->zones;
    w->ctx.journal = w->j;
    w->ctx.secondaries = w->set;
    if (!(w->ctx.store = svc_store_open(sdir, &e))) fail_msg("%s", e.msg);
    struct rpc_vat_config vc = {.disable_tls = true};
    if (!(w->ctx.vat = rpc_vat_new(&w->loop, &vc, &e))) fail_msg("%s", e.msg);
    if (rpc_vat_listen(w->ctx.vat, "tcp:127.0.0.1:0", &e) < 0) fail_msg("%s", e.msg);
    w->set->ctx = &w->ctx;
    w->set->derive = derive;
    /* What getName would have told the link. */
    if (sec_set_name(&w->set->v[0], "example.org", &e) < 0) fail_msg("%s", e.msg);
}

static void close_world(struct world *w)
{
    eon_secondaries_stop(w->set);
    rpc_vat_free(w->ctx.vat);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    eon_secondaries_free(w->set);
    svc_store_close(w->ctx.store);
    journal_close(w->j);
    zone_set_handle_destroy(&w->zones);
    uv_loop_close(&w->loop);
}

static int setup(void **st)
{
    struct world *w = calloc(1, sizeof *w);
    strcpy(w->dir, "/tmp/ceon-secondary-XXXXXX");
    if (!mkdtemp(w->dir)) return -1;
    char path[128];
    struct err e;
    snprintf(path, sizeof path, "%s/example.org.cap", w->dir);
    const char *uri = "capnp://insecure@127.0.0.1:9/AAAA";
    if (atomic_write_file(path, uri, strlen(uri), 0600, &e) < 0) return -1;
    open_world(w);
    *st = w;
    return 0;
}

static int teardown(void **st)
{
    struct world *w = *st;
    close_world(w);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    if (system(cmd) != 0) return -1;
    free(w);
    return 0;
}

/* ---- building calls ---- */

struct op {
    char kind; /* 'a' add, 'r' remove (RRset), 'x' removeAll, 's' removeSingle, 'e' exists prereq */
    const char *name;
    uint16_t type;
    const uint8_t *value;
    uint32_t len;
    uint32_t ttl;
};

struct reply {
    int done;
    bool success;
    char error[512];
};

static void on_reply(void *ud, struct rpc_response *r)
{
    struct reply *rp = ud;
    rp->done = 1;
    if (r->error) {
        snprintf(rp->error, sizeof rp->error, "exception: %s", r->error);
    } else {
        eon_Secondary_update_Results_R res = eon_Secondary_update_Results_from_ptr(r->content);
        rp->success = eon_Secondary_update_Results_get_success(res);
        capnp_text t = eon_Secondary_update_Results_get_error(res);
        snprintf(rp->error, sizeof rp->error, "%.*s", (int)t.len, t.str ? t.str : "");
    }
    rpc_response_free(r);
}

static void send_update(struct world *w, const struct op *ops, size_t n, struct reply *rp)
{
    struct rpc_req *req =
        rpc_req_new(sec_service_cap(&w->set->v[0]), eon_Secondary_ID, eon_Secondary_update_ORDINAL);
    eon_Secondary_update_Params_B p = eon_Secondary_update_Params_init_ptr(rpc_req_params(req));
    size_t np = 0, nu = 0;
    for (size_t i = 0; i < n; i++)
        ops[i].kind == 'e' ? np++ : nu++;
    eon_Prereq_LB pl = eon_Secondary_update_Params_init_prereqs(p, (uint32_t)np);
    eon_Update_LB ul = eon_Secondary_update_Params_init_updates(p, (uint32_t)nu);
    np = nu = 0;
    for (size_t i = 0; i < n; i++) {
        const struct op *o = &ops[i];
        if (o->kind == 'e') {
            eon_Prereq_B b = eon_Prereq_LB_at(pl, (uint32_t)np++);
            eon_Prereq_set_name(b, o->name, (uint32_t)strlen(o->name));
            eon_Prereq_exists_set_type(eon_Prereq_init_exists(b), (int16_t)o->type);
            continue;
        }
        eon_Update_B b = eon_Update_LB_at(ul, (uint32_t)nu++);
        eon_Update_set_name(b, o->name, (uint32_t)strlen(o->name));
        if (o->kind == 'a') {
            eon_Update_add_B a = eon_Update_init_add(b);
            eon_Update_add_set_type(a, (int16_t)o->type);
            eon_Update_add_set_value(a, o->value, o->len);
            eon_Update_add_set_ttl(a, (int32_t)o->ttl);
        } else if (o->kind == 'r') {
            eon_Update_remove_set_type(eon_Update_init_remove(b), (int16_t)o->type);
        } else if (o->kind == 'x') {
            eon_Update_set_removeAll(b);
        }
    }
    memset(rp, 0, sizeof *rp);
    struct rpc_promise *pr = rpc_req_send(req, on_reply, rp);
    if (pr) rpc_promise_unref(pr);
}

static void wait_for(struct world *w, struct reply *rp, size_t n)
{
    for (int k = 0; k < 100000; k++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += rp[i].done;
        if (done == n) return;
        uv_run(&w->loop, UV_RUN_ONCE);
    }
    fail_msg("no answer");
}

static void call(struct world *w, const struct op *ops, size_t n, bool ok, const char *text)
{
    struct reply rp;
    send_update(w, ops, n, &rp);
    wait_for(w, &rp, 1);
    if (rp.success != ok) fail_msg("expected %s, got: %s", ok ? "success" : "failure", rp.error);
    if (text && !strstr(rp.error, text)) fail_msg("expected '%s' in '%s'", text, rp.error);
}

/* ---- reading the zone ---- */

static uint8_t SOA5[61], SOA3[61], NS1[17], A1[4] = {192, 0, 2, 1}, A2[4] = {192, 0, 2, 2};

static uint16_t soa(uint8_t rd[61], uint32_t serial)
{
    static const uint8_t names[] = "\3ns1\7example\3org\0\12hostmaster\7example\3org";
    memcpy(rd, names, sizeof names);
    const uint32_t t[5] = {serial, 7200, 3600, 1209600, 300};
    for (int i = 0; i < 5; i++)
        put_be32(rd + sizeof names + 4 * i, t[i]);
    return 61;
}

static uint32_t served_serial(struct world *w)
{
    struct zone *z = w->set->v[0].zone;
    if (!z) return 0;
    rcu_read_lock();
    uint32_t s = zone_current(z)->serial;
    rcu_read_unlock();
    return s;
}

static bool has(struct world *w, const char *name)
{
    uint8_t n[DNS_NAME_MAX];
    struct err e;
    int len = dns_name_from_text(name, NULL, n, &e);
    struct zone *z = w->set->v[0].zone;
    return z && zone_version_find(zone_current(z), n, (size_t)len) != NULL;
}

/* eon's transfer of a zone with serial `serial` and names www-0..www-(k-1). */
static void eon_transfer(struct world *w, uint32_t serial, unsigned k, bool ok, const char *text)
{
    static uint8_t rd[61];
    soa(rd, serial);
    struct op start[] = {{'r', "example.org", DNS_T_SOA}};
    call(w, start, 1, true, NULL);
    struct op *ops = calloc(k + 3, sizeof *ops);
    char(*names)[32] = calloc(k, sizeof *names);
    size_t n = 0;
    for (unsigned i = k; i-- > 0;) { /* descending */
        snprintf(names[i], sizeof names[i], "www-%u.example.org", i);
        ops[n++] = (struct op){'a', names[i], DNS_T_A, A1, 4, 300};
    }
    ops[n++] = (struct op){'a', "ns1.example.org", DNS_T_A, A2, 4, 300};
    ops[n++] = (struct op){'a', "example.org", DNS_T_SOA, rd, 61, 300};
    ops[n++] = (struct op){'a', "example.org", DNS_T_NS, NS1, 17, 3600};
    call(w, ops, n, ok, text);
    free(ops);
    free(names);
}

static void init_rdata(void)
{
    soa(SOA5, 5);
    soa(SOA3, 3);
    memcpy(NS1, "\3ns1\7example\3org", 17);
}

/* ---- tests ---- */

static void test_not_transferred(void **st)
{
    struct world *w = *st;
    struct op add[] = {{'a', "x.example.org", DNS_T_A, A1, 4, 60}};
    call(w, add, 1, false, "zone example.org has not been transferred yet");
    assert_null(w->set->v[0].zone);
}

static void test_eon_transfer(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 50, true, NULL);
    assert_int_equal(served_serial(w), 5);
    assert_true(has(w, "www-0.example.org."));
    assert_true(has(w, "www-49.example.org."));
    assert_int_equal(w->set->v[0].full_transfers, 1);
    uint32_t js;
    assert_true(journal_serial(w->j, (const uint8_t *)"\7example\3org", &js));
    assert_int_equal(js, 5);
    /* an incremental update, as ceon's primary sends it: ops + new SOA */
    static uint8_t s6[61];
    soa(s6, 6);
    struct op inc[] = {{'a', "new.example.org", DNS_T_A, A2, 4, 60},
                       {'a', "example.org", DNS_T_SOA, s6, 61, 300}};
    call(w, inc, 2, true, NULL);
    assert_int_equal(served_serial(w), 6);
    assert_true(has(w, "new.example.org."));
    assert_int_equal(w->set->v[0].full_transfers, 1);
    assert_int_equal(w->set->v[0].updates_applied, 1);
    /* a second transfer replaces the content, old names are gone */
    eon_transfer(w, 9, 3, true, NULL);
    assert_int_equal(served_serial(w), 9);
    assert_false(has(w, "new.example.org."));
    assert_false(has(w, "www-49.example.org."));
    assert_true(has(w, "www-2.example.org."));
}

/* eon sends the whole zone in one call: more operations than a
 * Domain.update may carry (10,000) are accepted from the primary. */
static void test_eon_transfer_large(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 7, 12000, true, NULL);
    assert_int_equal(served_serial(w), 7);
    assert_true(has(w, "www-0.example.org."));
    assert_true(has(w, "www-11999.example.org."));
}

static void test_serial_bumped(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 2, true, NULL);
    eon_transfer(w, 3, 4, true, NULL); /* not newer than 5 */
    assert_int_equal(served_serial(w), 6);
    assert_true(has(w, "www-3.example.org."));
    eon_transfer(w, 6, 1, true, NULL); /* equal, other content */
    assert_int_equal(served_serial(w), 7);
    eon_transfer(w, 7, 1, true, NULL); /* equal, the same content: nothing to do */
    assert_int_equal(served_serial(w), 7);
    uint32_t js;
    assert_true(journal_serial(w->j, (const uint8_t *)"\7example\3org", &js));
    assert_int_equal(js, 7);
}

/* ceon's chunked transfer: adds in several calls, SOA in the last; while
 * it is staged the old content is still served. */
static void test_chunked_and_staged_aside(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 2, true, NULL);
    struct op start[] = {{'r', "example.org", DNS_T_SOA}};
    call(w, start, 1, true, NULL);
    struct op c1[] = {{'a', "c1.example.org", DNS_T_A, A1, 4, 60},
                      {'a', "example.org", DNS_T_NS, NS1, 17, 3600}};
    call(w, c1, 2, true, NULL);
    assert_true(has(w, "www-1.example.org.")); /* old content served meanwhile */
    assert_false(has(w, "c1.example.org."));
    static uint8_t s8[61];
    soa(s8, 8);
    struct op c2[] = {{'a', "example.org", DNS_T_SOA, s8, 61, 300},
                      {'a', "ns1.example.org", DNS_T_A, A2, 4, 60}};
    call(w, c2, 2, true, NULL);
    assert_int_equal(served_serial(w), 8);
    assert_true(has(w, "c1.example.org."));
    assert_false(has(w, "www-1.example.org."));
}

static void test_hostile(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 2, true, NULL);
    /* incremental: outside the zone (the engine's message) */
    struct op out[] = {{'a', "evil.example.com", DNS_T_A, A1, 4, 60}};
    call(w, out, 1, false, "is outside example.org");
    /* staged: outside the zone, then the rest of that transfer is refused */
    struct op start[] = {{'r', "example.org", DNS_T_SOA}};
    call(w, start, 1, true, NULL);
    call(w, out, 1, false, "name evil.example.com is outside example.org");
    static uint8_t s9[61];
    soa(s9, 9);
    struct op rest[] = {{'a', "example.org", DNS_T_SOA, s9, 61, 300},
                        {'a', "example.org", DNS_T_NS, NS1, 17, 3600}};
    call(w, rest, 2, false, "was dropped");
    assert_int_equal(served_serial(w), 5);
    /* staged: a non-add */
    call(w, start, 1, true, NULL);
    struct op rm[] = {{'x', "www-1.example.org"}};
    call(w, rm, 1, false, "takes only adds");
    call(w, rest, 2, false, "was dropped");
    /* staged: malformed RDATA (an A of 3 bytes) */
    call(w, start, 1, true, NULL);
    struct op bad[] = {{'a', "x.example.org", DNS_T_A, A1, 3, 60}};
    call(w, bad, 1, false, "malformed RDATA");
    call(w, rest, 2, false, "was dropped");
    /* the zone is unchanged, and a good transfer still works afterwards */
    assert_int_equal(served_serial(w), 5);
    assert_true(has(w, "www-1.example.org."));
    eon_transfer(w, 10, 1, true, NULL);
    assert_int_equal(served_serial(w), 10);
}

static void test_bound(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 2, true, NULL);
    w->set->stage_max_bytes = 20000;
    eon_transfer(w, 7, 400, false, "larger than this capd accepts");
    assert_int_equal(served_serial(w), 5);
    assert_false(has(w, "www-300.example.org."));
    eon_transfer(w, 7, 10, true, NULL);
    assert_int_equal(served_serial(w), 7);
}

/* A transfer's records go into the zone being built call by call: the
 * result is exactly the zone built at once from the same records (the
 * same RRsets, TTLs and serial), also after a transfer interrupted half
 * way by a new one (the old zone is served meanwhile, nothing of the
 * interrupted one remains), and after a restart from the journal. */
static void test_chunks_build_exactly(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 3, true, NULL);
    enum { K = 3000, CHUNK = 700 };
    static char names[K][32];
    static struct op ops[K + 3];
    static uint8_t s9[61], a[K][4];
    soa(s9, 9);
    size_t n = 0;
    /* names in no order, two A records per name, the later TTL wins */
    for (unsigned i = 0; i < K; i++) {
        unsigned k = (i * 7919u) % (K / 2);
        snprintf(names[i], sizeof names[i], "h-%u.example.org", k);
        a[i][0] = 10, a[i][1] = (uint8_t)(i >> 8), a[i][2] = (uint8_t)i, a[i][3] = 1;
        ops[n++] = (struct op){'a', names[i], DNS_T_A, a[i], 4, 100 + i};
    }
    ops[n++] = (struct op){'a', "example.org", DNS_T_NS, NS1, 17, 3600};
    ops[n++] = (struct op){'a', "ns1.example.org", DNS_T_A, A2, 4, 60};
    ops[n++] = (struct op){'a', "example.org", DNS_T_SOA, s9, 61, 300};
    /* the reference: every record built at once */
    static struct dns_change ch[K + 3];
    static uint8_t wire[K + 3][DNS_NAME_MAX];
    struct err e;
    for (size_t i = 0; i < n; i++) {
        if (dns_name_from_text(ops[i].name, (const uint8_t *)"", wire[i], &e) < 0)
            fail_msg("%s", e.msg);
        ch[i] = (struct dns_change){DNS_CHANGE_ADD,       wire[i],     ops[i].type, ops[i].ttl,
                                    (uint16_t)ops[i].len, ops[i].value};
    }
    struct zone_version *ref = NULL;
    if (journal_build_version((const uint8_t *)"\7example\3org", ch, n, 9, &ref, &e) < 0)
        fail_msg("%s", e.msg);
    struct op start[] = {{'r', "example.org", DNS_T_SOA}};
    /* interrupted after two chunks: the old zone is still served */
    call(w, start, 1, true, NULL);
    call(w, ops, CHUNK, true, NULL);
    call(w, ops + CHUNK, CHUNK, true, NULL);
    assert_int_equal(served_serial(w), 5);
    assert_true(has(w, "www-2.example.org."));
    assert_false(has(w, "h-0.example.org."));
    /* a new transfer, whole */
    call(w, start, 1, true, NULL);
    for (size_t at = 0; at < n; at += CHUNK)
        call(w, ops + at, n - at < CHUNK ? n - at : CHUNK, true, NULL);
    assert_int_equal(served_serial(w), 9);
    assert_false(has(w, "www-2.example.org."));
    assert_true(has(w, "h-1499.example.org."));
    rcu_read_lock();
    assert_int_equal(zone_version_hash(zone_current(w->set->v[0].zone)), zone_version_hash(ref));
    rcu_read_unlock();
    assert_int_equal(w->set->v[0].full_transfers, 2);
    close_world(w);
    open_world(w);
    assert_int_equal(served_serial(w), 9);
    rcu_read_lock();
    assert_int_equal(zone_version_hash(zone_current(w->set->v[0].zone)), zone_version_hash(ref));
    rcu_read_unlock();
    zone_version_free(ref);
}

/* A transfer whose snapshot cannot be journaled (here: the journal holds
 * as many zones as it can, so this zone gets no table) is refused, and
 * the zone it had already put in the served set is taken out again:
 * nothing is served that a restart would not serve. */
static void test_journal_failure_unserves(void **st)
{
    struct world *w = *st;
    struct err e;
    for (unsigned i = 0; i < 1024; i++) {
        char text[32];
        uint8_t apex[DNS_NAME_MAX];
        snprintf(text, sizeof text, "z%u.test.", i);
        if (dns_name_from_text(text, NULL, apex, &e) < 0) fail_msg("%s", e.msg);
        struct zone_version *v;
        if (zone_synthesize(apex, 1, &v, &e) < 0) fail_msg("%s", e.msg);
        int r = journal_snapshot_replace(w->j, v, &e);
        zone_version_free(v);
        if (r < 0) break; /* full */
    }
    eon_transfer(w, 5, 10, false, "journal");
    assert_null(w->set->v[0].zone);
    rcu_read_lock();
    assert_null(zone_set_get(zone_set_current(&w->zones), (const uint8_t *)"\7example\3org"));
    rcu_read_unlock();
    assert_false(has(w, "www-1.example.org."));
}

/* 200 calls sent at once: call i adds n-i and requires n-(i-1), so any
 * reordering fails a prerequisite. */
static void test_burst_in_order(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 1, true, NULL);
    enum { N = 200 };
    static char names[N][32];
    static struct op ops[N][2];
    static struct reply rp[N];
    for (unsigned i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "n-%u.example.org", i);
        ops[i][0] = (struct op){'e', i ? names[i - 1] : "www-0.example.org", DNS_T_A};
        ops[i][1] = (struct op){'a', names[i], DNS_T_A, A1, 4, 60};
        send_update(w, ops[i], 2, &rp[i]);
    }
    wait_for(w, rp, N);
    for (unsigned i = 0; i < N; i++)
        if (!rp[i].success) fail_msg("call %u: %s", i, rp[i].error);
    assert_int_equal(served_serial(w), 5 + N);
    assert_int_equal(w->set->v[0].updates_applied, N);
}

/* After a restart the zone is served from the journal, before any primary
 * is reached, and further updates chain on. */
static void test_restart(void **st)
{
    struct world *w = *st;
    eon_transfer(w, 5, 20, true, NULL);
    static uint8_t s6[61];
    soa(s6, 6);
    struct op inc[] = {{'a', "after.example.org", DNS_T_A, A2, 4, 60},
                       {'a', "example.org", DNS_T_SOA, s6, 61, 300}};
    call(w, inc, 2, true, NULL);
    close_world(w);
    open_world(w);
    assert_non_null(w->set->v[0].zone);
    assert_int_equal(served_serial(w), 6);
    assert_true(has(w, "after.example.org."));
    assert_true(has(w, "www-19.example.org."));
    assert_true(eon_secondaries_has(w->set, (const uint8_t *)"\7example\3org"));
    static uint8_t s7[61];
    soa(s7, 7);
    struct op inc2[] = {{'a', "again.example.org", DNS_T_A, A2, 4, 60},
                        {'a', "example.org", DNS_T_SOA, s7, 61, 300}};
    call(w, inc2, 2, true, NULL);
    assert_int_equal(served_serial(w), 7);
    /* the record names the zone; the saved service restores */
    struct err e;
    struct rpc_cap *c = eon_secondary_restore(w->set, "Example.ORG", NULL, 0, &e);
    assert_non_null(c);
    rpc_cap_unref(c);
    assert_null(eon_secondary_restore(w->set, "example.com", NULL, 0, &e));
}

int main(void)
{
    rcu_register_thread();
    init_rdata();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_transferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eon_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eon_transfer_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serial_bumped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_and_staged_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_build_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_failure_unserves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rcu_unregister_thread();
    return rc;
}
