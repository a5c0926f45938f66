/*
 * notify: NOTIFY (RFC 1996) to the configured secondaries (--notify) after
 * every change of a zone, over UDP from the libuv loop.
 *
 * notifier_changed may be called from any thread (it is the zone publish
 * hook, dns/zone.h: updates publish on libuv's thread pool); it records the
 * zone and serial and wakes the loop, which does the sending. Each zone and
 * secondary pair has at most one NOTIFY outstanding: it is retried with
 * backoff (NOTIFY_FIRST_RETRY_MS, doubling) until the secondary answers,
 * at most NOTIFY_MAX_TRIES times. Changes that arrive while one is
 * outstanding are coalesced into one more NOTIFY with the newest serial,
 * sent once the outstanding one is answered (or retried with the newest
 * serial). With a TSIG key, every NOTIFY is signed.
 */
#ifndef CEON_NET_NOTIFY_H
#define CEON_NET_NOTIFY_H
#include "dns/tsig.h"
#include "net/addr.h"
#include "util/err.h"
#include "util/metrics.h"
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NOTIFY_MAX_TRIES 6
#define NOTIFY_FIRST_RETRY_MS 500

struct notifier_config {
    const struct net_addr *targets; /* copied */
    size_t ntargets;
    const struct dns_tsig_key *key; /* NULL: unsigned; must outlive the notifier */
    unsigned first_retry_ms;        /* 0: NOTIFY_FIRST_RETRY_MS */
    unsigned max_tries;             /* 0: NOTIFY_MAX_TRIES */
};

/* What the notifier has done so far (for tests and logs). */
struct notifier_counts {
    unsigned long sent;      /* datagrams, retries included */
    unsigned long answered;  /* NOTIFYs a secondary answered */
    unsigned long abandoned; /* NOTIFYs given up after max_tries */
};

struct notifier;
/* Parses "ADDR" or "ADDR:PORT" ("[V6]:PORT" for IPv6 with a port; port 53
 * by default). */
int notifier_parse_target(const char *text, struct net_addr *out, struct err *e);
int notifier_start(uv_loop_t *loop, const struct notifier_config *cfg, struct notifier **out,
                   struct err *e);
/* The zone apex (lowercase wire) now has this serial. Any thread. */
void notifier_changed(void *notifier, const uint8_t *apex, uint32_t serial);
/* Closes the sockets and timers (run the loop afterwards); changes reported
 * later are ignored. */
void notifier_stop(struct notifier *n);
void notifier_counts(const struct notifier *n, struct notifier_counts *out);
/* Writes capd_notify_total{outcome="sent"|"answered"|"abandoned"} (the
 * shape of struct metrics_source's render; ud is the notifier). */
void notifier_render(void *notifier, struct metrics_text *t);
/* Frees it, after notifier_stop and once the loop has run the closes. */
void notifier_free(struct notifier *n);
#endif
