/*
 * capnp framing: the standard stream framing (segment count - 1, segment
 * sizes as little-endian u32, padding to 8 bytes, then the segments), read
 * incrementally as bytes arrive from a non-blocking socket.
 *
 *   struct capnp_framer f;
 *   capnp_framer_init(&f, 0, 0);
 *   while (have bytes) {
 *       size_t used;
 *       int r = capnp_framer_feed(&f, p, n, &used, &e);
 *       p += used; n -= used;
 *       if (r < 0) { close the connection: e says why }
 *       if (r == 1) { struct capnp_msg m; capnp_framer_take(&f, &m); ...; capnp_msg_free(&m); }
 *   }
 *   capnp_framer_free(&f);
 *
 * Limits: segment count (default and maximum CAPNP_FRAMER_MAX_SEGS) and
 * total message size in bytes (default 64 MiB), both checked as soon as
 * the segment table is known, before any body memory is allocated. The
 * body buffer then grows with the bytes received (doubling, from
 * CAPNP_FRAMER_BODY_MIN), never ahead of them to the claimed size.
 */
#ifndef CEON_CAPNP_FRAME_H
#define CEON_CAPNP_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "capnp/capnp.h"
#include "util/err.h"

#define CAPNP_FRAMER_MAX_SEGS 512u
#define CAPNP_FRAMER_DEFAULT_MAX_BYTES (64u * 1024 * 1024)
#define CAPNP_FRAMER_BODY_MIN 4096u

struct capnp_framer {
    size_t max_bytes;
    uint32_t max_segs;
    /* state */
    uint32_t nsegs;   /* 0 until the first table word is in */
    size_t table_len; /* bytes of the segment table incl. padding */
    size_t have;      /* bytes of the current frame received so far */
    size_t body_len;  /* bytes of segment data */
    uint8_t *body;    /* malloc'd, 8-byte aligned; NULL until body bytes come */
    size_t body_cap;  /* bytes allocated for body (grows as bytes arrive) */
    int ready;        /* a complete message waits for capnp_framer_take */
    uint8_t table[4 * (CAPNP_FRAMER_MAX_SEGS + 1) + 4];
};

/* max_bytes 0 = CAPNP_FRAMER_DEFAULT_MAX_BYTES; max_segs 0 or above the
 * maximum = CAPNP_FRAMER_MAX_SEGS. */
void capnp_framer_init(struct capnp_framer *f, size_t max_bytes, uint32_t max_segs);
/* Consumes bytes up to the end of the current message (*used tells how
 * many). Returns 1 when a complete message is ready (take it before
 * feeding more), 0 when more bytes are needed, -1 on a framing error
 * (e filled; the stream cannot be resynchronised). */
int capnp_framer_feed(struct capnp_framer *f, const void *data, size_t len, size_t *used,
                      struct err *e);
/* Moves the ready message into m (m owns the memory; capnp_msg_free).
 * Returns 0, or -1 when no message is ready. */
int capnp_framer_take(struct capnp_framer *f, struct capnp_msg *m, struct err *e);
/* True when no partial frame is buffered (a clean point to close). */
static inline int capnp_framer_idle(const struct capnp_framer *f)
{
    return f->have == 0 && !f->ready;
}
void capnp_framer_free(struct capnp_framer *f);
#endif
