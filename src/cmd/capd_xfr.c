#include "cmd/capd_xfr.h"
#include "dns/zone.h"
#include "eon/server.h"
#include "util/log.h"
#include <stdlib.h>

static int add(const char **v, size_t *n, const char *what, const char *a, struct err *e)
{
    if (*n == CAPD_XFR_MAX)
        return err_set(e, "too many %s options (at most %d)", what, CAPD_XFR_MAX);
    v[(*n)++] = a;
    return 0;
}

int capd_xfr_add_allow(struct capd_xfr *x, const char *a, struct err *e)
{
    return add(x->allow, &x->nallow, "--allow-transfer", a, e);
}
int capd_xfr_add_key(struct capd_xfr *x, const char *a, struct err *e)
{
    return add(x->keys, &x->nkeys, "--tsig-key", a, e);
}
int capd_xfr_add_notify(struct capd_xfr *x, const char *a, struct err *e)
{
    return add(x->notify, &x->nnotify, "--notify", a, e);
}

int capd_xfr_check(struct capd_xfr *x, struct err *e)
{
    for (size_t i = 0; i < x->nallow; i++)
        if (xfr_acl_parse(x->allow[i], &x->acl[i], e) < 0) return err_prefix(e, "--allow-transfer");
    for (size_t i = 0; i < x->nkeys; i++)
        if (!x->tsig[i] && dns_tsig_key_parse(x->keys[i], &x->tsig[i], e) < 0)
            return err_prefix(e, "--tsig-key");
    for (size_t i = 0; i < x->nnotify; i++)
        if (notifier_parse_target(x->notify[i], &x->targets[i], e) < 0) return -1;
    return 0;
}

int capd_xfr_start_server(struct capd_xfr *x, struct journal *j, struct err *e)
{
    if (capd_xfr_check(x, e) < 0) return -1;
    if (!x->nallow) return 0;
    struct xfr_out_config c = {
        .allow = x->acl, .nallow = x->nallow, .keys = x->tsig, .nkeys = x->nkeys, .journal = j};
    if (!(x->out = xfr_out_new(&c, e))) return -1;
    log_info("zone transfers: %zu allowed address range(s), %s, IXFR %s", x->nallow,
             x->nkeys ? "TSIG required" : "no TSIG", j ? "from the journal" : "as whole zones");
    return 0;
}

/* The one publish hook (dns/zone.h has a single slot): NOTIFY and
 * replication. Both only hand the change to the loop, so a publish on an
 * update thread never waits for either. */
static void publish_fanout(void *ctx, const uint8_t *apex, uint32_t serial)
{
    struct capd_xfr *x = ctx;
    if (x->notifier) notifier_changed(x->notifier, apex, serial);
    if (x->repl_fn) x->repl_fn(x->repl_ud, apex, serial);
}

int capd_xfr_start_notify(struct capd_xfr *x, uv_loop_t *loop, struct err *e)
{
    if (!x->nnotify) return 0;
    struct notifier_config c = {
        .targets = x->targets, .ntargets = x->nnotify, .key = x->nkeys ? x->tsig[0] : NULL};
    if (notifier_start(loop, &c, &x->notifier, e) < 0) return err_prefix(e, "--notify");
    zone_set_publish_hook(publish_fanout, x);
    return 0;
}

void capd_xfr_start_replication(struct capd_xfr *x, struct eon_server *eon)
{
    zone_publish_hook fn;
    void *ud;
    eon_server_replication_hook(eon, &fn, &ud);
    if (!fn) return;
    x->repl_fn = fn;
    x->repl_ud = ud;
    zone_set_publish_hook(publish_fanout, x);
}

void capd_xfr_stop(struct capd_xfr *x)
{
    if (x->notifier || x->repl_fn) zone_set_publish_hook(NULL, NULL);
    notifier_stop(x->notifier);
}

void capd_xfr_free(struct capd_xfr *x)
{
    notifier_free(x->notifier);
    x->notifier = NULL;
    xfr_out_free(x->out);
    x->out = NULL;
    for (size_t i = 0; i < x->nkeys; i++) {
        dns_tsig_key_free(x->tsig[i]);
        x->tsig[i] = NULL;
    }
}
