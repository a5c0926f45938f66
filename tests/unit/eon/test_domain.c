/* Unit tests for delegate's subdomain validation (server side: the name
 * arrives from the network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "eon/domain.h"

static void subdomains(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(eon_subdomain_check("test", "example.org", &e), 0);
    assert_int_equal(eon_subdomain_check("a.b.c", "example.org", &e), 0);
    assert_int_equal(eon_subdomain_check("_acme-challenge", "example.org", &e), 0);
    assert_int_equal(eon_subdomain_check("*", "example.org", &e), 0);

    assert_int_equal(eon_subdomain_check("", "example.org", &e), -1);
    assert_non_null(strstr(e.msg, "at least one label"));
    assert_int_equal(eon_subdomain_check("../../x", "example.org", &e), -1);
    assert_non_null(strstr(e.msg, "empty label"));
    assert_int_equal(eon_subdomain_check("a/b", "example.org", &e), -1);
    assert_non_null(strstr(e.msg, "0x2f"));
    assert_int_equal(eon_subdomain_check("/", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check("a..b", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check(".a", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check("a.", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check("a b", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check("a\\046b", "example.org", &e), -1);
    assert_int_equal(eon_subdomain_check("a\nb", "example.org", &e), -1);

    char l64[65];
    memset(l64, 'x', 64);
    l64[64] = 0;
    assert_int_equal(eon_subdomain_check(l64, "example.org", &e), -1);
    assert_non_null(strstr(e.msg, "longer than 63"));
    l64[63] = 0;
    assert_int_equal(eon_subdomain_check(l64, "example.org", &e), 0);

    /* 4 labels of 63 = 255 characters: with the parent, beyond 255 wire bytes */
    char big[300];
    big[0] = 0;
    for (int i = 0; i < 4; i++) {
        strcat(big, l64);
        if (i < 3) strcat(big, ".");
    }
    assert_int_equal(eon_subdomain_check(big, "example.org", &e), -1);
    if (!strstr(e.msg, "longer than a DNS name")) fail_msg("%s", e.msg);
    /* 3 labels of 63 + example.org = 3*64 + 13 = 205 wire bytes: fine */
    big[63 * 3 + 2] = 0;
    assert_int_equal(eon_subdomain_check(big, "example.org", &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subdomains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
