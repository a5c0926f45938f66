/*
 * capnp builder: segment arena, pointer encoding, copy, serialisation.
 *
 * An object goes into the segment of the pointer that refers to it when it
 * fits, so most messages are one segment with near pointers. Otherwise the
 * object and a one-word landing pad go together into the last segment (or
 * a new one twice the size of everything so far) and the pointer becomes a
 * single far pointer. Segments never move or grow in place.
 */
#include "capnp/capnp.h"

#include <stdlib.h>

static inline void st64(uint8_t *p, uint64_t w)
{
    memcpy(p, &w, 8);
}

static void bfail(struct capnp_builder *b, const char *msg)
{
    if (!b->error) b->error = msg;
}

void capnp_builder_init(struct capnp_builder *b, uint32_t first_words)
{
    memset(b, 0, sizeof *b);
    b->first_words = first_words ? first_words : 1024;
}

void capnp_builder_reset(struct capnp_builder *b)
{
    for (uint32_t i = 1; i < b->nsegs; i++)
        free(b->segs[i].p);
    if (b->nsegs) {
        memset(b->segs[0].p, 0, (size_t)b->segs[0].used * 8);
        b->segs[0].used = 0;
        b->nsegs = 1;
        b->total_words = b->segs[0].cap;
    }
    b->error = NULL;
}

void capnp_builder_free(struct capnp_builder *b)
{
    for (uint32_t i = 0; i < b->nsegs; i++)
        free(b->segs[i].p);
    free(b->segs);
    memset(b, 0, sizeof *b);
}

static int add_seg(struct capnp_builder *b, uint64_t min_words)
{
    if (b->nsegs == b->segs_cap) {
        uint32_t nc = b->segs_cap ? b->segs_cap * 2 : 4;
        struct capnp_bseg *ns = realloc(b->segs, nc * sizeof *ns);
        if (!ns) return -1;
        b->segs = ns;
        b->segs_cap = nc;
    }
    uint64_t words = b->nsegs == 0 ? b->first_words : b->total_words;
    if (words < min_words) words = min_words;
    if (words > CAPNP_MAX_SEGMENT_WORDS) words = CAPNP_MAX_SEGMENT_WORDS;
    if (words < min_words) return -1;
    uint8_t *p = calloc(words, 8);
    if (!p) return -1;
    b->segs[b->nsegs++] = (struct capnp_bseg){p, 0, (uint32_t)words};
    b->total_words += words;
    return 0;
}

/* Allocates words in segment `pref` if possible, else elsewhere. */
static uint8_t *alloc_in(struct capnp_builder *b, uint32_t pref, uint64_t words, uint32_t *seg)
{
    if (b->error) return NULL;
    if (pref < b->nsegs && b->segs[pref].cap - b->segs[pref].used >= words) {
        *seg = pref;
    } else if (b->nsegs && b->segs[b->nsegs - 1].cap - b->segs[b->nsegs - 1].used >= words) {
        *seg = b->nsegs - 1;
    } else {
        if (add_seg(b, words) < 0) {
            bfail(b, "capnp: out of memory (or object larger than a segment)");
            return NULL;
        }
        *seg = b->nsegs - 1;
    }
    struct capnp_bseg *s = &b->segs[*seg];
    uint8_t *r = s->p + (size_t)s->used * 8;
    s->used += (uint32_t)words;
    return r;
}

capnp_ptr_b capnp_builder_root(struct capnp_builder *b)
{
    capnp_ptr_b p = {0};
    if (b->nsegs == 0 && add_seg(b, 1) < 0) {
        bfail(b, "capnp: out of memory");
        return p;
    }
    if (b->segs[0].used == 0) b->segs[0].used = 1;
    p.b = b;
    p.p = b->segs[0].p;
    p.seg = 0;
    return p;
}

/* Allocates an object of `words` words for pointer p and writes the
 * pointer: `bits` holds the kind and the upper 32 bits (sizes); the offset
 * is filled in here. Returns the object, or NULL. */
static uint8_t *place(capnp_ptr_b p, uint64_t words, uint64_t bits, uint32_t *seg)
{
    struct capnp_builder *b = p.b;
    if (!b || !p.p) return NULL;
    uint32_t s;
    if (b->error) return NULL;
    if (b->segs[p.seg].cap - b->segs[p.seg].used >= words) {
        uint8_t *obj = alloc_in(b, p.seg, words, &s);
        int64_t off = (obj - p.p) / 8 - 1;
        st64(p.p, bits | (uint64_t)(uint32_t)((uint64_t)off << 2));
        *seg = s;
        return obj;
    }
    /* No room next to the pointer: object and landing pad go elsewhere. */
    uint8_t *pad = alloc_in(b, p.seg, words + 1, &s);
    if (!pad) return NULL;
    st64(pad, bits); /* offset 0: object follows the pad */
    uint64_t padpos = (uint64_t)(pad - b->segs[s].p) / 8;
    st64(p.p, 2 | (padpos << 3) | ((uint64_t)s << 32));
    *seg = s;
    return pad + 8;
}

capnp_struct_b capnp_ptr_b_init_struct(capnp_ptr_b p, uint16_t dw, uint16_t np)
{
    capnp_struct_b s = {0};
    if (!p.b || !p.p) return s;
    uint64_t bits = ((uint64_t)dw << 32) | ((uint64_t)np << 48);
    if (dw == 0 && np == 0) {
        /* Zero-sized struct: offset -1 so the pointer is not null. */
        st64(p.p, bits | 0xfffffffcu);
        s.b = p.b;
        s.seg = p.seg;
        s.data = s.ptrs = p.p; /* never written: no data, no pointers */
        return s;
    }
    uint32_t seg;
    uint8_t *obj = place(p, (uint64_t)dw + np, bits, &seg);
    if (!obj) return s;
    s.b = p.b;
    s.seg = seg;
    s.data = obj;
    s.ptrs = obj + (size_t)dw * 8;
    s.data_words = dw;
    s.nptrs = np;
    return s;
}

static const uint8_t ebits[8] = {0, 1, 8, 16, 32, 64, 64, 0};

capnp_list_b capnp_ptr_b_init_list(capnp_ptr_b p, enum capnp_esize es, uint32_t n)
{
    capnp_list_b l = {0};
    if (!p.b || !p.p || es == CAPNP_ES_COMPOSITE) return l;
    if (n >= (1u << 29)) {
        bfail(p.b, "capnp: list too long");
        return l;
    }
    uint64_t words = ((uint64_t)n * ebits[es] + 63) / 64;
    uint32_t seg;
    uint8_t *obj = place(p, words, 1 | ((uint64_t)es << 32) | ((uint64_t)n << 35), &seg);
    if (!obj) return l;
    l.b = p.b;
    l.base = obj;
    l.seg = seg;
    l.len = n;
    l.step_bits = ebits[es];
    l.nptrs = es == CAPNP_ES_PTR;
    l.esize = (uint8_t)es;
    return l;
}

capnp_list_b capnp_ptr_b_init_struct_list(capnp_ptr_b p, uint16_t dw, uint16_t np, uint32_t n)
{
    capnp_list_b l = {0};
    if (!p.b || !p.p) return l;
    uint64_t words = (uint64_t)n * (dw + np);
    if (words >= (1u << 29) || n >= (1u << 29)) {
        bfail(p.b, "capnp: struct list too long");
        return l;
    }
    uint32_t seg;
    uint8_t *obj = place(p, words + 1, 1 | (7ull << 32) | (words << 35), &seg);
    if (!obj) return l;
    st64(obj, ((uint64_t)n << 2) | ((uint64_t)dw << 32) | ((uint64_t)np << 48));
    l.b = p.b;
    l.base = obj + 8;
    l.seg = seg;
    l.len = n;
    l.step_bits = (dw + np) * 64u;
    l.data_words = dw;
    l.nptrs = np;
    l.esize = CAPNP_ES_COMPOSITE;
    return l;
}

static int set_bytes(capnp_ptr_b p, const void *d, uint32_t len, uint32_t n)
{
    if (!p.b || !p.p) return -1;
    capnp_list_b l = capnp_ptr_b_init_list(p, CAPNP_ES_BYTE, n);
    if (!l.b) return -1;
    if (len) memcpy(l.base, d, len);
    return 0;
}

int capnp_ptr_b_set_text(capnp_ptr_b p, const char *str, uint32_t len)
{
    if (len >= (1u << 29) - 1) return -1;
    return set_bytes(p, str, len, len + 1);
}

int capnp_ptr_b_set_data(capnp_ptr_b p, const void *ptr, uint32_t len)
{
    return set_bytes(p, ptr, len, len);
}

void capnp_ptr_b_set_cap(capnp_ptr_b p, uint32_t idx)
{
    if (p.b && p.p) st64(p.p, 3 | ((uint64_t)idx << 32));
}

void capnp_ptr_b_clear(capnp_ptr_b p)
{
    if (p.b && p.p) st64(p.p, 0);
}

capnp_struct_b capnp_list_b_struct(capnp_list_b l, uint32_t i)
{
    capnp_struct_b s = {0};
    if (!l.b || i >= l.len || l.esize != CAPNP_ES_COMPOSITE) return s;
    s.b = l.b;
    s.seg = l.seg;
    s.data = l.base + (size_t)i * (l.step_bits / 8);
    s.ptrs = s.data + (size_t)l.data_words * 8;
    s.data_words = l.data_words;
    s.nptrs = l.nptrs;
    return s;
}

capnp_ptr_b capnp_list_b_ptr(capnp_list_b l, uint32_t i)
{
    capnp_ptr_b p = {0};
    if (!l.b || i >= l.len || l.esize != CAPNP_ES_PTR) return p;
    p.b = l.b;
    p.p = l.base + (size_t)i * 8;
    p.seg = l.seg;
    return p;
}

void capnp_list_b_set_bool(capnp_list_b l, uint32_t i, bool v)
{
    if (!l.b || i >= l.len || l.esize != CAPNP_ES_BIT) return;
    uint8_t m = (uint8_t)(1u << (i % 8));
    l.base[i / 8] = v ? (uint8_t)(l.base[i / 8] | m) : (uint8_t)(l.base[i / 8] & ~m);
}

#define LIST_SET(name, T, es)                                                                      \
    void capnp_list_b_set_##name(capnp_list_b l, uint32_t i, T v)                                  \
    {                                                                                              \
        if (l.b && i < l.len && l.esize == es)                                                     \
            memcpy(l.base + (size_t)i * sizeof v, &v, sizeof v);                                   \
    }
LIST_SET(u8, uint8_t, CAPNP_ES_BYTE)
LIST_SET(u16, uint16_t, CAPNP_ES_2B)
LIST_SET(u32, uint32_t, CAPNP_ES_4B)
LIST_SET(u64, uint64_t, CAPNP_ES_8B)
#undef LIST_SET

/* ------------------------------------------------------------------ copy */

static int copy_struct_body(capnp_struct_b d, capnp_struct_r s);

int capnp_copy(capnp_ptr_b dst, capnp_ptr_r src)
{
    if (!dst.b || !dst.p) return -1;
    enum capnp_ptr_kind k = capnp_ptr_r_kind(src);
    switch (k) {
    case CAPNP_PTR_NULL:
        capnp_ptr_b_clear(dst);
        return 0;
    case CAPNP_PTR_CAP: {
        uint32_t idx;
        if (!capnp_ptr_r_cap(src, &idx)) return -1;
        capnp_ptr_b_set_cap(dst, idx);
        return 0;
    }
    case CAPNP_PTR_STRUCT: {
        capnp_struct_r s = capnp_ptr_r_struct(src);
        if (!s.msg) return -1;
        capnp_struct_b d = capnp_ptr_b_init_struct(dst, (uint16_t)(s.data_bits / 64), s.nptrs);
        if (!d.b) return -1;
        return copy_struct_body(d, s);
    }
    case CAPNP_PTR_LIST: {
        capnp_list_r l = capnp_ptr_r_list_any(src);
        if (!l.msg) return -1;
        if (l.esize == CAPNP_ES_COMPOSITE) {
            capnp_list_b d =
                capnp_ptr_b_init_struct_list(dst, (uint16_t)(l.data_bits / 64), l.nptrs, l.len);
            if (!d.b) return -1;
            for (uint32_t i = 0; i < l.len; i++)
                if (copy_struct_body(capnp_list_b_struct(d, i), capnp_list_r_struct(l, i)) < 0)
                    return -1;
            return 0;
        }
        capnp_list_b d = capnp_ptr_b_init_list(dst, (enum capnp_esize)l.esize, l.len);
        if (!d.b) return -1;
        if (l.esize == CAPNP_ES_PTR) {
            for (uint32_t i = 0; i < l.len; i++)
                if (capnp_copy(capnp_list_b_ptr(d, i), capnp_list_r_ptr(l, i)) < 0) return -1;
        } else {
            uint64_t bytes = ((uint64_t)l.len * l.step_bits + 7) / 8;
            if (bytes) memcpy(d.base, l.base, bytes);
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int copy_struct_body(capnp_struct_b d, capnp_struct_r s)
{
    if (!d.b || !s.msg) return -1;
    if (s.data_bits) memcpy(d.data, s.data, s.data_bits / 8);
    for (uint16_t i = 0; i < s.nptrs; i++)
        if (capnp_copy(capnp_struct_b_ptr(d, i), capnp_struct_r_ptr(s, i)) < 0) return -1;
    return 0;
}

/* --------------------------------------------------------- serialisation */

size_t capnp_builder_table_size(const struct capnp_builder *b)
{
    uint32_t n = b->nsegs ? b->nsegs : 1;
    return (4 * ((size_t)n + 1) + 7) & ~(size_t)7;
}

static void fill_table(const struct capnp_builder *b, uint8_t *t)
{
    size_t len = capnp_builder_table_size(b);
    memset(t, 0, len);
    uint32_t n = b->nsegs ? b->nsegs : 1;
    uint32_t v = n - 1;
    memcpy(t, &v, 4);
    for (uint32_t i = 0; i < b->nsegs; i++)
        memcpy(t + 4 + 4 * (size_t)i, &b->segs[i].used, 4);
}

size_t capnp_builder_size(const struct capnp_builder *b)
{
    size_t n = capnp_builder_table_size(b);
    for (uint32_t i = 0; i < b->nsegs; i++)
        n += (size_t)b->segs[i].used * 8;
    return n;
}

size_t capnp_builder_write(const struct capnp_builder *b, void *out, size_t cap)
{
    size_t need = capnp_builder_size(b);
    if (b->error || cap < need) return 0;
    uint8_t *o = out;
    fill_table(b, o);
    size_t off = capnp_builder_table_size(b);
    for (uint32_t i = 0; i < b->nsegs; i++) {
        memcpy(o + off, b->segs[i].p, (size_t)b->segs[i].used * 8);
        off += (size_t)b->segs[i].used * 8;
    }
    return off;
}

int capnp_builder_serialize(const struct capnp_builder *b, uint8_t **out, size_t *len,
                            struct err *e)
{
    if (b->error) return err_set(e, "%s", b->error);
    size_t n = capnp_builder_size(b);
    uint8_t *p = malloc(n);
    if (!p) return err_set(e, "capnp: out of memory for a %zu-byte message", n);
    *len = capnp_builder_write(b, p, n);
    *out = p;
    return 0;
}

int capnp_builder_iov(const struct capnp_builder *b, uint8_t *table, struct iovec *iov, size_t niov)
{
    if (b->error || niov < 1 + (size_t)b->nsegs) return -1;
    fill_table(b, table);
    iov[0].iov_base = table;
    iov[0].iov_len = capnp_builder_table_size(b);
    for (uint32_t i = 0; i < b->nsegs; i++) {
        iov[1 + i].iov_base = b->segs[i].p;
        iov[1 + i].iov_len = (size_t)b->segs[i].used * 8;
    }
    return 1 + (int)b->nsegs;
}

int capnp_msg_from_builder(struct capnp_msg *m, const struct capnp_builder *b, struct err *e)
{
    if (b->error) return err_set(e, "%s", b->error);
    if (b->nsegs == 0) return err_set(e, "capnp: empty builder");
    struct capnp_seg inl[4], *segs = b->nsegs <= 4 ? inl : calloc(b->nsegs, sizeof *segs);
    if (!segs) return err_set(e, "capnp: out of memory");
    for (uint32_t i = 0; i < b->nsegs; i++)
        segs[i] = (struct capnp_seg){b->segs[i].p, b->segs[i].used};
    int r = capnp_msg_init_segs(m, segs, b->nsegs, e);
    if (segs != inl) free(segs);
    return r;
}
