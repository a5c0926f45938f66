/*
 * zstore_micro: measures what the choice of the shared-structure zone store
 * depends on (issue 12), on zones of 1,000 / 200,000 / 1,000,000 names:
 *   - exact lookup of a name (the query path's operation, several per query):
 *       flat   the current version's open-addressing table (zone_version_find)
 *       phamt  the persistent hash trie (src/dns/phamt.c)
 *       order  binary search over canonical keys: a lower bound on any
 *              ordered index (B-tree, qp-trie) used alone for lookups, as it
 *              must convert the name to its canonical key and compare keys
 *   - one update:
 *       apply  zone_version_apply of one change (replace an A RRset): today's
 *              cost, a copy of the whole zone
 *       put    phamt_put of one node (path copy) + free of the retired path
 *       bput   pbt_put of one node into the ordered B+tree (path copy) + free
 * Lookups go through the names in a random order (a cold-cache worst case;
 * real traffic is skewed to a few hot names).
 *
 *   cc -O2 ... bench/zstore_micro.c (see NOTES-zone-store.md) ; ./zstore_micro
 */
#include "dns/name.h"
#include "dns/pbtree.h"
#include "dns/zbuild.h"
#include "dns/zone.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct key {
    uint8_t k[64];
    size_t len;
};
static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

static void run(long size)
{
    size_t cap = (size_t)size * 48 + 256, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o,
                          "$ORIGIN example.org.\n$TTL 3600\n@ SOA ns1 dns 1 3600 900 1814400 "
                          "3600\n@ NS ns1\nns1 A 127.0.0.1\n");
    for (long i = 0; i < size - 3; i++)
        o += (size_t)snprintf(text + o, cap - o, "h%ld A 10.%ld.%ld.%ld\n", i, (i >> 16) & 255,
                              (i >> 8) & 255, i & 255);
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "micro", NULL, &v, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    free(text);
    size_t n = v->nnodes;
    /* the nodes in canonical order (the store keeps no flat array) */
    const struct zone_node **nodes = malloc(n * sizeof *nodes);
    struct zone_cursor cur;
    zone_cursor_start(&cur, v);
    for (size_t i = 0; i < n; i++)
        nodes[i] = zone_cursor_next(&cur);
    size_t *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    srand(7);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* the persistent trie of the same nodes */
    struct phamt_txn t = {.gen = 1};
    const struct phamt *root = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct zone_node *rep;
        root = phamt_put(&t, root, nodes[i], &rep);
    }
    /* canonical keys, already sorted (the nodes are in canonical order) */
    struct key *keys = malloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i].len = zb_canonical_key(nodes[i]->name, keys[i].k);

    long reps = 2000000;
    volatile size_t sink = 0;
    double t0 = now();
    for (long r = 0; r < reps; r++) {
        const struct zone_node *zn = nodes[perm[(size_t)r % n]];
        sink += zone_version_find(v, zn->name, zn->name_len) != NULL;
    }
    double flat = (now() - t0) / (double)reps * 1e9;
    t0 = now();
    for (long r = 0; r < reps; r++) {
        const struct zone_node *zn = nodes[perm[(size_t)r % n]];
        uint32_t h = dns_name_hash(zn->name, zn->name_len);
        sink += phamt_find(root, h, zn->name, zn->name_len) != NULL;
    }
    double ph = (now() - t0) / (double)reps * 1e9;
    t0 = now();
    for (long r = 0; r < reps; r++) {
        const struct zone_node *zn = nodes[perm[(size_t)r % n]];
        uint8_t k[600];
        size_t kl = zb_canonical_key(zn->name, k), lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (keycmp(keys[mid].k, keys[mid].len, k, kl) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        sink += lo;
    }
    double ord = (now() - t0) / (double)reps * 1e9;

    /* one update, today: replace h<i>'s A RRset */
    int ups = size > 100000 ? 20 : 200;
    struct zone_version *v0 = v; /* the trie's leaves: kept */
    t0 = now();
    for (int u = 0; u < ups; u++) {
        char owner[64];
        uint8_t w[DNS_NAME_MAX];
        snprintf(owner, sizeof owner, "h%ld.example.org.", (long)(rand() % (size - 3)));
        dns_name_from_text(owner, NULL, w, &e);
        uint8_t ip[4] = {192, 0, 2, (uint8_t)(u + 1)};
        struct dns_change ch[2] = {{DNS_CHANGE_DEL_RRSET, w, 1, 0, 0, NULL},
                                   {DNS_CHANGE_ADD, w, 1, 60, 4, ip}};
        struct zone_version *nv;
        if (zone_version_apply(v, ch, 2, v->serial + 1, &nv, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
        if (v != v0) zone_version_free(v);
        v = nv;
    }
    double apply = (now() - t0) / ups * 1e6;
    /* the same with the trie: put a fresh copy of a node (its path copied) */
    struct zone_node *fresh = malloc(sizeof *fresh * 1000);
    int puts = 1000;
    t0 = now();
    for (int u = 0; u < puts; u++) {
        struct phamt_txn tx = {.gen = (uint32_t)u + 2};
        fresh[u] = *nodes[(size_t)rand() % v0->nnodes];
        const struct zone_node *rep;
        root = phamt_put(&tx, root, &fresh[u], &rep);
        phamt_retired_free(&tx);
        free(tx.retired);
    }
    double put = (now() - t0) / puts * 1e6;
    /* the ordered index: built once, then one path copy per update */
    struct phamt_txn bt = {.gen = 1};
    const struct pbt_node *broot = NULL;
    for (size_t i = 0; i < v0->nnodes; i++) {
        const struct zone_node *rep;
        broot = pbt_put(&bt, broot, nodes[i], &rep);
    }
    free(bt.retired);
    t0 = now();
    for (int u = 0; u < puts; u++) {
        struct phamt_txn tx = {.gen = (uint32_t)u + 2};
        const struct zone_node *rep;
        broot = pbt_put(&tx, broot, &fresh[u], &rep);
        phamt_retired_free(&tx);
        free(tx.retired);
    }
    double bput = (now() - t0) / puts * 1e6;
    pbt_free_all(broot);
    printf("%8ld names: lookup ns flat %.0f phamt %.0f order %.0f (phamt/flat %.2f); "
           "update us apply %.0f, phamt put %.2f, pbtree put %.2f; phamt nodes %zu\n",
           size, flat, ph, ord, ph / flat, apply, put, bput, phamt_node_count(root));
    (void)sink;
    free(fresh);
    free(keys);
    free(perm);
    /* not freeing the trie nodes made from the version (phamt_free_all
     * frees only trie nodes, the leaves are the version's) */
    phamt_free_all(root);
    free(t.retired);
    if (v != v0) zone_version_free(v);
    zone_version_free(v0);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run(atol(argv[i]));
    } else {
        run(1000);
        run(200000);
        run(1000000);
    }
    return 0;
}
