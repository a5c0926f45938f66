/*
 * acme/key: account and certificate keys, JWK, thumbprint, JWS, DNS-01 value.
 * See key.h. Everything here is synchronous and pure: no I/O but memory.
 */
#include "acme/key.h"

#include <stdbool.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "util/b64url.h"
#include "util/xalloc.h"

/* The OpenSSL error queue's newest entry, for messages; also empties the
 * queue so a later failure does not report a stale reason. */
static const char *ssl_reason(void)
{
    unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    return r ? r : "unknown OpenSSL error";
}

EVP_PKEY *acme_key_generate(enum acme_key_type type, struct err *e)
{
    EVP_PKEY *key = NULL;
    switch (type) {
    case ACME_KEY_RSA2048:
        key = EVP_RSA_gen(2048);
        break;
    case ACME_KEY_RSA4096:
        key = EVP_RSA_gen(4096);
        break;
    case ACME_KEY_P256:
        key = EVP_EC_gen("P-256");
        break;
    }
    if (!key) err_set(e, "generating a key: %s", ssl_reason());
    return key;
}

/* An encrypted PEM would make OpenSSL prompt on the terminal: refuse instead. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static bool is_p256(EVP_PKEY *key)
{
    char group[64];
    size_t len = 0;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len))
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

const char *acme_jws_alg(EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(key);
        return bits >= 2048 && bits <= 8192 ? "RS256" : NULL;
    }
    return is_p256(key) ? "ES256" : NULL;
}

EVP_PKEY *acme_key_from_pem(const char *pem, size_t len, struct err *e)
{
    if (len > 64 * 1024) {
        err_set(e, "private key PEM is %zu bytes, more than a key can be", len);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        err_set(e, "out of memory");
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    BIO_free(bio);
    if (!key) {
        err_set(e, "not an unencrypted PEM private key (%s)", ssl_reason());
        return NULL;
    }
    if (!acme_jws_alg(key)) {
        EVP_PKEY_free(key);
        err_set(e, "unsupported key: only RSA (2048 to 8192 bits) and EC P-256 keys are used");
        return NULL;
    }
    return key;
}

char *acme_key_to_pem(EVP_PKEY *key, struct err *e)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        out = xmalloc((size_t)n + 1);
        memcpy(out, data, (size_t)n);
        out[n] = 0;
    } else {
        err_set(e, "writing the private key as PEM: %s", ssl_reason());
    }
    BIO_free(bio);
    return out;
}

/* base64url of a big number's magnitude, left-padded with zeros to pad
 * bytes (EC coordinates are fixed-width; RSA n and e are not padded). */
static char *bn_b64url(EVP_PKEY *key, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(key, param, &bn)) return NULL;
    int n = pad ? pad : BN_num_bytes(bn);
    unsigned char *bin = xmalloc((size_t)n);
    char *out = NULL;
    if (BN_bn2binpad(bn, bin, n) == n) {
        out = xmalloc(b64url_enc_len((size_t)n) + 1);
        b64url_encode(bin, (size_t)n, out);
    }
    free(bin);
    BN_free(bn);
    return out;
}

char *acme_jwk_json(EVP_PKEY *key, struct err *e)
{
    const char *alg = acme_jws_alg(key);
    bool rsa = alg && alg[0] == 'R';
    char *a = NULL, *b = NULL, *out = NULL;
    if (!alg) {
        err_set(e, "unsupported key type for a JWK");
        return NULL;
    }
    /* RFC 7638 §3.2: required members only, lexicographic order, no spaces. */
    if (rsa) {
        a = bn_b64url(key, OSSL_PKEY_PARAM_RSA_E, 0);
        b = bn_b64url(key, OSSL_PKEY_PARAM_RSA_N, 0);
    } else {
        a = bn_b64url(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        b = bn_b64url(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    }
    if (a && b) {
        size_t cap = strlen(a) + strlen(b) + 64;
        out = xmalloc(cap);
        if (rsa)
            snprintf(out, cap, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
        else
            snprintf(out, cap, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a,
                     b);
    } else {
        err_set(e, "reading the public key: %s", ssl_reason());
    }
    free(a);
    free(b);
    return out;
}

static void sha256_b64url(const void *data, size_t len, char out[44])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(data, len, digest);
    b64url_encode(digest, sizeof digest, out);
}

int acme_jwk_thumbprint(EVP_PKEY *key, char out[44], struct err *e)
{
    char *jwk = acme_jwk_json(key, e);
    if (!jwk) return -1;
    sha256_b64url(jwk, strlen(jwk), out);
    free(jwk);
    return 0;
}

int acme_dns01_txt_value(const char *token, const char *thumbprint, char out[44], struct err *e)
{
    size_t tl = strlen(token), hl = strlen(thumbprint);
    if (tl == 0 || tl > 1024 || hl != 43)
        return err_set(e, "challenge token or thumbprint has an impossible length");
    char *key_authorization = xmalloc(tl + 1 + hl + 1);
    memcpy(key_authorization, token, tl);
    key_authorization[tl] = '.';
    memcpy(key_authorization + tl + 1, thumbprint, hl + 1);
    sha256_b64url(key_authorization, tl + 1 + hl, out);
    free(key_authorization);
    return 0;
}

/* Signs input with SHA-256. ES256 wants the fixed-width r||s pair (RFC 7518
 * §3.4), not the DER that OpenSSL produces, so it is converted. */
static unsigned char *sign_sha256(EVP_PKEY *key, bool ecdsa, const char *input, size_t *sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t len = 0;
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &len, (const unsigned char *)input, strlen(input)) != 1)
        goto out;
    sig = xmalloc(len);
    if (EVP_DigestSign(md, sig, &len, (const unsigned char *)input, strlen(input)) != 1) goto fail;
    if (ecdsa) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        if (!es) goto fail;
        unsigned char *rs = xmalloc(64);
        bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) == 32 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) == 32;
        ECDSA_SIG_free(es);
        free(sig);
        sig = rs;
        len = 64;
        if (!ok) goto fail;
    }
    *sig_len = len;
    goto out;
fail:
    free(sig);
    sig = NULL;
out:
    EVP_MD_CTX_free(md);
    return sig;
}

static char *b64url_dup(const void *data, size_t len)
{
    char *out = xmalloc(b64url_enc_len(len) + 1);
    b64url_encode(data, len, out);
    return out;
}

char *acme_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
                    const char *payload, struct err *e)
{
    const char *alg = acme_jws_alg(key);
    if (!alg) {
        err_set(e, "unsupported key type for JWS");
        return NULL;
    }
    json_t *header = json_pack("{s:s, s:s, s:s}", "alg", alg, "nonce", nonce, "url", url);
    if (!header) {
        err_set(e, "nonce or URL is not valid UTF-8");
        return NULL;
    }
    if (kid) {
        json_object_set_new(header, "kid", json_string(kid));
    } else {
        char *jwk_text = acme_jwk_json(key, e);
        json_t *jwk = jwk_text ? json_loads(jwk_text, 0, NULL) : NULL;
        free(jwk_text);
        if (!jwk) {
            json_decref(header);
            return NULL;
        }
        json_object_set_new(header, "jwk", jwk);
    }
    char *header_text = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    if (!header_text) {
        err_set(e, "out of memory");
        return NULL;
    }
    char *protected = b64url_dup(header_text, strlen(header_text));
    free(header_text);
    char *payload64 = b64url_dup(payload ? payload : "", payload ? strlen(payload) : 0);

    size_t input_len = strlen(protected) + 1 + strlen(payload64);
    char *input = xmalloc(input_len + 1);
    snprintf(input, input_len + 1, "%s.%s", protected, payload64);
    size_t sig_len = 0;
    unsigned char *sig = sign_sha256(key, alg[0] == 'E', input, &sig_len);
    free(input);
    char *out = NULL;
    if (sig) {
        char *sig64 = b64url_dup(sig, sig_len);
        json_t *jws = json_pack("{s:s, s:s, s:s}", "protected", protected, "payload", payload64,
                                "signature", sig64);
        out = jws ? json_dumps(jws, JSON_COMPACT) : NULL;
        json_decref(jws);
        free(sig64);
        free(sig);
        if (!out) err_set(e, "out of memory");
    } else {
        err_set(e, "signing: %s", ssl_reason());
    }
    free(protected);
    free(payload64);
    return out;
}
