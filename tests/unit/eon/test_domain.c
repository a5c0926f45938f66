/* Unit tests for delegate's subdomain validation (server side: the name
 * arrives from the network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "eon/domain.h"
#include "eon/state.h"
#include <stdbool.h>

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

/* One set of label rules: a subdomain delegate accepts is a name the cap
 * files accept, and the other way round (below the length limits). */
static void same_rules_as_file_names(void **state)
{
    (void)state;
    const char *names[] = {"test",     "a.b.c", "_acme-challenge",
                           "*",        "x-y.z", "",
                           ".",        "..",    "../../x",
                           "a/b",      "/",     "/etc",
                           "a..b",     ".a",    "a.",
                           "a b",      "a\\b",  "a\\046b",
                           "a\nb",     "a\tb",  "a\x7f",
                           "\xc3\xa9", "a.\x01"};
    struct err e1 = {0}, e2 = {0};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool sub_ok = eon_subdomain_check(names[i], "example.org", &e1) == 0;
        bool labels_ok = eon_name_labels_check(names[i], &e2) == 0;
        if (sub_ok != eon_name_file_safe(names[i]) || sub_ok != labels_ok)
            fail_msg("'%s': subdomain %d, file name %d, labels %d", names[i], sub_ok,
                     eon_name_file_safe(names[i]), labels_ok);
        /* the subdomain message is the shared reason, naming the input */
        if (!sub_ok && !strstr(e1.msg, e2.msg)) fail_msg("'%s': %s / %s", names[i], e1.msg, e2.msg);
    }
    char l64[65];
    memset(l64, 'x', 64);
    l64[64] = 0;
    assert_false(eon_name_file_safe(l64));
    assert_int_equal(eon_name_labels_check(l64, &e2), -1);
    assert_string_equal(e2.msg, "a label is longer than 63");
    assert_int_equal(eon_name_labels_check("a/b", &e2), -1);
    assert_string_equal(e2.msg, "character 0x2f is not allowed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subdomains),
        cmocka_unit_test(same_rules_as_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
