/*
 * capnp stream framing, incremental. A frame is: u32 (segment count - 1),
 * u32 size of each segment in words, padding to 8 bytes, the segments.
 * The table is collected in f->table (bounded by CAPNP_FRAMER_MAX_SEGS),
 * limits are checked as soon as the counts are known, and the one buffer
 * for all segment data grows with the bytes that actually arrive: a peer
 * that claims a large message and sends little costs little memory.
 */
#include "capnp/frame.h"

#include <stdlib.h>

void capnp_framer_init(struct capnp_framer *f, size_t max_bytes, uint32_t max_segs)
{
    memset(f, 0, offsetof(struct capnp_framer, table));
    f->max_bytes = max_bytes ? max_bytes : CAPNP_FRAMER_DEFAULT_MAX_BYTES;
    f->max_segs = max_segs && max_segs <= CAPNP_FRAMER_MAX_SEGS ? max_segs : CAPNP_FRAMER_MAX_SEGS;
}

static uint32_t tab32(const struct capnp_framer *f, size_t i)
{
    uint32_t v;
    memcpy(&v, f->table + 4 * i, 4);
    return v;
}

static size_t take_bytes(uint8_t *dst, size_t want, const uint8_t *src, size_t avail)
{
    size_t n = want < avail ? want : avail;
    if (n) memcpy(dst, src, n);
    return n;
}

int capnp_framer_feed(struct capnp_framer *f, const void *data, size_t len, size_t *used,
                      struct err *e)
{
    const uint8_t *p = data;
    size_t pos = 0;
    *used = 0;
    if (f->ready) return 1;
    if (f->nsegs == 0) {
        size_t n = take_bytes(f->table + f->have, 4 - f->have, p, len);
        f->have += n;
        pos += n;
        if (f->have < 4) {
            *used = pos;
            return 0;
        }
        uint32_t n1 = tab32(f, 0);
        if (n1 >= f->max_segs) {
            *used = pos;
            return err_set(e, "capnp: message claims %llu segments (limit %u)",
                           (unsigned long long)n1 + 1, f->max_segs);
        }
        f->nsegs = n1 + 1;
        f->table_len = (4 * ((size_t)f->nsegs + 1) + 7) & ~(size_t)7;
    }
    if (f->have < f->table_len) {
        size_t n = take_bytes(f->table + f->have, f->table_len - f->have, p + pos, len - pos);
        f->have += n;
        pos += n;
        if (f->have < f->table_len) {
            *used = pos;
            return 0;
        }
        uint64_t words = 0;
        for (uint32_t i = 0; i < f->nsegs; i++)
            words += tab32(f, 1 + i);
        if (words * 8 > f->max_bytes) {
            *used = pos;
            return err_set(e, "capnp: message of %llu bytes exceeds the limit of %zu bytes",
                           (unsigned long long)words * 8, f->max_bytes);
        }
        f->body_len = (size_t)words * 8;
    }
    size_t got = f->have - f->table_len;
    size_t want = f->body_len - got < len - pos ? f->body_len - got : len - pos;
    if (got + want > f->body_cap || (!f->body && f->body_len == 0)) {
        /* Doubling keeps the copies linear in the message size. */
        size_t cap =
            f->body_cap * 2 > CAPNP_FRAMER_BODY_MIN ? f->body_cap * 2 : CAPNP_FRAMER_BODY_MIN;
        if (cap < got + want) cap = got + want;
        if (cap > f->body_len) cap = f->body_len ? f->body_len : 8;
        uint8_t *nb = realloc(f->body, cap);
        if (!nb) {
            *used = pos;
            return err_set(e, "capnp: out of memory for a %zu-byte message", f->body_len);
        }
        f->body = nb;
        f->body_cap = cap;
    }
    /* want is 0 when the input ended right after the segment table: body may
     * still be NULL then, and NULL + 0 is undefined behaviour. */
    size_t n = want ? take_bytes(f->body + got, want, p + pos, len - pos) : 0;
    f->have += n;
    pos += n;
    *used = pos;
    if (f->have < f->table_len + f->body_len) return 0;
    f->ready = 1;
    return 1;
}

int capnp_framer_take(struct capnp_framer *f, struct capnp_msg *m, struct err *e)
{
    if (!f->ready) return err_set(e, "capnp: no complete message");
    struct capnp_seg inl[4] = {0}, *segs = f->nsegs <= 4 ? inl : calloc(f->nsegs, sizeof *segs);
    if (!segs) return err_set(e, "capnp: out of memory");
    size_t off = 0;
    for (uint32_t i = 0; i < f->nsegs; i++) {
        segs[i].p = f->body + off;
        segs[i].words = tab32(f, 1 + i);
        off += (size_t)segs[i].words * 8;
    }
    int r = capnp_msg_init_segs(m, segs, f->nsegs, e);
    if (segs != inl) free(segs);
    if (r < 0) return -1;
    m->owned = f->body;
    f->body = NULL;
    f->nsegs = 0;
    f->table_len = f->have = f->body_len = f->body_cap = 0;
    f->ready = 0;
    return 0;
}

void capnp_framer_free(struct capnp_framer *f)
{
    free(f->body);
    f->body = NULL;
    f->nsegs = 0;
    f->table_len = f->have = f->body_len = f->body_cap = 0;
    f->ready = 0;
}
