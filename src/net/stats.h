/*
 * stats: DNS query counters, kept per thread without locks or atomic
 * read-modify-writes on the query path (each UDP worker and the TCP loop
 * thread owns one block and is its only writer), summed when read.
 *
 * net_answer (net/serve.h) counts every query it answers: by transport and
 * rcode, by transport and query type, truncated answers, and queries given
 * no answer at all. net_stats_render writes them in the Prometheus text
 * format (util/metrics.h).
 */
#ifndef CEON_NET_STATS_H
#define CEON_NET_STATS_H
#include "dns/query.h"
#include "util/metrics.h"
#include <stdbool.h>
#include <stddef.h>

/* Counts one answered query in the calling thread's block (created on the
 * thread's first query: one allocation per thread, never per query).
 * alen 0 means the query got no answer. */
void net_stats_count(const struct query_info *qi, size_t alen, bool over_tcp);

/* Totals over every thread so far (also those that have exited). */
struct net_stats_totals {
    uint64_t queries[2];   /* [tcp] */
    uint64_t no_answer[2]; /* [tcp] */
    uint64_t truncated[2]; /* [tcp] */
};
void net_stats_totals(struct net_stats_totals *out);

/* The value-to-slot tables of the query path agree with the label tables
 * (for the unit test). */
bool net_stats_tables_agree(void);

/* Writes the capd_dns_* families (the shape of struct metrics_source's
 * render; ud is unused). */
void net_stats_render(void *ud, struct metrics_text *t);
#endif
