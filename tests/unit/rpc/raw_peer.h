/* A raw Cap'n Proto peer for the rpc tests: frames written and read
 * with the generated rpc.capnp code over a socketpair (or a TCP socket)
 * to a vat on the default loop. Included by one test file each. */
#ifndef RPC_RAW_PEER_H
#define RPC_RAW_PEER_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "capnp/frame.h"
#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc_int.h"
#include "rpc_test_service.h"

struct peer {
    int fd;
    struct capnp_framer f;
    bool eof;
    uint8_t pend[65536]; /* bytes read but not yet framed */
    size_t npend;
};

static struct rpc_vat *make_vat(const struct rpc_vat_config *extra)
{
    struct err e;
    struct rpc_vat_config cfg = {0};
    if (extra) cfg = *extra;
    cfg.disable_tls = true;
    struct rpc_vat *v = rpc_vat_new(uv_default_loop(), &cfg, &e);
    assert_non_null(v);
    struct test_obj *root = test_obj_new("example.org", NULL);
    assert_int_equal(rpc_vat_add_service(v, (const uint8_t *)"svc", 3, &root->o.cap, &e), 0);
    rpc_cap_unref(&root->o.cap);
    return v;
}

static void free_vat(struct rpc_vat *v)
{
    rpc_vat_free(v);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void peer_open(struct peer *p, struct rpc_vat *v)
{
    int sv[2];
    struct err e;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(rpc_vat_serve_fd(v, sv[0], &e), 0);
    p->fd = sv[1];
    p->eof = false;
    p->npend = 0;
    fcntl(p->fd, F_SETFL, O_NONBLOCK);
    capnp_framer_init(&p->f, 0, 0);
}

static void peer_close(struct peer *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    capnp_framer_free(&p->f);
}

static void pump(int ms)
{
    uint64_t end = uv_now(uv_default_loop()) + (uint64_t)ms;
    do {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(uv_default_loop());
    } while (uv_now(uv_default_loop()) < end);
}

static void send_builder(struct peer *p, struct capnp_builder *b)
{
    uint8_t *buf;
    size_t len;
    struct err e;
    assert_int_equal(capnp_builder_serialize(b, &buf, &len, &e), 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(p->fd, buf + off, len - off);
        if (w < 0 && errno == EAGAIN) {
            pump(1);
            continue;
        }
        assert_true(w > 0);
        off += (size_t)w;
    }
    free(buf);
    capnp_builder_free(b);
}

/* The peer side is written with the generated rpc.capnp code, as the vat
 * is; tests/interop checks both against the C++ library. */
static void send_bootstrap(struct peer *p, uint32_t qid)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Bootstrap_B boot = rpc_Message_init_bootstrap(rpc_Message_new_root(&b));
    rpc_Bootstrap_set_questionId(boot, qid);
    capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(boot), "svc", 3);
    send_builder(p, &b);
}

/* A call on the bootstrap answer (question 0) with one text param. */
static void send_call(struct peer *p, uint32_t qid, uint16_t method, const char *text, size_t n)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Call_B call = rpc_Message_init_call(rpc_Message_new_root(&b));
    rpc_Call_set_questionId(call, qid);
    rpc_Call_set_interfaceId(call, TEST_IFACE);
    rpc_Call_set_methodId(call, method);
    rpc_PromisedAnswer_B pa = rpc_MessageTarget_init_promisedAnswer(rpc_Call_init_target(call));
    rpc_PromisedAnswer_set_questionId(pa, 0);
    rpc_Payload_B pay = rpc_Call_init_params(call);
    capnp_struct_b prm = capnp_ptr_b_init_struct(rpc_Payload_ptr_content(pay), 0, 1);
    capnp_ptr_b_set_text(capnp_struct_b_ptr(prm, 0), text, (uint32_t)n);
    send_builder(p, &b);
}

static struct capnp_msg *take_pending(struct peer *p)
{
    while (p->npend) {
        size_t used = 0;
        struct err e;
        int rc = capnp_framer_feed(&p->f, p->pend, p->npend, &used, &e);
        assert_true(rc >= 0);
        memmove(p->pend, p->pend + used, p->npend - used);
        p->npend -= used;
        if (rc == 1) {
            struct capnp_msg *m = calloc(1, sizeof *m);
            assert_int_equal(capnp_framer_take(&p->f, m, &e), 0);
            return m;
        }
        if (used == 0) break;
    }
    return NULL;
}

/* The next message from the vat (NULL on EOF or after ms). */
static struct capnp_msg *peer_read(struct peer *p, int ms)
{
    uint64_t end = uv_now(uv_default_loop()) + (uint64_t)ms;
    for (;;) {
        struct capnp_msg *m = take_pending(p);
        if (m) return m;
        ssize_t r = read(p->fd, p->pend + p->npend, sizeof p->pend - p->npend);
        if (r == 0) {
            p->eof = true;
            return NULL;
        }
        if (r > 0) {
            p->npend += (size_t)r;
            continue;
        }
        if (uv_now(uv_default_loop()) >= end) return NULL;
        pump(1);
    }
}

static uint16_t which_of(struct capnp_msg *m)
{
    return (uint16_t)rpc_Message_which(rpc_Message_read_root(m));
}

/* A fresh, polite peer gets its echo answered. */
static void check_healthy(struct rpc_vat *v)
{
    struct peer p;
    peer_open(&p, v);
    send_bootstrap(&p, 0);
    send_call(&p, 1, 0, "fine", 4);
    bool got = false;
    for (int i = 0; i < 4 && !got; i++) {
        struct capnp_msg *m = peer_read(&p, 2000);
        assert_non_null(m);
        rpc_Return_R ret = rpc_Message_get_return(rpc_Message_read_root(m));
        if (which_of(m) == rpc_Message_return && rpc_Return_get_answerId(ret) == 1) {
            assert_int_equal(rpc_Return_which(ret), rpc_Return_results);
            assert_false(rpc_Return_get_releaseParamCaps(ret));
            uint32_t n;
            const char *t = p0_text(rpc_Payload_get_content(rpc_Return_get_results(ret)), &n);
            assert_int_equal(n, 4);
            assert_memory_equal(t, "fine", 4);
            got = true;
        }
        msg_destroy(m);
    }
    assert_true(got);
    peer_close(&p);
    pump(20);
}

/* ------------------------------------------------------------ hostile tests */

/* A call of TEST_IFACE.method with one text param on promisedAnswer(on)
 * through pointer field 0 of its results (path 0) or on its root (no
 * path, for the bootstrap answer). */
__attribute__((unused)) static void send_call_on(struct peer *p, uint32_t qid, uint32_t on,
                                                 bool path, uint16_t method, const char *text)
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

__attribute__((unused)) static void send_finish(struct peer *p, uint32_t qid)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    rpc_Finish_B f = rpc_Message_init_finish(rpc_Message_new_root(&b));
    rpc_Finish_set_questionId(f, qid);
    rpc_Finish_set_releaseResultCaps(f, false);
    send_builder(p, &b);
}

__attribute__((unused)) static void send_bootstrap_id(struct peer *p, uint32_t qid, const char *id)
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
__attribute__((unused)) static uint16_t read_return(struct peer *p, uint32_t qid, char *text,
                                                    size_t cap)
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

__attribute__((unused)) static bool peer_sees_eof(struct peer *p)
{
    for (;;) {
        struct capnp_msg *m = peer_read(p, 5000);
        if (!m) return p->eof;
        msg_destroy(m);
    }
}

__attribute__((unused)) static int listen_tcp(struct rpc_vat *v)
{
    struct err e;
    assert_int_equal(rpc_vat_listen(v, "tcp:127.0.0.1:0", &e), 0);
    return rpc_vat_bound_port(v);
}

/* A raw peer over loopback TCP (an accepted connection, with a slot). */
__attribute__((unused)) static void peer_open_tcp(struct peer *p, int port, int rcvbuf)
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

#endif
