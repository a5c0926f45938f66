/* The vat end to end inside one process: a server vat and a client vat
 * on the default loop, over loopback TCP (plain and TLS) and a unix
 * socket: calls, pipelining, callbacks, ordering, export limits, sturdy
 * refs that do not resolve. Connection limits and timeouts are in
 * test_rpc_conns.c; the set-up both use is rpc_world.h. */
#include "rpc_world.h"

#include <sys/stat.h>
#include <unistd.h>

#include "rpc/rpc_int.h"
#include "rpc/tls.h"

static void test_plain_and_pipelined(void **state)
{
    (void)state;
    struct world *w = world_new(false, NULL);
    struct err e;
    assert_non_null(strstr(w->uri, "capnp://insecure@127.0.0.1:"));
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    assert_non_null(root);
    expect_text(root, 0, "hello", "hello");
    expect_text(root, 2, NULL, "example.org");

    /* child("www") then getName on the result before it is back. */
    struct rpc_promise *p = rpc_req_send(text_req(root, 1, "www"), NULL, NULL);
    uint16_t path[] = {0};
    struct rpc_cap *child = rpc_promise_cap(p, path, 1);
    struct rpc_promise *p2 = rpc_req_send(text_req(child, 2, NULL), NULL, NULL);
    struct rpc_response *r2 = rpc_promise_wait(p2, 5000, &e);
    if (!r2) fail_msg("%s", e.msg);
    uint32_t n;
    const char *t = p0_text(r2->content, &n);
    assert_int_equal(n, strlen("www.example.org"));
    assert_memory_equal(t, "www.example.org", n);
    rpc_response_free(r2);
    rpc_promise_unref(p2);

    /* Persistent.save on the returned capability. */
    char *saved = rpc_save_wait(child, 5000, &e);
    if (!saved) fail_msg("%s", e.msg);
    assert_string_equal(saved, "capnp://insecure@127.0.0.1:1/www.example.org");
    free(saved);
    char *root_saved = rpc_save_wait(root, 5000, &e);
    assert_non_null(root_saved);
    assert_string_equal(root_saved, w->uri);
    free(root_saved);

    /* The response's own cap works too, and is the same import. */
    struct rpc_response *r1 = rpc_promise_wait(p, 5000, &e);
    assert_non_null(r1);
    struct rpc_cap *c1 = rpc_response_cap(r1, 0);
    assert_int_equal(c1->kind, RPC_CAP_IMPORT);
    expect_text(c1, 2, NULL, "www.example.org");
    rpc_cap_unref(c1);
    rpc_response_free(r1);
    rpc_promise_unref(p);
    rpc_cap_unref(child);

    /* Everything released: the server forgets its exports and the child. */
    rpc_cap_unref(root);
    run_until_quiet(w);
    struct rpc_stats s;
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.exports, 0);
    assert_int_equal(s.answers, 0);
    assert_int_equal(w->destroyed, 1);
    rpc_vat_stats(w->client, &s);
    assert_int_equal(s.imports, 0);
    assert_int_equal(s.questions, 0);
    world_free(w);
}

static int notified;
static char notified_text[64], seen_order[64];

static void cb_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    (void)self;
    uint32_t n;
    const char *s = p0_text(rpc_call_params(call), &n);
    snprintf(notified_text, sizeof notified_text, "%.*s", (int)n, s);
    size_t len = strlen(seen_order);
    if (n && len + 1 < sizeof seen_order) seen_order[len] = s[0];
    notified++;
    capnp_ptr_b_init_struct(rpc_call_results(call), 0, 0);
    rpc_call_return(call);
}

static void cb_destroy(struct rpc_object *self)
{
    free(self);
}
static const struct rpc_object_vtbl cb_vt = {cb_dispatch, cb_destroy};

static void test_callback_tls(void **state)
{
    (void)state;
    struct world *w = world_new(true, NULL);
    struct err e;
    assert_non_null(strstr(w->uri, "capnp://sha-256:"));
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    expect_text(root, 2, NULL, "example.org");

    struct rpc_object *cb = calloc(1, sizeof *cb);
    rpc_object_init(cb, &cb_vt);
    struct rpc_req *req = rpc_req_new(root, TEST_IFACE, 3);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(p, 0), rpc_req_add_cap(req, &cb->cap));
    rpc_cap_unref(&cb->cap);
    struct rpc_response *r = rpc_call_wait(req, 5000, &e);
    if (!r) fail_msg("%s", e.msg);
    rpc_response_free(r);
    assert_int_equal(notified, 1);
    assert_string_equal(notified_text, "example.org");

    /* The asynchronous answer. */
    expect_text(root, 4, "later", "later");
    rpc_cap_unref(root);
    run_until_quiet(w);
    struct rpc_stats s;
    rpc_vat_stats(w->client, &s);
    assert_int_equal(s.exports, 0); /* the callback was released */
    world_free(w);
}

static void test_reflection_order(void **state)
{
    (void)state;
    /* Our own callback comes back from the server (identity); calls on
     * the promise before and after it resolves go out and back through
     * the server and arrive in order. */
    struct world *w = world_new(false, NULL);
    struct err e;
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    struct rpc_object *cb = calloc(1, sizeof *cb);
    rpc_object_init(cb, &cb_vt);
    struct rpc_req *req = rpc_req_new(root, TEST_IFACE, 6);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(p, 0), rpc_req_add_cap(req, &cb->cap));
    struct rpc_promise *ip = rpc_req_send(req, NULL, NULL);
    uint16_t path[] = {0};
    struct rpc_cap *pc = rpc_promise_cap(ip, path, 1);
    notified = 0;
    seen_order[0] = 0;
    struct rpc_promise *ns[6];
    for (int i = 0; i < 6; i++) {
        char t[2] = {(char)('1' + i), 0};
        struct rpc_req *n = rpc_req_new(pc, CB_IFACE, 0);
        capnp_struct_b np = capnp_ptr_b_init_struct(rpc_req_params(n), 0, 1);
        capnp_ptr_b_set_text(capnp_struct_b_ptr(np, 0), t, 1);
        ns[i] = rpc_req_send(n, NULL, NULL);
        if (i == 2) {
            struct rpc_response *r = rpc_promise_wait(ip, 5000, &e);
            assert_non_null(r);
            /* The result is our own object again. */
            struct rpc_cap *back = rpc_response_cap(r, 0);
            assert_ptr_equal(back, &cb->cap);
            rpc_cap_unref(back);
            rpc_response_free(r);
        }
    }
    for (int i = 0; i < 6; i++) {
        struct rpc_response *r = rpc_promise_wait(ns[i], 5000, &e);
        if (!r) fail_msg("%s", e.msg);
        rpc_response_free(r);
        rpc_promise_unref(ns[i]);
    }
    assert_int_equal(notified, 6);
    assert_string_equal(seen_order, "123456");
    rpc_cap_unref(pc);
    rpc_promise_unref(ip);
    rpc_cap_unref(&cb->cap);
    rpc_cap_unref(root);
    run_until_quiet(w);
    struct rpc_stats s;
    rpc_vat_stats(w->client, &s);
    assert_int_equal(s.exports, 0);
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.imports, 0);
    world_free(w);
}

static void test_export_limit(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_exports = 8};
    struct world *w = world_new(false, &cfg);
    struct err e;
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    struct rpc_response *kept[12];
    int ok = 0;
    for (int i = 0; i < 12; i++) {
        kept[i] = rpc_call_wait(text_req(root, 1, "c"), 5000, &e);
        if (kept[i])
            ok++;
        else
            assert_non_null(strstr(e.msg, "too many capabilities"));
    }
    assert_true(ok >= 8 && ok < 12);
    for (int i = 0; i < 12; i++)
        rpc_response_free(kept[i]);
    /* Released: calls work again. */
    run_until_quiet(w);
    struct rpc_response *r = rpc_call_wait(text_req(root, 1, "c"), 5000, &e);
    assert_non_null(r);
    rpc_response_free(r);
    rpc_cap_unref(root);
    world_free(w);
}

static void test_wrong_fingerprint_and_unknown_id(void **state)
{
    (void)state;
    struct world *w = world_new(true, NULL);
    struct err e;
    struct sturdy_ref ref;
    assert_int_equal(sturdy_parse(w->uri, &ref, &e), 0);
    char good[64];
    strcpy(good, ref.fingerprint);
    /* Unknown ID */
    ref.id[0] ^= 1;
    struct rpc_cap *bad = rpc_vat_restore(w->client, &ref);
    char *t = text_call(bad, 2, NULL, &e);
    assert_null(t);
    assert_string_equal(e.msg, RPC_UNKNOWN_SERVICE);
    rpc_cap_unref(bad);
    /* Wrong key */
    ref.id[0] ^= 1;
    ref.fingerprint[0] = ref.fingerprint[0] == 'A' ? 'B' : 'A';
    bad = rpc_vat_restore(w->client, &ref);
    t = text_call(bad, 2, NULL, &e);
    assert_null(t);
    char want[200];
    snprintf(want, sizeof want, "server key fingerprint mismatch (expected %s, got %s)",
             ref.fingerprint, good);
    assert_string_equal(e.msg, want);
    rpc_cap_unref(bad);
    world_free(w);
}

static void test_connection_refused(void **state)
{
    (void)state;
    struct world *w = world_new(false, NULL);
    struct err e;
    struct rpc_cap *c = rpc_vat_restore_uri(w->client, "capnp://insecure@127.0.0.1:1/AAAA", &e);
    char *t = text_call(c, 2, NULL, &e);
    assert_null(t);
    assert_string_equal(e.msg, "connection refused (is capd running at 127.0.0.1:1?)");
    rpc_cap_unref(c);
    world_free(w);
}

static void test_ordering(void **state)
{
    (void)state;
    /* Calls made on a promise before and after it resolves arrive in
     * the order they were made (E-order). */
    struct world *w = world_new(false, NULL);
    struct err e;
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    struct rpc_promise *p = rpc_req_send(text_req(root, 1, "ctr"), NULL, NULL);
    uint16_t path[] = {0};
    struct rpc_cap *ctr = rpc_promise_cap(p, path, 1);
    struct rpc_promise *ps[40];
    for (int i = 0; i < 40; i++) {
        ps[i] = rpc_req_send(rpc_req_new(ctr, TEST_IFACE, 5), NULL, NULL);
        if (i == 20) /* let the promise resolve in the middle */
            for (int k = 0; k < 20; k++)
                uv_run(w->loop, UV_RUN_NOWAIT);
    }
    for (int i = 0; i < 40; i++) {
        struct rpc_response *r = rpc_promise_wait(ps[i], 5000, &e);
        if (!r) fail_msg("%s", e.msg);
        assert_int_equal(capnp_struct_r_u64(capnp_ptr_r_struct(r->content), 0), (uint64_t)i);
        rpc_response_free(r);
        rpc_promise_unref(ps[i]);
    }
    rpc_response_free(rpc_promise_wait(p, 5000, &e));
    rpc_promise_unref(p);
    rpc_cap_unref(ctr);
    rpc_cap_unref(root);
    world_free(w);
}

static void test_resolver(void **state)
{
    (void)state;
    /* A name goes through the resolver; "localhost" may give ::1 first,
     * where nothing listens, and the next address is tried. */
    struct world *w = world_new(false, NULL);
    struct err e;
    struct sturdy_ref ref;
    assert_int_equal(sturdy_parse(w->uri, &ref, &e), 0);
    strcpy(ref.host, "localhost");
    struct rpc_cap *root = rpc_vat_restore(w->client, &ref);
    expect_text(root, 0, "resolved", "resolved");
    rpc_cap_unref(root);
    strcpy(ref.host, "no-such-host.invalid");
    root = rpc_vat_restore(w->client, &ref);
    char *t = text_call(root, 0, "x", &e);
    assert_null(t);
    assert_non_null(strstr(e.msg, "cannot resolve no-such-host.invalid"));
    rpc_cap_unref(root);
    world_free(w);
}

/* The socket's mode right after bind (the test links with
 * --wrap=uv_pipe_bind): nobody else may connect even for a moment. */
int __real_uv_pipe_bind(uv_pipe_t *handle, const char *name);
static int bound_mode = -1;
int __wrap_uv_pipe_bind(uv_pipe_t *handle, const char *name)
{
    int r = __real_uv_pipe_bind(handle, name);
    struct stat st;
    bound_mode = r == 0 && lstat(name, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
    return r;
}

static void test_unix_socket(void **state)
{
    (void)state;
    struct world *w = world_new(true, NULL);
    struct err e;
    char path[128], addr[160];
    snprintf(path, sizeof path, "%s/capnp.sock", w->dir);
    snprintf(addr, sizeof addr, "unix:%s", path);
    mode_t old = umask(022);
    assert_int_equal(rpc_vat_listen(w->server, addr, &e), 0);
    mode_t after = umask(old);
    int at_bind = bound_mode;
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(rpc_vat_set_public_address(w->server, addr, &e), 0);
    char *uri = rpc_vat_sturdy_uri(w->server, w->id, 32);
    assert_non_null(strstr(uri, "@/tmp/ceon-rpc-test-"));
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, uri, &e);
    expect_text(root, 2, NULL, "example.org");
    rpc_cap_unref(root);
    free(uri);
    world_free(w);
    /* Checked once the world is gone (a failure must not leave the loop
     * busy for the next test). */
    assert_int_equal(after, 022); /* the caller's umask is back */
    assert_int_equal(at_bind & 077, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_pipelined),
        cmocka_unit_test(test_callback_tls),
        cmocka_unit_test(test_reflection_order),
        cmocka_unit_test(test_export_limit),
        cmocka_unit_test(test_wrong_fingerprint_and_unknown_id),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_resolver),
        cmocka_unit_test(test_unix_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
