/* Sturdy refs, derived IDs, TLS keys and fingerprints, the service store
 * and the rpc tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/rpc_int.h"
#include "rpc/store.h"
#include "rpc/sturdy.h"
#include "rpc/tls.h"
#include "util/atomicfile.h"
#include "util/b64url.h"

#include <openssl/sha.h>

#define FP "gWlYqKJv0Dq3X7Jy4CdWdH1fL3gMvZwqPZr4yEo7s2k"

static void roundtrip(const char *uri)
{
    struct sturdy_ref r;
    struct err e;
    if (sturdy_parse(uri, &r, &e) < 0) fail_msg("%s: %s", uri, e.msg);
    char *out = sturdy_format(&r);
    assert_string_equal(out, uri);
    free(out);
}

static void test_sturdy_forms(void **state)
{
    (void)state;
    struct sturdy_ref r;
    struct err e;
    const char *uri = "capnp://sha-256:" FP "@example.org:7000/c3Zj";
    assert_int_equal(sturdy_parse(uri, &r, &e), 0);
    assert_false(r.insecure);
    assert_string_equal(r.fingerprint, FP);
    assert_int_equal(r.kind, STURDY_TCP);
    assert_string_equal(r.host, "example.org");
    assert_int_equal(r.port, 7000);
    assert_int_equal(r.id_len, 3);
    assert_memory_equal(r.id, "svc", 3);
    roundtrip(uri);
    roundtrip("capnp://insecure@127.0.0.1:7000/c3Zj");
    roundtrip("capnp://sha-256:" FP "@[::1]:7000/c3Zj");
    roundtrip("capnp://sha-256:" FP "@/run/eon/capnp.sock/c3Zj");
    roundtrip("capnp://insecure@host:1/");
    assert_int_equal(sturdy_parse("capnp://sha-256:" FP "@[::1]:7000/c3Zj", &r, &e), 0);
    assert_string_equal(r.host, "::1");
    assert_int_equal(sturdy_parse("capnp://sha-256:" FP "@/run/eon/capnp.sock/c3Zj", &r, &e), 0);
    assert_int_equal(r.kind, STURDY_UNIX);
    assert_string_equal(r.path, "/run/eon/capnp.sock");
    /* A cap file has a newline at the end. */
    assert_int_equal(sturdy_parse("capnp://insecure@h:1/c3Zj\n", &r, &e), 0);
    /* Unusual characters in a unix path are %-escaped and come back. */
    r.kind = STURDY_UNIX;
    strcpy(r.path, "/tmp/a b%c");
    char *s = sturdy_format(&r);
    assert_string_equal(s, "capnp://insecure@/tmp/a%20b%25c/c3Zj");
    assert_int_equal(sturdy_parse(s, &r, &e), 0);
    assert_string_equal(r.path, "/tmp/a b%c");
    free(s);
    /* So are those in a host (fuzz_sturdy_ref: --capnp-public-address
     * tcp:a%25b:1 wrote 'a%b:1', which no parser takes back). */
    assert_int_equal(sturdy_parse_address("tcp:a%25b?[:1", &r, &e), 0);
    assert_string_equal(r.host, "a%b?[");
    s = sturdy_format(&r);
    assert_string_equal(s, "capnp://insecure@a%25b%3F%5B:1/c3Zj");
    assert_int_equal(sturdy_parse(s, &r, &e), 0);
    assert_string_equal(r.host, "a%b?[");
    free(s);
    roundtrip("capnp://insecure@[fe80::1%25eth0]:7000/c3Zj");
}

static void test_sturdy_errors(void **state)
{
    (void)state;
    static const char *bad[] = {
        "http://insecure@h:1/c3Zj",
        "capnp://h:1/c3Zj",                /* no digest */
        "capnp://sha-512:" FP "@h:1/c3Zj", /* unknown hash */
        "capnp://sha-256:abc@h:1/c3Zj",    /* short digest */
        "capnp://sha-256@h:1/c3Zj",        /* no digest value */
        "capnp://insecure@h/c3Zj",         /* no port */
        "capnp://insecure@h:0/c3Zj",       /* port 0 */
        "capnp://insecure@h:70000/c3Zj",   /* port range */
        "capnp://insecure@::1:7000/c3Zj",  /* IPv6 without brackets */
        "capnp://insecure@[::1]/c3Zj",     /* no port */
        "capnp://insecure@h:1/c3Z!",       /* bad base64url */
        "capnp://insecure@h:1/a/b",        /* slash in the ID */
        "capnp://insecure@h:1/c3Zj?x=1",   /* query */
        "capnp://insecure@/c3Zj",          /* no socket path */
        "capnp://insecure@h:1/%zz",        /* bad escape */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct sturdy_ref r;
        struct err e = {{0}};
        if (sturdy_parse(bad[i], &r, &e) == 0) fail_msg("accepted '%s'", bad[i]);
        assert_true(e.msg[0] != 0);
    }
}

static void test_addresses(void **state)
{
    (void)state;
    struct sturdy_ref r = {0};
    struct err e;
    assert_int_equal(sturdy_parse_address("tcp:example.org:7000", &r, &e), 0);
    assert_string_equal(r.host, "example.org");
    assert_int_equal(r.port, 7000);
    assert_int_equal(sturdy_parse_address("tcp:[::1]:0", &r, &e), 0);
    assert_string_equal(r.host, "::1");
    assert_int_equal(sturdy_parse_address("unix:/run/x.sock", &r, &e), 0);
    assert_string_equal(r.path, "/run/x.sock");
    /* relative: made absolute as the original does (cwd + "/" + path) */
    char cwd[512], want[600];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/./run/x.sock", strcmp(cwd, "/") ? cwd : "");
    assert_int_equal(sturdy_parse_address("unix:./run/x.sock", &r, &e), 0);
    assert_string_equal(r.path, want);
    assert_int_equal(sturdy_parse_address("unix:", &r, &e), -1);
    assert_int_equal(sturdy_parse_address("udp:h:1", &r, &e), -1);
    assert_int_equal(sturdy_parse_address("tcp:h", &r, &e), -1);
}

static void test_derived_id(void **state)
{
    (void)state;
    uint8_t secret[32], out[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(i + 1);
    sturdy_derive_id(secret, "example.org", out);
    /* HMAC-SHA256(key 01..20, "example.org"), computed independently. */
    static const uint8_t want[32] = {0xb4, 0xb2, 0x55, 0x7e, 0xad, 0xf6, 0x60, 0xdd,
                                     0x5c, 0x17, 0xa7, 0x39, 0x26, 0xab, 0xfa, 0x35,
                                     0x63, 0xde, 0x36, 0xa3, 0xbd, 0x35, 0x7b, 0x50,
                                     0xeb, 0xfe, 0x7a, 0x98, 0x41, 0xd7, 0x32, 0x29};
    assert_memory_equal(out, want, 32);
}

/* Loads path with stderr captured into out (what the log said). */
static struct tls_key *load_logged(const char *path, char *out, size_t cap)
{
    char tmp[] = "/tmp/ceon-tls-log-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    struct err e;
    struct tls_key *k = tls_key_load(path, &e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(tmp);
    return k;
}

static void test_tls_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/ceon-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/key.pem", dir);
    struct err e;
    struct tls_key *k = tls_key_load(path, &e);
    assert_non_null(k);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char fp[TLS_FP_LEN + 1];
    strcpy(fp, tls_key_fingerprint(k));
    assert_int_equal(strlen(fp), TLS_FP_LEN);
    /* The same key file gives the same identity and secret. */
    struct tls_key *k2 = tls_key_load(path, &e);
    assert_non_null(k2);
    assert_string_equal(tls_key_fingerprint(k2), fp);
    assert_memory_equal(tls_key_secret_hash(k), tls_key_secret_hash(k2), 32);
    /* Mode 0600: loaded silently. Readable by group or others: still
     * loaded, with one line naming the file, its mode and the fix. */
    char logged[1024];
    struct tls_key *k3 = load_logged(path, logged, sizeof logged);
    assert_non_null(k3);
    tls_key_free(k3);
    assert_string_equal(logged, "");
    assert_int_equal(chmod(path, 0644), 0);
    k3 = load_logged(path, logged, sizeof logged);
    assert_non_null(k3);
    assert_string_equal(tls_key_fingerprint(k3), fp);
    tls_key_free(k3);
    assert_non_null(strstr(logged, path));
    assert_non_null(strstr(logged, "0644"));
    assert_non_null(strstr(logged, "chmod 600"));
    assert_non_null(strchr(logged, '\n'));
    assert_string_equal(strchr(logged, '\n') + 1, ""); /* one line */
    assert_int_equal(chmod(path, 0600), 0);
    /* The fingerprint is SHA-256 of the DER SubjectPublicKeyInfo, as the
     * openssl tool computes it. */
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in %s -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -binary "
             "| base64 | tr '+/' '-_' | tr -d '=\\n'",
             path);
    FILE *p = popen(cmd, "r");
    char got[128] = "";
    assert_non_null(fgets(got, sizeof got, p));
    pclose(p);
    assert_string_equal(got, fp);
    /* An ephemeral key is new every time. */
    struct tls_key *e1 = tls_key_load("", &e), *e2 = tls_key_load("", &e);
    assert_string_not_equal(tls_key_fingerprint(e1), tls_key_fingerprint(e2));
    tls_key_free(e1);
    tls_key_free(e2);
    tls_key_free(k);
    tls_key_free(k2);
    /* Not a key */
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    assert_null(tls_key_load(path, &e));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/ceon-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/store", dir);
    struct err e;
    struct svc_store *s = svc_store_open(sub, &e);
    assert_non_null(s);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    /* A record is one segment: whole 8-byte words, stored as it is. */
    assert_int_equal(svc_store_put(s, (const uint8_t *)"svc", 3, "record", 6, &e), -1);
    assert_int_equal(svc_store_put(s, (const uint8_t *)"svc", 3, "record!!", 8, &e), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/NIxlhoKuhwHT6dIfGRhySRzxXmrLsWgXcLHLeHwc9_8", sub);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 8);
    uint8_t *data;
    size_t len;
    assert_int_equal(svc_store_get(s, (const uint8_t *)"svc", 3, &data, &len, &e), 1);
    assert_int_equal(len, 8);
    assert_memory_equal(data, "record!!", 8);
    free(data);
    assert_int_equal(svc_store_get(s, (const uint8_t *)"svd", 3, &data, &len, &e), 0);
    char cmd[600];
    assert_int_equal(svc_store_del(s, (const uint8_t *)"svc", 3, &e), 0);
    assert_int_equal(svc_store_get(s, (const uint8_t *)"svc", 3, &data, &len, &e), 0);
    svc_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

enum { STORE_N = 300 };

/* Every third of STORE_N records deleted, the others there. */
static void check_store_records(struct svc_store *s)
{
    struct err e;
    char id[16], rec[16];
    for (int i = 0; i < STORE_N; i++) {
        snprintf(id, sizeof id, "id%d", i);
        snprintf(rec, sizeof rec, "r%06d", i);
        uint8_t *data = NULL;
        size_t len = 0;
        int r = svc_store_get(s, (const uint8_t *)id, strlen(id), &data, &len, &e);
        if (i % 3 == 0) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, 1);
            assert_int_equal(len, 8);
            assert_memory_equal(data, rec, 8);
            free(data);
        }
    }
    uint8_t *data;
    size_t len;
    assert_int_equal(svc_store_get(s, (const uint8_t *)"nobody", 6, &data, &len, &e), 0);
}

/* A restore never reads the disk (issue 9 point 4): the restorer runs on
 * the event loop for any ID a peer presents. With the directory gone
 * behind the store's back, known records are still found and unknown IDs
 * still refused; before, every get opened a file (and this failed).
 * Deleting from the middle of probe clusters keeps the table whole. */
static void test_store_memory(void **state)
{
    (void)state;
    char dir[] = "/tmp/ceon-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct err e;
    struct svc_store *s = svc_store_open(dir, &e);
    assert_non_null(s);
    char id[16], rec[16];
    for (int i = 0; i < STORE_N; i++) {
        snprintf(id, sizeof id, "id%d", i);
        snprintf(rec, sizeof rec, "r%06d", i);
        assert_int_equal(svc_store_put(s, (const uint8_t *)id, strlen(id), rec, 8, &e), 0);
    }
    for (int i = 0; i < STORE_N; i += 3) {
        snprintf(id, sizeof id, "id%d", i);
        assert_int_equal(svc_store_del(s, (const uint8_t *)id, strlen(id), &e), 0);
    }
    check_store_records(s);
    /* Reopened: the disk holds what the table had. */
    svc_store_close(s);
    s = svc_store_open(dir, &e);
    assert_non_null(s);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    check_store_records(s);
    svc_store_close(s);
}

/* A file in the container earlier ceon versions wrote: "ceonsvc1", the
 * hash, a framed message of one segment holding `words`. */
static void write_legacy(const char *path, const uint8_t hash[32], const uint8_t *seg,
                         uint32_t words)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t table[8] = {0, 0, 0, 0, (uint8_t)words, 0, 0, 0};
    fwrite("ceonsvc1", 1, 8, f);
    fwrite(hash, 1, 32, f);
    fwrite(table, 1, 8, f);
    fwrite(seg, 8, words, f);
    fclose(f);
}

static void test_store_legacy(void **state)
{
    (void)state;
    char dir[] = "/tmp/ceon-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* Root: struct pointer, 0 data words, 1 pointer; that pointer: a text
     * "ab" (list of 3 bytes). */
    static const uint8_t seg[] = {0,  0, 0, 0, 0,   0,   1, 0, 1, 0, 0, 0,
                                  26, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 0, 0};
    uint8_t hash_svc[32], hash_a[32];
    SHA256((const uint8_t *)"svc", 3, hash_svc);
    SHA256((const uint8_t *)"a", 1, hash_a);
    char path[256], path_a[256];
    snprintf(path, sizeof path, "%s/NIxlhoKuhwHT6dIfGRhySRzxXmrLsWgXcLHLeHwc9_8", dir);
    write_legacy(path, hash_svc, seg, 3);
    /* Stored under svc's name but made for "a": damaged, left alone. */
    snprintf(path_a, sizeof path_a, "%s/%s", dir, "ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs");
    write_legacy(path_a, hash_svc, seg, 3);
    struct err e;
    /* Opening converts the good one in place, to the flat segment. */
    struct svc_store *s = svc_store_open(dir, &e);
    assert_non_null(s);
    size_t n;
    char *raw = read_file(path, 4096, &n, &e);
    assert_non_null(raw);
    assert_int_equal(n, sizeof seg);
    assert_memory_equal(raw, seg, sizeof seg);
    free(raw);
    uint8_t *data;
    size_t len;
    assert_int_equal(svc_store_get(s, (const uint8_t *)"svc", 3, &data, &len, &e), 1);
    assert_int_equal(len, sizeof seg);
    free(data);
    assert_int_equal(svc_store_get(s, (const uint8_t *)"a", 1, &data, &len, &e), -1);
    assert_non_null(strstr(e.msg, "damaged"));
    /* Not a whole segment: damaged, said so (seen at the next open). */
    svc_store_close(s);
    FILE *f = fopen(path, "wb");
    fwrite("short", 1, 5, f);
    fclose(f);
    s = svc_store_open(dir, &e);
    assert_non_null(s);
    assert_int_equal(svc_store_get(s, (const uint8_t *)"svc", 3, &data, &len, &e), -1);
    assert_non_null(strstr(e.msg, "damaged"));
    svc_store_close(s);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_idmap(void **state)
{
    (void)state;
    struct idmap m = {0};
    enum { N = 5000 };
    static void *ref[N];
    srand(7);
    for (int step = 0; step < 100000; step++) {
        uint32_t k = (uint32_t)rand() % N;
        switch (rand() % 3) {
        case 0:
            ref[k] = (void *)(uintptr_t)(step + 1);
            assert_int_equal(idmap_put(&m, k, ref[k]), 0);
            break;
        case 1:
            assert_ptr_equal(idmap_del(&m, k), ref[k]);
            ref[k] = NULL;
            break;
        default:
            assert_ptr_equal(idmap_get(&m, k), ref[k]);
        }
    }
    uint32_t live = 0;
    for (int k = 0; k < N; k++)
        live += ref[k] != NULL;
    assert_int_equal(m.len, live);
    uint64_t key;
    void *v;
    uint32_t seen = 0;
    for (uint32_t i = 0; idmap_next(&m, &i, &key, &v);) {
        assert_ptr_equal(ref[key], v);
        seen++;
    }
    assert_int_equal(seen, live);
    idmap_free(&m);
}

static void test_idalloc(void **state)
{
    (void)state;
    struct idalloc a = {0};
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(idalloc_get(&a), i);
    idalloc_put(&a, 7);
    idalloc_put(&a, 2);
    idalloc_put(&a, 5);
    /* Lowest free first, then new ones. */
    assert_int_equal(idalloc_get(&a), 2);
    assert_int_equal(idalloc_get(&a), 5);
    assert_int_equal(idalloc_get(&a), 7);
    assert_int_equal(idalloc_get(&a), 10);
    idalloc_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sturdy_forms), cmocka_unit_test(test_sturdy_errors),
        cmocka_unit_test(test_addresses),    cmocka_unit_test(test_derived_id),
        cmocka_unit_test(test_tls_key),      cmocka_unit_test(test_store),
        cmocka_unit_test(test_store_memory), cmocka_unit_test(test_store_legacy),
        cmocka_unit_test(test_idmap),        cmocka_unit_test(test_idalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
