/* replica_world: the set-up test_replica.c runs on (see replica_world.h). */
#include "replica_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "dns/wire.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "util/atomicfile.h"

const uint8_t root_name[1] = {0};

/* ------------------------------------------------------------ a Secondary */

uint8_t apex[DNS_NAME_MAX];

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

void sec_update(struct tsec *s, struct rpc_call *call)
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

const struct rpc_object_vtbl sec_vt = {sec_dispatch, sec_destroy};

/* ------------------------------------------------------------ the world */

struct world W;

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

void world_up(size_t records)
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

void world_down(void)
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

struct tsec *sec_new(void)
{
    struct err e;
    uint8_t id[32];
    struct tsec *s = calloc(1, sizeof *s);
    rpc_object_init(&s->o, &sec_vt);
    struct zone_version *v;
    assert_int_equal(zone_synthesize(apex, 1, &v, &e), 0);
    s->zone = zone_new(v, &e);
    assert_int_equal(sturdy_random_id(id, &e), 0);
    s->uri = rpc_vat_sturdy_uri(W.svat, id, 32);
    rpc_object_set_sturdy_uri(&s->o, s->uri);
    assert_int_equal(rpc_vat_add_service(W.svat, id, 32, &s->o.cap, &e), 0);
    return s;
}

void sec_free(struct tsec *s)
{
    free(s->o.sturdy_uri); /* the vats are gone; the last reference is ours */
    free(s->uri);
    zone_free(s->zone);
    staged_free(s);
    free(s);
}

/* registerSeconday from the secondaries' vat, as a secondary capd does. */
int register_sec(struct tsec *s, struct err *e)
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

uint32_t serial_of(struct zone *z)
{
    rcu_thread_online();
    uint32_t s = zone_current(z)->serial;
    rcu_thread_offline();
    return s;
}

/* Runs the loop until the secondary's zone equals the primary's. */
bool converge(struct tsec *s, unsigned ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (uv_hrtime() / 1000000 < end) {
        if (hash_of(s->zone) == hash_of(W.zone) && serial_of(s->zone) == serial_of(W.zone))
            return true;
        uv_run(W.loop, UV_RUN_ONCE);
    }
    return false;
}

void run_for(unsigned ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (uv_hrtime() / 1000000 < end)
        uv_run(W.loop, UV_RUN_ONCE);
}

/* An A record added to z through the update engine (journaled when j). */
void zone_add_a(struct zone *z, struct journal *j, const char *name, const char *ip)
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
    if (dns_update_apply(z, apex, NULL, 0, &u, 1, j, &serial, &e) < 0) fail_msg("%s", e.msg);
}

void primary_add(const char *name, const char *ip)
{
    zone_add_a(W.zone, W.journal, name, ip);
}

char *cap_file(const char *uri)
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

char *base_of(const char *path)
{
    const char *b = strrchr(path, '/') + 1;
    return strndup(b, strlen(b) - 4);
}

size_t count_caps(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/*.cap | wc -l", W.secdir);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (fscanf(p, "%zu", &n) != 1) n = 0;
    pclose(p);
    return n;
}

struct tsec *sec_joined(void)
{
    struct err e;
    struct tsec *s = sec_new();
    if (register_sec(s, &e) < 0) fail_msg("register: %s", e.msg);
    assert_true(converge(s, 5000));
    return s;
}

char *sec_base(const struct tsec *s)
{
    char *path = cap_file(s->uri);
    assert_non_null(path);
    char *base = base_of(path);
    free(path);
    return base;
}

struct eon_replica_info replica_info(const char *base)
{
    struct eon_replica_info info;
    run_for(20);
    assert_int_equal(eon_repl_info(W.repl, "example.org", base, &info), 0);
    return info;
}
