/* pbtree (issue 12): the persistent B+tree against a sorted array as the
 * oracle. Random puts and deletes of multi-label names (canonical order is
 * not byte order: labels compare from the root, a parent sorts before its
 * children, "*" and "0" before letters), over many transactions; after each, a walk of the new root
 * and of the kept older roots must list exactly the names present then, in dns_name_cmp order, and
 * a seek must land on the first name >= the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/pbtree.h"

#define UNIVERSE 2500
#define KEPT 3

static struct zone_node nodes[UNIVERSE][2];
static uint8_t names[UNIVERSE][64];
static int order[UNIVERSE]; /* universe indices in canonical order */

static int cmp_idx(const void *a, const void *b)
{
    return dns_name_cmp(names[*(const int *)a], names[*(const int *)b]);
}

static void make_universe(void)
{
    static const char *labels[] = {"a", "b", "*", "www", "ab", "z", "0", "mail", "x-1"};
    srand(5);
    for (int i = 0; i < UNIVERSE; i++) {
        for (;;) {
            uint8_t *p = names[i];
            int nl = 1 + rand() % 4;
            if (i < 9) nl = 1; /* the single labels all present */
            for (int k = 0; k < nl; k++) {
                const char *l = i < 9 ? labels[i] : labels[rand() % 9];
                *p = (uint8_t)strlen(l);
                memcpy(p + 1, l, *p);
                p += 1 + *p;
            }
            memcpy(p, "\7example\3org", 13);
            bool dup = false;
            for (int j = 0; j < i && !dup; j++)
                dup = dns_name_cmp(names[j], names[i]) == 0;
            if (!dup) break;
        }
        for (int k = 0; k < 2; k++)
            nodes[i][k] =
                (struct zone_node){.name = names[i], .name_len = (uint8_t)dns_name_len(names[i])};
        order[i] = i;
    }
    qsort(order, UNIVERSE, sizeof order[0], cmp_idx);
}

static void check(const struct pbt_node *r, const signed char *state)
{
    struct pbt_iter it;
    pbt_seek(&it, r, NULL);
    for (int o = 0; o < UNIVERSE; o++) {
        int i = order[o];
        if (state[i] < 0) continue;
        const struct zone_node *got = pbt_next(&it);
        if (got != &nodes[i][state[i]]) fail_msg("walk: position of name %d wrong", i);
    }
    assert_null(pbt_next(&it));
    /* seeks: to a present or absent name, the first present one >= it */
    for (int s = 0; s < 50; s++) {
        int o = rand() % UNIVERSE, w = o;
        while (w < UNIVERSE && state[order[w]] < 0)
            w++;
        pbt_seek(&it, r, names[order[o]]);
        const struct zone_node *got = pbt_next(&it);
        if (got != (w < UNIVERSE ? &nodes[order[w]][state[order[w]]] : NULL))
            fail_msg("seek to name %d wrong", order[o]);
    }
}

static void random_changes(void **unused)
{
    (void)unused;
    make_universe();
    static signed char state[UNIVERSE], kept_state[KEPT][UNIVERSE];
    memset(state, -1, sizeof state);
    const struct pbt_node *root = NULL, *kept[KEPT] = {0};
    struct phamt_txn txns[KEPT + 1];
    memset(txns, 0, sizeof txns);
    for (int round = 0; round < 300; round++) {
        struct phamt_txn *t = &txns[round % (KEPT + 1)];
        phamt_retired_free(t); /* its root is KEPT+1 transactions old */
        t->gen = (uint32_t)round + 1;
        int nch = round < 4 ? 900 : 1 + rand() % 30;
        for (int c = 0; c < nch; c++) {
            int i = rand() % UNIVERSE;
            if (rand() % 3 == 0 && round >= 4) {
                const struct zone_node *rm;
                bool oom;
                root = pbt_del(t, root, names[i], &rm, &oom);
                assert_false(oom);
                assert_ptr_equal(rm, state[i] < 0 ? NULL : &nodes[i][state[i]]);
                state[i] = -1;
            } else {
                int k = rand() % 2;
                const struct zone_node *rep;
                root = pbt_put(t, root, &nodes[i][k], &rep);
                assert_non_null(root);
                assert_ptr_equal(rep, state[i] < 0 ? NULL : &nodes[i][state[i]]);
                state[i] = (signed char)k;
            }
        }
        check(root, state);
        for (int k = 0; k < KEPT; k++)
            if (kept[k]) check(kept[k], kept_state[k]);
        memmove(kept + 1, kept, (KEPT - 1) * sizeof kept[0]);
        memmove(kept_state[1], kept_state[0], (KEPT - 1) * sizeof kept_state[0]);
        kept[0] = root;
        memcpy(kept_state[0], state, sizeof state);
    }
    /* empty it completely, then free */
    struct phamt_txn *t = &txns[0];
    for (int k = 0; k <= KEPT; k++)
        phamt_retired_free(&txns[k]);
    t->gen = 100000;
    for (int i = 0; i < UNIVERSE; i++) {
        const struct zone_node *rm;
        bool oom;
        root = pbt_del(t, root, names[i], &rm, &oom);
        assert_false(oom);
        state[i] = -1;
    }
    assert_null(root);
    check(root, state);
    for (int k = 0; k <= KEPT; k++) {
        phamt_retired_free(&txns[k]);
        free(txns[k].retired);
    }
}

/* pbt_build_sorted (loading) for sizes around the fanout's powers, then
 * changes on top of the built tree (splits of full leaves, deletions). */
static void build_sorted(void **unused)
{
    (void)unused;
    make_universe();
    static signed char state[UNIVERSE];
    static const struct zone_node *sorted[UNIVERSE];
    const int sizes[] = {0, 1, 2, 31, 32, 33, 64, 1023, 1024, 1025, UNIVERSE};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        int n = sizes[z] < UNIVERSE ? sizes[z] : UNIVERSE;
        memset(state, -1, sizeof state);
        for (int o = 0; o < n; o++) { /* every other name of the order, then the rest */
            int i = order[(o * 2) % UNIVERSE + ((o * 2) / UNIVERSE)];
            state[i] = 0;
        }
        int k = 0;
        for (int o = 0; o < UNIVERSE; o++)
            if (state[order[o]] == 0) sorted[k++] = &nodes[order[o]][0];
        assert_int_equal(k, n);
        struct phamt_txn t = {.gen = 1};
        bool oom;
        const struct pbt_node *root = pbt_build_sorted(&t, sorted, (size_t)n, &oom);
        assert_false(oom);
        assert_int_equal(root == NULL, n == 0);
        check(root, state);
        struct phamt_txn t2 = {.gen = 2};
        for (int c = 0; c < 200; c++) {
            int i = rand() % UNIVERSE;
            const struct zone_node *x;
            if (rand() % 2) {
                root = pbt_put(&t2, root, &nodes[i][1], &x);
                state[i] = 1;
            } else {
                root = pbt_del(&t2, root, names[i], &x, &oom);
                state[i] = -1;
            }
        }
        check(root, state);
        phamt_retired_free(&t2);
        free(t2.retired);
        pbt_free_all(root);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_changes),
        cmocka_unit_test(build_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
