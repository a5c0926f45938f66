/* libFuzzer target: the update engine (dns/update.h) on untrusted updates.
 *
 * Input: byte 0 selects the mode.
 *   even: one value to normalise: u16 type, then the value
 *         (dns_update_value_rdata); a result must pass dns_rdata_check.
 *   odd:  a list of prerequisites and updates applied to a fixed zone, each
 *         u8 what (bit 7: prerequisite, low bits: kind), u8 owner-label
 *         count, then that many labels from a small alphabet, u16 type,
 *         u32 ttl, u16 value length, value. The zone must stay valid.
 */
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "util/buf.h"
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
    uint32_t before = zone_current(zone)->serial, serial;
    int rc =
        dns_update_apply(zone, (const uint8_t *)"\7example\3org", p, np, u, nu, NULL, &serial, &e);
    const struct zone_version *v = zone_current(zone);
    if (rc == 0 && serial != v->serial) abort();
    if (rc < 0 && v->serial != before) abort();
    if (zone_version_soa(v)->count != 1) abort();
    return 0;
}
