/* A whole zone's layout (issue 14: a fresh secondary's full transfer).
 *
 * The builder's in-order mode (dns/zbuild_int.h): names that arrive in
 * canonical order skip the name table; one out of order, or a lookup, must
 * bring every earlier name into the table, so a name that comes back later
 * (in order or not) merges with its node instead of making a second one,
 * and the apex is found wherever it came.
 *
 * zslab (dns/zslab.h): the slabs a bulk load carves its zone nodes from. A
 * slab must be unmapped exactly when its last object is freed and the
 * loader has let go of it, never before (a node still in use would then
 * point into unmapped memory: the test reads every live object, so that is
 * a crash) and never after (zslab_count must reach 0: nothing leaks).
 * Directly, freeing objects spread over several slabs in different orders,
 * and through the zone store: a 20,000-name zone loaded (slabs), versions
 * built from it by updates that replace nodes (malloc'd ones among slab
 * ones), the versions dropped in different orders, every version read
 * until it is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "dns/wire.h"
#include "dns/zbuild_int.h"
#include "dns/zone_loader.h"
#include "dns/zslab.h"
#include "dns/zstore.h"

/* ---- the allocator alone ---- */

#define NOBJ 60000 /* about 3.5 slabs of 120-byte objects */

static uint8_t *obj[NOBJ];

static void fill(int n)
{
    struct zslab *cur = NULL;
    for (int i = 0; i < n; i++) {
        size_t size = 8 + (size_t)(i % 29) * 8; /* 8..232 bytes */
        obj[i] = zslab_alloc(&cur, size);
        assert_non_null(obj[i]);
        assert_int_equal((uintptr_t)obj[i] % 8, 0);
        memset(obj[i], (int)(i & 0xff), size);
    }
    zslab_release(cur); /* the loader lets go: only the objects hold slabs now */
}

static void check_live(int n, const char *freed)
{
    for (int i = 0; i < n; i++) {
        if (freed[i]) continue;
        size_t size = 8 + (size_t)(i % 29) * 8;
        for (size_t k = 0; k < size; k++)
            if (obj[i][k] != (uint8_t)(i & 0xff)) fail_msg("object %d overwritten", i);
    }
}

/* order: 0 forward, 1 backward, 2 every third first, 3 pseudo-random */
static void free_in_order(int order)
{
    size_t before = zslab_count();
    fill(NOBJ);
    size_t slabs = zslab_count() - before;
    assert_true(slabs >= 3);
    char *freed = calloc(NOBJ, 1);
    int *perm = malloc(NOBJ * sizeof *perm);
    for (int i = 0; i < NOBJ; i++)
        perm[i] = i;
    if (order == 1)
        for (int i = 0; i < NOBJ; i++)
            perm[i] = NOBJ - 1 - i;
    if (order == 2) {
        int k = 0;
        for (int r = 0; r < 3; r++)
            for (int i = r; i < NOBJ; i += 3)
                perm[k++] = i;
    }
    if (order == 3) {
        uint32_t s = 12345;
        for (int i = NOBJ - 1; i > 0; i--) {
            s = s * 1103515245u + 12345u;
            int j = (int)((s >> 8) % (uint32_t)(i + 1));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    for (int i = 0; i < NOBJ; i++) {
        zslab_free(obj[perm[i]]);
        freed[perm[i]] = 1;
        if (i % 5000 == 4999) check_live(NOBJ, freed);         /* the rest still readable */
        if (i < NOBJ - 1) assert_true(zslab_count() > before); /* someone is still live */
    }
    assert_int_equal(zslab_count(), before);
    free(perm);
    free(freed);
}

static void test_free_orders(void **state)
{
    (void)state;
    for (int o = 0; o < 4; o++)
        free_in_order(o);
    assert_int_equal(zslab_count(), 0);
}

/* A slab held by the loader stays while every object in it is freed; an
 * object too big for a slab is refused (the caller mallocs it). */
static void test_loader_hold(void **state)
{
    (void)state;
    struct zslab *cur = NULL;
    assert_null(zslab_alloc(&cur, ZSLAB_MAX_OBJECT + 1));
    assert_null(cur);
    void *a = zslab_alloc(&cur, 100), *b = zslab_alloc(&cur, ZSLAB_MAX_OBJECT);
    assert_non_null(a);
    assert_non_null(b);
    zslab_free(a);
    zslab_free(b);
    assert_int_equal(zslab_count(), 1);
    void *c = zslab_alloc(&cur, 64); /* the same slab, still usable */
    memset(c, 1, 64);
    zslab_release(cur);
    assert_int_equal(zslab_count(), 1);
    zslab_free(c);
    assert_int_equal(zslab_count(), 0);
}

/* ---- through the zone store ---- */

#define NAMES 20000

static size_t name_of(uint8_t *out, int i)
{
    char t[16];
    int l = snprintf(t, sizeof t, "h%06d", i);
    out[0] = (uint8_t)l;
    memcpy(out + 1, t, (size_t)l);
    memcpy(out + 1 + l, "\3big\4test", 10);
    return (size_t)l + 11;
}

static const uint8_t apex[] = "\3big\4test";

/* The apex SOA's RDATA (ns1, hm, this serial, timers 0); returns its length. */
static uint16_t soa_rdata(uint8_t soa[64], uint8_t serial)
{
    memcpy(soa, "\3ns1\3big\4test\0\2hm\3big\4test", 27); /* with both root labels */
    memset(soa + 27, 0, 20);
    soa[30] = serial;
    return 47;
}

static struct zone_version *load(void)
{
    struct zone_loader *l = zone_loader_new(apex);
    assert_non_null(l);
    struct err e;
    uint8_t soa[64];
    assert_int_equal(zone_loader_add(l, apex, DNS_T_SOA, 300, soa, soa_rdata(soa, 1), &e), 1);
    for (int i = 0; i < NAMES; i++) {
        uint8_t n[64], a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        name_of(n, i);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, a, 4, &e), 1);
    }
    struct zone_version *v = NULL;
    assert_int_equal(zone_loader_freeze(l, 2, &v, &e), 0);
    zone_loader_free(l);
    return v;
}

/* Every name answers with the address it was last given (gen: by update
 * k, names i with i % 7 == k % 7 got 11.k.x.y). */
static void check(const struct zone_version *v, int upto)
{
    for (int i = 0; i < NAMES; i += 97) {
        uint8_t n[64];
        size_t len = name_of(n, i);
        const struct zone_node *zn = zone_version_find(v, n, len);
        assert_non_null(zn);
        const struct dns_rrset *s = node_rrset(zn, DNS_T_A);
        assert_non_null(s);
        const uint8_t *rd = rr_rdata(rrset_first(s));
        int k = -1;
        for (int u = 0; u < upto; u++)
            if (i % 7 == u % 7) k = u;
        assert_int_equal(rd[0], k < 0 ? 10 : 11);
        if (k >= 0) assert_int_equal(rd[1], k);
    }
}

/* Version u + 1 from version u: names i % 7 == u % 7 (a sample of them)
 * get a new address, i.e. new malloc'd nodes replacing slab ones. */
static struct zone_version *update(const struct zone_version *old, int u)
{
    enum { PER = 300 };
    struct dns_change ch[2 * PER];
    uint8_t names[PER][64], rd[PER][4];
    size_t n = 0;
    int k = 0;
    for (int i = 0; i < NAMES && k < PER; i += 97)
        if (i % 7 == u % 7) {
            name_of(names[k], i);
            memcpy(rd[k], (uint8_t[]){11, (uint8_t)u, (uint8_t)(i >> 8), (uint8_t)i}, 4);
            ch[n++] = (struct dns_change){DNS_CHANGE_DEL_RRSET, names[k], DNS_T_A, 0, 0, NULL};
            ch[n++] = (struct dns_change){DNS_CHANGE_ADD, names[k], DNS_T_A, 300, 4, rd[k]};
            k++;
        }
    struct zone_version *v = NULL;
    struct err e;
    assert_int_equal(zone_version_apply(old, ch, n, old->serial + 1, &v, &e), 0);
    return v;
}

static void versions_dropped(int order)
{
    enum { NV = 6 };
    struct zone_version *v[NV];
    v[0] = load();
    assert_true(zslab_count() >= 1);
    for (int u = 1; u < NV; u++)
        v[u] = update(v[u - 1], u - 1);
    for (int u = 0; u < NV; u++)
        check(v[u], u);
    /* 0: oldest first (as a server does), 1: newest first, 2: middle ones,
     * then the ends */
    int seq[3][NV] = {{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {2, 3, 0, 5, 1, 4}};
    bool gone[NV] = {0};
    for (int s = 0; s < NV; s++) {
        zone_version_free(v[seq[order][s]]);
        gone[seq[order][s]] = true;
        for (int u = 0; u < NV; u++)
            if (!gone[u]) check(v[u], u); /* its slab nodes still there */
        if (s < NV - 1) assert_true(zslab_count() >= 1);
    }
    assert_int_equal(zn_live(), 0);
    assert_int_equal(zslab_count(), 0);
}

static void test_versions(void **state)
{
    (void)state;
    for (int o = 0; o < 3; o++)
        versions_dropped(o);
}

/* ---- the builder's in-order mode ---- */

static int count_a(const struct zone_version *v, int i)
{
    uint8_t n[64];
    size_t len = name_of(n, i);
    const struct zone_node *zn = zone_version_find(v, n, len);
    if (!zn) return -1;
    const struct dns_rrset *s = node_rrset(zn, DNS_T_A);
    return s ? s->count : 0;
}

/* how: 0 the apex first, all in order; 1 the apex last (out of order at
 * once); 2 in order, then names 3 and 9000 again (a new RR and a duplicate)
 * and name 5 again right after name 4's (the last-node shortcut); 3 every
 * name in descending order, the apex last (a ceon primary's order) */
static void build_in(int how)
{
    struct zone_loader *l = zone_loader_new(apex);
    struct err e;
    uint8_t soa[64];
    uint16_t soa_len = soa_rdata(soa, 0);
    if (how != 1 && how != 3)
        assert_int_equal(zone_loader_add(l, apex, DNS_T_SOA, 300, soa, soa_len, &e), 1);
    for (int k = 0; k < NAMES; k++) {
        int i = how == 3 ? NAMES - 1 - k : k;
        uint8_t n[64], a[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
        name_of(n, i);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, a, 4, &e), 1);
    }
    if (how == 1 || how == 3)
        assert_int_equal(zone_loader_add(l, apex, DNS_T_SOA, 300, soa, soa_len, &e), 1);
    if (how == 2) {
        uint8_t n[64], a[4] = {10, 9, 9, 9}, dup[4] = {10, 0, 9000 >> 8, 9000 & 0xff};
        name_of(n, 3);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, a, 4, &e), 1);
        name_of(n, 9000);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, dup, 4, &e), 0);
        name_of(n, 4);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, a, 4, &e), 1);
        name_of(n, 5);
        assert_int_equal(zone_loader_add(l, n, DNS_T_A, 300, a, 4, &e), 1);
    }
    struct zone_version *v = NULL;
    assert_int_equal(zone_loader_freeze(l, 2, &v, &e), 0);
    zone_loader_free(l);
    assert_int_equal(v->nnodes, NAMES + 1);
    assert_int_equal(count_a(v, 0), 1);
    assert_int_equal(count_a(v, 3), how == 2 ? 2 : 1);
    assert_int_equal(count_a(v, 4), how == 2 ? 2 : 1);
    assert_int_equal(count_a(v, 5), how == 2 ? 2 : 1);
    assert_int_equal(count_a(v, 9000), 1);
    assert_int_equal(count_a(v, NAMES - 1), 1);
    /* the canonical walk sees each name once, in order */
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    const struct zone_node *prev = NULL;
    size_t seen = 0;
    for (const struct zone_node *zn; (zn = zone_cursor_next(&c)); prev = zn, seen++)
        if (prev) assert_true(dns_name_cmp(prev->name, zn->name) < 0);
    assert_int_equal(seen, NAMES + 1);
    zone_version_free(v);
}

/* The mode itself: kept while the order holds either way, left at the
 * first name out of order (then every name is in the table). */
static void test_mode(void **state)
{
    (void)state;
    struct err e;
    uint8_t a[4] = {10, 0, 0, 1};
    for (int dir = -1; dir <= 1; dir += 2) {
        struct zbuild *b = zb_new(apex);
        for (int k = 0; k < 100; k++) {
            uint8_t n[64];
            name_of(n, dir > 0 ? k : 99 - k);
            assert_int_equal(zb_add(b, n, DNS_T_A, 300, a, 4, false, 0, &e), 1);
        }
        assert_true(b->in_order);
        assert_int_equal(b->dir, dir);
        assert_int_equal(b->count, 0); /* nothing in the table */
        /* the first name again (the apex SOA after everything else, as a
         * ceon primary sends it) keeps the mode */
        uint8_t first[64], a2[4] = {10, 0, 0, 2};
        name_of(first, dir > 0 ? 0 : 99);
        assert_int_equal(zb_add(b, first, DNS_T_A, 300, a2, 4, false, 0, &e), 1);
        assert_true(b->in_order);
        assert_int_equal(b->nall, 100);
        uint8_t n[64];
        name_of(n, 50); /* an old name again: out of order either way */
        assert_int_equal(zb_add(b, n, DNS_T_A, 300, a, 4, false, 0, &e), 0);
        assert_false(b->in_order);
        assert_int_equal(b->count, 100);
        assert_int_equal(b->nall, 100);
        zb_free(b);
    }
}

static void test_in_order(void **state)
{
    (void)state;
    for (int how = 0; how < 4; how++)
        build_in(how);
    assert_int_equal(zn_live(), 0);
    assert_int_equal(zslab_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_orders), cmocka_unit_test(test_loader_hold),
        cmocka_unit_test(test_versions),    cmocka_unit_test(test_mode),
        cmocka_unit_test(test_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
