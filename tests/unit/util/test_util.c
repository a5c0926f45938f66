/* Unit tests for the util layer: base64url, buffers, arena, atomic files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

static void b64url_roundtrip(void **state)
{
    (void)state;
    /* RFC 4648 test vectors, url alphabet, no padding. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = b64url_encode(in[i], strlen(in[i]), out);
        assert_int_equal(n, b64url_enc_len(strlen(in[i])));
        assert_string_equal(out, want[i]);
        uint8_t back[16];
        long m = b64url_decode(out, n, back, sizeof back);
        assert_int_equal(m, (long)strlen(in[i]));
        assert_memory_equal(back, in[i], (size_t)m);
    }
    uint8_t hi[2] = {0xfb, 0xff};
    char out[8];
    b64url_encode(hi, 2, out);
    assert_string_equal(out, "-_8");
}

static void b64url_rejects(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(b64url_decode("Zm9v+", 5, out, sizeof out), -1); /* '+' is not url alphabet */
    assert_int_equal(b64url_decode("Z", 1, out, sizeof out), -1);     /* impossible length */
    assert_int_equal(b64url_decode("Zh", 2, out, sizeof out), -1);    /* non-zero pad bits */
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, out, 5), -1);       /* does not fit */
}

static void wbuf_overflow_sticks(void **state)
{
    (void)state;
    uint8_t mem[5];
    struct wbuf b;
    wbuf_init(&b, mem, sizeof mem);
    assert_true(wbuf_u32(&b, 0x01020304));
    assert_false(wbuf_u16(&b, 0xffff));
    assert_false(wbuf_u8(&b, 1)); /* would fit, but the buffer already overflowed */
    assert_false(wbuf_ok(&b));
    assert_int_equal(b.len, 4);
}

static void rbuf_short_read(void **state)
{
    (void)state;
    uint8_t mem[3] = {1, 2, 3};
    struct rbuf r;
    rbuf_init(&r, mem, sizeof mem);
    assert_int_equal(rbuf_u16(&r), 0x0102);
    assert_int_equal(rbuf_u16(&r), 0);
    assert_false(rbuf_ok(&r));
}

static void arena_alignment_and_big(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 256);
    for (int i = 1; i < 100; i++) {
        uint8_t *p = arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)i);
    }
    char *big = arena_zalloc(&a, 10000);
    assert_non_null(big);
    assert_int_equal(big[9999], 0);
    assert_string_equal(arena_strdup(&a, "hello"), "hello");
    arena_free(&a);
}

static void atomic_write_and_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/ceon-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    struct err e;
    assert_int_equal(mkdir_p(sub, 0700, &e), 0);
    snprintf(path, sizeof path, "%s/file", sub);
    assert_int_equal(atomic_write_file(path, "one", 3, 0600, &e), 0);
    assert_int_equal(atomic_write_file(path, "second", 6, 0600, &e), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len;
    char *got = read_file(path, 100, &len, &e);
    assert_non_null(got);
    assert_int_equal(len, 6);
    assert_string_equal(got, "second");
    free(got);
    assert_null(read_file(path, 3, &len, &e));
    assert_non_null(strstr(e.msg, "too large"));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void err_prefix_chains(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(err_set(&e, "connection refused"), -1);
    err_prefix(&e, "capc: %s", "example.org.cap");
    assert_string_equal(e.msg, "capc: example.org.cap: connection refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_roundtrip),      cmocka_unit_test(b64url_rejects),
        cmocka_unit_test(wbuf_overflow_sticks),  cmocka_unit_test(rbuf_short_read),
        cmocka_unit_test(arena_alignment_and_big), cmocka_unit_test(atomic_write_and_read),
        cmocka_unit_test(err_prefix_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
