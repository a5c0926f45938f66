/* Unit tests for capc's `|` prerequisite/update syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eon/spec.h"

static struct eon_spec parse_ok(const char *in, bool prereq)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", in);
    struct eon_spec s;
    struct err e = {0};
    int r = eon_spec_parse(buf, prereq, &s, &e);
    if (r != 0) fail_msg("'%s': %s", in, e.msg);
    return s;
}

static const char *parse_err(const char *in, bool prereq)
{
    static char buf[1024];
    static struct err e;
    snprintf(buf, sizeof buf, "%s", in);
    struct eon_spec s;
    assert_int_equal(eon_spec_parse(buf, prereq, &s, &e), -1);
    return e.msg;
}

static void prereqs(void **state)
{
    (void)state;
    struct eon_spec s = parse_ok("exists|test.example.org|A", true);
    assert_int_equal(s.kind, EON_SPEC_EXISTS);
    assert_string_equal(s.name, "test.example.org");
    assert_string_equal(s.type, "A");
    assert_null(s.value);

    s = parse_ok("exists|test.example.org|TXT|\"a|b\"", true);
    assert_int_equal(s.kind, EON_SPEC_EXISTS_DATA);
    assert_string_equal(s.type, "TXT");
    assert_string_equal(s.value, "\"a|b\"");

    s = parse_ok("not-exists|x.example.org|AAAA", true);
    assert_int_equal(s.kind, EON_SPEC_NOT_EXISTS);
    assert_string_equal(s.type, "AAAA");

    s = parse_ok("name-inuse|x.example.org", true);
    assert_int_equal(s.kind, EON_SPEC_NAME_IN_USE);
    assert_null(s.type);
    s = parse_ok("not-name-inuse|x.example.org", true);
    assert_int_equal(s.kind, EON_SPEC_NOT_NAME_IN_USE);
    s = parse_ok("name-not-inuse|x.example.org", true);
    assert_int_equal(s.kind, EON_SPEC_NOT_NAME_IN_USE);
}

static void updates(void **state)
{
    (void)state;
    struct eon_spec s = parse_ok("add|test.example.org|A|128.232.113.136|3600", false);
    assert_int_equal(s.kind, EON_SPEC_ADD);
    assert_string_equal(s.name, "test.example.org");
    assert_string_equal(s.type, "A");
    assert_string_equal(s.value, "128.232.113.136");
    assert_int_equal(s.ttl, 3600);

    s = parse_ok("add|_dmarc.example.org|TXT|\"v=DMARC1; p=none\"|300", false);
    assert_string_equal(s.value, "\"v=DMARC1; p=none\"");
    assert_int_equal(s.ttl, 300);
    s = parse_ok("add|example.org|MX|10 mail.example.org.|3600", false);
    assert_string_equal(s.value, "10 mail.example.org.");
    s = parse_ok("add|t.example.org|TXT|\"a|b|c\"|0", false);
    assert_string_equal(s.value, "\"a|b|c\"");
    assert_int_equal(s.ttl, 0);
    s = parse_ok("add|t.example.org|TXT|x|2147483647", false);
    assert_int_equal(s.ttl, 2147483647u);

    s = parse_ok("remove|t.example.org|A", false);
    assert_int_equal(s.kind, EON_SPEC_REMOVE);
    assert_string_equal(s.type, "A");
    s = parse_ok("remove|t.example.org", false);
    assert_int_equal(s.kind, EON_SPEC_REMOVE_ALL);
    assert_null(s.type);
    s = parse_ok("remove|t.example.org|A|192.0.2.1", false);
    assert_int_equal(s.kind, EON_SPEC_REMOVE_SINGLE);
    assert_string_equal(s.value, "192.0.2.1");
}

static void errors(void **state)
{
    (void)state;
    const char *m = parse_err("add|t.example.org|A|1.2.3.4", false);
    assert_non_null(strstr(m, "invalid update 'add|t.example.org|A|1.2.3.4'"));
    assert_non_null(strstr(m, "add|NAME|TYPE|VALUE|TTL"));
    m = parse_err("add|t.example.org|A|1.2.3.4|x", false);
    assert_non_null(strstr(m, "TTL 'x'"));
    parse_err("add|t.example.org|A|1.2.3.4|-1", false);
    parse_err("add|t.example.org|A|1.2.3.4|2147483648", false);
    parse_err("add|t.example.org|A|1.2.3.4|99999999999999999999", false);
    parse_err("add|t.example.org|A||60", false);
    parse_err("add||A|1.2.3.4|60", false);
    parse_err("remove", false);
    parse_err("delete|t.example.org", false);
    parse_err("remove||A", false);
    parse_err("remove|t|", false);
    m = parse_err("exists|t.example.org", true);
    assert_non_null(strstr(m, "invalid prerequisite"));
    assert_non_null(strstr(m, "not-name-inuse|NAME"));
    parse_err("not-exists|t.example.org|A|1.2.3.4", true);
    parse_err("name-inuse|a|b", true);
    parse_err("add|t.example.org|A|1.2.3.4|60", true);
    parse_err("exists|t.example.org|A", false);
    parse_err("", true);
    parse_err("", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prereqs),
        cmocka_unit_test(updates),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
