/* Unit tests for acme/cert: the CSR, certificate info, renewal time, and
 * the check of the chain a CA returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/cert.h"
#include "acme/key.h"

static const char *const names[] = {"example.org", "*.example.org", "www.example.org"};

static void csr_like_eon(void **state)
{
    (void)state;
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    unsigned char *der;
    size_t len;
    assert_int_equal(acme_csr_der(key, names, 3, "ryan@example.org", "Example Org", &der, &len, &e),
                     0);
    const unsigned char *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, key), 1);
    X509_NAME *subject = X509_REQ_get_subject_name(req);
    char buf[256];
    assert_int_equal(X509_NAME_get_text_by_NID(subject, NID_pkcs9_emailAddress, buf, sizeof buf),
                     16);
    assert_string_equal(buf, "ryan@example.org");
    assert_true(X509_NAME_get_text_by_NID(subject, NID_organizationName, buf, sizeof buf) > 0);
    assert_string_equal(buf, "Example Org");
    assert_int_equal(X509_NAME_get_text_by_NID(subject, NID_commonName, buf, sizeof buf), -1);
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *sans = NULL;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(x)) == NID_subject_alt_name)
            sans = X509V3_EXT_d2i(x);
    }
    assert_non_null(sans);
    assert_int_equal(sk_GENERAL_NAME_num(sans), 3);
    for (int i = 0; i < 3; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        assert_int_equal(gn->type, GEN_DNS);
        assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), names[i]);
    }
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    OPENSSL_free(der);

    /* no org: no O at all */
    assert_int_equal(acme_csr_der(key, names, 1, "a@b.c", "", &der, &len, &e), 0);
    p = der;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 1);
    X509_REQ_free(req);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
}

/* A self-signed certificate for names, valid from not_before for days. */
static char *make_cert(EVP_PKEY *key, const char *const *sans, size_t n, time_t not_before,
                       long days)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    ASN1_TIME_set(X509_getm_notBefore(x), not_before);
    ASN1_TIME_set(X509_getm_notAfter(x), not_before + days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_UTF8,
                               (const unsigned char *)"t", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    GENERAL_NAMES *gns = sk_GENERAL_NAME_new_null();
    for (size_t i = 0; i < n; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, sans[i], -1);
        GENERAL_NAME_set0_value(gn, GEN_DNS, s);
        sk_GENERAL_NAME_push(gns, gn);
    }
    X509_add1_ext_i2d(x, NID_subject_alt_name, gns, 0, 0);
    GENERAL_NAMES_free(gns);
    X509_sign(x, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)len + 1);
    memcpy(pem, data, (size_t)len);
    pem[len] = 0;
    BIO_free(bio);
    X509_free(x);
    return pem;
}

static void info_and_renewal(void **state)
{
    (void)state;
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    time_t start = 1767225600; /* 2026-01-01T00:00:00Z */
    char *pem = make_cert(key, names, 3, start, 90);
    struct acme_cert_info info;
    assert_int_equal(acme_cert_info_from_pem(pem, strlen(pem), &info, &e), 0);
    assert_int_equal(info.not_before, start);
    assert_int_equal(info.not_after, start + 90 * 86400);
    assert_int_equal(info.n_dns_names, 3);
    assert_string_equal(info.dns_names[1], "*.example.org");
    const char *same[] = {"WWW.example.org", "example.org", "*.example.org"};
    const char *fewer[] = {"example.org", "*.example.org"};
    const char *other[] = {"example.org", "*.example.org", "mail.example.org"};
    assert_true(acme_cert_names_equal(&info, same, 3));
    assert_false(acme_cert_names_equal(&info, fewer, 2));
    assert_false(acme_cert_names_equal(&info, other, 3));

    /* 90 days: 30 days before the end (day 60) */
    assert_int_equal(acme_cert_renew_at(&info, ACME_RENEW_BEFORE_DEFAULT_S), start + 60 * 86400);
    assert_false(acme_cert_due(&info, start + 60 * 86400 - 1, ACME_RENEW_BEFORE_DEFAULT_S));
    assert_true(acme_cert_due(&info, start + 60 * 86400, ACME_RENEW_BEFORE_DEFAULT_S));
    acme_cert_info_clear(&info);
    free(pem);

    /* 30 days of life: two thirds in (day 20), not at once and forever */
    pem = make_cert(key, names, 1, start, 30);
    assert_int_equal(acme_cert_info_from_pem(pem, strlen(pem), &info, &e), 0);
    assert_int_equal(acme_cert_renew_at(&info, ACME_RENEW_BEFORE_DEFAULT_S), start + 20 * 86400);
    assert_false(acme_cert_due(&info, start + 1, ACME_RENEW_BEFORE_DEFAULT_S));
    acme_cert_info_clear(&info);
    free(pem);

    /* a year: 30 days before the end */
    pem = make_cert(key, names, 1, start, 365);
    assert_int_equal(acme_cert_info_from_pem(pem, strlen(pem), &info, &e), 0);
    assert_int_equal(acme_cert_renew_at(&info, ACME_RENEW_BEFORE_DEFAULT_S), start + 335 * 86400);
    acme_cert_info_clear(&info);
    free(pem);
    EVP_PKEY_free(key);

    assert_int_equal(acme_cert_info_from_pem("junk", 4, &info, &e), -1);
    static const char not_cert[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(acme_cert_info_from_pem(not_cert, sizeof not_cert - 1, &info, &e), -1);
}

static void chain_check(void **state)
{
    (void)state;
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    EVP_PKEY *other = acme_key_generate(ACME_KEY_P256, &e);
    char *leaf = make_cert(key, names, 3, time(NULL), 90);
    char *issuer = make_cert(other, names, 1, time(NULL), 90);
    size_t chain_len = strlen(leaf) + strlen(issuer);
    char *chain = malloc(chain_len + 1);
    strcpy(chain, leaf);
    strcat(chain, issuer);
    assert_int_equal(acme_cert_chain_check(chain, chain_len, key, names, 3, &e), 0);
    /* the wrong key first */
    assert_int_equal(acme_cert_chain_check(chain, chain_len, other, names, 3, &e), -1);
    assert_non_null(strstr(e.msg, "key"));
    /* a name missing */
    const char *more[] = {"example.org", "mail.example.org"};
    assert_int_equal(acme_cert_chain_check(chain, chain_len, key, more, 2, &e), -1);
    assert_non_null(strstr(e.msg, "mail.example.org"));
    /* something else than certificates in it */
    char *pk = acme_key_to_pem(key, &e);
    char *mixed = malloc(strlen(leaf) + strlen(pk) + 1);
    strcpy(mixed, leaf);
    strcat(mixed, pk);
    assert_int_equal(acme_cert_chain_check(mixed, strlen(mixed), key, names, 3, &e), -1);
    assert_int_equal(acme_cert_chain_check("", 0, key, names, 3, &e), -1);
    free(mixed);
    free(pk);
    free(chain);
    free(leaf);
    free(issuer);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void generated_key_types(void **state)
{
    (void)state;
    struct err e;
    /* eon's certificate keys are RSA-4096: generated once here (slow-ish). */
    EVP_PKEY *k = acme_key_generate(ACME_KEY_RSA4096, &e);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bits(k), 4096);
    assert_string_equal(acme_jws_alg(k), "RS256");
    EVP_PKEY_free(k);
}

static void names_a_ca_issues_for(void **state)
{
    (void)state;
    const char *ok[] = {"example.org", "*.example.org", "a-b.c0.example", "x", "*.x"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(acme_name_ok(ok[i]));
    char long_label[80], long_name[300];
    memset(long_label, 'a', 64);
    long_label[64] = 0;
    memset(long_name, 'a', 254);
    for (int i = 63; i < 254; i += 64)
        long_name[i] = '.';
    long_name[254] = 0;
    const char *bad[] = {"",         "example.org.", "*.*.example.org", "a.*.org", "*",
                         "a..b",     ".a",           "under_score.org", "sp ace",  "ü.org",
                         long_label, long_name};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (acme_name_ok(bad[i])) fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csr_like_eon),          cmocka_unit_test(info_and_renewal),
        cmocka_unit_test(chain_check),           cmocka_unit_test(generated_key_types),
        cmocka_unit_test(names_a_ca_issues_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
