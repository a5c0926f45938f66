/*
 * capnp packed encoding (the spec's "Packing"): each word becomes a tag
 * byte (bit i set = byte i non-zero) and its non-zero bytes; tag 0x00 is
 * followed by a count of further all-zero words, tag 0xff by a count of
 * further words copied verbatim. Applies to a whole framed message
 * (segment table included). Not used by RPC; for files and tools.
 */
#ifndef CEON_CAPNP_PACKED_H
#define CEON_CAPNP_PACKED_H
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Worst-case packed size of len bytes (len a multiple of 8). */
static inline size_t capnp_pack_bound(size_t len)
{
    return len + len / 4 + 16; /* real worst case is about len * 17 / 16 */
}
/* Packs len bytes (a multiple of 8) into out. Returns the packed length,
 * or 0 when cap is too small or len is not a multiple of 8. */
size_t capnp_pack(const void *in, size_t len, uint8_t *out, size_t cap);
/* Unpacks into a malloc'd buffer of at most max_out bytes (zero runs can
 * expand 2 bytes into 2 KiB, so the caller bounds the result). Returns
 * 0 with out and out_len set, or -1 with e filled. */
int capnp_unpack(const void *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len,
                 struct err *e);
#endif
