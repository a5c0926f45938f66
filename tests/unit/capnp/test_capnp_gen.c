/* Unit tests for the code capnpc-c generates (tests/unit/capnp/gen from
 * test.capnp): copies between messages, schema evolution, zero-sized
 * fields and constants, pointer defaults, static messages (bounds-checked
 * like any other) and imported types. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_between_messages),
        cmocka_unit_test(schema_evolution),
        cmocka_unit_test(zero_sized_and_generated_constants),
        cmocka_unit_test(pointer_defaults),
        cmocka_unit_test(static_message_bounds),
        cmocka_unit_test(imported_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
