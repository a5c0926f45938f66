/* The helpers the update engine's tests share (update_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rr.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"

#include "update_fixture.h"

const char *ZONE = "$ORIGIN example.org.\n"
                   "$TTL 3600\n"
                   "@ SOA ns1 hostmaster 100 7200 3600 1209600 300\n"
                   "@ NS ns1\n"
                   "@ NS ns2\n"
                   "ns1 A 192.0.2.1\n"
                   "ns2 A 192.0.2.2\n"
                   "www A 192.0.2.10\n"
                   "www A 192.0.2.11\n"
                   "alias CNAME www\n"
                   "a.b.ent A 192.0.2.20\n"
                   "test 300 A 192.0.2.30\n"
                   "mx MX 10 mail.example.org.\n";

uint8_t *N(const char *t)
{
    static uint8_t bufs[16][DNS_NAME_MAX];
    static int i;
    struct err e;
    uint8_t *b = bufs[i++ & 15];
    if (dns_name_from_text(t, (const uint8_t *)"\7example\3org", b, &e) < 0) fail_msg("%s", e.msg);
    return b;
}

struct rd *R(const char *type, const char *value)
{
    static struct rd bufs[16];
    static int i;
    static struct dns_rr rr;
    struct err e;
    if (dns_rr_parse_text("x.example.org.", type, value, 0, (const uint8_t *)"\7example\3org", &rr,
                          &e) < 0)
        fail_msg("%s %s: %s", type, value, e.msg);
    struct rd *r = &bufs[i++ & 15];
    assert_true(rr.rdlen <= sizeof r->d);
    memcpy(r->d, rr.rdata, rr.rdlen);
    r->len = rr.rdlen;
    return r;
}

uint16_t T(const char *type)
{
    int t = dns_type_from_text(type);
    assert_true(t > 0);
    return (uint16_t)t;
}

struct zone *mkzone(const char *text)
{
    struct zone_version *v;
    struct err e;
    if (zone_load_string(text, "test.zone", NULL, &v, &e) < 0) fail_msg("%s", e.msg);
    struct zone *z = zone_new(v, &e);
    assert_non_null(z);
    return z;
}

const struct dns_rrset *rrset(struct zone *z, const char *owner, const char *type)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, N(owner));
    const struct zone_node *n = zone_version_find(zone_current(z), l, len);
    return n ? node_rrset(n, T(type)) : NULL;
}

bool has(struct zone *z, const char *owner, const char *type, const char *value)
{
    const struct dns_rrset *s = rrset(z, owner, type);
    struct rd *r = R(type, value);
    for (const uint8_t *p = s ? rrset_first(s) : NULL; p; p = rrset_next(s, p))
        if (dns_rdata_cmp(s->type, rr_rdata(p), rr_rdlen(p), r->d, r->len) == 0) return true;
    return false;
}

struct dns_update ADD(const char *owner, const char *type, const char *value, uint32_t ttl) {
    struct rd *r = R(type, value);
    return (struct dns_update){DNS_UPDATE_ADD, N(owner), T(type), ttl, r->d, r->len};
} struct dns_update DEL_RR(const char *owner, const char *type, const char *value) {
    struct rd *r = R(type, value);
    return (struct dns_update){DNS_UPDATE_REMOVE_RR, N(owner), T(type), 0, r->d, r->len};
} struct dns_update DEL_SET(const char *owner, const char *type) {
    return (struct dns_update){DNS_UPDATE_REMOVE_RRSET, N(owner), T(type), 0, NULL, 0};
} struct dns_update DEL_ALL(const char *owner) {
    return (struct dns_update){DNS_UPDATE_REMOVE_ALL, N(owner), 0, 0, NULL, 0};
} struct dns_prereq PRE(enum dns_prereq_kind k, const char *owner, const char *type,
                        const char *value) {
    struct dns_prereq p = {k, N(owner), type ? T(type) : 0, NULL, 0};
    if (value) {
        struct rd *r = R(type, value);
        p.rdata = r->d;
        p.rdlen = r->len;
    }
    return p;
}

/* Runs an update confined to `confine`; returns 0/-1, message in e. */
int run(struct zone *z, const char *confine, const struct dns_prereq *p, size_t np,
    const struct dns_update *u, size_t nu, uint32_t *serial, struct err *e)
{
    memset(e->msg, 0, sizeof e->msg);
    return dns_update_apply(z, N(confine), p, np, u, nu, NULL, serial, e);
}
