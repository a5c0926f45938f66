/* Unit tests for acme/http: the libcurl-on-libuv glue, its body bound and
 * its refusals. Bodies come from file:// URLs (allowed only in this test's
 * acme_http; the client allows https alone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme/http.h"

struct outcome {
    int calls;
    long status;
    size_t body_len;
    char err[512];
    bool body_terminated;
};

static void on_done(void *arg, const struct acme_http_response *resp, const char *err)
{
    struct outcome *o = arg;
    o->calls++;
    if (resp) {
        o->status = resp->status;
        o->body_len = resp->body_len;
        o->body_terminated = resp->body[resp->body_len] == 0;
    } else {
        snprintf(o->err, sizeof o->err, "%s", err);
    }
}

/* A file of size bytes; returns its file:// URL. */
static void make_file(char *path, size_t cap, char *url, size_t url_cap, size_t size)
{
    snprintf(path, cap, "/tmp/ceon-acme-http-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'x', sizeof block);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof block ? size - done : sizeof block;
        assert_int_equal(write(fd, block, n), (ssize_t)n);
        done += n;
    }
    close(fd);
    snprintf(url, url_cap, "file://%s", path);
}

static struct outcome fetch(const char *protocols, const char *url)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct acme_http *h = acme_http_new(&loop, NULL, protocols, &e);
    assert_non_null(h);
    struct outcome o = {0};
    assert_int_equal(acme_http_request(h, "GET", url, NULL, NULL, on_done, &o, &e), 0);
    assert_int_equal(o.calls, 0); /* never from inside the call */
    assert_int_equal(acme_http_pending(h), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(o.calls, 1);
    assert_int_equal(acme_http_pending(h), 0);
    acme_http_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
    return o;
}

static void bodies_are_bounded(void **state)
{
    (void)state;
    char path[64], url[128];
    make_file(path, sizeof path, url, sizeof url, ACME_HTTP_MAX_BODY);
    struct outcome o = fetch("file", url);
    assert_int_equal(o.body_len, ACME_HTTP_MAX_BODY); /* exactly the limit: accepted */
    assert_true(o.body_terminated);
    unlink(path);

    make_file(path, sizeof path, url, sizeof url, ACME_HTTP_MAX_BODY + 1);
    o = fetch("file", url);
    assert_non_null(strstr(o.err, "larger than"));
    unlink(path);

    make_file(path, sizeof path, url, sizeof url, 0);
    o = fetch("file", url);
    assert_int_equal(o.body_len, 0);
    assert_true(o.body_terminated);
    unlink(path);
}

static void https_only_and_transport_errors(void **state)
{
    (void)state;
    struct outcome o = fetch("https", "file:///etc/hostname");
    assert_true(strlen(o.err) > 0);
    o = fetch("https", "http://127.0.0.1:1/");
    assert_true(strlen(o.err) > 0);
    /* nothing listens on port 1: connection refused, reported, not hung */
    o = fetch("https", "https://127.0.0.1:1/dir");
    assert_true(strlen(o.err) > 0);
}

static void ca_file_refusals(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    assert_null(acme_http_new(&loop, "/nonexistent/ca.pem", "https", &e));
    assert_non_null(strstr(e.msg, "/nonexistent/ca.pem"));
    char path[64], url[128];
    make_file(path, sizeof path, url, sizeof url, 100); /* 'x's: no certificate */
    assert_null(acme_http_new(&loop, path, "https", &e));
    assert_non_null(strstr(e.msg, "no PEM certificate"));
    unlink(path);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void free_with_requests_pending(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct acme_http *h = acme_http_new(&loop, NULL, "https", &e);
    struct outcome o = {0};
    assert_int_equal(
        acme_http_request(h, "GET", "https://127.0.0.1:1/", NULL, NULL, on_done, &o, &e), 0);
    acme_http_free(h); /* aborted without a callback */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(o.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void retry_after_values(void **state)
{
    (void)state;
    assert_int_equal(acme_http_parse_retry_after("0"), 0);
    assert_int_equal(acme_http_parse_retry_after("120"), 120);
    assert_int_equal(acme_http_parse_retry_after("12a"), -1);
    assert_int_equal(acme_http_parse_retry_after("99999999999999999999"), -1);
    assert_int_equal(acme_http_parse_retry_after(""), -1);
    assert_int_equal(acme_http_parse_retry_after("soon"), -1);
    assert_int_equal(acme_http_parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"), 0);
    /* a date ahead: about an hour, whatever the clock says now */
    char date[64];
    time_t later = time(NULL) + 3600;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
    long s = acme_http_parse_retry_after(date);
    assert_true(s > 3500 && s <= 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies_are_bounded), cmocka_unit_test(https_only_and_transport_errors),
        cmocka_unit_test(ca_file_refusals),   cmocka_unit_test(free_with_requests_pending),
        cmocka_unit_test(retry_after_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
