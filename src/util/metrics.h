/*
 * metrics: writing counters and gauges in the Prometheus text exposition
 * format (version 0.0.4), the format CoreDNS and Knot's exporter use, so
 * existing dashboards and `curl` read capd's statistics.
 *
 * A struct metrics_text is a growable text buffer bounded by
 * METRICS_TEXT_MAX; once a write does not fit it is marked overflowed and
 * later writes are ignored (check metrics_text_ok once at the end). Each
 * module that keeps statistics offers a render function writing its
 * families; the exposition endpoint (net/metrics_http.h) calls them.
 *
 * Names follow Prometheus conventions: capd_<module>_<what>_total for
 * counters, label values escaped as the format requires.
 */
#ifndef CEON_UTIL_METRICS_H
#define CEON_UTIL_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_TEXT_MAX (1u << 20)

struct metrics_text {
    char *p;
    size_t len, cap;
    bool overflow;
};

void metrics_text_init(struct metrics_text *t);
void metrics_text_free(struct metrics_text *t);
static inline bool metrics_text_ok(const struct metrics_text *t)
{
    return !t->overflow;
}

/* A module's statistics: render writes its families into t. */
struct metrics_source {
    void (*render)(void *ud, struct metrics_text *t);
    void *ud;
};

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge" or
 * "histogram". Once per family, before its samples. */
void metrics_family(struct metrics_text *t, const char *name, const char *type, const char *help);
/* One sample: name{l1="v1",l2="v2"} value. labels is a NULL-terminated
 * list of name, value pairs (NULL for none); values are escaped. */
void metrics_sample(struct metrics_text *t, const char *name, const char *const *labels,
                    uint64_t value);
/* A sample with a fractional value (seconds, ...). */
void metrics_sample_f(struct metrics_text *t, const char *name, const char *const *labels,
                      double value);

/* A latency histogram with fixed bucket bounds (seconds), for one writer
 * thread at a time (the caller serialises observe; readers may read while
 * it writes: every field is a relaxed atomic). */
#define METRICS_HIST_BUCKETS 12
struct metrics_hist {
    uint64_t bucket[METRICS_HIST_BUCKETS + 1]; /* the last is +Inf */
    uint64_t count;
    uint64_t sum_us;
};
/* Upper bounds in seconds: 0.5 ms .. 10 s. */
extern const double metrics_hist_bounds[METRICS_HIST_BUCKETS];
void metrics_hist_observe(struct metrics_hist *h, uint64_t us);
/* Writes the _bucket, _sum and _count samples of family `name`. */
void metrics_hist_render(struct metrics_text *t, const char *name, const char *const *labels,
                         const struct metrics_hist *h);

/* Single-writer counters: the owning thread increments with a relaxed
 * load and store (a plain add, no lock prefix), readers load relaxed. */
static inline void metrics_inc(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
static inline uint64_t metrics_read(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}
#endif
