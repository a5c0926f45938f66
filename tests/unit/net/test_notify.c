/* Unit tests of the NOTIFY sender (net/notify.h) against a secondary played
 * by the test on a loopback UDP socket: the message (opcode NOTIFY, AA, the
 * zone's SOA as question), retries until an answer, at most max_tries,
 * coalescing of changes. Outcomes are counted, never timed: each test runs
 * the loop until the notifier reports what the test waits for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/wire.h"
#include "net/notify.h"
#include "util/buf.h"

static const uint8_t APEX[] = "\7example\3org";

struct secondary {
    uv_udp_t sock;
    struct net_addr addr;
    struct notifier *n;
    int received;
    int answer_from;   /* answer datagrams from this one on (1-based); 0: never */
    uint32_t on_first; /* if set: report this serial as a change when the first arrives */
    uint16_t last_id;
};

struct run_until {
    uv_timer_t t;
    struct secondary *s;
    unsigned long answered, abandoned;
    unsigned ticks;
};

static uint8_t rbuf[1024];
static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    (void)n;
    *b = uv_buf_init((char *)rbuf, sizeof rbuf);
}

static void recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    (void)flags;
    struct secondary *s = h->data;
    if (n <= 0 || !from) return;
    const uint8_t *p = (const uint8_t *)buf->base;
    assert_true(n >= DNS_HEADER_LEN + 13 + 4);
    uint16_t fl = be16(p + 2);
    assert_int_equal(DNS_OPCODE(fl), DNS_OP_NOTIFY);
    assert_true(fl & DNS_F_AA);
    assert_false(fl & DNS_F_QR);
    assert_int_equal(be16(p + 4), 1);
    assert_memory_equal(p + DNS_HEADER_LEN, APEX, 13);
    assert_int_equal(be16(p + DNS_HEADER_LEN + 13), DNS_T_SOA);
    s->received++;
    s->last_id = be16(p);
    if (s->received == 1 && s->on_first) notifier_changed(s->n, APEX, s->on_first);
    if (s->answer_from && s->received >= s->answer_from) {
        uint8_t ans[512];
        memcpy(ans, p, (size_t)n);
        put_be16(ans + 2, (uint16_t)(fl | DNS_F_QR));
        uv_buf_t b = uv_buf_init((char *)ans, (unsigned)n);
        assert_true(uv_udp_try_send(h, &b, 1, from) == n);
    }
}

static void tick(uv_timer_t *t)
{
    struct run_until *r = t->data;
    struct notifier_counts c;
    notifier_counts(r->s->n, &c);
    /* A guard against a hang (30 s), not a measurement. */
    assert_true(++r->ticks < 30000);
    if (c.answered >= r->answered && c.abandoned >= r->abandoned) uv_stop(t->loop);
}

/* Starts a secondary and a notifier aimed at it, reports the changes, runs
 * until the notifier has seen `answered` answers and `abandoned` give-ups,
 * and returns its counts. */
static struct notifier_counts scenario(struct secondary *s, unsigned retry_ms, unsigned tries,
                                       const uint32_t *changes, size_t nchanges,
                                       unsigned long answered, unsigned long abandoned)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    assert_int_equal(uv_udp_init(&loop, &s->sock), 0);
    s->sock.data = s;
    assert_int_equal(net_addr_parse(&s->addr, "127.0.0.1", 0, &e), 0);
    assert_int_equal(uv_udp_bind(&s->sock, (const struct sockaddr *)&s->addr.ss, 0), 0);
    int len = sizeof s->addr.ss;
    assert_int_equal(uv_udp_getsockname(&s->sock, (struct sockaddr *)&s->addr.ss, &len), 0);
    assert_int_equal(uv_udp_recv_start(&s->sock, alloc_cb, recv_cb), 0);
    struct notifier_config cfg = {
        .targets = &s->addr, .ntargets = 1, .first_retry_ms = retry_ms, .max_tries = tries};
    if (notifier_start(&loop, &cfg, &s->n, &e) < 0) fail_msg("%s", e.msg);
    for (size_t i = 0; i < nchanges; i++)
        notifier_changed(s->n, APEX, changes[i]);
    struct run_until r = {.s = s, .answered = answered, .abandoned = abandoned};
    uv_timer_init(&loop, &r.t);
    r.t.data = &r;
    uv_timer_start(&r.t, tick, 1, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    struct notifier_counts c;
    notifier_counts(s->n, &c);
    notifier_stop(s->n);
    uv_close((uv_handle_t *)&r.t, NULL);
    uv_close((uv_handle_t *)&s->sock, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    notifier_free(s->n);
    assert_int_equal(uv_loop_close(&loop), 0);
    return c;
}

/* The first NOTIFY is lost (not answered): it is sent again, and the
 * answer to the second ends it. */
static void test_retried_until_answered(void **st)
{
    (void)st;
    struct secondary s = {.answer_from = 2};
    uint32_t ch[] = {5};
    struct notifier_counts c = scenario(&s, 20, 0, ch, 1, 1, 0);
    assert_int_equal(s.received, 2);
    assert_int_equal(c.sent, 2);
    assert_int_equal(c.answered, 1);
    assert_int_equal(c.abandoned, 0);
}

/* Never answered: exactly max_tries datagrams, then it gives up. */
static void test_bounded_tries(void **st)
{
    (void)st;
    struct secondary s = {.answer_from = 0};
    uint32_t ch[] = {5};
    struct notifier_counts c = scenario(&s, 5, 3, ch, 1, 0, 1);
    assert_int_equal(s.received, 3);
    assert_int_equal(c.sent, 3);
    assert_int_equal(c.abandoned, 1);
}

/* Three changes before the loop runs are one NOTIFY; a change while one is
 * outstanding is exactly one more, after the answer (retries off). */
static void test_coalesced(void **st)
{
    (void)st;
    struct secondary s = {.answer_from = 1, .on_first = 8};
    uint32_t ch[] = {5, 6, 7};
    struct notifier_counts c = scenario(&s, 60000, 0, ch, 3, 2, 0);
    assert_int_equal(s.received, 2);
    assert_int_equal(c.sent, 2);
    assert_int_equal(c.answered, 2);
}

static void test_parse_target(void **st)
{
    (void)st;
    struct net_addr a;
    struct err e;
    assert_int_equal(notifier_parse_target("127.0.0.1:5300", &a, &e), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 5300);
    assert_int_equal(notifier_parse_target("127.0.0.1", &a, &e), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 53);
    assert_int_equal(notifier_parse_target("[::1]:5301", &a, &e), 0);
    assert_int_equal(a.ss.ss_family, AF_INET6);
    assert_int_equal(notifier_parse_target("::1", &a, &e), 0);
    assert_int_equal(notifier_parse_target("127.0.0.1:0", &a, &e), -1);
    assert_int_equal(notifier_parse_target("127.0.0.1:x", &a, &e), -1);
    assert_int_equal(notifier_parse_target("[::1", &a, &e), -1);
    assert_int_equal(notifier_parse_target("host.example:53", &a, &e), -1);
    assert_int_equal(notifier_parse_target("", &a, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retried_until_answered),
        cmocka_unit_test(test_bounded_tries),
        cmocka_unit_test(test_coalesced),
        cmocka_unit_test(test_parse_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
