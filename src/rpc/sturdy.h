/*
 * sturdy: sturdy ref URIs in the form the OCaml original (capnp-rpc-unix)
 * writes and reads, so cap files are interchangeable:
 *
 *   capnp://sha-256:<FP>@HOST:PORT/<ID>     TLS, TCP
 *   capnp://insecure@HOST:PORT/<ID>         no TLS, TCP
 *   capnp://sha-256:<FP>@/PATH/<ID>         unix socket at /PATH
 *
 * FP is base64url (no padding) of SHA-256 of the server's DER
 * SubjectPublicKeyInfo; ID is base64url (no padding) of the raw service ID
 * bytes. IPv6 hosts are written in brackets. See docs/rpc.md.
 */
#ifndef CEON_RPC_STURDY_H
#define CEON_RPC_STURDY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STURDY_MAX_ID 256
#define STURDY_MAX_HOST 256
#define STURDY_MAX_PATH 1024

enum sturdy_kind { STURDY_TCP, STURDY_UNIX };

struct sturdy_ref {
    bool insecure; /* no TLS: fingerprint is empty */
    char fingerprint[64];
    enum sturdy_kind kind;
    char host[STURDY_MAX_HOST]; /* TCP: name or address, without brackets */
    uint16_t port;
    char path[STURDY_MAX_PATH]; /* UNIX: absolute socket path */
    uint8_t id[STURDY_MAX_ID];
    size_t id_len;
};

/* Parses a URI (surrounding whitespace is ignored). */
int sturdy_parse(const char *uri, struct sturdy_ref *r, struct err *e);
/* The URI as a malloc'd string, or NULL when out of memory. */
char *sturdy_format(const struct sturdy_ref *r);
/* Reads a cap file (the URI and a newline, as the original writes). */
int sturdy_load_file(const char *path, struct sturdy_ref *r, struct err *e);
/* Writes a cap file: the URI and a newline, mode 0600, atomically. */
int sturdy_save_file(const char *path, const char *uri, struct err *e);

/* Parses a listen/public address "tcp:HOST:PORT" or "unix:PATH" (as the
 * original's --capnp-listen-address) into r's address part. A relative
 * PATH is made absolute as the original does: the current directory, '/',
 * PATH as given. */
int sturdy_parse_address(const char *addr, struct sturdy_ref *r, struct err *e);

/* "HOST:PORT" (IPv6 in brackets) or the unix path, for messages. */
void sturdy_describe(const struct sturdy_ref *r, char *out, size_t cap);

/* Service IDs for fixed services: HMAC-SHA256 keyed with secret (the
 * SHA-256 of the secret key's PEM) over name; out gets 32 bytes. */
void sturdy_derive_id(const uint8_t secret[32], const char *name, uint8_t out[32]);
/* 32 random bytes from the OS. Returns 0 / -1. */
int sturdy_random_id(uint8_t out[32], struct err *e);
#endif
