/*
 * journal_trace: the journal under load, without the RPC in front (brief
 * J of issue 12). Builds a zone of N records, then C threads each run
 * durable updates (dns_update_apply: replace the A RRset of h<i>, as
 * bench/update.sh does) for S seconds with compaction every max_entries
 * entries (default 1000, as capd). Prints the latency of every update as
 * p50/p99/p99.9/max, split by whether a compaction was being written when
 * it started, how many compactions ran, how long each snapshot chunk's
 * transaction held LMDB's writer lock (group commits wait that long) and
 * how many commits were held back by an overdue compaction (the replay
 * bound, journal.h). Then times journal_snapshot_replace of the whole zone
 * (a secondary's full transfer), median of R runs, the same with the
 * environment in MDB_NOSYNC (its cost without any fsync), and the walk
 * over the records alone.
 * JT_CHUNK_META_NOSYNC=0 makes chunks fsync in their own commit (as before
 * brief J); JT_CHUNK_BYTES sets the records per chunk; JT_SIZE_RATIO=R
 * compacts by capd's size policy (--journal-size-ratio) instead of every
 * max_entries.
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/journal_trace.c \
 *      build/release/src/dns/libceon_dns.a build/release/src/util/libceon_util.a \
 *      -llmdb -lurcu-qsbr -lzscanner -lknot -lpthread -o /tmp/journal_trace
 *   /tmp/journal_trace N C S [R]     (its journal is in a fresh /tmp dir)
 */
#include "dns/journal_int.h"
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

static const uint8_t APEX[] = "\7example\3org";
static unsigned nrec, seconds;
static struct journal *jr;
static struct zone *zn;
static volatile int stop;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

struct worker {
    unsigned id, nth;
    double *lat;
    unsigned char *busy;
    size_t n, cap;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = w->id; !stop; i += w->nth) {
        char text[64];
        uint8_t name[DNS_NAME_MAX], ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        struct err e;
        uint32_t serial;
        snprintf(text, sizeof text, "h%u.example.org.", i % (nrec - 3));
        dns_name_from_text(text, NULL, name, &e);
        struct dns_update u[] = {{DNS_UPDATE_REMOVE_RRSET, name, DNS_T_A, 0, NULL, 0},
                                 {DNS_UPDATE_ADD, name, DNS_T_A, 300, ip, 4}};
        unsigned char busy = __atomic_load_n(&jr->bg_busy, __ATOMIC_RELAXED);
        double t0 = now();
        if (dns_update_apply(zn, APEX, NULL, 0, u, 2, jr, &serial, &e) < 0) {
            fprintf(stderr, "update: %s\n", e.msg);
            exit(1);
        }
        double dt = now() - t0;
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            w->busy = realloc(w->busy, w->cap);
        }
        w->busy[w->n] = busy || __atomic_load_n(&jr->bg_busy, __ATOMIC_RELAXED);
        w->lat[w->n++] = dt;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
    if (!n) {
        printf("  %-22s none\n", what);
        return;
    }
    qsort(v, n, sizeof *v, cmp);
    printf("  %-22s n=%zu p50=%.2f p99=%.2f p99.9=%.2f max=%.2f ms\n", what, n, v[n / 2] * 1e3,
           v[n * 99 / 100] * 1e3, v[n * 999 / 1000] * 1e3, v[n - 1] * 1e3);
}

static int nop(void *ctx, const struct zone_node *node, const struct dns_rrset *s)
{
    (void)node;
    (*(size_t *)ctx) += s->count;
    return 0;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: journal_trace RECORDS CLIENTS SECONDS [RUNS]\n");
        return 2;
    }
    nrec = (unsigned)atoi(argv[1]);
    unsigned nth = (unsigned)atoi(argv[2]);
    seconds = (unsigned)atoi(argv[3]);
    int runs = argc > 4 ? atoi(argv[4]) : 3;
    size_t cap = 256 + (size_t)nrec * 40;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap,
                                  "$ORIGIN example.org.\n$TTL 3600\n"
                                  "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
                                  "@ NS ns1\nns1 A 192.0.2.1\n");
    for (unsigned i = 0; i + 3 < nrec; i++)
        len += (size_t)snprintf(text + len, cap - len, "h%u A 10.%u.%u.%u\n", i, (i >> 16) & 255,
                                (i >> 8) & 255, i & 255);
    struct zone_version *v, *out;
    struct err e;
    if (zone_load_string(text, "trace.zone", NULL, &v, &e) < 0)
        return fprintf(stderr, "%s\n", e.msg), 1;
    free(text);
    char dir[] = "/tmp/journal-trace-XXXXXX";
    if (!mkdtemp(dir) || journal_open(dir, &jr, &e) < 0 ||
        journal_replay(jr, v, &out, NULL, &e) < 0)
        return fprintf(stderr, "%s\n", e.msg), 1;
    zn = zone_new(v, &e);
    /* JT_CHUNK_META_NOSYNC=0: chunks fsync'd in their own commit (the
     * behaviour before); JT_CHUNK_BYTES: records per chunk */
    if (getenv("JT_CHUNK_META_NOSYNC"))
        jr->chunk_meta_nosync = atoi(getenv("JT_CHUNK_META_NOSYNC")) != 0;
    /* compaction every max_entries, whatever the zone's size (capd's
     * default --journal-size-ratio would compact a big zone far less
     * often); JT_SIZE_RATIO=R traces capd's policy instead */
    journal_set_size_ratio(jr, getenv("JT_SIZE_RATIO") ? atof(getenv("JT_SIZE_RATIO")) : 0);

    struct worker *w = calloc(nth, sizeof *w);
    pthread_t *t = calloc(nth, sizeof *t);
    for (unsigned i = 0; i < nth; i++) {
        w[i].id = i;
        w[i].nth = nth;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    unsigned compactions = 0;
    bool was = false;
    double t0 = now();
    while (now() - t0 < seconds) {
        bool b = __atomic_load_n(&jr->bg_busy, __ATOMIC_RELAXED);
        compactions += b && !was;
        was = b;
        usleep(200);
    }
    stop = 1;
    size_t total = 0, nb = 0, nq = 0;
    for (unsigned i = 0; i < nth; i++) {
        pthread_join(t[i], NULL);
        total += w[i].n;
    }
    double el = now() - t0;
    double *busy = malloc((total + 1) * sizeof *busy), *quiet = malloc((total + 1) * sizeof *quiet),
           *all = malloc((total + 1) * sizeof *all);
    for (unsigned i = 0; i < nth; i++)
        for (size_t k = 0; k < w[i].n; k++) {
            all[nb + nq] = w[i].lat[k];
            if (w[i].busy[k])
                busy[nb++] = w[i].lat[k];
            else
                quiet[nq++] = w[i].lat[k];
        }
    uint64_t commits, entries;
    journal_counters(jr, &commits, &entries);
    printf("chunk nosync %d bytes %zu records=%u clients=%u: %.0f updates/s, %u compactions seen, "
           "%.1f entries/commit\n",
           (int)jr->chunk_meta_nosync, jr->chunk_bytes, nrec, nth, total / el, compactions,
           commits ? (double)entries / commits : 0.0);
    printf("  chunk transactions: %llu, writer lock held %.2f ms each on average, %.2f max\n",
           (unsigned long long)jr->chunk_txns,
           jr->chunk_txns ? jr->chunk_lock_ns / 1e6 / jr->chunk_txns : 0.0,
           jr->chunk_lock_max_ns / 1e6);
    printf("  commits held back by an overdue compaction: %llu\n",
           (unsigned long long)jr->throttled);
    report("all", all, total);
    report("during a compaction", busy, nb);
    report("no compaction", quiet, nq);
    journal_background_wait(jr);

    /* journal_snapshot_replace of the whole zone: as it is, without fsync,
     * and the walk over the records alone. */
    double full[16], nosync[16], walk[16];
    if (runs > 16) runs = 16;
    for (int r = 0; r < runs; r++) {
        const struct zone_version *cur = zone_current(zn);
        double a = now();
        if (journal_snapshot_replace(jr, cur, &e) < 0) return fprintf(stderr, "%s\n", e.msg), 1;
        full[r] = now() - a;
        mdb_env_set_flags(jr->env, MDB_NOSYNC, 1);
        a = now();
        if (journal_snapshot_replace(jr, cur, &e) < 0) return fprintf(stderr, "%s\n", e.msg), 1;
        nosync[r] = now() - a;
        mdb_env_set_flags(jr->env, MDB_NOSYNC, 0);
        mdb_env_sync(jr->env, 1);
        size_t count = 0;
        a = now();
        zone_version_foreach(cur, nop, &count);
        walk[r] = now() - a;
    }
    printf("snapshot_replace of %u records (median of %d): %.1f ms, without fsync %.1f ms, walk "
           "%.1f ms\n",
           nrec, runs, median(full, runs) * 1e3, median(nosync, runs) * 1e3,
           median(walk, runs) * 1e3);
    zone_free(zn);
    journal_close(jr);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
