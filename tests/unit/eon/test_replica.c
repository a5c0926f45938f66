/* Unit tests for the primary side of replication (eon/primary.h,
 * eon/replica.h): a Primary on one vat, real Secondary objects on another
 * vat over loopback, each applying what it gets to its own zone through
 * the real update engine (a full transfer is staged and becomes the zone
 * when the SOA arrives, as docs/replication.md says a secondary does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "eon/primary.h"
#include "eon/replica.h"
#include "util/atomicfile.h"

static const uint8_t root_name[1] = {0};

/* ------------------------------------------------------------ a Secondary */

enum { SEC_OK, SEC_EXCEPTION, SEC_STALL };

struct rec {
    size_t np, nu;
    bool clear;        /* [remove(apex, SOA)] alone */
    bool soa_add;      /* an add of the apex SOA */
    bool soa_add_last; /* ... as the last operation */
    uint32_t soa_serial;
    uint32_t prereq_serial; /* existsData(apex, SOA) value's serial */
};

struct tsec {
    struct rpc_object o;
    struct zone *zone;
    int mode;
    bool staging;
    struct dns_change *staged;
    size_t nstaged;
    struct rec recs[256];
    size_t nrecs;
    struct rpc_call *stalled[16];
    size_t nstalled;
    size_t updates_seen;
};

static uint8_t apex[DNS_NAME_MAX];

static uint32_t soa_serial_of(const uint8_t *rd, size_t len)
{
    size_t a = dns_name_check(rd, len);
    size_t b = dns_name_check(rd + a, len - a);
    const uint8_t *p = rd + a + b;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_apex(const uint8_t *owner)
{
    uint8_t l[DNS_NAME_MAX];
    dns_name_lower(l, owner);
    return dns_name_equal(l, apex);
}

static void answer(struct rpc_call *call, int rc, const char *msg)
{
    eon_Secondary_update_Results_B res =
        eon_Secondary_update_Results_init_ptr(rpc_call_results(call));
    eon_Secondary_update_Results_set_success(res, rc == 0);
    if (rc) eon_Secondary_update_Results_set_error(res, msg, (uint32_t)strlen(msg));
    rpc_call_return(call);
}

/* The staged records become the zone: built on a synthesised zone whose
 * SOA and NS are removed first. */
static int install(struct tsec *s, uint32_t serial, struct err *e)
{
    struct zone_version *base, *nv;
    if (zone_synthesize(apex, serial, &base, e) < 0) return -1;
    size_t n = s->nstaged + 2;
    struct dns_change *ch = calloc(n, sizeof *ch);
    ch[0] = (struct dns_change){.op = DNS_CHANGE_DEL_RRSET, .owner = apex, .type = DNS_T_NS};
    ch[1] = (struct dns_change){.op = DNS_CHANGE_DEL_RRSET, .owner = apex, .type = DNS_T_SOA};
    memcpy(ch + 2, s->staged, s->nstaged * sizeof *ch);
    int rc = zone_version_apply(base, ch, n, serial, &nv, e);
    zone_version_free(base);
    free(ch);
    if (rc < 0) return -1;
    zone_lock(s->zone);
    zone_publish(s->zone, nv);
    zone_unlock(s->zone);
    return 0;
}

static void staged_free(struct tsec *s)
{
    for (size_t i = 0; i < s->nstaged; i++) {
        free((void *)s->staged[i].owner);
        free((void *)s->staged[i].rdata);
    }
    free(s->staged);
    s->staged = NULL;
    s->nstaged = 0;
}

static void sec_update(struct tsec *s, struct rpc_call *call)
{
    struct eon_update_req q = {0};
    struct err e;
    s->updates_seen++;
    if (s->mode == SEC_EXCEPTION) {
        rpc_call_fail(call, "test secondary: down");
        return;
    }
    if (s->mode == SEC_STALL && s->nstalled < 16) {
        s->stalled[s->nstalled++] = call;
        return;
    }
    if (eon_update_decode(eon_Domain_update_Params_from_ptr(rpc_call_params(call)), &q, &e) < 0)
        fail_msg("decode: %s", e.msg);
    struct rec *r = &s->recs[s->nrecs < 255 ? s->nrecs++ : 255];
    *r = (struct rec){.np = q.np, .nu = q.nu};
    r->clear = q.nu == 1 && q.u[0].kind == DNS_UPDATE_REMOVE_RRSET && q.u[0].type == DNS_T_SOA &&
               is_apex(q.u[0].owner);
    for (size_t i = 0; i < q.nu; i++)
        if (q.u[i].kind == DNS_UPDATE_ADD && q.u[i].type == DNS_T_SOA && is_apex(q.u[i].owner)) {
            r->soa_add = true;
            r->soa_add_last = i == q.nu - 1;
            r->soa_serial = soa_serial_of(q.u[i].rdata, q.u[i].rdlen);
        }
    if (q.np == 1 && q.p[0].kind == DNS_PREREQ_EXISTS_DATA && q.p[0].type == DNS_T_SOA)
        r->prereq_serial = soa_serial_of(q.p[0].rdata, q.p[0].rdlen);
    int rc = 0;
    if (r->clear) {
        staged_free(s);
        s->staging = true;
    } else if (s->staging) {
        for (size_t i = 0; i < q.nu; i++) {
            const struct dns_update *u = &q.u[i];
            assert_int_equal(u->kind, DNS_UPDATE_ADD);
            s->staged = realloc(s->staged, (s->nstaged + 1) * sizeof *s->staged);
            size_t ol = dns_name_len(u->owner);
            uint8_t *o = malloc(ol), *rd = malloc(u->rdlen ? u->rdlen : 1);
            memcpy(o, u->owner, ol);
            memcpy(rd, u->rdata, u->rdlen);
            s->staged[s->nstaged++] =
                (struct dns_change){DNS_CHANGE_ADD, o, u->type, u->ttl, u->rdlen, rd};
        }
        if (r->soa_add) {
            rc = install(s, r->soa_serial, &e);
            staged_free(s);
            s->staging = false;
        }
    } else {
        uint32_t serial;
        rc = dns_update_apply(s->zone, apex, q.p, q.np, q.u, q.nu, NULL, &serial, &e);
    }
    eon_update_req_free(&q);
    answer(call, rc, rc ? e.msg : "");
}

static void sec_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct tsec *s = (struct tsec *)self;
    if (rpc_call_interface(call) != eon_Secondary_ID) {
        rpc_call_unimplemented(call);
        return;
    }
    if (rpc_call_method(call) == eon_Secondary_getName_ORDINAL) {
        eon_Secondary_getName_Results_B r =
            eon_Secondary_getName_Results_init_ptr(rpc_call_results(call));
        eon_Secondary_getName_Results_set_name(r, "example.org", 11);
        rpc_call_return(call);
        return;
    }
    sec_update(s, call);
}

static void sec_destroy(struct rpc_object *self)
{
    (void)self; /* freed by the test */
}

static const struct rpc_object_vtbl sec_vt = {sec_dispatch, sec_destroy};

/* ------------------------------------------------------------ the world */

struct world {
    uv_loop_t *loop;
    uv_timer_t tick;
    char dir[64];
    struct zone_set_handle zones;
    struct zone *zone;
    struct journal *journal;
    struct eon_state st;
    struct eon_ctx ctx;
    struct eon_repl *repl;
    struct rpc_vat *svat; /* the secondaries' */
    struct rpc_cap *primary;
    char *puri;
    char secdir[256];
};

static struct world W;

static void tick(uv_timer_t *t)
{
    (void)t;
}

/* A zone of n A records plus SOA and NS. */
static char *zone_text(size_t n)
{
    size_t cap = 200 + n * 40;
    char *t = malloc(cap);
    size_t len = (size_t)snprintf(t, cap,
                                  "$ORIGIN example.org.\n$TTL 300\n@ SOA ns hm 10 1 2 3 "
                                  "4\n@ NS ns\nns A 192.0.2.1\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "h%zu A 10.%zu.%zu.%zu\n", i, i >> 16,
                                (i >> 8) & 255, i & 255);
    return t;
}

static void world_up(size_t records)
{
    struct err e;
    memset(&W, 0, sizeof W);
    W.loop = uv_default_loop();
    uv_timer_init(W.loop, &W.tick);
    uv_timer_start(&W.tick, tick, 5, 5);
    strcpy(W.dir, "/tmp/ceon-replica-XXXXXX");
    assert_non_null(mkdtemp(W.dir));
    assert_true(dns_name_from_text("example.org", root_name, apex, &e) > 0);
    zone_set_handle_init(&W.zones);
    char *text = zone_text(records);
    struct zone_version *v;
    if (zone_load_string(text, "t.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    free(text);
    W.zone = zone_new(v, &e);
    assert_int_equal(zone_set_add(&W.zones, W.zone, &e), 0);
    if (eon_state_open(&W.st, W.dir, &e) < 0) fail_msg("%s", e.msg);
    if (journal_open(W.st.journal, &W.journal, &e) < 0) fail_msg("%s", e.msg);
    struct zone_version *out = NULL;
    if (journal_replay(W.journal, zone_current(W.zone), &out, NULL, &e) < 0) fail_msg("%s", e.msg);
    assert_null(out);
    struct rpc_vat_config cfg = {.disable_tls = true};
    W.ctx.loop = W.loop;
    W.ctx.zones = &W.zones;
    W.ctx.journal = W.journal;
    W.ctx.vat = rpc_vat_new(W.loop, &cfg, &e);
    assert_int_equal(rpc_vat_listen(W.ctx.vat, "tcp:127.0.0.1:0", &e), 0);
    char pub[64];
    snprintf(pub, sizeof pub, "tcp:127.0.0.1:%d", rpc_vat_bound_port(W.ctx.vat));
    assert_int_equal(rpc_vat_set_public_address(W.ctx.vat, pub, &e), 0);
    W.svat = rpc_vat_new(W.loop, &cfg, &e);
    assert_int_equal(rpc_vat_listen(W.svat, "tcp:127.0.0.1:0", &e), 0);
    snprintf(pub, sizeof pub, "tcp:127.0.0.1:%d", rpc_vat_bound_port(W.svat));
    assert_int_equal(rpc_vat_set_public_address(W.svat, pub, &e), 0);
    W.repl = eon_repl_new(&W.ctx, &W.st, &e);
    assert_non_null(W.repl);
    if (eon_repl_zone_start(W.repl, "example.org", &e) < 0) fail_msg("%s", e.msg);
    zone_set_publish_hook(eon_repl_changed, W.repl);
    uint8_t pid[32];
    assert_int_equal(sturdy_random_id(pid, &e), 0);
    W.primary = eon_primary_new(&W.ctx, W.repl, "example.org", pid, 32, &e);
    assert_non_null(W.primary);
    assert_int_equal(rpc_vat_add_service(W.ctx.vat, pid, 32, W.primary, &e), 0);
    W.puri = rpc_vat_sturdy_uri(W.ctx.vat, pid, 32);
    snprintf(W.secdir, sizeof W.secdir, "%s/caps/secondary/example.org", W.dir);
}

static void world_down(void)
{
    zone_set_publish_hook(NULL, NULL);
    eon_repl_stop(W.repl);
    rpc_cap_unref(W.primary);
    rpc_vat_free(W.ctx.vat);
    rpc_vat_free(W.svat);
    uv_close((uv_handle_t *)&W.tick, NULL);
    uv_run(W.loop, UV_RUN_DEFAULT);
    eon_repl_free(W.repl);
    journal_close(W.journal);
    eon_state_close(&W.st);
    zone_set_handle_destroy(&W.zones);
    free(W.puri);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", W.dir);
    assert_int_equal(system(cmd), 0);
}

static struct tsec *sec_new(uint8_t id[32], char **uri)
{
    struct err e;
    struct tsec *s = calloc(1, sizeof *s);
    rpc_object_init(&s->o, &sec_vt);
    struct zone_version *v;
    assert_int_equal(zone_synthesize(apex, 1, &v, &e), 0);
    s->zone = zone_new(v, &e);
    assert_int_equal(sturdy_random_id(id, &e), 0);
    *uri = rpc_vat_sturdy_uri(W.svat, id, 32);
    rpc_object_set_sturdy_uri(&s->o, *uri);
    assert_int_equal(rpc_vat_add_service(W.svat, id, 32, &s->o.cap, &e), 0);
    return s;
}

static void sec_free(struct tsec *s)
{
    free(s->o.sturdy_uri); /* the vats are gone; the last reference is ours */
    zone_free(s->zone);
    staged_free(s);
    free(s);
}

/* registerSeconday from the secondaries' vat, as a secondary capd does. */
static int register_sec(struct tsec *s, struct err *e)
{
    struct rpc_cap *p = rpc_vat_restore_uri(W.svat, W.puri, e);
    assert_non_null(p);
    struct rpc_req *req = rpc_req_new(p, eon_Primary_ID, eon_Primary_registerSeconday_ORDINAL);
    eon_Primary_registerSeconday_Params_B pb =
        eon_Primary_registerSeconday_Params_init_ptr(rpc_req_params(req));
    eon_Primary_registerSeconday_Params_set_secondary(pb, rpc_req_add_cap(req, &s->o.cap));
    struct rpc_response *r = rpc_call_wait(req, 5000, e);
    rpc_cap_unref(p);
    if (!r) return -1;
    rpc_response_free(r);
    return 0;
}

static uint64_t hash_of(struct zone *z)
{
    rcu_thread_online();
    uint64_t h = zone_version_hash(zone_current(z));
    rcu_thread_offline();
    return h;
}

static uint32_t serial_of(struct zone *z)
{
    rcu_thread_online();
    uint32_t s = zone_current(z)->serial;
    rcu_thread_offline();
    return s;
}

/* Runs the loop until the secondary's zone equals the primary's. */
static bool converge(struct tsec *s, unsigned ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (uv_hrtime() / 1000000 < end) {
        if (hash_of(s->zone) == hash_of(W.zone) && serial_of(s->zone) == serial_of(W.zone))
            return true;
        uv_run(W.loop, UV_RUN_ONCE);
    }
    return false;
}

static void run_for(unsigned ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (uv_hrtime() / 1000000 < end)
        uv_run(W.loop, UV_RUN_ONCE);
}

/* An update on the primary through the journaled engine. */
static void primary_add(const char *name, const char *ip)
{
    uint8_t owner[DNS_NAME_MAX], rd[4];
    struct err e;
    assert_true(dns_name_from_text(name, root_name, owner, &e) > 0);
    unsigned a, b, c, d;
    assert_int_equal(sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
    rd[0] = (uint8_t)a, rd[1] = (uint8_t)b, rd[2] = (uint8_t)c, rd[3] = (uint8_t)d;
    struct dns_update u = {.kind = DNS_UPDATE_ADD,
                           .owner = owner,
                           .type = DNS_T_A,
                           .ttl = 60,
                           .rdata = rd,
                           .rdlen = 4};
    uint32_t serial;
    if (dns_update_apply(W.zone, apex, NULL, 0, &u, 1, W.journal, &serial, &e) < 0)
        fail_msg("%s", e.msg);
}

static char *cap_file(const char *uri)
{
    /* the only .cap file whose content is uri */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -lx -F '%s' %s/*.cap 2>/dev/null | head -1", uri, W.secdir);
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    if (!fgets(line, sizeof line, p)) line[0] = 0;
    pclose(p);
    line[strcspn(line, "\n")] = 0;
    return line[0] ? strdup(line) : NULL;
}

static char *base_of(const char *path)
{
    const char *b = strrchr(path, '/') + 1;
    return strndup(b, strlen(b) - 4);
}

/* ------------------------------------------------------------ tests */

static void full_then_incremental(void **state)
{
    (void)state;
    world_up(4500);
    struct err e;
    uint8_t id[32];
    char *uri;
    struct tsec *s = sec_new(id, &uri);
    if (register_sec(s, &e) < 0) fail_msg("register: %s", e.msg);
    /* Answered only once the URI Persistent.save gave is on disk. */
    char *path = cap_file(uri);
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
    struct eon_replica_info info;
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
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
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
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
    free(uri);
    world_down();
    sec_free(s);
}

static void falls_back_to_full(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    uint8_t id[32];
    char *uri;
    struct tsec *s = sec_new(id, &uri);
    if (register_sec(s, &e) < 0) fail_msg("register: %s", e.msg);
    assert_true(converge(s, 5000));
    char *path = cap_file(uri), *base = base_of(path);

    /* The secondary moved on its own (serial 11): the prerequisite fails,
     * the whole zone follows. */
    uint8_t owner[DNS_NAME_MAX], rd[4] = {192, 0, 2, 99};
    assert_true(dns_name_from_text("rogue.example.org", root_name, owner, &e) > 0);
    struct dns_update u = {.kind = DNS_UPDATE_ADD,
                           .owner = owner,
                           .type = DNS_T_A,
                           .ttl = 60,
                           .rdata = rd,
                           .rdlen = 4};
    uint32_t serial;
    assert_int_equal(dns_update_apply(s->zone, apex, NULL, 0, &u, 1, NULL, &serial, &e), 0);
    size_t before = s->nrecs;
    primary_add("b1.example.org", "192.0.2.21");
    assert_true(converge(s, 5000));
    assert_int_equal(s->recs[before].np, 1); /* the refused incremental */
    assert_true(s->recs[before + 1].clear);
    struct eon_replica_info info;
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
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
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
    assert_int_equal(info.full_transfers, 3);
    assert_int_equal(info.state, EON_REPLICA_IDLE);
    free(base);
    free(path);
    free(uri);
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
    uint8_t id[32];
    char *uri;
    struct tsec *s = sec_new(id, &uri);
    if (register_sec(s, &e) < 0) fail_msg("register: %s", e.msg);
    assert_true(converge(s, 5000));
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
    char *path = cap_file(uri), *base = base_of(path);
    struct eon_replica_info info;
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
    assert_int_equal(info.full_transfers, 2);
    assert_int_equal(info.state, EON_REPLICA_IDLE);
    free(base);
    free(path);
    free(uri);
    world_down();
    sec_free(s);
}

static size_t count_caps(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/*.cap | wc -l", W.secdir);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (fscanf(p, "%zu", &n) != 1) n = 0;
    pclose(p);
    return n;
}

static void files_and_restart(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    uint8_t id1[32], id2[32], id3[32];
    char *uri1, *uri2, *uri3;
    struct tsec *s1 = sec_new(id1, &uri1), *s2 = sec_new(id2, &uri2), *s3 = sec_new(id3, &uri3);
    if (register_sec(s1, &e) < 0 || register_sec(s2, &e) < 0) fail_msg("register: %s", e.msg);
    /* two capabilities on one host: two files */
    char *p1 = cap_file(uri1), *p2 = cap_file(uri2);
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
    char *again = cap_file(uri1);
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
    snprintf(line, sizeof line, "%s\n", uri3);
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
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", "127.0.0.1", &info), 0);
    assert_int_equal(info.full_transfers, 1);
    free(b2);
    free(again);
    free(p1);
    free(p2);
    free(uri1);
    free(uri2);
    free(uri3);
    world_down();
    sec_free(s1);
    sec_free(s2);
    sec_free(s3);
}

static void stalled_secondary_delays_nobody(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    uint8_t ida[32], idb[32];
    char *ua, *ub;
    struct tsec *a = sec_new(ida, &ua), *b = sec_new(idb, &ub);
    if (register_sec(a, &e) < 0 || register_sec(b, &e) < 0) fail_msg("register: %s", e.msg);
    assert_true(converge(a, 5000));
    assert_true(converge(b, 5000));
    a->mode = SEC_STALL;
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "d%d.example.org", i);
        primary_add(name, "192.0.2.41");
        assert_true(converge(b, 5000));
    }
    /* a holds its one incremental call: nothing more was sent to it */
    assert_int_equal(a->nstalled, 1);
    char *pa = cap_file(ua), *basea = base_of(pa);
    struct eon_replica_info info;
    assert_int_equal(eon_repl_info(W.repl, "example.org", basea, &info), 0);
    assert_int_equal(info.state, EON_REPLICA_INCREMENTAL);
    /* Primary.updateSecondaries reaches b at once, and answers when a
     * does too. */
    a->mode = SEC_OK;
    for (size_t i = 0; i < a->nstalled; i++)
        sec_update(a, a->stalled[i]);
    a->nstalled = 0;
    assert_true(converge(a, 5000));
    free(pa);
    free(basea);
    free(ua);
    free(ub);
    world_down();
    sec_free(a);
    sec_free(b);
}

static void update_secondaries(void **state)
{
    (void)state;
    world_up(10);
    struct err e;
    uint8_t ida[32], idb[32];
    char *ua, *ub;
    struct tsec *a = sec_new(ida, &ua), *b = sec_new(idb, &ub);
    if (register_sec(a, &e) < 0 || register_sec(b, &e) < 0) fail_msg("register: %s", e.msg);
    assert_true(converge(a, 5000));
    assert_true(converge(b, 5000));
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
    free(ua);
    free(ub);
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
