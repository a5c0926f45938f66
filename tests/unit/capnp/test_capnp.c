/* Unit tests for the capnp runtime: multi-segment building, far and
 * double-far pointers, and hostile input (bounds, loops, amplification,
 * nesting, bad segment tables). Framing and packing are in
 * test_capnp_frame.c, the generated code in test_capnp_gen.c. */
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

#include "capnp_words.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(multi_segment_far_pointers), cmocka_unit_test(double_far_pointer),
        cmocka_unit_test(far_pointer_loop),           cmocka_unit_test(out_of_bounds_pointers),
        cmocka_unit_test(list_amplification),         cmocka_unit_test(nesting_bomb),
        cmocka_unit_test(bad_segment_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
