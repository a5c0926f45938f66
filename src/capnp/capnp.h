/*
 * capnp: Cap'n Proto messages (encoding spec), reader and builder, plus the
 * runtime the generated code (tools/capnpc-c) calls.
 *
 * Reader: a struct capnp_msg holds the segments of a received message.
 * Every pointer is bounds-checked against its segment; a traversal budget
 * (words read through pointers) and a nesting limit bound the work a small
 * hostile message can cause. A failure never aborts: the accessor returns
 * the default (null/zero) value and records a sticky error in the message,
 * so callers decode everything and then check capnp_msg_error() once.
 * A zero-initialised reader value (capnp_struct_r, capnp_list_r,
 * capnp_ptr_r) is a valid null value.
 *
 * Builder: an arena of segments. Objects are placed in the segment of the
 * pointer that refers to them when there is room, otherwise in a new (or
 * the last) segment behind a landing pad (a far pointer). Memory is never
 * moved, so builder values stay valid until capnp_builder_reset/free.
 * Allocation failure is sticky too: capnp_builder_error().
 *
 * Stream framing (segment table) is in capnp/frame.h.
 * Little-endian hosts only (checked at compile time).
 */
#ifndef CEON_CAPNP_H
#define CEON_CAPNP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "util/err.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "capnp: little-endian hosts only"
#endif

#define CAPNP_DEFAULT_TRAVERSAL_WORDS (8u * 1024 * 1024)
#define CAPNP_DEFAULT_NESTING 64
#define CAPNP_MAX_SEGMENT_WORDS ((1u << 29) - 1)

/* List element sizes as encoded in list pointers. */
enum capnp_esize {
    CAPNP_ES_VOID = 0,
    CAPNP_ES_BIT = 1,
    CAPNP_ES_BYTE = 2,
    CAPNP_ES_2B = 3,
    CAPNP_ES_4B = 4,
    CAPNP_ES_8B = 5,
    CAPNP_ES_PTR = 6,
    CAPNP_ES_COMPOSITE = 7,
};

/* ---------------------------------------------------------------- reader */

struct capnp_seg {
    const uint8_t *p; /* 8-byte words; alignment not required */
    uint32_t words;
};

struct capnp_msg {
    struct capnp_seg *segs;
    uint32_t nsegs;
    uint64_t traversal_left; /* words */
    int nesting_limit;
    const char *error; /* first error, NULL while fine */
    char errbuf[160];
    void *owned;      /* buffer freed by capnp_msg_free (from the framer) */
    void *owned_segs; /* the segs array (heap, so the struct may be moved) */
    bool readonly;    /* static (CAPNP_STATIC_MSG): never written, see below */
};

typedef struct {
    struct capnp_msg *msg;
    const uint8_t *data;
    const uint8_t *ptrs;
    uint32_t seg;
    uint32_t data_bits;
    uint16_t nptrs;
    int16_t nesting; /* remaining nesting budget for pointers inside */
} capnp_struct_r;

typedef struct {
    struct capnp_msg *msg;
    const uint8_t *base; /* first element (after the tag for composite lists) */
    uint32_t seg;
    uint32_t len;       /* element count */
    uint32_t step_bits; /* distance between elements */
    uint32_t data_bits; /* data bits per element (struct view) */
    uint16_t nptrs;     /* pointers per element (struct view) */
    uint8_t esize;      /* enum capnp_esize as encoded */
    int16_t nesting;
} capnp_list_r;

typedef struct {
    struct capnp_msg *msg;
    const uint8_t *p; /* the pointer word */
    uint32_t seg;
    int16_t nesting;
} capnp_ptr_r;

typedef struct {
    const char *str; /* NUL-terminated; "" for null */
    uint32_t len;    /* without the NUL */
} capnp_text;

typedef struct {
    const uint8_t *ptr; /* NULL when len == 0 */
    uint32_t len;
} capnp_data;

/* Reads a whole framed message (segment table + segments) from buf, which
 * must stay alive and unchanged while msg is used. Returns 0, or -1 with
 * e filled (truncated table, absurd segment count, short data). */
int capnp_msg_init_bytes(struct capnp_msg *m, const void *buf, size_t len, struct err *e);
/* Wraps existing segments (copied array of n entries). Returns 0 / -1. */
int capnp_msg_init_segs(struct capnp_msg *m, const struct capnp_seg *segs, uint32_t n,
                        struct err *e);
void capnp_msg_set_limits(struct capnp_msg *m, uint64_t traversal_words, int nesting);
void capnp_msg_free(struct capnp_msg *m);
static inline const char *capnp_msg_error(const struct capnp_msg *m)
{
    return m->error;
}
/* Records an error (first one wins); used by generated code and rpc for
 * semantic errors found while decoding. */
void capnp_msg_fail(struct capnp_msg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

capnp_ptr_r capnp_msg_root(struct capnp_msg *m);

/* A read-only, single-segment message over static words, such as the
 * default values of struct/list/AnyPointer fields that capnpc-c emits
 * (word 0 is the root pointer). Readers over it are bounds-checked like
 * any others (nesting limit included), but the message is shared and
 * never written, so it may be const and read from several threads: reads
 * are not charged to a traversal budget and errors (e.g. a list index out
 * of range) give the default value without being recorded. Only for
 * trusted, compile-time content (no pointer loops or amplification).
 * seg: a struct capnp_seg. */
#define CAPNP_STATIC_MSG(seg)                                                                      \
    {                                                                                              \
        .segs = (struct capnp_seg *)&(seg), .nsegs = 1, .traversal_left = UINT64_MAX,              \
        .nesting_limit = CAPNP_DEFAULT_NESTING, .readonly = true                                   \
    }
/* p, or when p is null the root of the static message dflt. */
capnp_ptr_r capnp_ptr_r_or(capnp_ptr_r p, const struct capnp_msg *dflt);

/* Pointer kinds as seen through far pointers. */
enum capnp_ptr_kind {
    CAPNP_PTR_NULL,
    CAPNP_PTR_STRUCT,
    CAPNP_PTR_LIST,
    CAPNP_PTR_CAP,
    CAPNP_PTR_INVALID
};
enum capnp_ptr_kind capnp_ptr_r_kind(capnp_ptr_r p);
static inline bool capnp_ptr_r_is_null(capnp_ptr_r p)
{
    uint64_t w = 0;
    if (p.p) memcpy(&w, p.p, 8);
    return w == 0;
}
capnp_struct_r capnp_ptr_r_struct(capnp_ptr_r p);
/* expect: the element size the schema expects (CAPNP_ES_COMPOSITE for
 * lists of structs, which also accepts any non-bit encoding). */
capnp_list_r capnp_ptr_r_list(capnp_ptr_r p, enum capnp_esize expect);
/* Any list as encoded (l.esize tells which), for generic walks. */
capnp_list_r capnp_ptr_r_list_any(capnp_ptr_r p);
capnp_text capnp_ptr_r_text(capnp_ptr_r p);
capnp_data capnp_ptr_r_data(capnp_ptr_r p);
/* Capability pointer: sets *idx to the cap-table index; false otherwise. */
bool capnp_ptr_r_cap(capnp_ptr_r p, uint32_t *idx);

static inline capnp_ptr_r capnp_struct_r_ptr(capnp_struct_r s, uint16_t i)
{
    capnp_ptr_r p = {0};
    if (i < s.nptrs) {
        p.msg = s.msg;
        p.p = s.ptrs + 8u * i;
        p.seg = s.seg;
        p.nesting = s.nesting;
    }
    return p;
}

/* Primitive fields; off is in units of the field's size, as in the schema.
 * Reading past the data section gives 0 (the generated code XORs the
 * schema default). */
#define CAPNP_R_GET(name, T, bits)                                                                 \
    static inline T capnp_struct_r_##name(capnp_struct_r s, uint32_t off)                          \
    {                                                                                              \
        T v = 0;                                                                                   \
        if (((uint64_t)off + 1) * bits <= s.data_bits)                                             \
            memcpy(&v, s.data + (size_t)off * (bits / 8), sizeof v);                               \
        return v;                                                                                  \
    }
CAPNP_R_GET(u8, uint8_t, 8)
CAPNP_R_GET(u16, uint16_t, 16)
CAPNP_R_GET(u32, uint32_t, 32)
CAPNP_R_GET(u64, uint64_t, 64)
#undef CAPNP_R_GET
static inline bool capnp_struct_r_bool(capnp_struct_r s, uint32_t bit)
{
    if (bit >= s.data_bits) return false;
    return (s.data[bit / 8] >> (bit % 8)) & 1;
}
static inline float capnp_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline double capnp_f64(uint64_t u)
{
    double f;
    memcpy(&f, &u, 8);
    return f;
}
static inline uint32_t capnp_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline uint64_t capnp_f64_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    return u;
}

/* List elements. Out-of-range i records an error and gives the default. */
static inline uint32_t capnp_list_r_len(capnp_list_r l)
{
    return l.len;
}
void capnp__list_range(capnp_list_r l, uint32_t i); /* records the error */
/* Element i as a struct (any non-bit list: primitive elements are the
 * struct's first field, pointer elements its first pointer). */
static inline capnp_struct_r capnp_list_r_struct(capnp_list_r l, uint32_t i)
{
    capnp_struct_r s = {0};
    if (i >= l.len || l.esize == CAPNP_ES_BIT) {
        if (l.msg && i >= l.len) capnp__list_range(l, i);
        return s;
    }
    s.msg = l.msg;
    s.seg = l.seg;
    s.data = l.base + (size_t)i * (l.step_bits / 8);
    s.data_bits = l.data_bits;
    s.ptrs = s.data + l.data_bits / 8;
    s.nptrs = l.nptrs;
    s.nesting = l.nesting;
    return s;
}
capnp_ptr_r capnp_list_r_ptr(capnp_list_r l, uint32_t i);
bool capnp_list_r_bool(capnp_list_r l, uint32_t i);
uint8_t capnp_list_r_u8(capnp_list_r l, uint32_t i);
uint16_t capnp_list_r_u16(capnp_list_r l, uint32_t i);
uint32_t capnp_list_r_u32(capnp_list_r l, uint32_t i);
uint64_t capnp_list_r_u64(capnp_list_r l, uint32_t i);
static inline capnp_text capnp_list_r_text(capnp_list_r l, uint32_t i)
{
    return capnp_ptr_r_text(capnp_list_r_ptr(l, i));
}
static inline capnp_data capnp_list_r_data(capnp_list_r l, uint32_t i)
{
    return capnp_ptr_r_data(capnp_list_r_ptr(l, i));
}

/* --------------------------------------------------------------- builder */

struct capnp_bseg {
    uint8_t *p;         /* 8-byte aligned, zeroed */
    uint32_t used, cap; /* words */
};

struct capnp_builder {
    struct capnp_bseg *segs;
    uint32_t nsegs, segs_cap;
    uint32_t first_words; /* size of the first segment */
    uint64_t total_words; /* words allocated in all segments */
    const char *error;
};

typedef struct {
    struct capnp_builder *b; /* NULL: a null builder (writes are ignored) */
    uint8_t *data;
    uint8_t *ptrs;
    uint32_t seg;
    uint32_t data_words;
    uint16_t nptrs;
} capnp_struct_b;

typedef struct {
    struct capnp_builder *b;
    uint8_t *base;
    uint32_t seg;
    uint32_t len;
    uint32_t step_bits;
    uint32_t data_words; /* composite: data words per element */
    uint16_t nptrs;      /* composite: pointers per element; PTR lists: 1 */
    uint8_t esize;
} capnp_list_b;

typedef struct {
    struct capnp_builder *b;
    uint8_t *p;
    uint32_t seg;
} capnp_ptr_b;

/* first_words: size hint for the first segment (0 = 1024 words). */
void capnp_builder_init(struct capnp_builder *b, uint32_t first_words);
/* Forgets the content but keeps the first segment's memory. */
void capnp_builder_reset(struct capnp_builder *b);
void capnp_builder_free(struct capnp_builder *b);
static inline const char *capnp_builder_error(const struct capnp_builder *b)
{
    return b->error;
}

/* The root pointer slot (allocated on first use). */
capnp_ptr_b capnp_builder_root(struct capnp_builder *b);

capnp_struct_b capnp_ptr_b_init_struct(capnp_ptr_b p, uint16_t data_words, uint16_t nptrs);
/* Non-struct lists. esize must not be CAPNP_ES_COMPOSITE. */
capnp_list_b capnp_ptr_b_init_list(capnp_ptr_b p, enum capnp_esize esize, uint32_t n);
capnp_list_b capnp_ptr_b_init_struct_list(capnp_ptr_b p, uint16_t data_words, uint16_t nptrs,
                                          uint32_t n);
/* Text: copies len bytes and adds the NUL. Data: copies len bytes.
 * Return 0, or -1 when out of memory (also recorded in the builder). */
int capnp_ptr_b_set_text(capnp_ptr_b p, const char *str, uint32_t len);
int capnp_ptr_b_set_data(capnp_ptr_b p, const void *ptr, uint32_t len);
void capnp_ptr_b_set_cap(capnp_ptr_b p, uint32_t idx);
/* Sets the pointer to null (the old object stays in the message as garbage). */
void capnp_ptr_b_clear(capnp_ptr_b p);
/* Deep copy of whatever src points to (struct, list, text, data, cap) into
 * dst. Reading errors are recorded in the source message and give -1;
 * the copy is bounded by the source message's traversal budget. */
int capnp_copy(capnp_ptr_b dst, capnp_ptr_r src);

static inline capnp_ptr_b capnp_struct_b_ptr(capnp_struct_b s, uint16_t i)
{
    capnp_ptr_b p = {0};
    if (s.b && i < s.nptrs) {
        p.b = s.b;
        p.p = s.ptrs + 8u * i;
        p.seg = s.seg;
    }
    return p;
}

#define CAPNP_B_SET(name, T, bits)                                                                 \
    static inline void capnp_struct_b_set_##name(capnp_struct_b s, uint32_t off, T v)              \
    {                                                                                              \
        if (((uint64_t)off + 1) * bits <= (uint64_t)s.data_words * 64)                             \
            memcpy(s.data + (size_t)off * (bits / 8), &v, sizeof v);                               \
    }                                                                                              \
    static inline T capnp_struct_b_##name(capnp_struct_b s, uint32_t off)                          \
    {                                                                                              \
        T v = 0;                                                                                   \
        if (((uint64_t)off + 1) * bits <= (uint64_t)s.data_words * 64)                             \
            memcpy(&v, s.data + (size_t)off * (bits / 8), sizeof v);                               \
        return v;                                                                                  \
    }
CAPNP_B_SET(u8, uint8_t, 8)
CAPNP_B_SET(u16, uint16_t, 16)
CAPNP_B_SET(u32, uint32_t, 32)
CAPNP_B_SET(u64, uint64_t, 64)
#undef CAPNP_B_SET
static inline void capnp_struct_b_set_bool(capnp_struct_b s, uint32_t bit, bool v)
{
    if (bit < s.data_words * 64u) {
        uint8_t m = (uint8_t)(1u << (bit % 8));
        s.data[bit / 8] = v ? (uint8_t)(s.data[bit / 8] | m) : (uint8_t)(s.data[bit / 8] & ~m);
    }
}
static inline bool capnp_struct_b_bool(capnp_struct_b s, uint32_t bit)
{
    return bit < s.data_words * 64u && ((s.data[bit / 8] >> (bit % 8)) & 1);
}

static inline uint32_t capnp_list_b_len(capnp_list_b l)
{
    return l.len;
}
capnp_struct_b capnp_list_b_struct(capnp_list_b l, uint32_t i);
capnp_ptr_b capnp_list_b_ptr(capnp_list_b l, uint32_t i);
void capnp_list_b_set_bool(capnp_list_b l, uint32_t i, bool v);
void capnp_list_b_set_u8(capnp_list_b l, uint32_t i, uint8_t v);
void capnp_list_b_set_u16(capnp_list_b l, uint32_t i, uint16_t v);
void capnp_list_b_set_u32(capnp_list_b l, uint32_t i, uint32_t v);
void capnp_list_b_set_u64(capnp_list_b l, uint32_t i, uint64_t v);
static inline int capnp_list_b_set_text(capnp_list_b l, uint32_t i, const char *s, uint32_t n)
{
    return capnp_ptr_b_set_text(capnp_list_b_ptr(l, i), s, n);
}
static inline int capnp_list_b_set_data(capnp_list_b l, uint32_t i, const void *d, uint32_t n)
{
    return capnp_ptr_b_set_data(capnp_list_b_ptr(l, i), d, n);
}

/* ----------------------------------------------------------- serialising */

/* Bytes of the framed message (segment table + segments). */
size_t capnp_builder_size(const struct capnp_builder *b);
/* Writes the framed message to out (cap >= capnp_builder_size). Returns
 * the length, or 0 when it does not fit or the builder failed. */
size_t capnp_builder_write(const struct capnp_builder *b, void *out, size_t cap);
/* Framed message into a malloc'd buffer. Returns 0 / -1. */
int capnp_builder_serialize(const struct capnp_builder *b, uint8_t **out, size_t *len,
                            struct err *e);
/* For writev: table must hold capnp_builder_table_size(b) bytes; iov gets
 * 1 + nsegs entries (the table, then each segment). Returns the iov count,
 * or -1 when niov is too small or the builder failed. */
size_t capnp_builder_table_size(const struct capnp_builder *b);
int capnp_builder_iov(const struct capnp_builder *b, uint8_t *table, struct iovec *iov,
                      size_t niov);
/* A reader over the builder's current content (no copy; valid until the
 * builder changes). Free with capnp_msg_free. Returns 0 / -1. */
int capnp_msg_from_builder(struct capnp_msg *m, const struct capnp_builder *b, struct err *e);

#endif
