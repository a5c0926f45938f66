/* phamt (issue 12): the persistent trie against a plain array as the
 * oracle. Random puts and deletes over many transactions; after each, every
 * name of the universe is looked up in the new root and in a few kept older
 * roots, which must still answer as they did when they were made. Names are
 * chosen so that some share a full 32-bit hash (the collision nodes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/phamt.h"
#include "phamt_test_names.h"

#define UNIVERSE 3000
#define KEPT 4

static struct zone_node nodes[UNIVERSE][2]; /* two node objects per name: replacing is visible */
static uint8_t names[UNIVERSE][32];

static uint32_t hash_of(int i, size_t len)
{
    /* every 97th name gets the hash of name 0: full-hash collisions */
    return i % 97 == 5 ? dns_name_hash(names[0], nodes[0][0].name_len)
                       : dns_name_hash(names[i], len);
}

static void make_universe(void)
{
    for (int i = 0; i < UNIVERSE; i++) {
        size_t len = phamt_test_name(names[i], 'h', i, "\7example\3org", 13);
        for (int k = 0; k < 2; k++)
            nodes[i][k] = (struct zone_node){.name = names[i], .name_len = (uint8_t)len};
    }
    for (int i = 0; i < UNIVERSE; i++)
        for (int k = 0; k < 2; k++)
            nodes[i][k].hash = hash_of(i, nodes[i][k].name_len);
}

static const struct zone_node *look(const struct phamt *r, int i)
{
    return phamt_find(r, nodes[i][0].hash, names[i], nodes[i][0].name_len);
}

static void check(const struct phamt *r, const signed char *state)
{
    for (int i = 0; i < UNIVERSE; i++) {
        const struct zone_node *want = state[i] < 0 ? NULL : &nodes[i][state[i]];
        if (look(r, i) != want) fail_msg("name %d: wrong node (state %d)", i, state[i]);
    }
}

static void random_changes(void **unused)
{
    (void)unused;
    make_universe();
    srand(12);
    static signed char state[UNIVERSE], kept_state[KEPT][UNIVERSE];
    memset(state, -1, sizeof state);
    const struct phamt *root = NULL, *kept[KEPT] = {0};
    struct phamt_txn txns[KEPT + 1];
    memset(txns, 0, sizeof txns);
    size_t count = 0;
    for (int round = 0; round < 400; round++) {
        struct phamt_txn *t = &txns[round % (KEPT + 1)];
        phamt_retired_free(t); /* its root is no longer kept: see below */
        t->gen = (uint32_t)round + 1;
        int nch = round < 5 ? 600 : 1 + rand() % 20;
        for (int c = 0; c < nch; c++) {
            int i = rand() % UNIVERSE;
            if (rand() % 3 == 0) {
                const struct zone_node *rm;
                bool oom;
                root =
                    phamt_del(t, root, nodes[i][0].hash, names[i], nodes[i][0].name_len, &rm, &oom);
                assert_false(oom);
                assert_ptr_equal(rm, state[i] < 0 ? NULL : &nodes[i][state[i]]);
                if (rm) count--;
                state[i] = -1;
            } else {
                int k = rand() % 2;
                const struct zone_node *rep;
                root = phamt_put(t, root, &nodes[i][k], &rep);
                assert_non_null(root);
                assert_ptr_equal(rep, state[i] < 0 ? NULL : &nodes[i][state[i]]);
                if (!rep) count++;
                state[i] = (signed char)k;
            }
        }
        check(root, state);
        /* the older roots are unchanged by this transaction */
        for (int k = 0; k < KEPT; k++)
            if (kept[k]) check(kept[k], kept_state[k]);
        /* keep this root; the one it pushes out is KEPT+1 transactions old,
         * so the retire list of the transaction after it may be freed next
         * time its slot comes round */
        memmove(kept + 1, kept, (KEPT - 1) * sizeof kept[0]);
        memmove(kept_state[1], kept_state[0], (KEPT - 1) * sizeof kept_state[0]);
        kept[0] = root;
        memcpy(kept_state[0], state, sizeof state);
    }
    size_t live = 0;
    for (int i = 0; i < UNIVERSE; i++)
        live += state[i] >= 0;
    assert_int_equal(live, count);
    for (int k = 0; k <= KEPT; k++) {
        phamt_retired_free(&txns[k]);
        free(txns[k].retired);
    }
    assert_true(phamt_node_count(root) > 0);
    phamt_free_all(root);
}

static void empty_and_single(void **unused)
{
    (void)unused;
    make_universe();
    struct phamt_txn t = {.gen = 1};
    assert_null(look(NULL, 1));
    const struct zone_node *rep, *rm;
    bool oom;
    const struct phamt *r = phamt_put(&t, NULL, &nodes[1][0], &rep);
    assert_ptr_equal(look(r, 1), &nodes[1][0]);
    assert_null(look(r, 2));
    const struct phamt *r2 =
        phamt_del(&t, r, nodes[2][0].hash, names[2], nodes[2][0].name_len, &rm, &oom);
    assert_ptr_equal(r2, r); /* absent: unchanged */
    assert_null(rm);
    r2 = phamt_del(&t, r, nodes[1][0].hash, names[1], nodes[1][0].name_len, &rm, &oom);
    assert_ptr_equal(r2, r); /* made by t, so changed in place */
    assert_ptr_equal(rm, &nodes[1][0]);
    assert_int_equal(phamt_count(r2), 0);
    assert_null(look(r2, 1));
    assert_int_equal(t.nretired, 0); /* nothing older than t was replaced */
    /* a later transaction copies the root and retires the old one */
    struct phamt_txn t2 = {.gen = 2};
    const struct phamt *r3 = phamt_put(&t2, r2, &nodes[3][1], &rep);
    assert_ptr_not_equal(r3, r2);
    assert_int_equal(t2.nretired, 1);
    assert_null(look(r2, 3));
    assert_ptr_equal(look(r3, 3), &nodes[3][1]);
    phamt_retired_free(&t2);
    free(t2.retired);
    phamt_free_all(r3);
    free(t.retired);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_changes),
        cmocka_unit_test(empty_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
