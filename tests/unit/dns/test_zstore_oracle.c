/* The shared-structure store against the old one as an oracle (issue 12).
 *
 * Random change sets over a small name space (so that cuts, DNAMEs,
 * wildcards, empty non-terminals and occlusion come and go often) are
 * applied with zone_version_apply, which copies only the changed paths.
 * After each, the new version is compared with the same records laid out
 * from scratch by the old algorithm (zb_check_version: one pass of the
 * canonical-order emitter that built every version before, flags computed
 * parents first): every node, its flags, every RRset byte for byte, every
 * name looked up, parents by name. The versions kept from before are
 * compared with their own rebuilds again (persistence: nothing they share
 * changed), and versions are freed in every order the server uses:
 * the older first (publish), an intermediate one first (the journal's batch),
 * a discarded tip, a discarded chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rr.h"
#include "dns/wire.h"
#include "dns/zbuild.h"
#include "dns/zone.h"
#include "dns/zstore.h" /* zn_live */
#include "util/buf.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const uint8_t apex[] = "\1x"; /* wire name "x.", its terminating 0 the string's */
#define APEX_LEN 3

/* A random name at or below x.: 0-3 labels from a, b, *, c. */
static size_t rand_name(uint8_t *out)
{
    static const char *lab[] = {"a", "b", "*", "c"};
    int n = (int)rnd(4);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *l = lab[rnd(4)];
        out[o++] = (uint8_t)strlen(l);
        memcpy(out + o, l, strlen(l));
        o += strlen(l);
    }
    memcpy(out + o, apex, APEX_LEN);
    return o + APEX_LEN;
}

static void rand_change(struct dns_change *c, uint8_t *owner, uint8_t *rd)
{
    static const uint16_t types[] = {DNS_T_A,     DNS_T_A,     DNS_T_NS,
                                     DNS_T_DNAME, DNS_T_CNAME, DNS_T_TXT};
    rand_name(owner);
    uint16_t t = types[rnd(6)];
    uint16_t len;
    if (t == DNS_T_A) {
        memcpy(rd, "\300\0\2", 3);
        rd[3] = (uint8_t)rnd(3);
        len = 4;
    } else if (t == DNS_T_TXT) {
        rd[0] = 1;
        rd[1] = (uint8_t)('a' + rnd(3));
        len = 2;
    } else {
        len = (uint16_t)rand_name(rd);
    }
    uint32_t op = rnd(10);
    *c = (struct dns_change){op < 6   ? DNS_CHANGE_ADD
                             : op < 8 ? DNS_CHANGE_DEL
                             : op < 9 ? DNS_CHANGE_DEL_RRSET
                                      : DNS_CHANGE_DEL_NAME,
                             owner,
                             t,
                             60 + rnd(3),
                             len,
                             rd};
}

/* How often each flag, and empty non-terminals, were seen (coverage). */
static unsigned long seen_flag[8], seen_ent;

static void same(const struct zone_version *v, const struct zone_version *r)
{
    assert_int_equal(v->nnodes, r->nnodes);
    assert_int_equal(v->nrecords, r->nrecords);
    assert_memory_equal(v->apex, r->apex, APEX_LEN);
    struct zone_cursor cv, cr;
    zone_cursor_start(&cv, v);
    zone_cursor_start(&cr, r);
    size_t n = 0;
    for (const struct zone_node *a; (a = zone_cursor_next(&cv)); n++) {
        const struct zone_node *b = zone_cursor_next(&cr);
        assert_non_null(b);
        assert_int_equal(a->name_len, b->name_len);
        assert_memory_equal(a->name, b->name, a->name_len);
        if (a->flags != b->flags) {
            char t[DNS_NAME_TEXT_MAX];
            dns_name_to_text(a->name, t, sizeof t);
            fail_msg("%s: flags %#x, from scratch %#x", t, a->flags, b->flags);
        }
        for (int f = 0; f < 8; f++)
            seen_flag[f] += a->flags >> f & 1;
        seen_ent += a->nrrsets == 0;
        assert_int_equal(a->labels, b->labels);
        assert_int_equal(a->hash, b->hash);
        assert_ptr_equal(zone_version_find(v, a->name, a->name_len), a);
        const struct zone_node *pa = zone_version_parent(v, a), *pb = zone_version_parent(r, b);
        assert_int_equal(!pa, !pb);
        if (pa) assert_memory_equal(pa->name, pb->name, pa->name_len);
        assert_int_equal(a->nrrsets, b->nrrsets);
        for (uint16_t k = 0; k < a->nrrsets; k++) {
            const struct dns_rrset *x = &a->rrsets[k], *y = &b->rrsets[k];
            assert_int_equal(x->type, y->type);
            assert_int_equal(x->ttl, y->ttl);
            assert_int_equal(x->count, y->count);
            assert_int_equal(x->rdata_size, y->rdata_size);
            assert_memory_equal(x->rdata, y->rdata, x->rdata_size);
        }
    }
    assert_null(zone_cursor_next(&cr));
    assert_int_equal(n, v->nnodes);
    assert_ptr_equal(zone_version_apex_node(v), zone_version_find(v, v->apex, APEX_LEN));
}

struct kept {
    struct zone_version *v, *rebuilt;
};

static void check_and_keep(struct zone_version *v, struct kept *k)
{
    struct err e;
    struct zone_version *r = NULL;
    if (zb_check_version(v, &r, &e) < 0) fail_msg("rebuild: %s", e.msg);
    same(v, r);
    k->v = v;
    k->rebuilt = r;
}

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (const void *const *)x, b = (uintptr_t) * (const void *const *)y;
    return a < b ? -1 : a > b;
}

/* Distinct zone nodes reachable from the kept versions and their rebuilds. */
static size_t distinct_nodes(const struct kept *k, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += k[i].v->nnodes + k[i].rebuilt->nnodes;
    const void **all = malloc((total ? total : 1) * sizeof *all);
    assert_non_null(all);
    size_t m = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        struct zone_cursor c;
        zone_cursor_start(&c, i % 2 ? k[i / 2].rebuilt : k[i / 2].v);
        for (const struct zone_node *zn; (zn = zone_cursor_next(&c));)
            all[m++] = zn;
    }
    qsort(all, m, sizeof *all, cmp_ptr);
    size_t d = 0;
    for (size_t i = 0; i < m; i++)
        d += i == 0 || all[i] != all[i - 1];
    free(all);
    return d;
}

/* A random change set applied to base; NULL when the changes are refused
 * (then base is checked unchanged by the caller). */
static struct zone_version *random_apply(const struct zone_version *base, uint32_t serial)
{
    struct dns_change ch[8];
    uint8_t owners[8][DNS_NAME_MAX], rds[8][DNS_NAME_MAX];
    size_t n = 1 + rnd(8);
    for (size_t i = 0; i < n; i++)
        rand_change(&ch[i], owners[i], rds[i]);
    struct zone_version *nv = NULL;
    struct err e;
    if (zone_version_apply(base, ch, n, serial, &nv, &e) < 0) return NULL;
    assert_int_equal(nv->serial, serial);
    return nv;
}

static void test_oracle(void **st)
{
    (void)st;
    struct zone_version *v;
    struct err e;
    const char *zone = "$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\n@ 60 NS ns.a\n"
                       "a 60 A 192.0.2.1\nb.a 60 NS ns.b.a\n*.c 60 A 192.0.2.2\n";
    if (zone_load_string(zone, "t", NULL, &v, &e)) fail_msg("%s", e.msg);
    enum { KEEP = 4 };
    struct kept kept[KEEP] = {0};
    size_t nkept = 0, applied = 0, refused = 0;
    check_and_keep(v, &kept[nkept++]);
    uint32_t serial = 2;
    for (int round = 0; round < 3000; round++) {
        struct kept *cur = &kept[nkept - 1];
        struct zone_version *nv = random_apply(cur->v, serial++);
        if (!nv) {
            refused++;
            continue;
        }
        applied++;
        uint32_t how = rnd(8);
        if (how == 0) { /* a discarded tip */
            zone_version_free(nv);
        } else if (how == 1) { /* a discarded chain: tip's base freed first */
            struct zone_version *nv2 = random_apply(nv, serial++);
            zone_version_free(nv);
            if (nv2) zone_version_free(nv2);
        } else if (how == 2) { /* the journal's batch: intermediate freed, its child kept */
            struct zone_version *nv2 = random_apply(nv, serial++);
            if (nv2) {
                zone_version_free(nv);
                nv = nv2;
            }
        }
        if (how > 0 && (how != 1)) {
            if (nkept == KEEP) { /* release one older version: the oldest or a middle one */
                size_t i = rnd(3) ? 0 : 1 + rnd(KEEP - 2);
                zone_version_free(kept[i].v);
                zone_version_free(kept[i].rebuilt);
                memmove(&kept[i], &kept[i + 1], (KEEP - i - 1) * sizeof kept[0]);
                nkept--;
            }
            check_and_keep(nv, &kept[nkept++]);
        }
        for (size_t i = 0; i < nkept; i++) /* persistence */
            same(kept[i].v, kept[i].rebuilt);
        /* nothing unreachable is kept: the live nodes are exactly the
         * distinct nodes the live versions reach */
        size_t reach = distinct_nodes(kept, nkept);
        if (zn_live() != reach) fail_msg("%zu zone nodes live, %zu reachable", zn_live(), reach);
    }
    /* the names, flags and node kinds the rounds went through */
    assert_true(applied > 1000);
    assert_true(refused > 0);
    for (int f = 0; f < 7; f++)
        if (!seen_flag[f]) fail_msg("flag %#x never seen", 1u << f);
    assert_true(seen_ent > 0);
    /* with only the newest left, only its nodes are live */
    for (size_t i = 0; i < nkept; i++) {
        zone_version_free(kept[i].rebuilt);
        if (i + 1 < nkept) zone_version_free(kept[i].v);
    }
    assert_int_equal(zn_live(), kept[nkept - 1].v->nnodes);
    zone_version_free(kept[nkept - 1].v);
    assert_int_equal(zn_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_oracle)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
