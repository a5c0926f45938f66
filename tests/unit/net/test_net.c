/*
 * Unit tests for the net layer: address parsing, the UDP workers (answers,
 * zone updates while workers run, fast stop) and DNS over TCP (framing,
 * pipelining, half-close, connection limit, idle timeout, stop), each
 * against a real zone set and real loopback sockets.
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

static const char *ZONE = "$ORIGIN t.example.\n"
                          "$TTL 300\n"
                          "@ SOA ns hostmaster 1 3600 900 86400 300\n"
                          "@ NS ns\n"
                          "ns A 192.0.2.1\n"
                          "www A 192.0.2.80\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds a query for name (presentation, absolute, simple labels). */
static size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype)
{
    struct wbuf b;
    wbuf_init(&b, out, 512);
    wbuf_u16(&b, id);
    wbuf_u16(&b, 0);
    wbuf_u16(&b, 1);
    wbuf_u16(&b, 0);
    wbuf_u16(&b, 0);
    wbuf_u16(&b, 0);
    const char *p = name;
    while (*p && *p != '.') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        wbuf_u8(&b, (uint8_t)n);
        wbuf_put(&b, p, n);
        p += n + (dot ? 1 : 0);
    }
    wbuf_u8(&b, 0);
    wbuf_u16(&b, qtype);
    wbuf_u16(&b, DNS_CLASS_IN);
    assert_true(wbuf_ok(&b));
    return b.len;
}

/* A free loopback port: bound once by the kernel's choice, then released. */
static uint16_t free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

struct fixture {
    struct zone_set_handle zones;
    struct zone *zone;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct err e;
    struct zone_version *v;
    rcu_register_thread();
    rcu_thread_offline();
    zone_set_handle_init(&f->zones);
    if (zone_load_string(ZONE, "t.zone", NULL, &v, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    f->zone = zone_new(v, &e);
    if (!f->zone || zone_set_add(&f->zones, f->zone, &e) < 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    zone_set_handle_destroy(&f->zones);
    free(f);
    rcu_thread_online();
    rcu_unregister_thread();
    return 0;
}

/* ---- addr ---- */

static void addr_parse_format(void **state)
{
    (void)state;
    struct net_addr a;
    struct err e;
    char s[NET_ADDR_STRLEN];
    assert_int_equal(net_addr_parse(&a, "127.0.0.1", 5353, &e), 0);
    assert_int_equal(a.ss.ss_family, AF_INET);
    assert_false(net_addr_is_any(&a));
    net_addr_format((struct sockaddr *)&a.ss, s, sizeof s);
    assert_string_equal(s, "127.0.0.1#5353");

    assert_int_equal(net_addr_parse(&a, "[::1]", 53, &e), 0);
    assert_int_equal(a.ss.ss_family, AF_INET6);
    net_addr_format((struct sockaddr *)&a.ss, s, sizeof s);
    assert_string_equal(s, "::1#53");

    assert_int_equal(net_addr_parse(&a, "::", 53, &e), 0);
    assert_true(net_addr_is_any(&a));
    assert_int_equal(net_addr_parse(&a, "0.0.0.0", 53, &e), 0);
    assert_true(net_addr_is_any(&a));

    assert_int_equal(net_addr_parse(&a, "fe80::1%lo", 53, &e), 0);
    assert_int_not_equal(((struct sockaddr_in6 *)&a.ss)->sin6_scope_id, 0);

    /* v4-mapped peers (dual-stack socket) print as IPv4. */
    assert_int_equal(net_addr_parse(&a, "::ffff:192.0.2.7", 1234, &e), 0);
    net_addr_format((struct sockaddr *)&a.ss, s, sizeof s);
    assert_string_equal(s, "192.0.2.7#1234");

    const char *bad[] = {"",          "[]",  "localhost",         "1.2.3",
                         "1.2.3.4.5", "::g", "fe80::1%nosuchif0", "[127.0.0.1",
                         "300.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = 0;
        assert_int_equal(net_addr_parse(&a, bad[i], 53, &e), -1);
        assert_non_null(strstr(e.msg, "bad address"));
    }
}

/* ---- UDP ---- */

static int udp_client(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Sends one query and returns the answer's length (-1: no answer). */
static ssize_t udp_ask(int fd, uint16_t id, const char *name, uint16_t qtype, uint8_t *ans)
{
    uint8_t q[512];
    size_t n = make_query(q, id, name, qtype);
    assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    return recv(fd, ans, 4096, 0);
}

static void udp_answers_and_updates(void **state)
{
    struct fixture *f = *state;
    struct err e;
    uint16_t port = free_port(SOCK_DGRAM);
    struct net_addr a;
    assert_int_equal(net_addr_parse(&a, "127.0.0.1", port, &e), 0);
    struct udp_config cfg = {.addrs = &a, .naddrs = 1, .workers_per_addr = 2, .zones = &f->zones};
    struct udp_server *s = udp_start(&cfg, &e);
    assert_non_null(s);
    assert_int_equal(udp_worker_count(s), 2);

    /* Several clients, so both SO_REUSEPORT sockets get traffic. */
    for (int c = 0; c < 8; c++) {
        int fd = udp_client(port);
        uint8_t ans[4096];
        ssize_t n = udp_ask(fd, (uint16_t)(100 + c), "www.t.example.", DNS_T_A, ans);
        assert_true(n > 12);
        assert_int_equal(be16(ans), 100 + c);
        uint16_t flags = be16(ans + 2);
        assert_true(flags & DNS_F_QR);
        assert_true(flags & DNS_F_AA);
        assert_int_equal(DNS_RCODE(flags), DNS_RC_NOERROR);
        assert_int_equal(be16(ans + 6), 1);
        close(fd);
    }

    /* An update while the workers are idle in recvmmsg: they are offline,
     * so the grace period must not wait for them. */
    int fd = udp_client(port);
    uint8_t ans[4096];
    ssize_t n = udp_ask(fd, 1, "new.t.example.", DNS_T_A, ans);
    assert_true(n > 12);
    assert_int_equal(DNS_RCODE(be16(ans + 2)), DNS_RC_NXDOMAIN);
    uint8_t owner[] = "\3new\1t\7example";
    uint8_t rd[4] = {192, 0, 2, 99};
    struct dns_change ch = {
        .op = DNS_CHANGE_ADD, .owner = owner, .type = DNS_T_A, .ttl = 60, .rdlen = 4, .rdata = rd};
    double t0 = now();
    assert_int_equal(zone_apply(f->zone, &ch, 1, 2, &e), 0);
    assert_true(now() - t0 < 1.0);
    n = udp_ask(fd, 2, "new.t.example.", DNS_T_A, ans);
    assert_true(n > 12);
    assert_int_equal(DNS_RCODE(be16(ans + 2)), DNS_RC_NOERROR);
    assert_int_equal(be16(ans + 6), 1);
    assert_memory_equal(ans + n - 4, rd, 4);

    /* Responses (QR set) and runts get no answer; the worker lives on. */
    uint8_t q[512];
    size_t qn = make_query(q, 3, "www.t.example.", DNS_T_A);
    q[2] |= 0x80;
    send(fd, q, qn, 0);
    send(fd, q, 5, 0);
    n = udp_ask(fd, 4, "www.t.example.", DNS_T_A, ans);
    assert_true(n > 12);
    assert_int_equal(be16(ans), 4);
    close(fd);

    t0 = now();
    udp_stop(s);
    assert_true(now() - t0 < 1.0);
}

/* Clients hammer the workers while the zone changes under them: every
 * answer must be whole and consistent, every publish quick, and ASan sees
 * any read of a freed version. */
struct hammer {
    uint16_t port;
    atomic_bool stop;
    atomic_long answers, bad;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    int fd = udp_client(h->port);
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t q[512], ans[4096];
    for (uint16_t id = 1; !atomic_load(&h->stop); id++) {
        /* A burst, so the workers see batches. */
        for (int k = 0; k < 16; k++) {
            size_t n = make_query(q, (uint16_t)(id + k), k % 2 ? "churn.t.example." : "t.example.",
                                  k % 2 ? DNS_T_A : DNS_T_SOA);
            send(fd, q, n, 0);
        }
        for (int k = 0; k < 16; k++) {
            ssize_t n = recv(fd, ans, sizeof ans, 0);
            if (n < 0) break;
            uint16_t rc = DNS_RCODE(be16(ans + 2));
            /* churn exists or not, depending on the version: never anything else. */
            if (n < 12 || !(be16(ans + 2) & DNS_F_AA) ||
                (rc != DNS_RC_NOERROR && rc != DNS_RC_NXDOMAIN))
                atomic_fetch_add(&h->bad, 1);
            atomic_fetch_add(&h->answers, 1);
        }
        id = (uint16_t)(id + 16);
    }
    close(fd);
    return NULL;
}

static void udp_updates_under_load(void **state)
{
    struct fixture *f = *state;
    struct err e;
    struct hammer h = {.port = free_port(SOCK_DGRAM)};
    struct net_addr a;
    net_addr_parse(&a, "127.0.0.1", h.port, &e);
    struct udp_config cfg = {.addrs = &a, .naddrs = 1, .workers_per_addr = 2, .zones = &f->zones};
    struct udp_server *s = udp_start(&cfg, &e);
    assert_non_null(s);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h), 0);

    uint8_t owner[] = "\5churn\1t\7example";
    double worst = 0;
    /* At least 200 updates, and on until the readers got 100 answers during
     * them: an update no longer copies the zone, so 200 can be over before
     * the readers' first few round trips (issue 12). */
    uint32_t i = 0;
    for (; i < 200 || (atomic_load(&h.answers) <= 100 && i < 1000000); i++) {
        uint8_t rd[4] = {192, 0, 2, (uint8_t)i};
        struct dns_change ch = {.op = i % 2 ? DNS_CHANGE_DEL_NAME : DNS_CHANGE_ADD,
                                .owner = owner,
                                .type = DNS_T_A,
                                .ttl = 60,
                                .rdlen = 4,
                                .rdata = rd};
        double t0 = now();
        assert_int_equal(zone_apply(f->zone, &ch, 1, 10 + i, &e), 0);
        if (now() - t0 > worst) worst = now() - t0;
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    udp_stop(s);
    print_message("%ld answers during %u updates, slowest publish %.1f ms\n",
                  atomic_load(&h.answers), i, worst * 1e3);
    assert_true(atomic_load(&h.answers) > 100);
    assert_int_equal(atomic_load(&h.bad), 0);
    assert_true(worst < 1.0);
}

static void udp_port_in_use(void **state)
{
    struct fixture *f = *state;
    struct err e;
    uint16_t port = free_port(SOCK_DGRAM);
    struct net_addr a;
    net_addr_parse(&a, "127.0.0.1", port, &e);
    struct udp_config cfg = {.addrs = &a, .naddrs = 1, .workers_per_addr = 1, .zones = &f->zones};
    struct udp_server *s = udp_start(&cfg, &e);
    assert_non_null(s);
    /* A second server of the same user: SO_REUSEPORT would let it share
     * the port; udp_start must refuse instead. */
    e.msg[0] = 0;
    assert_null(udp_start(&cfg, &e));
    assert_non_null(strstr(e.msg, "in use"));
    udp_stop(s);
    /* Once stopped, the port is free again. */
    s = udp_start(&cfg, &e);
    assert_non_null(s);
    udp_stop(s);
}

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
    int d = tcp_client(x.port);
    assert_true(pump_until_readable(&x, d, 1.0));
    uint8_t byte;
    ssize_t r = recv(d, &byte, 1, 0);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    close(d);
    assert_int_equal(dns_tcp_connections(x.t), 3);
    uint8_t q[512], ans[65535];
    size_t n = make_query(q + 2, 9, "t.example.", DNS_T_SOA);
    put_be16(q, (uint16_t)n);
    assert_int_equal(send(fds[2], q, n + 2, 0), (ssize_t)(n + 2));
    assert_true(tcp_read_msg(&x, fds[2], ans, sizeof ans) > 12);
    /* A slot given back is free again for that address. */
    close(fds[0]);
    for (int i = 0; i < 1000 && dns_tcp_connections(x.t) > 2; i++)
        pump(&x, 0.001);
    int g = tcp_client(x.port);
    assert_int_equal(send(g, q, n + 2, 0), (ssize_t)(n + 2));
    assert_true(tcp_read_msg(&x, g, ans, sizeof ans) > 12);
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
    /* Third one: accepted and closed at once. */
    int c = tcp_client(x.port);
    assert_true(pump_until_readable(&x, c, 1.0));
    uint8_t byte;
    ssize_t r = recv(c, &byte, 1, 0);
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    close(c);
    assert_int_equal(dns_tcp_connections(x.t), 2);

    /* The idle one is closed after the timeout (300 ms here); the one
     * that keeps asking stays. */
    uint8_t q[512], ans[65535];
    double closed_at = 0;
    while (now() - ta < 1.0) {
        size_t n = make_query(q + 2, 7, "t.example.", DNS_T_SOA);
        put_be16(q, (uint16_t)n);
        assert_int_equal(send(b, q, n + 2, 0), (ssize_t)(n + 2));
        assert_true(tcp_read_msg(&x, b, ans, sizeof ans) > 12);
        pump(&x, 0.01);
        struct pollfd p = {.fd = a, .events = POLLIN};
        if (!closed_at && poll(&p, 1, 0) > 0) closed_at = now();
    }
    assert_true(closed_at > 0);
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
    uint8_t q[512], ans[65535];
    size_t n = make_query(q + 2, 9, "www.t.example.", DNS_T_A);
    put_be16(q, (uint16_t)n);
    pump(&x, 0.05);
    assert_int_equal(dns_tcp_connections(x.t), 2);
    double start = now(), closed_at = 0;
    size_t sent = 0;
    while (!closed_at && now() - start < 2.0 && sent < n + 2) {
        ssize_t w = send(slow, q + sent, 1, MSG_NOSIGNAL);
        if (w == 1) sent++;
        size_t m = make_query(q + 300 + 2, 10, "t.example.", DNS_T_SOA);
        put_be16(q + 300, (uint16_t)m);
        assert_int_equal(send(good, q + 300, m + 2, 0), (ssize_t)(m + 2));
        assert_true(tcp_read_msg(&x, good, ans, sizeof ans) > 12);
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
        cmocka_unit_test(addr_parse_format),
        cmocka_unit_test_setup_teardown(udp_answers_and_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(udp_updates_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(udp_port_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_pipelined_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_limit_and_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_per_address_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_trickle_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_port_in_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
