/* libFuzzer target: the persistent hash trie of the zone store (dns/phamt.h,
 * issue 12) on random change sets.
 *
 * Input: a list of 2-byte changes: byte 0 bit 7 set: delete, else put the
 * node variant (bit 0) of the name; byte 1: the name (one of 64; names 48..63
 * share one full 32-bit hash, so they collide at every level). A byte 0 of
 * 0x7f ends the current transaction (the next change starts a new one).
 * After every transaction the new root must answer every name as a plain
 * array does, and the root of the transaction before it must still answer
 * as it did then (persistence); retired nodes are freed once no kept root
 * can reach them, so ASan sees any node freed too early. */
#include "dns/name.h"
#include "dns/phamt.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES 64

static struct zone_node nodes[NAMES][2];
static uint8_t names[NAMES][24];
static int ready;

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
    }
    ready = 1;
}

static void check(const struct phamt *r, const signed char *state)
{
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
                state[name] = -1;
            } else {
                int k = data[i] & 1;
                const struct zone_node *rep;
                root = phamt_put(&cur, root, &nodes[name][k], &rep);
                if (!root || rep != (state[name] < 0 ? NULL : &nodes[name][state[name]])) abort();
                state[name] = (signed char)k;
            }
            continue;
        }
        /* end of a transaction: check the new root and the kept older one */
        check(root, state);
        if (prev) check(prev, prev_state);
        /* the root before prev is gone: what last retired can be freed */
        phamt_retired_free(&last);
        free(last.retired);
        last = cur;
        cur = (struct phamt_txn){.gen = last.gen + 1};
        prev = root;
        memcpy(prev_state, state, sizeof state);
    }
    phamt_retired_free(&last);
    free(last.retired);
    phamt_retired_free(&cur);
    free(cur.retired);
    phamt_free_all(root);
    return 0;
}
