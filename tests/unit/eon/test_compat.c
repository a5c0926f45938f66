/* Unit tests for what must match the OCaml original (eon) byte for byte
 * (issue 11): capc's TXT values, saved service records, derived IDs. */
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

static int encode_arg(const char *arg, struct eon_rec *r, struct err *e)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", arg);
    struct eon_spec s;
    if (eon_spec_parse(buf, false, &s, e) < 0) return -1;
    return eon_spec_encode(&s, r, e);
}

/* RDATA of `arg` must be exactly want[0..want_len). */
static void expect_rdata(const char *arg, const void *want, size_t want_len)
{
    struct eon_rec r;
    struct err e = {0};
    if (encode_arg(arg, &r, &e) < 0) fail_msg("%s: %s", arg, e.msg);
    assert_int_equal(r.rdlen, want_len);
    assert_memory_equal(r.rdata, want, want_len);
    eon_rec_free(&r);
}

static void txt_unquoted_is_one_string(void **state)
{
    (void)state;
    /* eon: `v=spf1 -all` is one string, not two */
    expect_rdata("add|example.org|TXT|v=spf1 -all|300", "\x0bv=spf1 -all", 12);
    /* ';' is not a comment, quotes inside are characters */
    expect_rdata("add|example.org|TXT|a; b|300",
                 "\x04"
                 "a; b",
                 5);
    expect_rdata("add|example.org|TXT|say \"hi\"|300", "\x08say \"hi\"", 9);
    /* backslashes are characters too */
    expect_rdata("add|example.org|TXT|a\\065|300",
                 "\x05"
                 "a\\065",
                 6);
    /* the same for a single-record removal and an exists prerequisite */
    expect_rdata("remove|example.org|TXT|v=spf1 -all", "\x0bv=spf1 -all", 12);
    struct eon_rec r;
    struct err e = {0};
    char buf[64] = "exists|example.org|TXT|v=spf1 -all";
    struct eon_spec s;
    assert_int_equal(eon_spec_parse(buf, true, &s, &e), 0);
    assert_int_equal(eon_spec_encode(&s, &r, &e), 0);
    assert_memory_equal(r.rdata, "\x0bv=spf1 -all", 12);
    eon_rec_free(&r);
}

static void txt_unquoted_long_is_split_as_eon_splits(void **state)
{
    (void)state;
    /* 300 bytes: one string of 255 then one of 45, as eon's encoder does */
    char arg[400], want[310];
    memset(want, 0, sizeof want);
    strcpy(arg, "add|example.org|TXT|");
    size_t o = strlen(arg);
    for (int i = 0; i < 300; i++)
        arg[o++] = (char)('a' + i % 26);
    strcpy(arg + o, "|60");
    want[0] = (char)255;
    memcpy(want + 1, arg + 20, 255);
    want[256] = 45;
    memcpy(want + 257, arg + 20 + 255, 45);
    expect_rdata(arg, want, 302);
}

static void txt_quoted_is_presentation(void **state)
{
    (void)state;
    expect_rdata("add|example.org|TXT|\"v=DMARC1; p=none\"|300", "\x10v=DMARC1; p=none", 17);
    expect_rdata("add|example.org|TXT|\"one\" \"two\"|300", "\x03one\x03two", 8);
    expect_rdata("add|example.org|TXT|\"a\\\"b\" \"c\\\\d\" \"\\065\"|300",
                 "\x03"
                 "a\"b\x03"
                 "c\\d\x01"
                 "A",
                 10);
    /* other types keep presentation format */
    expect_rdata("add|example.org|A|192.0.2.1|300", "\xc0\x00\x02\x01", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(txt_unquoted_is_one_string),
        cmocka_unit_test(txt_unquoted_long_is_split_as_eon_splits),
        cmocka_unit_test(txt_quoted_is_presentation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
