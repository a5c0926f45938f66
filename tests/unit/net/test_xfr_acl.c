/* Unit tests of --allow-transfer (net/xfr_out.h): parsing ADDR[/LEN] and
 * matching IPv4, IPv6 and v4-mapped peers against prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "net/xfr_out.h"

static bool allows(const struct xfr_acl *acl, size_t n, const char *peer)
{
    struct sockaddr_storage ss = {0};
    if (strchr(peer, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, peer, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, peer, &a->sin_addr), 1);
    }
    return xfr_acl_allows(acl, n, (const struct sockaddr *)&ss);
}

static void test_acl(void **st)
{
    (void)st;
    struct xfr_acl acl[4];
    struct err e;
    assert_int_equal(xfr_acl_parse("127.0.0.1", &acl[0], &e), 0);
    assert_int_equal(acl[0].prefix, 32);
    assert_int_equal(xfr_acl_parse("192.0.2.0/25", &acl[1], &e), 0);
    assert_int_equal(xfr_acl_parse("2001:db8::/32", &acl[2], &e), 0);
    assert_int_equal(xfr_acl_parse("10.0.0.0/0", &acl[3], &e), 0);
    assert_true(allows(acl, 3, "127.0.0.1"));
    assert_false(allows(acl, 3, "127.0.0.2"));
    assert_true(allows(acl, 3, "192.0.2.127"));
    assert_false(allows(acl, 3, "192.0.2.128"));
    assert_true(allows(acl, 3, "2001:db8:ffff::1"));
    assert_false(allows(acl, 3, "2001:db9::1"));
    assert_true(allows(acl, 3, "::ffff:127.0.0.1")); /* v4-mapped on a dual-stack listener */
    assert_false(allows(acl, 3, "::ffff:127.0.0.2"));
    assert_false(allows(acl, 0, "127.0.0.1")); /* no entries: nobody */
    assert_true(allows(acl + 3, 1, "198.51.100.1"));
    assert_false(allows(acl + 3, 1, "::1")); /* an IPv4 entry never matches IPv6 */
    const char *bad[] = {"", "/24", "127.0.0.1/33", "::1/129", "127.0.0.1/", "127.0.0.1/x",
                         "example.org", "1.2.3",
                         /* strtoul would take these; "-0" would allow everyone */
                         "10.0.0.0/-0", "10.0.0.0/ 8", "10.0.0.0/+8", "::/-0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(xfr_acl_parse(bad[i], &acl[0], &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_acl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
