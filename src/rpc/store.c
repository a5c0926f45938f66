#include "rpc/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "capnp/capnp.h"
#include "util/atomicfile.h"
#include "util/b64url.h"
#include "util/log.h"

/* The container earlier ceon versions wrote: magic, the SHA-256 the file
 * is stored under, then a framed message (segment table + segments). */
#define LEGACY_MAGIC "ceonsvc1"
#define LEGACY_MAGIC_LEN 8
#define LEGACY_HDR_LEN (LEGACY_MAGIC_LEN + 32)
#define MAX_RECORD (16u << 20)
/* A legacy record is a few names: this bounds what converting one reads. */
#define LEGACY_TRAVERSAL_WORDS (1u << 20)

struct svc_store {
    char dir[4096];
};

static bool is_legacy(const uint8_t *buf, size_t n)
{
    return n >= LEGACY_HDR_LEN && memcmp(buf, LEGACY_MAGIC, LEGACY_MAGIC_LEN) == 0;
}

int svc_store_legacy_to_flat(const uint8_t *file, size_t n, const uint8_t hash[32], uint8_t **out,
                             size_t *out_len, struct err *e)
{
    if (!is_legacy(file, n)) return err_set(e, "not a record in the old ceon format");
    /* The hash inside must be the one the file is stored under: a file
     * copied under another name is not silently someone else's service. */
    if (CRYPTO_memcmp(file + LEGACY_MAGIC_LEN, hash, 32) != 0)
        return err_set(e, "damaged service record (old ceon format, stored under another name)");
    struct capnp_msg m;
    if (capnp_msg_init_bytes(&m, file + LEGACY_HDR_LEN, n - LEGACY_HDR_LEN, e) < 0)
        return err_prefix(e, "damaged service record (old ceon format)");
    capnp_msg_set_limits(&m, LEGACY_TRAVERSAL_WORDS, 64);
    /* One first segment big enough for the whole copy, so the result is a
     * single segment: the form the original reads. */
    struct capnp_builder b;
    capnp_builder_init(&b, (uint32_t)((n - LEGACY_HDR_LEN) / 8 + 16));
    int rc = capnp_copy(capnp_builder_root(&b), capnp_msg_root(&m));
    if (rc < 0 || capnp_msg_error(&m))
        rc = err_set(e, "damaged service record (old ceon format): %s",
                     capnp_msg_error(&m) ? capnp_msg_error(&m) : "cannot copy it");
    uint8_t *framed = NULL;
    size_t flen = 0;
    if (rc == 0) rc = capnp_builder_serialize(&b, &framed, &flen, e);
    capnp_builder_free(&b);
    capnp_msg_free(&m);
    if (rc < 0) return -1;
    /* framed = u32 segment count - 1, u32 words, the segment. */
    if (flen < 8 || (framed[0] | framed[1] | framed[2] | framed[3]) != 0) {
        free(framed);
        return err_set(e, "service record did not fit in one segment");
    }
    memmove(framed, framed + 8, flen - 8);
    *out = framed;
    *out_len = flen - 8;
    return 0;
}

static void path_of_hash(const struct svc_store *s, const uint8_t hash[32], char *path, size_t cap)
{
    char name[48];
    b64url_encode(hash, 32, name);
    snprintf(path, cap, "%s/%s", s->dir, name);
}

/* Reads the record in path: a flat record as it is, an old ceon one
 * converted (*converted set). Returns a malloc'd buffer or NULL. */
static uint8_t *read_record(const char *path, const uint8_t hash[32], size_t *len, bool *converted,
                            struct err *e)
{
    size_t n;
    uint8_t *buf = (uint8_t *)read_file(path, LEGACY_HDR_LEN + MAX_RECORD, &n, e);
    *converted = false;
    if (!buf) return NULL;
    if (is_legacy(buf, n)) {
        uint8_t *flat;
        int rc = svc_store_legacy_to_flat(buf, n, hash, &flat, len, e);
        free(buf);
        if (rc < 0) {
            err_prefix(e, "%s", path);
            return NULL;
        }
        *converted = true;
        return flat;
    }
    if (n == 0 || n % 8 != 0 || n > MAX_RECORD) {
        free(buf);
        err_set(e, "%s: damaged service record (%zu bytes, not a whole Cap'n Proto segment)", path,
                n);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Rewrites every record an earlier ceon wrote in the original's form, so
 * the state dir works with either program from now on. A record that
 * cannot be converted is left as it is and named in the log (restoring it
 * fails with the same message); it does not stop capd. */
static void migrate(struct svc_store *s)
{
    DIR *d = opendir(s->dir);
    if (!d) return;
    struct dirent *de;
    unsigned converted = 0;
    while ((de = readdir(d))) {
        uint8_t hash[32];
        if (strlen(de->d_name) != 43 || b64url_decode(de->d_name, 43, hash, 32) != 32) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        char magic[LEGACY_MAGIC_LEN];
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        size_t got = fread(magic, 1, sizeof magic, f);
        fclose(f);
        if (got != sizeof magic || memcmp(magic, LEGACY_MAGIC, LEGACY_MAGIC_LEN) != 0) continue;
        struct err e;
        size_t len;
        bool was_legacy;
        uint8_t *flat = read_record(path, hash, &len, &was_legacy, &e);
        if (!flat || atomic_write_file(path, flat, len, 0600, &e) < 0)
            log_error("store: cannot convert a saved service to the eon format: %s", e.msg);
        else
            converted++;
        free(flat);
    }
    closedir(d);
    if (converted)
        log_info("store: %u saved service(s) converted to the format eon reads", converted);
}

struct svc_store *svc_store_open(const char *dir, struct err *e)
{
    if (strlen(dir) + 64 >= sizeof((struct svc_store *)0)->dir) {
        err_set(e, "%s: path too long", dir);
        return NULL;
    }
    if (mkdir_p(dir, 0750, e) < 0) return NULL;
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        err_set(e, "%s: not a directory", dir);
        return NULL;
    }
    struct svc_store *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(e, "out of memory");
        return NULL;
    }
    strcpy(s->dir, dir);
    migrate(s);
    return s;
}

void svc_store_close(struct svc_store *s)
{
    free(s);
}

static void path_for(const struct svc_store *s, const uint8_t *id, size_t id_len, uint8_t hash[32],
                     char *path, size_t cap)
{
    SHA256(id, id_len, hash);
    path_of_hash(s, hash, path, cap);
}

int svc_store_put(struct svc_store *s, const uint8_t *id, size_t id_len, const void *data,
                  size_t len, struct err *e)
{
    if (len == 0 || len % 8 != 0) return err_set(e, "service record is not a whole segment");
    if (len > MAX_RECORD) return err_set(e, "service record too large");
    uint8_t hash[32];
    char path[4400];
    path_for(s, id, id_len, hash, path, sizeof path);
    return atomic_write_file(path, data, len, 0600, e);
}

int svc_store_get(struct svc_store *s, const uint8_t *id, size_t id_len, uint8_t **data,
                  size_t *len, struct err *e)
{
    uint8_t hash[32];
    char path[4400];
    path_for(s, id, id_len, hash, path, sizeof path);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT) return 0;
        return err_set(e, "%s: %s", path, strerror(errno));
    }
    bool converted;
    uint8_t *buf = read_record(path, hash, len, &converted, e);
    if (!buf) return -1;
    *data = buf;
    return 1;
}

int svc_store_del(struct svc_store *s, const uint8_t *id, size_t id_len, struct err *e)
{
    uint8_t hash[32];
    char path[4400];
    path_for(s, id, id_len, hash, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) return err_set(e, "%s: %s", path, strerror(errno));
    return 0;
}

int svc_store_each(struct svc_store *s, svc_store_fn fn, void *ud, struct err *e)
{
    DIR *d = opendir(s->dir);
    if (!d) return err_set(e, "%s: %s", s->dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        uint8_t hash[32];
        /* Only record names: 43 base64url characters (not "X.new" etc.). */
        if (strlen(de->d_name) != 43 || b64url_decode(de->d_name, 43, hash, 32) != 32) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        size_t n;
        bool converted;
        uint8_t *buf = read_record(path, hash, &n, &converted, e);
        if (!buf) {
            rc = -1;
            break;
        }
        rc = fn(ud, hash, buf, n);
        free(buf);
    }
    closedir(d);
    return rc;
}
