#include "eon/server.h"
#include "dns/journal.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "eon/domain.h"
#include "eon/primary.h"
#include "eon/replica.h"
#include "eon/reload.h"
#include "eon/secondary.h"
#include "eon/state.h"
#include "rpc/rpc.h"
#include "rpc/store.h"
#include "rpc/sturdy.h"
#include "rpc/tls.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <urcu-qsbr.h>

struct eon_server {
    struct eon_config cfg;
    struct eon_state state;
    bool have_state;
    struct zone_set_handle *zones;
    struct journal *journal;
    struct svc_store *store;
    struct eon_ctx ctx;
    struct eon_repl *repl; /* replication to secondaries (eon/replica.h) */
    bool have_secret;      /* fallback ID secret when the vat has no key (TLS off) */
    uint8_t secret[32];
    struct eon_secondaries *secondaries; /* --primary */
    void (*reload_done)(void *ud);       /* eon_server_reload's caller's */
    void *reload_ud;
};

static const uint8_t root_name[1] = {0};

int eon_config_check(const struct eon_config *c, struct err *e)
{
    if (c->nprimaries && !c->listen_address)
        return err_set(e, "--primary needs --capnp-listen-address: the primary connects back to "
                          "this capd's Secondary capability");
    if (!c->listen_address) {
        if (c->public_address)
            return err_set(e, "--capnp-public-address needs --capnp-listen-address");
        if (c->secret_key_file)
            return err_set(e, "--capnp-secret-key-file needs --capnp-listen-address");
        if (c->disable_tls) return err_set(e, "--capnp-disable-tls needs --capnp-listen-address");
        return 0;
    }
    if (!c->secret_key_file && !c->disable_tls)
        return err_set(e, "--capnp-listen-address needs --capnp-secret-key-file PATH (\"\" for an "
                          "ephemeral key) or --capnp-disable-tls");
    struct sturdy_ref ref;
    if (sturdy_parse_address(c->listen_address, &ref, e) < 0)
        return err_prefix(e, "--capnp-listen-address");
    if (c->public_address && sturdy_parse_address(c->public_address, &ref, e) < 0)
        return err_prefix(e, "--capnp-public-address");
    return 0;
}

/* Each zone's journal is replayed over what its zone file gave. The loop
 * thread (this one) is an offline RCU reader; the zone set does not
 * change during start-up. */
static int replay(struct eon_server *s, struct err *e)
{
    rcu_thread_online();
    const struct zone_set *zs = zone_set_current(s->zones);
    size_t n = zs->n;
    struct zone **zones = malloc((n ? n : 1) * sizeof *zones);
    if (zones) memcpy(zones, zs->zones, n * sizeof *zones);
    rcu_thread_offline();
    if (!zones) return err_set(e, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct zone *z = zones[i];
        zone_lock(z);
        const struct zone_version *cur = zone_current(z);
        uint32_t before = cur->serial;
        struct zone_version *out = NULL;
        struct journal_replay_info info;
        char nm[DNS_NAME_TEXT_MAX];
        dns_name_to_text(z->apex, nm, sizeof nm);
        if (strlen(nm) > 1) nm[strlen(nm) - 1] = 0; /* no trailing dot, as everywhere in logs */
        if (journal_replay(s->journal, cur, &out, &info, e) < 0) {
            err_prefix(e, "%s (move it aside to start from the zone files)", s->state.journal);
            rc = -1;
        } else {
            if (out) zone_publish(z, out);
            if (info.dropped)
                log_error("%s: the zone file's serial %u is newer than the journal's: journal "
                          "dropped (%llu entries)",
                          nm, before, (unsigned long long)info.entries);
            else if (info.entries || info.from_snapshot)
                log_info("%s: journal replayed (%llu change sets%s), serial %u -> %u", nm,
                         (unsigned long long)info.entries,
                         info.from_snapshot ? " after a snapshot" : "", before, info.serial);
        }
        zone_unlock(z);
    }
    free(zones);
    return rc;
}

int eon_server_open(const struct eon_config *cfg, struct zone_set_handle *zones,
                    struct eon_server **out, struct err *e)
{
    if (eon_config_check(cfg, e) < 0) return -1;
    struct eon_server *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, "out of memory");
    s->cfg = *cfg;
    if (!s->cfg.state_dir) s->cfg.state_dir = "state";
    s->zones = zones;
    s->state.lock_fd = -1;
    struct stat sb;
    /* DNS only: use an existing state dir (its journal), never create one. */
    bool want = cfg->listen_address || stat(s->cfg.state_dir, &sb) == 0;
    if (want) {
        if (eon_state_open(&s->state, s->cfg.state_dir, e) < 0) goto fail;
        s->have_state = true;
        if (journal_open(s->state.journal, &s->journal, e) < 0) {
            err_prefix(e, "state dir %s", s->cfg.state_dir);
            goto fail;
        }
        if (replay(s, e) < 0) goto fail;
        if (!(s->store = svc_store_open(s->state.store, e))) goto fail;
        if (eon_secondaries_open(cfg->primaries, cfg->nprimaries, cfg->primary_retry_wait,
                                 s->state.root, s->journal, zones, &s->secondaries, e) < 0)
            goto fail;
        s->ctx.secondaries = s->secondaries;
    }
    *out = s;
    return 0;
fail:
    eon_server_free(s);
    return -1;
}

/* HOST of a tcp:HOST:PORT listen address may be a name this capd serves
 * (the seed's tcp:example.org:7000): take its A, else AAAA, from our own
 * zones, so capd needs no resolver to find itself. 1: found, 0: not ours. */
static int resolve_own(struct eon_server *s, const char *host, uint16_t port,
                       struct sockaddr_storage *ss)
{
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) return 0;
    uint8_t w[DNS_NAME_MAX];
    struct err ne;
    if (dns_name_from_text(host, root_name, w, &ne) < 0) return 0;
    size_t wl = dns_name_lower(w, w);
    int found = 0;
    rcu_thread_online();
    struct zone *z = zone_set_find(zone_set_current(s->zones), w);
    const struct zone_node *node = z ? zone_version_find(zone_current(z), w, wl) : NULL;
    const struct dns_rrset *rs = node ? node_rrset(node, DNS_T_A) : NULL;
    memset(ss, 0, sizeof *ss);
    if (rs && rs->count && rr_rdlen(rrset_first(rs)) == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, rr_rdata(rrset_first(rs)), 4);
        found = 1;
    } else if (node && (rs = node_rrset(node, DNS_T_AAAA)) && rs->count &&
               rr_rdlen(rrset_first(rs)) == 16) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, rr_rdata(rrset_first(rs)), 16);
        found = 1;
    }
    rcu_thread_offline();
    return found;
}

static int start_listening(struct eon_server *s, struct err *e)
{
    struct sturdy_ref ref;
    if (sturdy_parse_address(s->cfg.listen_address, &ref, e) < 0)
        return err_prefix(e, "--capnp-listen-address");
    struct sockaddr_storage ss;
    if (ref.kind == STURDY_TCP && resolve_own(s, ref.host, ref.port, &ss)) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
        log_info("capnp: %s is %s (from our own zone)", ref.host, ip);
        if (rpc_vat_listen_sockaddr(s->ctx.vat, (struct sockaddr *)&ss, e) < 0)
            return err_prefix(e, "--capnp-listen-address %s", s->cfg.listen_address);
    } else if (rpc_vat_listen(s->ctx.vat, s->cfg.listen_address, e) < 0) {
        return err_prefix(e, "--capnp-listen-address %s", s->cfg.listen_address);
    }
    /* URIs keep the name as given, not the address it resolved to. */
    const char *pub = s->cfg.public_address ? s->cfg.public_address : s->cfg.listen_address;
    if (rpc_vat_set_public_address(s->ctx.vat, pub, e) < 0)
        return err_prefix(e, "--capnp-public-address %s", pub);
    return 0;
}

/* A fixed service's ID (eon_derive_id_fn). */
static int derive_id(void *ud, const char *name, uint8_t out[32], struct err *e)
{
    struct eon_server *s = ud;
    if (rpc_vat_derive_id(s->ctx.vat, name, out) == 0) return 0;
    /* TLS off: the vat holds no key, but the IDs must still be stable
     * across restarts when a key file is given, so derive them the same
     * way from that file. */
    if (!s->have_secret) {
        if (s->cfg.secret_key_file && *s->cfg.secret_key_file) {
            struct tls_key *k = tls_key_load(s->cfg.secret_key_file, e);
            if (!k) return err_prefix(e, "--capnp-secret-key-file");
            memcpy(s->secret, tls_key_secret_hash(k), 32);
            tls_key_free(k);
        } else if (sturdy_random_id(s->secret, e) < 0) {
            return -1;
        }
        s->have_secret = true;
    }
    sturdy_derive_id(s->secret, name, out);
    return 0;
}

/* Registers zone `name`'s fixed Domain and Primary services and writes
 * their cap files. */
static int serve_zone_caps(struct eon_server *s, const char *name, struct err *e)
{
    if (!eon_name_file_safe(name))
        return err_set(e, "zone %s: its name cannot be a file name; no capability files", name);
    char pname[DNS_NAME_TEXT_MAX + 16];
    snprintf(pname, sizeof pname, "primary_%s", name);
    uint8_t did[32], pid[32];
    if (derive_id(s, name, did, e) < 0 || derive_id(s, pname, pid, e) < 0) return -1;
    struct rpc_cap *dom = eon_domain_new(&s->ctx, name, name, did, sizeof did, e);
    if (!dom) return -1;
    struct rpc_cap *pri = eon_primary_new(&s->ctx, s->repl, name, pid, sizeof pid, e);
    if (!pri) {
        rpc_cap_unref(dom);
        return -1;
    }
    int rc = -1;
    char *duri = rpc_vat_sturdy_uri(s->ctx.vat, did, sizeof did);
    char *puri = rpc_vat_sturdy_uri(s->ctx.vat, pid, sizeof pid);
    char dpath[4096], ppath[4096];
    if (!duri || !puri)
        err_set(e, "out of memory");
    else if (rpc_vat_add_service(s->ctx.vat, did, sizeof did, dom, e) == 0 &&
             rpc_vat_add_service(s->ctx.vat, pid, sizeof pid, pri, e) == 0 &&
             eon_state_write_cap(&s->state, EON_CAP_DOMAIN, name, duri, dpath, sizeof dpath, e) ==
                 0 &&
             eon_state_write_cap(&s->state, EON_CAP_PRIMARY, name, puri, ppath, sizeof ppath, e) ==
                 0) {
        /* Level 0 on purpose: where to find the capabilities is what an
         * admin needs from the first start. */
        log_error("%s: domain capability in %s, primary capability in %s", name, dpath, ppath);
        rc = 0;
        struct err re;
        if (s->repl && eon_repl_zone_start(s->repl, name, &re) < 0)
            log_error("%s: no replication to secondaries: %s", name, re.msg);
    }
    free(duri);
    free(puri);
    rpc_cap_unref(dom);
    rpc_cap_unref(pri);
    return rc;
}

int eon_server_listen(struct eon_server *s, uv_loop_t *loop, struct err *e)
{
    if (!s->cfg.listen_address) {
        log_error("no --capnp-listen-address: serving DNS only, without the Cap'n Proto "
                  "interface (updates are off)");
        return 0;
    }
    /* Updates run on libuv's thread pool (4 threads by default) and wait
     * there for the zone lock and the journal's group commit: more threads
     * mean more updates per fsync under load. Read once, at first use. */
    setenv("UV_THREADPOOL_SIZE", "32", 0);
    s->ctx.loop = loop;
    s->ctx.zones = s->zones;
    s->ctx.store = s->store;
    s->ctx.journal = s->journal;
    struct rpc_vat_config vc = s->cfg.limits;
    /* Fixed service IDs come from the key; without a key file (TLS off)
     * an ephemeral one still derives them, but they change every start. */
    vc.secret_key_file = s->cfg.secret_key_file ? s->cfg.secret_key_file : "";
    vc.disable_tls = s->cfg.disable_tls;
    if (!s->cfg.secret_key_file || !*s->cfg.secret_key_file)
        log_error("capnp: ephemeral key: capability URIs will change when capd restarts");
    if (!(s->ctx.vat = rpc_vat_new(loop, &vc, e))) return err_prefix(e, "capnp");
    if (start_listening(s, e) < 0) return -1;
    rpc_vat_set_restorer(s->ctx.vat, eon_restore, &s->ctx);
    if (!(s->repl = eon_repl_new(&s->ctx, &s->state, e))) return -1;

    rcu_thread_online();
    const struct zone_set *zs = zone_set_current(s->zones);
    size_t n = zs->n;
    char(*names)[DNS_NAME_TEXT_MAX] = malloc((n ? n : 1) * sizeof *names);
    for (size_t i = 0; names && i < n; i++) {
        /* As the operator spelled it: the derived IDs hash these bytes, so
         * eon and ceon give a mixed-case zone the same capabilities. */
        dns_name_to_text(zs->zones[i]->apex_as_written, names[i], sizeof names[i]);
        size_t l = strlen(names[i]);
        if (l > 1 && names[i][l - 1] == '.') names[i][l - 1] = 0;
        /* A secondary's zone changes only through its primary. */
        if (eon_secondaries_has(s->secondaries, zs->zones[i]->apex)) names[i][0] = 0;
    }
    rcu_thread_offline();
    if (!names) return err_set(e, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct err ze;
        if (names[i][0] && serve_zone_caps(s, names[i], &ze) < 0) {
            /* A capability file we cannot write is fatal (the state dir is
             * broken); an unsafe zone name only costs that zone its files. */
            if (!eon_name_file_safe(names[i])) {
                log_error("%s", ze.msg);
            } else {
                *e = ze;
                rc = -1;
            }
        }
    }
    free(names);
    if (rc == 0 && !(s->ctx.certs = eon_certs_new(&s->ctx, s->state.root, &s->cfg.cert, e)))
        rc = -1;
    if (rc == 0 && eon_secondaries_start(s->secondaries, &s->ctx, derive_id, s, e) < 0) rc = -1;
    if (rc == 0)
        log_info("capnp: listening on %s (%s)", s->cfg.listen_address,
                 s->cfg.disable_tls ? "no TLS" : "TLS");
    return rc;
}

/* After a re-read, on the loop: zones served since get their services and
 * cap files, as at start. Zones that left keep theirs (eon/reload.h). */
static void reload_applied(void *ud, const struct eon_reload_result *r)
{
    struct eon_server *s = ud;
    if (!s->ctx.vat || s->ctx.stopping) return; /* DNS only, or stopping */
    for (size_t i = 0; i < r->nadded; i++) {
        struct err e;
        if (serve_zone_caps(s, r->added[i], &e) < 0)
            log_error("reload: %s: no capabilities: %s", r->added[i], e.msg);
    }
}

/* The re-read is over: secondary zones may join the set again. */
static void reload_done(void *ud)
{
    struct eon_server *s = ud;
    eon_secondaries_reload_end(s->secondaries);
    if (s->reload_done) s->reload_done(s->reload_ud);
}

int eon_server_reload(struct eon_server *s, uv_loop_t *loop, struct eon_zonefiles *zf,
                      void (*done)(void *ud), void *ud, struct err *e)
{
    if (eon_secondaries_reload_begin(s->secondaries, e) < 0) return -1;
    s->reload_done = done;
    s->reload_ud = ud;
    if (eon_zonefiles_reload(zf, loop, s->journal, reload_applied, s, reload_done, s, e) < 0) {
        eon_secondaries_reload_end(s->secondaries);
        return -1;
    }
    return 0;
}

void eon_server_stop(struct eon_server *s)
{
    if (!s) return;
    s->ctx.stopping = true;
    eon_repl_stop(s->repl);
    eon_certs_stop(s->ctx.certs);
    eon_secondaries_stop(s->secondaries);
    eon_ctx_release_vat(&s->ctx);
}

void eon_server_free(struct eon_server *s)
{
    if (!s) return;
    eon_certs_stop(s->ctx.certs); /* a start that failed half-way */
    eon_certs_free(s->ctx.certs);
    eon_repl_stop(s->repl);
    if (s->ctx.vat) {
        rpc_vat_free(s->ctx.vat);
        s->ctx.vat = NULL;
    }
    eon_secondaries_free(s->secondaries);
    eon_repl_free(s->repl);
    if (s->store) svc_store_close(s->store);
    if (s->journal) journal_close(s->journal);
    if (s->have_state) eon_state_close(&s->state);
    free(s);
}

static void render(void *ud, struct metrics_text *t)
{
    struct eon_server *s = ud;
    eon_stats_render(&s->ctx, t);
    eon_secondaries_render(s->secondaries, t);
    eon_repl_render(s->repl, t);
}

void eon_server_metrics(struct eon_server *s, struct metrics_source *src)
{
    src->render = render;
    src->ud = s;
}

void eon_server_replication_hook(struct eon_server *s, zone_publish_hook *fn, void **ud)
{
    *fn = s && s->repl ? eon_repl_changed : NULL;
    *ud = s ? s->repl : NULL;
}

struct journal *eon_server_journal(const struct eon_server *s)
{
    return s ? s->journal : NULL;
}
