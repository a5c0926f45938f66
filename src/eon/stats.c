#include "eon/stats.h"
#include "dns/journal.h"
#include "eon/domain.h"
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
    }
}
