/*
 * tsig: TSIG (RFC 8945, hmac-sha256) for zone transfers and NOTIFY, on
 * libknot's implementation (tsig-op.h). Not on the query hot path: checking
 * a request parses it with libknot, which allocates.
 *
 * A signed request gets a signed answer; every message of a multi-message
 * answer is signed, each MAC chaining from the one before (RFC 8945
 * §5.3.1). A request whose key is unknown or whose MAC is wrong gets
 * NOTAUTH with an unsigned TSIG carrying BADKEY or BADSIG; one whose time
 * is outside the fudge gets NOTAUTH with a signed TSIG carrying BADTIME and
 * our time (§5.2).
 */
#ifndef CEON_DNS_TSIG_H
#define CEON_DNS_TSIG_H
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_tsig_key;

/* "NAME:BASE64SECRET" (hmac-sha256), or "hmac-sha256:NAME:BASE64SECRET". */
int dns_tsig_key_parse(const char *spec, struct dns_tsig_key **out, struct err *e);
void dns_tsig_key_free(struct dns_tsig_key *k);
/* The key's name in presentation form (for logs). */
const char *dns_tsig_key_name(const struct dns_tsig_key *k);
/* Bytes to keep free at the end of a message for its TSIG RR. */
size_t dns_tsig_reserve(const struct dns_tsig_key *k);

/* One signed exchange: the key and the MAC the next signature chains from. */
struct dns_tsig_session {
    const struct dns_tsig_key *key; /* NULL: not signed */
    uint8_t mac[64];
    size_t mac_len;
    unsigned signed_messages;
};

/*
 * Checks the TSIG of request q against keys. Returns
 *   1  signed with one of the keys and valid: s is ready to sign the answer;
 *   0  not signed (s->key NULL);
 *  -1  a TSIG error: on entry answer holds the caller's NOTAUTH answer
 *      (answer_len bytes, cap available), on return it carries the TSIG RR
 *      with the error, and why says what was wrong (for the log);
 *  -2  the request is malformed (the caller answers FORMERR).
 */
int dns_tsig_check_request(const struct dns_tsig_key *const *keys, size_t nkeys, const uint8_t *q,
                           size_t qlen, struct dns_tsig_session *s, uint8_t *answer,
                           size_t *answer_len, size_t cap, char *why, size_t whylen);

/* Signs msg (len bytes, room up to cap) in session s: the first message
 * chains from the request's MAC (none for a request we send), later ones
 * from our previous MAC. Returns 0 or -1 (e set). */
int dns_tsig_sign(struct dns_tsig_session *s, uint8_t *msg, size_t *len, size_t cap, struct err *e);
#endif
