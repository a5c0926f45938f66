/* The vat's connection limits and timeouts end to end inside one
 * process (rpc_world.h's server and client vats): message size, many TLS
 * connections at once, idle connections closed, the connection limit,
 * the deadline for a TLS handshake. */
#include "rpc_world.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rpc/rpc_int.h"
#include "rpc/tls.h"

static void test_limits(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_message_bytes = 4096};
    struct world *w = world_new(false, &cfg);
    struct err e;
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    expect_text(root, 0, "small", "small");
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = 0;
    char *t = text_call(root, 0, big, &e);
    assert_null(t);
    free(big);
    /* The oversized message aborted that connection, not the vat. */
    rpc_cap_unref(root);
    root = rpc_vat_restore_uri(w->client, w->uri, &e);
    expect_text(root, 0, "again", "again");
    rpc_cap_unref(root);
    world_free(w);
}

static void test_many_connections(void **state)
{
    (void)state;
    /* 40 clients over TLS (own vats, so own connections) with 10 calls
     * each in flight at once: all answered, in order per client. */
    /* All from 127.0.0.1: above the per-address default of 32. */
    struct rpc_vat_config cfg = {.max_conns_per_addr = 64};
    struct world *w = world_new(true, &cfg);
    struct err e;
    enum { NC = 40, NQ = 10 };
    struct rpc_vat *vats[NC];
    struct rpc_cap *caps[NC];
    struct rpc_promise *ps[NC][NQ];
    for (int i = 0; i < NC; i++) {
        vats[i] = rpc_vat_new(w->loop, NULL, &e);
        caps[i] = rpc_vat_restore_uri(vats[i], w->uri, &e);
        for (int q = 0; q < NQ; q++) {
            char t[32];
            snprintf(t, sizeof t, "c%d-q%d", i, q);
            ps[i][q] = rpc_req_send(text_req(caps[i], 0, t), NULL, NULL);
        }
    }
    for (int i = 0; i < NC; i++)
        for (int q = 0; q < NQ; q++) {
            struct rpc_response *r = rpc_promise_wait(ps[i][q], 10000, &e);
            if (!r) fail_msg("client %d call %d: %s", i, q, e.msg);
            char want[32];
            snprintf(want, sizeof want, "c%d-q%d", i, q);
            uint32_t n;
            const char *t = p0_text(r->content, &n);
            assert_int_equal(n, strlen(want));
            assert_memory_equal(t, want, n);
            rpc_response_free(r);
            rpc_promise_unref(ps[i][q]);
        }
    struct rpc_stats s;
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.conns, NC);
    for (int i = 0; i < NC; i++) {
        rpc_cap_unref(caps[i]);
        rpc_vat_free(vats[i]);
    }
    world_free(w);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.idle_timeout_ms = 100};
    struct world *w = world_new(false, &cfg);
    struct err e;
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    expect_text(root, 0, "x", "x");
    struct rpc_stats s;
    /* Quiet, but the client holds a capability: kept open. */
    uint64_t start = uv_now(w->loop);
    while (uv_now(w->loop) - start < 400)
        uv_run(w->loop, UV_RUN_ONCE);
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.conns, 1);
    expect_text(root, 0, "still", "still");
    /* Nothing held any more: closed once quiet for the timeout. */
    rpc_cap_unref(root);
    start = uv_now(w->loop);
    while (uv_now(w->loop) - start < 600) {
        uv_run(w->loop, UV_RUN_ONCE);
        rpc_vat_stats(w->server, &s);
        if (s.conns == 0) break;
    }
    assert_int_equal(s.conns, 0);
    world_free(w);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A raw TCP connection to the server (non-blocking). */
static int raw_connect(struct world *w)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)rpc_vat_bound_port(w->server)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Runs the loop until the server closes fd (EOF or reset): the seconds
 * that took, or -1 if it is still open after secs. Bytes the server
 * sends (a TLS alert) are read and dropped. */
static double wait_closed(struct world *w, int fd, double secs)
{
    double start = now_s();
    while (now_s() - start < secs) {
        uv_run(w->loop, UV_RUN_NOWAIT);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2) <= 0) continue;
        uint8_t buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return now_s() - start;
    }
    return -1;
}

static void test_connection_limit(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_conns = 2};
    struct world *w = world_new(false, &cfg);
    struct err e;
    /* Two clients in use (two vats: a vat shares one connection). */
    struct rpc_vat *other = rpc_vat_new(w->loop, NULL, &e);
    assert_non_null(other);
    struct rpc_cap *a = rpc_vat_restore_uri(w->client, w->uri, &e);
    struct rpc_cap *b = rpc_vat_restore_uri(other, w->uri, &e);
    expect_text(a, 0, "a", "a");
    expect_text(b, 0, "b", "b");
    struct rpc_stats s;
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.conns, 2);
    /* A third: accepted and closed at once. */
    int fd = raw_connect(w);
    double t = wait_closed(w, fd, 2.0);
    close(fd);
    assert_true(t >= 0 && t < 0.5);
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.conns, 2);
    /* The two are still served. */
    expect_text(a, 0, "a2", "a2");
    expect_text(b, 0, "b2", "b2");
    /* One goes: there is room again. */
    rpc_cap_unref(b);
    rpc_vat_free(other);
    for (int i = 0; i < 200; i++) {
        uv_run(w->loop, UV_RUN_NOWAIT);
        rpc_vat_stats(w->server, &s);
        if (s.conns == 1) break;
        usleep(1000);
    }
    assert_int_equal(s.conns, 1);
    struct rpc_vat *third = rpc_vat_new(w->loop, NULL, &e);
    struct rpc_cap *c = rpc_vat_restore_uri(third, w->uri, &e);
    expect_text(c, 0, "c", "c");
    rpc_cap_unref(c);
    rpc_vat_free(third);
    rpc_cap_unref(a);
    world_free(w);
}

static void test_auth_deadline(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.auth_timeout_ms = 300};
    struct world *w = world_new(true, &cfg);
    struct err e;
    /* An authenticated client: TLS done and its service restored. */
    struct rpc_cap *root = rpc_vat_restore_uri(w->client, w->uri, &e);
    expect_text(root, 0, "x", "x");
    /* A client that restores an unknown ID is not authenticated. */
    struct rpc_vat *guesser = rpc_vat_new(w->loop, NULL, &e);
    struct sturdy_ref bad;
    assert_int_equal(sturdy_parse(w->uri, &bad, &e), 0);
    bad.id[0] ^= 1;
    struct rpc_cap *wrong = rpc_vat_restore(guesser, &bad);
    struct err e2 = {{0}};
    assert_null(text_call(wrong, 0, "y", &e2));
    assert_non_null(strstr(e2.msg, RPC_UNKNOWN_SERVICE));
    rpc_cap_unref(wrong);
    /* A silent connection (no TLS handshake): closed after the deadline. */
    int fd = raw_connect(w);
    double t = wait_closed(w, fd, 3.0);
    close(fd);
    assert_true(t >= 0.25 && t < 1.0);
    /* The guesser's connection went too; the authenticated one stays and
     * still answers, well past the deadline. */
    struct rpc_stats s;
    rpc_vat_stats(guesser, &s);
    assert_int_equal(s.conns, 0);
    rpc_vat_stats(w->server, &s);
    assert_int_equal(s.conns, 1);
    expect_text(root, 0, "later", "later");
    rpc_cap_unref(root);
    rpc_vat_free(guesser);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_idle_timeout),  cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_auth_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
