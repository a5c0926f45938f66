/* capnp packed encoding; see packed.h. */
#include "capnp/packed.h"

#include <stdlib.h>
#include <string.h>

static unsigned zero_bytes(const uint8_t *w)
{
    unsigned z = 0;
    for (int i = 0; i < 8; i++)
        z += w[i] == 0;
    return z;
}

size_t capnp_pack(const void *in, size_t len, uint8_t *out, size_t cap)
{
    const uint8_t *p = in, *end = p + len;
    size_t o = 0;
    if (len % 8) return 0;
    while (p < end) {
        if (cap - o < 10) return 0; /* tag + 8 bytes + count */
        uint8_t tag = 0;
        size_t tpos = o++;
        for (int i = 0; i < 8; i++)
            if (p[i]) {
                tag |= (uint8_t)(1u << i);
                out[o++] = p[i];
            }
        out[tpos] = tag;
        p += 8;
        if (tag == 0) {
            unsigned n = 0;
            while (n < 255 && p < end && zero_bytes(p) == 8) {
                p += 8;
                n++;
            }
            out[o++] = (uint8_t)n;
        } else if (tag == 0xff) {
            /* Copy following words verbatim while they are dense (at most
             * one zero byte), as the reference implementation does. */
            const uint8_t *s = p;
            unsigned n = 0;
            while (n < 255 && p < end && zero_bytes(p) < 2) {
                p += 8;
                n++;
            }
            if (cap - o < 1 + (size_t)n * 8) return 0;
            out[o++] = (uint8_t)n;
            memcpy(out + o, s, (size_t)n * 8);
            o += (size_t)n * 8;
        }
    }
    return o;
}

int capnp_unpack(const void *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len,
                 struct err *e)
{
    const uint8_t *p = in, *end = p + len;
    size_t cap = len * 2 < 4096 ? 4096 : len * 2, o = 0;
    if (cap > max_out) cap = max_out;
    uint8_t *b = malloc(cap ? cap : 8);
    if (!b) return err_set(e, "capnp: out of memory unpacking %zu bytes", len);
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if ((n) > max_out - o) goto too_big;                                                       \
        while ((n) > cap - o) {                                                                    \
            size_t nc = cap * 2 > max_out ? max_out : cap * 2;                                     \
            uint8_t *nb = realloc(b, nc);                                                          \
            if (!nb) goto oom;                                                                     \
            b = nb;                                                                                \
            cap = nc;                                                                              \
        }                                                                                          \
    } while (0)
    while (p < end) {
        uint8_t tag = *p++;
        NEED(8);
        for (int i = 0; i < 8; i++) {
            if (tag & (1u << i)) {
                if (p == end) goto truncated;
                b[o + (size_t)i] = *p++;
            } else {
                b[o + (size_t)i] = 0;
            }
        }
        o += 8;
        if (tag == 0 || tag == 0xff) {
            if (p == end) goto truncated;
            size_t n = (size_t)*p++ * 8;
            NEED(n);
            if (tag == 0) {
                memset(b + o, 0, n);
            } else {
                if ((size_t)(end - p) < n) goto truncated;
                memcpy(b + o, p, n);
                p += n;
            }
            o += n;
        }
    }
#undef NEED
    *out = b;
    *out_len = o;
    return 0;
truncated:
    free(b);
    return err_set(e, "capnp: packed message truncated");
too_big:
    free(b);
    return err_set(e, "capnp: packed message expands beyond %zu bytes", max_out);
oom:
    free(b);
    return err_set(e, "capnp: out of memory unpacking");
}
