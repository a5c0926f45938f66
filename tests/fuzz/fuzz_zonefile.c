/*
 * fuzz_zonefile: the zone-file loader (libzscanner + zone building) on
 * arbitrary text.
 *
 * Checked: a rejected file leaves a one-line "name:line: reason" message; an
 * accepted one is a valid zone version (SOA at the apex, every node findable
 * by its name, RRsets sorted by type with well-formed RDATA, nodes in
 * canonical order) and a change set deleting and re-adding a record builds
 * a new version without touching the old one.
 *
 * Inputs that mention $INCLUDE are skipped: the loader would open whatever
 * path they name (/dev/stdin, /dev/zero), which tests the machine, not the
 * loader.
 */
#include "dns/name.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"

static void check_version(const struct zone_version *v)
{
    CHECK(v->nnodes >= 1);
    CHECK(zone_version_apex_node(v)->name == v->apex ||
          dns_name_equal(zone_version_apex_node(v)->name, v->apex));
    const struct dns_rrset *soa = zone_version_soa(v);
    CHECK(soa && soa->type == DNS_T_SOA && soa->count == 1);
    size_t records = 0;
    struct zone_cursor cur;
    zone_cursor_start(&cur, v);
    const struct zone_node *prev = NULL;
    for (const struct zone_node *n; (n = zone_cursor_next(&cur)); prev = n) {
        CHECK(dns_name_check(n->name, DNS_NAME_MAX) == n->name_len);
        CHECK(dns_name_is_subdomain(n->name, v->apex));
        CHECK(zone_version_find(v, n->name, n->name_len) == n);
        if (prev) CHECK(dns_name_cmp(prev->name, n->name) < 0);
        for (uint16_t k = 0; k < n->nrrsets; k++) {
            const struct dns_rrset *s = &n->rrsets[k];
            if (k > 0) CHECK(n->rrsets[k - 1].type < s->type);
            CHECK(node_rrset(n, s->type) == s);
            CHECK(s->count >= 1);
            uint16_t c = 0;
            for (const uint8_t *p = rrset_first(s); p; p = rrset_next(s, p)) {
                CHECK(p + 2 + rr_rdlen(p) <= s->rdata + s->rdata_size);
                if (dns_rdata_fields(s->type))
                    CHECK(dns_rdata_check(s->type, rr_rdata(p), rr_rdlen(p)));
                c++;
            }
            CHECK(c == s->count);
            records += c;
        }
    }
    CHECK(records == v->nrecords);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    for (size_t i = 0; i + 8 <= size; i++) {
        if (strncasecmp(text + i, "$include", 8) == 0) {
            free(text);
            return 0;
        }
    }

    struct err e;
    memset(&e, 0, sizeof e);
    struct zone_version *v = NULL;
    if (zone_load_string(text, "fuzz.zone", NULL, &v, &e) < 0) {
        CHECK(v == NULL);
        CHECK(strncmp(e.msg, "fuzz.zone:", 10) == 0);
        CHECK(strchr(e.msg, '\n') == NULL);
        free(text);
        return 0;
    }
    CHECK(v != NULL);
    check_version(v);

    /* delete the apex SOA's RRset and add it back: same records, new
     * serial, the old version unchanged */
    const struct dns_rrset *soa = zone_version_soa(v);
    struct dns_change ch[2] = {
        {.op = DNS_CHANGE_DEL_RRSET, .owner = v->apex, .type = DNS_T_SOA},
        {.op = DNS_CHANGE_ADD,
         .owner = v->apex,
         .type = DNS_T_SOA,
         .ttl = soa->ttl,
         .rdlen = rr_rdlen(soa->rdata),
         .rdata = rr_rdata(soa->rdata)},
    };
    uint32_t serial = v->serial, nrec = (uint32_t)v->nrecords;
    struct zone_version *v2 = NULL;
    if (zone_version_apply(v, ch, 2, serial + 1, &v2, &e) == 0) {
        check_version(v2);
        CHECK(v2->serial == serial + 1);
        CHECK(v2->nrecords == nrec);
        zone_version_free(v2);
    }
    CHECK(v->serial == serial);
    check_version(v);
    zone_version_free(v);
    free(text);
    return 0;
}
