/* Unit tests for Domain.update params <-> native dns prereqs/updates:
 * a fixed message from the reference encoder decoded and re-encoded, a
 * round trip of every kind, and hostile params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/name.h"
#include "eon/convert.h"
#include "eon/spec.h"
#include "eon/specenc.h"

static void rec(const char *arg, bool prereq, struct eon_rec *r)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", arg);
    struct eon_spec s;
    struct err e;
    if (eon_spec_parse(buf, prereq, &s, &e) < 0 || eon_spec_encode(&s, r, &e) < 0)
        fail_msg("%s: %s", arg, e.msg);
}

static int decode_built(struct capnp_builder *b, struct eon_update_req *req, struct err *e)
{
    struct capnp_msg m;
    assert_int_equal(capnp_msg_from_builder(&m, b, e), 0);
    int rc = eon_update_decode(eon_Domain_update_Params_read_root(&m), req, e);
    capnp_msg_free(&m);
    return rc;
}

static bool owner_is(const uint8_t *owner, const char *text)
{
    uint8_t w[DNS_NAME_MAX];
    struct err e;
    static const uint8_t root[1] = {0};
    return dns_name_from_text(text, root, w, &e) > 0 && dns_name_equal(owner, w);
}

/* Domain.update params with one prerequisite or update of every kind, as
 * the reference implementation (capnp encode, Cap'n Proto 0.9.2) frames
 * them. capnp cannot name Domain.update$Params, so it was given a struct
 * with the same layout (the fields in ordinal order):
 *   struct Params { prereqs @0 :List(Eon.Prereq); updates @1 :List(Eon.Update); }
 * and this text:
 *   (prereqs = [(name = "a.example.org", exists = (type = 1)),
 *     (name = "a.example.org", existsData = (type = 1, value = "\xc0\x00\x02\x01")),
 *     (name = "b.example.org", notExists = (type = 28)),
 *     (name = "c.example.org", nameInUse = void),
 *     (name = "d.example.org", notNameInUse = void)],
 *    updates = [(name = "e.example.org", add = (type = 15,
 *       value = "\x00\x0a\x04mail\x07example\x03org\x00", ttl = 300)),
 *     (name = "f.example.org", remove = (type = 16)),
 *     (name = "g.example.org", removeAll = void),
 *     (name = "h.example.org", removeSingle = (type = 1, value = "\xc0\x00\x02\x02"))])
 * Neither side of convert.c produced or read these bytes, so an encoder and
 * a decoder that are wrong in the same way disagree with them. */
static const uint8_t PARAMS[] = {
    0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x05, 0x00, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x00, 0x6d, 0x00, 0x00, 0x00, 0x87, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x35, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x31, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00,
    0x35, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x31, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x29, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x61, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00,
    0x61, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00,
    0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x63, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x64, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00,
    0x0f, 0x00, 0x00, 0x00, 0x2c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x35, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x39, 0x00, 0x00, 0x00, 0xa2, 0x00, 0x00, 0x00,
    0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x39, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x31, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x29, 0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00,
    0x65, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00,
    0x00, 0x0a, 0x04, 0x6d, 0x61, 0x69, 0x6c, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03,
    0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x67, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0x68, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00,
};

/* The MX value above: preference 10, mail.example.org. */
static const uint8_t MX_RDATA[] = {0,   10,  4,   'm', 'a', 'i', 'l', 7,   'e', 'x',
                                   'a', 'm', 'p', 'l', 'e', 3,   'o', 'r', 'g', 0};

/* The same records as capc hands them to eon_update_encode. */
static const struct eon_rec VEC_P[] = {
    {EON_SPEC_EXISTS, "a.example.org", 1, 0, 0, NULL},
    {EON_SPEC_EXISTS_DATA, "a.example.org", 1, 0, 4, (uint8_t *)"\xc0\x00\x02\x01"},
    {EON_SPEC_NOT_EXISTS, "b.example.org", 28, 0, 0, NULL},
    {EON_SPEC_NAME_IN_USE, "c.example.org", 0, 0, 0, NULL},
    {EON_SPEC_NOT_NAME_IN_USE, "d.example.org", 0, 0, 0, NULL},
};
static const struct eon_rec VEC_U[] = {
    {EON_SPEC_ADD, "e.example.org", 15, 300, sizeof MX_RDATA, (uint8_t *)MX_RDATA},
    {EON_SPEC_REMOVE, "f.example.org", 16, 0, 0, NULL},
    {EON_SPEC_REMOVE_ALL, "g.example.org", 0, 0, 0, NULL},
    {EON_SPEC_REMOVE_SINGLE, "h.example.org", 1, 0, 4, (uint8_t *)"\xc0\x00\x02\x02"},
};

/* Owners as wire names, written out. */
#define W(c) "\1" c "\7example\3org"

static void owner_wire(const uint8_t *owner, const char *wire)
{
    assert_memory_equal(owner, wire, strlen(wire) + 1);
}

/* The reference bytes decode to exactly the values in the text above. */
static void vector_decode(void **state)
{
    (void)state;
    struct capnp_msg m;
    struct err e;
    assert_int_equal(capnp_msg_init_bytes(&m, PARAMS, sizeof PARAMS, &e), 0);
    struct eon_update_req r = {0};
    assert_int_equal(eon_update_decode(eon_Domain_update_Params_read_root(&m), &r, &e), 0);
    assert_null(capnp_msg_error(&m));
    assert_int_equal(r.np, 5);
    assert_int_equal(r.nu, 4);
    const struct {
        enum dns_prereq_kind kind;
        const char *owner;
        uint16_t type, rdlen;
        const char *rdata;
    } wp[] = {{DNS_PREREQ_EXISTS, W("a"), 1, 0, NULL},
              {DNS_PREREQ_EXISTS_DATA, W("a"), 1, 4, "\xc0\x00\x02\x01"},
              {DNS_PREREQ_NOT_EXISTS, W("b"), 28, 0, NULL},
              {DNS_PREREQ_NAME_IN_USE, W("c"), 0, 0, NULL},
              {DNS_PREREQ_NOT_NAME_IN_USE, W("d"), 0, 0, NULL}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.p[i].kind, wp[i].kind);
        owner_wire(r.p[i].owner, wp[i].owner);
        if (wp[i].kind <= DNS_PREREQ_NOT_EXISTS) assert_int_equal(r.p[i].type, wp[i].type);
        assert_int_equal(r.p[i].rdlen, wp[i].rdlen);
        if (wp[i].rdlen) assert_memory_equal(r.p[i].rdata, wp[i].rdata, wp[i].rdlen);
    }
    const struct {
        enum dns_update_kind kind;
        const char *owner;
        uint16_t type;
        uint32_t ttl;
        uint16_t rdlen;
        const void *rdata;
    } wu[] = {{DNS_UPDATE_ADD, W("e"), 15, 300, sizeof MX_RDATA, MX_RDATA},
              {DNS_UPDATE_REMOVE_RRSET, W("f"), 16, 0, 0, NULL},
              {DNS_UPDATE_REMOVE_ALL, W("g"), 0, 0, 0, NULL},
              {DNS_UPDATE_REMOVE_RR, W("h"), 1, 0, 4, "\xc0\x00\x02\x02"}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r.u[i].kind, wu[i].kind);
        owner_wire(r.u[i].owner, wu[i].owner);
        if (wu[i].kind != DNS_UPDATE_REMOVE_ALL) assert_int_equal(r.u[i].type, wu[i].type);
        if (wu[i].kind == DNS_UPDATE_ADD) assert_int_equal(r.u[i].ttl, wu[i].ttl);
        assert_int_equal(r.u[i].rdlen, wu[i].rdlen);
        if (wu[i].rdlen) assert_memory_equal(r.u[i].rdata, wu[i].rdata, wu[i].rdlen);
    }
    eon_update_req_free(&r);
    capnp_msg_free(&m);
}

/* Framed bytes of what the builder holds. */
static void assert_params_bytes(struct capnp_builder *b)
{
    uint8_t *out;
    size_t len;
    struct err e;
    assert_int_equal(capnp_builder_serialize(b, &out, &len, &e), 0);
    assert_int_equal(len, sizeof PARAMS);
    for (size_t i = 0; i < len; i++)
        if (out[i] != PARAMS[i])
            fail_msg("byte %zu (word %zu) is %#04x, the reference has %#04x", i, i / 8, out[i],
                     PARAMS[i]);
    free(out);
}

/* Encoding the same records gives the reference's bytes: same layout, same
 * allocation order (the C++ builder's: each element's pointers in field
 * order). */
static void vector_encode(void **state)
{
    (void)state;
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    eon_update_encode(eon_Domain_update_Params_new_root(&b), VEC_P, 5, VEC_U, 4);
    assert_null(capnp_builder_error(&b));
    assert_params_bytes(&b);
    capnp_builder_free(&b);
}

static void round_trip(void **state)
{
    (void)state;
    const char *pre[] = {"exists|a.example.org|A", "exists|a.example.org|A|192.0.2.1",
                         "not-exists|b.example.org|AAAA", "name-inuse|c.example.org",
                         "not-name-inuse|d.example.org"};
    const char *upd[] = {"add|e.example.org|MX|10 mail.example.org.|300",
                         "remove|f.example.org|TXT", "remove|g.example.org",
                         "remove|h.example.org|A|192.0.2.2"};
    struct eon_rec p[5], u[4];
    for (int i = 0; i < 5; i++)
        rec(pre[i], true, &p[i]);
    for (int i = 0; i < 4; i++)
        rec(upd[i], false, &u[i]);
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    eon_update_encode(eon_Domain_update_Params_new_root(&b), p, 5, u, 4);
    /* capc's text forms describe the reference message's records */
    assert_params_bytes(&b);
    struct eon_update_req req = {0};
    struct err e;
    assert_int_equal(decode_built(&b, &req, &e), 0);
    assert_int_equal(req.np, 5);
    assert_int_equal(req.nu, 4);
    assert_int_equal(req.p[0].kind, DNS_PREREQ_EXISTS);
    assert_int_equal(req.p[0].type, 1);
    assert_true(owner_is(req.p[0].owner, "a.example.org."));
    assert_int_equal(req.p[1].kind, DNS_PREREQ_EXISTS_DATA);
    assert_int_equal(req.p[1].rdlen, 4);
    assert_memory_equal(req.p[1].rdata, "\xc0\x00\x02\x01", 4);
    assert_int_equal(req.p[2].kind, DNS_PREREQ_NOT_EXISTS);
    assert_int_equal(req.p[2].type, 28);
    assert_int_equal(req.p[3].kind, DNS_PREREQ_NAME_IN_USE);
    assert_true(owner_is(req.p[3].owner, "c.example.org."));
    assert_int_equal(req.p[4].kind, DNS_PREREQ_NOT_NAME_IN_USE);
    assert_int_equal(req.u[0].kind, DNS_UPDATE_ADD);
    assert_int_equal(req.u[0].type, 15);
    assert_int_equal(req.u[0].ttl, 300);
    assert_int_equal(req.u[0].rdlen, u[0].rdlen);
    assert_memory_equal(req.u[0].rdata, u[0].rdata, u[0].rdlen);
    assert_int_equal(req.u[1].kind, DNS_UPDATE_REMOVE_RRSET);
    assert_int_equal(req.u[1].type, 16);
    assert_int_equal(req.u[2].kind, DNS_UPDATE_REMOVE_ALL);
    assert_true(owner_is(req.u[2].owner, "g.example.org."));
    assert_int_equal(req.u[3].kind, DNS_UPDATE_REMOVE_RR);
    assert_int_equal(req.u[3].rdlen, 4);
    eon_update_req_free(&req);
    capnp_builder_free(&b);
    for (int i = 0; i < 5; i++)
        eon_rec_free(&p[i]);
    for (int i = 0; i < 4; i++)
        eon_rec_free(&u[i]);
}

/* A one-update params message to tamper with. */
static eon_Update_B one_update(struct capnp_builder *b)
{
    capnp_builder_init(b, 0);
    eon_Domain_update_Params_B params = eon_Domain_update_Params_new_root(b);
    eon_Domain_update_Params_init_prereqs(params, 0);
    return eon_Update_LB_at(eon_Domain_update_Params_init_updates(params, 1), 0);
}

static void hostile(void **state)
{
    (void)state;
    struct capnp_builder b;
    struct eon_update_req req = {0};
    struct err e;

    eon_Update_B u = one_update(&b);
    eon_Update_set_name(u, "a\0b.example.org", 15);
    eon_Update_set_removeAll(u);
    assert_int_equal(decode_built(&b, &req, &e), -1);
    assert_non_null(strstr(e.msg, "update 1: invalid name: contains a NUL byte"));
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    u = one_update(&b);
    eon_Update_set_name(u, "a..b", 4);
    eon_Update_set_removeAll(u);
    assert_int_equal(decode_built(&b, &req, &e), -1);
    assert_non_null(strstr(e.msg, "update 1: invalid name 'a..b'"));
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    /* a union discriminant from a newer schema */
    u = one_update(&b);
    eon_Update_set_name(u, "x.example.org", 13);
    capnp_struct_b_set_u16(u.b, 4, 9);
    assert_int_equal(decode_built(&b, &req, &e), -1);
    assert_non_null(strstr(e.msg, "update 1: unknown kind 9"));
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    /* a value too long for any RDATA */
    u = one_update(&b);
    eon_Update_set_name(u, "x.example.org", 13);
    eon_Update_add_B a = eon_Update_init_add(u);
    eon_Update_add_set_type(a, 16);
    static uint8_t big[70000];
    eon_Update_add_set_value(a, big, sizeof big);
    assert_int_equal(decode_built(&b, &req, &e), -1);
    assert_non_null(strstr(e.msg, "more than 65535"));
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    /* the original's 4096-byte value buffer is passed on whole: the engine
     * takes the RDATA from its front */
    u = one_update(&b);
    eon_Update_set_name(u, "x.example.org", 13);
    a = eon_Update_init_add(u);
    eon_Update_add_set_type(a, 1);
    eon_Update_add_set_ttl(a, -1);
    static uint8_t buf4k[4096] = {192, 0, 2, 7};
    eon_Update_add_set_value(a, buf4k, sizeof buf4k);
    assert_int_equal(decode_built(&b, &req, &e), 0);
    assert_int_equal(req.u[0].rdlen, 4096);
    assert_int_equal(req.u[0].ttl, 0xffffffffu); /* the engine refuses it */
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    /* list amplification: many empty elements cost a few bytes */
    capnp_builder_init(&b, 0);
    eon_Domain_update_Params_init_updates(eon_Domain_update_Params_new_root(&b),
                                          EON_UPDATE_MAX_ITEMS + 1);
    assert_int_equal(decode_built(&b, &req, &e), -1);
    assert_non_null(strstr(e.msg, "too many prerequisites and updates (10001, at most 10000)"));
    eon_update_req_free(&req);
    capnp_builder_free(&b);

    /* empty lists are a valid (no-op) update */
    capnp_builder_init(&b, 0);
    eon_Domain_update_Params_new_root(&b);
    assert_int_equal(decode_built(&b, &req, &e), 0);
    assert_int_equal(req.np + req.nu, 0);
    eon_update_req_free(&req);
    capnp_builder_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vector_decode),
        cmocka_unit_test(vector_encode),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
