/*
 * replica_stats: the secondaries' statistics (util/metrics.h), rendered on
 * the loop thread, which is also the only writer of the queues. Labels:
 * zone, and secondary = the name of its .cap file.
 */
#include "eon/replica_int.h"
#include <stdio.h>

typedef void (*sample_fn)(struct metrics_text *t, const char *fam, const char *const *labels,
                          struct replica *r, uint32_t serial, uint64_t now_ms);

static void each(struct eon_repl *rp, struct metrics_text *t, const char *fam, sample_fn fn)
{
    uint64_t now = repl_now_ms();
    for (struct repl_zone *z = rp->zones; z; z = z->next) {
        const struct zone_version *v = repl_hold_current(z);
        uint32_t serial = v ? v->serial : 0;
        if (v) zone_version_release(v);
        for (struct replica *r = z->replicas; r; r = r->next) {
            char file[EON_SECONDARY_BASE_MAX + 8];
            snprintf(file, sizeof file, "%s.cap", r->base);
            const char *labels[] = {"zone", z->name, "secondary", file, NULL};
            fn(t, fam, labels, r, v ? serial : r->acked, now);
        }
    }
}

static void s_state(struct metrics_text *t, const char *fam, const char *const *l,
                    struct replica *r, uint32_t serial, uint64_t now)
{
    (void)serial;
    (void)now;
    for (int s = EON_REPLICA_CONNECTING; s <= EON_REPLICA_BACKOFF; s++) {
        const char *labels[] = {l[0], l[1], l[2], l[3], "state", replica_state_name(s), NULL};
        metrics_sample(t, fam, labels, r->state == (enum eon_replica_state)s);
    }
}

static void s_acked(struct metrics_text *t, const char *fam, const char *const *l,
                    struct replica *r, uint32_t serial, uint64_t now)
{
    (void)serial;
    (void)now;
    if (r->acked_known) metrics_sample(t, fam, l, r->acked);
}

static void s_lag(struct metrics_text *t, const char *fam, const char *const *l, struct replica *r,
                  uint32_t serial, uint64_t now)
{
    (void)now;
    /* RFC 1982: the distance forward from acked (0 when unknown: the
     * seconds family says how long it has been behind). */
    if (r->acked_known) metrics_sample(t, fam, l, (uint32_t)(serial - r->acked));
}

static void s_lag_s(struct metrics_text *t, const char *fam, const char *const *l,
                    struct replica *r, uint32_t serial, uint64_t now)
{
    bool behind = !r->acked_known || serial != r->acked;
    double s = behind && r->behind_since_ms && now > r->behind_since_ms
                   ? (double)(now - r->behind_since_ms) / 1000.0
                   : 0.0;
    metrics_sample_f(t, fam, l, s);
}

static void s_fulls(struct metrics_text *t, const char *fam, const char *const *l,
                    struct replica *r, uint32_t serial, uint64_t now)
{
    (void)serial;
    (void)now;
    metrics_sample(t, fam, l, r->fulls);
}

static void s_incr(struct metrics_text *t, const char *fam, const char *const *l, struct replica *r,
                   uint32_t serial, uint64_t now)
{
    (void)serial;
    (void)now;
    metrics_sample(t, fam, l, r->incrementals);
}

static void s_fail(struct metrics_text *t, const char *fam, const char *const *l, struct replica *r,
                   uint32_t serial, uint64_t now)
{
    (void)serial;
    (void)now;
    metrics_sample(t, fam, l, r->failures);
}

void eon_repl_render(void *ud, struct metrics_text *t)
{
    struct eon_repl *rp = ud;
    if (!rp || !rp->zones) return;
    static const struct {
        const char *name, *type, *help;
        sample_fn fn;
    } fams[] = {
        {"capd_secondary_state", "gauge",
         "each secondary's replication queue: 1 for its current state", s_state},
        {"capd_secondary_acked_serial", "gauge",
         "the serial the secondary is known to have (absent: unknown)", s_acked},
        {"capd_secondary_lag_serials", "gauge",
         "serials the secondary is behind the zone (RFC 1982 distance)", s_lag},
        {"capd_secondary_lag_seconds", "gauge",
         "how long the secondary has been behind (0: up to date)", s_lag_s},
        {"capd_secondary_full_transfers_total", "counter",
         "whole-zone transfers completed since start", s_fulls},
        {"capd_secondary_incremental_updates_total", "counter",
         "incremental Secondary.update calls the secondary applied since start", s_incr},
        {"capd_secondary_failures_total", "counter",
         "calls that failed (exceptions, disconnections, refusals) since start", s_fail},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        metrics_family(t, fams[i].name, fams[i].type, fams[i].help);
        each(rp, t, fams[i].name, fams[i].fn);
    }
}
