/*
 * cert_store: the files of eon/cert, laid out as eon lays them out so a
 * state dir moves between the two:
 *   STATE/accounts/EMAIL/account.pem   the ACME account key (saved after a success)
 *   STATE/certs/FIRST/privkey.pem      the certificate key (PKCS#8)
 *   STATE/certs/FIRST/fullcert.pem     the chain, leaf first
 *   STATE/certs/FIRST/ceon-renew       ceon only: what a renewal needs
 * Files 0600, directories 0750, as eon. EMAIL and FIRST are checked
 * (eon_cert_email_ok, eon_name_file_safe) before they get here. Also the
 * service's set-up (eon_certs_new), which arms what it finds on disk.
 */
#include "eon/cert_int.h"
#include "eon/cert_pending.h"
#include "eon/state.h"
#include "util/atomicfile.h"
#include "util/log.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool eon_cert_email_ok(const char *email)
{
    size_t len = strlen(email);
    const char *at = strchr(email, '@');
    if (len == 0 || len > CERT_EMAIL_MAX || !at || at == email || email[0] == '.') return false;
    for (const char *p = email; p < at; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._+-", *p)) return false;
    return at[1] != '*' && acme_name_ok(at + 1);
}

int cert_spec_copy(struct cert_spec *dst, const struct cert_spec *src)
{
    *dst = *src;
    for (size_t i = 0; i < src->n; i++)
        dst->names[i] = NULL;
    for (size_t i = 0; i < src->n; i++)
        if (!(dst->names[i] = strdup(src->names[i]))) {
            cert_spec_clear(dst);
            return -1;
        }
    return 0;
}

void cert_spec_clear(struct cert_spec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    s->n = 0;
}

static int path_of(char *out, size_t cap, const char *a, const char *b, const char *c,
                   struct err *e)
{
    int l = c ? snprintf(out, cap, "%s/%s/%s", a, b, c) : snprintf(out, cap, "%s/%s", a, b);
    if (l < 0 || (size_t)l >= cap) return err_set(e, "%s/%s: path too long", a, b);
    return 0;
}

/* The file's text, or NULL: *absent set when it does not exist (not an
 * error), else e says why. */
static char *read_text(const char *path, bool *absent, struct err *e)
{
    struct stat st;
    *absent = false;
    if (lstat(path, &st) < 0 && errno == ENOENT) {
        *absent = true;
        return NULL;
    }
    size_t len;
    char *t = read_file(path, CERT_FILE_MAX, &len, e);
    if (t && strlen(t) != len) {
        free(t);
        err_set(e, "%s: contains a NUL byte", path);
        return NULL;
    }
    return t;
}

/* A key file: 0 with *out the key, or NULL when the file does not exist;
 * -1 + e when it cannot be read or is not a key we sign with. */
static int load_key(const char *path, EVP_PKEY **out, struct err *e)
{
    bool absent;
    *out = NULL;
    char *pem = read_text(path, &absent, e);
    if (!pem) return absent ? 0 : -1;
    *out = acme_key_from_pem(pem, strlen(pem), e);
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    if (!*out) return err_prefix(e, "%s", path);
    return 0;
}

int cert_store_load(const struct eon_certs *m, const struct cert_spec *spec,
                    struct cert_loaded *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    char dir[4096], path[4096];
    bool absent;
    if (path_of(dir, sizeof dir, m->certs_dir, spec->names[0], NULL, e) < 0) return -1;
    if (path_of(path, sizeof path, dir, "fullcert.pem", NULL, e) < 0) return -1;
    out->chain_pem = read_text(path, &absent, e);
    if (!out->chain_pem && !absent) return -1;
    if (path_of(path, sizeof path, dir, "privkey.pem", NULL, e) < 0) return -1;
    if (load_key(path, &out->key, e) < 0) goto fail;
    if (out->chain_pem && out->key) {
        struct acme_cert_info info;
        struct err ce;
        if (acme_cert_info_from_pem(out->chain_pem, strlen(out->chain_pem), &info, &ce) == 0) {
            out->renew_at = acme_cert_renew_at(&info, m->renew_before_s);
            out->cached =
                acme_cert_names_equal(&info, (const char *const *)spec->names, spec->n) &&
                !acme_cert_due(&info, time(NULL), m->renew_before_s) &&
                acme_cert_chain_check(out->chain_pem, strlen(out->chain_pem), out->key,
                                      (const char *const *)spec->names, spec->n, &ce) == 0;
            acme_cert_info_clear(&info);
        }
    }
    if (out->cached) return 0;
    if (!out->key) {
        if (!(out->key = acme_key_generate(m->key_type, e))) goto fail;
        out->key_new = true;
    }
    char adir[4096];
    if (path_of(adir, sizeof adir, m->accounts_dir, spec->email, "account.pem", e) < 0) goto fail;
    if (load_key(adir, &out->account, e) < 0) goto fail;
    if (!out->account) {
        if (!(out->account = acme_key_generate(m->key_type, e))) goto fail;
        out->account_new = true;
    }
    return 0;
fail:
    cert_loaded_clear(out);
    return -1;
}

void cert_loaded_clear(struct cert_loaded *l)
{
    free(l->chain_pem);
    EVP_PKEY_free(l->key);
    EVP_PKEY_free(l->account);
    memset(l, 0, sizeof *l);
}

/* One value per line, "key value"; values are checked when read back. */
static char *renew_text(const struct cert_spec *s)
{
    char *t = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&t, &len);
    if (!f) return NULL;
    fprintf(f, "# ceon: what renewing this certificate needs (docs/state-dir.md)\n");
    fprintf(f, "email %s\ndomain %s\n", s->email, s->domain);
    if (s->org[0]) fprintf(f, "org %s\n", s->org);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "name %s\n", s->names[i]);
    if (fclose(f) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

int cert_store_save(const struct eon_certs *m, const struct cert_spec *spec, const char *chain_pem,
                    const char *key_pem, const char *account_pem, struct err *e)
{
    char dir[4096], path[4096];
    if (account_pem) {
        if (path_of(dir, sizeof dir, m->accounts_dir, spec->email, NULL, e) < 0 ||
            mkdir_p(dir, 0750, e) < 0 ||
            path_of(path, sizeof path, dir, "account.pem", NULL, e) < 0 ||
            atomic_write_file(path, account_pem, strlen(account_pem), 0600, e) < 0)
            return -1;
    }
    if (path_of(dir, sizeof dir, m->certs_dir, spec->names[0], NULL, e) < 0 ||
        mkdir_p(dir, 0750, e) < 0)
        return -1;
    if (key_pem && (path_of(path, sizeof path, dir, "privkey.pem", NULL, e) < 0 ||
                    atomic_write_file(path, key_pem, strlen(key_pem), 0600, e) < 0))
        return -1;
    char *renew = renew_text(spec);
    if (!renew) return err_set(e, "out of memory");
    int rc = path_of(path, sizeof path, dir, "fullcert.pem", NULL, e) < 0 ||
                     atomic_write_file(path, chain_pem, strlen(chain_pem), 0600, e) < 0 ||
                     path_of(path, sizeof path, dir, "ceon-renew", NULL, e) < 0 ||
                     atomic_write_file(path, renew, strlen(renew), 0600, e) < 0
                 ? -1
                 : 0;
    free(renew);
    return rc;
}

/* ---- start: re-arming what is on disk ---- */

static int parse_renew(char *text, struct cert_spec *s, struct err *e)
{
    memset(s, 0, sizeof *s);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || !line[0]) continue;
        char *sp = strchr(line, ' ');
        if (!sp) return err_set(e, "line without a value: '%.60s'", line);
        *sp = 0;
        const char *v = sp + 1;
        if (!strcmp(line, "email") && eon_cert_email_ok(v)) {
            snprintf(s->email, sizeof s->email, "%s", v);
        } else if (!strcmp(line, "org") && strlen(v) <= CERT_ORG_MAX) {
            snprintf(s->org, sizeof s->org, "%s", v);
        } else if (!strcmp(line, "domain") && strlen(v) < sizeof s->domain) {
            snprintf(s->domain, sizeof s->domain, "%s", v);
        } else if (!strcmp(line, "name") && acme_name_ok(v) && s->n < ACME_MAX_NAMES) {
            if (!(s->names[s->n] = strdup(v))) return err_set(e, "out of memory");
            s->n++;
        } else {
            return err_set(e, "bad line '%.20s %.60s'", line, v);
        }
    }
    if (!s->email[0] || !s->domain[0] || !s->n) return err_set(e, "email, domain or name missing");
    static const uint8_t root[1] = {0};
    struct err ne;
    if (dns_name_from_text(s->domain, root, s->confine, &ne) < 0)
        return err_set(e, "domain %s: %s", s->domain, ne.msg);
    dns_name_lower(s->confine, s->confine);
    return 0;
}

void cert_store_scan(struct eon_certs *m, cert_scan_fn fn)
{
    DIR *d = opendir(m->certs_dir);
    if (!d) return; /* none yet */
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !eon_name_file_safe(de->d_name)) continue;
        char path[4096];
        struct err e;
        bool absent;
        struct cert_spec spec = {0};
        char *renew = NULL, *chain = NULL;
        if (path_of(path, sizeof path, m->certs_dir, de->d_name, "ceon-renew", &e) < 0) continue;
        if (!(renew = read_text(path, &absent, &e))) {
            if (!absent)
                log_error("certs: %s", e.msg);
            else
                log_info("certs/%s: no ceon-renew file (not ordered by ceon): renewed only when "
                         "Domain.cert asks for it",
                         de->d_name);
            continue;
        }
        int ok = parse_renew(renew, &spec, &e);
        struct acme_cert_info info;
        if (ok == 0 && strcmp(spec.names[0], de->d_name) != 0)
            ok = err_set(&e, "its first name %s is not the directory's", spec.names[0]);
        if (ok == 0 &&
            (path_of(path, sizeof path, m->certs_dir, de->d_name, "fullcert.pem", &e) < 0 ||
             !(chain = read_text(path, &absent, &e))))
            ok = absent ? err_set(&e, "no fullcert.pem") : -1;
        if (ok == 0 && acme_cert_info_from_pem(chain, strlen(chain), &info, &e) == 0) {
            fn(m, &spec, acme_cert_renew_at(&info, m->renew_before_s), info.not_after);
            acme_cert_info_clear(&info);
        } else {
            log_error("certs/%s: not renewed: %s", de->d_name, e.msg);
        }
        cert_spec_clear(&spec);
        free(renew);
        free(chain);
    }
    closedir(d);
}

/* ---- the service's lifetime ---- */

static void rearm(struct eon_certs *m, const struct cert_spec *spec, time_t renew_at,
                  time_t not_after)
{
    cert_unit_update(m, spec, renew_at, not_after, NULL, NULL, NULL);
}

struct eon_certs *eon_certs_new(struct eon_ctx *ctx, const char *state_root,
                                const struct eon_cert_config *cfg, struct err *e)
{
    struct eon_certs *m = calloc(1, sizeof *m);
    if (!m) {
        err_set(e, "out of memory");
        return NULL;
    }
    m->ctx = ctx;
    m->loop = ctx->loop;
    const char *url = cfg->directory_url ? cfg->directory_url
                      : cfg->prod        ? EON_CERT_LE_PROD
                                         : EON_CERT_LE_STAGING;
    long days = cfg->renew_before_days ? cfg->renew_before_days : EON_CERT_RENEW_BEFORE_DAYS;
    m->renew_before_s = days * 24 * 3600;
    m->key_type = cfg->key_type_set ? cfg->key_type : ACME_KEY_P256;
    if (asprintf(&m->certs_dir, "%s/certs", state_root) < 0) m->certs_dir = NULL;
    if (asprintf(&m->accounts_dir, "%s/accounts", state_root) < 0) m->accounts_dir = NULL;
    if (asprintf(&m->pending_dir, "%s/" CERT_PENDING_DIR, state_root) < 0) m->pending_dir = NULL;
    m->directory_url = strdup(url);
    m->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    if (!m->certs_dir || !m->accounts_dir || !m->pending_dir || !m->directory_url ||
        (cfg->ca_file && !m->ca_file)) {
        eon_certs_free(m);
        err_set(e, "out of memory");
        return NULL;
    }
    cert_store_scan(m, rearm);
    cert_pending_sweep(m);
    log_info("certs: ACME directory %s, renewal %ld days before expiry", m->directory_url, days);
    return m;
}

void eon_certs_free(struct eon_certs *m)
{
    if (!m) return;
    free(m->certs_dir);
    free(m->pending_dir);
    free(m->accounts_dir);
    free(m->directory_url);
    free(m->ca_file);
    free(m);
}
