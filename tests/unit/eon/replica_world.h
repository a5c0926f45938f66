/*
 * replica_world: the set-up of tests/unit/eon/test_replica.c. A primary
 * (a journaled zone, the Primary service, eon/replica's queues) on one
 * vat, and test Secondary objects on another vat over loopback, each
 * applying what it gets to its own zone through the real update engine (a
 * full transfer is staged and becomes the zone when the SOA arrives, as
 * docs/replication.md says a secondary does) and recording the shape of
 * every call (struct rec) for the tests to check. One world at a time.
 */
#ifndef CEON_TEST_REPLICA_WORLD_H
#define CEON_TEST_REPLICA_WORLD_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "eon/primary.h"
#include "eon/replica.h"

extern const uint8_t root_name[1];
extern uint8_t apex[DNS_NAME_MAX]; /* example.org */

/* ------------------------------------------------------------ a Secondary */

enum { SEC_OK, SEC_EXCEPTION, SEC_STALL };

struct rec {
    size_t np, nu;
    bool clear;        /* [remove(apex, SOA)] alone */
    bool soa_add;      /* an add of the apex SOA */
    bool soa_add_last; /* ... as the last operation */
    uint32_t soa_serial;
    uint32_t prereq_serial; /* existsData(apex, SOA) value's serial */
};

struct tsec {
    struct rpc_object o;
    char *uri; /* its sturdy ref */
    struct zone *zone;
    int mode;
    bool staging;
    struct dns_change *staged;
    size_t nstaged;
    struct rec recs[256];
    size_t nrecs;
    struct rpc_call *stalled[16];
    size_t nstalled;
    size_t updates_seen;
};

/* What a test Secondary's dispatch is (one without a sturdy ref uses it alone). */
extern const struct rpc_object_vtbl sec_vt;
/* A Secondary on the secondaries' vat with a sturdy ref (s->uri) and an
 * empty zone; sec_joined also registers it and waits for the zone. */
struct tsec *sec_new(void);
struct tsec *sec_joined(void);
/* After world_down: the vats are gone. */
void sec_free(struct tsec *s);
/* Handles one Secondary.update as the mode says (tests answer stalled calls with it). */
void sec_update(struct tsec *s, struct rpc_call *call);
/* registerSeconday from the secondaries' vat, as a secondary capd does. */
int register_sec(struct tsec *s, struct err *e);

/* ------------------------------------------------------------ the world */

struct world {
    uv_loop_t *loop;
    uv_timer_t tick;
    char dir[64];
    struct zone_set_handle zones;
    struct zone *zone;
    struct journal *journal;
    struct eon_state st;
    struct eon_ctx ctx;
    struct eon_repl *repl;
    struct rpc_vat *svat; /* the secondaries' */
    struct rpc_cap *primary;
    char *puri;
    char secdir[256];
};
extern struct world W;

/* The primary's zone holds records A records plus SOA, NS and ns's A. */
void world_up(size_t records);
void world_down(void);

uint32_t serial_of(struct zone *z);
/* Runs the loop until s's zone equals the primary's (false after ms). */
bool converge(struct tsec *s, unsigned ms);
void run_for(unsigned ms);
/* An A record added to z through the update engine (journaled when j). */
void zone_add_a(struct zone *z, struct journal *j, const char *name, const char *ip);
/* The same on the primary, journaled. */
void primary_add(const char *name, const char *ip);
/* The primary's .cap file holding uri (NULL if none), its name without
 * directory and ".cap", and the number of .cap files. */
char *cap_file(const char *uri);
char *base_of(const char *path);
size_t count_caps(void);
/* s's .cap file name without ".cap" (what eon_repl_info takes). */
char *sec_base(const struct tsec *s);
/* The queue's state for base once the loop ran 20 ms. */
struct eon_replica_info replica_info(const char *base);
#endif
