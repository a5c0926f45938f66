/* Shared helpers of the journal tests (journal_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dns/journal_int.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "util/buf.h"

#include "journal_fixture.h"

static const char *ZONE_FMT = "$ORIGIN example.org.\n"
                              "$TTL 3600\n"
                              "@ SOA ns1 hostmaster %u 7200 3600 1209600 300\n"
                              "@ NS ns1\n"
                              "ns1 A 192.0.2.1\n"
                              "%s";

const uint8_t APEX[] = "\7example\3org";

int setup(void **st)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ceon-journal-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    *st = f;
    return 0;
}

int teardown(void **st)
{
    struct fixture *f = *st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

struct zone_version *load(uint32_t serial, const char *extra)
{
    char text[4096];
    struct zone_version *v;
    struct err e;
    snprintf(text, sizeof text, ZONE_FMT, serial, extra);
    if (zone_load_string(text, "test.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    return v;
}

struct journal *jopen(const char *dir)
{
    struct journal *j;
    struct err e;
    if (journal_open(dir, &j, &e) < 0) fail_msg("%s", e.msg);
    return j;
}

struct zone *start_from(struct journal *j, struct zone_version *v, struct journal_replay_info *info)
{
    struct zone_version *out;
    struct err e;
    if (journal_replay(j, v, &out, info, &e) < 0) fail_msg("%s", e.msg);
    if (out) {
        zone_version_free(v);
        v = out;
    }
    struct zone *z = zone_new(v, &e);
    assert_non_null(z);
    return z;
}

struct zone *start(struct journal *j, uint32_t serial, const char *extra,
                   struct journal_replay_info *info)
{
    return start_from(j, load(serial, extra), info);
}

struct zone *reopen(const char *dir, struct journal **j, struct zone *z, size_t chunk_bytes,
                    struct journal_replay_info *info)
{
    uint64_t want = zone_version_hash(zone_current(z));
    uint32_t serial = zone_current(z)->serial;
    zone_free(z);
    journal_close(*j);
    *j = jopen(dir);
    if (chunk_bytes) (*j)->chunk_bytes = chunk_bytes;
    z = start(*j, 1, "", info);
    assert_int_equal(zone_current(z)->serial, serial);
    assert_true(zone_version_hash(zone_current(z)) == want);
    return z;
}

/* Update number i: adds a-i A and b-i TXT in one change set. */
int update(struct zone *z, struct journal *j, unsigned i, uint32_t *serial, struct err *e)
{
    uint8_t a[DNS_NAME_MAX], b[DNS_NAME_MAX], ip[4], txt[32];
    char name[64];
    snprintf(name, sizeof name, "a-%u.example.org.", i);
    dns_name_from_text(name, NULL, a, e);
    snprintf(name, sizeof name, "b-%u.example.org.", i);
    dns_name_from_text(name, NULL, b, e);
    put_be32(ip, 0x0a000000u + i);
    int tl = snprintf((char *)txt + 1, sizeof txt - 1, "update %u", i);
    txt[0] = (uint8_t)tl;
    struct dns_update u[] = {{DNS_UPDATE_ADD, a, DNS_T_A, 300, ip, 4},
                             {DNS_UPDATE_ADD, b, DNS_T_TXT, 300, txt, (uint16_t)(tl + 1)}};
    return dns_update_apply(z, APEX, NULL, 0, u, 2, j, serial, e);
}

void updates(struct zone *z, struct journal *j, unsigned from, unsigned n)
{
    uint32_t s;
    struct err e;
    for (unsigned i = from; i < from + n; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
}

uint16_t soa_rdata(uint8_t rd[SOA_RDLEN], uint32_t serial, uint32_t refresh)
{
    static const uint8_t names[] = "\3ns1\7example\3org\0\12hostmaster\7example\3org";
    static_assert(sizeof names + 20 == SOA_RDLEN, "SOA_RDLEN");
    memcpy(rd, names, sizeof names); /* both names with their terminating root label */
    const uint32_t timers[5] = {serial, refresh, 3600, 1209600, 300};
    for (int i = 0; i < 5; i++)
        put_be32(rd + sizeof names + 4 * i, timers[i]);
    return SOA_RDLEN;
}

int soa_update(struct zone *z, struct journal *j, uint32_t serial, uint32_t refresh, uint32_t *out,
               struct err *e)
{
    uint8_t rd[SOA_RDLEN];
    struct dns_update u = {DNS_UPDATE_ADD, APEX, DNS_T_SOA,
                           3600,           rd,   soa_rdata(rd, serial, refresh)};
    return dns_update_apply(z, APEX, NULL, 0, &u, 1, j, out, e);
}

uint32_t soa_refresh(const struct zone_version *v)
{
    const struct dns_rrset *s = zone_version_soa(v);
    assert_non_null(s);
    assert_int_equal(s->count, 1);
    const uint8_t *p = rrset_first(s);
    return be32(rr_rdata(p) + rr_rdlen(p) - 16);
}

bool present(const struct zone_version *v, const char *fmt, unsigned i)
{
    char name[64];
    uint8_t n[DNS_NAME_MAX];
    struct err e;
    snprintf(name, sizeof name, fmt, i);
    int len = dns_name_from_text(name, NULL, n, &e);
    return zone_version_find(v, n, (size_t)len) != NULL;
}
