/*
 * name: domain names in uncompressed wire form (a sequence of length-prefixed
 * labels ending with the zero-length root label, at most DNS_NAME_MAX bytes).
 *
 * Every function here takes names that are already valid wire names (as
 * produced by dns_name_from_text, dns_name_unpack or dns_name_check) unless it
 * says otherwise; only dns_name_check and dns_name_unpack accept untrusted
 * bytes. No function allocates.
 *
 * Case: labels keep the case they were given. Comparisons are ASCII
 * case-insensitive (RFC 4343); dns_name_lower makes the lowercase copy that
 * the zone store hashes on.
 */
#ifndef CEON_DNS_NAME_H
#define CEON_DNS_NAME_H
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 255 /* bytes of a wire name, root label included */
#define DNS_LABEL_MAX 63
#define DNS_NAME_TEXT_MAX 1024 /* presentation form, worst case every byte as \DDD, plus NUL */

/* Length in bytes of the valid wire name n (root label included). */
size_t dns_name_len(const uint8_t *n);

/* Validates untrusted bytes: returns the length of the uncompressed wire name
 * at p if it is well formed (labels <= 63, total <= 255, no compression
 * pointers, root label within the first max bytes), else 0. */
size_t dns_name_check(const uint8_t *p, size_t max);

/* Parses presentation form (RFC 1035 §5.1: \X and \DDD escapes, "." alone is
 * the root, "@" is the origin) into out. A name not ending in an unescaped dot
 * is relative and gets origin appended; origin may be NULL, in which case
 * relative names are an error. Returns the wire length, or -1 with e set. */
int dns_name_from_text(const char *text, const uint8_t *origin, uint8_t out[DNS_NAME_MAX],
                       struct err *e);

/* Writes the presentation form of n (always absolute, ending in "."), with
 * RFC 1035 escapes for '.', '\\', '"', '(', ')', ';', '@', '$', spaces and
 * non-printable bytes (\DDD). Returns the text length (NUL written), or -1 if
 * it does not fit in cap bytes (then out holds a truncated NUL-terminated
 * prefix if cap > 0). */
int dns_name_to_text(const uint8_t *n, char *out, size_t cap);

/* Lowercase (ASCII only) copy of n into dst (which may equal n). Returns the
 * length. */
size_t dns_name_lower(uint8_t *dst, const uint8_t *n);
/* The same when n's length (len bytes, the root included) is known. */
void dns_name_lower_len(uint8_t *dst, const uint8_t *n, size_t len);

/* Number of labels, not counting the root: "." -> 0, "a.b." -> 2. */
int dns_name_labels(const uint8_t *n);

/* Case-insensitive equality. */
bool dns_name_equal(const uint8_t *a, const uint8_t *b);

/* Canonical DNS order of RFC 4034 §6.1: compare label by label from the
 * root, each label as a lowercase byte string (shorter prefix first).
 * Returns <0, 0, >0. */
int dns_name_cmp(const uint8_t *a, const uint8_t *b);

/* True if name equals parent or lies below it (case-insensitive). */
bool dns_name_is_subdomain(const uint8_t *name, const uint8_t *parent);

/* Pointer to the suffix of n after skipping `skip` leading labels (no copy;
 * skip must be <= dns_name_labels(n)). */
const uint8_t *dns_name_skip(const uint8_t *n, int skip);

/* Reads a possibly compressed name from a packet (RFC 1035 §4.1.4) starting
 * at *pos, writes it uncompressed into out and advances *pos past the name
 * as it appears at that position. Safe against any input: every pointer must
 * point strictly backwards (which also makes loops impossible), every byte
 * read is inside pkt[0..len), labels with the reserved 0x40/0x80 prefixes are
 * rejected, and the result is at most 255 bytes. Returns the uncompressed
 * length, or -1 if malformed. */
int dns_name_unpack(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[DNS_NAME_MAX]);

/* Hash of the (already lowercased) wire name, for the zone store. */
uint32_t dns_name_hash(const uint8_t *lname, size_t len);

/* ASCII lowercase of every byte value (a table: the hot path lowercases
 * every query name). */
extern const uint8_t dns_lower_tab[256];
static inline uint8_t dns_lower(uint8_t c)
{
    return dns_lower_tab[c];
}
#endif
