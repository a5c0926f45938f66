/* What the journal tests share: a temporary journal directory per test and
 * the zone example.org loaded from text, as capd loads it at start. */
#ifndef CEON_TEST_JOURNAL_FIXTURE_H
#define CEON_TEST_JOURNAL_FIXTURE_H
#include "dns/journal.h"
#include "dns/zone.h"
#include <stdbool.h>
#include <stdint.h>

extern const uint8_t APEX[]; /* example.org */

struct fixture {
    char dir[64];
};

/* cmocka per-test setup/teardown: *st is a struct fixture with a fresh
 * directory, removed afterwards. */
int setup(void **st);
int teardown(void **st);

/* example.org with this SOA serial, its SOA, NS and ns1 A, then `extra`
 * (zone-file lines relative to the apex). */
struct zone_version *load(uint32_t serial, const char *extra);
struct journal *jopen(const char *dir);
/* Loads the zone and replays the journal, as capd does at start. */
struct zone *start(struct journal *j, uint32_t serial, const char *extra,
                   struct journal_replay_info *info);
/* Update number i: adds a-i A and b-i TXT in one change set. */
int update(struct zone *z, struct journal *j, unsigned i, uint32_t *serial, struct err *e);
/* Is the name fmt (with %u = i) in v? */
bool present(const struct zone_version *v, const char *fmt, unsigned i);
#endif
