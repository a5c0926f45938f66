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

#include "util/atomicfile.h"
#include "util/b64url.h"

#define MAGIC "ceonsvc1"
#define MAGIC_LEN 8
#define HDR_LEN (MAGIC_LEN + 32)
#define MAX_RECORD (16u << 20)

struct svc_store {
    char dir[4096];
};

struct svc_store *svc_store_open(const char *dir, struct err *e)
{
    if (strlen(dir) + 64 >= sizeof((struct svc_store *)0)->dir) {
        err_set(e, "%s: path too long", dir);
        return NULL;
    }
    if (mkdir_p(dir, 0700, e) < 0) return NULL;
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
    char name[48];
    b64url_encode(hash, 32, name);
    snprintf(path, cap, "%s/%s", s->dir, name);
}

int svc_store_put(struct svc_store *s, const uint8_t *id, size_t id_len, const void *data,
                  size_t len, struct err *e)
{
    if (len > MAX_RECORD) return err_set(e, "service record too large");
    uint8_t hash[32];
    char path[4400];
    path_for(s, id, id_len, hash, path, sizeof path);
    uint8_t *buf = malloc(HDR_LEN + len);
    if (!buf) return err_set(e, "out of memory");
    memcpy(buf, MAGIC, MAGIC_LEN);
    memcpy(buf + MAGIC_LEN, hash, 32);
    if (len) memcpy(buf + HDR_LEN, data, len);
    int rc = atomic_write_file(path, buf, HDR_LEN + len, 0600, e);
    free(buf);
    return rc;
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
    size_t n;
    char *buf = read_file(path, HDR_LEN + MAX_RECORD, &n, e);
    if (!buf) return -1;
    if (n < HDR_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0 ||
        CRYPTO_memcmp(buf + MAGIC_LEN, hash, 32) != 0) {
        free(buf);
        return err_set(e, "%s: damaged service record", path);
    }
    memmove(buf, buf + HDR_LEN, n - HDR_LEN);
    *data = (uint8_t *)buf;
    *len = n - HDR_LEN;
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
        /* Only our own file names: 43 base64url characters. */
        if (strlen(de->d_name) != 43 || b64url_decode(de->d_name, 43, hash, 32) != 32) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        size_t n;
        char *buf = read_file(path, HDR_LEN + MAX_RECORD, &n, e);
        if (!buf) {
            rc = -1;
            break;
        }
        if (n >= HDR_LEN && memcmp(buf, MAGIC, MAGIC_LEN) == 0 &&
            CRYPTO_memcmp(buf + MAGIC_LEN, hash, 32) == 0)
            rc = fn(ud, hash, (uint8_t *)buf + HDR_LEN, n - HDR_LEN);
        free(buf);
    }
    closedir(d);
    return rc;
}
