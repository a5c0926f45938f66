/*
 * stats: what the eon services count, for the statistics endpoint: update
 * calls that succeeded and failed and their latency (from the call's arrival
 * to its reply, so the journal's fsync and the wait for a group commit are
 * in it), and the journal's commits. The counters are written on the loop
 * thread only.
 */
#ifndef CEON_EON_STATS_H
#define CEON_EON_STATS_H
#include "util/metrics.h"
#include <stdint.h>

struct eon_stats {
    uint64_t updates_ok, updates_failed;
    struct metrics_hist update_latency;
};

struct eon_ctx;
/* Records one update call's outcome; started_us is uv_hrtime() / 1000 at
 * its arrival. */
void eon_stats_update_done(struct eon_ctx *c, bool ok, uint64_t started_us);
/* Writes the capd_update_* and capd_journal_* families (a struct eon_ctx *
 * as ud: the shape of struct metrics_source's render). */
void eon_stats_render(void *ctx, struct metrics_text *t);
#endif
