/*
 * libFuzzer target for the capnp reader and stream framing. The input is
 * read (1) as a whole framed message, walked generically and through the
 * generated rpc.capnp accessors, and deep-copied into a builder; and (2)
 * through capnp_framer in chunks whose sizes come from the input itself;
 * and (3) as packed bytes, unpacked, read, and checked to re-pack to the
 * same message.
 * Any crash, sanitizer report or unbounded loop is a bug: hostile input
 * must end in a recorded error.
 */
#include <stddef.h>
#include <stdint.h>
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
    if (capnp_copy(capnp_builder_root(&b), capnp_msg_root(&m)) == 0 && !capnp_builder_error(&b)) {
        /* The copy is well-formed: reading it must not fail. */
        struct capnp_msg c;
        if (capnp_msg_from_builder(&c, &b, &e) == 0) {
            walk(capnp_msg_root(&c));
            if (capnp_msg_error(&c) && !strstr(capnp_msg_error(&c), "limit")) abort();
            capnp_msg_free(&c);
        }
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
