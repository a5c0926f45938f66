/*
 * buf: a bounded byte writer and reader. Writers never overrun: once a
 * write does not fit, the buffer is marked overflowed and later writes are
 * ignored, so callers check once at the end (buf_ok). Readers likewise
 * return zero and mark failure on a short read. All multi-byte integers are
 * big-endian (network order) unless the _le variant is used.
 */
#ifndef CEON_BUF_H
#define CEON_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static inline void wbuf_init(struct wbuf *b, void *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}
static inline bool wbuf_ok(const struct wbuf *b) { return !b->overflow; }
static inline size_t wbuf_room(const struct wbuf *b) { return b->overflow ? 0 : b->cap - b->len; }
static inline bool wbuf_put(struct wbuf *b, const void *d, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return false;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
    return true;
}
static inline bool wbuf_u8(struct wbuf *b, uint8_t v) { return wbuf_put(b, &v, 1); }
static inline bool wbuf_u16(struct wbuf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return wbuf_put(b, t, 2);
}
static inline bool wbuf_u32(struct wbuf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return wbuf_put(b, t, 4);
}

struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    bool fail;
};

static inline void rbuf_init(struct rbuf *r, const void *mem, size_t len)
{
    r->p = mem;
    r->len = len;
    r->pos = 0;
    r->fail = false;
}
static inline bool rbuf_ok(const struct rbuf *r) { return !r->fail; }
static inline size_t rbuf_left(const struct rbuf *r) { return r->fail ? 0 : r->len - r->pos; }
static inline bool rbuf_get(struct rbuf *r, void *d, size_t n)
{
    if (r->fail || n > r->len - r->pos) {
        r->fail = true;
        if (d && n)
            memset(d, 0, n);
        return false;
    }
    if (d && n)
        memcpy(d, r->p + r->pos, n);
    r->pos += n;
    return true;
}
static inline uint8_t rbuf_u8(struct rbuf *r)
{
    uint8_t v;
    rbuf_get(r, &v, 1);
    return v;
}
static inline uint16_t rbuf_u16(struct rbuf *r)
{
    uint8_t t[2];
    rbuf_get(r, t, 2);
    return (uint16_t)(t[0] << 8 | t[1]);
}
static inline uint32_t rbuf_u32(struct rbuf *r)
{
    uint8_t t[4];
    rbuf_get(r, t, 4);
    return (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
}

/* Big-endian loads/stores on raw memory whose bounds the caller checked. */
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
#endif
