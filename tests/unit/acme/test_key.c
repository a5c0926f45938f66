/* Unit tests for acme/key: RFC 7638 thumbprint, DNS-01 value, JWS verified
 * with OpenSSL, key PEM loading and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "acme/key.h"
#include "util/b64url.h"

/* RFC 7638 §3.1's RSA key and its thumbprint. */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY3"
    "68QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

static BIGNUM *bn_from_b64url(const char *s)
{
    uint8_t bin[512];
    long n = b64url_decode(s, strlen(s), bin, sizeof bin);
    assert_true(n > 0);
    return BN_bin2bn(bin, (int)n, NULL);
}

static EVP_PKEY *rsa_public_key(const char *n64, const char *e64)
{
    BIGNUM *n = bn_from_b64url(n64), *e = bn_from_b64url(e64);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return key;
}

static void thumbprint_rfc7638_vector(void **state)
{
    (void)state;
    EVP_PKEY *key = rsa_public_key(rfc7638_n, "AQAB");
    struct err e;
    char *jwk = acme_jwk_json(key, &e);
    assert_non_null(jwk);
    char want[600];
    snprintf(want, sizeof want, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
    assert_string_equal(jwk, want);
    char tp[44];
    assert_int_equal(acme_jwk_thumbprint(key, tp, &e), 0);
    assert_string_equal(tp, rfc7638_thumbprint);
    free(jwk);
    EVP_PKEY_free(key);
}

static void dns01_value_vector(void **state)
{
    (void)state;
    /* RFC 8555 §8.4's example token with the RFC 7638 thumbprint; the
     * digest was computed with `openssl dgst -sha256 -binary | base64`. */
    char v[44];
    struct err e;
    assert_int_equal(acme_dns01_txt_value("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
                                          rfc7638_thumbprint, v, &e),
                     0);
    assert_string_equal(v, "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8");
    assert_int_equal(acme_dns01_txt_value("", rfc7638_thumbprint, v, &e), -1);
    assert_int_equal(acme_dns01_txt_value("tok", "short", v, &e), -1);
}

static char *decode_text(const char *s)
{
    size_t len = strlen(s);
    uint8_t *out = malloc(len + 1);
    long n = b64url_decode(s, len, out, len);
    assert_true(n >= 0);
    out[n] = 0;
    return (char *)out;
}

/* Parses the flattened JWS, checks the header and verifies the signature
 * with OpenSSL's own verifier. */
static void verify_jws(EVP_PKEY *key, const char *jws_text, const char *kid, const char *payload)
{
    json_t *jws = json_loads(jws_text, 0, NULL);
    assert_non_null(jws);
    const char *prot = json_string_value(json_object_get(jws, "protected"));
    const char *pay = json_string_value(json_object_get(jws, "payload"));
    const char *sig64 = json_string_value(json_object_get(jws, "signature"));
    assert_non_null(prot);
    assert_non_null(pay);
    assert_non_null(sig64);

    char *header_text = decode_text(prot);
    json_t *header = json_loads(header_text, 0, NULL);
    assert_non_null(header);
    const char *alg = acme_jws_alg(key);
    assert_string_equal(json_string_value(json_object_get(header, "alg")), alg);
    assert_string_equal(json_string_value(json_object_get(header, "nonce")), "nonce-1");
    assert_string_equal(json_string_value(json_object_get(header, "url")), "https://ca/new");
    if (kid) {
        assert_string_equal(json_string_value(json_object_get(header, "kid")), kid);
        assert_null(json_object_get(header, "jwk"));
    } else {
        assert_null(json_object_get(header, "kid"));
        assert_true(json_is_object(json_object_get(header, "jwk")));
    }
    char *payload_text = decode_text(pay);
    assert_string_equal(payload_text, payload ? payload : "");

    uint8_t sig[1024];
    long sig_len = b64url_decode(sig64, strlen(sig64), sig, sizeof sig);
    assert_true(sig_len > 0);
    unsigned char *der = NULL;
    size_t der_len = (size_t)sig_len;
    const unsigned char *check_sig = sig;
    if (alg[0] == 'E') { /* r||s back to DER for OpenSSL */
        assert_int_equal(sig_len, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        int n = i2d_ECDSA_SIG(es, &der);
        assert_true(n > 0);
        der_len = (size_t)n;
        check_sig = der;
        ECDSA_SIG_free(es);
    } else {
        assert_int_equal(sig_len, EVP_PKEY_get_size(key));
    }
    char signing_input[4096];
    snprintf(signing_input, sizeof signing_input, "%s.%s", prot, pay);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, check_sig, der_len, (unsigned char *)signing_input,
                                      strlen(signing_input)),
                     1);
    /* and a changed input does not verify */
    signing_input[0] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(EVP_DigestVerify(md, check_sig, der_len, (unsigned char *)signing_input,
                                          strlen(signing_input)),
                         1);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    free(payload_text);
    free(header_text);
    json_decref(header);
    json_decref(jws);
}

static void jws_signatures_verify(void **state)
{
    (void)state;
    struct err e;
    enum acme_key_type types[] = {ACME_KEY_RSA2048, ACME_KEY_P256};
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *key = acme_key_generate(types[i], &e);
        assert_non_null(key);
        assert_string_equal(acme_jws_alg(key), i == 0 ? "RS256" : "ES256");
        for (int round = 0; round < 8; round++) { /* ES256 r and s of every size */
            char *jws = acme_jws_sign(key, NULL, "nonce-1", "https://ca/new",
                                      "{\"onlyReturnExisting\":true}", &e);
            assert_non_null(jws);
            verify_jws(key, jws, NULL, "{\"onlyReturnExisting\":true}");
            free(jws);
        }
        char *jws = acme_jws_sign(key, "https://ca/acct/1", "nonce-1", "https://ca/new", NULL, &e);
        assert_non_null(jws);
        verify_jws(key, jws, "https://ca/acct/1", NULL);
        free(jws);
        EVP_PKEY_free(key);
    }
}

static void key_pem_round_trip_and_refusals(void **state)
{
    (void)state;
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    char *pem = acme_key_to_pem(key, &e);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    EVP_PKEY *back = acme_key_from_pem(pem, strlen(pem), &e);
    assert_non_null(back);
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    char a[44], b[44];
    acme_jwk_thumbprint(key, a, &e);
    acme_jwk_thumbprint(back, b, &e);
    assert_string_equal(a, b);
    EVP_PKEY_free(back);

    /* encrypted: refused, never a terminal prompt */
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL);
    char *enc;
    long enc_len = BIO_get_mem_data(bio, &enc);
    assert_null(acme_key_from_pem(enc, (size_t)enc_len, &e));
    BIO_free(bio);
    EVP_PKEY_free(key);
    free(pem);

    assert_null(acme_key_from_pem("not a key", 9, &e));
    assert_non_null(strstr(e.msg, "PEM"));

    /* keys no JWS algorithm here signs with */
    EVP_PKEY *small = EVP_RSA_gen(1024);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    assert_null(acme_jws_alg(small));
    assert_null(acme_jws_alg(p384));
    EVP_PKEY *others[] = {small, p384};
    for (size_t i = 0; i < 2; i++) {
        char *p = NULL;
        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, others[i], NULL, NULL, 0, NULL, NULL);
        long len = BIO_get_mem_data(bio, &p);
        assert_null(acme_key_from_pem(p, (size_t)len, &e));
        assert_non_null(strstr(e.msg, "unsupported"));
        BIO_free(bio);
        EVP_PKEY_free(others[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thumbprint_rfc7638_vector),
        cmocka_unit_test(dns01_value_vector),
        cmocka_unit_test(jws_signatures_verify),
        cmocka_unit_test(key_pem_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
