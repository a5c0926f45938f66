/*
 * rpc_world: the set-up the vat's end-to-end unit tests share (test_rpc.c,
 * test_rpc_conns.c): a server vat serving rpc_test_service.h's object at a
 * sturdy ref and a client vat, on the default loop over loopback TCP (TLS
 * or plain), and calls with one text parameter.
 */
#ifndef RPC_WORLD_H
#define RPC_WORLD_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "rpc_test_service.h"

struct world {
    uv_loop_t *loop;
    struct rpc_vat *server, *client;
    struct test_obj *root;
    int destroyed;
    uint8_t id[32];
    char *uri;
    char dir[64];
};

static inline struct world *world_new(bool tls, const struct rpc_vat_config *extra)
{
    struct world *w = calloc(1, sizeof *w);
    struct err e;
    w->loop = uv_default_loop();
    snprintf(w->dir, sizeof w->dir, "/tmp/ceon-rpc-test-XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    char keyfile[128];
    snprintf(keyfile, sizeof keyfile, "%s/key.pem", w->dir);
    struct rpc_vat_config cfg = {0};
    if (extra) cfg = *extra;
    cfg.secret_key_file = tls ? keyfile : NULL;
    cfg.disable_tls = !tls;
    w->server = rpc_vat_new(w->loop, &cfg, &e);
    assert_non_null(w->server);
    assert_int_equal(rpc_vat_listen(w->server, "tcp:127.0.0.1:0", &e), 0);
    char pub[64];
    snprintf(pub, sizeof pub, "tcp:127.0.0.1:%d", rpc_vat_bound_port(w->server));
    assert_int_equal(rpc_vat_set_public_address(w->server, pub, &e), 0);
    w->client = rpc_vat_new(w->loop, NULL, &e);
    assert_non_null(w->client);
    w->root = test_obj_new("example.org", &w->destroyed);
    assert_int_equal(sturdy_random_id(w->id, &e), 0);
    assert_int_equal(rpc_vat_add_service(w->server, w->id, 32, &w->root->o.cap, &e), 0);
    w->uri = rpc_vat_sturdy_uri(w->server, w->id, 32);
    rpc_object_set_sturdy_uri(&w->root->o, w->uri);
    return w;
}

static inline void world_free(struct world *w)
{
    rpc_cap_unref(&w->root->o.cap);
    rpc_vat_free(w->client);
    rpc_vat_free(w->server);
    uv_run(w->loop, UV_RUN_DEFAULT);
    free(w->uri);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", w->dir);
    assert_int_equal(system(cmd), 0);
    free(w);
}

static inline struct rpc_req *text_req(struct rpc_cap *cap, uint16_t method, const char *s)
{
    struct rpc_req *req = rpc_req_new(cap, TEST_IFACE, method);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    if (s) capnp_ptr_b_set_text(capnp_struct_b_ptr(p, 0), s, (uint32_t)strlen(s));
    return req;
}

static inline char *text_call(struct rpc_cap *cap, uint16_t method, const char *s, struct err *e)
{
    struct rpc_response *r = rpc_call_wait(text_req(cap, method, s), 5000, e);
    if (!r) return NULL;
    uint32_t n;
    const char *t = p0_text(r->content, &n);
    char *out = strndup(t, n);
    rpc_response_free(r);
    return out;
}

static inline void expect_text(struct rpc_cap *cap, uint16_t method, const char *arg,
                               const char *want)
{
    struct err e = {{0}};
    char *got = text_call(cap, method, arg, &e);
    if (!got) fail_msg("call failed: %s", e.msg);
    assert_string_equal(got, want);
    free(got);
}

static inline void run_until_quiet(struct world *w)
{
    for (int i = 0; i < 50; i++)
        uv_run(w->loop, UV_RUN_NOWAIT);
}
#endif
