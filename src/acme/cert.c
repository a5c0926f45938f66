/*
 * acme/cert: CSR, certificate validity and names, chain check. See cert.h.
 */
#include "acme/cert.h"

#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util/xalloc.h"

#define MAX_CHAIN 10
#define MAX_PEM (256u * 1024)

static const char *ssl_reason(void)
{
    unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    return r ? r : "unknown OpenSSL error";
}

static bool add_entry(X509_NAME *subject, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(subject, field, MBSTRING_UTF8, (const unsigned char *)value,
                                      -1, -1, 0) == 1;
}

int acme_csr_der(EVP_PKEY *key, const char *const *names, size_t n_names, const char *email,
                 const char *org, unsigned char **der, size_t *der_len, struct err *e)
{
    *der = NULL;
    *der_len = 0;
    X509_REQ *req = X509_REQ_new();
    GENERAL_NAMES *sans = sk_GENERAL_NAME_new_null();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    int rc = -1;
    if (!req || !sans || !exts) {
        err_set(e, "out of memory");
        goto out;
    }
    X509_NAME *subject = X509_REQ_get_subject_name(req);
    if (X509_REQ_set_version(req, 0) != 1 ||
        (email && *email && !add_entry(subject, "emailAddress", email)) ||
        (org && *org && !add_entry(subject, "O", org))) {
        err_set(e, "CSR subject: %s", ssl_reason());
        goto out;
    }
    for (size_t i = 0; i < n_names; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        if (!gn || !ia5 || !ASN1_STRING_set(ia5, names[i], (int)strlen(names[i]))) {
            GENERAL_NAME_free(gn);
            ASN1_IA5STRING_free(ia5);
            err_set(e, "out of memory");
            goto out;
        }
        GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
        sk_GENERAL_NAME_push(sans, gn);
    }
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);
    if (!ext || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        err_set(e, "CSR subjectAltName: %s", ssl_reason());
        goto out;
    }
    if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
        X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        err_set(e, "signing the CSR: %s", ssl_reason());
        goto out;
    }
    int len = i2d_X509_REQ(req, der);
    if (len <= 0) {
        *der = NULL;
        err_set(e, "encoding the CSR: %s", ssl_reason());
        goto out;
    }
    *der_len = (size_t)len;
    rc = 0;
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(sans);
    X509_REQ_free(req);
    return rc;
}

/* All certificates of a PEM text; -1 + e if there is none, something else
 * than certificates, or more than MAX_CHAIN. */
static STACK_OF(X509) * read_chain(const char *pem, size_t len, struct err *e)
{
    if (len > MAX_PEM) {
        err_set(e, "certificate chain is %zu bytes, more than %u", len, MAX_PEM);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!bio || !chain) {
        BIO_free(bio);
        sk_X509_free(chain);
        err_set(e, "out of memory");
        return NULL;
    }
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
            ERR_clear_error(); /* end of input */
            break;
        }
        const unsigned char *p = data;
        X509 *cert = strcmp(name, "CERTIFICATE") == 0 ? d2i_X509(NULL, &p, dlen) : NULL;
        bool whole = cert && p == data + dlen;
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (!whole || sk_X509_num(chain) >= MAX_CHAIN) {
            X509_free(cert);
            sk_X509_pop_free(chain, X509_free);
            BIO_free(bio);
            err_set(e,
                    "certificate chain: a PEM block that is not one certificate, or more than %d",
                    MAX_CHAIN);
            return NULL;
        }
        sk_X509_push(chain, cert);
    }
    BIO_free(bio);
    if (sk_X509_num(chain) == 0) {
        sk_X509_free(chain);
        err_set(e, "no PEM certificate found");
        return NULL;
    }
    return chain;
}

static int asn1_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return -1;
    *out = timegm(&tm);
    return 0;
}

static int info_from_x509(X509 *cert, struct acme_cert_info *out, struct err *e)
{
    if (asn1_time(X509_get0_notBefore(cert), &out->not_before) < 0 ||
        asn1_time(X509_get0_notAfter(cert), &out->not_after) < 0)
        return err_set(e, "certificate has an unreadable validity period");
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int n = sans ? sk_GENERAL_NAME_num(sans) : 0;
    out->dns_names = xcalloc((size_t)n, sizeof *out->dns_names);
    for (int i = 0; i < n; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type != GEN_DNS) continue;
        const ASN1_IA5STRING *s = gn->d.dNSName;
        size_t len = (size_t)ASN1_STRING_length(s);
        char *copy = xmalloc(len + 1);
        memcpy(copy, ASN1_STRING_get0_data(s), len);
        copy[len] = 0;
        if (strlen(copy) != len) { /* an embedded NUL: not a name */
            free(copy);
            continue;
        }
        out->dns_names[out->n_dns_names++] = copy;
    }
    GENERAL_NAMES_free(sans);
    return 0;
}

int acme_cert_info_from_pem(const char *pem, size_t len, struct acme_cert_info *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    STACK_OF(X509) *chain = read_chain(pem, len, e);
    if (!chain) return -1;
    int rc = info_from_x509(sk_X509_value(chain, 0), out, e);
    sk_X509_pop_free(chain, X509_free);
    if (rc < 0) acme_cert_info_clear(out);
    return rc;
}

void acme_cert_info_clear(struct acme_cert_info *info)
{
    for (size_t i = 0; i < info->n_dns_names; i++)
        free(info->dns_names[i]);
    free(info->dns_names);
    memset(info, 0, sizeof *info);
}

time_t acme_cert_renew_at(const struct acme_cert_info *info, long renew_before_s)
{
    time_t before_end = info->not_after - renew_before_s;
    time_t two_thirds = info->not_before + (info->not_after - info->not_before) / 3 * 2;
    return before_end > two_thirds ? before_end : two_thirds;
}

static bool has_name(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0) return true;
    return false;
}

bool acme_cert_names_equal(const struct acme_cert_info *info, const char *const *names,
                           size_t n_names)
{
    for (size_t i = 0; i < n_names; i++)
        if (!has_name(info->dns_names, info->n_dns_names, names[i])) return false;
    for (size_t i = 0; i < info->n_dns_names; i++)
        if (!has_name((char *const *)names, n_names, info->dns_names[i])) return false;
    return true;
}

int acme_cert_chain_check(const char *pem, size_t len, EVP_PKEY *key, const char *const *names,
                          size_t n_names, struct err *e)
{
    STACK_OF(X509) *chain = read_chain(pem, len, e);
    if (!chain) return -1;
    X509 *leaf = sk_X509_value(chain, 0);
    struct acme_cert_info info = {0};
    int rc = -1;
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
        err_set(e, "the CA's certificate is not for our key");
        goto out;
    }
    if (info_from_x509(leaf, &info, e) < 0) goto out;
    for (size_t i = 0; i < n_names; i++) {
        if (!has_name(info.dns_names, info.n_dns_names, names[i])) {
            err_set(e, "the CA's certificate does not name %s", names[i]);
            goto out;
        }
    }
    rc = 0;
out:
    acme_cert_info_clear(&info);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* A DNS name as CAs accept it: letters, digits, hyphens, dots between
 * non-empty labels of at most 63, at most 253 in all, and "*." only first. */
bool acme_name_ok(const char *name)
{
    const char *p = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
    size_t len = strlen(p), label = 0;
    if (len == 0 || len > 253) return false;
    for (; *p; p++) {
        if (*p == '.') {
            if (label == 0) return false;
            label = 0;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-') {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    return label > 0;
}
