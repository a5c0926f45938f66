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
#include "util/xalloc.h"

/* The container earlier ceon versions wrote: magic, the SHA-256 the file
 * is stored under, then a framed message (segment table + segments). */
#define LEGACY_MAGIC "ceonsvc1"
#define LEGACY_MAGIC_LEN 8
#define LEGACY_HDR_LEN (LEGACY_MAGIC_LEN + 32)
/* A record names a service (a few names): anything bigger is damage, and
 * the bound keeps what the table holds in memory in proportion to the
 * number of saved services. */
#define MAX_RECORD (64u << 10)
/* A legacy record is a few names: this bounds what converting one reads. */
#define LEGACY_TRAVERSAL_WORDS (1u << 20)

/* One record as read at open or written since: its data, or the reason
 * it cannot be used (a damaged file), kept so restoring it reports the
 * same message without reading the disk again. */
struct record {
    uint8_t hash[32];
    uint8_t *data; /* NULL: damaged, see error */
    size_t len;
    char *error;
    bool used;
};

/* Every record lives in memory, in an open-addressing table keyed by the
 * SHA-256 of the service ID (uniform already): a restore, known ID or not,
 * is one lookup and never touches the disk on the loop (issue 9 point 4).
 * Records are a few names each; the memory is what the directory holds. */
struct svc_store {
    char dir[4096];
    struct record *slots; /* mask + 1 slots */
    size_t mask, used;
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

/* ---- the in-memory table ---- */

static size_t slot_of(const struct svc_store *s, const uint8_t hash[32])
{
    uint64_t k;
    memcpy(&k, hash, sizeof k);
    return (size_t)k & s->mask;
}

static struct record *table_find(struct svc_store *s, const uint8_t hash[32])
{
    for (size_t i = slot_of(s, hash);; i = (i + 1) & s->mask) {
        struct record *r = &s->slots[i];
        if (!r->used) return NULL;
        if (CRYPTO_memcmp(r->hash, hash, 32) == 0) return r;
    }
}

static void record_clear(struct record *r)
{
    free(r->data);
    free(r->error);
    memset(r, 0, sizeof *r);
}

static void table_grow(struct svc_store *s)
{
    size_t old_n = s->mask + 1;
    struct record *old = s->slots;
    s->mask = old_n * 2 - 1;
    s->slots = xcalloc(s->mask + 1, sizeof *s->slots);
    for (size_t i = 0; i < old_n; i++)
        if (old[i].used) {
            size_t j = slot_of(s, old[i].hash);
            while (s->slots[j].used)
                j = (j + 1) & s->mask;
            s->slots[j] = old[i];
        }
    free(old);
}

/* Sets hash's record to data (owned now) or to a damage message. */
static void table_set(struct svc_store *s, const uint8_t hash[32], uint8_t *data, size_t len,
                      const char *error)
{
    struct record *r = table_find(s, hash);
    if (!r) {
        if ((s->used + 1) * 4 > (s->mask + 1) * 3) table_grow(s);
        size_t i = slot_of(s, hash);
        while (s->slots[i].used)
            i = (i + 1) & s->mask;
        r = &s->slots[i];
        s->used++;
    } else {
        record_clear(r);
    }
    r->used = true;
    memcpy(r->hash, hash, 32);
    r->data = data;
    r->len = len;
    r->error = error ? xstrdup(error) : NULL;
}

/* Linear probing's deletion: move later entries of the cluster back so
 * every lookup still finds them without tombstones. */
static void table_del(struct svc_store *s, const uint8_t hash[32])
{
    struct record *r = table_find(s, hash);
    if (!r) return;
    record_clear(r);
    s->used--;
    size_t hole = (size_t)(r - s->slots);
    for (size_t i = (hole + 1) & s->mask; s->slots[i].used; i = (i + 1) & s->mask) {
        size_t home = slot_of(s, s->slots[i].hash);
        /* Entry i may fill the hole if its home is not in (hole, i]. */
        bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (between) continue;
        s->slots[hole] = s->slots[i];
        memset(&s->slots[i], 0, sizeof s->slots[i]);
        hole = i;
    }
}

/* Reads every record of the directory into the table. A record an
 * earlier ceon wrote in its own container is rewritten in the original's
 * form, so the state dir works with either program from now on. A file
 * that cannot be read or converted is kept as its message (restoring it
 * fails with that message, and the log names it once); it does not stop
 * capd. */
static int load(struct svc_store *s, struct err *e)
{
    DIR *d = opendir(s->dir);
    if (!d) return err_set(e, "%s: %s", s->dir, strerror(errno));
    struct dirent *de;
    unsigned converted = 0;
    while ((de = readdir(d))) {
        uint8_t hash[32];
        /* Only record names: 43 base64url characters (not "X.new" etc.). */
        if (strlen(de->d_name) != 43 || b64url_decode(de->d_name, 43, hash, 32) != 32) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        struct err re;
        size_t len = 0;
        bool was_legacy;
        uint8_t *data = read_record(path, hash, &len, &was_legacy, &re);
        if (!data) {
            log_error("store: %s", re.msg);
            table_set(s, hash, NULL, 0, re.msg);
            continue;
        }
        if (was_legacy) {
            if (atomic_write_file(path, data, len, 0600, &re) < 0)
                log_error("store: cannot convert a saved service to the eon format: %s", re.msg);
            else
                converted++;
        }
        table_set(s, hash, data, len, NULL);
    }
    closedir(d);
    if (converted)
        log_info("store: %u saved service(s) converted to the format eon reads", converted);
    return 0;
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
    s->mask = 63;
    s->slots = xcalloc(s->mask + 1, sizeof *s->slots);
    if (load(s, e) < 0) {
        svc_store_close(s);
        return NULL;
    }
    return s;
}

void svc_store_close(struct svc_store *s)
{
    if (!s) return;
    for (size_t i = 0; s->slots && i <= s->mask; i++)
        if (s->slots[i].used) record_clear(&s->slots[i]);
    free(s->slots);
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
    if (atomic_write_file(path, data, len, 0600, e) < 0) return -1;
    uint8_t *copy = xmalloc(len);
    memcpy(copy, data, len);
    table_set(s, hash, copy, len, NULL);
    return 0;
}

int svc_store_get(struct svc_store *s, const uint8_t *id, size_t id_len, uint8_t **data,
                  size_t *len, struct err *e)
{
    uint8_t hash[32];
    SHA256(id, id_len, hash);
    const struct record *r = table_find(s, hash);
    if (!r) return 0;
    if (!r->data) return err_set(e, "%s", r->error);
    *data = xmalloc(r->len);
    memcpy(*data, r->data, r->len);
    *len = r->len;
    return 1;
}

int svc_store_del(struct svc_store *s, const uint8_t *id, size_t id_len, struct err *e)
{
    uint8_t hash[32];
    char path[4400];
    path_for(s, id, id_len, hash, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) return err_set(e, "%s: %s", path, strerror(errno));
    table_del(s, hash);
    return 0;
}

int svc_store_each(struct svc_store *s, svc_store_fn fn, void *ud, struct err *e)
{
    for (size_t i = 0; i <= s->mask; i++) {
        const struct record *r = &s->slots[i];
        if (!r->used) continue;
        if (!r->data) return err_set(e, "%s", r->error);
        int rc = fn(ud, r->hash, r->data, r->len);
        if (rc) return rc;
    }
    return 0;
}
