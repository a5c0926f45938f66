/*
 * Unit tests for DNS over TCP (net/tcp.h): framing, pipelining,
 * half-close, the connection limits (total and per address), the idle
 * timeout and a slow client's deadline, and stop, against a real zone
 * set and real loopback sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>
#include <uv.h>

#include "dns/wire.h"
#include "dns/zone.h"
#include "net/addr.h"
#include "net/tcp.h"
#include "net/udp.h"
#include "util/buf.h"

#include "net_fixture.h"

/* ---- TCP ---- */

struct tcp_fix {
    uv_loop_t loop;
    struct dns_tcp *t;
    uint16_t port;
};

static void tcp_begin_frame(struct fixture *f, struct tcp_fix *x, unsigned max_conns,
                            unsigned idle_ms, unsigned frame_ms)
{
    struct err e;
    assert_int_equal(uv_loop_init(&x->loop), 0);
    x->port = free_port(SOCK_STREAM);
    struct net_addr a;
    net_addr_parse(&a, "127.0.0.1", x->port, &e);
    struct dns_tcp_config cfg = {.addrs = &a,
                                 .naddrs = 1,
                                 .max_conns = max_conns,
                                 .idle_timeout_ms = idle_ms,
                                 .frame_timeout_ms = frame_ms,
                                 .zones = &f->zones};
    assert_int_equal(dns_tcp_start(&x->loop, &cfg, &x->t, &e), 0);
}

static void tcp_begin(struct fixture *f, struct tcp_fix *x, unsigned max_conns, unsigned idle_ms)
{
    tcp_begin_frame(f, x, max_conns, idle_ms, 0);
}

static void tcp_end(struct tcp_fix *x)
{
    dns_tcp_stop(x->t);
    uv_run(&x->loop, UV_RUN_DEFAULT); /* releases every handle */
    assert_int_equal(uv_loop_close(&x->loop), 0);
}

/* Runs the loop until fd is readable (or shows EOF), at most `secs`. */
static bool pump_until_readable(struct tcp_fix *x, int fd, double secs)
{
    double end = now() + secs;
    while (now() < end) {
        uv_run(&x->loop, UV_RUN_NOWAIT);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2) > 0) return true;
    }
    return false;
}

static void pump(struct tcp_fix *x, double secs)
{
    double end = now() + secs;
    while (now() < end) {
        uv_run(&x->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static int tcp_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Reads one framed message, driving the loop meanwhile. Returns its
 * length, 0 on EOF, -1 on timeout. */
static ssize_t tcp_read_msg(struct tcp_fix *x, int fd, uint8_t *msg, size_t cap)
{
    uint8_t buf[2 + 65535];
    size_t have = 0;
    double end = now() + 3;
    while (now() < end) {
        if (have >= 2 && have >= 2 + (size_t)be16(buf)) {
            size_t len = be16(buf);
            assert_true(len <= cap);
            memcpy(msg, buf + 2, len);
            return (ssize_t)len;
        }
        /* Read byte-exact so the next message stays in the socket. */
        size_t want = have < 2 ? 2 - have : 2 + (size_t)be16(buf) - have;
        ssize_t n = recv(fd, buf + have, want, 0);
        if (n == 0) return 0;
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
        pump_until_readable(x, fd, 0.05);
    }
    return -1;
}

/* Asks fd for t.example. SOA (query id `id`): an answer must come. */
static void ask_soa(struct tcp_fix *x, int fd, uint16_t id)
{
    uint8_t q[512], ans[65535];
    size_t n = make_query(q + 2, id, "t.example.", DNS_T_SOA);
    put_be16(q, (uint16_t)n);
    assert_int_equal(send(fd, q, n + 2, 0), (ssize_t)(n + 2));
    assert_true(tcp_read_msg(x, fd, ans, sizeof ans) > 12);
}

/* One more client is accepted and closed at once (EOF or reset), and the
 * server still holds `live` connections. */
static void assert_turned_away(struct tcp_fix *x, size_t live)
{
    int fd = tcp_client(x->port);
    assert_true(pump_until_readable(x, fd, 1.0));
    uint8_t byte;
    ssize_t r = recv(fd, &byte, 1, 0);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    close(fd);
    assert_int_equal(dns_tcp_connections(x->t), live);
}

static void tcp_pipelined_partial(void **state)
{
    struct fixture *f = *state;
    struct tcp_fix x;
    tcp_begin(f, &x, 0, 0);
    int fd = tcp_client(x.port);

    /* Three queries, then a zero-length frame (answered with nothing),
     * sent one byte at a time so every frame and length prefix is split. */
    uint8_t stream[2048];
    size_t len = 0;
    const char *names[] = {"www.t.example.", "nope.t.example.", "t.example."};
    uint16_t types[] = {DNS_T_A, DNS_T_A, DNS_T_SOA};
    for (int i = 0; i < 3; i++) {
        size_t n = make_query(stream + len + 2, (uint16_t)(10 + i), names[i], types[i]);
        put_be16(stream + len, (uint16_t)n);
        len += 2 + n;
        if (i == 1) {
            put_be16(stream + len, 0);
            len += 2;
        }
    }
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(send(fd, stream + i, 1, 0), 1);
        pump(&x, 0.001);
    }
    uint8_t ans[65535];
    uint16_t rcodes[] = {DNS_RC_NOERROR, DNS_RC_NXDOMAIN, DNS_RC_NOERROR};
    for (int i = 0; i < 3; i++) {
        ssize_t n = tcp_read_msg(&x, fd, ans, sizeof ans);
        assert_true(n > 12);
        assert_int_equal(be16(ans), 10 + i);
        assert_int_equal(DNS_RCODE(be16(ans + 2)), rcodes[i]);
    }
    assert_int_equal(dns_tcp_connections(x.t), 1);

    /* Half-close after a query: the answer still comes, then EOF. */
    size_t n = make_query(stream + 2, 20, "www.t.example.", DNS_T_A);
    put_be16(stream, (uint16_t)n);
    assert_int_equal(send(fd, stream, n + 2, 0), (ssize_t)(n + 2));
    shutdown(fd, SHUT_WR);
    ssize_t r = tcp_read_msg(&x, fd, ans, sizeof ans);
    assert_true(r > 12);
    assert_int_equal(be16(ans), 20);
    assert_int_equal(tcp_read_msg(&x, fd, ans, sizeof ans), 0);
    close(fd);
    pump(&x, 0.05);
    assert_int_equal(dns_tcp_connections(x.t), 0);
    tcp_end(&x);
}

/* One source address gets at most max_conns_per_addr connections (issue
 * 9 point 6): the next is closed at once, the others are served. */
static void tcp_per_address_limit(void **state)
{
    struct fixture *f = *state;
    struct tcp_fix x;
    struct err e;
    assert_int_equal(uv_loop_init(&x.loop), 0);
    x.port = free_port(SOCK_STREAM);
    struct net_addr a;
    net_addr_parse(&a, "127.0.0.1", x.port, &e);
    struct dns_tcp_config cfg = {
        .addrs = &a, .naddrs = 1, .max_conns_per_addr = 3, .zones = &f->zones};
    assert_int_equal(dns_tcp_start(&x.loop, &cfg, &x.t, &e), 0);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = tcp_client(x.port);
    for (int i = 0; i < 1000 && dns_tcp_connections(x.t) < 3; i++)
        pump(&x, 0.001);
    assert_int_equal(dns_tcp_connections(x.t), 3);
    assert_turned_away(&x, 3);
    ask_soa(&x, fds[2], 9);
    /* A slot given back is free again for that address. */
    close(fds[0]);
    for (int i = 0; i < 1000 && dns_tcp_connections(x.t) > 2; i++)
        pump(&x, 0.001);
    int g = tcp_client(x.port);
    ask_soa(&x, g, 9);
    close(g);
    close(fds[1]);
    close(fds[2]);
    tcp_end(&x);
}

static void tcp_limit_and_idle(void **state)
{
    struct fixture *f = *state;
    struct tcp_fix x;
    tcp_begin(f, &x, 2, 300);
    double ta = now();
    int a = tcp_client(x.port), b = tcp_client(x.port);
    pump(&x, 0.05);
    assert_int_equal(dns_tcp_connections(x.t), 2);
    assert_turned_away(&x, 2); /* the third */

    /* The idle one is closed after the timeout (300 ms here); the one
     * that keeps asking stays. */
    double closed_at = 0;
    while (now() - ta < 1.0) {
        ask_soa(&x, b, 7);
        pump(&x, 0.01);
        struct pollfd p = {.fd = a, .events = POLLIN};
        if (!closed_at && poll(&p, 1, 0) > 0) closed_at = now();
    }
    assert_true(closed_at > 0);
    uint8_t byte;
    assert_int_equal(recv(a, &byte, 1, 0), 0);
    double idle = closed_at - ta;
    assert_true(idle >= 0.29 && idle < 0.8);
    assert_int_equal(dns_tcp_connections(x.t), 1);
    close(a);

    /* Stop with a connection still open: everything is released (ASan
     * would report a leak otherwise) and the client sees EOF. */
    dns_tcp_stop(x.t);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    struct pollfd p = {.fd = b, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(recv(b, &byte, 1, 0), 0);
    close(b);
    assert_int_equal(uv_loop_close(&x.loop), 0);
}

/* Slowloris: a client that trickles a query one byte every 100 ms never
 * completes a frame; the frame deadline (300 ms here, the idle timeout
 * is 1 s) closes it whatever it sends meanwhile, while a client that
 * asks complete queries at the same pace stays. */
static void tcp_trickle_deadline(void **state)
{
    struct fixture *f = *state;
    struct tcp_fix x;
    tcp_begin_frame(f, &x, 0, 1000, 300);
    int slow = tcp_client(x.port), good = tcp_client(x.port);
    uint8_t q[512];
    size_t n = make_query(q + 2, 9, "www.t.example.", DNS_T_A);
    put_be16(q, (uint16_t)n);
    pump(&x, 0.05);
    assert_int_equal(dns_tcp_connections(x.t), 2);
    double start = now(), closed_at = 0;
    size_t sent = 0;
    while (!closed_at && now() - start < 2.0 && sent < n + 2) {
        ssize_t w = send(slow, q + sent, 1, MSG_NOSIGNAL);
        if (w == 1) sent++;
        ask_soa(&x, good, 10);
        double step = now();
        while (!closed_at && now() - step < 0.1) {
            pump(&x, 0.005);
            struct pollfd p = {.fd = slow, .events = POLLIN};
            if (poll(&p, 1, 0) > 0) {
                uint8_t byte;
                ssize_t r = recv(slow, &byte, 1, 0);
                if (r == 0 || (r < 0 && errno == ECONNRESET)) closed_at = now();
            }
        }
    }
    assert_true(closed_at > 0);
    assert_true(sent < n + 2); /* before the query was complete */
    double held = closed_at - start;
    assert_true(held >= 0.29 && held < 0.7);
    assert_int_equal(dns_tcp_connections(x.t), 1);
    close(slow);
    close(good);
    tcp_end(&x);
}

static void tcp_port_in_use(void **state)
{
    struct fixture *f = *state;
    struct tcp_fix x;
    tcp_begin(f, &x, 0, 0);
    uv_loop_t loop2;
    uv_loop_init(&loop2);
    struct net_addr a;
    struct err e = {{0}};
    net_addr_parse(&a, "127.0.0.1", x.port, &e);
    struct dns_tcp_config cfg = {.addrs = &a, .naddrs = 1, .zones = &f->zones};
    struct dns_tcp *t2 = (struct dns_tcp *)&e; /* must be reset to NULL */
    assert_int_equal(dns_tcp_start(&loop2, &cfg, &t2, &e), -1);
    assert_null(t2);
    assert_non_null(strstr(e.msg, "in use"));
    uv_run(&loop2, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop2), 0);
    tcp_end(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tcp_pipelined_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_limit_and_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_per_address_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_trickle_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_port_in_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
