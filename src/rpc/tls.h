/*
 * tls: the vat's TLS, as the OCaml original (capnp-rpc-unix) does it, on
 * OpenSSL with memory BIOs so that the event loop (libuv) owns the socket.
 *
 * A server identity is an RSA-2048 key with a self-signed certificate
 * (CN "capnp"); peers do not use CAs. The client accepts a server only if
 * base64url(SHA-256(DER SubjectPublicKeyInfo)) of its key equals the
 * fingerprint in the sturdy ref; the server asks the client for a
 * certificate (any) and does not verify it.
 *
 * A session is a byte filter: ciphertext from the socket goes into
 * tls_session_input, which hands out plaintext; plaintext to send goes into
 * tls_session_write; tls_session_take_output gives the ciphertext to write
 * to the socket. Plaintext written before the handshake has finished is
 * kept and sent once it has.
 */
#ifndef CEON_RPC_TLS_H
#define CEON_RPC_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* base64url of a SHA-256 digest: 43 characters. */
#define TLS_FP_LEN 43

struct tls_key;

/* Loads the PEM RSA key at path, or creates one (mode 0600, 2048 bits) if
 * the file does not exist; path "" gives an ephemeral key. */
struct tls_key *tls_key_load(const char *path, struct err *e);
/* From PEM bytes (for tests). */
struct tls_key *tls_key_from_pem(const char *pem, size_t len, struct err *e);
void tls_key_free(struct tls_key *k);
/* The key's fingerprint, base64url without padding, NUL-terminated. */
const char *tls_key_fingerprint(const struct tls_key *k);
/* SHA-256 of the key file's PEM bytes: the secret from which fixed service
 * IDs are derived (as the original does). */
const uint8_t *tls_key_secret_hash(const struct tls_key *k);

struct tls_session;

/* A server-side session for key k (which must outlive the session). */
struct tls_session *tls_session_server(struct tls_key *k, struct err *e);
/* A client-side session that will accept only a server whose key has
 * fingerprint expected_fp (base64url). It presents an ephemeral
 * self-signed certificate (one per process, made on first use). */
struct tls_session *tls_session_client(const char *expected_fp, struct err *e);
void tls_session_free(struct tls_session *s);

/* Plaintext sink for tls_session_input. */
typedef int (*tls_plain_fn)(void *ud, const uint8_t *p, size_t n);

/* Feeds n bytes of ciphertext. Decrypted bytes are passed to fn (which
 * may return -1 to stop: then this returns -1 too, with e untouched).
 * Returns 0, or -1 with e filled on a TLS failure or a fingerprint
 * mismatch ("server key fingerprint mismatch (expected X, got Y)"). */
int tls_session_input(struct tls_session *s, const uint8_t *in, size_t n, tls_plain_fn fn, void *ud,
                      struct err *e);
/* Starts the handshake (client: produces the ClientHello). */
int tls_session_start(struct tls_session *s, struct err *e);
/* Queues plaintext. Returns 0 / -1. */
int tls_session_write(struct tls_session *s, const void *p, size_t n, struct err *e);
/* Moves pending ciphertext into a malloc'd buffer (*out, *len); returns
 * false when there is none. */
bool tls_session_take_output(struct tls_session *s, uint8_t **out, size_t *len);
bool tls_session_established(const struct tls_session *s);
/* The peer's fingerprint once established ("" before). */
const char *tls_session_peer_fingerprint(const struct tls_session *s);
/* A close_notify alert to send before closing. */
void tls_session_shutdown(struct tls_session *s);

/* Fingerprint (base64url SHA-256 of DER SubjectPublicKeyInfo) of a PEM
 * certificate or key, for tests and tools. out holds TLS_FP_LEN+1. */
int tls_fingerprint_of_pem(const char *pem, size_t len, char *out, struct err *e);
#endif
