#include "eon/state.h"
#include "eon/cert_pending.h"
#include "util/atomicfile.h"
#include "util/b64url.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Directories are 0750, as the original makes them (an admin's group may
 * look in; every file capd writes is 0600, so listing is all it gets). */
#define STATE_DIR_MODE 0750

/* Makes sure `dir` exists as a real directory we can use, at most 0750. */
static int prepare_dir(const char *dir, struct err *e)
{
    struct stat sb;
    if (mkdir(dir, STATE_DIR_MODE) < 0 && errno != EEXIST)
        return err_set(e, "state dir %s: cannot create: %s", dir, strerror(errno));
    if (lstat(dir, &sb) < 0) return err_set(e, "state dir %s: %s", dir, strerror(errno));
    if (S_ISLNK(sb.st_mode)) {
        /* The top-level state dir may be a symlink an admin set up; inner
         * ones may not (they could point anywhere). Callers decide. */
        if (stat(dir, &sb) < 0) return err_set(e, "state dir %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return err_set(e, "state dir %s: exists but is not a directory", dir);
    if ((sb.st_mode & 027) != 0) {
        if (sb.st_uid != geteuid())
            return err_set(e, "state dir %s: mode %03o is too open and it is not ours to fix", dir,
                           (unsigned)(sb.st_mode & 0777));
        if (chmod(dir, sb.st_mode & 0750) < 0)
            return err_set(e, "state dir %s: chmod %03o: %s", dir, (unsigned)(sb.st_mode & 0750),
                           strerror(errno));
    }
    if (access(dir, R_OK | W_OK | X_OK) < 0)
        return err_set(e, "state dir %s: not usable: %s", dir, strerror(errno));
    return 0;
}

static int inner_dir(const char *dir, struct err *e)
{
    struct stat sb;
    if (lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode))
        return err_set(e, "state dir %s: is a symbolic link; refusing to follow it", dir);
    return prepare_dir(dir, e);
}

int eon_state_open(struct eon_state *st, const char *dir, struct err *e)
{
    memset(st, 0, sizeof *st);
    st->lock_fd = -1;
    if (!dir || !*dir) return err_set(e, "state dir: empty path");
    /* mkdir -p for the parents (an admin's /var/lib/eon), 0750 for ours. */
    struct err pe;
    if (mkdir_p(dir, STATE_DIR_MODE, &pe) < 0)
        return err_set(e, "state dir %s: cannot create: %s", dir, pe.msg);
    if (prepare_dir(dir, e) < 0) return -1;
    st->root = strdup(dir);
    char *caps = join(dir, "caps");
    st->caps_domain = caps ? join(caps, "domain") : NULL;
    st->caps_primary = caps ? join(caps, "primary") : NULL;
    st->store = join(dir, "store");
    st->journal = join(dir, "journal");
    if (!st->root || !caps || !st->caps_domain || !st->caps_primary || !st->store || !st->journal) {
        free(caps);
        eon_state_close(st);
        return err_set(e, "state dir %s: out of memory", dir);
    }
    /* acme-challenges is made here too, not at the first challenge record,
     * so that it gets its siblings' checks before anything reads it (the
     * start-time cleanup of cert_pending.h does). */
    char *challenges = join(dir, CERT_PENDING_DIR);
    if (!challenges) {
        free(caps);
        eon_state_close(st);
        return err_set(e, "state dir %s: out of memory", dir);
    }
    const char *dirs[] = {caps,      st->caps_domain, st->caps_primary,
                          st->store, st->journal,     challenges};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (inner_dir(dirs[i], e) < 0) {
            free(caps);
            free(challenges);
            eon_state_close(st);
            return -1;
        }
    }
    free(caps);
    free(challenges);

    char *lock = join(dir, "lock");
    if (!lock) {
        eon_state_close(st);
        return err_set(e, "state dir %s: out of memory", dir);
    }
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (st->lock_fd < 0) {
        err_set(e, "state dir %s: cannot open lock file: %s", dir, strerror(errno));
        free(lock);
        eon_state_close(st);
        return -1;
    }
    free(lock);
    /* flock is released by the kernel when the process dies, even by
     * SIGKILL, so a crash never leaves a stale lock behind. */
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;
        eon_state_close(st);
        if (saved == EWOULDBLOCK) return err_set(e, "state dir %s is in use by another capd", dir);
        return err_set(e, "state dir %s: cannot lock: %s", dir, strerror(saved));
    }
    return 0;
}

void eon_state_close(struct eon_state *st)
{
    if (st->lock_fd >= 0) close(st->lock_fd);
    st->lock_fd = -1;
    free(st->root);
    free(st->caps_domain);
    free(st->caps_primary);
    free(st->store);
    free(st->journal);
    st->root = st->caps_domain = st->caps_primary = st->store = st->journal = NULL;
}

int eon_name_labels_check(const char *name, struct err *e)
{
    size_t len = strlen(name), label = 0;
    if (len == 0) return err_set(e, "it needs at least one label");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0) return err_set(e, "empty label"); /* leading dot, ".." */
            label = 0;
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\')
            return err_set(e, "character 0x%02x is not allowed", c);
        if (++label > 63) return err_set(e, "a label is longer than 63");
    }
    if (label == 0) return err_set(e, "empty label"); /* trailing dot */
    return 0;
}

bool eon_name_file_safe(const char *name)
{
    struct err e;
    return strlen(name) <= 253 && eon_name_labels_check(name, &e) == 0;
}

int eon_state_write_cap(const struct eon_state *st, enum eon_cap_kind kind, const char *name,
                        const char *uri, char *path_out, size_t path_cap, struct err *e)
{
    if (!eon_name_file_safe(name))
        return err_set(e, "refusing to write a capability file for the name '%s'", name);
    const char *dir = kind == EON_CAP_DOMAIN ? st->caps_domain : st->caps_primary;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.cap", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) return err_set(e, "%s/%s.cap: path too long", dir, name);
    if (atomic_write_file(path, uri, strlen(uri), 0600, e) < 0) return -1;
    if (path_out && path_cap) {
        if ((size_t)n >= path_cap) return err_set(e, "%s: path too long", path);
        memcpy(path_out, path, (size_t)n + 1);
    }
    return 0;
}

int eon_state_secondary_dir(const struct eon_state *st, const char *zone, char *out, size_t cap,
                            struct err *e)
{
    if (!eon_name_file_safe(zone))
        return err_set(e, "zone %s: its name cannot be a file name; no secondaries", zone);
    int n = snprintf(out, cap, "%s/caps/secondary", st->root);
    if (n < 0 || (size_t)n >= cap) return err_set(e, "%s/caps/secondary: path too long", st->root);
    if (inner_dir(out, e) < 0) return -1;
    n = snprintf(out, cap, "%s/caps/secondary/%s", st->root, zone);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e, "%s/caps/secondary/%s: path too long", st->root, zone);
    return inner_dir(out, e);
}

void eon_secondary_base_name(const char *host, unsigned port, const uint8_t digest[32],
                             char out[EON_SECONDARY_BASE_MAX])
{
    char h[64], hash[48];
    size_t i = 0;
    for (; host[i] && i < sizeof h - 1; i++) {
        char c = host[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
        h[i] = keep ? c : '_';
    }
    h[i] = 0;
    b64url_encode(digest, 32, hash);
    hash[16] = 0;
    snprintf(out, EON_SECONDARY_BASE_MAX, "%s_%u_%s", i ? h : "nohost", port, hash);
}
