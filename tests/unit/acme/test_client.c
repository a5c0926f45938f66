/* Unit tests for the acme client and order API without a CA: argument
 * refusals, and an order whose CA is unreachable fails once, from the
 * loop, without touching the DNS hooks. (tests/acme/ runs real orders
 * against pebble.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rsa.h>

#include "acme/acme.h"

static void client_refusals(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct acme_client_config cfg = {.directory_url = "http://127.0.0.1:1/dir"};
    assert_null(acme_client_new(&loop, &cfg, &e));
    assert_non_null(strstr(e.msg, "https"));
    cfg.directory_url = "https://127.0.0.1:1/dir";
    const char *emails[] = {"no-at-sign", "a@b.c?subject=x", "a@b.c,c@d.e", "a b@c.d", ""};
    for (size_t i = 0; i < sizeof emails / sizeof *emails; i++) {
        cfg.email = emails[i];
        assert_null(acme_client_new(&loop, &cfg, &e));
    }
    cfg.email = "ryan@example.org";
    EVP_PKEY *small = EVP_RSA_gen(1024);
    cfg.account_key = small;
    assert_null(acme_client_new(&loop, &cfg, &e));
    EVP_PKEY_free(small);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int hook_calls;
static void hook(void *ctx, const char *name, const char *value, acme_hook_done_cb done, void *arg)
{
    (void)ctx, (void)name, (void)value;
    hook_calls++;
    done(arg, 0, NULL);
}

struct result {
    int calls;
    char message[512];
    bool had_problem;
};

static void on_done(void *arg, const char *cert, const struct acme_error *err)
{
    struct result *r = arg;
    r->calls++;
    assert_null(cert);
    assert_non_null(err);
    snprintf(r->message, sizeof r->message, "%s", err->message);
    r->had_problem = err->problem != NULL;
}

static void order_refusals_and_unreachable_ca(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct acme_client_config cfg = {.directory_url = "https://127.0.0.1:1/dir",
                                     .account_key_type = ACME_KEY_P256};
    struct acme_client *c = acme_client_new(&loop, &cfg, &e);
    assert_non_null(c);
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    struct acme_dns_hooks hooks = {.set_txt = hook, .clear_txt = hook};
    struct result r = {0};
    const char *bad_names[][2] = {
        {"example.org.", "x.org"},
        {"*.*.example.org", "x.org"},
        {"a..b", "x.org"},
        {"under_score.org", "x.org"},
        {"", "x.org"},
        {"x.org", "X.ORG"}, /* twice */
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        assert_null(
            acme_order_start(c, bad_names[i], 2, key, "a@b.c", NULL, &hooks, on_done, &r, &e));
    }
    const char *ok_names[] = {"example.org", "*.example.org"};
    assert_null(acme_order_start(c, ok_names, 0, key, "a@b.c", NULL, &hooks, on_done, &r, &e));
    struct acme_dns_hooks half = {.set_txt = hook};
    assert_null(acme_order_start(c, ok_names, 2, key, "a@b.c", NULL, &half, on_done, &r, &e));
    assert_int_equal(acme_client_orders_running(c), 0);

    assert_non_null(acme_order_start(c, ok_names, 2, key, "a@b.c", "org", &hooks, on_done, &r, &e));
    assert_int_equal(r.calls, 0); /* never from inside acme_order_start */
    assert_int_equal(acme_client_orders_running(c), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(hook_calls, 0);
    assert_false(r.had_problem);
    assert_non_null(strstr(r.message, "127.0.0.1:1"));
    assert_null(acme_client_account_url(c));
    assert_int_equal(acme_client_orders_running(c), 0);
    acme_client_free(c);
    EVP_PKEY_free(key);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void cancel_before_any_request(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct acme_client_config cfg = {.directory_url = "https://127.0.0.1:1/dir",
                                     .account_key_type = ACME_KEY_P256};
    struct acme_client *c = acme_client_new(&loop, &cfg, &e);
    EVP_PKEY *key = acme_key_generate(ACME_KEY_P256, &e);
    struct acme_dns_hooks hooks = {.set_txt = hook, .clear_txt = hook};
    const char *names[] = {"example.org"};
    struct result r = {0};
    hook_calls = 0;
    struct acme_order *o =
        acme_order_start(c, names, 1, key, "a@b.c", NULL, &hooks, on_done, &r, &e);
    assert_non_null(o);
    acme_order_cancel(o);
    acme_order_cancel(o); /* twice is harmless */
    assert_int_equal(r.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.message, "cancelled");
    assert_int_equal(hook_calls, 0);
    acme_client_free(c);
    EVP_PKEY_free(key);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct generated {
    int calls;
    EVP_PKEY *key;
};

static void on_key(void *arg, EVP_PKEY *key, const char *err)
{
    struct generated *g = arg;
    assert_null(err);
    g->calls++;
    g->key = key;
}

static void keys_off_the_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e;
    struct generated rsa = {0}, ec = {0};
    assert_int_equal(acme_key_generate_async(&loop, ACME_KEY_RSA2048, on_key, &rsa, &e), 0);
    assert_int_equal(acme_key_generate_async(&loop, ACME_KEY_P256, on_key, &ec, &e), 0);
    assert_int_equal(rsa.calls + ec.calls, 0); /* from the loop only */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(rsa.calls, 1);
    assert_int_equal(ec.calls, 1);
    assert_string_equal(acme_jws_alg(rsa.key), "RS256");
    assert_int_equal(EVP_PKEY_get_bits(rsa.key), 2048);
    assert_string_equal(acme_jws_alg(ec.key), "ES256");
    /* such a key is what acme_client_new takes */
    struct acme_client_config cfg = {.directory_url = "https://127.0.0.1:1/dir",
                                     .account_key = rsa.key};
    struct acme_client *c = acme_client_new(&loop, &cfg, &e);
    assert_non_null(c);
    assert_ptr_equal(acme_client_account_key(c), rsa.key);
    acme_client_free(c);
    EVP_PKEY_free(rsa.key);
    EVP_PKEY_free(ec.key);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_refusals),
        cmocka_unit_test(order_refusals_and_unreachable_ca),
        cmocka_unit_test(cancel_before_any_request),
        cmocka_unit_test(keys_off_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
