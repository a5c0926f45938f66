/* Unit tests for the capnp runtime: multi-segment building, far and
 * double-far pointers, copy, framing, and hostile input (bounds, loops,
 * amplification, nesting, bad segment tables). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "capnp/frame.h"
#include "capnp/packed.h"
#include "gen/test.capnp.h"
#include "gen/test_import.capnp.h"

static uint64_t sptr(int32_t off, uint16_t dw, uint16_t np)
{
    return (uint64_t)(uint32_t)((uint32_t)off << 2) | ((uint64_t)dw << 32) | ((uint64_t)np << 48);
}
static uint64_t lptr(int32_t off, unsigned es, uint32_t n)
{
    return 1 | (uint64_t)(uint32_t)((uint32_t)off << 2) | ((uint64_t)es << 32) |
           ((uint64_t)n << 35);
}
static uint64_t fptr(int dbl, uint32_t pos, uint32_t seg)
{
    return 2 | ((uint64_t)dbl << 2) | ((uint64_t)pos << 3) | ((uint64_t)seg << 32);
}

static void msg1(struct capnp_msg *m, const uint64_t *w, uint32_t n)
{
    struct capnp_seg s = {(const uint8_t *)w, n};
    struct err e;
    assert_int_equal(capnp_msg_init_segs(m, &s, 1, &e), 0);
}

static void expect_error(struct capnp_msg *m, const char *part)
{
    assert_non_null(capnp_msg_error(m));
    if (!strstr(capnp_msg_error(m), part))
        fail_msg("error \"%s\" lacks \"%s\"", capnp_msg_error(m), part);
}

/* Builds a message with many small segments (forcing far pointers), then
 * reads it back both directly and after serialising. */
static void build_inner_list(struct capnp_builder *b, uint32_t n)
{
    test_All_B a = test_All_new_root(b);
    test_Inner_LB l = test_All_init_lInner(a, n);
    char buf[32];
    for (uint32_t i = 0; i < n; i++) {
        test_Inner_set_a(test_Inner_LB_at(l, i), i * 3);
        int len = snprintf(buf, sizeof buf, "item-%u", i);
        test_Inner_set_t(test_Inner_LB_at(l, i), buf, (uint32_t)len);
    }
    test_All_set_t(a, "top", 3);
    test_Inner_set_a(test_All_init_inner(a), 42);
}

static void check_inner_list(struct capnp_msg *m, uint32_t n)
{
    test_All_R a = test_All_read_root(m);
    test_Inner_LR l = test_All_get_lInner(a);
    assert_int_equal(test_Inner_LR_len(l), n);
    char buf[32];
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(test_Inner_get_a(test_Inner_LR_at(l, i)), i * 3);
        snprintf(buf, sizeof buf, "item-%u", i);
        assert_string_equal(test_Inner_get_t(test_Inner_LR_at(l, i)).str, buf);
    }
    assert_string_equal(test_All_get_t(a).str, "top");
    assert_int_equal(test_Inner_get_a(test_All_get_inner(a)), 42);
    assert_null(capnp_msg_error(m));
}

static void multi_segment_far_pointers(void **state)
{
    (void)state;
    struct capnp_builder b;
    capnp_builder_init(&b, 8); /* tiny first segment */
    build_inner_list(&b, 200);
    assert_null(capnp_builder_error(&b));
    assert_true(b.nsegs > 1);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    check_inner_list(&m, 200);
    capnp_msg_free(&m);

    uint8_t *out;
    size_t len;
    assert_int_equal(capnp_builder_serialize(&b, &out, &len, &e), 0);
    assert_int_equal(len, capnp_builder_size(&b));
    assert_int_equal(capnp_msg_init_bytes(&m, out, len, &e), 0);
    assert_int_equal(m.nsegs, b.nsegs);
    check_inner_list(&m, 200);
    capnp_msg_free(&m);

    /* writev form: same bytes. */
    uint8_t table[256];
    struct iovec iov[64];
    int n = capnp_builder_iov(&b, table, iov, 64);
    assert_int_equal(n, 1 + (int)b.nsegs);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        assert_memory_equal(out + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    assert_int_equal(off, len);
    free(out);

    /* reset keeps working */
    capnp_builder_reset(&b);
    build_inner_list(&b, 3);
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    check_inner_list(&m, 3);
    capnp_msg_free(&m);
    capnp_builder_free(&b);
}

static void double_far_pointer(void **state)
{
    (void)state;
    uint64_t s0[1] = {fptr(1, 0, 1)};
    uint64_t s1[2] = {fptr(0, 1, 2), sptr(0, 1, 0)};
    uint64_t s2[2] = {0, 0x1122334455667788ull};
    struct capnp_seg segs[3] = {{(uint8_t *)s0, 1}, {(uint8_t *)s1, 2}, {(uint8_t *)s2, 2}};
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_init_segs(&m, segs, 3, &e), 0);
    capnp_struct_r s = capnp_ptr_r_struct(capnp_msg_root(&m));
    assert_int_equal(capnp_struct_r_u64(s, 0), 0x1122334455667788ull);
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);

    /* A double-far whose first pad word is itself double: rejected. */
    s1[0] = fptr(1, 1, 2);
    assert_int_equal(capnp_msg_init_segs(&m, segs, 3, &e), 0);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "double-far");
    capnp_msg_free(&m);
}

static void far_pointer_loop(void **state)
{
    (void)state;
    /* seg0: far -> seg1[0]; seg1[0]: far -> seg0[0]. Landing pads must
     * not be far pointers, so this is an error, not a loop. */
    uint64_t s0[1] = {fptr(0, 0, 1)};
    uint64_t s1[1] = {fptr(0, 0, 0)};
    struct capnp_seg segs[2] = {{(uint8_t *)s0, 1}, {(uint8_t *)s1, 1}};
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_init_segs(&m, segs, 2, &e), 0);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "another far pointer");
    capnp_msg_free(&m);
    /* Far pointer into a segment that does not exist. */
    s0[0] = fptr(0, 0, 7);
    assert_int_equal(capnp_msg_init_segs(&m, segs, 2, &e), 0);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "does not exist");
    capnp_msg_free(&m);
    /* Landing pad position beyond the segment. */
    s0[0] = fptr(0, 5, 1);
    assert_int_equal(capnp_msg_init_segs(&m, segs, 2, &e), 0);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "landing pad out of bounds");
    capnp_msg_free(&m);
}

static void out_of_bounds_pointers(void **state)
{
    (void)state;
    struct capnp_msg m;
    uint64_t w[3] = {sptr(0, 2, 1), 5, 0};
    msg1(&m, w, 2); /* struct claims 3 words, 1 available */
    capnp_struct_r s = capnp_ptr_r_struct(capnp_msg_root(&m));
    assert_int_equal(capnp_struct_r_u64(s, 0), 0); /* default */
    expect_error(&m, "out of bounds");
    capnp_msg_free(&m);

    w[0] = sptr(-5, 1, 0); /* before the segment */
    msg1(&m, w, 3);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "out of bounds");
    capnp_msg_free(&m);

    w[0] = lptr(0, CAPNP_ES_8B, 3); /* list of 3 words, 2 available */
    msg1(&m, w, 3);
    assert_int_equal(capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_8B).len, 0);
    expect_error(&m, "out of bounds");
    capnp_msg_free(&m);

    /* Composite list whose tag claims more elements than its words. */
    w[0] = lptr(0, CAPNP_ES_COMPOSITE, 1);
    w[1] = sptr(5, 1, 0);
    msg1(&m, w, 3);
    capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_COMPOSITE);
    expect_error(&m, "exceed");
    capnp_msg_free(&m);

    /* Out-of-range index on a good list. */
    w[0] = lptr(0, CAPNP_ES_4B, 2);
    w[1] = 0x0000000200000001ull;
    msg1(&m, w, 2);
    capnp_list_r l = capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_4B);
    assert_int_equal(capnp_list_r_u32(l, 1), 2);
    assert_null(capnp_msg_error(&m));
    assert_int_equal(capnp_list_r_u32(l, 2), 0);
    expect_error(&m, "out of range");
    capnp_msg_free(&m);

    /* Text without its NUL. */
    w[0] = lptr(0, CAPNP_ES_BYTE, 3);
    w[1] = 0x636261; /* "abc" */
    msg1(&m, w, 2);
    assert_string_equal(capnp_ptr_r_text(capnp_msg_root(&m)).str, "");
    expect_error(&m, "NUL");
    capnp_msg_free(&m);

    /* Wrong kinds. */
    w[0] = sptr(0, 1, 0);
    msg1(&m, w, 2);
    capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_8B);
    expect_error(&m, "expected a list");
    capnp_msg_free(&m);
    w[0] = 3 | (7ull << 32);
    msg1(&m, w, 1);
    uint32_t idx = 0;
    assert_true(capnp_ptr_r_cap(capnp_msg_root(&m), &idx));
    assert_int_equal(idx, 7);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "capability");
    capnp_msg_free(&m);
}

static void list_amplification(void **state)
{
    (void)state;
    struct capnp_msg m;
    /* 2^29-1 Void elements in zero bytes. */
    uint64_t w[2] = {lptr(0, CAPNP_ES_VOID, (1u << 29) - 1), 0};
    msg1(&m, w, 1);
    capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_VOID);
    expect_error(&m, "traversal limit");
    capnp_msg_free(&m);
    /* Composite list of 2^28 zero-sized structs in one tag word. */
    w[0] = lptr(0, CAPNP_ES_COMPOSITE, 0);
    w[1] = sptr(1 << 28, 0, 0);
    msg1(&m, w, 2);
    capnp_ptr_r_list(capnp_msg_root(&m), CAPNP_ES_COMPOSITE);
    expect_error(&m, "traversal limit");
    capnp_msg_free(&m);
    /* Many pointers to one big object: each read is charged. */
    enum { BIG = 4096, NP = 64 };
    uint64_t *big = calloc(1 + NP + BIG, 8);
    big[0] = sptr(0, 0, NP);
    for (int i = 0; i < NP; i++) /* pointer at word 1+i, list at word 1+NP */
        big[1 + i] = lptr(NP - 1 - i, CAPNP_ES_8B, BIG);
    msg1(&m, big, 1 + NP + BIG);
    capnp_msg_set_limits(&m, 10 * BIG, 64);
    capnp_struct_r s = capnp_ptr_r_struct(capnp_msg_root(&m));
    int ok = 0;
    for (int i = 0; i < NP; i++)
        ok += capnp_ptr_r_list(capnp_struct_r_ptr(s, (uint16_t)i), CAPNP_ES_8B).len == BIG;
    assert_true(ok >= 9 && ok <= 10);
    expect_error(&m, "traversal limit");
    capnp_msg_free(&m);
    free(big);
}

static void nesting_bomb(void **state)
{
    (void)state;
    /* A struct whose only pointer points at itself. */
    uint64_t w[2] = {sptr(0, 0, 1), sptr(-1, 0, 1)};
    struct capnp_msg m;
    msg1(&m, w, 2);
    capnp_struct_r s = capnp_ptr_r_struct(capnp_msg_root(&m));
    int depth = 0;
    while (s.msg && depth < 1000) {
        s = capnp_ptr_r_struct(capnp_struct_r_ptr(s, 0));
        depth++;
    }
    assert_int_equal(depth, CAPNP_DEFAULT_NESTING);
    expect_error(&m, "nesting limit");
    capnp_msg_free(&m);
}

static void bad_segment_tables(void **state)
{
    (void)state;
    struct capnp_msg m;
    struct err e;
    uint8_t b[64] = {0};
    assert_int_equal(capnp_msg_init_bytes(&m, b, 4, &e), -1); /* truncated */
    uint32_t absurd = 0xffffffffu;
    memcpy(b, &absurd, 4);
    assert_int_equal(capnp_msg_init_bytes(&m, b, sizeof b, &e), -1);
    assert_non_null(strstr(e.msg, "segments"));
    uint32_t t[4] = {2, 1, 1, 1}; /* 3 segments: table 16 bytes, needs 24 more */
    memcpy(b, t, 16);
    assert_int_equal(capnp_msg_init_bytes(&m, b, 16 + 16, &e), -1);
    assert_non_null(strstr(e.msg, "extends past"));
    assert_int_equal(capnp_msg_init_bytes(&m, b, 12, &e), -1);
    assert_non_null(strstr(e.msg, "truncated"));
    assert_int_equal(capnp_msg_init_bytes(&m, b, 16 + 24, &e), 0);
    capnp_msg_free(&m);
    assert_int_equal(capnp_msg_init_bytes(&m, b, 16 + 32, &e), -1); /* trailing bytes */
    /* Empty first segment: no root. */
    uint32_t t0[2] = {0, 0};
    memcpy(b, t0, 8);
    assert_int_equal(capnp_msg_init_bytes(&m, b, 8, &e), 0);
    capnp_ptr_r_struct(capnp_msg_root(&m));
    expect_error(&m, "no root");
    capnp_msg_free(&m);
}

static void framer_incremental(void **state)
{
    (void)state;
    struct capnp_builder b1, b2;
    capnp_builder_init(&b1, 4);
    capnp_builder_init(&b2, 0);
    build_inner_list(&b1, 30);
    build_inner_list(&b2, 5);
    size_t n1 = capnp_builder_size(&b1), n2 = capnp_builder_size(&b2);
    uint8_t *stream = malloc(n1 + n2);
    capnp_builder_write(&b1, stream, n1);
    capnp_builder_write(&b2, stream + n1, n2);

    struct capnp_framer f;
    struct err e;
    capnp_framer_init(&f, 0, 0);
    int got = 0;
    size_t pos = 0;
    while (pos < n1 + n2) {
        size_t used;
        int r = capnp_framer_feed(&f, stream + pos, 1, &used, &e); /* one byte at a time */
        assert_true(r >= 0);
        pos += used;
        if (r == 1) {
            struct capnp_msg m;
            assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
            check_inner_list(&m, got == 0 ? 30 : 5);
            capnp_msg_free(&m);
            got++;
        }
    }
    assert_int_equal(got, 2);
    assert_true(capnp_framer_idle(&f));
    /* Both at once: feed stops at the end of the first message. */
    size_t used;
    assert_int_equal(capnp_framer_feed(&f, stream, n1 + n2, &used, &e), 1);
    assert_int_equal(used, n1);
    assert_int_equal(capnp_framer_feed(&f, stream + n1, n2, &used, &e), 1); /* still ready */
    assert_int_equal(used, 0);
    struct capnp_msg m;
    assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
    capnp_msg_free(&m);
    capnp_framer_free(&f);

    /* Limits. */
    capnp_framer_init(&f, 1024, 4);
    uint32_t hdr[2] = {4, 1}; /* 5 segments > 4 */
    assert_int_equal(capnp_framer_feed(&f, hdr, 8, &used, &e), -1);
    assert_non_null(strstr(e.msg, "segments"));
    capnp_framer_free(&f);
    capnp_framer_init(&f, 1024, 0);
    uint32_t big[2] = {0, 129}; /* 1032 bytes > 1024 */
    assert_int_equal(capnp_framer_feed(&f, big, 8, &used, &e), -1);
    assert_non_null(strstr(e.msg, "exceeds"));
    capnp_framer_free(&f);
    capnp_framer_init(&f, 0, 0);
    uint32_t absurd[2] = {0xffffffffu, 0};
    assert_int_equal(capnp_framer_feed(&f, absurd, 8, &used, &e), -1);
    capnp_framer_free(&f);
    /* A partial frame is not idle. */
    capnp_framer_init(&f, 0, 0);
    assert_int_equal(capnp_framer_feed(&f, stream, 10, &used, &e), 0);
    assert_false(capnp_framer_idle(&f));
    capnp_framer_free(&f);

    free(stream);
    capnp_builder_free(&b1);
    capnp_builder_free(&b2);
}

/* A frame's body memory follows the bytes that arrived, not what the
 * segment table claims: a peer that announces 16 MiB and sends nothing
 * more costs almost nothing. */
static size_t body_reserved(const struct capnp_framer *f)
{
    return f->body ? malloc_usable_size(f->body) : 0;
}

static void framer_grows_with_input(void **state)
{
    (void)state;
    struct capnp_framer f;
    struct err e;
    size_t used;
    capnp_framer_init(&f, 0, 0);
    /* Two segments: one word, then 2 Mi words (16 MiB). */
    uint32_t hdr[4] = {1, 1, 2u << 20, 0};
    assert_int_equal(capnp_framer_feed(&f, hdr, sizeof hdr, &used, &e), 0);
    assert_int_equal(used, sizeof hdr);
    assert_true(body_reserved(&f) <= 64 * 1024);
    /* Then the body, in 64 KiB pieces: memory stays within twice what
     * arrived (plus one piece), and the message is intact at the end. */
    size_t total = 8 + ((size_t)2 << 20) * 8, sent = 0;
    uint8_t *chunk = malloc(65536);
    int r = 0;
    while (sent < total) {
        size_t n = total - sent < 65536 ? total - sent : 65536;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((sent + i) * 7 + ((sent + i) >> 16));
        r = capnp_framer_feed(&f, chunk, n, &used, &e);
        assert_true(r >= 0);
        assert_int_equal(used, n);
        sent += n;
        assert_true(body_reserved(&f) <= 2 * sent + 65536);
        assert_int_equal(r, sent == total);
    }
    free(chunk);
    struct capnp_msg m;
    assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
    assert_int_equal(m.nsegs, 2);
    assert_int_equal(m.segs[0].words, 1);
    assert_int_equal(m.segs[1].words, 2u << 20);
    const uint8_t *s0 = m.segs[0].p, *s1 = m.segs[1].p;
    for (size_t i = 0; i < total; i += 4093) {
        uint8_t want = (uint8_t)(i * 7 + (i >> 16));
        assert_int_equal(i < 8 ? s0[i] : s1[i - 8], want);
    }
    assert_int_equal(s1[total - 9], (uint8_t)((total - 1) * 7 + ((total - 1) >> 16)));
    capnp_msg_free(&m);
    assert_true(capnp_framer_idle(&f));
    /* A header only, then freed: nothing leaks (ASan). */
    assert_int_equal(capnp_framer_feed(&f, hdr, sizeof hdr, &used, &e), 0);
    assert_int_equal(capnp_framer_feed(&f, "abc", 3, &used, &e), 0);
    assert_true(body_reserved(&f) <= 64 * 1024);
    capnp_framer_free(&f);
}

static void copy_between_messages(void **state)
{
    (void)state;
    struct capnp_builder src, dst;
    capnp_builder_init(&src, 16);
    build_inner_list(&src, 50);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &src, &e), 0);

    capnp_builder_init(&dst, 4);
    assert_int_equal(capnp_copy(capnp_builder_root(&dst), capnp_msg_root(&m)), 0);
    assert_null(capnp_builder_error(&dst));
    struct capnp_msg m2;
    assert_int_equal(capnp_msg_from_builder(&m2, &dst, &e), 0);
    check_inner_list(&m2, 50);
    capnp_msg_free(&m2);
    capnp_msg_free(&m);

    /* Caps and bit lists survive a copy into an AnyPointer slot. */
    capnp_builder_reset(&src);
    capnp_struct_b s = capnp_ptr_b_init_struct(capnp_builder_root(&src), 1, 2);
    capnp_struct_b_set_u64(s, 0, 99);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(s, 0), 12);
    capnp_list_b bits = capnp_ptr_b_init_list(capnp_struct_b_ptr(s, 1), CAPNP_ES_BIT, 70);
    capnp_list_b_set_bool(bits, 69, true);
    assert_int_equal(capnp_msg_from_builder(&m, &src, &e), 0);
    capnp_builder_reset(&dst);
    test_All_B a = test_All_new_root(&dst);
    assert_int_equal(capnp_copy(test_All_ptr_any(a), capnp_msg_root(&m)), 0);
    assert_int_equal(capnp_msg_from_builder(&m2, &dst, &e), 0);
    capnp_struct_r r = capnp_ptr_r_struct(test_All_get_any(test_All_read_root(&m2)));
    assert_int_equal(capnp_struct_r_u64(r, 0), 99);
    uint32_t idx;
    assert_true(capnp_ptr_r_cap(capnp_struct_r_ptr(r, 0), &idx));
    assert_int_equal(idx, 12);
    capnp_list_r bl = capnp_ptr_r_list(capnp_struct_r_ptr(r, 1), CAPNP_ES_BIT);
    assert_int_equal(bl.len, 70);
    assert_true(capnp_list_r_bool(bl, 69));
    assert_false(capnp_list_r_bool(bl, 68));
    assert_null(capnp_msg_error(&m2));
    capnp_msg_free(&m2);
    capnp_msg_free(&m);

    /* Copying a hostile source fails cleanly. */
    uint64_t w[2] = {sptr(0, 0, 1), sptr(-1, 0, 1)};
    msg1(&m, w, 2);
    capnp_builder_reset(&dst);
    assert_int_equal(capnp_copy(capnp_builder_root(&dst), capnp_msg_root(&m)), -1);
    expect_error(&m, "nesting");
    capnp_msg_free(&m);
    capnp_builder_free(&src);
    capnp_builder_free(&dst);
}

static void schema_evolution(void **state)
{
    (void)state;
    /* An "old" All with no data section and one pointer (t): every newer
     * field reads as its default. */
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    capnp_struct_b s = capnp_ptr_b_init_struct(capnp_builder_root(&b), 0, 1);
    capnp_ptr_b_set_text(capnp_struct_b_ptr(s, 0), "old", 3);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    test_All_R a = test_All_read_root(&m);
    assert_string_equal(test_All_get_t(a).str, "old");
    assert_int_equal(test_All_get_dI32(a), -123);
    assert_true(test_All_get_dBool(a));
    assert_int_equal(test_All_get_dColor(a), test_Color_blue);
    assert_string_equal(test_All_get_dText(a).str, "dflt");
    assert_int_equal(test_Inner_LR_len(test_All_get_lInner(a)), 0);
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);

    /* A List(UInt32) read as List(Inner): element i's first field. */
    capnp_builder_reset(&b);
    s = capnp_ptr_b_init_struct(capnp_builder_root(&b), test_All_DATA_WORDS, test_All_PTR_COUNT);
    capnp_list_b l = capnp_ptr_b_init_list(capnp_struct_b_ptr(s, 12), CAPNP_ES_4B, 3);
    capnp_list_b_set_u32(l, 2, 77);
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    test_Inner_LR il = test_All_get_lInner(test_All_read_root(&m));
    assert_int_equal(test_Inner_LR_len(il), 3);
    assert_int_equal(test_Inner_get_a(test_Inner_LR_at(il, 2)), 77);
    assert_false(test_Inner_has_t(test_Inner_LR_at(il, 2)));
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);

    /* ...but a List(Bool) cannot be read as structs. */
    capnp_builder_reset(&b);
    s = capnp_ptr_b_init_struct(capnp_builder_root(&b), test_All_DATA_WORDS, test_All_PTR_COUNT);
    capnp_ptr_b_init_list(capnp_struct_b_ptr(s, 12), CAPNP_ES_BIT, 3);
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    assert_int_equal(test_Inner_LR_len(test_All_get_lInner(test_All_read_root(&m))), 0);
    expect_error(&m, "element size");
    capnp_msg_free(&m);
    capnp_builder_free(&b);
}

static void zero_sized_and_generated_constants(void **state)
{
    (void)state;
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    capnp_ptr_b_init_struct(capnp_builder_root(&b), 0, 0);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    assert_int_equal(capnp_ptr_r_kind(capnp_msg_root(&m)), CAPNP_PTR_STRUCT);
    assert_non_null(capnp_ptr_r_struct(capnp_msg_root(&m)).msg);
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);
    capnp_builder_free(&b);
    assert_int_equal(test_answer, -42);
    assert_string_equal(test_greeting, "hi \"there\"");
    assert_string_equal(test_Color_name(test_Color_blue), "blue");
    assert_null(test_Color_name(9));
    assert_true(test_All_ID == 0xc42cd8d5011d9023ull); /* capnp compile -ocapnp */
}

/* Every default of the Defaults struct (test.capnp), read through r. */
static void check_defaults(test_Defaults_R r)
{
    test_Inner_R in = test_Defaults_get_inner(r);
    assert_int_equal(test_Inner_get_a(in), 7);
    assert_string_equal(test_Inner_get_t(in).str, "seven");
    test_Inner_LR li = test_Defaults_get_lInner(r);
    assert_int_equal(test_Inner_LR_len(li), 2);
    assert_int_equal(test_Inner_get_a(test_Inner_LR_at(li, 0)), 1);
    assert_false(test_Inner_has_t(test_Inner_LR_at(li, 0)));
    assert_int_equal(test_Inner_get_a(test_Inner_LR_at(li, 1)), 2);
    assert_string_equal(test_Inner_get_t(test_Inner_LR_at(li, 1)).str, "two");
    capnp_list_r l = test_Defaults_get_lI32(r);
    assert_int_equal(capnp_list_r_len(l), 3);
    assert_int_equal((int32_t)capnp_list_r_u32(l, 0), -1);
    assert_int_equal((int32_t)capnp_list_r_u32(l, 1), 2);
    assert_int_equal((int32_t)capnp_list_r_u32(l, 2), 300000);
    l = test_Defaults_get_lText(r);
    assert_int_equal(capnp_list_r_len(l), 2);
    assert_string_equal(capnp_list_r_text(l, 0).str, "x");
    assert_int_equal(capnp_list_r_text(l, 1).len, 2);
    assert_string_equal(capnp_list_r_text(l, 1).str, "yz");
    l = test_Defaults_get_lBool(r);
    assert_int_equal(capnp_list_r_len(l), 3);
    assert_true(capnp_list_r_bool(l, 0));
    assert_false(capnp_list_r_bool(l, 1));
    assert_true(capnp_list_r_bool(l, 2));
    l = test_Defaults_get_lList(r);
    assert_int_equal(capnp_list_r_len(l), 3);
    capnp_list_r e0 = capnp_ptr_r_list(capnp_list_r_ptr(l, 0), CAPNP_ES_2B);
    assert_int_equal(capnp_list_r_len(e0), 2);
    assert_int_equal(capnp_list_r_u16(e0, 1), 2);
    assert_int_equal(capnp_list_r_len(capnp_ptr_r_list(capnp_list_r_ptr(l, 1), CAPNP_ES_2B)), 0);
    assert_int_equal(capnp_list_r_u16(capnp_ptr_r_list(capnp_list_r_ptr(l, 2), CAPNP_ES_2B), 0), 3);
    /* An explicit empty default is an empty list, not a null one. */
    assert_int_equal(capnp_list_r_len(test_Defaults_get_emptyList(r)), 0);
    assert_non_null(test_Defaults_get_emptyList(r).msg);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_uInner(r)), 9);
    /* No default: null. */
    assert_null(test_Defaults_get_noDefault(r).r.msg);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_noDefault(r)), 0);
}

static void pointer_defaults(void **state)
{
    (void)state;
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    test_Defaults_B d = test_Defaults_new_root(&b);
    test_Defaults_set_n(d, 5);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    /* Unset fields read as their schema defaults; the reads of static
     * defaults are not charged to the message's traversal budget. */
    capnp_msg_set_limits(&m, test_Defaults_DATA_WORDS + test_Defaults_PTR_COUNT, 64);
    test_Defaults_R r = test_Defaults_read_root(&m);
    assert_int_equal(test_Defaults_get_n(r), 5);
    assert_false(test_Defaults_has_inner(r));
    for (int i = 0; i < 100; i++)
        check_defaults(r);
    assert_null(capnp_msg_error(&m));
    /* A null struct reader has the defaults too (C++ does the same). */
    check_defaults((test_Defaults_R){0});
    /* Reading a default out of range gives 0 and records nothing in the
     * shared default, which stays usable. */
    assert_int_equal(capnp_list_r_u32(test_Defaults_get_lI32(r), 3), 0);
    assert_null(test_Defaults_lI32_default.error);
    assert_int_equal(capnp_list_r_u32(test_Defaults_get_lI32(r), 2), 300000);
    capnp_msg_free(&m);

    /* Copying a default into a builder (what C++ builder getters do). */
    capnp_builder_reset(&b);
    d = test_Defaults_new_root(&b);
    assert_int_equal(capnp_copy(capnp_struct_b_ptr(d.b, 1),
                                capnp_ptr_r_or((capnp_ptr_r){0}, &test_Defaults_lInner_default)),
                     0);
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    r = test_Defaults_read_root(&m);
    assert_true(test_Defaults_has_lInner(r));
    assert_string_equal(test_Inner_get_t(test_Inner_LR_at(test_Defaults_get_lInner(r), 1)).str,
                        "two");
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);

    /* Set fields give their own values, including empty lists. */
    capnp_builder_reset(&b);
    d = test_Defaults_new_root(&b);
    test_Inner_B ib = test_Defaults_init_inner(d);
    test_Inner_set_a(ib, 1);
    test_Inner_set_t(ib, "own", 3);
    test_Inner_set_a(test_Inner_LB_at(test_Defaults_init_lInner(d, 1), 0), 11);
    capnp_list_b_set_u32(test_Defaults_init_lI32(d, 1), 0, (uint32_t)-5);
    capnp_list_b_set_text(test_Defaults_init_lText(d, 1), 0, "q", 1);
    test_Defaults_init_lBool(d, 0);
    test_Defaults_init_lList(d, 0);
    capnp_list_b_set_u8(test_Defaults_init_emptyList(d, 2), 1, 200);
    test_Inner_set_a(test_Defaults_init_noDefault(d), 3);
    test_Inner_set_a(test_Defaults_init_uInner(d), 10);
    assert_null(capnp_builder_error(&b));
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    r = test_Defaults_read_root(&m);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_inner(r)), 1);
    assert_string_equal(test_Inner_get_t(test_Defaults_get_inner(r)).str, "own");
    assert_int_equal(test_Inner_LR_len(test_Defaults_get_lInner(r)), 1);
    assert_int_equal(test_Inner_get_a(test_Inner_LR_at(test_Defaults_get_lInner(r), 0)), 11);
    assert_int_equal(capnp_list_r_len(test_Defaults_get_lI32(r)), 1);
    assert_int_equal((int32_t)capnp_list_r_u32(test_Defaults_get_lI32(r), 0), -5);
    assert_string_equal(capnp_list_r_text(test_Defaults_get_lText(r), 0).str, "q");
    assert_int_equal(capnp_list_r_len(test_Defaults_get_lBool(r)), 0);
    assert_int_equal(capnp_list_r_len(test_Defaults_get_lList(r)), 0);
    assert_int_equal(capnp_list_r_len(test_Defaults_get_emptyList(r)), 2);
    assert_int_equal(capnp_list_r_u8(test_Defaults_get_emptyList(r), 1), 200);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_noDefault(r)), 3);
    assert_int_equal(test_Defaults_which(r), test_Defaults_uInner);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_uInner(r)), 10);
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);

    /* The other union member set: uInner's slot is null, so its default. */
    capnp_builder_reset(&b);
    d = test_Defaults_new_root(&b);
    test_Defaults_set_u0(d);
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    r = test_Defaults_read_root(&m);
    assert_int_equal(test_Defaults_which(r), test_Defaults_u0);
    assert_int_equal(test_Inner_get_a(test_Defaults_get_uInner(r)), 9);
    capnp_msg_free(&m);
    capnp_builder_free(&b);
}

/* A static message is bounds-checked like any other; its errors are not
 * recorded (it is shared and read-only) and leave it usable. */
static void static_message_bounds(void **state)
{
    (void)state;
    /* A struct of one data word; a byte list of 9 past the segment's end. */
    const uint64_t w[3] = {sptr(0, 1, 0), 42, lptr(0, CAPNP_ES_BYTE, 9)};
    const struct capnp_seg seg = {(const uint8_t *)w, 3}, seg2 = {(const uint8_t *)(w + 2), 1};
    const struct capnp_msg sm = CAPNP_STATIC_MSG(seg), bad = CAPNP_STATIC_MSG(seg2);
    capnp_ptr_r p = capnp_ptr_r_or((capnp_ptr_r){0}, &sm);
    assert_int_equal(capnp_struct_r_u64(capnp_ptr_r_struct(p), 0), 42);
    p = capnp_ptr_r_or((capnp_ptr_r){0}, &bad);
    assert_int_equal(capnp_ptr_r_kind(p), CAPNP_PTR_LIST);
    capnp_list_r l = capnp_ptr_r_list(p, CAPNP_ES_BYTE);
    assert_null(l.msg);
    assert_int_equal(capnp_list_r_len(l), 0);
    assert_null(bad.error);
    /* A non-null pointer is returned as it is. */
    uint64_t one[2] = {sptr(0, 1, 0), 7};
    struct capnp_msg m;
    msg1(&m, one, 2);
    p = capnp_ptr_r_or(capnp_msg_root(&m), &sm);
    assert_int_equal(capnp_struct_r_u64(capnp_ptr_r_struct(p), 0), 7);
    capnp_msg_free(&m);
}

static void imported_types(void **state)
{
    (void)state;
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    test_import_Outer_B o = test_import_Outer_new_root(&b);
    test_All_set_i32(test_import_Outer_init_all(o), -9);
    capnp_list_b cl = test_import_Outer_init_colors(o, 2);
    capnp_list_b_set_u16(cl, 1, test_Color_blue);
    test_Inner_set_a(test_Inner_LB_at(test_import_Outer_init_inners(o, 1), 0), 5);
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_from_builder(&m, &b, &e), 0);
    test_import_Outer_R r = test_import_Outer_read_root(&m);
    assert_int_equal(test_All_get_i32(test_import_Outer_get_all(r)), -9);
    assert_int_equal(capnp_list_r_u16(test_import_Outer_get_colors(r), 1), test_Color_blue);
    assert_int_equal(test_Inner_get_a(test_Inner_LR_at(test_import_Outer_get_inners(r), 0)), 5);
    assert_int_equal(test_import_Outer_get_color(r), test_Color_green); /* default */
    /* An explicit parameter type is also reachable as Svc_take_Params. */
    test_import_Svc_take_Params_R p = test_Inner_from_ptr((capnp_ptr_r){0});
    assert_int_equal(test_Inner_get_a(p), 0);
    assert_int_equal(test_import_Svc_take_ORDINAL, 0);
    assert_null(capnp_msg_error(&m));
    capnp_msg_free(&m);
    capnp_builder_free(&b);
}

static void packed_roundtrip_and_limits(void **state)
{
    (void)state;
    /* Zero runs, dense runs (both past the 255-word count), sparse words. */
    enum { W = 2000 };
    uint8_t *in = calloc(W, 8);
    srand(7);
    for (int i = 300; i < 900; i++)
        for (int j = 0; j < 8; j++)
            in[i * 8 + j] = (uint8_t)(rand() % 255 + 1);
    for (int i = 900; i < W; i++)
        in[i * 8 + (i % 8)] = (uint8_t)i | 1;
    size_t cap = capnp_pack_bound(W * 8);
    uint8_t *p = malloc(cap);
    size_t n = capnp_pack(in, W * 8, p, cap);
    assert_true(n > 0 && n < W * 8);
    uint8_t *out;
    size_t olen;
    struct err e;
    assert_int_equal(capnp_unpack(p, n, W * 8, &out, &olen, &e), 0);
    assert_int_equal(olen, W * 8);
    assert_memory_equal(out, in, W * 8);
    free(out);
    /* Every truncation is an error or a shorter prefix, never a crash. */
    for (size_t cut = 0; cut < n; cut += 7) {
        if (capnp_unpack(p, cut, W * 8, &out, &olen, &e) == 0) {
            assert_true(olen <= W * 8);
            assert_memory_equal(out, in, olen);
            free(out);
        }
    }
    /* Amplification: 2 bytes claim 256 zero words. */
    uint8_t bomb[2] = {0, 255};
    assert_int_equal(capnp_unpack(bomb, 2, 1024, &out, &olen, &e), -1);
    assert_non_null(strstr(e.msg, "expands"));
    uint8_t trunc[3] = {0xff, 1, 2};
    assert_int_equal(capnp_unpack(trunc, 3, 1024, &out, &olen, &e), -1);
    assert_non_null(strstr(e.msg, "truncated"));
    /* Worst case fits the bound: alternating dense and 6-byte words. */
    for (int i = 0; i < W; i++)
        for (int j = 0; j < 8; j++)
            in[i * 8 + j] = (i % 2 == 0 || j < 6) ? (uint8_t)(j + 1) : 0;
    assert_true(capnp_pack(in, W * 8, p, cap) > 0);
    free(p);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multi_segment_far_pointers),
        cmocka_unit_test(double_far_pointer),
        cmocka_unit_test(far_pointer_loop),
        cmocka_unit_test(out_of_bounds_pointers),
        cmocka_unit_test(list_amplification),
        cmocka_unit_test(nesting_bomb),
        cmocka_unit_test(bad_segment_tables),
        cmocka_unit_test(framer_incremental),
        cmocka_unit_test(framer_grows_with_input),
        cmocka_unit_test(copy_between_messages),
        cmocka_unit_test(schema_evolution),
        cmocka_unit_test(zero_sized_and_generated_constants),
        cmocka_unit_test(pointer_defaults),
        cmocka_unit_test(static_message_bounds),
        cmocka_unit_test(imported_types),
        cmocka_unit_test(packed_roundtrip_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
