/* phamt_build (issue 12: loading 1,000,000 records): the bulk build of a
 * full load against one phamt_put per node as the oracle. For sets of
 * names of several sizes, some sharing a full 32-bit hash (collision
 * nodes) and some sharing all but their top hash bits (the longest chains
 * of single-child nodes), the built trie must find every name (the node
 * given, not another of the same name), find no name left out, have as
 * many trie nodes as the put-built one (the same shape: a leaf as high as
 * its hash prefix is unique), and stay a valid base for later puts and
 * deletes (path copying leaves the built root unchanged). ASan checks that
 * freeing it frees exactly what it made. */
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

#define MAX 5000

static struct zone_node nodes[MAX];
static uint8_t names[MAX][32];

/* Name i, with a hash chosen by kind: its own, that of name 0 (every 61st:
 * full collisions), or root slot 7 with only the top 5 bits differing
 * (every 53rd: chains down to the last level). */
static void make_names(int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = phamt_test_name(names[i], 'n', i, "\4test", 6);
        uint32_t h = dns_name_hash(names[i], len);
        if (i % 61 == 1) h = dns_name_hash(names[0], nodes[0].name_len);
        if (i % 53 == 2) h = 7u | (uint32_t)(i / 53 % 32) << 27;
        nodes[i] = (struct zone_node){.name = names[i], .name_len = (uint8_t)len, .hash = h};
    }
}

static const struct zone_node *look(const struct phamt *r, int i)
{
    return phamt_find(r, nodes[i].hash, names[i], nodes[i].name_len);
}

static void build_size(int n)
{
    make_names(n + 1); /* name n is left out */
    const struct zone_node *list[MAX];
    for (int i = 0; i < n; i++)
        list[i] = &nodes[i];
    struct phamt_txn bt = {.gen = 1}, pt = {.gen = 2};
    bool oom = true;
    const struct phamt *built = phamt_build(&bt, list, (size_t)n, &oom);
    assert_false(oom);
    assert_int_equal(bt.nretired, 0);
    const struct phamt *put = NULL;
    for (int i = 0; i < n; i++) {
        const struct zone_node *rep;
        put = phamt_put(&pt, put, &nodes[i], &rep);
        assert_non_null(put);
    }
    if (n == 0) {
        assert_null(built);
        return;
    }
    assert_int_equal(phamt_count(built), (size_t)n);
    assert_int_equal(phamt_node_count(built), phamt_node_count(put));
    for (int i = 0; i < n; i++)
        if (look(built, i) != &nodes[i]) fail_msg("size %d: name %d not found", n, i);
    assert_null(look(built, n));

    /* a later transaction changes it: the built root answers as before */
    struct phamt_txn ct = {.gen = 3};
    static struct zone_node again[MAX];
    const struct phamt *r = built;
    for (int i = 0; i < n; i += 3) {
        const struct zone_node *rep;
        again[i] = nodes[i];
        r = phamt_put(&ct, r, &again[i], &rep);
        assert_ptr_equal(rep, &nodes[i]);
    }
    for (int i = 1; i < n; i += 3) {
        const struct zone_node *rm;
        bool o;
        r = phamt_del(&ct, r, nodes[i].hash, names[i], nodes[i].name_len, &rm, &o);
        assert_false(o);
        assert_ptr_equal(rm, &nodes[i]);
    }
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(look(built, i), &nodes[i]);
        const struct zone_node *want = i % 3 == 0 ? &again[i] : i % 3 == 1 ? NULL : &nodes[i];
        if (look(r, i) != want) fail_msg("size %d: name %d wrong after changes", n, i);
    }
    /* the changed trie shares the built one's untouched nodes: free the
     * built trie's replaced nodes (ct's retire list), then the rest */
    phamt_retired_free(&ct);
    free(ct.retired);
    phamt_free_all(r);
    phamt_free_all(put);
    free(pt.retired);
    free(bt.retired);
}

static void sizes(void **unused)
{
    (void)unused;
    const int n[] = {0, 1, 2, 3, 64, 1000, 4096, MAX - 1};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        build_size(n[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(sizes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
