/*
 * tcp: DNS over TCP (RFC 1035 §4.2.2, RFC 7766) on a libuv loop that the
 * caller owns and shares with other services (the Cap'n Proto RPC server,
 * timers). Every message is preceded by a 2-byte length; a client may
 * pipeline several queries on one connection and gets the answers in the
 * same order. Partial reads are reassembled, answers are written without
 * blocking the loop (uv_try_write first, queued otherwise), a client that
 * stops reading them is no longer read from (bounded memory), a connection
 * on which no complete query is read and no answer written for
 * idle_timeout_ms is closed, a frame (length and message) must arrive
 * whole within frame_timeout_ms of its first byte (later bytes do not
 * extend it: no slowloris), and connections beyond max_conns, or beyond
 * max_conns_per_addr from one source prefix (so one client cannot take
 * every slot), are closed as soon as they are accepted.
 *
 * RCU: the loop thread must be registered as a liburcu QSBR reader
 * (rcu_register_thread) and kept offline (rcu_thread_offline) while it runs
 * the loop. This module goes online only while it answers the queries of one
 * read, so callbacks of other services on the same loop may block for a
 * grace period (synchronize_rcu) without deadlocking.
 */
#ifndef CEON_NET_TCP_H
#define CEON_NET_TCP_H
#include "net/addr.h"
#include "net/serve.h"
#include "net/xfr_out.h"
#include "util/err.h"
#include <stddef.h>
#include <uv.h>

#define DNS_TCP_MAX_CONNS 256
#define DNS_TCP_IDLE_MS 10000
#define DNS_TCP_MAX_PER_ADDR 32

struct dns_tcp_config {
    const struct net_addr *addrs; /* addresses to listen on, port included */
    size_t naddrs;
    unsigned max_conns;                  /* 0: DNS_TCP_MAX_CONNS */
    unsigned idle_timeout_ms;            /* 0: DNS_TCP_IDLE_MS */
    unsigned frame_timeout_ms;           /* 0: the idle timeout */
    unsigned max_conns_per_addr;         /* 0: DNS_TCP_MAX_PER_ADDR */
    unsigned char v4_prefix, v6_prefix;  /* what "one source" is; 0: /32 and /64 */
    const struct zone_set_handle *zones; /* the served zones (RCU-published) */
    struct xfr_out *xfr; /* AXFR/IXFR (net/xfr_out.h); NULL: REFUSED by the query engine */
};

struct dns_tcp;

/* Starts listening on every address. On failure (port in use, bad address)
 * nothing stays open, e holds a one-line message and -1 is returned; the
 * caller must still run the loop once (uv_run UV_RUN_NOWAIT) before closing
 * it, so the closed handles are released. */
int dns_tcp_start(uv_loop_t *loop, const struct dns_tcp_config *cfg, struct dns_tcp **out,
                  struct err *e);
/* Closes the listeners and every connection. The memory is released by the
 * loop's close callbacks, so run the loop until it is idle afterwards.
 * Safe on NULL. */
void dns_tcp_stop(struct dns_tcp *t);
/* Connections currently open (for tests and statistics). */
size_t dns_tcp_connections(const struct dns_tcp *t);
#endif
