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
#include <unistd.h>

#include "dns/zone.h"
#include "eon/saved.h"
#include "eon/spec.h"
#include "eon/specenc.h"
#include "rpc/sturdy.h"
#include "util/b64url.h"

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

/* `capnp encode --flat schema/store.capnp SavedService` of
 * (domain = (name = "Sub.Example.ORG", primary = "Example.ORG")): what the
 * original's file store holds for a delegation. */
static const uint8_t eon_domain_record[] = {
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x05, 0x00, 0x00, 0x00, 0x82, 0x00,
    0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x62, 0x00, 0x00, 0x00, 'S',  'u',  'b',  '.',  'E',
    'x',  'a',  'm',  'p',  'l',  'e',  '.',  'O',  'R',  'G',  0x00, 'E',  'x',  'a',  'm',
    'p',  'l',  'e',  '.',  'O',  'R',  'G',  0x00, 0x00, 0x00, 0x00, 0x00};

static void saved_records_match_eon(void **state)
{
    (void)state;
    struct eon_saved saved;
    struct err e = {0};
    assert_int_equal(eon_saved_decode(eon_domain_record, sizeof eon_domain_record, &saved, &e), 0);
    assert_int_equal(saved.kind, EON_SAVED_DOMAIN);
    assert_string_equal(saved.name, "Sub.Example.ORG");
    assert_string_equal(saved.primary, "Example.ORG");
    /* and ceon writes the very same bytes */
    uint8_t *flat;
    size_t len;
    assert_int_equal(eon_saved_domain_encode("Sub.Example.ORG", "Example.ORG", &flat, &len, &e), 0);
    assert_int_equal(len, sizeof eon_domain_record);
    assert_memory_equal(flat, eon_domain_record, len);
    free(flat);
}

static void saved_records_damaged(void **state)
{
    (void)state;
    struct eon_saved saved;
    struct err e = {0};
    uint8_t rec[sizeof eon_domain_record];
    /* not whole words, empty */
    assert_int_equal(eon_saved_decode(eon_domain_record, 13, &saved, &e), -1);
    assert_non_null(strstr(e.msg, "damaged"));
    assert_int_equal(eon_saved_decode(eon_domain_record, 0, &saved, &e), -1);
    /* a text pointer running past the segment */
    memcpy(rec, eon_domain_record, sizeof rec);
    rec[28] = 0xf2;
    assert_int_equal(eon_saved_decode(rec, sizeof rec, &saved, &e), -1);
    /* a union tag this schema does not have */
    memcpy(rec, eon_domain_record, sizeof rec);
    rec[8] = 7;
    assert_int_equal(eon_saved_decode(rec, sizeof rec, &saved, &e), -1);
    /* a NUL inside the name */
    memcpy(rec, eon_domain_record, sizeof rec);
    rec[41] = 0;
    assert_int_equal(eon_saved_decode(rec, sizeof rec, &saved, &e), -1);
    assert_non_null(strstr(e.msg, "NUL"));
    /* the root is null: no name */
    static const uint8_t null_root[8] = {0};
    assert_int_equal(eon_saved_decode(null_root, 8, &saved, &e), -1);
}

#define EXAMPLE_ORG_ID "FcGh5YzLYGvV4kToC8yA1F8K5f65zf8UvmA1KuqreOY"
#define PRIMARY_EXAMPLE_ORG_ID "D0NjJ5GbN-DafK9lVycr0cKWXPiWNsq6Nrl1E5Ch514"

/* HMAC-SHA256 vectors computed apart from ceon (openssl dgst -sha256 -mac
 * HMAC -macopt hexkey:<32 bytes 0x01..0x20>), for the names as written:
 * derivation must not lowercase. */
static void derived_ids_keep_case(void **state)
{
    (void)state;
    uint8_t secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(i + 1);
    uint8_t id[32];
    char b64[48];
    sturdy_derive_id(secret, "Example.ORG", id);
    b64url_encode(id, 32, b64);
    assert_string_equal(b64, EXAMPLE_ORG_ID);
    sturdy_derive_id(secret, "primary_Example.ORG", id);
    b64url_encode(id, 32, b64);
    assert_string_equal(b64, PRIMARY_EXAMPLE_ORG_ID);
    sturdy_derive_id(secret, "example.org", id);
    b64url_encode(id, 32, b64);
    assert_string_not_equal(b64, EXAMPLE_ORG_ID);
}

/* The zone's name is its apex as the file spells it: the owner of the
 * file's last apex record, as the original's zone parser keeps it. */
static void zone_apex_as_written(void **state)
{
    (void)state;
    char path[] = "/tmp/ceon-compat-zone-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("$ORIGIN Example.ORG.\n"
          "@ 3600 IN SOA ns1 hostmaster 1 3600 900 1814400 3600\n"
          "@ 3600 IN NS ns1\n"
          "ns1 3600 IN A 192.0.2.1\n",
          f);
    fclose(f);
    struct zone_version *v;
    uint8_t as_written[DNS_NAME_MAX];
    struct err e = {0};
    char text[DNS_NAME_TEXT_MAX];
    assert_int_equal(zone_load_file_as_written(path, NULL, &v, as_written, &e), 0);
    dns_name_to_text(as_written, text, sizeof text);
    assert_string_equal(text, "Example.ORG.");
    dns_name_to_text(v->apex, text, sizeof text);
    assert_string_equal(text, "example.org.");
    zone_version_free(v);
    /* a later apex record in another spelling renames it */
    f = fopen(path, "a");
    fputs("EXAMPLE.org. 3600 IN TXT \"last\"\nwww 3600 IN A 192.0.2.2\n", f);
    fclose(f);
    assert_int_equal(zone_load_file_as_written(path, NULL, &v, as_written, &e), 0);
    dns_name_to_text(as_written, text, sizeof text);
    assert_string_equal(text, "EXAMPLE.org.");
    zone_version_free(v);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(txt_unquoted_is_one_string),
        cmocka_unit_test(txt_unquoted_long_is_split_as_eon_splits),
        cmocka_unit_test(txt_quoted_is_presentation),
        cmocka_unit_test(saved_records_match_eon),
        cmocka_unit_test(saved_records_damaged),
        cmocka_unit_test(derived_ids_keep_case),
        cmocka_unit_test(zone_apex_as_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
