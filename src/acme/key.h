/*
 * acme/key: the keys of ACME (RFC 8555) and what is computed from them:
 * generating and (de)serialising account and certificate keys, the JWK
 * and its RFC 7638 thumbprint, JWS signatures (RS256 for RSA keys, ES256
 * for P-256 keys) and the DNS-01 TXT value.
 *
 * Keys are OpenSSL EVP_PKEYs: the eon layer stores them as PEM files the
 * original (eon) can read too (accounts/EMAIL/account.pem, certs/NAME/privkey.pem).
 */
#ifndef CEON_ACME_KEY_H
#define CEON_ACME_KEY_H
#include <stddef.h>
#include <openssl/evp.h>

#include "util/err.h"

enum acme_key_type {
    ACME_KEY_RSA2048, /* eon's account keys */
    ACME_KEY_RSA4096, /* eon's certificate keys */
    ACME_KEY_P256,
};

/* A fresh key. NULL + e on failure. The caller frees with EVP_PKEY_free. */
EVP_PKEY *acme_key_generate(enum acme_key_type type, struct err *e);
/* Parses a PEM private key (PKCS#8 or traditional RSA/EC). Only RSA keys of
 * 2048..8192 bits and P-256 keys are accepted, as those are what the JWS
 * algorithms here sign with. */
EVP_PKEY *acme_key_from_pem(const char *pem, size_t len, struct err *e);
/* The key as unencrypted PKCS#8 PEM, NUL-terminated, malloc'd. */
char *acme_key_to_pem(EVP_PKEY *key, struct err *e);

/* The public JWK with its members in RFC 7638 order (so it is also the
 * thumbprint input), e.g. {"e":"AQAB","kty":"RSA","n":"..."}. malloc'd. */
char *acme_jwk_json(EVP_PKEY *key, struct err *e);
/* base64url(SHA-256(JWK)), 43 characters + NUL into out[44]. */
int acme_jwk_thumbprint(EVP_PKEY *key, char out[44], struct err *e);

/* The DNS-01 TXT value for a challenge token (RFC 8555 §8.4):
 * base64url(SHA-256(token "." thumbprint)), 43 characters + NUL. */
int acme_dns01_txt_value(const char *token, const char *thumbprint, char out[44], struct err *e);

/* A flattened JWS (RFC 7515 §7.2.2) as ACME wants it (RFC 8555 §6.2):
 * protected header {alg, [jwk | kid], nonce, url}; kid NULL means embed the
 * JWK (newAccount). payload NULL means POST-as-GET (empty payload).
 * Returns the JSON text, malloc'd. */
char *acme_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
                    const char *payload, struct err *e);
/* "RS256" or "ES256", NULL for a key that cannot sign ACME requests. */
const char *acme_jws_alg(EVP_PKEY *key);
#endif
