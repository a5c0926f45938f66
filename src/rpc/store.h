/*
 * store: the restorer's table on disk. Each service's opaque record (what
 * the service layer needs to rebuild it) is kept in DIR/<H> where H is
 * base64url(SHA-256(service ID)): a copy of the directory does not reveal
 * usable capabilities, and a lookup hashes the presented ID first, so its
 * time does not depend on how much of a real ID it matches. Each file
 * starts with the hash it is stored under, compared in constant time when
 * read. Files are written atomically, mode 0600, in a 0700 directory.
 */
#ifndef CEON_RPC_STORE_H
#define CEON_RPC_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct svc_store;

/* Opens (creating it if needed) the store directory. */
struct svc_store *svc_store_open(const char *dir, struct err *e);
void svc_store_close(struct svc_store *s);
/* Saves (or replaces) the record for id. */
int svc_store_put(struct svc_store *s, const uint8_t *id, size_t id_len, const void *data,
                  size_t len, struct err *e);
/* Returns 1 and a malloc'd copy of the record (*data, *len) when id is
 * known, 0 when it is not, -1 on an I/O error or a damaged file. */
int svc_store_get(struct svc_store *s, const uint8_t *id, size_t id_len, uint8_t **data,
                  size_t *len, struct err *e);
/* Removes the record (revocation). 0 also when it did not exist. */
int svc_store_del(struct svc_store *s, const uint8_t *id, size_t id_len, struct err *e);
/* Calls fn for every record (its stored hash, not the ID). */
typedef int (*svc_store_fn)(void *ud, const uint8_t hash[32], const uint8_t *data, size_t len);
int svc_store_each(struct svc_store *s, svc_store_fn fn, void *ud, struct err *e);
#endif
