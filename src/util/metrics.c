#include "util/metrics.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_hist_bounds[METRICS_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1,    10};

void metrics_text_init(struct metrics_text *t)
{
    *t = (struct metrics_text){0};
}

void metrics_text_free(struct metrics_text *t)
{
    free(t->p);
    *t = (struct metrics_text){0};
}

static bool reserve(struct metrics_text *t, size_t n)
{
    if (t->overflow) return false;
    if (n > METRICS_TEXT_MAX - t->len) {
        t->overflow = true;
        return false;
    }
    if (t->len + n + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->overflow = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

static void put(struct metrics_text *t, const char *s, size_t n)
{
    if (!reserve(t, n)) return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
}

static void puts_(struct metrics_text *t, const char *s)
{
    put(t, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct metrics_text *t, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        t->overflow = true;
        return;
    }
    put(t, tmp, (size_t)n);
}

void metrics_family(struct metrics_text *t, const char *name, const char *type, const char *help)
{
    putf(t, "# HELP %s ", name);
    puts_(t, help); /* our own text: no newline or backslash in it */
    putf(t, "\n# TYPE %s %s\n", name, type);
}

/* Label values: backslash, double quote and newline escaped (text format
 * 0.0.4). */
static void put_label_value(struct metrics_text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            puts_(t, "\\\\");
        else if (*v == '"')
            puts_(t, "\\\"");
        else if (*v == '\n')
            puts_(t, "\\n");
        else
            put(t, v, 1);
    }
}

static void put_name_labels(struct metrics_text *t, const char *name, const char *const *labels,
                            const char *extra_name, const char *extra_value)
{
    puts_(t, name);
    bool any = (labels && labels[0]) || extra_name;
    if (!any) return;
    put(t, "{", 1);
    bool first = true;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        if (!first) put(t, ",", 1);
        first = false;
        puts_(t, labels[i]);
        put(t, "=\"", 2);
        put_label_value(t, labels[i + 1]);
        put(t, "\"", 1);
    }
    if (extra_name) {
        if (!first) put(t, ",", 1);
        puts_(t, extra_name);
        put(t, "=\"", 2);
        put_label_value(t, extra_value);
        put(t, "\"", 1);
    }
    put(t, "}", 1);
}

void metrics_sample(struct metrics_text *t, const char *name, const char *const *labels,
                    uint64_t value)
{
    put_name_labels(t, name, labels, NULL, NULL);
    putf(t, " %" PRIu64 "\n", value);
}

void metrics_sample_f(struct metrics_text *t, const char *name, const char *const *labels,
                      double value)
{
    put_name_labels(t, name, labels, NULL, NULL);
    putf(t, " %.6f\n", value);
}

void metrics_hist_observe(struct metrics_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_HIST_BUCKETS && (double)us > metrics_hist_bounds[i] * 1e6)
        i++;
    metrics_inc(&h->bucket[i], 1);
    metrics_inc(&h->count, 1);
    metrics_inc(&h->sum_us, us);
}

void metrics_hist_render(struct metrics_text *t, const char *name, const char *const *labels,
                         const struct metrics_hist *h)
{
    char bname[128], le[32];
    snprintf(bname, sizeof bname, "%s_bucket", name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= METRICS_HIST_BUCKETS; i++) {
        cum += metrics_read(&h->bucket[i]);
        if (i < METRICS_HIST_BUCKETS)
            snprintf(le, sizeof le, "%g", metrics_hist_bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        put_name_labels(t, bname, labels, "le", le);
        putf(t, " %" PRIu64 "\n", cum);
    }
    snprintf(bname, sizeof bname, "%s_sum", name);
    metrics_sample_f(t, bname, labels, (double)metrics_read(&h->sum_us) / 1e6);
    snprintf(bname, sizeof bname, "%s_count", name);
    metrics_sample(t, bname, labels, metrics_read(&h->count));
}
