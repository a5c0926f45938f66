#include "eon/stats.h"
#include "dns/journal.h"
#include "eon/cert.h"
#include "eon/domain.h"
#include "rpc/rpc.h"
#include <uv.h>

void eon_stats_update_done(struct eon_ctx *c, bool ok, uint64_t started_us)
{
    metrics_inc(ok ? &c->stats.updates_ok : &c->stats.updates_failed, 1);
    uint64_t now = uv_hrtime() / 1000;
    metrics_hist_observe(&c->stats.update_latency, now > started_us ? now - started_us : 0);
}

void eon_stats_render(void *ctx, struct metrics_text *t)
{
    struct eon_ctx *c = ctx;
    metrics_family(t, "capd_updates_total", "counter",
                   "Domain.update calls answered, by result (failed: refused or not applied)");
    const char *ok[] = {"result", "ok", NULL}, *failed[] = {"result", "failed", NULL};
    metrics_sample(t, "capd_updates_total", ok, metrics_read(&c->stats.updates_ok));
    metrics_sample(t, "capd_updates_total", failed, metrics_read(&c->stats.updates_failed));
    metrics_family(t, "capd_update_duration_seconds", "histogram",
                   "Domain.update latency from the call's arrival to its reply (durable)");
    metrics_hist_render(t, "capd_update_duration_seconds", NULL, &c->stats.update_latency);
    if (c->vat) {
        struct rpc_stats rs;
        rpc_vat_stats(c->vat, &rs);
        metrics_family(t, "capd_rpc_connections", "gauge",
                       "Cap'n Proto connections: accepted (slots in use), of those authenticated "
                       "(restored a service), paused (budget spent), closing");
        const char *acc[] = {"state", "accepted", NULL}, *auth[] = {"state", "authenticated", NULL},
                   *paused[] = {"state", "paused", NULL}, *closing[] = {"state", "closing", NULL};
        metrics_sample(t, "capd_rpc_connections", acc, rs.accepted);
        metrics_sample(t, "capd_rpc_connections", auth, rs.authenticated);
        metrics_sample(t, "capd_rpc_connections", paused, rs.paused);
        metrics_sample(t, "capd_rpc_connections", closing, rs.closing);
        metrics_family(t, "capd_rpc_refused_total", "counter",
                       "Cap'n Proto connections refused by the limits since start");
        const char *full[] = {"reason", "no_slot", NULL}, *src[] = {"reason", "per_source", NULL};
        metrics_sample(t, "capd_rpc_refused_total", full, rs.refused_full);
        metrics_sample(t, "capd_rpc_refused_total", src, rs.refused_per_source);
        metrics_family(
            t, "capd_rpc_held_bytes", "gauge",
            "bytes held for peers besides queued output (calls in flight, kept answers)");
        metrics_sample(t, "capd_rpc_held_bytes", NULL, rs.held);
    }
    if (c->certs) eon_certs_render(c->certs, t);
    if (c->journal) {
        uint64_t commits, entries;
        journal_counters(c->journal, &commits, &entries);
        metrics_family(t, "capd_journal_commits_total", "counter",
                       "journal transactions committed (one fsync each) since start");
        metrics_sample(t, "capd_journal_commits_total", NULL, commits);
        metrics_family(t, "capd_journal_entries_total", "counter",
                       "change sets written to the journal since start (entries per commit is "
                       "the group-commit factor)");
        metrics_sample(t, "capd_journal_entries_total", NULL, entries);
        metrics_family(t, "capd_journal_bytes", "gauge",
                       "bytes of the journal's data file in use (compaction keeps it bounded)");
        metrics_sample(t, "capd_journal_bytes", NULL, journal_used_bytes(c->journal));
        metrics_family(t, "capd_journal_last_compaction_timestamp_seconds", "gauge",
                       "when the journal last wrote a snapshot (compaction), Unix time; 0: not "
                       "since capd started");
        metrics_sample(t, "capd_journal_last_compaction_timestamp_seconds", NULL,
                       journal_last_compaction(c->journal));
    }
}
