/* The ceon side of the interop test (see interop_peer.c++):
 *   interop_ceon server [tls KEYFILE]  serves Test under ID "svc" on a free
 *                                      port of 127.0.0.1, prints the port
 *                                      (and, with tls, the URI)
 *   interop_ceon client URI            runs the checks against URI
 *   interop_ceon bench URI N           N round trips, then N pipelined calls */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rpc/rpc.h"
#include "rpc_test_service.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int serve(const char *keyfile)
{
    uv_loop_t *loop = uv_default_loop();
    struct err e;
    struct rpc_vat_config cfg = {.secret_key_file = keyfile, .disable_tls = keyfile == NULL};
    struct rpc_vat *v = rpc_vat_new(loop, &cfg, &e);
    if (!v || rpc_vat_listen(v, "tcp:127.0.0.1:0", &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    char pub[64];
    snprintf(pub, sizeof pub, "tcp:127.0.0.1:%d", rpc_vat_bound_port(v));
    rpc_vat_set_public_address(v, pub, &e);
    struct test_obj *root = test_obj_new("example.org", NULL);
    rpc_vat_add_service(v, (const uint8_t *)"svc", 3, &root->o.cap, &e);
    char *uri = rpc_vat_sturdy_uri(v, (const uint8_t *)"svc", 3);
    rpc_object_set_sturdy_uri(&root->o, uri);
    printf("%d\n%s\n", rpc_vat_bound_port(v), uri);
    fflush(stdout);
    free(uri);
    rpc_cap_unref(&root->o.cap);
    return uv_run(loop, UV_RUN_DEFAULT);
}

static struct rpc_req *text_req(struct rpc_cap *cap, uint16_t method, const char *s)
{
    struct rpc_req *req = rpc_req_new(cap, TEST_IFACE, method);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    if (s) capnp_ptr_b_set_text(capnp_struct_b_ptr(p, 0), s, (uint32_t)strlen(s));
    return req;
}

static struct rpc_req *text_req_cb(struct rpc_cap *cap, const char *s)
{
    struct rpc_req *req = rpc_req_new(cap, CB_IFACE, 0);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_text(capnp_struct_b_ptr(p, 0), s, (uint32_t)strlen(s));
    return req;
}

static bool text_is(struct rpc_response *r, const char *want)
{
    if (!r) return false;
    uint32_t n;
    const char *t = p0_text(r->content, &n);
    bool ok = n == strlen(want) && memcmp(t, want, n) == 0;
    rpc_response_free(r);
    return ok;
}

static int cb_count;
static char cb_seen[64], cb_order[64];

static void cb_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    (void)self;
    uint32_t n;
    const char *s = p0_text(rpc_call_params(call), &n);
    snprintf(cb_seen, sizeof cb_seen, "%.*s", (int)n, s);
    size_t len = strlen(cb_order);
    if (len + 1 < sizeof cb_order && n) cb_order[len] = s[0];
    cb_count++;
    capnp_ptr_b_init_struct(rpc_call_results(call), 0, 0);
    rpc_call_return(call);
}

static void cb_destroy(struct rpc_object *self)
{
    free(self);
}
static const struct rpc_object_vtbl cb_vt = {cb_dispatch, cb_destroy};

static int client(const char *uri)
{
    uv_loop_t *loop = uv_default_loop();
    struct err e;
    struct rpc_vat *v = rpc_vat_new(loop, NULL, &e);
    struct rpc_cap *cap = rpc_vat_restore_uri(v, uri, &e);
    CHECK(cap);
    struct rpc_response *r = rpc_call_wait(text_req(cap, 0, "hello"), 5000, &e);
    if (!r) fprintf(stderr, "echo: %s\n", e.msg);
    CHECK(text_is(r, "hello"));
    printf("ok echo\n");

    struct rpc_promise *cp = rpc_req_send(text_req(cap, 1, "www"), NULL, NULL);
    uint16_t path[] = {0};
    struct rpc_cap *child = rpc_promise_cap(cp, path, 1);
    CHECK(text_is(rpc_call_wait(text_req(child, 2, NULL), 5000, &e), "www.example.org"));
    printf("ok pipelined\n");

    struct rpc_promise *ctrp = rpc_req_send(text_req(cap, 1, "ctr"), NULL, NULL);
    struct rpc_cap *ctr = rpc_promise_cap(ctrp, path, 1);
    struct rpc_promise *ps[30];
    for (int i = 0; i < 30; i++) {
        ps[i] = rpc_req_send(rpc_req_new(ctr, TEST_IFACE, 5), NULL, NULL);
        if (i == 15) rpc_response_free(rpc_promise_wait(ctrp, 5000, &e));
    }
    for (int i = 0; i < 30; i++) {
        r = rpc_promise_wait(ps[i], 5000, &e);
        CHECK(r);
        CHECK(capnp_struct_r_u64(capnp_ptr_r_struct(r->content), 0) == (uint64_t)i);
        rpc_response_free(r);
        rpc_promise_unref(ps[i]);
    }
    rpc_cap_unref(ctr);
    rpc_promise_unref(ctrp);
    printf("ok ordering\n");

    struct rpc_object *cb = calloc(1, sizeof *cb);
    rpc_object_init(cb, &cb_vt);
    struct rpc_req *req = rpc_req_new(cap, TEST_IFACE, 3);
    capnp_struct_b p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(p, 0), rpc_req_add_cap(req, &cb->cap));
    rpc_cap_unref(&cb->cap);
    r = rpc_call_wait(req, 5000, &e);
    if (!r) fprintf(stderr, "callback: %s\n", e.msg);
    CHECK(r);
    rpc_response_free(r);
    CHECK(cb_count == 1 && strcmp(cb_seen, "example.org") == 0);
    printf("ok callback\n");

    /* Our own callback back through the server: order is kept. */
    cb_count = 0;
    cb_seen[0] = 0;
    cb_order[0] = 0;
    struct rpc_object *cb2 = calloc(1, sizeof *cb2);
    rpc_object_init(cb2, &cb_vt);
    req = rpc_req_new(cap, TEST_IFACE, 6);
    p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(p, 0), rpc_req_add_cap(req, &cb2->cap));
    rpc_cap_unref(&cb2->cap);
    struct rpc_promise *ip = rpc_req_send(req, NULL, NULL);
    struct rpc_cap *pc = rpc_promise_cap(ip, path, 1);
    struct rpc_promise *ns[5];
    for (int i = 0; i < 5; i++) {
        char t[2] = {(char)('1' + i), 0};
        ns[i] = rpc_req_send(text_req_cb(pc, t), NULL, NULL);
        if (i == 2) rpc_response_free(rpc_promise_wait(ip, 5000, &e));
    }
    for (int i = 0; i < 5; i++) {
        r = rpc_promise_wait(ns[i], 5000, &e);
        if (!r) fprintf(stderr, "notify: %s\n", e.msg);
        CHECK(r);
        rpc_response_free(r);
        rpc_promise_unref(ns[i]);
    }
    rpc_cap_unref(pc);
    rpc_promise_unref(ip);
    CHECK(strcmp(cb_order, "12345") == 0 && cb_count == 5);
    printf("ok embargo\n");

    /* A capability in the results of a call not yet answered, passed back
     * to the same server in another call (receiverAnswer). */
    struct rpc_promise *c3 = rpc_req_send(text_req(cap, 8, "p"), NULL, NULL);
    struct rpc_cap *pending = rpc_promise_cap(c3, path, 1);
    req = rpc_req_new(cap, TEST_IFACE, 7);
    p = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
    capnp_ptr_b_set_cap(capnp_struct_b_ptr(p, 0), rpc_req_add_cap(req, pending));
    r = rpc_call_wait(req, 5000, &e);
    if (!r) fprintf(stderr, "nameOf: %s\n", e.msg);
    CHECK(text_is(r, "p.example.org"));
    rpc_cap_unref(pending);
    rpc_promise_unref(c3);
    printf("ok promised capability\n");

    CHECK(text_is(rpc_call_wait(text_req(cap, 4, "later"), 5000, &e), "later"));
    printf("ok async\n");

    rpc_cap_unref(child);
    rpc_promise_unref(cp);
    rpc_cap_unref(cap);
    rpc_vat_free(v);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This process's CPU time (user + system): on a busy machine wall-clock
 * rates mostly measure scheduling delays, CPU per call does not. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int bench(const char *uri, int n)
{
    uv_loop_t *loop = uv_default_loop();
    struct err e;
    struct rpc_vat *v = rpc_vat_new(loop, NULL, &e);
    double t0 = now_s();
    struct rpc_cap *cap = rpc_vat_restore_uri(v, uri, &e);
    CHECK(cap);
    CHECK(text_is(rpc_call_wait(text_req(cap, 0, "x"), 10000, &e), "x"));
    double t1 = now_s(), c1 = cpu_s();
    for (int i = 0; i < n; i++)
        CHECK(text_is(rpc_call_wait(text_req(cap, 0, "x"), 10000, &e), "x"));
    double t2 = now_s(), c2 = cpu_s();
    /* Pipelined: batches of 1000 calls in flight (below the default
     * question limit of 4096). */
    struct rpc_promise **ps = calloc((size_t)n, sizeof *ps);
    for (int done = 0; done < n; done += 1000) {
        int end = done + 1000 < n ? done + 1000 : n;
        for (int i = done; i < end; i++)
            ps[i] = rpc_req_send(text_req(cap, 0, "x"), NULL, NULL);
        for (int i = done; i < end; i++) {
            CHECK(text_is(rpc_promise_wait(ps[i], 10000, &e), "x"));
            rpc_promise_unref(ps[i]);
        }
    }
    double t3 = now_s(), c3 = cpu_s();
    free(ps);
    printf("setup_ms %.2f\nroundtrip_per_s %.0f\npipelined_per_s %.0f\n", (t1 - t0) * 1e3,
           n / (t2 - t1), n / (t3 - t2));
    printf("roundtrip_client_cpu_us %.1f\npipelined_client_cpu_us %.1f\n", (c2 - c1) * 1e6 / n,
           (c3 - c2) * 1e6 / n);
    rpc_cap_unref(cap);
    rpc_vat_free(v);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        return serve(argc >= 4 && strcmp(argv[2], "tls") == 0 ? argv[3] : NULL);
    if (argc >= 3 && strcmp(argv[1], "client") == 0) return client(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "bench") == 0) return bench(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: interop_ceon server [tls KEYFILE] | client URI | bench URI N\n");
    return 2;
}
