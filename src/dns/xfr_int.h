/*
 * xfr_int: what xfr.c (requests, messages, AXFR) and xfr_ixfr.c (IXFR from
 * the journal) share. Private to the dns layer.
 */
#ifndef CEON_DNS_XFR_INT_H
#define CEON_DNS_XFR_INT_H
#include "dns/xfr.h"

#define XFR_SOA_RDATA_MAX XFR_SOA_MAX /* two names of at most 255 bytes and 20 bytes of numbers */

/* One RR to write. Pointers stay valid until the next xfr_next_rr. */
struct xfr_rr {
    const uint8_t *owner;
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rd;
    uint16_t rdlen;
};

/* The SOA as it was before change set `index` of an IXFR (the first change
 * set at or after it that replaced the SOA says what it was). */
struct xfr_soa_tpl {
    size_t index;
    uint32_t ttl;
    uint16_t len;
    uint8_t rd[XFR_SOA_RDATA_MAX];
};

struct xfr_stream {
    enum xfr_kind kind;
    const struct zone_version *v; /* held */
    uint16_t id;
    uint8_t question[DNS_NAME_MAX + 4];
    size_t question_len;
    uint64_t records, messages;
    bool have_pending;     /* pending did not fit in the last message */
    struct xfr_rr pending; /* the next RR to write */
    int phase;
    /* AXFR cursor */
    struct zone_cursor cursor;
    const struct zone_node *node; /* the cursor's current node */
    size_t set;
    const uint8_t *rr;
    /* IXFR */
    struct journal_iter *it;
    const struct dns_change *ch; /* the current change set */
    size_t nch, ich;
    uint32_t from, to;
    size_t set_index, nsets;
    struct xfr_soa_tpl *tpl;
    size_t ntpl;
    uint8_t soa[XFR_SOA_RDATA_MAX]; /* the SOA being written, its serial set */
};

/* The apex SOA RR of s->v with the given serial, in s->soa. */
int xfr_soa_rr(struct xfr_stream *s, const uint8_t *rd, uint16_t rdlen, uint32_t ttl,
               uint32_t serial, struct xfr_rr *out, struct err *e);
/* Where the SERIAL field starts in SOA RDATA, or -1 if it is malformed. */
int xfr_soa_serial_offset(const uint8_t *rd, size_t rdlen);

/* IXFR (xfr_ixfr.c): decides between difference sequences and the whole
 * zone for client serial `since` (sets s->kind), and gives the RRs. */
int xfr_ixfr_plan(struct xfr_stream *s, struct journal *j, uint32_t since, struct err *e);
int xfr_ixfr_next_rr(struct xfr_stream *s, struct xfr_rr *out, struct err *e);
void xfr_ixfr_close(struct xfr_stream *s);
#endif
