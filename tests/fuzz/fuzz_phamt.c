/* libFuzzer target: the two persistent indexes of the zone store (issue
 * 12), the hash trie (dns/phamt.h) and the ordered B+tree (dns/pbtree.h),
 * on random change sets applied to both in one writer transaction.
 *
 * Input: a list of 2-byte changes: byte 0 bit 7 set: delete, else put the
 * node variant (bit 0) of the name; byte 1: the name (one of 64; names 48..63
 * share one full 32-bit hash, so they collide at every level). A byte 0 of
 * 0x7f ends the current transaction (the next change starts a new one).
 * After every transaction the new roots must answer every name as a plain
 * array does (the B+tree walked in canonical order), and the root of the transaction before it must
 * still answer as it did then (persistence); retired nodes are freed once no kept root can reach
 * them, so ASan sees any node freed too early. */
#include "dns/name.h"
#include "dns/pbtree.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES 64

static struct zone_node nodes[NAMES][2];
static uint8_t names[NAMES][24];
static int order[NAMES]; /* name indices in canonical order */
static int ready;

static int cmp_idx(const void *a, const void *b)
{
    return dns_name_cmp(names[*(const int *)a], names[*(const int *)b]);
}

static void setup(void)
{
    for (int i = 0; i < NAMES; i++) {
        int l = snprintf((char *)names[i] + 1, 20, "n%d", i);
        names[i][0] = (uint8_t)l;
        memcpy(names[i] + 1 + l, "\3org", 5);
        size_t len = (size_t)l + 6;
        uint32_t h = i >= 48 ? 0x5a5a5a5au : dns_name_hash(names[i], len);
        for (int k = 0; k < 2; k++)
            nodes[i][k] = (struct zone_node){.name = names[i], .name_len = (uint8_t)len, .hash = h};
        order[i] = i;
    }
    qsort(order, NAMES, sizeof order[0], cmp_idx);
    ready = 1;
}

static void check(const struct phamt *r, const struct pbt_node *b, const signed char *state)
{
    struct pbt_iter it;
    pbt_seek(&it, b, NULL);
    for (int o = 0; o < NAMES; o++)
        if (state[order[o]] >= 0 && pbt_next(&it) != &nodes[order[o]][state[order[o]]]) abort();
    if (pbt_next(&it)) abort();
    size_t live = 0;
    for (int i = 0; i < NAMES; i++) {
        const struct zone_node *want = state[i] < 0 ? NULL : &nodes[i][state[i]];
        if (phamt_find(r, nodes[i][0].hash, names[i], nodes[i][0].name_len) != want) abort();
        live += state[i] >= 0;
    }
    if (phamt_count(r) != live) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) setup();
    signed char state[NAMES], prev_state[NAMES];
    memset(state, -1, sizeof state);
    memcpy(prev_state, state, sizeof state);
    const struct phamt *root = NULL, *prev = NULL;
    const struct pbt_node *broot = NULL, *bprev = NULL;
    /* txn[k] retired nodes reachable from prev's predecessors only */
    struct phamt_txn cur = {.gen = 1}, last = {0};
    for (size_t i = 0; i + 1 < size + 1; i += 2) {
        bool end = i + 1 >= size || data[i] == 0x7f;
        if (!end) {
            int name = data[i + 1] % NAMES;
            if (data[i] & 0x80) {
                const struct zone_node *rm;
                bool oom;
                root = phamt_del(&cur, root, nodes[name][0].hash, names[name],
                                 nodes[name][0].name_len, &rm, &oom);
                if (oom || rm != (state[name] < 0 ? NULL : &nodes[name][state[name]])) abort();
                broot = pbt_del(&cur, broot, names[name], &rm, &oom);
                if (oom || rm != (state[name] < 0 ? NULL : &nodes[name][state[name]])) abort();
                state[name] = -1;
            } else {
                int k = data[i] & 1;
                const struct zone_node *rep;
                root = phamt_put(&cur, root, &nodes[name][k], &rep);
                if (!root || rep != (state[name] < 0 ? NULL : &nodes[name][state[name]])) abort();
                broot = pbt_put(&cur, broot, &nodes[name][k], &rep);
                if (!broot || rep != (state[name] < 0 ? NULL : &nodes[name][state[name]])) abort();
                state[name] = (signed char)k;
            }
            continue;
        }
        /* end of a transaction: check the new root and the kept older one */
        check(root, broot, state);
        if (prev) check(prev, bprev, prev_state);
        /* the root before prev is gone: what last retired can be freed */
        phamt_retired_free(&last);
        free(last.retired);
        last = cur;
        cur = (struct phamt_txn){.gen = last.gen + 1};
        prev = root;
        bprev = broot;
        memcpy(prev_state, state, sizeof state);
    }
    phamt_retired_free(&last);
    free(last.retired);
    phamt_retired_free(&cur);
    free(cur.retired);
    phamt_free_all(root);
    pbt_free_all(broot);
    return 0;
}
