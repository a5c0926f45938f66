/* Unit tests for turning capc arguments into wire Prereq/Update content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eon/spec.h"
#include "eon/specenc.h"

static int enc(const char *arg, bool prereq, struct eon_rec *r, struct err *e)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", arg);
    struct eon_spec s;
    if (eon_spec_parse(buf, prereq, &s, e) < 0) return -1;
    return eon_spec_encode(&s, r, e);
}

static void values(void **state)
{
    (void)state;
    struct eon_rec r;
    struct err e = {0};
    assert_int_equal(enc("add|test.example.org|A|128.232.113.136|3600", false, &r, &e), 0);
    assert_string_equal(r.name, "test.example.org");
    assert_int_equal(r.type, 1);
    assert_int_equal(r.ttl, 3600);
    assert_int_equal(r.rdlen, 4);
    assert_memory_equal(r.rdata, "\x80\xe8\x71\x88", 4);
    eon_rec_free(&r);

    /* trailing dot or not, the name on the wire has none */
    assert_int_equal(enc("add|Example.ORG.|MX|10 mail.example.org.|60", false, &r, &e), 0);
    assert_string_equal(r.name, "Example.ORG");
    assert_int_equal(r.type, 15);
    static const uint8_t mx[] = "\x00\x0a\x04mail\x07"
                                "example\x03org";
    assert_int_equal(r.rdlen, sizeof mx);
    assert_memory_equal(r.rdata, mx, sizeof mx);
    eon_rec_free(&r);

    /* names in VALUE are absolute even without the dot, as in the original */
    assert_int_equal(enc("add|a.example.org|CNAME|www.example.org|60", false, &r, &e), 0);
    static const uint8_t cn[] = "\x03www\x07"
                                "example\x03org";
    assert_int_equal(r.rdlen, sizeof cn);
    assert_memory_equal(r.rdata, cn, sizeof cn);
    eon_rec_free(&r);

    assert_int_equal(enc("add|_dmarc.example.org|TXT|\"v=DMARC1; p=none\"|300", false, &r, &e), 0);
    assert_int_equal(r.type, 16);
    assert_int_equal(r.rdlen, 17);
    assert_memory_equal(r.rdata, "\x10v=DMARC1; p=none", 17);
    eon_rec_free(&r);

    assert_int_equal(enc("exists|x.example.org|AAAA|2001:db8::1", true, &r, &e), 0);
    assert_int_equal(r.kind, EON_SPEC_EXISTS_DATA);
    assert_int_equal(r.type, 28);
    assert_int_equal(r.rdlen, 16);
    eon_rec_free(&r);

    assert_int_equal(enc("not-exists|x.example.org|type65280", true, &r, &e), 0);
    assert_int_equal(r.type, 65280);
    assert_null(r.rdata);
    eon_rec_free(&r);
    assert_int_equal(enc("remove|x.example.org", false, &r, &e), 0);
    assert_int_equal(r.type, 0);
    eon_rec_free(&r);
}

static void errors(void **state)
{
    (void)state;
    struct eon_rec r;
    struct err e = {0};
    assert_int_equal(enc("add|t.example.org|A|192.0.2|60", false, &r, &e), -1);
    assert_non_null(strstr(e.msg, "invalid A value '192.0.2'"));
    eon_rec_free(&r);
    assert_int_equal(enc("add|t.example.org|FOO|1|60", false, &r, &e), -1);
    assert_non_null(strstr(e.msg, "unknown record type 'FOO'"));
    eon_rec_free(&r);
    assert_int_equal(enc("exists|t.example.org|ANY", true, &r, &e), -1);
    assert_non_null(strstr(e.msg, "cannot be used"));
    eon_rec_free(&r);
    assert_int_equal(enc("remove|a..b", false, &r, &e), -1);
    assert_non_null(strstr(e.msg, "invalid name 'a..b'"));
    eon_rec_free(&r);
    assert_int_equal(enc("remove|.", false, &r, &e), -1);
    eon_rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
