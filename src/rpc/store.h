/*
 * store: the restorer's table on disk, in the OCaml original's format
 * (capnp-rpc-unix's file store), so a state dir moves between eon and ceon
 * both ways. Each service's record is kept in DIR/<H>, H = base64url (no
 * padding) of SHA-256(service ID): a copy of the directory does not reveal
 * usable capabilities, and a lookup hashes the presented ID first, so its
 * time does not depend on how much of a real ID it matches.
 *
 * A record is one Cap'n Proto message as a single segment with no segment
 * table (`capnp encode --flat`), nothing around it: exactly the file the
 * original writes. The file name is the only integrity check, as in the
 * original; the reader of a record (eon/saved.h) bounds-checks it.
 * Files are written atomically, mode 0600, in a 0750 directory (as the
 * original's, whose files are 0644: a record names a delegated domain,
 * which other users need not read).
 *
 * Every record is read into memory when the store is opened and kept
 * there (put and del change the disk, then the memory): svc_store_get,
 * called by the restorer on the event loop for any ID a peer presents,
 * never touches the disk, so a peer trying IDs costs a hash and a lookup.
 * The store directory belongs to this process (the state dir's lock):
 * files changed behind its back are seen at the next open.
 *
 * Earlier ceon versions wrote another container (magic, the hash, a framed
 * message): svc_store_open converts every such file in place, so an old
 * state dir keeps working.
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
/* Saves (or replaces) the record for id: one segment, a whole number of
 * 8-byte words. */
int svc_store_put(struct svc_store *s, const uint8_t *id, size_t id_len, const void *data,
                  size_t len, struct err *e);
/* Returns 1 and a malloc'd copy of the record (*data, *len) when id is
 * known, 0 when it is not, -1 when its file was damaged at open (e says
 * how). Memory only. */
int svc_store_get(struct svc_store *s, const uint8_t *id, size_t id_len, uint8_t **data,
                  size_t *len, struct err *e);
/* Removes the record (revocation). 0 also when it did not exist. */
int svc_store_del(struct svc_store *s, const uint8_t *id, size_t id_len, struct err *e);
/* Calls fn for every record (its stored hash, not the ID); fn must not
 * change the store. -1 at a damaged record. */
typedef int (*svc_store_fn)(void *ud, const uint8_t hash[32], const uint8_t *data, size_t len);
int svc_store_each(struct svc_store *s, svc_store_fn fn, void *ud, struct err *e);
/* A file of n bytes in the old ceon container, stored under hash, as a
 * flat record (malloc'd *out). -1 with a message naming what is wrong when
 * it is not such a file, or is damaged. Exposed for the fuzz target. */
int svc_store_legacy_to_flat(const uint8_t *file, size_t n, const uint8_t hash[32], uint8_t **out,
                             size_t *out_len, struct err *e);
#endif
