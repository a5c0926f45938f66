/*
 * net_fixture: the set-up the net layer's tests share (net_fixture.c).
 */
#ifndef CEON_TEST_NET_FIXTURE_H
#define CEON_TEST_NET_FIXTURE_H
#include <stddef.h>
#include <stdint.h>

#include "dns/zone.h"

struct fixture {
    struct zone_set_handle zones;
    struct zone *zone;
};
/* cmocka group set-up: an RCU-registered thread and t.example. served
 * from a zone set (*state: a struct fixture). */
int setup(void **state);
int teardown(void **state);
/* Seconds on the monotonic clock. */
double now(void);
/* Builds a query for name (presentation, absolute, simple labels) into
 * out (512 bytes); returns its length. */
size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype);
/* A free loopback port of socket type `type`: bound once by the kernel's
 * choice, then released. */
uint16_t free_port(int type);
#endif
