/* Unit tests for Domain.update params <-> native dns prereqs/updates:
 * a round trip of every kind, and hostile params. */
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
        cmocka_unit_test(round_trip),
        cmocka_unit_test(hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
