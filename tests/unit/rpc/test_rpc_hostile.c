/* Hostile peers (issue 9): each test is an attack or an honest pattern
 * that the vat used to mishandle. Raw frames over a socketpair, or over
 * loopback TCP where the slot rules need accepted connections. */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "raw_peer.h"
#include "rpc/tls.h"

/* ------------------------------------------------------------ helpers */

/* A call of TEST_IFACE.method with one text param on promisedAnswer(on)
 * through pointer field 0 of its results (path 0) or on its root (no
 * path, for the bootstrap answer). */
static void send_call_on(struct peer *p, uint32_t qid, uint32_t on, bool path, uint16_t method,
                         const char *text)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Call_B call = rpc_Message_init_call(rpc_Message_new_root(&b));
    rpc_Call_set_questionId(call, qid);
    rpc_Call_set_interfaceId(call, TEST_IFACE);
    rpc_Call_set_methodId(call, method);
    rpc_PromisedAnswer_B pa = rpc_MessageTarget_init_promisedAnswer(rpc_Call_init_target(call));
    rpc_PromisedAnswer_set_questionId(pa, on);
    if (path) {
        rpc_PromisedAnswer_Op_LB ops = rpc_PromisedAnswer_init_transform(pa, 1);
        rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_LB_at(ops, 0), 0);
    }
    rpc_Payload_B pay = rpc_Call_init_params(call);
    capnp_struct_b prm = capnp_ptr_b_init_struct(rpc_Payload_ptr_content(pay), 0, 1);
    capnp_ptr_b_set_text(capnp_struct_b_ptr(prm, 0), text, (uint32_t)strlen(text));
    send_builder(p, &b);
}

static void send_finish(struct peer *p, uint32_t qid)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Finish_B f = rpc_Message_init_finish(rpc_Message_new_root(&b));
    rpc_Finish_set_questionId(f, qid);
    rpc_Finish_set_releaseResultCaps(f, false);
    send_builder(p, &b);
}

static void send_bootstrap_id(struct peer *p, uint32_t qid, const char *id)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Bootstrap_B boot = rpc_Message_init_bootstrap(rpc_Message_new_root(&b));
    rpc_Bootstrap_set_questionId(boot, qid);
    capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(boot), id, (uint32_t)strlen(id));
    send_builder(p, &b);
}

/* read_return's results besides a Return's type. */
enum { GOT_ABORT = 1000, GOT_EOF = UINT16_MAX };

/* Reads until the Return for qid (or an Abort, or EOF): its type,
 * GOT_ABORT or GOT_EOF. *text gets a copy of a text
 * result (or the exception's reason) when not NULL. */
static uint16_t read_return(struct peer *p, uint32_t qid, char *text, size_t cap)
{
    for (;;) {
        struct capnp_msg *m = peer_read(p, 5000);
        if (!m) return GOT_EOF;
        uint16_t w = which_of(m);
        if (w == rpc_Message_abort) {
            msg_destroy(m);
            return GOT_ABORT;
        }
        rpc_Return_R ret = rpc_Message_get_return(rpc_Message_read_root(m));
        if (w == rpc_Message_return && rpc_Return_get_answerId(ret) == qid) {
            uint16_t k = (uint16_t)rpc_Return_which(ret);
            if (text) {
                uint32_t n = 0;
                const char *t = "";
                if (k == rpc_Return_results)
                    t = p0_text(rpc_Payload_get_content(rpc_Return_get_results(ret)), &n);
                else if (k == rpc_Return_exception) {
                    capnp_text r = rpc_Exception_get_reason(rpc_Return_get_exception(ret));
                    t = r.str;
                    n = r.len;
                }
                snprintf(text, cap, "%.*s", (int)n, t ? t : "");
            }
            msg_destroy(m);
            return k;
        }
        msg_destroy(m);
    }
}

static bool peer_sees_eof(struct peer *p)
{
    for (;;) {
        struct capnp_msg *m = peer_read(p, 5000);
        if (!m) return p->eof;
        msg_destroy(m);
    }
}

static int listen_tcp(struct rpc_vat *v)
{
    struct err e;
    assert_int_equal(rpc_vat_listen(v, "tcp:127.0.0.1:0", &e), 0);
    return rpc_vat_bound_port(v);
}

/* A raw peer over loopback TCP (an accepted connection, with a slot). */
static void peer_open_tcp(struct peer *p, int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    p->fd = fd;
    p->eof = false;
    p->npend = 0;
    capnp_framer_init(&p->f, 0, 0);
    pump(2); /* accepted */
}

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
        cmocka_unit_test(test_pipeline_on_queued),
        cmocka_unit_test(test_queued_calls_counted),
        cmocka_unit_test(test_bootstrap_loop),
        cmocka_unit_test(test_close_deadline),
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_reserved_slots),
        cmocka_unit_test(test_holder_idle),
        cmocka_unit_test(test_teardown_in_return),
        cmocka_unit_test(test_kept_answer_budget),
        cmocka_unit_test(test_fingerprint_must_be_a_digest),
    };
    /* TEST_FILTER=name runs one test (e.g. against older code). */
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
