#include "net/stats.h"
#include "dns/wire.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Rcodes worth a label of their own; everything else is "other". */
static const struct {
    uint16_t rcode;
    const char *name;
} rcodes[] = {{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
              {4, "NOTIMP"},  {5, "REFUSED"}, {9, "NOTAUTH"},  {16, "BADVERS"}};
#define NRCODES (sizeof rcodes / sizeof rcodes[0])

/* Query types with a label of their own; everything else is "other". */
static const struct {
    uint16_t type;
    const char *name;
} qtypes[] = {{1, "A"},      {2, "NS"},      {5, "CNAME"}, {6, "SOA"},    {12, "PTR"},
              {15, "MX"},    {16, "TXT"},    {28, "AAAA"}, {33, "SRV"},   {35, "NAPTR"},
              {43, "DS"},    {48, "DNSKEY"}, {64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"},
              {251, "IXFR"}, {252, "AXFR"},  {255, "ANY"}, {257, "CAA"}};
#define NQTYPES (sizeof qtypes / sizeof qtypes[0])

/* One thread's counters; that thread is the only writer. Blocks are
 * linked into a list that only grows and lives until exit, so a reader
 * summing them never races with a free. Aligned so that two threads'
 * blocks never share a cache line. */
struct net_stats_block {
    struct net_stats_block *next;
    uint64_t rcode[2][NRCODES + 1];
    uint64_t qtype[2][NQTYPES + 1];
    uint64_t truncated[2];
    uint64_t no_answer[2];
} __attribute__((aligned(64)));

static pthread_mutex_t blocks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct net_stats_block *blocks;
static _Thread_local struct net_stats_block *mine;

static struct net_stats_block *my_block(void)
{
    if (mine) return mine;
    struct net_stats_block *b = aligned_alloc(64, sizeof *b);
    if (!b) return NULL; /* counted nowhere rather than failing a query */
    *b = (struct net_stats_block){0};
    pthread_mutex_lock(&blocks_mu);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&blocks_mu);
    return mine = b;
}

/* Index into rcodes[] / qtypes[] plus one (0: "other"), by value, so the
 * query path does one table load instead of a scan. Types above 255 with a
 * label (CAA) are looked up in qtype_index. */
static const uint8_t rcode_slot[17] = {
    [0] = 1, [1] = 2, [2] = 3, [3] = 4, [4] = 5, [5] = 6, [9] = 7, [16] = 8};
static const uint8_t qtype_slot[256] = {
    [1] = 1,   [2] = 2,   [5] = 3,   [6] = 4,    [12] = 5,   [15] = 6,
    [16] = 7,  [28] = 8,  [33] = 9,  [35] = 10,  [43] = 11,  [48] = 12,
    [64] = 13, [65] = 14, [99] = 15, [251] = 16, [252] = 17, [255] = 18};

static size_t rcode_index(uint16_t rc)
{
    unsigned s = rc < sizeof rcode_slot ? rcode_slot[rc] : 0;
    return s ? s - 1 : NRCODES;
}

static size_t qtype_index(uint16_t t)
{
    if (t < 256) {
        unsigned s = qtype_slot[t];
        return s ? s - 1 : NQTYPES;
    }
    return t == 257 ? NQTYPES - 1 : NQTYPES; /* CAA, the last of qtypes[] */
}

void net_stats_count(const struct query_info *qi, size_t alen, bool over_tcp)
{
    struct net_stats_block *b = my_block();
    if (!b) return;
    int tcp = over_tcp ? 1 : 0;
    if (alen == 0) {
        metrics_inc(&b->no_answer[tcp], 1);
        return;
    }
    metrics_inc(&b->rcode[tcp][rcode_index(qi->rcode)], 1);
    metrics_inc(&b->qtype[tcp][qtype_index(qi->qtype)], 1);
    if (qi->tc) metrics_inc(&b->truncated[tcp], 1);
}

/* Sums every block into one (under the list lock: blocks are only added). */
static void sum(struct net_stats_block *s)
{
    *s = (struct net_stats_block){0};
    pthread_mutex_lock(&blocks_mu);
    for (const struct net_stats_block *b = blocks; b; b = b->next) {
        for (int t = 0; t < 2; t++) {
            for (size_t i = 0; i <= NRCODES; i++)
                s->rcode[t][i] += metrics_read(&b->rcode[t][i]);
            for (size_t i = 0; i <= NQTYPES; i++)
                s->qtype[t][i] += metrics_read(&b->qtype[t][i]);
            s->truncated[t] += metrics_read(&b->truncated[t]);
            s->no_answer[t] += metrics_read(&b->no_answer[t]);
        }
    }
    pthread_mutex_unlock(&blocks_mu);
}

void net_stats_totals(struct net_stats_totals *out)
{
    struct net_stats_block s;
    sum(&s);
    for (int t = 0; t < 2; t++) {
        out->queries[t] = 0;
        for (size_t i = 0; i <= NRCODES; i++)
            out->queries[t] += s.rcode[t][i];
        out->no_answer[t] = s.no_answer[t];
        out->truncated[t] = s.truncated[t];
    }
}

void net_stats_render(void *ud, struct metrics_text *t)
{
    (void)ud;
    static const char *const transport[2] = {"udp", "tcp"};
    struct net_stats_block s;
    sum(&s);
    metrics_family(t, "capd_dns_responses_total", "counter",
                   "DNS responses sent, by transport and rcode");
    for (int tr = 0; tr < 2; tr++)
        for (size_t i = 0; i <= NRCODES; i++) {
            const char *l[] = {"transport", transport[tr], "rcode",
                               i < NRCODES ? rcodes[i].name : "other", NULL};
            metrics_sample(t, "capd_dns_responses_total", l, s.rcode[tr][i]);
        }
    metrics_family(t, "capd_dns_queries_total", "counter",
                   "DNS queries answered, by transport and query type");
    for (int tr = 0; tr < 2; tr++)
        for (size_t i = 0; i <= NQTYPES; i++) {
            const char *l[] = {"transport", transport[tr], "qtype",
                               i < NQTYPES ? qtypes[i].name : "other", NULL};
            metrics_sample(t, "capd_dns_queries_total", l, s.qtype[tr][i]);
        }
    metrics_family(t, "capd_dns_truncated_total", "counter",
                   "DNS responses with TC set (too large for UDP, or a referral without its glue)");
    for (int tr = 0; tr < 2; tr++) {
        const char *l[] = {"transport", transport[tr], NULL};
        metrics_sample(t, "capd_dns_truncated_total", l, s.truncated[tr]);
    }
    metrics_family(t, "capd_dns_dropped_total", "counter",
                   "DNS messages given no answer (not a query, too short to answer)");
    for (int tr = 0; tr < 2; tr++) {
        const char *l[] = {"transport", transport[tr], NULL};
        metrics_sample(t, "capd_dns_dropped_total", l, s.no_answer[tr]);
    }
}

bool net_stats_tables_agree(void)
{
    for (size_t i = 0; i < NRCODES; i++)
        if (rcode_index(rcodes[i].rcode) != i) return false;
    for (size_t i = 0; i < NQTYPES; i++)
        if (qtype_index(qtypes[i].type) != i) return false;
    return rcode_index(6) == NRCODES && qtype_index(3) == NQTYPES && qtype_index(258) == NQTYPES;
}
