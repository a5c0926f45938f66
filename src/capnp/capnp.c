/*
 * capnp reader: message setup, pointer resolution (near, far, double far),
 * bounds checks, traversal and nesting limits.
 *
 * Every function that follows a pointer goes through resolve(), which
 * returns the object's tag word and location only after checking that the
 * whole object lies inside its segment. Landing pads cannot chain (a
 * single pad must not be far; a double pad's first word must be a single
 * far pointer), so far-pointer loops are impossible by construction.
 */
#include "capnp/capnp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}
static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

void capnp_msg_fail(struct capnp_msg *m, const char *fmt, ...)
{
    if (!m || m->error || m->readonly) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->errbuf, sizeof m->errbuf, fmt, ap);
    va_end(ap);
    m->error = m->errbuf;
}

static void msg_defaults(struct capnp_msg *m)
{
    memset(m, 0, sizeof *m);
    m->traversal_left = CAPNP_DEFAULT_TRAVERSAL_WORDS;
    m->nesting_limit = CAPNP_DEFAULT_NESTING;
}

int capnp_msg_init_segs(struct capnp_msg *m, const struct capnp_seg *segs, uint32_t n,
                        struct err *e)
{
    msg_defaults(m);
    if (n == 0) return err_set(e, "capnp: message has no segments");
    /* Always on the heap, so a struct capnp_msg may be moved by value. */
    m->segs = calloc(n, sizeof *m->segs);
    if (!m->segs) return err_set(e, "capnp: out of memory for %u segments", n);
    m->owned_segs = m->segs;
    memcpy(m->segs, segs, n * sizeof *segs);
    m->nsegs = n;
    return 0;
}

int capnp_msg_init_bytes(struct capnp_msg *m, const void *buf, size_t len, struct err *e)
{
    const uint8_t *p = buf;
    msg_defaults(m);
    if (len < 8)
        return err_set(e, "capnp: message of %zu bytes is shorter than a segment table", len);
    uint32_t n1 = ld32(p);
    if (n1 >= 512)
        return err_set(e, "capnp: message claims %llu segments (limit 512)",
                       (unsigned long long)n1 + 1);
    uint32_t n = n1 + 1;
    size_t table = (4 * ((size_t)n + 1) + 7) & ~(size_t)7;
    if (len < table)
        return err_set(e, "capnp: segment table truncated (%zu of %zu bytes)", len, table);
    struct capnp_seg inl[4], *segs = n <= 4 ? inl : calloc(n, sizeof *segs);
    if (!segs) return err_set(e, "capnp: out of memory");
    uint64_t off = table;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t w = ld32(p + 4 + 4 * (size_t)i);
        if (off + (uint64_t)w * 8 > len) {
            if (segs != inl) free(segs);
            return err_set(e, "capnp: segment %u (%u words) extends past the %zu-byte message", i,
                           w, len);
        }
        segs[i].p = p + off;
        segs[i].words = w;
        off += (uint64_t)w * 8;
    }
    if (off != len) {
        if (segs != inl) free(segs);
        return err_set(e, "capnp: %llu trailing bytes after the message",
                       (unsigned long long)(len - off));
    }
    int r = capnp_msg_init_segs(m, segs, n, e);
    if (segs != inl) free(segs);
    return r;
}

void capnp_msg_set_limits(struct capnp_msg *m, uint64_t traversal_words, int nesting)
{
    m->traversal_left = traversal_words;
    m->nesting_limit = nesting;
}

void capnp_msg_free(struct capnp_msg *m)
{
    free(m->owned_segs);
    free(m->owned);
    m->owned = m->owned_segs = NULL;
    m->segs = NULL;
    m->nsegs = 0;
}

capnp_ptr_r capnp_msg_root(struct capnp_msg *m)
{
    capnp_ptr_r p = {0};
    if (m->nsegs == 0 || m->segs[0].words == 0) {
        capnp_msg_fail(m, "capnp: message has no root pointer");
        return p;
    }
    p.msg = m;
    p.p = m->segs[0].p;
    p.seg = 0;
    p.nesting = (int16_t)(m->nesting_limit > 32767 ? 32767 : m->nesting_limit);
    return p;
}

capnp_ptr_r capnp_ptr_r_or(capnp_ptr_r p, const struct capnp_msg *dflt)
{
    if (!capnp_ptr_r_is_null(p)) return p;
    /* Not written through: a readonly message records nothing. */
    return capnp_msg_root((struct capnp_msg *)dflt);
}

/* A resolved pointer: tag is the word describing the object (kind, sizes),
 * obj the object's first word (for composite lists: the list tag), in
 * segment seg. Bounds of the object itself are checked by the caller,
 * which knows its size. */
struct target {
    uint64_t tag;
    uint32_t seg;
    const uint8_t *obj;
    uint32_t pos; /* obj's word index in seg */
};

static int fail0(struct capnp_msg *m, const char *what)
{
    capnp_msg_fail(m, "capnp: %s", what);
    return -1;
}

/* Returns 0 (t filled, t->tag == 0 for null), or -1 with the error recorded. */
static int resolve(capnp_ptr_r p, struct target *t)
{
    struct capnp_msg *m = p.msg;
    if (!m || !p.p || m->error) {
        t->tag = 0;
        return m && m->error ? -1 : 0;
    }
    uint64_t w = ld64(p.p);
    t->tag = w;
    if (w == 0) return 0;
    if (p.seg >= m->nsegs) return fail0(m, "reader used after its message was freed");
    const struct capnp_seg *s = &m->segs[p.seg];
    int64_t pos = (p.p - s->p) / 8;
    if ((w & 3) == 2) {
        uint32_t sid = (uint32_t)(w >> 32);
        uint64_t pad = (w >> 3) & 0x1fffffff;
        bool dbl = (w >> 2) & 1;
        if (sid >= m->nsegs) return fail0(m, "far pointer to a segment that does not exist");
        const struct capnp_seg *ps = &m->segs[sid];
        if (pad + (dbl ? 2 : 1) > ps->words)
            return fail0(m, "far pointer landing pad out of bounds");
        /* A landing pad counts against the traversal budget like any read. */
        if (!m->readonly) {
            if (m->traversal_left < 1) return fail0(m, "traversal limit exceeded");
            m->traversal_left -= 1;
        }
        uint64_t pw = ld64(ps->p + pad * 8);
        if (!dbl) {
            if ((pw & 3) == 2) return fail0(m, "far pointer landing pad is another far pointer");
            if ((pw & 3) == 3) return fail0(m, "far pointer to a capability pointer");
            t->tag = pw;
            t->seg = sid;
            int64_t off = (int32_t)(uint32_t)pw >> 2;
            int64_t tp = (int64_t)pad + 1 + off;
            if (tp < 0 || tp > ps->words) return fail0(m, "pointer out of bounds");
            t->obj = ps->p + tp * 8;
            t->pos = (uint32_t)tp;
            return 0;
        }
        if ((pw & 7) != 2)
            return fail0(m, "double-far landing pad does not start with a single far pointer");
        uint64_t tag = ld64(ps->p + pad * 8 + 8);
        if ((tag & 3) != 0 && (tag & 3) != 1)
            return fail0(m, "double-far tag is not a struct or list pointer");
        if ((uint32_t)tag >> 2 != 0) return fail0(m, "double-far tag has a non-zero offset");
        uint32_t osid = (uint32_t)(pw >> 32);
        uint64_t opos = (pw >> 3) & 0x1fffffff;
        if (osid >= m->nsegs)
            return fail0(m, "double-far pointer to a segment that does not exist");
        if (opos > m->segs[osid].words) return fail0(m, "double-far pointer out of bounds");
        t->tag = tag;
        t->seg = osid;
        t->obj = m->segs[osid].p + opos * 8;
        t->pos = (uint32_t)opos;
        return 0;
    }
    if ((w & 3) == 3) {
        t->seg = p.seg;
        t->obj = NULL;
        t->pos = 0;
        return 0;
    }
    int64_t off = (int32_t)(uint32_t)w >> 2;
    int64_t tp = pos + 1 + off;
    if (tp < 0 || tp > s->words) return fail0(m, "pointer out of bounds");
    t->seg = p.seg;
    t->obj = s->p + tp * 8;
    t->pos = (uint32_t)tp;
    return 0;
}

static bool charge(struct capnp_msg *m, uint64_t words)
{
    if (m->readonly) return true;
    if (words > m->traversal_left) {
        m->traversal_left = 0;
        fail0(m, "traversal limit exceeded (message too large or pointers amplify reads)");
        return false;
    }
    m->traversal_left -= words;
    return true;
}

static bool in_seg(const struct capnp_msg *m, const struct target *t, uint64_t words)
{
    return (uint64_t)t->pos + words <= m->segs[t->seg].words;
}

static bool nest_ok(capnp_ptr_r p)
{
    if (p.nesting <= 0) {
        fail0(p.msg, "nesting limit exceeded");
        return false;
    }
    return true;
}

enum capnp_ptr_kind capnp_ptr_r_kind(capnp_ptr_r p)
{
    struct target t;
    if (resolve(p, &t) < 0) return CAPNP_PTR_INVALID;
    if (t.tag == 0) return CAPNP_PTR_NULL;
    switch (t.tag & 3) {
    case 0:
        return CAPNP_PTR_STRUCT;
    case 1:
        return CAPNP_PTR_LIST;
    case 3:
        return ((uint32_t)t.tag >> 2) == 0 ? CAPNP_PTR_CAP : CAPNP_PTR_INVALID;
    }
    return CAPNP_PTR_INVALID;
}

capnp_struct_r capnp_ptr_r_struct(capnp_ptr_r p)
{
    capnp_struct_r s = {0};
    struct target t;
    if (resolve(p, &t) < 0 || t.tag == 0) return s;
    if ((t.tag & 3) != 0) {
        capnp_msg_fail(p.msg, "capnp: expected a struct pointer, found %s",
                       (t.tag & 3) == 1 ? "a list" : "a capability");
        return s;
    }
    uint32_t dw = (uint16_t)(t.tag >> 32), np = (uint16_t)(t.tag >> 48);
    if (!in_seg(p.msg, &t, (uint64_t)dw + np)) {
        fail0(p.msg, "struct pointer out of bounds");
        return s;
    }
    if (!nest_ok(p) || !charge(p.msg, (uint64_t)dw + np)) return s;
    s.msg = p.msg;
    s.seg = t.seg;
    s.data = t.obj;
    s.ptrs = t.obj + (size_t)dw * 8;
    s.data_bits = dw * 64;
    s.nptrs = (uint16_t)np;
    s.nesting = (int16_t)(p.nesting - 1);
    return s;
}

static const uint8_t esize_bits[8] = {0, 1, 8, 16, 32, 64, 64, 0};

/* Reads any list as encoded; no expectation check. */
static int list_any(capnp_ptr_r p, capnp_list_r *l)
{
    struct target t;
    memset(l, 0, sizeof *l);
    if (resolve(p, &t) < 0) return -1;
    if (t.tag == 0) return 0;
    struct capnp_msg *m = p.msg;
    if ((t.tag & 3) != 1) {
        capnp_msg_fail(m, "capnp: expected a list pointer, found %s",
                       (t.tag & 3) == 0 ? "a struct" : "a capability");
        return -1;
    }
    if (!nest_ok(p)) return -1;
    uint32_t es = (t.tag >> 32) & 7, count = (uint32_t)(t.tag >> 35);
    l->msg = m;
    l->seg = t.seg;
    l->esize = (uint8_t)es;
    l->nesting = (int16_t)(p.nesting - 1);
    if (es == CAPNP_ES_COMPOSITE) {
        uint64_t words = count;
        if (!in_seg(m, &t, words + 1)) return fail0(m, "struct list out of bounds");
        uint64_t tag = ld64(t.obj);
        if ((tag & 3) != 0) return fail0(m, "struct list tag is not a struct pointer");
        uint32_t n = (uint32_t)tag >> 2;
        uint32_t dw = (uint16_t)(tag >> 32), np = (uint16_t)(tag >> 48);
        if ((uint64_t)n * (dw + np) > words)
            return fail0(m, "struct list elements exceed the list's size");
        /* Zero-sized elements still cost one word each so that a tiny
         * message cannot claim a huge list and make us loop over it. */
        if (!charge(m, dw + np == 0 ? n : words + 1)) return -1;
        l->base = t.obj + 8;
        l->len = n;
        l->step_bits = (dw + np) * 64;
        l->data_bits = dw * 64;
        l->nptrs = (uint16_t)np;
        return 0;
    }
    uint64_t bits = (uint64_t)count * esize_bits[es];
    uint64_t words = (bits + 63) / 64;
    if (!in_seg(m, &t, words)) return fail0(m, "list out of bounds");
    if (!charge(m, es == CAPNP_ES_VOID ? count : words)) return -1;
    l->base = t.obj;
    l->len = count;
    l->step_bits = esize_bits[es];
    l->data_bits = es == CAPNP_ES_PTR ? 0 : esize_bits[es];
    l->nptrs = es == CAPNP_ES_PTR;
    return 0;
}

capnp_list_r capnp_ptr_r_list(capnp_ptr_r p, enum capnp_esize expect)
{
    capnp_list_r l;
    if (list_any(p, &l) < 0 || l.msg == NULL) {
        memset(&l, 0, sizeof l);
        return l;
    }
    bool ok;
    if (expect == CAPNP_ES_COMPOSITE)
        ok = l.esize != CAPNP_ES_BIT;
    else if (l.esize == CAPNP_ES_COMPOSITE)
        ok = expect == CAPNP_ES_PTR ? l.nptrs >= 1
                                    : expect != CAPNP_ES_BIT && l.data_bits >= esize_bits[expect];
    else
        ok = l.esize == expect;
    if (!ok) {
        capnp_msg_fail(p.msg, "capnp: list has element size %u where %u was expected",
                       (unsigned)l.esize, (unsigned)expect);
        memset(&l, 0, sizeof l);
    }
    return l;
}

static bool byte_list(capnp_ptr_r p, capnp_list_r *l, const char *what)
{
    if (list_any(p, l) < 0 || l->msg == NULL) return false;
    if (l->esize != CAPNP_ES_BYTE) {
        capnp_msg_fail(p.msg, "capnp: %s is not a byte list", what);
        return false;
    }
    return true;
}

capnp_text capnp_ptr_r_text(capnp_ptr_r p)
{
    capnp_text t = {"", 0};
    capnp_list_r l;
    if (!byte_list(p, &l, "text")) return t;
    if (l.len == 0 || l.base[l.len - 1] != 0) {
        fail0(p.msg, "text is not NUL-terminated");
        return t;
    }
    t.str = (const char *)l.base;
    t.len = l.len - 1;
    return t;
}

capnp_data capnp_ptr_r_data(capnp_ptr_r p)
{
    capnp_data d = {NULL, 0};
    capnp_list_r l;
    if (!byte_list(p, &l, "data")) return d;
    if (l.len) {
        d.ptr = l.base;
        d.len = l.len;
    }
    return d;
}

bool capnp_ptr_r_cap(capnp_ptr_r p, uint32_t *idx)
{
    if (!p.msg || !p.p || p.msg->error) return false;
    uint64_t w = ld64(p.p);
    if (w == 0) return false;
    if ((w & 3) != 3 || ((uint32_t)w >> 2) != 0) {
        fail0(p.msg, "expected a capability pointer");
        return false;
    }
    *idx = (uint32_t)(w >> 32);
    return true;
}

void capnp__list_range(capnp_list_r l, uint32_t i)
{
    capnp_msg_fail(l.msg, "capnp: list index %u out of range (length %u)", i, l.len);
}

static bool elem_ok(capnp_list_r l, uint32_t i)
{
    if (!l.msg) return false;
    if (i >= l.len) {
        capnp_msg_fail(l.msg, "capnp: list index %u out of range (length %u)", i, l.len);
        return false;
    }
    return true;
}

capnp_ptr_r capnp_list_r_ptr(capnp_list_r l, uint32_t i)
{
    return capnp_struct_r_ptr(capnp_list_r_struct(l, i), 0);
}

bool capnp_list_r_bool(capnp_list_r l, uint32_t i)
{
    if (!elem_ok(l, i)) return false;
    if (l.esize == CAPNP_ES_BIT) return (l.base[i / 8] >> (i % 8)) & 1;
    return capnp_struct_r_bool(capnp_list_r_struct(l, i), 0);
}

uint8_t capnp_list_r_u8(capnp_list_r l, uint32_t i)
{
    return capnp_struct_r_u8(capnp_list_r_struct(l, i), 0);
}
uint16_t capnp_list_r_u16(capnp_list_r l, uint32_t i)
{
    return capnp_struct_r_u16(capnp_list_r_struct(l, i), 0);
}
uint32_t capnp_list_r_u32(capnp_list_r l, uint32_t i)
{
    return capnp_struct_r_u32(capnp_list_r_struct(l, i), 0);
}
uint64_t capnp_list_r_u64(capnp_list_r l, uint32_t i)
{
    return capnp_struct_r_u64(capnp_list_r_struct(l, i), 0);
}

capnp_list_r capnp_ptr_r_list_any(capnp_ptr_r p)
{
    capnp_list_r l;
    if (list_any(p, &l) < 0) memset(&l, 0, sizeof l);
    return l;
}
