/* What tests/unit/dns/test_update.c and test_update_rules.c share: the
 * test zone example.org, names (N) and RDATA (R) from presentation text,
 * type codes (T), zone look-ups, update and prerequisite builders, and
 * running an update with its outcome checked (OK, FAILS). */
#ifndef CEON_TEST_UPDATE_FIXTURE_H
#define CEON_TEST_UPDATE_FIXTURE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/update.h"
#include "dns/zone.h"

extern const char *ZONE; /* example.org, serial 100 */

/* A name relative to example.org (or absolute), in one of 16 rotating buffers. */
uint8_t *N(const char *t);
/* RDATA from presentation text, in one of 16 rotating buffers (N and R
 * reuse their buffers: build update arrays right before use). */
struct rd {
    uint8_t d[512];
    uint16_t len;
};
struct rd *R(const char *type, const char *value);
uint16_t T(const char *type);
struct zone *mkzone(const char *text);
const struct dns_rrset *rrset(struct zone *z, const char *owner, const char *type);
/* z serves owner type with that value. */
bool has(struct zone *z, const char *owner, const char *type, const char *value);
struct dns_update ADD(const char *owner, const char *type, const char *value, uint32_t ttl);
struct dns_update DEL_RR(const char *owner, const char *type, const char *value);
struct dns_update DEL_SET(const char *owner, const char *type);
struct dns_update DEL_ALL(const char *owner);
struct dns_prereq PRE(enum dns_prereq_kind k, const char *owner, const char *type,
                      const char *value);
/* Runs an update confined to `confine`; returns 0/-1, message in e. */
int run(struct zone *z, const char *confine, const struct dns_prereq *p, size_t np,
        const struct dns_update *u, size_t nu, uint32_t *serial, struct err *e);

#define OK(z, p, np, u, nu)                                                                        \
    do {                                                                                           \
        struct err e_;                                                                             \
        uint32_t s_;                                                                               \
        if (run(z, "example.org.", p, np, u, nu, &s_, &e_) != 0) fail_msg("%s", e_.msg);           \
    } while (0)
#define FAILS(z, confine, p, np, u, nu, text)                                                      \
    do {                                                                                           \
        struct err e_;                                                                             \
        uint32_t s_, before_ = zone_current(z)->serial;                                            \
        assert_int_equal(run(z, confine, p, np, u, nu, &s_, &e_), -1);                             \
        assert_string_equal(e_.msg, text);                                                         \
        assert_int_equal(zone_current(z)->serial, before_);                                        \
    } while (0)
#endif
