/*
 * Interop helper for tests/unit/capnp/interop.sh:
 *   interop build CASE   writes our encoding of CASE (framed) to stdout
 *   interop check CASE   reads a framed message (from `capnp encode` of
 *                        data/CASE.txt) on stdin and checks every value
 * The script compares `capnp decode` of our bytes with `capnp decode` of
 * the reference encoding, so both directions are checked against the C++
 * implementation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "capnp/packed.h"
#include "eon/gen/eon.capnp.h"
#include "eon/gen/store.capnp.h"
#include "gen/test.capnp.h"
#include "rpc/gen/rpc.capnp.h"

static int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define T(s) s, (uint32_t)(sizeof s - 1)

static bool text_is(capnp_text t, const char *s)
{
    return t.len == strlen(s) && memcmp(t.str, s, t.len) == 0 && t.str[t.len] == 0;
}
static bool data_is(capnp_data d, const void *p, uint32_t n)
{
    return d.len == n && (n == 0 || memcmp(d.ptr, p, n) == 0);
}

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
static void check_defaults(struct capnp_msg *m, int set)
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

static void build_defaults(struct capnp_builder *b, int set)
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

/* ----------------------------------------------------------------- eon */
static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v4[4] = {127, 0, 0, 1};
static const uint8_t v4b[4] = {192, 0, 2, 1};

static void build_prereq(struct capnp_builder *b, int which)
{
    eon_Prereq_B p = eon_Prereq_new_root(b);
    static const char *names[] = {"a.example.org", "b.example.org", "c.example.org",
                                  "d.example.org", "e.example.org"};
    eon_Prereq_set_name(p, names[which], 13);
    switch (which) {
    case 0:
        eon_Prereq_exists_set_type(eon_Prereq_init_exists(p), 1);
        break;
    case 1: {
        eon_Prereq_existsData_B d = eon_Prereq_init_existsData(p);
        eon_Prereq_existsData_set_type(d, 28);
        eon_Prereq_existsData_set_value(d, v6, 16);
        break;
    }
    case 2:
        eon_Prereq_notExists_set_type(eon_Prereq_init_notExists(p), 15);
        break;
    case 3:
        eon_Prereq_set_nameInUse(p);
        break;
    case 4:
        eon_Prereq_set_notNameInUse(p);
        break;
    }
}

static void check_prereq(struct capnp_msg *m, int which)
{
    eon_Prereq_R p = eon_Prereq_read_root(m);
    static const char *names[] = {"a.example.org", "b.example.org", "c.example.org",
                                  "d.example.org", "e.example.org"};
    CHECK(text_is(eon_Prereq_get_name(p), names[which]));
    static const enum eon_Prereq_which w[] = {eon_Prereq_exists, eon_Prereq_existsData,
                                              eon_Prereq_notExists, eon_Prereq_nameInUse,
                                              eon_Prereq_notNameInUse};
    CHECK(eon_Prereq_which(p) == w[which]);
    if (which == 0) CHECK(eon_Prereq_exists_get_type(eon_Prereq_get_exists(p)) == 1);
    if (which == 1) {
        CHECK(eon_Prereq_existsData_get_type(eon_Prereq_get_existsData(p)) == 28);
        CHECK(data_is(eon_Prereq_existsData_get_value(eon_Prereq_get_existsData(p)), v6, 16));
    }
    if (which == 2) CHECK(eon_Prereq_notExists_get_type(eon_Prereq_get_notExists(p)) == 15);
}

static void build_update(struct capnp_builder *b, int which)
{
    eon_Update_B u = eon_Update_new_root(b);
    switch (which) {
    case 0: {
        eon_Update_set_name(u, T("www.example.org"));
        eon_Update_add_B a = eon_Update_init_add(u);
        eon_Update_add_set_type(a, 1);
        eon_Update_add_set_value(a, v4, 4);
        eon_Update_add_set_ttl(a, 3600);
        break;
    }
    case 1:
        eon_Update_set_name(u, T("old.example.org"));
        eon_Update_remove_set_type(eon_Update_init_remove(u), 16);
        break;
    case 2:
        eon_Update_set_name(u, T("gone.example.org"));
        eon_Update_set_removeAll(u);
        break;
    case 3: {
        eon_Update_set_name(u, T("x.example.org"));
        eon_Update_removeSingle_B r = eon_Update_init_removeSingle(u);
        eon_Update_removeSingle_set_type(r, 1);
        eon_Update_removeSingle_set_value(r, v4b, 4);
        break;
    }
    }
}

static void check_update(struct capnp_msg *m, int which)
{
    eon_Update_R u = eon_Update_read_root(m);
    switch (which) {
    case 0:
        CHECK(text_is(eon_Update_get_name(u), "www.example.org"));
        CHECK(eon_Update_which(u) == eon_Update_add);
        CHECK(eon_Update_add_get_type(eon_Update_get_add(u)) == 1);
        CHECK(data_is(eon_Update_add_get_value(eon_Update_get_add(u)), v4, 4));
        CHECK(eon_Update_add_get_ttl(eon_Update_get_add(u)) == 3600);
        break;
    case 1:
        CHECK(eon_Update_which(u) == eon_Update_remove);
        CHECK(eon_Update_remove_get_type(eon_Update_get_remove(u)) == 16);
        break;
    case 2:
        CHECK(text_is(eon_Update_get_name(u), "gone.example.org"));
        CHECK(eon_Update_which(u) == eon_Update_removeAll);
        break;
    case 3:
        CHECK(eon_Update_which(u) == eon_Update_removeSingle);
        CHECK(data_is(eon_Update_removeSingle_get_value(eon_Update_get_removeSingle(u)), v4b, 4));
        break;
    }
}

/* --------------------------------------------------------------- store */
static void build_store(struct capnp_builder *b, int which)
{
    if (which == 0) {
        store_SavedDomain_B d = store_SavedDomain_new_root(b);
        store_SavedDomain_set_name(d, T("example.org"));
        store_SavedDomain_set_primary(d, T("ns1.example.org"));
    } else if (which == 1) {
        store_SavedSecondary_set_name(store_SavedSecondary_new_root(b), T("example.org"));
    } else if (which == 2) {
        store_SavedDomain_B d = store_SavedService_init_domain(store_SavedService_new_root(b));
        store_SavedDomain_set_name(d, T("example.org"));
        store_SavedDomain_set_primary(d, T("p"));
    } else {
        store_SavedSecondary_set_name(
            store_SavedService_init_secondary(store_SavedService_new_root(b)),
            T("sec.example.org"));
    }
}

static void check_store(struct capnp_msg *m, int which)
{
    if (which == 0) {
        store_SavedDomain_R d = store_SavedDomain_read_root(m);
        CHECK(text_is(store_SavedDomain_get_name(d), "example.org"));
        CHECK(text_is(store_SavedDomain_get_primary(d), "ns1.example.org"));
    } else if (which == 1) {
        CHECK(text_is(store_SavedSecondary_get_name(store_SavedSecondary_read_root(m)),
                      "example.org"));
    } else if (which == 2) {
        store_SavedService_R s = store_SavedService_read_root(m);
        CHECK(store_SavedService_which(s) == store_SavedService_domain);
        CHECK(text_is(store_SavedDomain_get_primary(store_SavedService_get_domain(s)), "p"));
    } else {
        store_SavedService_R s = store_SavedService_read_root(m);
        CHECK(store_SavedService_which(s) == store_SavedService_secondary);
        CHECK(text_is(store_SavedSecondary_get_name(store_SavedService_get_secondary(s)),
                      "sec.example.org"));
    }
}

static void build_certreq_none(struct capnp_builder *b)
{
    eon_CertReq_set_none(eon_CertReq_new_root(b));
}
static void check_certreq_none(struct capnp_msg *m)
{
    CHECK(eon_CertReq_which(eon_CertReq_read_root(m)) == eon_CertReq_none);
}

/* ----------------------------------------------------------------- rpc */
static void build_rpc(struct capnp_builder *b, int which)
{
    rpc_Message_B msg = rpc_Message_new_root(b);
    if (which == 0) {
        rpc_Call_B c = rpc_Message_init_call(msg);
        rpc_Call_set_questionId(c, 1);
        rpc_MessageTarget_set_importedCap(rpc_Call_init_target(c), 5);
        rpc_Call_set_interfaceId(c, eon_Domain_ID);
        rpc_Call_set_methodId(c, eon_Domain_update_ORDINAL);
        rpc_CapDescriptor_LB t = rpc_Payload_init_capTable(rpc_Call_init_params(c), 4);
        rpc_CapDescriptor_set_senderHosted(rpc_CapDescriptor_LB_at(t, 0), 3);
        rpc_CapDescriptor_set_receiverHosted(rpc_CapDescriptor_LB_at(t, 1), 7);
        rpc_PromisedAnswer_B pa =
            rpc_CapDescriptor_init_receiverAnswer(rpc_CapDescriptor_LB_at(t, 2));
        rpc_PromisedAnswer_set_questionId(pa, 4);
        rpc_PromisedAnswer_Op_LB ops = rpc_PromisedAnswer_init_transform(pa, 2);
        rpc_PromisedAnswer_Op_set_noop(rpc_PromisedAnswer_Op_LB_at(ops, 0));
        rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_LB_at(ops, 1), 1);
        rpc_CapDescriptor_set_senderPromise(rpc_CapDescriptor_LB_at(t, 3), 9);
        rpc_Call_sendResultsTo_set_caller(rpc_Call_init_sendResultsTo(c));
        rpc_Call_set_allowThirdPartyTailCall(c, true);
    } else if (which == 1) {
        rpc_Return_B r = rpc_Message_init_return(msg);
        rpc_Return_set_answerId(r, 1);
        rpc_Return_set_releaseParamCaps(r, false);
        rpc_Exception_B e = rpc_Return_init_exception(r);
        rpc_Exception_set_reason(e, T("boom"));
        rpc_Exception_set_type(e, rpc_Exception_Type_overloaded);
    } else {
        rpc_Bootstrap_B bs = rpc_Message_init_bootstrap(msg);
        rpc_Bootstrap_set_questionId(bs, 9);
        if (which == 3)
            capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(bs), T("legacy-object"));
    }
}

static void check_rpc(struct capnp_msg *m, int which)
{
    rpc_Message_R msg = rpc_Message_read_root(m);
    if (which == 0) {
        CHECK(rpc_Message_which(msg) == rpc_Message_call);
        rpc_Call_R c = rpc_Message_get_call(msg);
        CHECK(rpc_Call_get_questionId(c) == 1);
        CHECK(rpc_MessageTarget_which(rpc_Call_get_target(c)) == rpc_MessageTarget_importedCap);
        CHECK(rpc_MessageTarget_get_importedCap(rpc_Call_get_target(c)) == 5);
        CHECK(rpc_Call_get_interfaceId(c) == eon_Domain_ID);
        CHECK(rpc_Call_get_methodId(c) == 2);
        rpc_CapDescriptor_LR t = rpc_Payload_get_capTable(rpc_Call_get_params(c));
        CHECK(rpc_CapDescriptor_LR_len(t) == 4);
        rpc_CapDescriptor_R d0 = rpc_CapDescriptor_LR_at(t, 0);
        CHECK(rpc_CapDescriptor_which(d0) == rpc_CapDescriptor_senderHosted);
        CHECK(rpc_CapDescriptor_get_senderHosted(d0) == 3);
        CHECK(rpc_CapDescriptor_get_attachedFd(d0) == 255);
        CHECK(rpc_CapDescriptor_get_receiverHosted(rpc_CapDescriptor_LR_at(t, 1)) == 7);
        rpc_PromisedAnswer_R pa =
            rpc_CapDescriptor_get_receiverAnswer(rpc_CapDescriptor_LR_at(t, 2));
        CHECK(rpc_PromisedAnswer_get_questionId(pa) == 4);
        rpc_PromisedAnswer_Op_LR ops = rpc_PromisedAnswer_get_transform(pa);
        CHECK(rpc_PromisedAnswer_Op_LR_len(ops) == 2);
        CHECK(rpc_PromisedAnswer_Op_which(rpc_PromisedAnswer_Op_LR_at(ops, 0)) ==
              rpc_PromisedAnswer_Op_noop);
        CHECK(rpc_PromisedAnswer_Op_get_getPointerField(rpc_PromisedAnswer_Op_LR_at(ops, 1)) == 1);
        CHECK(rpc_CapDescriptor_which(rpc_CapDescriptor_LR_at(t, 3)) ==
              rpc_CapDescriptor_senderPromise);
        CHECK(rpc_Call_sendResultsTo_which(rpc_Call_get_sendResultsTo(c)) ==
              rpc_Call_sendResultsTo_caller);
        CHECK(rpc_Call_get_allowThirdPartyTailCall(c));
    } else if (which == 1) {
        CHECK(rpc_Message_which(msg) == rpc_Message_return);
        rpc_Return_R r = rpc_Message_get_return(msg);
        CHECK(rpc_Return_get_answerId(r) == 1);
        CHECK(rpc_Return_get_releaseParamCaps(r) == false);
        CHECK(rpc_Return_which(r) == rpc_Return_exception);
        CHECK(text_is(rpc_Exception_get_reason(rpc_Return_get_exception(r)), "boom"));
        CHECK(rpc_Exception_get_type(rpc_Return_get_exception(r)) == rpc_Exception_Type_overloaded);
        CHECK(strcmp(rpc_Exception_Type_name(rpc_Exception_get_type(rpc_Return_get_exception(r))),
                     "overloaded") == 0);
    } else {
        CHECK(rpc_Message_which(msg) == rpc_Message_bootstrap);
        rpc_Bootstrap_R bs = rpc_Message_get_bootstrap(msg);
        CHECK(rpc_Bootstrap_get_questionId(bs) == 9);
        if (which == 3)
            CHECK(text_is(capnp_ptr_r_text(rpc_Bootstrap_get_deprecatedObjectId(bs)),
                          "legacy-object"));
        else
            CHECK(!rpc_Bootstrap_has_deprecatedObjectId(bs));
    }
}

/* --------------------------------------------------------------- cases */
struct icase {
    const char *name;
    void (*build)(struct capnp_builder *, int);
    void (*check)(struct capnp_msg *, int);
    int arg;
};
static void b_all(struct capnp_builder *b, int a)
{
    a ? build_all_empty(b) : build_all_full(b);
}
static void c_all(struct capnp_msg *m, int a)
{
    a ? check_all_empty(m) : check_all_full(m);
}
static void b_cr(struct capnp_builder *b, int a)
{
    (void)a, build_certreq_none(b);
}
static void c_cr(struct capnp_msg *m, int a)
{
    (void)a, check_certreq_none(m);
}

static const struct icase cases[] = {
    {"all_full", b_all, c_all, 0},
    {"all_empty", b_all, c_all, 1},
    {"defaults_unset", build_defaults, check_defaults, 0},
    {"defaults_explicit", build_defaults, check_defaults, 1},
    {"prereq_exists", build_prereq, check_prereq, 0},
    {"prereq_existsdata", build_prereq, check_prereq, 1},
    {"prereq_notexists", build_prereq, check_prereq, 2},
    {"prereq_nameinuse", build_prereq, check_prereq, 3},
    {"prereq_notnameinuse", build_prereq, check_prereq, 4},
    {"update_add", build_update, check_update, 0},
    {"update_remove", build_update, check_update, 1},
    {"update_removeall", build_update, check_update, 2},
    {"update_removesingle", build_update, check_update, 3},
    {"certreq_none", b_cr, c_cr, 0},
    {"saveddomain", build_store, check_store, 0},
    {"savedsecondary", build_store, check_store, 1},
    {"savedservice_domain", build_store, check_store, 2},
    {"savedservice_secondary", build_store, check_store, 3},
    {"rpc_call", build_rpc, check_rpc, 0},
    {"rpc_return_exception", build_rpc, check_rpc, 1},
    {"rpc_bootstrap", build_rpc, check_rpc, 2},
    {"rpc_bootstrap_objid", build_rpc, check_rpc, 3}, /* data/NAME.bin: written by libcapnp */
};

/* interop pack|unpack: stdin to stdout. */
static int packing(bool pack)
{
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, stdin);
    struct err e;
    if (pack) {
        size_t cap = capnp_pack_bound(len);
        uint8_t *out = malloc(cap);
        size_t n = capnp_pack(buf, len, out, cap);
        if (n == 0 && len) return 1;
        fwrite(out, 1, n, stdout);
        free(out);
        return 0;
    }
    uint8_t *out;
    size_t n;
    if (capnp_unpack(buf, len, 1 << 24, &out, &n, &e) < 0) {
        fprintf(stderr, "interop: %s\n", e.msg);
        return 1;
    }
    fwrite(out, 1, n, stdout);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "pack") == 0 || strcmp(argv[1], "unpack") == 0))
        return packing(strcmp(argv[1], "pack") == 0);
    if (argc != 3) {
        fprintf(stderr, "usage: interop build|check CASE\n");
        return 2;
    }
    const struct icase *c = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, argv[2]) == 0) c = &cases[i];
    if (!c) {
        fprintf(stderr, "interop: unknown case %s\n", argv[2]);
        return 2;
    }
    struct err e;
    if (strcmp(argv[1], "build") == 0) {
        struct capnp_builder b;
        capnp_builder_init(&b, 0);
        c->build(&b, c->arg);
        uint8_t *out;
        size_t len;
        if (capnp_builder_serialize(&b, &out, &len, &e) < 0) {
            fprintf(stderr, "interop: %s\n", e.msg);
            return 1;
        }
        fwrite(out, 1, len, stdout);
        free(out);
        capnp_builder_free(&b);
        return 0;
    }
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, stdin);
    struct capnp_msg m;
    if (capnp_msg_init_bytes(&m, buf, len, &e) < 0) {
        fprintf(stderr, "interop: %s\n", e.msg);
        return 1;
    }
    c->check(&m, c->arg);
    if (capnp_msg_error(&m)) {
        fprintf(stderr, "interop: %s\n", capnp_msg_error(&m));
        failures++;
    }
    capnp_msg_free(&m);
    return failures ? 1 : 0;
}
