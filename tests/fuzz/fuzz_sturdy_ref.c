/*
 * fuzz_sturdy_ref: sturdy ref URIs (rpc/sturdy.h) as they come from cap
 * files (--primary FILE, the .cap files in STATE/caps/secondary/Z/, capc's cap files)
 * and the listen/public addresses capd writes into the cap files it hands
 * out (--capnp-public-address).
 *
 * Input: byte 0 picks the parser ('A': sturdy_parse_address, anything
 * else: sturdy_parse), the rest is the text (cut at the first NUL, as a
 * file read into a C string would be).
 *
 * Checked on what parses: host, path and fingerprint are NUL-terminated
 * inside their arrays, the ID fits its array, and the ref written back by
 * sturdy_format (what capd puts in a cap file) parses again to the same
 * ref. A parser that accepts what its own writer cannot give back would
 * hand peers cap files nobody can read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/sturdy.h"

#include "fuzz_check.h"

static void check_ref(const struct sturdy_ref *r)
{
    CHECK(memchr(r->host, 0, sizeof r->host));
    CHECK(memchr(r->path, 0, sizeof r->path));
    CHECK(memchr(r->fingerprint, 0, sizeof r->fingerprint));
    CHECK(r->id_len <= sizeof r->id);
    CHECK(r->kind == STURDY_TCP || r->kind == STURDY_UNIX);
    if (r->kind == STURDY_UNIX)
        CHECK(r->path[0] == '/');
    else
        CHECK(r->host[0]);
}

static void round_trip(const struct sturdy_ref *r)
{
    char *uri = sturdy_format(r);
    CHECK(uri);
    struct sturdy_ref back;
    struct err e;
    if (sturdy_parse(uri, &back, &e) < 0) {
        fprintf(stderr, "fuzz_sturdy_ref: our own URI '%s' does not parse: %s\n", uri, e.msg);
        abort();
    }
    CHECK(back.insecure == r->insecure);
    CHECK(!strcmp(back.fingerprint, r->fingerprint));
    CHECK(back.kind == r->kind);
    if (r->kind == STURDY_TCP) {
        CHECK(!strcmp(back.host, r->host));
        CHECK(back.port == r->port);
    } else {
        CHECK(!strcmp(back.path, r->path));
    }
    CHECK(back.id_len == r->id_len && !memcmp(back.id, r->id, r->id_len));
    free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* An exact-size string: a read past its NUL is ASan's to see. */
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    struct sturdy_ref r;
    struct err e;
    if (data[0] == 'A') {
        memset(&r, 0, sizeof r);
        if (sturdy_parse_address(text, &r, &e) == 0) {
            check_ref(&r);
            /* The public address with a service ID, as rpc_vat_sturdy_uri
             * writes it; port 0 is for listening only, never written. */
            if (r.port != 0 || r.kind == STURDY_UNIX) {
                r.insecure = true;
                memcpy(r.id, "id", 2);
                r.id_len = 2;
                round_trip(&r);
            }
        }
    } else if (sturdy_parse(text, &r, &e) == 0) {
        check_ref(&r);
        round_trip(&r);
    } else {
        CHECK(e.msg[0]);
    }
    free(text);
    return 0;
}
