/* Unit tests for eon/cert's files (cert_store.c): which EMAILs may become
 * directory names, the cache rule (exactly the names, our key, not due),
 * eon's layout and modes, and the ceon-renew files read back at start,
 * hostile ones skipped. Certificates are made here with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eon/cert_int.h"
#include "util/atomicfile.h"

static void email_rules(void **state)
{
    (void)state;
    assert_true(eon_cert_email_ok("ryan@test.example.org"));
    assert_true(eon_cert_email_ok("a.b+c_d-e@x.org"));
    const char *bad[] = {"",           "@x.org",   "x@",        "../../x@y.org", ".x@y.org",
                         "a/b@x.org",  "x@y/../z", "x@*.y.org", "x y@z.org",     "x@y..org",
                         "x@y.org/..", "x@@y.org", "..@x.org"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (eon_cert_email_ok(bad[i])) fail_msg("accepted '%s'", bad[i]);
    }
    char long_email[300];
    memset(long_email, 'a', 250);
    strcpy(long_email + 250, "@x.org");
    assert_false(eon_cert_email_ok(long_email));
}

/* A self-signed certificate for names, valid from now + from_days to now + to_days. */
static char *make_cert(EVP_PKEY *key, const char *san, long from_days, long to_days)
{
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static char tmp[64];
static struct eon_certs m;

static void setup_dir(void)
{
    strcpy(tmp, "/tmp/ceon-cert-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    static char certs[128], accounts[128];
    snprintf(certs, sizeof certs, "%s/certs", tmp);
    snprintf(accounts, sizeof accounts, "%s/accounts", tmp);
    memset(&m, 0, sizeof m);
    m.certs_dir = certs;
    m.accounts_dir = accounts;
    m.renew_before_s = 30L * 86400;
    m.key_type = ACME_KEY_P256;
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

static int mode_of(const char *fmt, const char *a)
{
    char path[512];
    snprintf(path, sizeof path, fmt, tmp, a);
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    return (int)(st.st_mode & 0777);
}

static struct cert_spec spec_of(char **names, size_t n)
{
    struct cert_spec s = {.n = n};
    for (size_t i = 0; i < n; i++)
        s.names[i] = names[i];
    strcpy(s.email, "ryan@test.example.org");
    strcpy(s.domain, "test.example.org");
    return s;
}

static void cache_rule(void **state)
{
    (void)state;
    setup_dir();
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    assert_non_null(key);
    char *key_pem = acme_key_to_pem(key, &e);
    char *names2[] = {"test.example.org", "*.test.example.org"};
    struct cert_spec s2 = spec_of(names2, 2);
    char *fresh = make_cert(key, "DNS:*.test.example.org,DNS:test.example.org", 0, 90);
    assert_int_equal(cert_store_save(&m, &s2, fresh, key_pem, key_pem, &e), 0);
    assert_int_equal(mode_of("%s/certs/%s", "test.example.org"), 0750);
    assert_int_equal(mode_of("%s/certs/%s/privkey.pem", "test.example.org"), 0600);
    assert_int_equal(mode_of("%s/certs/%s/fullcert.pem", "test.example.org"), 0600);
    assert_int_equal(mode_of("%s/certs/%s/ceon-renew", "test.example.org"), 0600);
    assert_int_equal(mode_of("%s/accounts/%s/account.pem", "ryan@test.example.org"), 0600);

    /* Exactly the names: from disk, nothing generated. */
    struct cert_loaded ld;
    assert_int_equal(cert_store_load(&m, &s2, &ld, &e), 0);
    assert_true(ld.cached);
    assert_null(ld.account);
    cert_loaded_clear(&ld);

    /* Fewer names (eon's cache would answer): ordered anew, key reused. */
    char *names1[] = {"test.example.org"};
    struct cert_spec s1 = spec_of(names1, 1);
    assert_int_equal(cert_store_load(&m, &s1, &ld, &e), 0);
    assert_false(ld.cached);
    assert_false(ld.key_new);
    assert_int_equal(EVP_PKEY_eq(ld.key, key), 1);
    assert_non_null(ld.account);
    assert_false(ld.account_new);
    cert_loaded_clear(&ld);

    /* Due (30 days before notAfter and past two thirds): ordered anew. */
    char *due = make_cert(key, "DNS:*.test.example.org,DNS:test.example.org", -80, 10);
    assert_int_equal(cert_store_save(&m, &s2, due, NULL, NULL, &e), 0);
    assert_int_equal(cert_store_load(&m, &s2, &ld, &e), 0);
    assert_false(ld.cached);
    cert_loaded_clear(&ld);

    /* Another key than privkey.pem's: not delivered. */
    EVP_PKEY *other = acme_key_generate(ACME_KEY_P256, &e);
    char *foreign = make_cert(other, "DNS:*.test.example.org,DNS:test.example.org", 0, 90);
    assert_int_equal(cert_store_save(&m, &s2, foreign, NULL, NULL, &e), 0);
    assert_int_equal(cert_store_load(&m, &s2, &ld, &e), 0);
    assert_false(ld.cached);
    cert_loaded_clear(&ld);

    /* A new email: a new account key. */
    strcpy(s2.email, "other@test.example.org");
    assert_int_equal(cert_store_load(&m, &s2, &ld, &e), 0);
    assert_true(ld.account_new);
    cert_loaded_clear(&ld);

    free(fresh);
    free(due);
    free(foreign);
    free(key_pem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    remove_dir();
}

static int scanned;
static char scanned_first[256];
static void on_scan(struct eon_certs *mm, const struct cert_spec *s, time_t renew_at,
                    time_t not_after)
{
    assert_true(not_after > renew_at);
    (void)mm;
    scanned++;
    snprintf(scanned_first, sizeof scanned_first, "%s", s->names[0]);
    assert_string_equal(s->email, "ryan@test.example.org");
    assert_string_equal(s->domain, "test.example.org");
    assert_int_equal(s->n, 1);
    assert_true(renew_at > time(NULL));
}

static void write_in(const char *dir, const char *name, const char *text)
{
    char path[512];
    struct err e;
    snprintf(path, sizeof path, "%s/certs/%s", tmp, dir);
    assert_int_equal(mkdir_p(path, 0750, &e), 0);
    snprintf(path, sizeof path, "%s/certs/%s/%s", tmp, dir, name);
    assert_int_equal(atomic_write_file(path, text, strlen(text), 0600, &e), 0);
}

static void scan_at_start(void **state)
{
    (void)state;
    setup_dir();
    struct err e;
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    char *key_pem = acme_key_to_pem(key, &e);
    char *pem = make_cert(key, "DNS:test.example.org", 0, 90);
    char *names[] = {"test.example.org"};
    struct cert_spec s = spec_of(names, 1);
    assert_int_equal(cert_store_save(&m, &s, pem, key_pem, NULL, &e), 0);
    /* Hostile or foreign entries: skipped with a log line, never a crash. */
    write_in("a.test.example.org", "fullcert.pem", pem);
    write_in("a.test.example.org", "ceon-renew",
             "email ../../x@y\ndomain test.example.org\nname a.test.example.org\n");
    write_in("b.test.example.org", "fullcert.pem", pem);
    write_in("b.test.example.org", "ceon-renew",
             "email ryan@test.example.org\ndomain test.example.org\nname ../etc\n");
    write_in("c.test.example.org", "fullcert.pem", pem);
    write_in("c.test.example.org", "ceon-renew",
             "email ryan@test.example.org\ndomain test.example.org\nname test.example.org\n");
    write_in("d.test.example.org", "fullcert.pem", "junk");
    write_in("d.test.example.org", "ceon-renew",
             "email ryan@test.example.org\ndomain test.example.org\nname d.test.example.org\n");
    write_in("e.test.example.org", "fullcert.pem", pem); /* eon's: no ceon-renew */
    write_in("f.test.example.org", "ceon-renew", "no-space-line\n");
    cert_store_scan(&m, on_scan);
    assert_int_equal(scanned, 1);
    assert_string_equal(scanned_first, "test.example.org");
    free(pem);
    free(key_pem);
    EVP_PKEY_free(key);
    remove_dir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(email_rules),
        cmocka_unit_test(cache_rule),
        cmocka_unit_test(scan_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
