/*
 * udp: the UDP side of the DNS data plane. For every bound address, one
 * socket and one worker thread per core: a leader that blocks in recvmmsg
 * and helpers that join only while the socket holds a backlog (udp.c says
 * why not one SO_REUSEPORT socket per worker). A worker receives a batch
 * with recvmmsg, answers each query with dns_answer into preallocated
 * buffers and sends the batch with sendmmsg: no allocation, no lock and
 * (below log level 1) no logging per query.
 *
 * Workers are liburcu QSBR readers: they read the zone set once per batch and
 * report a quiescent state after it; while blocked waiting for packets they
 * are offline, so an idle server never delays a zone update.
 */
#ifndef CEON_NET_UDP_H
#define CEON_NET_UDP_H
#include "net/addr.h"
#include "net/serve.h"
#include "util/err.h"
#include <stddef.h>

struct udp_config {
    const struct net_addr *addrs; /* addresses to bind, port included */
    size_t naddrs;
    unsigned workers_per_addr;           /* 0: one per online CPU */
    const struct zone_set_handle *zones; /* the served zones (RCU-published) */
};

struct udp_server;

/* Binds every socket before starting any thread, so a port in use or a bad
 * address fails here with a one-line message and nothing left running. */
struct udp_server *udp_start(const struct udp_config *cfg, struct err *e);
/* Stops and joins every worker, closes the sockets, frees s. Safe on NULL. */
void udp_stop(struct udp_server *s);
/* Number of worker threads running (for the startup log line). */
size_t udp_worker_count(const struct udp_server *s);
/* How often a full batch woke a parked helper (tests, /metrics). */
size_t udp_helper_wakeups(const struct udp_server *s);
struct metrics_text;
/* A metrics_source render (net/metrics_http.h): the worker count and the
 * helper wake-ups of the struct udp_server given as udp_server. */
void udp_render_metrics(void *udp_server, struct metrics_text *t);
#endif
