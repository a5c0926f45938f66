/*
 * specenc: turns a parsed capc argument (eon/spec.h) into what goes on the
 * wire in a Prereq or Update: the owner name as presentation text without
 * the trailing dot (as the original sends it), the type number and, for the
 * kinds with a VALUE, the record's uncompressed RDATA parsed from zone-file
 * presentation format by the dns layer (libzscanner: every type it knows,
 * and RFC 3597 "\# len hex"). Names in NAME and VALUE are absolute, with or
 * without the trailing dot, as in the original.
 *
 * TXT is the exception, for compatibility with the original's capc: a
 * value that does not start with '"' is one string, byte for byte (so
 * `v=spf1 -all` stays one string, quotes and ';' inside are characters),
 * split into 255-byte character-strings on the wire as the original
 * splits it; a value starting with '"' is presentation format (several
 * strings, escapes).
 */
#ifndef CEON_EON_SPECENC_H
#define CEON_EON_SPECENC_H
#include "dns/name.h"
#include "eon/spec.h"
#include "util/err.h"
#include <stdint.h>

struct eon_rec {
    enum eon_spec_kind kind;
    char name[DNS_NAME_TEXT_MAX]; /* presentation form, no trailing dot */
    uint16_t type;                /* 0 for the kinds without a type */
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t *rdata; /* malloc'd, NULL when the kind has no value */
};

/* Fills r from s. Errors name the argument part that is wrong. */
int eon_spec_encode(const struct eon_spec *s, struct eon_rec *r, struct err *e);
void eon_rec_free(struct eon_rec *r);
#endif
