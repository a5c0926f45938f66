/*
 * fuzz_cert_pem: PEM certificate chains (acme/cert.h), as the CA answers
 * a finalized order (acme_cert_chain_check) and as capd reads them back
 * from STATE/certs/ (acme_cert_info_from_pem).
 *
 * Input: the PEM text, in an exact-size buffer. The chain is checked
 * against a fixed P-256 key (the seeds' leaf is for it) and the name
 * example.org.
 * Checked: a chain the check accepts also gives its info, and that info
 * names example.org; any info that is read has names that are whole C
 * strings, a renewal time computed without overflow (UBSan), and equals
 * its own name set; a refusal has a message; nothing leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/cert.h"
#include "acme/key.h"

#include "fuzz_check.h"

/* A test key made for this target (the seeds' leaf certificates are for it). */
static const char KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                          "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgav3Y5MxQ6c/5Zgc1\n"
                          "gvJP2b1R03/v0+9O4e3NURgWZOGhRANCAATeA9VCiQSeXBl0CQnhPNVt1+2aTWov\n"
                          "EygFZOJkTdh+GyK1fgcf+ykH7Kc6jbN1DmPvS65a2q50ElpIZJXEsx2M\n"
                          "-----END PRIVATE KEY-----\n";

static EVP_PKEY *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e;
    if (!key && !(key = acme_key_from_pem(KEY, sizeof KEY - 1, &e))) {
        fprintf(stderr, "fuzz_cert_pem: the fixed key: %s\n", e.msg);
        abort();
    }
    char *pem = malloc(size ? size : 1);
    if (!pem) return 0;
    if (size) memcpy(pem, data, size);
    static const char *const names[] = {"example.org"};
    e.msg[0] = 0;
    int chain_ok = acme_cert_chain_check(pem, size, key, names, 1, &e);
    if (chain_ok < 0) CHECK(e.msg[0]);
    struct acme_cert_info info;
    e.msg[0] = 0;
    if (acme_cert_info_from_pem(pem, size, &info, &e) == 0) {
        bool named = false;
        for (size_t i = 0; i < info.n_dns_names; i++) {
            CHECK(info.dns_names[i]);
            (void)strlen(info.dns_names[i]); /* a whole C string: ASan sees a read past */
            if (!strcasecmp(info.dns_names[i], names[0])) named = true;
        }
        (void)acme_cert_renew_at(&info, ACME_RENEW_BEFORE_DEFAULT_S);
        CHECK(acme_cert_names_equal(&info, (const char *const *)info.dns_names, info.n_dns_names));
        if (chain_ok == 0) CHECK(named);
        acme_cert_info_clear(&info);
    } else {
        CHECK(e.msg[0]);
        CHECK(chain_ok < 0);
    }
    free(pem);
    return 0;
}
