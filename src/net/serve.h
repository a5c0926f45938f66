/*
 * serve: what the UDP and TCP transports share: answering one query with
 * the dns layer, the per-thread query counters (net/stats.h) and the
 * per-query log lines (only when the log level asks for them; at level 0
 * this is dns_answer, a few counter increments and one compare).
 */
#ifndef CEON_NET_SERVE_H
#define CEON_NET_SERVE_H
#include "dns/query.h"
#include "dns/zone.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Answers query q from *zs into out (see dns_answer). The caller is an
 * online RCU reader and *zs came from zone_set_current(zones).
 *
 * At log level 1 this also logs one line per query and answer (client,
 * transport, qname, qtype, rcode, size); level 2 adds every field of struct
 * query_info; level 3 adds hex dumps of both messages. Logging may block on
 * stderr, so it is done with the thread offline (a slow log never delays a
 * zone update), after which *zs is reloaded: pointers from before the call
 * are then stale. Every query is counted (net/stats.h).
 */
size_t net_answer(const struct zone_set_handle *zones, const struct zone_set **zs, const uint8_t *q,
                  size_t qlen, uint8_t *out, size_t outcap, bool over_tcp,
                  const struct sockaddr *peer);
#endif
