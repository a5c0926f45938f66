/* Unit tests for capnp framing (capnp/frame.h: a stream cut anywhere,
 * memory that follows what arrived) and the packed encoding
 * (capnp/packed.h: round trips and limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "capnp/frame.h"
#include "capnp/packed.h"
#include "gen/test.capnp.h"
#include "gen/test_import.capnp.h"

#include "capnp_words.h"

static void framer_incremental(void **state)
{
    (void)state;
    struct capnp_builder b1, b2;
    capnp_builder_init(&b1, 4);
    capnp_builder_init(&b2, 0);
    build_inner_list(&b1, 30);
    build_inner_list(&b2, 5);
    size_t n1 = capnp_builder_size(&b1), n2 = capnp_builder_size(&b2);
    uint8_t *stream = malloc(n1 + n2);
    capnp_builder_write(&b1, stream, n1);
    capnp_builder_write(&b2, stream + n1, n2);

    struct capnp_framer f;
    struct err e;
    capnp_framer_init(&f, 0, 0);
    int got = 0;
    size_t pos = 0;
    while (pos < n1 + n2) {
        size_t used;
        int r = capnp_framer_feed(&f, stream + pos, 1, &used, &e); /* one byte at a time */
        assert_true(r >= 0);
        pos += used;
        if (r == 1) {
            struct capnp_msg m;
            assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
            check_inner_list(&m, got == 0 ? 30 : 5);
            capnp_msg_free(&m);
            got++;
        }
    }
    assert_int_equal(got, 2);
    assert_true(capnp_framer_idle(&f));
    /* Both at once: feed stops at the end of the first message. */
    size_t used;
    assert_int_equal(capnp_framer_feed(&f, stream, n1 + n2, &used, &e), 1);
    assert_int_equal(used, n1);
    assert_int_equal(capnp_framer_feed(&f, stream + n1, n2, &used, &e), 1); /* still ready */
    assert_int_equal(used, 0);
    struct capnp_msg m;
    assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
    capnp_msg_free(&m);
    capnp_framer_free(&f);

    /* Limits. */
    capnp_framer_init(&f, 1024, 4);
    uint32_t hdr[2] = {4, 1}; /* 5 segments > 4 */
    assert_int_equal(capnp_framer_feed(&f, hdr, 8, &used, &e), -1);
    assert_non_null(strstr(e.msg, "segments"));
    capnp_framer_free(&f);
    capnp_framer_init(&f, 1024, 0);
    uint32_t big[2] = {0, 129}; /* 1032 bytes > 1024 */
    assert_int_equal(capnp_framer_feed(&f, big, 8, &used, &e), -1);
    assert_non_null(strstr(e.msg, "exceeds"));
    capnp_framer_free(&f);
    capnp_framer_init(&f, 0, 0);
    uint32_t absurd[2] = {0xffffffffu, 0};
    assert_int_equal(capnp_framer_feed(&f, absurd, 8, &used, &e), -1);
    capnp_framer_free(&f);
    /* A partial frame is not idle. */
    capnp_framer_init(&f, 0, 0);
    assert_int_equal(capnp_framer_feed(&f, stream, 10, &used, &e), 0);
    assert_false(capnp_framer_idle(&f));
    capnp_framer_free(&f);

    free(stream);
    capnp_builder_free(&b1);
    capnp_builder_free(&b2);
}

/* A frame's body memory follows the bytes that arrived, not what the
 * segment table claims: a peer that announces 16 MiB and sends nothing
 * more costs almost nothing. */
static size_t body_reserved(const struct capnp_framer *f)
{
    return f->body ? malloc_usable_size(f->body) : 0;
}

static void framer_grows_with_input(void **state)
{
    (void)state;
    struct capnp_framer f;
    struct err e;
    size_t used;
    capnp_framer_init(&f, 0, 0);
    /* Two segments: one word, then 2 Mi words (16 MiB). */
    uint32_t hdr[4] = {1, 1, 2u << 20, 0};
    assert_int_equal(capnp_framer_feed(&f, hdr, sizeof hdr, &used, &e), 0);
    assert_int_equal(used, sizeof hdr);
    assert_true(body_reserved(&f) <= 64 * 1024);
    /* Then the body, in 64 KiB pieces: memory stays within twice what
     * arrived (plus one piece), and the message is intact at the end. */
    size_t total = 8 + ((size_t)2 << 20) * 8, sent = 0;
    uint8_t *chunk = malloc(65536);
    int r = 0;
    while (sent < total) {
        size_t n = total - sent < 65536 ? total - sent : 65536;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((sent + i) * 7 + ((sent + i) >> 16));
        r = capnp_framer_feed(&f, chunk, n, &used, &e);
        assert_true(r >= 0);
        assert_int_equal(used, n);
        sent += n;
        assert_true(body_reserved(&f) <= 2 * sent + 65536);
        assert_int_equal(r, sent == total);
    }
    free(chunk);
    struct capnp_msg m;
    assert_int_equal(capnp_framer_take(&f, &m, &e), 0);
    assert_int_equal(m.nsegs, 2);
    assert_int_equal(m.segs[0].words, 1);
    assert_int_equal(m.segs[1].words, 2u << 20);
    const uint8_t *s0 = m.segs[0].p, *s1 = m.segs[1].p;
    for (size_t i = 0; i < total; i += 4093) {
        uint8_t want = (uint8_t)(i * 7 + (i >> 16));
        assert_int_equal(i < 8 ? s0[i] : s1[i - 8], want);
    }
    assert_int_equal(s1[total - 9], (uint8_t)((total - 1) * 7 + ((total - 1) >> 16)));
    capnp_msg_free(&m);
    assert_true(capnp_framer_idle(&f));
    /* A header only, then freed: nothing leaks (ASan). */
    assert_int_equal(capnp_framer_feed(&f, hdr, sizeof hdr, &used, &e), 0);
    assert_int_equal(capnp_framer_feed(&f, "abc", 3, &used, &e), 0);
    assert_true(body_reserved(&f) <= 64 * 1024);
    capnp_framer_free(&f);
}

static void packed_roundtrip_and_limits(void **state)
{
    (void)state;
    /* Zero runs, dense runs (both past the 255-word count), sparse words. */
    enum { W = 2000 };
    uint8_t *in = calloc(W, 8);
    srand(7);
    for (int i = 300; i < 900; i++)
        for (int j = 0; j < 8; j++)
            in[i * 8 + j] = (uint8_t)(rand() % 255 + 1);
    for (int i = 900; i < W; i++)
        in[i * 8 + (i % 8)] = (uint8_t)i | 1;
    size_t cap = capnp_pack_bound(W * 8);
    uint8_t *p = malloc(cap);
    size_t n = capnp_pack(in, W * 8, p, cap);
    assert_true(n > 0 && n < W * 8);
    uint8_t *out;
    size_t olen;
    struct err e;
    assert_int_equal(capnp_unpack(p, n, W * 8, &out, &olen, &e), 0);
    assert_int_equal(olen, W * 8);
    assert_memory_equal(out, in, W * 8);
    free(out);
    /* Every truncation is an error or a shorter prefix, never a crash. */
    for (size_t cut = 0; cut < n; cut += 7) {
        if (capnp_unpack(p, cut, W * 8, &out, &olen, &e) == 0) {
            assert_true(olen <= W * 8);
            assert_memory_equal(out, in, olen);
            free(out);
        }
    }
    /* Amplification: 2 bytes claim 256 zero words. */
    uint8_t bomb[2] = {0, 255};
    assert_int_equal(capnp_unpack(bomb, 2, 1024, &out, &olen, &e), -1);
    assert_non_null(strstr(e.msg, "expands"));
    uint8_t trunc[3] = {0xff, 1, 2};
    assert_int_equal(capnp_unpack(trunc, 3, 1024, &out, &olen, &e), -1);
    assert_non_null(strstr(e.msg, "truncated"));
    /* Worst case fits the bound: alternating dense and 6-byte words. */
    for (int i = 0; i < W; i++)
        for (int j = 0; j < 8; j++)
            in[i * 8 + j] = (i % 2 == 0 || j < 6) ? (uint8_t)(j + 1) : 0;
    assert_true(capnp_pack(in, W * 8, p, cap) > 0);
    free(p);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(framer_incremental),
        cmocka_unit_test(framer_grows_with_input),
        cmocka_unit_test(packed_roundtrip_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
