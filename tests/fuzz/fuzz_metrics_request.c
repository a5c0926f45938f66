/*
 * fuzz_metrics_request: the statistics endpoint's request-head parser
 * (net/metrics_http.h) on arbitrary bytes.
 *
 * Checked: it never reads past the input (ASan), it is a pure function of
 * its input (the same verdict twice), a verdict other than INCOMPLETE
 * requires an end of head in the input, and METRICS is only ever given to
 * a request line that starts "GET /metrics" and ends in HTTP/1.0 or 1.1.
 * Every prefix of the input is parsed too, the way bytes arrive on a socket.
 */
#include "net/metrics_http.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static bool has_head_end(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if ((p[i] == '\n' && p[i + 1] == '\n') || (i + 3 < n && !memcmp(p + i, "\r\n\r\n", 4)))
            return true;
    return false;
}

static void check_one(const char *p, size_t n)
{
    enum metrics_http_request r = metrics_http_parse(p, n);
    CHECK(r == metrics_http_parse(p, n));
    if (r != METRICS_REQ_INCOMPLETE) CHECK(has_head_end(p, n));
    if (r == METRICS_REQ_METRICS) {
        CHECK(n >= 12 && !memcmp(p, "GET /metrics", 12));
        const char *eol = memchr(p, '\n', n);
        CHECK(eol);
        size_t ll = (size_t)(eol - p);
        if (p[ll - 1] == '\r') ll--;
        CHECK(ll >= 8 &&
              (!memcmp(p + ll - 8, "HTTP/1.1", 8) || !memcmp(p + ll - 8, "HTTP/1.0", 8)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > METRICS_HTTP_MAX_REQUEST) size = METRICS_HTTP_MAX_REQUEST;
    /* An exact-size copy, so reading one byte too far is an ASan report. */
    char *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    for (size_t n = size > 64 ? size - 64 : 0; n <= size; n++)
        check_one(p, n);
    free(p);
    return 0;
}
