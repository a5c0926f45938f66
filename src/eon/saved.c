#include "eon/saved.h"
#include "capnp/capnp.h"
#include "eon/gen/store.capnp.h"
#include <stdlib.h>
#include <string.h>

/* A record holds two names: far below this. Bounds what decoding reads. */
#define MAX_SAVED_BYTES (64u * 1024)
#define TRAVERSAL_WORDS (MAX_SAVED_BYTES / 8 * 4)

/* framed = u32 segment count - 1, u32 words, then the segment: the
 * original's reader takes a record as exactly one segment. */
static int flatten(struct capnp_builder *b, uint8_t **out, size_t *len, struct err *e)
{
    uint8_t *framed = NULL;
    size_t flen = 0;
    int rc = capnp_builder_serialize(b, &framed, &flen, e);
    capnp_builder_free(b);
    if (rc < 0) return -1;
    if (flen <= 8 || (framed[0] | framed[1] | framed[2] | framed[3]) != 0) {
        free(framed);
        return err_set(e, "saved service did not fit in one segment");
    }
    memmove(framed, framed + 8, flen - 8);
    *out = framed;
    *len = flen - 8;
    return 0;
}

int eon_saved_domain_encode(const char *name, const char *primary, uint8_t **out, size_t *len,
                            struct err *e)
{
    size_t nl = strlen(name), pl = strlen(primary);
    if (nl >= DNS_NAME_TEXT_MAX || pl >= DNS_NAME_TEXT_MAX)
        return err_set(e, "name too long to save");
    /* A first segment the whole message fits in (root pointer, SavedService,
     * SavedDomain, two texts, with room to spare). */
    struct capnp_builder b;
    capnp_builder_init(&b, (uint32_t)(16 + (nl + pl) / 8 + 2));
    store_SavedService_B s = store_SavedService_new_root(&b);
    store_SavedDomain_B dom = store_SavedService_init_domain(s);
    store_SavedDomain_set_name(dom, name, (uint32_t)nl);
    store_SavedDomain_set_primary(dom, primary, (uint32_t)pl);
    return flatten(&b, out, len, e);
}

int eon_saved_secondary_encode(const char *name, uint8_t **out, size_t *len, struct err *e)
{
    size_t nl = strlen(name);
    if (nl >= DNS_NAME_TEXT_MAX) return err_set(e, "name too long to save");
    struct capnp_builder b;
    capnp_builder_init(&b, (uint32_t)(16 + nl / 8 + 2));
    store_SavedService_B s = store_SavedService_new_root(&b);
    store_SavedSecondary_B sec = store_SavedService_init_secondary(s);
    store_SavedSecondary_set_name(sec, name, (uint32_t)nl);
    return flatten(&b, out, len, e);
}

static int copy_name(capnp_text t, char *out, const char *what, struct err *e)
{
    if (t.len >= DNS_NAME_TEXT_MAX)
        return err_set(e, "saved %s is too long (%u bytes)", what, t.len);
    if (memchr(t.str, 0, t.len)) return err_set(e, "saved %s contains a NUL byte", what);
    memcpy(out, t.str, t.len);
    out[t.len] = 0;
    return 0;
}

int eon_saved_decode(const uint8_t *flat, size_t len, struct eon_saved *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len % 8 != 0 || len > MAX_SAVED_BYTES)
        return err_set(e,
                       "damaged saved service: %zu bytes is not one Cap'n Proto segment of at "
                       "most %u bytes",
                       len, MAX_SAVED_BYTES);
    struct capnp_seg seg = {flat, (uint32_t)(len / 8)};
    struct capnp_msg m;
    if (capnp_msg_init_segs(&m, &seg, 1, e) < 0) return -1;
    capnp_msg_set_limits(&m, TRAVERSAL_WORDS, 16);
    store_SavedService_R s = store_SavedService_read_root(&m);
    int rc = 0;
    switch (store_SavedService_which(s)) {
    case store_SavedService_domain: {
        store_SavedDomain_R d = store_SavedService_get_domain(s);
        out->kind = EON_SAVED_DOMAIN;
        if (copy_name(store_SavedDomain_get_name(d), out->name, "name", e) < 0 ||
            copy_name(store_SavedDomain_get_primary(d), out->primary, "zone", e) < 0)
            rc = -1;
        break;
    }
    case store_SavedService_secondary:
        out->kind = EON_SAVED_SECONDARY;
        rc = copy_name(store_SavedSecondary_get_name(store_SavedService_get_secondary(s)),
                       out->name, "name", e);
        break;
    default:
        rc = err_set(e, "saved service of a kind this capd does not know (%u)",
                     (unsigned)store_SavedService_which(s));
    }
    if (rc == 0 && capnp_msg_error(&m))
        rc = err_set(e, "damaged saved service: %s", capnp_msg_error(&m));
    if (rc == 0 && !out->name[0]) rc = err_set(e, "damaged saved service: no name");
    capnp_msg_free(&m);
    return rc;
}
