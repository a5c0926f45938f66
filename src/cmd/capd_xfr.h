/*
 * capd_xfr: capd's wiring of zone transfers and NOTIFY (--allow-transfer,
 * --tsig-key, --notify): the option values, what they become at start
 * (net/xfr_out.h, net/notify.h, dns/tsig.h), and the teardown; and the
 * zone publish hook, which fans out to NOTIFY and to replication. Kept out of
 * capd.c so that file stays a list of options and a start-up sequence.
 */
#ifndef CEON_CMD_CAPD_XFR_H
#define CEON_CMD_CAPD_XFR_H
#include "dns/journal.h"
#include "net/notify.h"
#include "net/xfr_out.h"
#include "util/err.h"
#include <uv.h>

#define CAPD_XFR_MAX 64 /* most of each option */

struct capd_xfr {
    const char *allow[CAPD_XFR_MAX], *keys[CAPD_XFR_MAX], *notify[CAPD_XFR_MAX];
    size_t nallow, nkeys, nnotify;
    /* built by capd_xfr_check / capd_xfr_start */
    struct xfr_acl acl[CAPD_XFR_MAX];
    struct dns_tsig_key *tsig[CAPD_XFR_MAX];
    struct net_addr targets[CAPD_XFR_MAX];
    struct xfr_out *out; /* NULL without --allow-transfer: the query engine refuses */
    struct notifier *notifier;
    /* replication to capd secondaries (eon/replica.h), chained after NOTIFY */
    zone_publish_hook repl_fn;
    void *repl_ud;
};

int capd_xfr_add_allow(struct capd_xfr *x, const char *a, struct err *e);
int capd_xfr_add_key(struct capd_xfr *x, const char *a, struct err *e);
int capd_xfr_add_notify(struct capd_xfr *x, const char *a, struct err *e);
/* Parses the values (errors name the option). */
int capd_xfr_check(struct capd_xfr *x, struct err *e);
/* The transfer server for dns_tcp_config.xfr (NULL if none). */
int capd_xfr_start_server(struct capd_xfr *x, struct journal *j, struct err *e);
/* NOTIFY: starts the sender and hooks it to every zone publish. */
int capd_xfr_start_notify(struct capd_xfr *x, uv_loop_t *loop, struct err *e);
/* Replication to capd secondaries (eon/server.h's hook, if eon has one) is
 * called on every publish too, after NOTIFY. After eon_server_listen,
 * before the loop runs. */
struct eon_server;
void capd_xfr_start_replication(struct capd_xfr *x, struct eon_server *eon);
/* Unhooks and closes (run the loop afterwards). */
void capd_xfr_stop(struct capd_xfr *x);
/* After the loop has run the closes and the TCP server is gone. */
void capd_xfr_free(struct capd_xfr *x);
#endif
