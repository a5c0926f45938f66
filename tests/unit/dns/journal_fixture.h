/* What the journal tests share: a temporary journal directory per test and
 * the zone example.org loaded from text, as capd loads it at start. */
#ifndef CEON_TEST_JOURNAL_FIXTURE_H
#define CEON_TEST_JOURNAL_FIXTURE_H
#include "dns/journal.h"
#include "dns/zone.h"
#include <stdbool.h>
#include <stddef.h>
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
/* Replays the journal onto v (which it takes) and makes the zone, as capd
 * does at start. */
struct zone *start_from(struct journal *j, struct zone_version *v,
                        struct journal_replay_info *info);
/* Loads the zone and replays the journal, as capd does at start. */
struct zone *start(struct journal *j, uint32_t serial, const char *extra,
                   struct journal_replay_info *info);
/* Closes the journal, reopens it (with chunk_bytes of records per snapshot
 * chunk; 0: the journal's default) and replays it onto the file at serial
 * 1: the replayed zone must be the live one (same serial and content
 * hash). Frees the old zone and returns the new one. */
struct zone *reopen(const char *dir, struct journal **j, struct zone *z, size_t chunk_bytes,
                    struct journal_replay_info *info);
/* Update number i: adds a-i A and b-i TXT in one change set. */
int update(struct zone *z, struct journal *j, unsigned i, uint32_t *serial, struct err *e);
/* Updates number from .. from + n - 1; fails the test on an error. */
void updates(struct zone *z, struct journal *j, unsigned from, unsigned n);
/* The apex SOA's RDATA with this serial and refresh (MNAME, RNAME and the
 * other timers as the file's); returns its length. */
#define SOA_RDLEN 61
uint16_t soa_rdata(uint8_t rd[SOA_RDLEN], uint32_t serial, uint32_t refresh);
/* An update that replaces the apex SOA with one of this serial and refresh
 * (MNAME, RNAME and the other timers as the file's). */
int soa_update(struct zone *z, struct journal *j, uint32_t serial, uint32_t refresh, uint32_t *out,
               struct err *e);
/* The apex SOA's refresh timer in v (the field after the serial). */
uint32_t soa_refresh(const struct zone_version *v);
/* Is the name fmt (with %u = i) in v? */
bool present(const struct zone_version *v, const char *fmt, unsigned i);
#endif
