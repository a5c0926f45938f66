/*
 * capd: the ceon daemon. Parses options into struct capd_config, loads the
 * zones, starts the DNS listeners and runs the libuv loop until SIGTERM or
 * SIGINT, re-reading the zone files on SIGHUP (eon/reload.h). Nothing else
 * lives here: every piece of work is in a layer.
 *
 * Adding an option: a field in struct capd_config, one row in `options`
 * (names, argument, help, setter), and the code that uses the field in
 * main's start-up sequence. Usage text and getopt tables come from the rows.
 */
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
#include <errno.h>
#include <getopt.h>
#include <systemd/sd-daemon.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>
#include <uv.h>

#define CAPD_MAX_LIST 64 /* most -z, -a or -b options */

struct capd_list {
    const char *v[CAPD_MAX_LIST];
    size_t n;
};

struct capd_config {
    struct capd_list zonefiles;     /* -z */
    struct capd_list authoritative; /* -a: served without a zone file */
    struct capd_list binds;         /* -b; empty: "::" (or 0.0.0.0 without IPv6) */
    struct capd_list primaries;     /* --primary: secondary of these zones (eon/secondary.h) */
    uint16_t port;
    bool udp, tcp;
    int log_level;
    const char *metrics_listen;         /* --metrics-listen; NULL: no statistics endpoint */
    unsigned tcp_per_addr;              /* DNS over TCP connections per source prefix; 0: default */
    unsigned char v4_prefix, v6_prefix; /* what one source is, for both limits */
    long journal_max_entries;           /* --journal-max-entries; 0: the journal's default */
    struct eon_config eon;              /* the Cap'n Proto side: src/eon/server.h */
    struct capd_xfr xfr;                /* zone transfers and NOTIFY: cmd/capd_xfr.h */
};

static int list_add(struct capd_list *l, const char *what, const char *v, struct err *e)
{
    if (l->n == CAPD_MAX_LIST)
        return err_set(e, "too many %s options (at most %d)", what, CAPD_MAX_LIST);
    l->v[l->n++] = v;
    return 0;
}

/* Parses a decimal integer in [lo, hi] that is the whole of s. */
static int parse_uint(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int set_zonefile(struct capd_config *c, const char *a, struct err *e)
{
    return list_add(&c->zonefiles, "--zonefile", a, e);
}
static int set_authoritative(struct capd_config *c, const char *a, struct err *e)
{
    return list_add(&c->authoritative, "--authoritative", a, e);
}
static int set_bind(struct capd_config *c, const char *a, struct err *e)
{
    return list_add(&c->binds, "--bind", a, e);
}
static int set_port(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (parse_uint(a, 1, 65535, &v) < 0)
        return err_set(e, "bad port '%s': expected a number from 1 to 65535", a);
    c->port = (uint16_t)v;
    return 0;
}
static int set_proto(struct capd_config *c, const char *a, struct err *e)
{
    if (!strcmp(a, "udp") || !strcmp(a, "tcp") || !strcmp(a, "both")) {
        c->udp = strcmp(a, "tcp") != 0;
        c->tcp = strcmp(a, "udp") != 0;
        return 0;
    }
    return err_set(e, "bad --proto '%s': expected udp, tcp or both", a);
}
static int set_log_level(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (parse_uint(a, 0, 3, &v) < 0)
        return err_set(e, "bad log level '%s': expected 0, 1, 2 or 3", a);
    c->log_level = (int)v;
    return 0;
}

static int set_state_dir(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->eon.state_dir = a;
    return 0;
}
static int set_capnp_listen(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->eon.listen_address = a;
    return 0;
}
static int set_capnp_key(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->eon.secret_key_file = a;
    return 0;
}
static int set_capnp_public(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->eon.public_address = a;
    return 0;
}
static int set_capnp_no_tls(struct capd_config *c, const char *a, struct err *e)
{
    (void)a;
    (void)e;
    c->eon.disable_tls = true;
    return 0;
}

/* Limits (docs/security.md). */
static int set_limit(const char *what, const char *a, long lo, long hi, long *v, struct err *e)
{
    if (parse_uint(a, lo, hi, v) < 0)
        return err_set(e, "bad %s '%s': expected a number from %ld to %ld", what, a, lo, hi);
    return 0;
}
static int set_capnp_max_conns(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-max-connections", a, 1, 1000000, &v, e) < 0) return -1;
    c->eon.limits.max_conns = (uint32_t)v;
    return 0;
}
static int set_capnp_per_addr(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-max-connections-per-address", a, 1, 1000000, &v, e) < 0) return -1;
    c->eon.limits.max_conns_per_addr = (uint32_t)v;
    return 0;
}
static int set_capnp_reserved(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-reserved-connections", a, 0, 1000000, &v, e) < 0) return -1;
    c->eon.limits.reserved_conns = v ? (uint32_t)v : UINT32_MAX;
    return 0;
}
static int set_capnp_budget(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-connection-budget", a, 65536, 1L << 30, &v, e) < 0) return -1;
    c->eon.limits.conn_budget_bytes = (size_t)v;
    return 0;
}
static int set_capnp_idle(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-idle-timeout", a, 0, 86400000, &v, e) < 0) return -1;
    c->eon.limits.idle_timeout_ms = v ? (uint32_t)v : UINT32_MAX;
    return 0;
}
static int set_capnp_holder_idle(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--capnp-holder-idle-timeout", a, 0, 86400000 * 7L, &v, e) < 0) return -1;
    c->eon.limits.holder_idle_timeout_ms = (uint32_t)v;
    return 0;
}
static int set_tcp_per_addr(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--tcp-max-connections-per-address", a, 1, 1000000, &v, e) < 0) return -1;
    c->tcp_per_addr = (unsigned)v;
    return 0;
}
static int set_prefix_v4(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--connection-prefix-v4", a, 1, 32, &v, e) < 0) return -1;
    c->v4_prefix = c->eon.limits.v4_prefix = (uint8_t)v;
    return 0;
}
static int set_prefix_v6(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--connection-prefix-v6", a, 1, 128, &v, e) < 0) return -1;
    c->v6_prefix = c->eon.limits.v6_prefix = (uint8_t)v;
    return 0;
}

/* Certificates (eon/cert.h). */
static int set_acme_directory(struct capd_config *c, const char *a, struct err *e)
{
    if (strncmp(a, "https://", 8) != 0 && strncmp(a, "http://", 7) != 0)
        return err_set(e, "bad --acme-directory '%s': expected an https:// URL", a);
    c->eon.cert.directory_url = a;
    return 0;
}
static int set_prod(struct capd_config *c, const char *a, struct err *e)
{
    (void)a;
    (void)e;
    c->eon.cert.prod = true;
    return 0;
}
static int set_acme_ca_file(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->eon.cert.ca_file = a;
    return 0;
}
static int set_renew_before(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--renew-before", a, 1, 3650, &v, e) < 0) return -1;
    c->eon.cert.renew_before_days = v;
    return 0;
}
static int set_cert_key_type(struct capd_config *c, const char *a, struct err *e)
{
    if (!strcmp(a, "p256"))
        c->eon.cert.key_type = ACME_KEY_P256;
    else if (!strcmp(a, "rsa2048"))
        c->eon.cert.key_type = ACME_KEY_RSA2048;
    else if (!strcmp(a, "rsa4096"))
        c->eon.cert.key_type = ACME_KEY_RSA4096;
    else
        return err_set(e, "bad --cert-key-type '%s': expected p256, rsa2048 or rsa4096", a);
    c->eon.cert.key_type_set = true;
    return 0;
}

static int set_primary(struct capd_config *c, const char *a, struct err *e)
{
    return list_add(&c->primaries, "--primary", a, e);
}
static int set_primary_retry_wait(struct capd_config *c, const char *a, struct err *e)
{
    long v;
    if (set_limit("--primary-retry-wait", a, 1, 86400, &v, e) < 0) return -1;
    c->eon.primary_retry_wait = (unsigned)v;
    return 0;
}

static int set_journal_max_entries(struct capd_config *c, const char *a, struct err *e)
{
    return set_limit("--journal-max-entries", a, 1, 100000000, &c->journal_max_entries, e);
}

static int set_metrics_listen(struct capd_config *c, const char *a, struct err *e)
{
    (void)e;
    c->metrics_listen = a;
    return 0;
}

static int set_allow_transfer(struct capd_config *c, const char *a, struct err *e)
{
    return capd_xfr_add_allow(&c->xfr, a, e);
}
static int set_tsig_key(struct capd_config *c, const char *a, struct err *e)
{
    return capd_xfr_add_key(&c->xfr, a, e);
}
static int set_notify(struct capd_config *c, const char *a, struct err *e)
{
    return capd_xfr_add_notify(&c->xfr, a, e);
}

enum {
    OPT_LONG_ONLY = 256,
    OPT_ALLOW_TRANSFER,
    OPT_TSIG_KEY,
    OPT_NOTIFY,
    OPT_AUTHORITATIVE,
    OPT_PROTO,
    OPT_HELP,
    OPT_VERSION,
    OPT_METRICS_LISTEN,
    OPT_STATE_DIR,
    OPT_CAPNP_LISTEN,
    OPT_CAPNP_KEY,
    OPT_CAPNP_PUBLIC,
    OPT_CAPNP_NO_TLS,
    OPT_CAPNP_MAX_CONNS,
    OPT_CAPNP_PER_ADDR,
    OPT_CAPNP_RESERVED,
    OPT_CAPNP_BUDGET,
    OPT_CAPNP_IDLE,
    OPT_CAPNP_HOLDER_IDLE,
    OPT_TCP_PER_ADDR,
    OPT_PREFIX_V4,
    OPT_PREFIX_V6,
    OPT_ACME_DIRECTORY,
    OPT_ENDPOINT,
    OPT_CAP,
    OPT_PROD,
    OPT_ACME_CA_FILE,
    OPT_RENEW_BEFORE,
    OPT_CERT_KEY_TYPE,
    OPT_PRIMARY,
    OPT_PRIMARY_RETRY_WAIT,
    OPT_JOURNAL_MAX_ENTRIES,
};

struct capd_option {
    const char *name; /* long name */
    int id;           /* the short letter, or an OPT_* above 255 */
    const char *arg;  /* argument placeholder for the usage text; NULL: none */
    const char *help; /* NULL: an alias, not listed in the usage text */
    int (*set)(struct capd_config *, const char *, struct err *);
};

static const struct capd_option options[] = {
    {"zonefile", 'z', "PATH",
     "serve the zone in this zone file, or every zone file in this directory (repeatable); "
     "re-read on SIGHUP",
     set_zonefile},
    {"authorative", 'a', "NAME",
     "serve NAME with a synthesised SOA and NS, even without a zone file (repeatable)",
     set_authoritative},
    {"authoritative", OPT_AUTHORITATIVE, "NAME", NULL, set_authoritative},
    {"bind", 'b', "ADDR",
     "listen on this IPv4 or IPv6 address (repeatable; default ::, dual-stack)", set_bind},
    {"port", 'p', "N", "DNS port (default 53)", set_port},
    {"proto", OPT_PROTO, "udp|tcp|both", "serve DNS over UDP, TCP or both (default both)",
     set_proto},
    {"log-level", 'l', "0..3",
     "0 errors only (default), 1 one line per query and answer, 2 all fields, 3 hex dumps",
     set_log_level},
    {"state-dir", OPT_STATE_DIR, "DIR",
     "state directory: capability files, saved capabilities, update journal (default state)",
     set_state_dir},
    {"capnp-listen-address", OPT_CAPNP_LISTEN, "tcp:HOST:PORT|unix:PATH",
     "serve the Cap'n Proto interface here (HOST may be a name in our own zones); "
     "without it capd serves DNS only",
     set_capnp_listen},
    {"capnp-secret-key-file", OPT_CAPNP_KEY, "PATH",
     "the server's TLS key (PEM, created if missing; \"\" for an ephemeral key)", set_capnp_key},
    {"capnp-public-address", OPT_CAPNP_PUBLIC, "tcp:HOST:PORT|unix:PATH",
     "address written into capability URIs (default: the listen address)", set_capnp_public},
    {"capnp-disable-tls", OPT_CAPNP_NO_TLS, NULL, "serve Cap'n Proto without TLS",
     set_capnp_no_tls},
    {"capnp-max-connections", OPT_CAPNP_MAX_CONNS, "N",
     "open Cap'n Proto connections at most (default 512)", set_capnp_max_conns},
    {"capnp-max-connections-per-address", OPT_CAPNP_PER_ADDR, "N",
     "of which from one source address prefix (default 32)", set_capnp_per_addr},
    {"capnp-reserved-connections", OPT_CAPNP_RESERVED, "N",
     "of which kept for clients that restored a service (default a quarter; 0 none)",
     set_capnp_reserved},
    {"capnp-connection-budget", OPT_CAPNP_BUDGET, "BYTES",
     "memory one connection may make capd hold before it stops reading it (default 4194304)",
     set_capnp_budget},
    {"capnp-idle-timeout", OPT_CAPNP_IDLE, "MS",
     "close a quiet connection holding nothing after MS (default 600000; 0 never)", set_capnp_idle},
    {"capnp-holder-idle-timeout", OPT_CAPNP_HOLDER_IDLE, "MS",
     "close a quiet connection holding capabilities after MS (default 0, never)",
     set_capnp_holder_idle},
    {"tcp-max-connections-per-address", OPT_TCP_PER_ADDR, "N",
     "DNS over TCP connections from one source address prefix (default 32)", set_tcp_per_addr},
    {"connection-prefix-v4", OPT_PREFIX_V4, "BITS",
     "IPv4 prefix that counts as one source for the limits above (default 32)", set_prefix_v4},
    {"connection-prefix-v6", OPT_PREFIX_V6, "BITS",
     "IPv6 prefix that counts as one source for the limits above (default 64)", set_prefix_v6},
    {"acme-directory", OPT_ACME_DIRECTORY, "URL",
     "ACME directory for certificates (default Let's Encrypt staging)", set_acme_directory},
    {"endpoint", OPT_ENDPOINT, "URL", NULL, set_acme_directory},
    {"cap", OPT_CAP, "URL", NULL, set_acme_directory},
    {"prod", OPT_PROD, NULL, "use Let's Encrypt production instead of staging", set_prod},
    {"acme-ca-file", OPT_ACME_CA_FILE, "PATH",
     "also trust these PEM certificates for the ACME server's HTTPS (e.g. a test CA)",
     set_acme_ca_file},
    {"renew-before", OPT_RENEW_BEFORE, "DAYS",
     "renew certificates DAYS before expiry, never before two thirds of their life (default 30)",
     set_renew_before},
    {"cert-key-type", OPT_CERT_KEY_TYPE, "p256|rsa2048|rsa4096",
     "key type of new certificate and ACME account keys (default p256)", set_cert_key_type},
    {"primary", OPT_PRIMARY, "FILE",
     "be a secondary of the zone whose Primary capability URI is in FILE (repeatable; needs "
     "--capnp-listen-address)",
     set_primary},
    {"primary-retry-wait", OPT_PRIMARY_RETRY_WAIT, "SECONDS",
     "wait before reconnecting to a primary after a failure (default 60)", set_primary_retry_wait},
    {"journal-max-entries", OPT_JOURNAL_MAX_ENTRIES, "N",
     "compact a zone's journal into a snapshot once it holds N change sets (default 1000)",
     set_journal_max_entries},
    {"metrics-listen", OPT_METRICS_LISTEN, "ADDR:PORT",
     "serve statistics in the Prometheus text format at http://ADDR:PORT/metrics (default off)",
     set_metrics_listen},
    {"allow-transfer", OPT_ALLOW_TRANSFER, "ADDR[/LEN]",
     "allow AXFR/IXFR over TCP from these addresses (repeatable; default: none, REFUSED)",
     set_allow_transfer},
    {"tsig-key", OPT_TSIG_KEY, "NAME:BASE64",
     "require transfers signed with this TSIG key (hmac-sha256; repeatable); NOTIFY is signed "
     "with the first",
     set_tsig_key},
    {"notify", OPT_NOTIFY, "ADDR[:PORT]",
     "send NOTIFY to this secondary after every change (repeatable; [V6]:PORT for IPv6)",
     set_notify},
    {"help", OPT_HELP, NULL, "print this help and exit", NULL},
    {"version", OPT_VERSION, NULL, "print the version and exit", NULL},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f, "Usage: capd [OPTION]...\n"
               "Authoritative DNS server of ceon: serves zones over UDP and TCP, and\n"
               "capabilities to update them over Cap'n Proto.\n\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct capd_option *o = &options[i];
        if (!o->help) continue;
        char head[96];
        int n = o->id < OPT_LONG_ONLY ? snprintf(head, sizeof head, "  -%c, --%s", o->id, o->name)
                                      : snprintf(head, sizeof head, "      --%s", o->name);
        if (o->arg && n > 0 && (size_t)n < sizeof head)
            snprintf(head + n, sizeof head - (size_t)n, " %s", o->arg);
        fprintf(f, "%-30s %s\n", head, o->help);
    }
    fprintf(f, "\n--authoritative is accepted as a spelling of --authorative; --endpoint and\n"
               "--cap (eon's name) as spellings of --acme-directory.\n"
               "Example: capd -z example.org.zone -b 127.0.0.1 -p 5353\n");
}

/* Fills c from argv. Returns 0, 1 if --help or --version was printed, -1 on
 * error. */
static int parse_args(int argc, char **argv, struct capd_config *c, struct err *e)
{
    struct option lo[NOPTIONS + 1];
    char so[2 * NOPTIONS + 2];
    size_t sn = 0;
    so[sn++] = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < NOPTIONS; i++) {
        lo[i] = (struct option){options[i].name, options[i].arg ? required_argument : no_argument,
                                NULL, options[i].id};
        if (options[i].id < OPT_LONG_ONLY) {
            so[sn++] = (char)options[i].id;
            if (options[i].arg) so[sn++] = ':';
        }
    }
    so[sn] = 0;
    lo[NOPTIONS] = (struct option){0};

    opterr = 0;
    int ch, idx;
    while ((ch = getopt_long(argc, argv, so, lo, &idx)) != -1) {
        if (ch == '?' || ch == ':') {
            const char *bad = argv[optind - 1];
            if (ch == ':') return err_set(e, "option '%s' needs an argument (see --help)", bad);
            if (optopt && bad[0] == '-' && bad[1] != '-')
                return err_set(e, "unknown option '-%c' (see --help)", optopt);
            return err_set(e, "unknown option '%s' (see --help)", bad);
        }
        if (ch == OPT_HELP) {
            usage(stdout);
            return 1;
        }
        if (ch == OPT_VERSION) {
            printf("capd (ceon) %s\n", CEON_VERSION);
            return 1;
        }
        for (size_t i = 0; i < NOPTIONS; i++)
            if (options[i].id == ch && options[i].set(c, optarg, e) < 0) return -1;
    }
    if (optind < argc) return err_set(e, "unexpected argument '%s' (see --help)", argv[optind]);
    return 0;
}

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

/* Applies --journal-max-entries; always 0 (fits the start-up chain). The
 * limit is read by each commit, so the replay at open is unaffected. */
static int set_journal_limit(struct capd *d)
{
    struct journal *j = eon_server_journal(d->eon);
    if (j && d->cfg.journal_max_entries)
        journal_set_limits(j, (uint64_t)d->cfg.journal_max_entries, 0);
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

/* The statistics endpoint, if asked for: DNS counters and the services'. */
static int start_metrics(struct capd *d, struct err *e)
{
    if (!d->cfg.metrics_listen) return 0;
    struct metrics_source src[3] = {{net_stats_render, NULL}};
    eon_server_metrics(d->eon, &src[1]);
    size_t n = 2;
    if (d->cfg.xfr.notifier)
        src[n++] = (struct metrics_source){notifier_render, d->cfg.xfr.notifier};
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

    int r = parse_args(argc, argv, &d.cfg, &e);
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
