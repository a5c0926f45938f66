/*
 * xfr_out: serving AXFR and IXFR over TCP (the messages come from
 * dns/xfr.h), with access control by source address (--allow-transfer)
 * and, when keys are configured, TSIG required (dns/tsig.h).
 *
 * A transfer writes one message at a time on its connection and makes the
 * next one only when the previous write has completed, so a slow secondary
 * holds one message of memory and never more (TCP backpressure), and the
 * loop stays free for other connections between messages. The zone version
 * is held by the stream (zone_version_hold), not by staying an online RCU
 * reader, so updates are published meanwhile and the transfer goes on
 * sending the snapshot it started with. The connection's other queries
 * wait until the transfer ends (answers stay in order).
 */
#ifndef CEON_NET_XFR_OUT_H
#define CEON_NET_XFR_OUT_H
#include "dns/journal.h"
#include "dns/tsig.h"
#include "dns/zone.h"
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

/* One --allow-transfer entry: an address and a prefix length. */
struct xfr_acl {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};

/* Parses "ADDR" or "ADDR/LEN" (numeric IPv4 or IPv6). */
int xfr_acl_parse(const char *text, struct xfr_acl *out, struct err *e);
/* True when peer (IPv4, IPv6 or v4-mapped IPv6) is inside one entry. */
bool xfr_acl_allows(const struct xfr_acl *acl, size_t n, const struct sockaddr *peer);

struct xfr_out_config {
    const struct xfr_acl *allow;      /* copied */
    size_t nallow;                    /* 0: every transfer is REFUSED */
    struct dns_tsig_key *const *keys; /* not copied: must outlive the server */
    size_t nkeys;                     /* > 0: transfers must be signed with one of them */
    struct journal *journal;          /* for IXFR; NULL: IXFR sends the whole zone */
};

struct xfr_out;
struct xfr_out *xfr_out_new(const struct xfr_out_config *cfg, struct err *e);
void xfr_out_free(struct xfr_out *x);

/* What a transfer tells its connection: after each message written
 * (finished false) and once at the end (finished true, then it is gone).
 * status < 0: the write failed; close the connection. */
typedef void (*xfr_progress_fn)(void *conn, int status, bool finished);

struct xfr_transfer;

/*
 * For an AXFR/IXFR query q from peer on stream (the caller is an online RCU
 * reader and zs is the current zone set). Either answers at once (refused,
 * NOTAUTH, FORMERR, NOTAUTH for a zone we do not serve): writes the answer
 * into ans (anscap >= 512) and returns 0 with *alen set; or starts a
 * transfer that writes on stream by itself and reports through progress,
 * sets *t (for xfr_transfer_abort) and returns 1. The caller's thread may have gone offline and
 * back online inside: pointers into the zone store from before are stale.
 */
int xfr_out_query(struct xfr_out *x, const struct zone_set *zs, const uint8_t *q, size_t qlen,
                  const struct sockaddr *peer, uv_stream_t *stream, xfr_progress_fn progress,
                  void *conn, uint8_t *ans, size_t anscap, size_t *alen, struct xfr_transfer **t);
/* The connection is closing: stop (progress is not called any more). */
void xfr_transfer_abort(struct xfr_transfer *t);
#endif
