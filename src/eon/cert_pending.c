/*
 * cert_pending: the files of STATE/acme-challenges (see cert_pending.h):
 * written, removed and parsed here; the start-up sweep that removes what
 * a killed capd left is cert_pending_sweep (cert_int.h), which goes
 * through cert.c's challenge-record path like an order's own clean-up.
 */
#include "eon/cert_pending.h"
#include "eon/cert_int.h"
#include "util/atomicfile.h"
#include "util/b64url.h"
#include "util/log.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char magic[] = "ceon-acme-challenge 1";
static const char prefix[] = "_acme-challenge.";

/* s[0..n) (not NUL-terminated): lowercase letters, digits, '-' and '_' in
 * dot-separated labels under _acme-challenge., as capd writes them. */
static bool owner_ok(const char *s, size_t n)
{
    if (n <= sizeof prefix - 1 || n > CERT_PENDING_OWNER_MAX ||
        memcmp(s, prefix, sizeof prefix - 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool label_char = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!label_char && (c != '.' || i + 1 == n || s[i + 1] == '.')) return false;
    }
    return true;
}

static bool value_ok(const char *s, size_t n)
{
    if (n == 0 || n > CERT_PENDING_VALUE_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return false; /* NUL too */
    return true;
}

int cert_pending_parse(const char *buf, size_t len, struct cert_pending *out, struct err *e)
{
    const char *p = buf, *end = buf + len;
    bool have_owner = false, have_value = false;
    if (len > CERT_PENDING_FILE_MAX)
        return err_set(e, "longer than %d bytes", CERT_PENDING_FILE_MAX);
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return err_set(e, "line %d does not end with a newline", line);
        size_t n = (size_t)(nl - p);
        if (line == 1) {
            if (n != sizeof magic - 1 || memcmp(p, magic, n))
                return err_set(e, "line 1 is not '%s'", magic);
        } else if (n > 6 && !memcmp(p, "owner ", 6) && !have_owner) {
            if (!owner_ok(p + 6, n - 6))
                return err_set(e, "line %d: the owner is not a lowercase _acme-challenge. name",
                               line);
            memcpy(out->owner, p + 6, n - 6);
            out->owner[n - 6] = 0;
            have_owner = true;
        } else if (n > 6 && !memcmp(p, "value ", 6) && !have_value) {
            if (!value_ok(p + 6, n - 6))
                return err_set(e, "line %d: the value is not 1-%d base64url characters", line,
                               CERT_PENDING_VALUE_MAX);
            memcpy(out->value, p + 6, n - 6);
            out->value[n - 6] = 0;
            have_value = true;
        } else {
            return err_set(e, "line %d is not 'owner NAME' or 'value VALUE' (once each)", line);
        }
        p = nl + 1;
    }
    if (!have_owner || !have_value) return err_set(e, "no %s line", have_owner ? "value" : "owner");
    return 0;
}

static int path_for(const char *dir, const char *owner, const char *value, char *out, size_t cap,
                    struct err *e)
{
    char in[CERT_PENDING_OWNER_MAX + CERT_PENDING_VALUE_MAX + 2];
    int l = snprintf(in, sizeof in, "%s %s", owner, value);
    if (l < 0 || (size_t)l >= sizeof in) return err_set(e, "challenge record %s too long", owner);
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)in, (size_t)l, h);
    char name[64];
    b64url_encode(h, sizeof h, name);
    l = snprintf(out, cap, "%s/%s", dir, name);
    if (l < 0 || (size_t)l >= cap) return err_set(e, "%s: path too long", dir);
    return 0;
}

static int fsync_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int er = errno;
        if (fd >= 0) close(fd);
        return err_set(e, "syncing %s: %s", dir, strerror(er));
    }
    close(fd);
    return 0;
}

static int fsync_parent_of(const char *dir, struct err *e)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash) return fsync_dir(".", e);
    *slash = 0;
    return fsync_dir(parent[0] ? parent : "/", e);
}

int cert_pending_record(const char *dir, const char *owner, const char *value, struct err *e)
{
    char path[4096], text[CERT_PENDING_FILE_MAX];
    if (!owner_ok(owner, strlen(owner)) || !value_ok(value, strlen(value)))
        return err_set(e, "challenge record %.300s: not a value capd records", owner);
    if (path_for(dir, owner, value, path, sizeof path, e) < 0) return -1;
    int l = snprintf(text, sizeof text, "%s\nowner %s\nvalue %s\n", magic, owner, value);
    /* The directory's own entry is made durable too, the first time. */
    if (access(dir, F_OK) < 0 && (mkdir_p(dir, 0750, e) < 0 || fsync_parent_of(dir, e) < 0))
        return err_prefix(e, "recording the challenge record");
    if (atomic_write_file(path, text, (size_t)l, 0600, e) < 0)
        return err_prefix(e, "recording the challenge record");
    return 0;
}

int cert_pending_forget(const char *dir, const char *owner, const char *value, struct err *e)
{
    char path[4096];
    if (path_for(dir, owner, value, path, sizeof path, e) < 0) return -1;
    if (unlink(path) < 0) {
        if (errno == ENOENT) return 0;
        return err_set(e, "removing %s: %s", path, strerror(errno));
    }
    return fsync_dir(dir, e);
}

/* ---- the start-up sweep ---- */

struct sweep_op {
    struct eon_certs *m;
    struct cert_pending p;
};

static void sweep_done(void *arg, int rc, const char *why)
{
    struct sweep_op *op = arg;
    struct eon_ctx *ctx = op->m->ctx;
    if (rc == 0)
        log_info("acme: removed the challenge value %s at %s that an interrupted order left",
                 op->p.value, op->p.owner);
    else
        log_error("acme: cannot remove the challenge value %s at %s that an interrupted order "
                  "left (tried again at the next start): %s",
                  op->p.value, op->p.owner, why ? why : "failed");
    free(op);
    ctx->updates_in_flight--;
    eon_ctx_release_vat(ctx);
}

static void sweep_one(struct eon_certs *m, const char *path)
{
    size_t len;
    struct err e;
    char *buf = read_file(path, CERT_PENDING_FILE_MAX, &len, &e);
    struct sweep_op *op = calloc(1, sizeof *op);
    if (!buf || !op || cert_pending_parse(buf, len, &op->p, &e) < 0) {
        log_error("%s: %s; left as it is (delete it once the TXT value it names is gone)", path,
                  buf && op ? e.msg
                  : buf     ? "out of memory"
                            : e.msg);
        free(buf);
        free(op);
        return;
    }
    free(buf);
    uint8_t owner[DNS_NAME_MAX];
    static const uint8_t root_name[1] = {0};
    struct zone *z = NULL;
    if (dns_name_from_text(op->p.owner, root_name, owner, &e) >= 0) z = cert_zone_of(m, owner);
    if (!z) {
        log_error("%s: capd serves no zone for %s; left for a later start", path, op->p.owner);
        free(op);
        return;
    }
    op->m = m;
    m->ctx->updates_in_flight++;
    cert_txt_change(m, z, z->apex, false, op->p.owner, op->p.value, sweep_done, op);
}

void cert_pending_sweep(struct eon_certs *m)
{
    DIR *d = opendir(m->pending_dir);
    if (!d) {
        if (errno != ENOENT) log_error("%s: %s", m->pending_dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", m->pending_dir, de->d_name) >= (int)sizeof path)
            continue;
        if (strstr(de->d_name, ".tmp.")) {
            /* a record whose write a crash interrupted: its value was
             * never added (the file is renamed into place first) */
            unlink(path);
            continue;
        }
        sweep_one(m, path);
    }
    closedir(d);
}
