/* Hostile peers (issue 9): each test is an attack or an honest pattern
 * that the vat used to mishandle. Raw frames over a socketpair, or over
 * loopback TCP where the slot rules need accepted connections. */
#include "raw_peer.h"
#include "rpc/tls.h"
#include "util/log.h"

/* ------------------------------------------------------------ point 1 */

/* Before a service is restored only Bootstrap (and Finish, Abort) is
 * taken: an unknown message type gets an Abort, not an echo. */
static void test_preauth_only_bootstrap(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Message_B msg = rpc_Message_new_root(&b);
    capnp_ptr_b_set_text(rpc_Message_ptr_obsoleteSave(msg), "x", 1);
    send_builder(&p, &b);
    struct capnp_msg *m = peer_read(&p, 2000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_abort);
    msg_destroy(m);
    assert_true(peer_sees_eof(&p));
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* Before a service is restored a frame is at most 64 KiB. */
static void test_preauth_small_frames(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    char *id = malloc(100000);
    memset(id, 'i', 99999);
    id[99999] = 0;
    send_bootstrap_id(&p, 0, id);
    free(id);
    assert_int_equal(read_return(&p, 0, NULL, 0), GOT_ABORT);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* One small frame of an unknown type whose pointers form a DAG (both
 * pointers of each level point at the same next level) would copy out to
 * 2^depth structs: the vat answers with an Abort instead of an echo
 * larger than the frame. */
static void test_unimplemented_dag(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    assert_int_equal(read_return(&p, 0, NULL, 0), rpc_Return_results);
    enum { DEPTH = 20, WORDS = 4 + 2 * DEPTH };
    uint64_t w[1 + WORDS] = {0};
    uint8_t *frame = (uint8_t *)w;
    frame[4] = WORDS; /* one segment of WORDS words */
    uint64_t *seg = w + 1;
    seg[0] = (1ull << 32) | (2ull << 48); /* root: struct at 1, 1 data word, 2 pointers */
    seg[1] = 100;                         /* the union tag: no such member */
    for (unsigned i = 2; i < WORDS; i += 2) {
        if (i + 2 >= WORDS) break;         /* the last level's pointers stay null */
        seg[i] = (1u << 2) | (2ull << 48); /* to the struct 2 words on: 0 data, 2 pointers */
        seg[i + 1] = (0u << 2) | (2ull << 48);
    }
    assert_int_equal(write(p.fd, w, sizeof w), (ssize_t)sizeof w);
    struct capnp_msg *m = peer_read(&p, 5000);
    assert_non_null(m);
    assert_int_equal(which_of(m), rpc_Message_abort);
    assert_true(msg_bytes(m) < 4096);
    msg_destroy(m);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* ------------------------------------------------------------ point 2 */

/* A peer that sends calls and never reads: the vat stops reading it once
 * the connection's budget is spent (so the peer's writes block), keeps
 * the connection, and answers everything once the peer reads. */
static void test_flow_control(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    pump(5);
    enum { BIG = 64 * 1024 };
    char *big = malloc(BIG + 1);
    memset(big, 'x', BIG);
    big[BIG] = 0;
    uint32_t sent = 0;
    bool blocked = false;
    uint8_t *rest = NULL;
    size_t nrest = 0, off = 0;
    while (!blocked && sent < 256) { /* 16 MiB: far above the 4 MiB budget */
        struct capnp_builder b;
        capnp_builder_init(&b, 0);
        rpc_Call_B call = rpc_Message_init_call(rpc_Message_new_root(&b));
        rpc_Call_set_questionId(call, sent + 1);
        rpc_Call_set_interfaceId(call, TEST_IFACE);
        rpc_PromisedAnswer_set_questionId(
            rpc_MessageTarget_init_promisedAnswer(rpc_Call_init_target(call)), 0);
        capnp_struct_b prm =
            capnp_ptr_b_init_struct(rpc_Payload_ptr_content(rpc_Call_init_params(call)), 0, 1);
        capnp_ptr_b_set_text(capnp_struct_b_ptr(prm, 0), big, BIG);
        struct err e;
        assert_int_equal(capnp_builder_serialize(&b, &rest, &nrest, &e), 0);
        capnp_builder_free(&b);
        sent++;
        off = 0;
        /* The vat gets many loop turns to take the bytes; only a paused
         * reader leaves them in the socket. */
        for (int tries = 0; off < nrest && tries < 200; tries++) {
            ssize_t n = write(p.fd, rest + off, nrest - off);
            if (n > 0) off += (size_t)n;
            if (off < nrest) pump(1);
        }
        if (off < nrest)
            blocked = true;
        else {
            free(rest);
            rest = NULL;
        }
    }
    free(big);
    assert_true(blocked);
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 1);
    assert_int_equal(s.paused, 1);
    /* Now read: every call is answered, in order. */
    uint32_t got = 0;
    while (got < sent) {
        if (off < nrest) {
            ssize_t n = write(p.fd, rest + off, nrest - off);
            if (n > 0) off += (size_t)n;
        }
        struct capnp_msg *m = peer_read(&p, 5000);
        assert_non_null(m);
        rpc_Return_R ret = rpc_Message_get_return(rpc_Message_read_root(m));
        if (which_of(m) == rpc_Message_return && rpc_Return_get_answerId(ret) == 0) {
            /* the Bootstrap's */
        } else if (which_of(m) == rpc_Message_return) {
            assert_int_equal(rpc_Return_get_answerId(ret), got + 1);
            assert_int_equal(rpc_Return_which(ret), rpc_Return_results);
            got++;
        } else {
            assert_int_equal(which_of(m), rpc_Message_return);
        }
        msg_destroy(m);
    }
    free(rest);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* The same peer that never reads at all: closed at the drain deadline,
 * not kept (paused) for ever. */
static void test_drain_deadline(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.drain_timeout_ms = 100};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    enum { BIG = 64 * 1024 };
    char *big = malloc(BIG + 1);
    memset(big, 'z', BIG);
    big[BIG] = 0;
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    bool paused = false;
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    /* Calls, written whole (a frame is never cut short), for as long as
     * the vat takes them; the peer never reads. */
    for (uint32_t q = 1; q <= 512 && s.conns == 1; pump(1), rpc_vat_stats(v, &s)) {
        paused |= s.paused == 1;
        if (!buf) {
            struct capnp_builder b;
            capnp_builder_init(&b, 0);
            rpc_Call_B call = rpc_Message_init_call(rpc_Message_new_root(&b));
            rpc_Call_set_questionId(call, q++);
            rpc_Call_set_interfaceId(call, TEST_IFACE);
            rpc_PromisedAnswer_set_questionId(
                rpc_MessageTarget_init_promisedAnswer(rpc_Call_init_target(call)), 0);
            capnp_struct_b prm =
                capnp_ptr_b_init_struct(rpc_Payload_ptr_content(rpc_Call_init_params(call)), 0, 1);
            capnp_ptr_b_set_text(capnp_struct_b_ptr(prm, 0), big, BIG);
            struct err e;
            assert_int_equal(capnp_builder_serialize(&b, &buf, &len, &e), 0);
            capnp_builder_free(&b);
            off = 0;
        }
        ssize_t n = write(p.fd, buf + off, len - off);
        if (n > 0) off += (size_t)n;
        if (off == len) {
            free(buf);
            buf = NULL;
        }
    }
    free(buf);
    free(big);
    assert_true(paused);
    assert_int_equal(s.conns, 0); /* closed by the deadline, not kept paused */
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* Kept answers alone over the budget: reading goes on, since the Finish
 * that frees them is in what the vat would otherwise not read. */
static void test_kept_answers_do_not_block(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.conn_budget_bytes = 256 * 1024, .drain_timeout_ms = UINT32_MAX};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call_on(&p, 1, 0, false, 10, "k"); /* a 520 KB Return, kept */
    assert_int_equal(read_return(&p, 1, NULL, 0), rpc_Return_results);
    send_finish(&p, 1);
    send_call_on(&p, 2, 0, false, 0, "after");
    char text[64];
    assert_int_equal(read_return(&p, 2, text, sizeof text), rpc_Return_results);
    assert_string_equal(text, "after");
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_true(s.held < 1024); /* the Bootstrap's kept answer, not the 520 KB */
    peer_close(&p);
    free_vat(v);
}

/* ------------------------------------------------------------ point 3 */

/* a.slow().b().c() with b finished early: a call on a question that is
 * itself queued on an unanswered one, and a Finish for such a question,
 * are honest and served. */
static void test_pipeline_on_queued(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call_on(&p, 1, 0, false, 8, "a"); /* childLater: answered from a timer */
    send_call_on(&p, 2, 1, true, 8, "b");  /* queued on 1 */
    send_call_on(&p, 3, 2, true, 0, "c");  /* queued on 2, itself queued */
    send_finish(&p, 2);                    /* before 2 even ran */
    char text[64];
    assert_int_equal(read_return(&p, 3, text, sizeof text), rpc_Return_results);
    assert_string_equal(text, "c");
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.conns, 1);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* Calls queued on an unanswered question count against max_questions. */
static void test_queued_calls_counted(void **state)
{
    (void)state;
    struct rpc_vat_config cfg = {.max_questions = 8};
    struct rpc_vat *v = make_vat(&cfg);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call_on(&p, 1, 0, false, 8, "slow");
    for (uint32_t q = 2; q < 40; q++)
        send_call_on(&p, q, 1, true, 0, "queued");
    assert_int_equal(read_return(&p, 1, NULL, 0), GOT_ABORT);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* ------------------------------------------------------------ point 4 */

static int restores;

static struct rpc_cap *fresh_restore(void *ud, const uint8_t *id, size_t len)
{
    (void)ud;
    if (len != 5 || memcmp(id, "other", 5) != 0) return NULL;
    restores++;
    return &test_obj_new("other", NULL)->o.cap; /* a new object each time */
}

/* Bootstrap + Finish(releaseResultCaps=false) again and again: one
 * restore, one export. */
static void test_bootstrap_loop(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    rpc_vat_set_restorer(v, fresh_restore, NULL);
    restores = 0;
    struct peer p;
    peer_open(&p, v);
    for (uint32_t q = 0; q < 50; q++) {
        send_bootstrap_id(&p, q, "other");
        send_finish(&p, q);
        assert_int_equal(read_return(&p, q, NULL, 0), rpc_Return_results);
    }
    struct rpc_stats s;
    rpc_vat_stats(v, &s);
    assert_int_equal(s.exports, 1);
    assert_int_equal(restores, 1);
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* ------------------------------------------------------------ point 7 */

/* The connection goes down inside a handler (the results cannot be
 * built): the handler's answer stays valid until it returns (ASan). */
static void test_teardown_in_return(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call_on(&p, 1, 0, false, 9, "");
    assert_int_equal(read_return(&p, 1, NULL, 0), GOT_ABORT);
    assert_true(peer_sees_eof(&p));
    peer_close(&p);
    check_healthy(v);
    free_vat(v);
}

/* ------------------------------------------------------------ point 8 */

/* Hundreds of pipelined calls on one kept answer, each reading 65001
 * words of it: more than one traversal budget (8 Mi words) in all. */
static void test_kept_answer_budget(void **state)
{
    (void)state;
    struct rpc_vat *v = make_vat(NULL);
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call_on(&p, 1, 0, false, 10, "k");
    assert_int_equal(read_return(&p, 1, NULL, 0), rpc_Return_results);
    for (uint32_t q = 2; q < 202; q++) {
        send_call_on(&p, q, 1, true, 0, "again");
        char text[64];
        assert_int_equal(read_return(&p, q, text, sizeof text), rpc_Return_results);
        assert_string_equal(text, "again");
    }
    peer_close(&p);
    free_vat(v);
}

/* ------------------------------------------------------------ point 9 */

static void test_fingerprint_must_be_a_digest(void **state)
{
    (void)state;
    struct err e;
    assert_null(tls_session_client("", &e));
    assert_null(tls_session_client("AAAA", &e));
    /* 43 characters: a SHA-256 digest. */
    struct tls_session *s = tls_session_client("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", &e);
    assert_non_null(s);
    tls_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preauth_only_bootstrap),
        cmocka_unit_test(test_preauth_small_frames),
        cmocka_unit_test(test_unimplemented_dag),
        cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_drain_deadline),
        cmocka_unit_test(test_kept_answers_do_not_block),
        cmocka_unit_test(test_pipeline_on_queued),
        cmocka_unit_test(test_queued_calls_counted),
        cmocka_unit_test(test_bootstrap_loop),
        cmocka_unit_test(test_teardown_in_return),
        cmocka_unit_test(test_kept_answer_budget),
        cmocka_unit_test(test_fingerprint_must_be_a_digest),
    };
    /* TEST_FILTER=name runs one test (e.g. against older code). */
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    if (getenv("TEST_LOG")) log_set_level(atoi(getenv("TEST_LOG")));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
