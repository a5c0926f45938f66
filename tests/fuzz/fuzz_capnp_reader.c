/*
 * libFuzzer target for the capnp reader and stream framing. The input is
 * read (1) as a whole framed message, walked generically and through the
 * generated rpc.capnp accessors, and deep-copied into a builder, whose
 * message must then equal the original object for object (same pointer
 * kinds, struct sizes, list encodings, data bytes and cap indices); and (2)
 * through capnp_framer in chunks whose sizes come from the input itself;
 * and (3) as packed bytes, unpacked, read, and checked to re-pack to the
 * same message.
 * Any crash, sanitizer report or unbounded loop is a bug: hostile input
 * must end in a recorded error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "capnp/frame.h"
#include "capnp/packed.h"
#include "rpc/gen/rpc.capnp.h"

static uint64_t sink;

static void walk(capnp_ptr_r p)
{
    switch (capnp_ptr_r_kind(p)) {
    case CAPNP_PTR_STRUCT: {
        capnp_struct_r s = capnp_ptr_r_struct(p);
        for (uint32_t i = 0; i < s.data_bits / 64; i++)
            sink += capnp_struct_r_u64(s, i);
        for (uint16_t i = 0; i < s.nptrs; i++)
            walk(capnp_struct_r_ptr(s, i));
        break;
    }
    case CAPNP_PTR_LIST: {
        capnp_list_r l = capnp_ptr_r_list_any(p);
        if (l.esize == CAPNP_ES_BIT) {
            for (uint32_t i = 0; i < l.len; i++)
                sink += capnp_list_r_bool(l, i);
            break;
        }
        for (uint32_t i = 0; i < l.len && !p.msg->error; i++) {
            capnp_struct_r e = capnp_list_r_struct(l, i);
            sink += capnp_struct_r_u8(e, 0);
            for (uint16_t j = 0; j < e.nptrs; j++)
                walk(capnp_struct_r_ptr(e, j));
        }
        if (l.esize == CAPNP_ES_BYTE) /* Text would insist on a NUL; Data reads any bytes */
            sink += capnp_ptr_r_data(p).len;
        break;
    }
    case CAPNP_PTR_CAP: {
        uint32_t idx;
        if (capnp_ptr_r_cap(p, &idx)) sink += idx;
        break;
    }
    default:
        break;
    }
}

/* Is the object at b (in the copy) the object at a (in the original)?
 * capnp_copy keeps encodings (struct sizes, list element sizes), so the
 * comparison is exact rather than up to canonicalisation. */
static bool same(capnp_ptr_r a, capnp_ptr_r b);

static bool same_struct(capnp_struct_r a, capnp_struct_r b)
{
    if (a.data_bits != b.data_bits || a.nptrs != b.nptrs) return false;
    if (a.data_bits && memcmp(a.data, b.data, a.data_bits / 8) != 0) return false;
    for (uint16_t i = 0; i < a.nptrs; i++)
        if (!same(capnp_struct_r_ptr(a, i), capnp_struct_r_ptr(b, i))) return false;
    return true;
}

static bool same(capnp_ptr_r a, capnp_ptr_r b)
{
    enum capnp_ptr_kind k = capnp_ptr_r_kind(a);
    if (k != capnp_ptr_r_kind(b)) return false;
    switch (k) {
    case CAPNP_PTR_NULL:
        return true;
    case CAPNP_PTR_CAP: {
        uint32_t x, y;
        return capnp_ptr_r_cap(a, &x) && capnp_ptr_r_cap(b, &y) && x == y;
    }
    case CAPNP_PTR_STRUCT:
        return same_struct(capnp_ptr_r_struct(a), capnp_ptr_r_struct(b));
    case CAPNP_PTR_LIST: {
        capnp_list_r x = capnp_ptr_r_list_any(a), y = capnp_ptr_r_list_any(b);
        if (x.esize != y.esize || x.len != y.len || x.step_bits != y.step_bits ||
            x.data_bits != y.data_bits || x.nptrs != y.nptrs)
            return false;
        if (x.esize == CAPNP_ES_BIT) {
            for (uint32_t i = 0; i < x.len; i++)
                if (capnp_list_r_bool(x, i) != capnp_list_r_bool(y, i)) return false;
            return true;
        }
        if (x.esize == CAPNP_ES_PTR) {
            for (uint32_t i = 0; i < x.len && !a.msg->error; i++)
                if (!same(capnp_list_r_ptr(x, i), capnp_list_r_ptr(y, i))) return false;
            return true;
        }
        if (!x.data_bits && !x.nptrs) return true; /* Void elements: the length is all */
        /* primitives and composites alike, as the struct view of each element */
        for (uint32_t i = 0; i < x.len && !a.msg->error; i++)
            if (!same_struct(capnp_list_r_struct(x, i), capnp_list_r_struct(y, i))) return false;
        return true;
    }
    default:
        return false; /* capnp_copy must have refused it */
    }
}

/* Reads the original and the copy afresh (walking spent their traversal
 * budgets) and requires them equal. */
static void compare_copy(const uint8_t *data, size_t size, const struct capnp_builder *b)
{
    struct capnp_msg o, c;
    struct err e;
    if (capnp_msg_init_bytes(&o, data, size, &e) < 0) abort();
    if (capnp_msg_from_builder(&c, b, &e) < 0) abort();
    capnp_msg_set_limits(&o, 1 << 16, 64);
    capnp_msg_set_limits(&c, 1 << 16, 64);
    bool eq = same(capnp_msg_root(&o), capnp_msg_root(&c));
    const char *oe = capnp_msg_error(&o), *ce = capnp_msg_error(&c);
    /* The comparison reads what the copy read, so it fits the same budget;
     * a limit error would only mean the walk cannot decide. */
    bool undecided = (oe && strstr(oe, "limit")) || (ce && strstr(ce, "limit"));
    if (!undecided && (oe || ce || !eq)) {
        fprintf(stderr, "fuzz_capnp_reader: the deep copy differs from the original (%s / %s)\n",
                oe ? oe : "original read fine", ce ? ce : "copy read fine");
        abort();
    }
    capnp_msg_free(&c);
    capnp_msg_free(&o);
}

static void typed(struct capnp_msg *m)
{
    rpc_Message_R msg = rpc_Message_read_root(m);
    switch (rpc_Message_which(msg)) {
    case rpc_Message_call: {
        rpc_Call_R c = rpc_Message_get_call(msg);
        sink += rpc_Call_get_interfaceId(c) + rpc_Call_get_methodId(c);
        rpc_CapDescriptor_LR t = rpc_Payload_get_capTable(rpc_Call_get_params(c));
        for (uint32_t i = 0; i < rpc_CapDescriptor_LR_len(t) && !m->error; i++)
            sink += rpc_CapDescriptor_which(rpc_CapDescriptor_LR_at(t, i));
        walk(rpc_Payload_get_content(rpc_Call_get_params(c)));
        break;
    }
    case rpc_Message_return: {
        rpc_Return_R r = rpc_Message_get_return(msg);
        if (rpc_Return_which(r) == rpc_Return_exception)
            sink += rpc_Exception_get_reason(rpc_Return_get_exception(r)).len;
        break;
    }
    default:
        break;
    }
}

static void whole(const uint8_t *data, size_t size)
{
    struct capnp_msg m;
    struct err e;
    if (capnp_msg_init_bytes(&m, data, size, &e) < 0) return;
    capnp_msg_set_limits(&m, 1 << 16, 64);
    walk(capnp_msg_root(&m));
    capnp_msg_free(&m);

    if (capnp_msg_init_bytes(&m, data, size, &e) < 0) abort(); /* parsed a moment ago */
    capnp_msg_set_limits(&m, 1 << 16, 64);
    typed(&m);
    capnp_msg_free(&m);

    if (capnp_msg_init_bytes(&m, data, size, &e) < 0) abort();
    capnp_msg_set_limits(&m, 1 << 16, 64);
    struct capnp_builder b;
    capnp_builder_init(&b, 16);
    /* A message without a readable root (e.g. an empty segment) reads as
     * null; there is nothing to copy. */
    capnp_ptr_r root = capnp_msg_root(&m);
    if (!capnp_msg_error(&m) && capnp_copy(capnp_builder_root(&b), root) == 0 &&
        !capnp_builder_error(&b)) {
        /* A copy that reports success read the original without error. */
        if (capnp_msg_error(&m)) abort();
        /* The copy is well-formed: reading it must not fail. */
        struct capnp_msg c;
        if (capnp_msg_from_builder(&c, &b, &e) < 0) abort();
        walk(capnp_msg_root(&c));
        if (capnp_msg_error(&c) && !strstr(capnp_msg_error(&c), "limit")) abort();
        capnp_msg_free(&c);
        compare_copy(data, size, &b);
    }
    capnp_builder_free(&b);
    capnp_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    whole(data, size);

    struct capnp_framer f;
    struct err e;
    capnp_framer_init(&f, 1 << 20, 64);
    size_t pos = 0, chunk = size ? (size_t)(data[0] % 13) + 1 : 1;
    while (pos < size) {
        size_t used, n = size - pos < chunk ? size - pos : chunk;
        int r = capnp_framer_feed(&f, data + pos, n, &used, &e);
        if (r < 0) break;
        pos += used;
        if (r == 1) {
            struct capnp_msg m;
            if (capnp_framer_take(&f, &m, &e) < 0) abort();
            capnp_msg_set_limits(&m, 1 << 16, 64);
            walk(capnp_msg_root(&m));
            capnp_msg_free(&m);
        } else if (used < n) {
            abort(); /* the framer must take all bytes while not ready */
        }
    }
    capnp_framer_free(&f);

    /* The input as packed bytes: unpack (bounded), read, and re-pack. */
    uint8_t *u;
    size_t ulen;
    if (capnp_unpack(data, size, 1 << 16, &u, &ulen, &e) == 0) {
        whole(u, ulen);
        size_t cap = capnp_pack_bound(ulen);
        uint8_t *p = malloc(cap), *u2;
        size_t plen = capnp_pack(u, ulen, p, cap), u2len;
        if (ulen && plen == 0) abort();
        if (capnp_unpack(p, plen, 1 << 16, &u2, &u2len, &e) < 0) abort();
        if (u2len != ulen || memcmp(u, u2, ulen) != 0) abort(); /* pack/unpack round trip */
        free(u2);
        free(p);
        free(u);
    }
    return 0;
}
