/*
 * Interop cases of tests/unit/capnp/test.capnp for interop.c: All with
 * every field set and empty, Defaults unset and written out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/test.capnp.h"
#include "interop.h"

/* ------------------------------------------------------------ test.All */
static const uint8_t all_d[] = {0, 1, 0xff};
static const bool all_bools[] = {true, false, true, true, false, false, false, false, true};

static void build_all_full(struct capnp_builder *b)
{
    test_All_B a = test_All_new_root(b);
    test_All_set_b(a, true);
    test_All_set_i8(a, -5);
    test_All_set_i16(a, -300);
    test_All_set_i32(a, -70000);
    test_All_set_i64(a, -5000000000LL);
    test_All_set_u8(a, 200);
    test_All_set_u16(a, 60000);
    test_All_set_u32(a, 4000000000u);
    test_All_set_u64(a, 18000000000000000000ull);
    test_All_set_f32(a, 0.25f);
    test_All_set_f64(a, -1e100);
    test_All_set_t(a, T("h\xc3\xa9llo"));
    test_All_set_d(a, all_d, 3);
    test_All_set_color(a, test_Color_green);
    test_Inner_B in = test_All_init_inner(a);
    test_Inner_set_a(in, 7);
    test_Inner_set_t(in, T("in"));
    test_All_init_lVoid(a, 3);
    capnp_list_b l = test_All_init_lBool(a, 9);
    for (uint32_t i = 0; i < 9; i++)
        capnp_list_b_set_bool(l, i, all_bools[i]);
    l = test_All_init_lU8(a, 3);
    capnp_list_b_set_u8(l, 0, 1);
    capnp_list_b_set_u8(l, 1, 2);
    capnp_list_b_set_u8(l, 2, 255);
    l = test_All_init_lI16(a, 3);
    capnp_list_b_set_u16(l, 0, (uint16_t)-1);
    capnp_list_b_set_u16(l, 1, 2);
    capnp_list_b_set_u16(l, 2, 0x8000);
    l = test_All_init_lU32(a, 2);
    capnp_list_b_set_u32(l, 0, 1);
    capnp_list_b_set_u32(l, 1, 4294967295u);
    l = test_All_init_lI64(a, 2);
    capnp_list_b_set_u64(l, 0, 0x8000000000000000ull);
    capnp_list_b_set_u64(l, 1, 0x7fffffffffffffffull);
    l = test_All_init_lF64(a, 2);
    capnp_list_b_set_u64(l, 0, capnp_f64_bits(0.5));
    capnp_list_b_set_u64(l, 1, capnp_f64_bits(-0.125));
    l = test_All_init_lText(a, 3);
    capnp_list_b_set_text(l, 0, T("a"));
    capnp_list_b_set_text(l, 1, T(""));
    capnp_list_b_set_text(l, 2, T("ccc"));
    l = test_All_init_lData(a, 2);
    capnp_list_b_set_data(l, 0, "x", 1);
    capnp_list_b_set_data(l, 1, "", 0);
    test_Inner_LB li = test_All_init_lInner(a, 3);
    test_Inner_set_a(test_Inner_LB_at(li, 0), 1);
    test_Inner_set_t(test_Inner_LB_at(li, 0), T("one"));
    test_Inner_set_a(test_Inner_LB_at(li, 1), 2);
    test_Inner_set_t(test_Inner_LB_at(li, 2), T("three"));
    l = test_All_init_lList(a, 3);
    capnp_list_b e = capnp_ptr_b_init_list(capnp_list_b_ptr(l, 0), CAPNP_ES_2B, 2);
    capnp_list_b_set_u16(e, 0, 1);
    capnp_list_b_set_u16(e, 1, 2);
    capnp_ptr_b_init_list(capnp_list_b_ptr(l, 1), CAPNP_ES_2B, 0);
    e = capnp_ptr_b_init_list(capnp_list_b_ptr(l, 2), CAPNP_ES_2B, 1);
    capnp_list_b_set_u16(e, 0, 65535);
    l = test_All_init_lColor(a, 2);
    capnp_list_b_set_u16(l, 0, test_Color_blue);
    capnp_list_b_set_u16(l, 1, test_Color_red);
    test_All_set_dBool(a, false);
    test_All_set_dI32(a, 0);
    test_All_set_dU64(a, 0);
    test_All_set_dF32(a, 0);
    test_All_set_dF64(a, 0);
    test_All_set_dText(a, T(""));
    test_All_set_dData(a, "", 0);
    test_All_set_dColor(a, test_Color_red);
    test_All_grp_B g = test_All_init_grp(a);
    test_All_grp_set_x(g, 99);
    test_All_grp_set_y(g, T("why"));
    test_All_named_set_b2(test_All_init_named(a), T("bee"));
}

static void check_all_full(struct capnp_msg *m)
{
    test_All_R a = test_All_read_root(m);
    CHECK(test_All_get_b(a));
    CHECK(test_All_get_i8(a) == -5);
    CHECK(test_All_get_i16(a) == -300);
    CHECK(test_All_get_i32(a) == -70000);
    CHECK(test_All_get_i64(a) == -5000000000LL);
    CHECK(test_All_get_u8(a) == 200);
    CHECK(test_All_get_u16(a) == 60000);
    CHECK(test_All_get_u32(a) == 4000000000u);
    CHECK(test_All_get_u64(a) == 18000000000000000000ull);
    CHECK(test_All_get_f32(a) == 0.25f);
    CHECK(test_All_get_f64(a) == -1e100);
    CHECK(text_is(test_All_get_t(a), "h\xc3\xa9llo"));
    CHECK(data_is(test_All_get_d(a), all_d, 3));
    CHECK(test_All_get_color(a) == test_Color_green);
    CHECK(test_Inner_get_a(test_All_get_inner(a)) == 7);
    CHECK(text_is(test_Inner_get_t(test_All_get_inner(a)), "in"));
    CHECK(capnp_list_r_len(test_All_get_lVoid(a)) == 3);
    capnp_list_r l = test_All_get_lBool(a);
    CHECK(capnp_list_r_len(l) == 9);
    for (uint32_t i = 0; i < 9 && i < l.len; i++)
        CHECK(capnp_list_r_bool(l, i) == all_bools[i]);
    l = test_All_get_lU8(a);
    CHECK(l.len == 3 && capnp_list_r_u8(l, 0) == 1 && capnp_list_r_u8(l, 2) == 255);
    l = test_All_get_lI16(a);
    CHECK(l.len == 3 && (int16_t)capnp_list_r_u16(l, 0) == -1 &&
          (int16_t)capnp_list_r_u16(l, 2) == -32768);
    l = test_All_get_lU32(a);
    CHECK(l.len == 2 && capnp_list_r_u32(l, 1) == 4294967295u);
    l = test_All_get_lI64(a);
    CHECK(l.len == 2 && capnp_list_r_u64(l, 0) == 0x8000000000000000ull);
    l = test_All_get_lF64(a);
    CHECK(l.len == 2 && capnp_f64(capnp_list_r_u64(l, 1)) == -0.125);
    l = test_All_get_lText(a);
    CHECK(l.len == 3 && text_is(capnp_list_r_text(l, 0), "a") &&
          text_is(capnp_list_r_text(l, 1), "") && text_is(capnp_list_r_text(l, 2), "ccc"));
    l = test_All_get_lData(a);
    CHECK(l.len == 2 && data_is(capnp_list_r_data(l, 0), "x", 1) &&
          capnp_list_r_data(l, 1).len == 0);
    test_Inner_LR li = test_All_get_lInner(a);
    CHECK(test_Inner_LR_len(li) == 3);
    CHECK(test_Inner_get_a(test_Inner_LR_at(li, 0)) == 1);
    CHECK(text_is(test_Inner_get_t(test_Inner_LR_at(li, 0)), "one"));
    CHECK(!test_Inner_has_t(test_Inner_LR_at(li, 1)));
    CHECK(text_is(test_Inner_get_t(test_Inner_LR_at(li, 2)), "three"));
    l = test_All_get_lList(a);
    CHECK(l.len == 3);
    capnp_list_r e = capnp_ptr_r_list(capnp_list_r_ptr(l, 0), CAPNP_ES_2B);
    CHECK(e.len == 2 && capnp_list_r_u16(e, 1) == 2);
    e = capnp_ptr_r_list(capnp_list_r_ptr(l, 2), CAPNP_ES_2B);
    CHECK(e.len == 1 && capnp_list_r_u16(e, 0) == 65535);
    l = test_All_get_lColor(a);
    CHECK(l.len == 2 && capnp_list_r_u16(l, 0) == test_Color_blue);
    CHECK(test_All_get_dBool(a) == false && test_All_get_dI32(a) == 0);
    CHECK(test_All_get_dU64(a) == 0 && test_All_get_dF32(a) == 0 && test_All_get_dF64(a) == 0);
    CHECK(text_is(test_All_get_dText(a), "") && test_All_get_dData(a).len == 0);
    CHECK(test_All_get_dColor(a) == test_Color_red);
    CHECK(test_All_which(a) == test_All_grp);
    CHECK(test_All_grp_get_x(test_All_get_grp(a)) == 99);
    CHECK(text_is(test_All_grp_get_y(test_All_get_grp(a)), "why"));
    CHECK(test_All_named_which(test_All_get_named(a)) == test_All_named_b2);
    CHECK(text_is(test_All_named_get_b2(test_All_get_named(a)), "bee"));
}

static void build_all_empty(struct capnp_builder *b)
{
    test_All_new_root(b);
}

static void check_all_empty(struct capnp_msg *m)
{
    test_All_R a = test_All_read_root(m);
    CHECK(test_All_get_dBool(a) == true);
    CHECK(test_All_get_dI32(a) == -123);
    CHECK(test_All_get_dU64(a) == 0xdeadbeef12345678ull);
    CHECK(test_All_get_dF32(a) == 1.5f);
    CHECK(test_All_get_dF64(a) == -2.25);
    CHECK(text_is(test_All_get_dText(a), "dflt"));
    CHECK(data_is(test_All_get_dData(a), "\x01\xff", 2));
    CHECK(test_All_get_dColor(a) == test_Color_blue);
    CHECK(test_All_which(a) == test_All_none);
    CHECK(!test_All_has_t(a) && text_is(test_All_get_t(a), ""));
    CHECK(test_Inner_get_a(test_All_get_inner(a)) == 0);
    CHECK(test_Inner_LR_len(test_All_get_lInner(a)) == 0);
}

/* ------------------------------------------------ test.Defaults */
/* defaults_unset: the reference's encoding of a Defaults lacking the
 * pointer fields reads as their schema defaults. defaults_explicit: the
 * same values written out; our build copies each field's generated
 * default into the message, so the bytes must equal the reference's
 * encoding of the literal text. */
void check_defaults(struct capnp_msg *m, int set)
{
    test_Defaults_R r = test_Defaults_read_root(m);
    CHECK(test_Defaults_get_n(r) == (set ? 0 : 17));
    CHECK(test_Defaults_has_inner(r) == (bool)set);
    CHECK(test_Inner_get_a(test_Defaults_get_inner(r)) == 7);
    CHECK(text_is(test_Inner_get_t(test_Defaults_get_inner(r)), "seven"));
    test_Inner_LR li = test_Defaults_get_lInner(r);
    CHECK(test_Inner_LR_len(li) == 2);
    CHECK(test_Inner_get_a(test_Inner_LR_at(li, 0)) == 1);
    CHECK(!test_Inner_has_t(test_Inner_LR_at(li, 0)));
    CHECK(text_is(test_Inner_get_t(test_Inner_LR_at(li, 1)), "two"));
    capnp_list_r l = test_Defaults_get_lI32(r);
    CHECK(capnp_list_r_len(l) == 3 && (int32_t)capnp_list_r_u32(l, 0) == -1 &&
          capnp_list_r_u32(l, 1) == 2 && capnp_list_r_u32(l, 2) == 300000);
    l = test_Defaults_get_lText(r);
    CHECK(capnp_list_r_len(l) == 2 && text_is(capnp_list_r_text(l, 0), "x") &&
          text_is(capnp_list_r_text(l, 1), "yz"));
    l = test_Defaults_get_lBool(r);
    CHECK(capnp_list_r_len(l) == 3 && capnp_list_r_bool(l, 0) && !capnp_list_r_bool(l, 1) &&
          capnp_list_r_bool(l, 2));
    l = test_Defaults_get_lList(r);
    CHECK(capnp_list_r_len(l) == 3);
    capnp_list_r e = capnp_ptr_r_list(capnp_list_r_ptr(l, 0), CAPNP_ES_2B);
    CHECK(capnp_list_r_len(e) == 2 && capnp_list_r_u16(e, 0) == 1 && capnp_list_r_u16(e, 1) == 2);
    CHECK(capnp_list_r_len(capnp_ptr_r_list(capnp_list_r_ptr(l, 1), CAPNP_ES_2B)) == 0);
    e = capnp_ptr_r_list(capnp_list_r_ptr(l, 2), CAPNP_ES_2B);
    CHECK(capnp_list_r_len(e) == 1 && capnp_list_r_u16(e, 0) == 3);
    CHECK(test_Defaults_has_emptyList(r) == (bool)set);
    CHECK(capnp_list_r_len(test_Defaults_get_emptyList(r)) == 0);
    CHECK(test_Defaults_which(r) == test_Defaults_u0);
    CHECK(test_Inner_get_a(test_Defaults_get_uInner(r)) == 9);
    CHECK(!test_Defaults_has_noDefault(r));
}

void build_defaults(struct capnp_builder *b, int set)
{
    test_Defaults_B d = test_Defaults_new_root(b);
    if (!set) {
        test_Defaults_set_n(d, 17);
        return;
    }
    const struct capnp_msg *dm[] = {&test_Defaults_inner_default,    &test_Defaults_lInner_default,
                                    &test_Defaults_lI32_default,     &test_Defaults_lText_default,
                                    &test_Defaults_lBool_default,    &test_Defaults_lList_default,
                                    &test_Defaults_emptyList_default};
    for (uint16_t i = 0; i < sizeof dm / sizeof dm[0]; i++)
        CHECK(capnp_copy(capnp_struct_b_ptr(d.b, i), capnp_ptr_r_or((capnp_ptr_r){0}, dm[i])) == 0);
}

void b_all(struct capnp_builder *b, int a)
{
    a ? build_all_empty(b) : build_all_full(b);
}
void c_all(struct capnp_msg *m, int a)
{
    a ? check_all_empty(m) : check_all_full(m);
}
