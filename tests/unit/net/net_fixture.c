/*
 * net_fixture: what tests/unit/net/test_net.c (addresses, UDP) and
 * test_net_tcp.c (DNS over TCP) share: the zone t.example. in a real zone
 * set (cmocka setup/teardown), queries built by hand, free loopback ports
 * and a monotonic clock.
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
#include "net_fixture.h"
#include "util/buf.h"

static const char *ZONE = "$ORIGIN t.example.\n"
                          "$TTL 300\n"
                          "@ SOA ns hostmaster 1 3600 900 86400 300\n"
                          "@ NS ns\n"
                          "ns A 192.0.2.1\n"
                          "www A 192.0.2.80\n";

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds a query for name (presentation, absolute, simple labels). */
size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype)
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
uint16_t free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

int setup(void **state)
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

int teardown(void **state)
{
    struct fixture *f = *state;
    zone_set_handle_destroy(&f->zones);
    free(f);
    rcu_thread_online();
    rcu_unregister_thread();
    return 0;
}
