/* Helpers the capnp runtime tests share (test_capnp*.c): raw pointer
 * words (struct, list, far) to hand-build hostile messages, a one-segment
 * message over them, an error check, and a multi-segment test_All message
 * built and checked (far pointers when segments are small). */
#ifndef CEON_TEST_CAPNP_WORDS_H
#define CEON_TEST_CAPNP_WORDS_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "capnp/capnp.h"
#include "gen/test.capnp.h"

static inline uint64_t sptr(int32_t off, uint16_t dw, uint16_t np)
{
    return (uint64_t)(uint32_t)((uint32_t)off << 2) | ((uint64_t)dw << 32) | ((uint64_t)np << 48);
}
static inline uint64_t lptr(int32_t off, unsigned es, uint32_t n)
{
    return 1 | (uint64_t)(uint32_t)((uint32_t)off << 2) | ((uint64_t)es << 32) |
           ((uint64_t)n << 35);
}
static inline uint64_t fptr(int dbl, uint32_t pos, uint32_t seg)
{
    return 2 | ((uint64_t)dbl << 2) | ((uint64_t)pos << 3) | ((uint64_t)seg << 32);
}

static inline void msg1(struct capnp_msg *m, const uint64_t *w, uint32_t n)
{
    struct capnp_seg s = {(const uint8_t *)w, n};
    struct err e;
    assert_int_equal(capnp_msg_init_segs(m, &s, 1, &e), 0);
}

static inline void expect_error(struct capnp_msg *m, const char *part)
{
    assert_non_null(capnp_msg_error(m));
    if (!strstr(capnp_msg_error(m), part))
        fail_msg("error \"%s\" lacks \"%s\"", capnp_msg_error(m), part);
}

/* Builds a message with many small segments (forcing far pointers), then
 * reads it back both directly and after serialising. */
static inline void build_inner_list(struct capnp_builder *b, uint32_t n)
{
    test_All_B a = test_All_new_root(b);
    test_Inner_LB l = test_All_init_lInner(a, n);
    char buf[32];
    for (uint32_t i = 0; i < n; i++) {
        test_Inner_set_a(test_Inner_LB_at(l, i), i * 3);
        int len = snprintf(buf, sizeof buf, "item-%u", i);
        test_Inner_set_t(test_Inner_LB_at(l, i), buf, (uint32_t)len);
    }
    test_All_set_t(a, "top", 3);
    test_Inner_set_a(test_All_init_inner(a), 42);
}

static inline void check_inner_list(struct capnp_msg *m, uint32_t n)
{
    test_All_R a = test_All_read_root(m);
    test_Inner_LR l = test_All_get_lInner(a);
    assert_int_equal(test_Inner_LR_len(l), n);
    char buf[32];
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(test_Inner_get_a(test_Inner_LR_at(l, i)), i * 3);
        snprintf(buf, sizeof buf, "item-%u", i);
        assert_string_equal(test_Inner_get_t(test_Inner_LR_at(l, i)).str, buf);
    }
    assert_string_equal(test_All_get_t(a).str, "top");
    assert_int_equal(test_Inner_get_a(test_All_get_inner(a)), 42);
    assert_null(capnp_msg_error(m));
}
#endif
