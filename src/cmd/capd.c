/*
 * capd: the ceon daemon. Loads the zones, starts the DNS listeners and
 * runs the libuv loop until SIGTERM or SIGINT, re-reading the zone files on
 * SIGHUP (eon/reload.h). Nothing else lives here: the options are
 * cmd/capd_options.c, every piece of work is in a layer.
 */
#include "cmd/capd_options.h"
#include "cmd/capd_xfr.h"
#include "dns/journal.h"
#include "dns/name.h"
#include "dns/zone.h"
#include "eon/reload.h"
#include "eon/server.h"
#include "net/addr.h"
#include "net/metrics_http.h"
#include "net/stats.h"
#include "net/tcp.h"
#include "net/udp.h"
#include "util/err.h"
#include "util/log.h"
#include <systemd/sd-daemon.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#include <uv.h>

/* as_written: the apex as the operator spelled it, which names the zone's
 * capabilities (eon/server.h). */
static int serve_zone(struct zone_set_handle *h, struct zone_version *v, const uint8_t *as_written,
                      struct err *e)
{
    struct zone *z = zone_new(v, e);
    if (!z) return -1;
    zone_set_apex_as_written(z, as_written);
    if (zone_set_add(h, z, e) < 0) {
        zone_free(z);
        return -1;
    }
    return 0;
}

static int load_zones(const struct capd_config *c, struct zone_set_handle *h,
                      struct eon_zonefiles **zf, struct err *e)
{
    if (eon_zonefiles_open(c->zonefiles.v, c->zonefiles.n, h, zf, e) < 0) return -1;
    static const uint8_t root[1] = {0};
    for (size_t i = 0; i < c->authoritative.n; i++) {
        const char *name = c->authoritative.v[i];
        uint8_t apex[DNS_NAME_MAX], as_written[DNS_NAME_MAX];
        /* "example.org" means the absolute name, as on the command line of
         * every DNS tool. */
        if (dns_name_from_text(name, root, as_written, e) < 0)
            return err_prefix(e, "bad --authoritative name '%s'", name);
        dns_name_lower(apex, as_written);
        /* A zone file for the same name already serves it. */
        if (zone_set_get(zone_set_current(h), apex)) continue;
        struct zone_version *v;
        if (zone_synthesize(apex, 0, &v, e) < 0 || serve_zone(h, v, as_written, e) < 0)
            return err_prefix(e, "--authoritative %s", name);
    }
    return 0;
}

struct capd {
    struct capd_config cfg;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint, sighup;
    struct zone_set_handle zones;
    struct eon_zonefiles *zonefiles; /* -z, re-read on SIGHUP */
    bool stopping;
    struct net_addr addrs[CAPD_MAX_LIST];
    size_t naddrs;
    struct dns_tcp *tcp;
    struct udp_server *udp;
    struct eon_server *eon;
    struct metrics_http *metrics;
};

static void on_signal(uv_signal_t *s, int signum)
{
    struct capd *d = s->data;
    log_info("%s: stopping", strsignal(signum));
    sd_notify(0, "STOPPING=1");
    d->stopping = true;
    eon_zonefiles_stop(d->zonefiles);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    dns_tcp_stop(d->tcp);
    d->tcp = NULL;
    capd_xfr_stop(&d->cfg.xfr);
    eon_server_stop(d->eon);
    metrics_http_stop(d->metrics);
    d->metrics = NULL;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

/* Under systemd: READY=1 ends the RELOADING=1 sent with the SIGHUP. */
static void on_reloaded(void *ud)
{
    struct capd *d = ud;
    if (!d->stopping) sd_notify(0, "READY=1");
}

static void on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    struct capd *d = s->data;
    struct err e;
    if (!d->eon || d->stopping) return;
    log_error("SIGHUP: re-reading the zone files");
    sd_notify(0, "RELOADING=1");
    if (eon_server_reload(d->eon, &d->loop, d->zonefiles, on_reloaded, d, &e) < 0) {
        log_error("reload: %s", e.msg);
        on_reloaded(d);
    }
}

/* Applies --journal-max-entries and --journal-size-ratio; always 0 (fits the start-up chain). The
 * limit is read by each commit, so the replay at open is unaffected. */
static int set_journal_limit(struct capd *d)
{
    struct journal *j = eon_server_journal(d->eon);
    if (j && d->cfg.journal_max_entries)
        journal_set_limits(j, (uint64_t)d->cfg.journal_max_entries, 0);
    if (j && d->cfg.journal_size_ratio_set) journal_set_size_ratio(j, d->cfg.journal_size_ratio);
    return 0;
}

static int start_dns(struct capd *d, struct err *e)
{
    const struct capd_config *c = &d->cfg;
    for (size_t i = 0; i < c->binds.n; i++) {
        struct net_addr *a = &d->addrs[d->naddrs++];
        if (net_addr_parse(a, c->binds.v[i], c->port, e) < 0) return -1;
        /* net_addr_parse zeroes the padding, so equal addresses compare equal. */
        for (struct net_addr *b = d->addrs; b < a; b++)
            if (b->len == a->len && !memcmp(&b->ss, &a->ss, a->len))
                return err_set(e, "--bind %s given twice", c->binds.v[i]);
    }
    if (c->binds.n == 0)
        net_addr_parse(&d->addrs[d->naddrs++], net_ipv6_available() ? "::" : "0.0.0.0", c->port,
                       NULL);

    if (c->tcp && capd_xfr_start_server(&d->cfg.xfr, eon_server_journal(d->eon), e) < 0) return -1;
    if (c->tcp) {
        struct dns_tcp_config tc = {.xfr = d->cfg.xfr.out,
                                    .addrs = d->addrs,
                                    .naddrs = d->naddrs,
                                    .zones = &d->zones,
                                    .max_conns_per_addr = c->tcp_per_addr,
                                    .v4_prefix = c->v4_prefix,
                                    .v6_prefix = c->v6_prefix};
        if (dns_tcp_start(&d->loop, &tc, &d->tcp, e) < 0) return -1;
    }
    if (c->udp) {
        struct udp_config uc = {.addrs = d->addrs, .naddrs = d->naddrs, .zones = &d->zones};
        if (!(d->udp = udp_start(&uc, e))) return -1;
    }
    return 0;
}

/* The statistics endpoint, if asked for: DNS counters, the UDP workers' and
 * the services'. Started after the DNS sockets and stopped before them. */
static int start_metrics(struct capd *d, struct err *e)
{
    if (!d->cfg.metrics_listen) return 0;
    struct metrics_source src[4] = {{net_stats_render, NULL}};
    eon_server_metrics(d->eon, &src[1]);
    size_t n = 2;
    if (d->cfg.xfr.notifier)
        src[n++] = (struct metrics_source){notifier_render, d->cfg.xfr.notifier};
    if (d->udp) src[n++] = (struct metrics_source){udp_render_metrics, d->udp};
    if (metrics_http_start(&d->loop, d->cfg.metrics_listen, src, n, &d->metrics, e) < 0)
        return err_prefix(e, "--metrics-listen");
    log_info("statistics at http://%s/metrics", d->cfg.metrics_listen);
    return 0;
}

int main(int argc, char **argv)
{
    static struct capd d; /* large: keep it off the stack */
    struct err e = {{0}};
    int status = 1;
    log_set_prog("capd");
    d.cfg = (struct capd_config){.port = 53, .udp = true, .tcp = true};

    int r = capd_parse_args(argc, argv, &d.cfg, &e);
    if (r != 0) goto out_args;
    log_set_level(d.cfg.log_level);
    d.cfg.eon.primaries = d.cfg.primaries.v;
    d.cfg.eon.nprimaries = d.cfg.primaries.n;
    signal(SIGPIPE, SIG_IGN);

    /* This thread runs the uv loop, which answers TCP queries: it is an RCU
     * reader that stays offline except while answering (net/tcp.h). */
    rcu_register_thread();
    rcu_thread_offline();
    zone_set_handle_init(&d.zones);
    uv_loop_init(&d.loop);
    /* Catch the signals first: one that arrives while zones load stops
     * capd cleanly as soon as the loop runs. */
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_sighup, SIGHUP);

    /* The journal is replayed before DNS starts, so the first answer
     * already has every acknowledged update. */
    if (load_zones(&d.cfg, &d.zones, &d.zonefiles, &e) < 0 ||
        eon_server_open(&d.cfg.eon, &d.zones, &d.eon, &e) < 0 || set_journal_limit(&d) ||
        start_dns(&d, &e) < 0 || capd_xfr_start_notify(&d.cfg.xfr, &d.loop, &e) < 0 ||
        eon_server_listen(d.eon, &d.loop, &e) < 0 || start_metrics(&d, &e) < 0)
        goto out;
    capd_xfr_start_replication(&d.cfg.xfr, d.eon);
    log_info("serving %zu zone(s) on port %u (%s%s%s, %zu UDP workers)",
             zone_set_current(&d.zones)->n, d.cfg.port, d.cfg.udp ? "udp" : "",
             d.cfg.udp && d.cfg.tcp ? "+" : "", d.cfg.tcp ? "tcp" : "", udp_worker_count(d.udp));
    /* Under systemd (Type=notify): dependents start only now, when every
     * zone is loaded, the journal replayed and the cap files written.
     * Without $NOTIFY_SOCKET this does nothing. */
    sd_notify(0, "READY=1");
    uv_run(&d.loop, UV_RUN_DEFAULT);
    status = 0;
out:
    if (!uv_is_closing((uv_handle_t *)&d.sigterm)) {
        uv_close((uv_handle_t *)&d.sigterm, NULL);
        uv_close((uv_handle_t *)&d.sigint, NULL);
        uv_close((uv_handle_t *)&d.sighup, NULL);
    }
    dns_tcp_stop(d.tcp);
    capd_xfr_stop(&d.cfg.xfr);
    eon_server_stop(d.eon);
    metrics_http_stop(d.metrics);
    udp_stop(d.udp);
    /* Let close callbacks release what is left, then close the loop. */
    uv_run(&d.loop, UV_RUN_DEFAULT);
    eon_server_free(d.eon);
    eon_zonefiles_free(d.zonefiles);
    capd_xfr_free(&d.cfg.xfr);
    uv_loop_close(&d.loop);
    zone_set_handle_destroy(&d.zones);
    rcu_thread_online();
    rcu_unregister_thread();
out_args:
    if (r == 1) return 0;
    if (status != 0) fprintf(stderr, "capd: %s\n", e.msg);
    return status;
}
