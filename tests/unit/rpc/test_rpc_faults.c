/* Misbehaving peers, speaking raw frames over a socketpair to a vat on
 * the default loop: each must lose only its own connection, and the vat
 * must keep serving a well-behaved peer. */
#include "raw_peer.h"

static void test_disconnect_mid_call(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call(&p, 1, 4, "later", 5); /* answered from a timer */
    pump(5);
    peer_close(&p);
    pump(60); /* the timer fires and answers into the void */
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 0);
    check_healthy(v);
    free_vat(v);
}

static void test_peer_never_reads(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_write_queue = 256 * 1024};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    char *big = malloc(64 * 1024);
    memset(big, 'x', 64 * 1024);
    struct rpc_stats s;
    for (uint32_t q = 1; q < 400; q++) {
        send_call(&p, q, 0, big, 64 * 1024);
        pump(0);
        rpc_vat_stats(v, &s);
        if (s.conns == 0) break;
    }
    free(big);
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 0); /* cut off, not buffered without end */
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

static void test_oversized_frame(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_message_bytes = 64 * 1024};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    /* One segment of a million words. */
    uint8_t hdr[8] = {0, 0, 0, 0, 0x40, 0x42, 0x0f, 0};
    assert_int_equal(write(p.fd, hdr, 8), 8);
    struct capnp_msg *m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_abort);
    msg_destroy(m);
    assert_null(peer_read(&p, 2000));
    assert_true(p.eof);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

static void test_garbage_after_message(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    uint8_t junk[24];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(write(p.fd, junk, sizeof junk), (ssize_t)sizeof junk);
    struct capnp_msg *m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_return); /* the valid message was served */
    msg_destroy(m);
    m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_abort);
    msg_destroy(m);
    assert_null(peer_read(&p, 2000));
    assert_true(p.eof);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

static void test_too_many_questions(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_questions = 8};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    for (uint32_t q = 1; q < 12; q++)
        send_call(&p, q, 4, "later", 5); /* all pending at once */
    bool aborted = false;
    for (int i = 0; i < 20 && !aborted; i++) {
        struct capnp_msg *m = peer_read(&p, 2000);
        if (!m) break;
        aborted = which_of(m) == rpc_Message_abort;
        msg_destroy(m);
    }
    assert_true(aborted);
    peer_close(&p);
    pump(60);
    check_healthy(v);
    free_vat(v);
}

static void test_unimplemented_and_abort(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    struct capnp_msg *m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_return);
    msg_destroy(m);
    /* A message type the vat does not handle comes back in Unimplemented
     * (once a service is restored: before, it is an Abort). */
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Message_B msg = rpc_Message_new_root(&b);
    capnp_ptr_b_set_text(rpc_Message_ptr_obsoleteSave(msg), "x", 1);
    send_builder(&p, &b);
    m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_unimplemented);
    rpc_Message_R inner = rpc_Message_get_unimplemented(rpc_Message_read_root(m));
    assert_int_equal(rpc_Message_which(inner), rpc_Message_obsoleteSave);
    msg_destroy(m);
    /* Abort from the peer: the vat closes the connection. */
    capnp_builder_init(&b, 0);
    rpc_Exception_B ex = rpc_Message_init_abort(rpc_Message_new_root(&b));
    rpc_Exception_set_reason(ex, "bye", 3);
    send_builder(&p, &b);
    assert_null(peer_read(&p, 2000));
    assert_true(p.eof);
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 0);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnect_mid_call), cmocka_unit_test(test_peer_never_reads),
        cmocka_unit_test(test_oversized_frame),     cmocka_unit_test(test_garbage_after_message),
        cmocka_unit_test(test_too_many_questions),  cmocka_unit_test(test_unimplemented_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
