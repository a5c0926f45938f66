/* net/metrics_http: what each request head is taken for; net/stats tables. */
#include "net/metrics_http.h"
#include "net/stats.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static enum metrics_http_request parse(const char *s)
{
    return metrics_http_parse(s, strlen(s));
}

static void requests(void **state)
{
    (void)state;
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), METRICS_REQ_METRICS);
    assert_int_equal(parse("GET /metrics HTTP/1.0\n\n"), METRICS_REQ_METRICS);
    assert_int_equal(parse("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), METRICS_REQ_METRICS);
    assert_int_equal(parse("GET /metricsx HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n"), METRICS_REQ_NOT_FOUND);
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD_METHOD);
    assert_int_equal(parse("HEAD /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD_METHOD);
    /* Incomplete: no blank line yet, however much of the head is there. */
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"), METRICS_REQ_INCOMPLETE);
    assert_int_equal(parse(""), METRICS_REQ_INCOMPLETE);
    /* Not HTTP/1.x. */
    assert_int_equal(parse("GET /metrics\r\n\r\n"), METRICS_REQ_BAD);
    assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n"), METRICS_REQ_BAD);
    assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD);
    assert_int_equal(parse("GET  HTTP/1.1\r\n\r\n"), METRICS_REQ_BAD);
    assert_int_equal(parse("\r\n\r\n"), METRICS_REQ_BAD);
    assert_int_equal(parse("\n\n"), METRICS_REQ_BAD);
}

/* net/stats: the query path's lookup tables match the labels. */
static void stats_tables(void **state)
{
    (void)state;
    assert_true(net_stats_tables_agree());
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(requests), cmocka_unit_test(stats_tables)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
