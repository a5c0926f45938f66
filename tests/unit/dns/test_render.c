/* render (issue 12's query path): name compression in resp_name. The
 * shortcuts it takes for speed (the question's own buffer written as a
 * pointer, a word-at-a-time exact label compare before the case-folding one,
 * the labels written in one copy) must give the bytes the plain search gave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dns/render.h"

static uint8_t B[512];

#define HM                                                                                         \
    "\x0ahostmaster\x07"                                                                           \
    "example\x03org"
#define HM_UP                                                                                      \
    "\x0aHOSTMASTER\x07"                                                                           \
    "EXAMPLE\x03ORG"

/* A name whose long label differs only in case compresses to the first; one
 * that differs in a byte the case table does not fold does not. */
static void test_long_label_case(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, sizeof B);
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_true(resp_name(&r, (const uint8_t *)HM_UP, true));
    size_t at = r.len;
    assert_true(resp_name(&r, (const uint8_t *)HM, true));
    assert_int_equal(r.len - at, 2);
    assert_memory_equal(B + at, "\xc0\x0c", 2);
    /* "hostmastes": the same length, the last byte of the label's second word differs */
    at = r.len;
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x0ahostmastes\x07"
                                           "example\x03org",
                          true));
    assert_int_equal(r.len - at, 11 + 2); /* the label, then a pointer to example.org */
    assert_memory_equal(B + at + 11, "\xc0\x17", 2);
    /* "hostmaster" with its first byte differing (within the first word) */
    at = r.len;
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x0a_ostmaster\x07"
                                           "example\x03org",
                          true));
    assert_int_equal(r.len - at, 11 + 2);
    assert_memory_equal(B + at + 11, "\xc0\x17", 2);
}

/* The question's buffer is written as a pointer to where it was written;
 * an equal name in another buffer reaches the same pointer by the search. */
static void test_question_pointer(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, sizeof B);
    const uint8_t *q = (const uint8_t *)"\x03www\x07"
                                        "Example\x03org";
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_true(resp_name(&r, q, true));
    r.qname = q;
    r.qname_off = 12;
    size_t at = r.len;
    assert_true(resp_name(&r, q, true));
    assert_true(resp_name(&r,
                          (const uint8_t *)"\x03WWW\x07"
                                           "example\x03ORG",
                          true));
    assert_int_equal(r.len - at, 4);
    assert_memory_equal(B + at, "\xc0\x0c\xc0\x0c", 4);
    /* uncompressed writes ignore it */
    at = r.len;
    assert_true(resp_name(&r, q, false));
    assert_int_equal(r.len - at, 17);
    assert_memory_equal(B + at, q, 17);
}

/* A name that does not fit leaves the packet and the compression table as
 * they were: no later name may point into bytes never written. */
static void test_failed_write(void **st)
{
    (void)st;
    struct resp r;
    resp_init(&r, B, 20);
    assert_true(resp_put(&r, "0123456789ab", 12));
    assert_false(resp_name(&r, (const uint8_t *)HM, true));
    assert_int_equal(r.len, 12);
    assert_int_equal(r.ncomp, 0);
    r.fail = false;
    assert_true(resp_name(&r, (const uint8_t *)"\x03org", true));
    assert_int_equal(r.len, 17);
    assert_int_equal(r.ncomp, 1);
    assert_memory_equal(B + 12, "\x03org", 5);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_long_label_case),
        cmocka_unit_test(test_question_pointer),
        cmocka_unit_test(test_failed_write),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
