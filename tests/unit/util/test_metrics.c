/* util/metrics: the Prometheus text writer and the latency histogram. */
#include "util/metrics.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void family_and_samples(void **state)
{
    (void)state;
    struct metrics_text t;
    metrics_text_init(&t);
    metrics_family(&t, "capd_x_total", "counter", "things");
    const char *l[] = {"a", "1", "b", "two", NULL};
    metrics_sample(&t, "capd_x_total", l, 42);
    metrics_sample(&t, "capd_y", NULL, 0);
    assert_true(metrics_text_ok(&t));
    assert_string_equal(t.p, "# HELP capd_x_total things\n"
                             "# TYPE capd_x_total counter\n"
                             "capd_x_total{a=\"1\",b=\"two\"} 42\n"
                             "capd_y 0\n");
    metrics_text_free(&t);
}

/* Label values escape backslash, quote and newline (text format 0.0.4). */
static void label_escaping(void **state)
{
    (void)state;
    struct metrics_text t;
    metrics_text_init(&t);
    const char *l[] = {"zone", "a\"b\\c\nd", NULL};
    metrics_sample(&t, "m", l, 1);
    assert_string_equal(t.p, "m{zone=\"a\\\"b\\\\c\\nd\"} 1\n");
    metrics_text_free(&t);
}

static void histogram_is_cumulative(void **state)
{
    (void)state;
    struct metrics_hist h = {0};
    metrics_hist_observe(&h, 100);      /* 0.1 ms: first bucket (0.5 ms) */
    metrics_hist_observe(&h, 500);      /* exactly 0.5 ms: still the first (le) */
    metrics_hist_observe(&h, 3000);     /* 3 ms: the 5 ms bucket */
    metrics_hist_observe(&h, 60000000); /* 60 s: only +Inf */
    struct metrics_text t;
    metrics_text_init(&t);
    metrics_hist_render(&t, "lat", NULL, &h);
    assert_non_null(strstr(t.p, "lat_bucket{le=\"0.0005\"} 2\n"));
    assert_non_null(strstr(t.p, "lat_bucket{le=\"0.0025\"} 2\n"));
    assert_non_null(strstr(t.p, "lat_bucket{le=\"0.005\"} 3\n"));
    assert_non_null(strstr(t.p, "lat_bucket{le=\"10\"} 3\n"));
    assert_non_null(strstr(t.p, "lat_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t.p, "lat_count 4\n"));
    assert_non_null(strstr(t.p, "lat_sum 60.003600\n"));
    metrics_text_free(&t);
}

/* Past METRICS_TEXT_MAX the text is marked overflowed, never grown. */
static void bounded(void **state)
{
    (void)state;
    struct metrics_text t;
    metrics_text_init(&t);
    for (size_t i = 0; i < METRICS_TEXT_MAX / 8 && metrics_text_ok(&t); i++)
        metrics_sample(&t, "a_long_metric_name", NULL, i);
    assert_false(metrics_text_ok(&t));
    assert_true(t.len <= METRICS_TEXT_MAX);
    size_t len = t.len;
    metrics_sample(&t, "x", NULL, 1);
    assert_int_equal(t.len, len);
    metrics_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_and_samples),
        cmocka_unit_test(label_escaping),
        cmocka_unit_test(histogram_is_cumulative),
        cmocka_unit_test(bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
