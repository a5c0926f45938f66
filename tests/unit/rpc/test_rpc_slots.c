/* Hostile peers and connection slots (issue 9 points 5 and 6): the close
 * deadline, limits per source address, slots kept for clients that
 * restored a service, the idle timeout for capability holders. Raw peers
 * over loopback TCP (accepted connections hold slots) or a socketpair. */
#include "raw_peer.h"

/* ------------------------------------------------------------ point 5 */

/* An aborted connection whose peer does not read: the socket is closed
 * by the close deadline, and the slot stays taken until it is. */
static void test_close_deadline(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.close_timeout_ms = 200, .conn_budget_bytes = 256u << 20};
    struct rpc_vat *v = make_vat(&cfg);
    int port = listen_tcp(v);
    struct peer p;
    peer_open_tcp(&p, port, 4096);
    send_bootstrap(&p, 0);
    char *big = malloc(64 * 1024);
    memset(big, 'y', 64 * 1024);
    for (uint32_t q = 1; q <= 160; q++) /* 10 MiB of answers nobody reads */
        send_call(&p, q, 0, big, 64 * 1024);
    free(big);
    send_finish(&p, 9999); /* a protocol violation: Abort and close */
    struct rpc_stats s;
    for (int i = 0; i < 2000; i++) {
        pump(1);
        rpc_vat_stats(v, &s);
        if (s.conns == 0) break;
    }
    assert_int_equal(s.conns, 0);
    assert_int_equal(s.accepted, 1); /* the socket is not closed yet */
    for (int i = 0; i < 10000 && s.accepted; i++) {
        pump(1);
        rpc_vat_stats(v, &s);
    }
    assert_int_equal(s.accepted, 0);
    assert_int_equal(s.closing, 0);
    peer_close(&p);
    free_vat(v);
}

/* ------------------------------------------------------------ point 6 */

static void test_per_address_limit(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_conns_per_addr = 4};
    struct rpc_vat *v = make_vat(&cfg);
    int port = listen_tcp(v);
    struct peer p[5];
    for (int i = 0; i < 5; i++)
        peer_open_tcp(&p[i], port, 0);
    pump(5);
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 4);
    assert_true(peer_sees_eof(&p[4]));
    /* The four are served. */
    send_bootstrap(&p[0], 0);
    assert_int_equal(read_return(&p[0], 0, NULL, 0), rpc_Return_results);
    for (int i = 0; i < 5; i++)
        peer_close(&p[i]);
    check_healthy(v);
    free_vat(v);
}

/* Strangers get max_conns - reserved_conns slots; the rest is for
 * connections that restored a service. */
static void test_reserved_slots(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_conns = 4, .reserved_conns = 3, .max_conns_per_addr = 64};
    struct rpc_vat *v = make_vat(&cfg);
    int port = listen_tcp(v);
    struct peer a, b, c, d;
    peer_open_tcp(&a, port, 0);
    send_bootstrap(&a, 0); /* restores: counted as authenticated */
    assert_int_equal(read_return(&a, 0, NULL, 0), rpc_Return_results);
    peer_open_tcp(&b, port, 0);
    peer_open_tcp(&c, port, 0); /* a second stranger: over the share */
    assert_true(peer_sees_eof(&c));
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.accepted, 2);
    /* b restores; then a stranger fits again. */
    send_bootstrap(&b, 0);
    assert_int_equal(read_return(&b, 0, NULL, 0), rpc_Return_results);
    peer_open_tcp(&d, port, 0);
    send_bootstrap(&d, 0);
    assert_int_equal(read_return(&d, 0, NULL, 0), rpc_Return_results);
    peer_close(&a);
    peer_close(&b);
    peer_close(&c);
    peer_close(&d);
    free_vat(v);
}

/* A connection holding a capability, quiet: closed by the holders' idle
 * timeout (the general one spares it). */
static void test_holder_idle(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.holder_idle_timeout_ms = 100};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    assert_int_equal(read_return(&p, 0, NULL, 0), rpc_Return_results);
    assert_true(peer_sees_eof(&p));
    peer_close(&p);
    free_vat(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_deadline),
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_reserved_slots),
        cmocka_unit_test(test_holder_idle),
    };
    /* TEST_FILTER=name runs one test (e.g. against older code). */
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
