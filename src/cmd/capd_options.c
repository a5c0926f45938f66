/*
 * capd_options: the option table, the usage text made from it, and the
 * parser (see capd_options.h).
 */
#include "cmd/capd_options.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int set_journal_size_ratio(struct capd_config *c, const char *a, struct err *e)
{
    char *end;
    errno = 0;
    double r = strtod(a, &end);
    if (errno || end == a || *end || !(r >= 0 && r <= 100))
        return err_set(e, "bad --journal-size-ratio '%s': expected a number from 0 to 100", a);
    c->journal_size_ratio = r;
    c->journal_size_ratio_set = true;
    return 0;
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
    OPT_JOURNAL_SIZE_RATIO,
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
     "compact a zone's journal into a snapshot once it holds N change sets (default 1000) "
     "weighing --journal-size-ratio of the zone",
     set_journal_max_entries},
    {"journal-size-ratio", OPT_JOURNAL_SIZE_RATIO, "R",
     "... and only once they weigh R times the zone's last snapshot (default 0.25: a snapshot "
     "rewrites the whole zone; 0: every N change sets), or 16 MiB",
     set_journal_size_ratio},
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

int capd_parse_args(int argc, char **argv, struct capd_config *c, struct err *e)
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
