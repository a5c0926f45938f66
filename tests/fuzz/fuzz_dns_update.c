/* libFuzzer target: the update engine (dns/update.h) on untrusted updates.
 *
 * Input: byte 0 selects the mode.
 *   even: one value to normalise: u16 type, then the value
 *         (dns_update_value_rdata); a result must pass dns_rdata_check.
 *   odd:  a list of prerequisites and updates applied to a fixed zone, each
 *         u8 what (bit 7: prerequisite, low bits: kind), u8 owner-label
 *         count, then that many labels from a small alphabet, u16 type,
 *         u32 ttl, u16 value length, value. The zone must stay valid:
 *         after every call the current version passes the zone builder's
 *         checks on every name (zb_check_version; the update path checks
 *         only the names it touched) and equals, node for node and byte for
 *         byte, the version built from scratch from the same records. A
 *         failed update publishes nothing.
 */
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zbuild.h"
#include "dns/zone.h"
#include "util/buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct zone *zone;

static const char *ZONE = "$ORIGIN example.org.\n$TTL 3600\n"
                          "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
                          "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 AAAA 2001:db8::2\n"
                          "www A 192.0.2.10\nalias CNAME www\na.b.ent TXT \"x\"\n"
                          "sub NS ns.sub\nns.sub A 192.0.2.53\n*.wild MX 10 www\n";

static const char *LABELS[] = {"www", "alias", "a", "b", "ent", "sub", "ns1", "*", "wild", "x"};

#define MAX_OPS 32

static void bad(const struct zone_node *n, const char *fmt, ...)
{
    char t[DNS_NAME_TEXT_MAX] = "-";
    if (n) dns_name_to_text(n->name, t, sizeof t);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_dns_update: zone invalid at %s: ", t);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* v (built incrementally by the update) against r (built from scratch from
 * v's records): same nodes in the same order, same flags and parents, same
 * RRsets byte for byte, every node found through v's hash table. */
static void same_version(const struct zone_version *v, const struct zone_version *r)
{
    if (v->nnodes != r->nnodes) bad(NULL, "%zu nodes, %zu from scratch", v->nnodes, r->nnodes);
    if (v->serial != r->serial || v->nrecords != r->nrecords)
        bad(NULL, "serial %u / %zu records, from scratch %u / %zu", v->serial, v->nrecords,
            r->serial, r->nrecords);
    struct zone_cursor cv, cr;
    zone_cursor_start(&cv, v);
    zone_cursor_start(&cr, r);
    size_t i = 0;
    for (const struct zone_node *a, *b; (a = zone_cursor_next(&cv)) && (b = zone_cursor_next(&cr));
         i++) {
        if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0)
            bad(a, "node %zu differs from scratch", i);
        if (a->labels != b->labels || a->hash != b->hash || a->flags != b->flags)
            bad(a, "labels/hash/flags %u/%u/%#x, from scratch %u/%u/%#x", a->labels, a->hash,
                a->flags, b->labels, b->hash, b->flags);
        const struct zone_node *pa = zone_version_parent(v, a), *pb = zone_version_parent(r, b);
        if (!pa != !pb ||
            (pa && (pa->name_len != pb->name_len || memcmp(pa->name, pb->name, pa->name_len) != 0)))
            bad(a, "parent differs from scratch");
        if (zone_version_find(v, a->name, a->name_len) != a) bad(a, "not found by lookup");
        if (a->nrrsets != b->nrrsets) bad(a, "%u RRsets, from scratch %u", a->nrrsets, b->nrrsets);
        for (uint16_t k = 0; k < a->nrrsets; k++) {
            const struct dns_rrset *x = &a->rrsets[k], *y = &b->rrsets[k];
            if (x->type != y->type || x->count != y->count || x->ttl != y->ttl ||
                x->rdata_size != y->rdata_size || memcmp(x->rdata, y->rdata, x->rdata_size) != 0)
                bad(a, "RRset %u (type %u, %u RRs) differs from scratch (type %u, %u RRs)", k,
                    x->type, x->count, y->type, y->count);
        }
    }
}

static void check_zone(const struct zone_version *v)
{
    struct zone_version *r = NULL;
    struct err e;
    if (zb_check_version(v, &r, &e) < 0) bad(NULL, "%s", e.msg);
    same_version(v, r);
    zone_version_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[65535];
    struct err e;
    if (size < 1) return 0;
    if (!(data[0] & 1)) {
        if (size < 3) return 0;
        uint16_t t = be16(data + 1);
        int n = dns_update_value_rdata(t, data + 3, size - 3, out, sizeof out);
        if (n >= 0 && !dns_rdata_check(t, out, (size_t)n)) abort();
        return 0;
    }
    static unsigned runs;
    if (zone && ++runs % 256 == 0) { /* keep the zone from growing without bound */
        zone_free(zone);
        zone = NULL;
    }
    if (!zone) {
        struct zone_version *v;
        if (zone_load_string(ZONE, "fuzz", NULL, &v, &e) < 0 || !(zone = zone_new(v, &e))) abort();
    }
    struct dns_prereq p[MAX_OPS];
    struct dns_update u[MAX_OPS];
    static uint8_t names[2 * MAX_OPS][DNS_NAME_MAX];
    size_t np = 0, nu = 0, nn = 0;
    struct rbuf r;
    rbuf_init(&r, data + 1, size - 1);
    while (rbuf_left(&r) >= 10 && np < MAX_OPS && nu < MAX_OPS) {
        uint8_t what = rbuf_u8(&r), labels = rbuf_u8(&r) % 5;
        uint8_t *n = names[nn++];
        size_t o = 0;
        for (uint8_t i = 0; i < labels; i++) {
            const char *l = LABELS[rbuf_u8(&r) % (sizeof LABELS / sizeof *LABELS)];
            n[o++] = (uint8_t)strlen(l);
            memcpy(n + o, l, strlen(l));
            o += strlen(l);
        }
        memcpy(n + o, "\7example\3org", 13);
        uint16_t type = rbuf_u16(&r);
        uint32_t ttl = rbuf_u32(&r);
        uint16_t vlen = rbuf_u16(&r);
        const uint8_t *val = r.p + r.pos;
        if (!rbuf_get(&r, NULL, vlen)) break;
        if (what & 0x80)
            p[np++] =
                (struct dns_prereq){(enum dns_prereq_kind)((what & 0x7f) % 5), n, type, val, vlen};
        else
            u[nu++] =
                (struct dns_update){(enum dns_update_kind)(what % 4), n, type, ttl, val, vlen};
    }
    const struct zone_version *old = zone_current(zone);
    uint32_t before = old->serial, serial;
    int rc =
        dns_update_apply(zone, (const uint8_t *)"\7example\3org", p, np, u, nu, NULL, &serial, &e);
    const struct zone_version *v = zone_current(zone);
    if (rc == 0 && serial != v->serial) abort();
    if (rc < 0 && (v != old || v->serial != before)) abort(); /* nothing published */
    if (zone_version_soa(v)->count != 1) abort();
    check_zone(v);
    return 0;
}
