#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "dns/rr.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "dns/zbuild.h" /* the full-rebuild path, to compare with */
#include "util/buf.h"

static uint8_t *N(const char *t)
{
    static uint8_t bufs[8][DNS_NAME_MAX];
    static int i;
    struct err e;
    uint8_t *b = bufs[i++ & 7];
    assert_true(dns_name_from_text(t, NULL, b, &e) > 0);
    return b;
}

static const struct zone_node *find(const struct zone_version *v, const char *name)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, N(name));
    return zone_version_find(v, l, len);
}

static struct zone_version *load_example(void)
{
    struct zone_version *v = NULL;
    struct err e;
    int r = zone_load_file(TEST_DATA "/example.org.zone", NULL, &v, &e);
    if (r) fail_msg("%s", e.msg);
    return v;
}

/* Every node of v sorts after the previous one (RFC 4034 §6.1), and the
 * cursor yields nnodes nodes. */
static void assert_canonical_order(const struct zone_version *v)
{
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    const struct zone_node *prev = zone_cursor_next(&c), *n;
    size_t count = prev != NULL;
    for (; (n = zone_cursor_next(&c)); prev = n, count++)
        assert_true(dns_name_cmp(prev->name, n->name) < 0);
    assert_int_equal(count, v->nnodes);
}

static void test_load_good(void **st)
{
    (void)st;
    struct zone_version *v = load_example();
    assert_int_equal(v->serial, 2024010101);
    assert_memory_equal(v->apex, "\7example\3org\0", 13);
    const struct dns_rrset *soa = zone_version_soa(v);
    assert_non_null(soa);
    assert_int_equal(soa->count, 1);
    assert_int_equal(soa->ttl, 3600);
    /* flags */
    assert_true(zone_version_apex_node(v)->flags & ZN_APEX);
    assert_true(find(v, "sub.example.org.")->flags & ZN_DELEG);
    assert_true(find(v, "ns.sub.example.org.")->flags & ZN_OCCLUDED);
    assert_false(find(v, "ns1.example.org.")->flags & ZN_OCCLUDED);
    assert_true(find(v, "dn.example.org.")->flags & ZN_DNAME);
    assert_true(find(v, "www.example.org.")->flags & ZN_CNAME);
    assert_true(find(v, "wild.example.org.")->flags & ZN_HAS_WILDCARD);
    assert_true(find(v, "*.wild.example.org.")->flags & ZN_WILDCARD);
    /* empty non-terminals exist as nodes without RRsets */
    const struct zone_node *ent = find(v, "b.c.ent.example.org.");
    assert_non_null(ent);
    assert_int_equal(ent->nrrsets, 0);
    assert_non_null(find(v, "c.ent.example.org."));
    assert_int_equal(find(v, "wild.example.org.")->nrrsets, 0);
    assert_non_null(find(v, "_tcp.example.org."));
    assert_null(find(v, "nothere.example.org."));
    /* parents */
    assert_ptr_equal(zone_version_parent(v, ent), find(v, "c.ent.example.org."));
    assert_ptr_equal(zone_version_parent(v, find(v, "www.example.org.")),
                     zone_version_apex_node(v));
    /* $INCLUDE worked, TYPE65000 kept opaque, RRsets deduplicated */
    const struct dns_rrset *big = node_rrset(find(v, "big.example.org."), DNS_T_TXT);
    assert_int_equal(big->count, 40);
    const struct dns_rrset *unk = node_rrset(find(v, "unk.example.org."), 65000);
    assert_int_equal(unk->count, 1);
    assert_memory_equal(unk->rdata, "\0\3\1\2\3", 5);
    /* canonical node order: every node sorts after the previous one */
    assert_canonical_order(v);
    zone_version_free(v);
}

static void test_canonical_order(void **st)
{
    (void)st;
    /* names with zero bytes, label prefixes, high bytes and wildcards: the
     * version's node order must be dns_name_cmp's (RFC 4034 §6.1) */
    const char *zone = "$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\n"
                       "\\000 60 A 1.1.1.1\na 60 A 1.1.1.1\n\\001 60 A 1.1.1.1\n"
                       "a\\000 60 A 1.1.1.1\nab 60 A 1.1.1.1\n* 60 A 1.1.1.1\n"
                       "z.a 60 A 1.1.1.1\n\\200 60 A 1.1.1.1\nA\\000b.c 60 A 1.1.1.1\n"
                       "\\000\\000 60 A 1.1.1.1\nb.\\000 60 A 1.1.1.1\n";
    struct zone_version *v;
    struct err e;
    if (zone_load_string(zone, "t", N("x."), &v, &e)) fail_msg("%s", e.msg);
    assert_int_equal(v->nnodes, 13); /* 11 names, the apex, the ENT c.x */
    assert_canonical_order(v);
    zone_version_free(v);
}

static void test_load_errors(void **st)
{
    (void)st;
    struct zone_version *v = NULL;
    struct err e;
    assert_int_equal(zone_load_file(TEST_DATA "/bad.zone", NULL, &v, &e), -1);
    assert_string_equal(e.msg, TEST_DATA "/bad.zone:6: invalid IPv4 address");
    assert_int_equal(zone_load_file(TEST_DATA "/cname-conflict.zone", NULL, &v, &e), -1);
    assert_string_equal(e.msg,
                        TEST_DATA "/cname-conflict.zone:5: CNAME and other data at www.c.example.");
    assert_int_equal(zone_load_file(TEST_DATA "/nonexistent.zone", NULL, &v, &e), -1);
    assert_non_null(strstr(e.msg, "nonexistent.zone: No such file"));
    /* no SOA; two SOAs; SOA not at the origin; data outside the zone */
    assert_int_equal(zone_load_string("$ORIGIN x.\n@ 60 NS ns1\n", "t", N("x."), &v, &e), -1);
    assert_string_equal(e.msg, "t: no SOA record at the zone apex x.");
    assert_int_equal(
        zone_load_string("$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\n@ 60 SOA a b 2 2 3 4 5\n", "t",
                         N("x."), &v, &e),
        -1);
    assert_string_equal(e.msg, "t:3: more than one SOA record at x.");
    /* the same with names that reach the apex first (as an ancestor) */
    char many[4096] = "$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\n";
    for (int i = 0; i < 60; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "n%d 60 A 1.2.3.4\n", i);
    strcat(many, "@ 60 SOA a b 2 2 3 4 5\n");
    assert_int_equal(zone_load_string(many, "t", N("x."), &v, &e), -1);
    assert_string_equal(e.msg, "t:63: more than one SOA record at x.");
    /* several problems: the first in the file is reported */
    assert_int_equal(
        zone_load_string("$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\nb 60 CNAME a\nb 60 CNAME "
                         "c\na 60 CNAME x.\na 60 A 1.2.3.4\n",
                         "t", N("x."), &v, &e),
        -1);
    assert_string_equal(e.msg, "t:4: more than one CNAME record at b.x.");
    assert_int_equal(
        zone_load_string("$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\nsub 60 SOA a b 1 2 3 4 5\n", "t",
                         N("x."), &v, &e),
        -1);
    assert_string_equal(e.msg, "t:3: SOA record not at the zone apex: sub.x.");
    assert_int_equal(zone_load_string("$ORIGIN x.\n@ 60 SOA a b 1 2 3 4 5\ny. 60 A 1.2.3.4\n", "t",
                                      N("x."), &v, &e),
                     -1);
    assert_string_equal(e.msg, "t:3: owner y. is outside the zone x.");
    assert_int_equal(
        zone_load_string("x. 60 SOA a.x. b.x. 1 2 3 4 5\nx. 60 CH TXT \"a\"\n", "t", NULL, &v, &e),
        -1);
    assert_string_equal(e.msg, "t:2: unsupported record type" /* zscanner: IN only */);
    /* without an origin, the SOA owner becomes the apex */
    assert_int_equal(
        zone_load_string("x. 60 SOA a.x. b.x. 7 2 3 4 5\nw.x. 60 A 1.2.3.4\n", "t", NULL, &v, &e),
        0);
    assert_memory_equal(v->apex, "\1x\0", 3);
    assert_int_equal(v->serial, 7);
    zone_version_free(v);
}

static struct dns_change add(const char *owner, uint16_t type, uint32_t ttl, const void *rd,
                             uint16_t len)
{
    return (struct dns_change){DNS_CHANGE_ADD, N(owner), type, ttl, len, rd};
}

static void test_apply(void **st)
{
    (void)st;
    struct zone_version *v = load_example(), *v2, *v3;
    struct err e;
    size_t nodes = v->nnodes;
    /* new deep name creates ENTs; duplicate add is a no-op; TTL of the set follows the add */
    struct dns_change c1[] = {
        add("x.y.new.example.org.", DNS_T_A, 60, "\1\2\3\4", 4),
        add("x.y.new.example.org.", DNS_T_A, 60, "\1\2\3\4", 4),
        add("mail.example.org.", DNS_T_A, 120, "\1\2\3\5", 4),
        add("mail.example.org.", DNS_T_A, 999, "\300\0\2\31", 4), /* 192.0.2.25 already there */
    };
    assert_int_equal(zone_version_apply(v, c1, 4, 5, &v2, &e), 0);
    assert_int_equal(v2->serial, 5);
    assert_int_equal(v2->nnodes, nodes + 3);
    assert_int_equal(node_rrset(find(v2, "x.y.new.example.org."), DNS_T_A)->count, 1);
    assert_int_equal(find(v2, "y.new.example.org.")->nrrsets, 0);
    const struct dns_rrset *m = node_rrset(find(v2, "mail.example.org."), DNS_T_A);
    assert_int_equal(m->count, 2);
    assert_int_equal(m->ttl, 120);
    /* the old version is untouched */
    assert_int_equal(v->serial, 2024010101);
    assert_null(find(v, "x.y.new.example.org."));
    assert_int_equal(node_rrset(find(v, "mail.example.org."), DNS_T_A)->count, 1);
    /* SOA serial inside the RDATA was rewritten */
    const struct dns_rrset *soa = zone_version_soa(v2);
    const uint8_t *rd = rr_rdata(soa->rdata);
    assert_int_equal(be32(rd + rr_rdlen(soa->rdata) - 20), 5);

    /* deleting the last RR removes the RRset and the name; an ENT stays
     * while it has descendants */
    struct dns_change c2[] = {
        {DNS_CHANGE_DEL, N("x.y.new.example.org."), DNS_T_A, 0, 4, (const uint8_t *)"\1\2\3\4"},
        {DNS_CHANGE_DEL, N("a.b.c.ent.example.org."), DNS_T_A, 0, 4, (const uint8_t *)"\1\1\1\1"},
        {DNS_CHANGE_DEL_RRSET, N("mail.example.org."), DNS_T_A, 0, 0, NULL},
        {DNS_CHANGE_DEL_NAME, N("ns.sub.example.org."), 0, 0, 0, NULL},
        {DNS_CHANGE_DEL, N("nothere.example.org."), DNS_T_A, 0, 4, (const uint8_t *)"\1\1\1\1"},
    };
    assert_int_equal(zone_version_apply(v2, c2, 5, 6, &v3, &e), 0);
    assert_null(find(v3, "x.y.new.example.org."));
    assert_null(find(v3, "y.new.example.org."));
    assert_null(find(v3, "new.example.org."));
    assert_null(find(v3, "mail.example.org."));
    assert_null(find(v3, "ns.sub.example.org."));
    assert_non_null(find(v3, "a.b.c.ent.example.org.")); /* RDATA did not match */
    assert_int_equal(v3->nnodes, nodes - 2);
    assert_int_equal(v2->nnodes, nodes + 3);
    zone_version_free(v3);

    /* an RDATA match that is case-insensitive in names removes the RR */
    struct dns_change c3[] = {
        {DNS_CHANGE_DEL, N("www.example.org."), DNS_T_CNAME, 0, 13,
         (const uint8_t *)"\7EXAMPLE\3ORG\0"},
        {DNS_CHANGE_DEL_NAME, N("a.b.c.ent.example.org."), 0, 0, 0, NULL},
    };
    assert_int_equal(zone_version_apply(v2, c3, 2, 7, &v3, &e), 0);
    assert_null(find(v3, "www.example.org."));
    assert_null(find(v3, "b.c.ent.example.org."));
    assert_null(find(v3, "c.ent.example.org."));
    assert_non_null(find(v3, "ent.example.org.")); /* *.ent keeps it */
    zone_version_free(v3);

    /* failures leave nothing behind */
    struct dns_change bad1[] = {add("www.example.org.", DNS_T_A, 60, "\1\2\3\4", 4)};
    assert_int_equal(zone_version_apply(v2, bad1, 1, 8, &v3, &e), -1);
    assert_non_null(strstr(e.msg, "CNAME and other data at www.example.org."));
    struct dns_change bad2[] = {add("www.example.net.", DNS_T_A, 60, "\1\2\3\4", 4)};
    assert_int_equal(zone_version_apply(v2, bad2, 1, 8, &v3, &e), -1);
    assert_string_equal(e.msg, "owner www.example.net. is outside the zone example.org.");
    struct dns_change bad3[] = {add("a.example.org.", DNS_T_A, 60, "\1\2\3", 3)};
    assert_int_equal(zone_version_apply(v2, bad3, 1, 8, &v3, &e), -1);
    assert_string_equal(e.msg, "malformed A RDATA");
    struct dns_change bad4[] = {{DNS_CHANGE_DEL_RRSET, N("example.org."), DNS_T_SOA, 0, 0, NULL}};
    assert_int_equal(zone_version_apply(v2, bad4, 1, 8, &v3, &e), -1);
    struct dns_change bad5[] = {add("a.example.org.", DNS_T_ANY, 60, "", 0)};
    assert_int_equal(zone_version_apply(v2, bad5, 1, 8, &v3, &e), -1);
    zone_version_free(v2);
    zone_version_free(v);
}

/* The reference: rebuild the whole zone with the changes applied. */
static int full_apply(const struct zone_version *old, const struct dns_change *c, size_t n,
                      uint32_t serial, struct zone_version **out, struct err *e)
{
    struct zbuild *b = zb_new(old->apex);
    int r = zb_load_version(b, old, e);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = c[i].op == DNS_CHANGE_ADD
                ? (zb_add(b, c[i].owner, c[i].type, c[i].ttl, c[i].rdata, c[i].rdlen, false, 0, e) <
                           0
                       ? -1
                       : 0)
                : zb_del(b, c[i].op, c[i].owner, c[i].type, c[i].rdata, c[i].rdlen, e);
    if (r == 0) r = zb_freeze(b, true, serial, out, e);
    zb_free(b);
    return r;
}

static void same_version(const struct zone_version *a, const struct zone_version *b)
{
    assert_int_equal(a->nnodes, b->nnodes);
    assert_int_equal(a->serial, b->serial);
    assert_int_equal(a->nrecords, b->nrecords);
    struct zone_cursor ca, cb;
    zone_cursor_start(&ca, a);
    zone_cursor_start(&cb, b);
    for (const struct zone_node *x, *y;
         (x = zone_cursor_next(&ca)) && (y = zone_cursor_next(&cb));) {
        assert_int_equal(x->name_len, y->name_len);
        assert_memory_equal(x->name, y->name, x->name_len);
        assert_int_equal(x->flags, y->flags);
        assert_int_equal(x->labels, y->labels);
        assert_int_equal(x->hash, y->hash);
        const struct zone_node *px = zone_version_parent(a, x), *py = zone_version_parent(b, y);
        assert_int_equal(!px, !py);
        if (px) assert_memory_equal(px->name, py->name, px->name_len);
        assert_ptr_equal(zone_version_find(a, x->name, x->name_len), x);
        assert_int_equal(x->nrrsets, y->nrrsets);
        for (uint16_t k = 0; k < x->nrrsets; k++) {
            assert_int_equal(x->rrsets[k].type, y->rrsets[k].type);
            assert_int_equal(x->rrsets[k].ttl, y->rrsets[k].ttl);
            assert_int_equal(x->rrsets[k].count, y->rrsets[k].count);
            assert_int_equal(x->rrsets[k].rdata_size, y->rrsets[k].rdata_size);
            assert_memory_equal(x->rrsets[k].rdata, y->rrsets[k].rdata, x->rrsets[k].rdata_size);
        }
    }
}

static void test_apply_matches_rebuild(void **st)
{
    (void)st;
    /* random change sets over names that exercise ENTs, wildcards, cuts and
     * DNAMEs: the incremental path must build exactly what a full rebuild
     * builds, and fail exactly when it fails */
    static const char *names[] = {
        "example.org.",         "www.example.org.",        "a.b.c.ent.example.org.",
        "b.c.ent.example.org.", "x.y.z.example.org.",      "y.z.example.org.",
        "*.wild.example.org.",  "*.example.org.",          "sub.example.org.",
        "ns.sub.example.org.",  "q.deep.sub.example.org.", "dn.example.org.",
        "u.dn.example.org.",    "mail.example.org.",       "n1.example.org.",
        "*.n1.example.org.",    "big.example.org.",        "zz.example.org.",
    };
    static const uint16_t types[] = {DNS_T_A,  DNS_T_A,     DNS_T_TXT,
                                     DNS_T_NS, DNS_T_CNAME, DNS_T_DNAME};
    for (unsigned seed0 = 1; seed0 <= 5; seed0++) {
        struct zone_version *v = load_example();
        unsigned seed = seed0 * 7919;
        int applied = 0, failed = 0;
        uint8_t owners[4][DNS_NAME_MAX], rd[4][32];
        struct err e1, e2;
        for (int round = 0; round < 400; round++) {
            struct dns_change c[4];
            size_t n = 1 + (seed = seed * 1103515245 + 12345) % 4;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245 + 12345;
                const char *nm = names[(seed >> 8) % (sizeof names / sizeof *names)];
                assert_true(dns_name_from_text(nm, NULL, owners[i], &e1) > 0);
                uint16_t t = types[(seed >> 16) % 6];
                uint16_t len;
                if (t == DNS_T_A) {
                    len = 4;
                    memcpy(rd[i], (uint8_t[]){10, 0, 0, (uint8_t)(seed >> 24) % 4}, 4);
                } else if (t == DNS_T_TXT) {
                    len = 3;
                    memcpy(rd[i], (uint8_t[]){2, 'h', (uint8_t)('a' + (seed >> 24) % 3)}, 3);
                } else {
                    len = 13; /* example.org. or example.net. as a target */
                    memcpy(rd[i], (seed >> 24) & 1 ? "\7example\3org\0" : "\7example\3net\0", 13);
                }
                static const enum dns_change_op ops[] = {DNS_CHANGE_ADD, DNS_CHANGE_ADD,
                                                         DNS_CHANGE_DEL, DNS_CHANGE_DEL_RRSET,
                                                         DNS_CHANGE_DEL_NAME};
                c[i] = (struct dns_change){ops[(seed >> 4) % 5],  owners[i], t,
                                           60 + (seed >> 20) % 3, len,       rd[i]};
            }
            struct zone_version *a = NULL, *b = NULL;
            int ra = zone_version_apply(v, c, n, 100 + (uint32_t)round, &a, &e1);
            int rb = full_apply(v, c, n, 100 + (uint32_t)round, &b, &e2);
            assert_int_equal(ra, rb);
            if (ra == 0) {
                same_version(a, b);
                zone_version_free(b);
                zone_version_free(v);
                v = a;
                applied++;
            } else {
                assert_string_equal(e1.msg, e2.msg);
                failed++;
            }
        }
        assert_true(applied > 100 && failed > 10);
        zone_version_free(v);
    }
}

static int count_rrsets(void *ctx, const struct zone_node *n, const struct dns_rrset *s)
{
    (void)n;
    (void)s;
    (*(int *)ctx)++;
    return 0;
}

static void test_foreach_and_synth(void **st)
{
    (void)st;
    struct zone_version *v = load_example();
    int n = 0;
    assert_int_equal(zone_version_foreach(v, count_rrsets, &n), 0);
    int expect = 0;
    struct zone_cursor c;
    zone_cursor_start(&c, v);
    for (const struct zone_node *zn; (zn = zone_cursor_next(&c));)
        expect += zn->nrrsets;
    assert_int_equal(n, expect);
    assert_int_equal(n, 29);
    zone_version_free(v);

    struct err e;
    assert_int_equal(zone_synthesize(N("Example.COM."), 0, &v, &e), 0);
    assert_memory_equal(v->apex, "\7example\3com\0", 13);
    const struct dns_rrset *soa = zone_version_soa(v);
    assert_int_equal(soa->ttl, 3600);
    assert_memory_equal(rr_rdata(soa->rdata),
                        "\7Example\3COM\0\12hostmaster\3COM\0"
                        "\0\0\0\0\0\1\121\200\0\0\34\40\0\66\356\200\0\0\16\20",
                        13 + 16 + 20);
    const struct dns_rrset *ns = node_rrset(zone_version_apex_node(v), DNS_T_NS);
    assert_non_null(ns);
    assert_int_equal(ns->count, 1);
    zone_version_free(v);
}

static void test_rr_parse(void **st)
{
    (void)st;
    struct dns_rr *rr = malloc(sizeof *rr);
    struct err e;
    assert_int_equal(
        dns_rr_parse_text("mail", "MX", "10 mx.example.org.", 3600, N("example.org."), rr, &e), 0);
    assert_int_equal(rr->type, DNS_T_MX);
    assert_int_equal(rr->ttl, 3600);
    assert_memory_equal(rr->owner, "\4mail\7example\3org\0", 18);
    assert_int_equal(rr->rdlen, 18);
    assert_memory_equal(rr->rdata, "\0\12\2mx\7example\3org\0", 18);
    assert_int_equal(
        dns_rr_parse_text("a.example.org.", "TXT", "\"hello world\"", 60, NULL, rr, &e), 0);
    assert_memory_equal(rr->rdata, "\13hello world", 12);
    assert_int_equal(
        dns_rr_parse_text("a.example.org.", "TYPE65000", "\\# 2 abcd", 60, NULL, rr, &e), 0);
    assert_int_equal(rr->type, 65000);
    assert_int_equal(dns_rr_parse_text("a", "A", "1.2.3.4", 60, NULL, rr, &e), -1);
    assert_int_equal(dns_rr_parse_text("a.x.", "A", "1.2.3", 60, NULL, rr, &e), -1);
    assert_int_equal(dns_rr_parse_text("a.x.", "BOGUS", "1", 60, NULL, rr, &e), -1);
    assert_int_equal(dns_rr_parse_text("a.x.", "A", "1.2.3.4\nb.x. 60 A 1.2.3.4", 60, NULL, rr, &e),
                     -1);
    assert_int_equal(dns_rr_parse_line("a.x. 5 IN AAAA ::1", NULL, 60, rr, &e), 0);
    assert_int_equal(rr->ttl, 5);
    assert_int_equal(rr->rdlen, 16);
    free(rr);
}

/* zone_set_find: the longest served apex, whether the set is scanned (a
 * few zones) or hashed (more): checked against every apex after each add. */
static void test_zone_set_find_longest(void **st)
{
    (void)st;
    rcu_register_thread();
    struct zone_set_handle h;
    struct err e;
    zone_set_handle_init(&h);
    static const char *apexes[] = {
        "example.org.", "sub.example.org.", ".", "x.sub.example.org.", "org.",
        "example.net.", "b.example.org."};
    static const char *names[] = {".",
                                  "org.",
                                  "a.org.",
                                  "example.org.",
                                  "a.example.org.",
                                  "b.example.org.",
                                  "a.b.example.org.",
                                  "sub.example.org.",
                                  "y.x.sub.example.org.",
                                  "x.sub.example.org.",
                                  "xsub.example.org.",
                                  "example.net.",
                                  "a.example.net.",
                                  "net.",
                                  "com.",
                                  "a.b.c.d.e.f.g.h.sub.example.org."};
    size_t nap = sizeof apexes / sizeof *apexes;
    for (size_t k = 0; k < nap; k++) {
        struct zone_version *v;
        assert_int_equal(zone_synthesize(N(apexes[k]), 1, &v, &e), 0);
        rcu_thread_offline();
        assert_int_equal(zone_set_add(&h, zone_new(v, &e), &e), 0);
        rcu_thread_online();
        const struct zone_set *zs = zone_set_current(&h);
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            uint8_t l[DNS_NAME_MAX], a[DNS_NAME_MAX];
            dns_name_lower(l, N(names[i]));
            const uint8_t *want = NULL;
            for (size_t j = 0; j <= k; j++) {
                dns_name_lower(a, N(apexes[j]));
                if (dns_name_is_subdomain(l, a) &&
                    (!want || dns_name_labels(a) > dns_name_labels(want)))
                    want = zone_set_get(zs, a)->apex;
            }
            struct zone *z = zone_set_find(zs, l);
            if (!want)
                assert_null(z);
            else
                assert_memory_equal(z->apex, want, dns_name_len(want));
        }
    }
    rcu_thread_offline();
    zone_set_handle_destroy(&h);
    rcu_thread_online();
    rcu_unregister_thread();
}

static void test_zone_set_rcu(void **st)
{
    (void)st;
    rcu_register_thread();
    struct zone_set_handle h;
    struct err e;
    zone_set_handle_init(&h);
    struct zone_version *v;
    assert_int_equal(zone_synthesize(N("example.org."), 1, &v, &e), 0);
    assert_int_equal(zone_set_add(&h, zone_new(v, &e), &e), 0);
    assert_int_equal(zone_synthesize(N("sub.example.org."), 1, &v, &e), 0);
    assert_int_equal(zone_set_add(&h, zone_new(v, &e), &e), 0);
    assert_int_equal(zone_synthesize(N("EXAMPLE.org."), 1, &v, &e), 0);
    struct zone *dup = zone_new(v, &e);
    assert_int_equal(zone_set_add(&h, dup, &e), -1);
    assert_string_equal(e.msg, "zone example.org. is already served");
    zone_free(dup);

    rcu_read_lock();
    const struct zone_set *zs = zone_set_current(&h);
    assert_int_equal(zs->n, 2);
    uint8_t l[DNS_NAME_MAX];
    dns_name_lower(l, N("a.b.sub.example.org."));
    assert_memory_equal(zone_set_find(zs, l)->apex, "\3sub\7example\3org\0", 17);
    dns_name_lower(l, N("a.example.org."));
    assert_memory_equal(zone_set_find(zs, l)->apex, "\7example\3org\0", 13);
    dns_name_lower(l, N("example.net."));
    assert_null(zone_set_find(zs, l));
    assert_null(zone_set_find(zs, (const uint8_t *)""));
    struct zone *z = zone_set_get(zs, (const uint8_t *)"\7example\3org");
    const struct zone_version *cur = zone_current(z);
    rcu_read_unlock();
    rcu_quiescent_state();

    /* publish: readers that start afterwards see the new serial */
    struct dns_change c = {
        DNS_CHANGE_ADD, N("www.example.org."), DNS_T_A, 60, 4, (const uint8_t *)"\1\2\3\4"};
    rcu_thread_offline();
    assert_int_equal(zone_apply(z, &c, 1, 2, &e), 0);
    rcu_thread_online();
    cur = zone_current(z);
    assert_int_equal(cur->serial, 2);
    assert_non_null(find(cur, "www.example.org."));

    rcu_thread_offline();
    struct zone *removed = zone_set_remove(&h, N("SUB.example.org."));
    rcu_thread_online();
    assert_non_null(removed);
    zone_free(removed);
    assert_int_equal(zone_set_current(&h)->n, 1);
    rcu_thread_offline();
    zone_set_handle_destroy(&h);
    rcu_thread_online();
    rcu_unregister_thread();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_canonical_order),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_foreach_and_synth),
        cmocka_unit_test(test_rr_parse),
        cmocka_unit_test(test_zone_set_find_longest),
        cmocka_unit_test(test_zone_set_rcu),
        cmocka_unit_test(test_apply_matches_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
