/*
 * b64url: base64url without padding (RFC 4648 §5), as used in sturdy ref
 * URIs, state-dir file names and ACME JWS.
 */
#ifndef CEON_B64URL_H
#define CEON_B64URL_H
#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, not counting the NUL. */
static inline size_t b64url_enc_len(size_t n) { return (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0); }
/* Writes the encoding and a NUL to out, which must hold b64url_enc_len(n)+1
 * bytes. Returns the encoded length. */
size_t b64url_encode(const void *in, size_t n, char *out);
/* Decodes len characters (no padding, no whitespace; '=' padding tolerated
 * at the end). Returns the decoded length, or -1 on an invalid character,
 * impossible length, or if the result does not fit in cap bytes. */
long b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
#endif
