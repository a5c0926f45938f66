/*
 * acme/cert: X.509 work around an order: the CSR sent to finalize, the
 * check of the chain the CA returns, and what the eon layer needs to keep
 * certificates: a PEM certificate's validity and DNS names, and when it is
 * due for renewal.
 */
#ifndef CEON_ACME_CERT_H
#define CEON_ACME_CERT_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>

#include "util/err.h"

/* A DNS name a CA issues for: letters, digits and hyphens in labels of 1 to
 * 63, at most 253 in all, no trailing dot, "*." allowed only first. The
 * eon layer can refuse a name with it before the CA is contacted. */
bool acme_name_ok(const char *name);

/* eon renews 30 days before notAfter. */
#define ACME_RENEW_BEFORE_DEFAULT_S (30L * 24 * 3600)

/* A DER CSR for names (DNS SANs, wildcards as given), signed with key
 * (SHA-256), subject emailAddress=email plus O=org when org is non-empty,
 * and no CN: what eon sends. *der is malloc'd. */
int acme_csr_der(EVP_PKEY *key, const char *const *names, size_t n_names, const char *email,
                 const char *org, unsigned char **der, size_t *der_len, struct err *e);

struct acme_cert_info {
    time_t not_before, not_after;
    char **dns_names; /* subjectAltName dNSName entries, in certificate order */
    size_t n_dns_names;
};

/* Reads the first certificate of a PEM chain (the leaf, as ACME delivers it). */
int acme_cert_info_from_pem(const char *pem, size_t len, struct acme_cert_info *out, struct err *e);
void acme_cert_info_clear(struct acme_cert_info *info);

/* When to renew: renew_before seconds before notAfter (eon: 30 days), but
 * never before two thirds of the lifetime. For a 90-day certificate both
 * are day 60; a certificate living renew_before or less (which eon renews
 * in a loop, each new one being due at once) is renewed two thirds in. */
time_t acme_cert_renew_at(const struct acme_cert_info *info, long renew_before_s);
static inline bool acme_cert_due(const struct acme_cert_info *info, time_t now, long renew_before_s)
{
    return now >= acme_cert_renew_at(info, renew_before_s);
}

/* True if the info's DNS names are exactly names (any order, case-insensitive):
 * the eon layer's cache check ("a certificate for exactly that name set"). */
bool acme_cert_names_equal(const struct acme_cert_info *info, const char *const *names,
                           size_t n_names);

/* The CA's answer to finalize is a PEM chain, leaf first: at least one
 * certificate, nothing but certificates, the leaf's public key is key and
 * it names every one of names. 0 or -1 + e. */
int acme_cert_chain_check(const char *pem, size_t len, EVP_PKEY *key, const char *const *names,
                          size_t n_names, struct err *e);
#endif
