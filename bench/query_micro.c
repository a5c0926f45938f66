/*
 * query_micro: the user-space cost of answering one query, without the
 * kernel (issue 12's query-path target). Loads bench/qps.sh's zone
 * (bench/zonegen.awk, 20,000 records unless told) and answers bench/qps.sh's
 * query mix (45% A, 10% AAAA, 7% TXT, 4% MX, 4% CNAME, 15% NODATA SRV, 15%
 * NXDOMAIN; the same proportions, its own random order) with dns_answer, the
 * call net_answer makes for every UDP query, ROUNDS times over QUERIES
 * queries. Prints the median CPU ns/query of the rounds and a checksum of the
 * answers (the same zone and mix give the same checksum in every build:
 * compare it before and after a change to the query path).
 *
 *   cc -O2 -std=gnu17 -Isrc bench/query_micro.c BUILD/src/dns/libceon_dns.a \
 *      BUILD/src/util/libceon_util.a -lzscanner -lknot -lurcu-qsbr -lpthread -o query_micro
 *   ./query_micro [RECORDS [QUERIES [ROUNDS]]]     (run from the repository root)
 */
#include "dns/query.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "util/buf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other processes share the cores */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *zone_text(long records, long *hosts)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "awk -v n=%ld -v z=bench.test -f bench/zonegen.awk 2>/tmp/query_micro.hosts", records);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 20, len = 0, k;
    char *t = malloc(cap);
    while ((k = fread(t + len, 1, cap - len - 1, f)) > 0)
        if ((len += k) + 1 == cap) t = realloc(t, cap *= 2);
    t[len] = 0;
    if (pclose(f) != 0) return free(t), NULL;
    FILE *h = fopen("/tmp/query_micro.hosts", "r");
    if (!h || fscanf(h, "%ld", hosts) != 1) return free(t), NULL;
    fclose(h);
    return t;
}

/* One query in wire form: header, question (no EDNS, as dnsperf sends). */
static size_t make_query(uint8_t *q, const char *name, uint16_t type, uint16_t id)
{
    memset(q, 0, DNS_HEADER_LEN);
    put_be16(q, id);
    put_be16(q + 4, 1);
    size_t p = DNS_HEADER_LEN;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        q[p++] = (uint8_t)l;
        memcpy(q + p, s, l);
        p += l;
        s += l + (dot ? 1 : 0);
    }
    q[p++] = 0;
    put_be16(q + p, type);
    put_be16(q + p + 2, DNS_CLASS_IN);
    return p + 4;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long records = argc > 1 ? atol(argv[1]) : 20000;
    long nq = argc > 2 ? atol(argv[2]) : 100000;
    int rounds = argc > 3 ? atoi(argv[3]) : 7;
    long hosts;
    char *text = zone_text(records, &hosts);
    if (!text) return fprintf(stderr, "query_micro: run from the repository root\n"), 1;
    rcu_register_thread();
    struct zone_set_handle h;
    zone_set_handle_init(&h);
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "bench.test", NULL, &v, &e) < 0)
        return fprintf(stderr, "%s\n", e.msg), 1;
    free(text);
    rcu_thread_offline();
    if (zone_set_add(&h, zone_new(v, &e), &e) < 0) return fprintf(stderr, "%s\n", e.msg), 1;
    rcu_thread_online();

    enum { QMAX = DNS_HEADER_LEN + DNS_NAME_MAX + 4 };
    uint8_t(*qs)[QMAX] = malloc((size_t)nq * sizeof *qs);
    uint16_t *ql = malloc((size_t)nq * sizeof *ql);
    srand(42);
    for (long i = 0; i < nq; i++) {
        double r = rand() / (RAND_MAX + 1.0);
        long k = rand() % hosts;
        char name[64];
        uint16_t type = DNS_T_A;
        if (r < 0.45) {
            snprintf(name, sizeof name, "h%05ld.bench.test", k);
        } else if (r < 0.55) {
            snprintf(name, sizeof name, "h%05ld.bench.test", k - k % 2), type = DNS_T_AAAA;
        } else if (r < 0.62) {
            snprintf(name, sizeof name, "h%05ld.bench.test", k - k % 4), type = DNS_T_TXT;
        } else if (r < 0.66) {
            snprintf(name, sizeof name, "h%05ld.bench.test", k - k % 8), type = DNS_T_MX;
        } else if (r < 0.70) {
            snprintf(name, sizeof name, "w%05ld.bench.test", k - k % 50);
        } else if (r < 0.85) {
            snprintf(name, sizeof name, "h%05ld.bench.test", k), type = DNS_T_SRV;
        } else {
            snprintf(name, sizeof name, "nx%06ld.bench.test", i);
        }
        ql[i] = (uint16_t)make_query(qs[i], name, type, (uint16_t)i);
    }

    uint8_t out[4096];
    uint64_t sum = 0; /* untimed: a checksum of every byte of every answer */
    for (long i = 0; i < nq; i++) {
        size_t n = dns_answer(zone_set_current(&h), qs[i], ql[i], out, 1232, false, NULL);
        for (size_t b = 0; b < n; b++)
            sum = sum * 31 + out[b];
    }
    double *ns = malloc((size_t)rounds * sizeof *ns);
    size_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (long i = 0; i < nq; i++) {
            const struct zone_set *zs = zone_set_current(&h);
            bytes += dns_answer(zs, qs[i], ql[i], out, 1232, false, NULL);
            if ((i & 63) == 63) rcu_quiescent_state();
        }
        ns[r] = (now() - t0) * 1e9 / (double)nq;
    }
    qsort(ns, (size_t)rounds, sizeof *ns, cmp_double);
    printf("query_micro: %ld records, %ld queries x %d rounds: median %.1f ns/query "
           "(min %.1f, max %.1f), %.1f bytes/answer, checksum %016llx\n",
           records, nq, rounds, ns[rounds / 2], ns[0], ns[rounds - 1],
           (double)bytes / ((double)nq * rounds), (unsigned long long)sum);
    rcu_thread_offline();
    zone_set_handle_destroy(&h);
    rcu_thread_online();
    rcu_unregister_thread();
    free(qs);
    free(ql);
    free(ns);
    return 0;
}
