/*
 * saved: the SavedService records (schema/store.capnp) capd keeps in its
 * state dir's store for each delegated capability, in the OCaml original's
 * form: one Cap'n Proto segment, no segment table (rpc/store.h). Records
 * come from disk, so decoding bounds-checks everything and turns any
 * damage into a message.
 */
#ifndef CEON_EON_SAVED_H
#define CEON_EON_SAVED_H
#include "dns/name.h"
#include "util/err.h"
#include <stddef.h>
#include <stdint.h>

enum eon_saved_kind { EON_SAVED_DOMAIN, EON_SAVED_SECONDARY };

struct eon_saved {
    enum eon_saved_kind kind;
    /* As saved (case kept), NUL-terminated, without NUL bytes inside. */
    char name[DNS_NAME_TEXT_MAX];
    /* DOMAIN: the zone the name is delegated from. Empty in records of
     * older eon versions, which saved only the name. */
    char primary[DNS_NAME_TEXT_MAX];
};

/* A SavedService.domain record for name in zone primary, as a malloc'd
 * flat segment (*out, *len: a multiple of 8). */
int eon_saved_domain_encode(const char *name, const char *primary, uint8_t **out, size_t *len,
                            struct err *e);
/* A SavedService.secondary record for zone name (a secondary's Secondary
 * capability), in the same form. */
int eon_saved_secondary_encode(const char *name, uint8_t **out, size_t *len, struct err *e);
/* Reads a flat record of len bytes. -1 with a message on anything that is
 * not a well-formed SavedService with names that fit. */
int eon_saved_decode(const uint8_t *flat, size_t len, struct eon_saved *out, struct err *e);
#endif
