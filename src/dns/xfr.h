/*
 * xfr: outgoing zone transfers, AXFR (RFC 5936) and IXFR (RFC 1995), made
 * message by message from one immutable zone version, so a transfer of any
 * size needs one message buffer, never the whole answer.
 *
 * A stream holds its version (zone_version_hold) from xfr_stream_open to
 * xfr_stream_close, so the caller may go offline (RCU) between messages and
 * updates keep being published meanwhile; the stream keeps sending the
 * snapshot it started from. An IXFR stream also holds a journal iterator
 * (an LMDB read transaction, which only keeps LMDB from reusing the pages
 * it reads; it never blocks a writer).
 *
 * AXFR: SOA, every other RR of the version exactly once (canonical order,
 * glue and occluded data included), SOA; one RR set may span messages.
 * IXFR, by the client's serial (the SOA in the query's authority section):
 *  - not older than ours (RFC 1982): one message with our SOA alone;
 *  - the journal has every change set from it to our serial: the
 *    difference sequences of RFC 1995 §4 (our SOA, then per change set the
 *    old SOA, the deleted RRs, the new SOA, the added RRs; our SOA last);
 *  - otherwise (no journal, compacted, unknown serial): AXFR-style, the
 *    whole zone between two SOAs, as RFC 1995 §4 allows.
 * Only the first message carries the question (RFC 5936 §2.2.1 lets later
 * ones leave it out). Messages are complete DNS messages without the TCP
 * length prefix; TSIG is added by the caller (dns/tsig.h), which leaves
 * room for it in cap.
 */
#ifndef CEON_DNS_XFR_H
#define CEON_DNS_XFR_H
#include "dns/journal.h"
#include "dns/zone.h"
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xfr_request {
    uint16_t id;
    uint16_t qtype;              /* DNS_T_AXFR or DNS_T_IXFR */
    uint8_t lname[DNS_NAME_MAX]; /* the zone asked for, lowercase */
    const uint8_t *question;     /* the question section in the query, to echo */
    size_t question_len;
    bool has_serial; /* IXFR: the authority section had an SOA */
    uint32_t serial; /* its serial */
};

/* True when q is a query (QR clear, opcode QUERY) with one question of type
 * AXFR or IXFR. Reads the header and the question only. */
bool xfr_is_request(const uint8_t *q, size_t len);

/* Parses an AXFR/IXFR query (bounds-checked; r->question points into q).
 * Returns 0, or -1 when it is malformed (answer FORMERR). */
int xfr_request_parse(const uint8_t *q, size_t len, struct xfr_request *r);

/* Writes into out (cap >= 512) an answer with no records and this rcode,
 * echoing the query's ID and question when they can be read. Returns its
 * length (0 if q has no header). */
size_t xfr_refusal(const uint8_t *q, size_t len, uint16_t rcode, uint8_t *out, size_t cap);

enum xfr_kind {
    XFR_AXFR,
    XFR_IXFR,           /* difference sequences from the journal */
    XFR_IXFR_FULL,      /* IXFR answered with the whole zone */
    XFR_IXFR_UP_TO_DATE /* IXFR answered with our SOA alone */
};

struct xfr_stream;

/*
 * Starts a transfer of v (the current version of the zone r asks for; the
 * caller is inside the read-side section in which it found v) for request
 * r (copied: r and its query may go once this returns). j may be NULL
 * (IXFR then sends the whole zone).
 */
int xfr_stream_open(const struct xfr_request *r, const struct zone_version *v, struct journal *j,
                    struct xfr_stream **out, struct err *e);
/* Writes the next message into out (at most cap bytes, cap <= 65535) and
 * returns 1, or returns 0 when the transfer is complete (nothing written),
 * or -1 (e set: a record too large for cap, a journal read error). */
int xfr_stream_next(struct xfr_stream *s, uint8_t *out, size_t cap, size_t *len, struct err *e);
void xfr_stream_close(struct xfr_stream *s);

enum xfr_kind xfr_stream_kind(const struct xfr_stream *s);
const char *xfr_kind_name(enum xfr_kind k);
/* Records and messages written so far (for the log line). */
uint64_t xfr_stream_records(const struct xfr_stream *s);
uint64_t xfr_stream_messages(const struct xfr_stream *s);
uint32_t xfr_stream_serial(const struct xfr_stream *s);

/* The apex SOA of v's zone as it was at `serial` (RFC 1995's derivation,
 * the one IXFR uses: the serial set, the other fields from the first
 * change set after `serial` that replaced the SOA, else v's SOA), for
 * capd's replication to secondaries. rd must hold XFR_SOA_MAX bytes.
 * Returns 0, 1 when the journal does not chain from `serial` to v's
 * serial (then nothing is known of that SOA), -1 on a journal error. */
#define XFR_SOA_MAX 600
int xfr_soa_at(struct journal *j, const struct zone_version *v, uint32_t serial, uint8_t *rd,
               uint16_t *rdlen, uint32_t *ttl, struct err *e);
#endif
