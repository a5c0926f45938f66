/*
 * Interop helper for tests/unit/capnp/interop.sh:
 *   interop build CASE   writes our encoding of CASE (framed) to stdout
 *   interop check CASE   reads a framed message (from `capnp encode` of
 *                        data/CASE.txt) on stdin and checks every value
 * The script compares `capnp decode` of our bytes with `capnp decode` of
 * the reference encoding, so both directions are checked against the C++
 * implementation.
 * The cases' builders and checkers are in interop_test_schema.c and
 * interop_ceon_schemas.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "capnp/packed.h"
#include "interop.h"

int failures;

/* --------------------------------------------------------------- cases */
struct icase {
    const char *name;
    void (*build)(struct capnp_builder *, int);
    void (*check)(struct capnp_msg *, int);
    int arg;
};

static const struct icase cases[] = {
    {"all_full", b_all, c_all, 0},
    {"all_empty", b_all, c_all, 1},
    {"defaults_unset", build_defaults, check_defaults, 0},
    {"defaults_explicit", build_defaults, check_defaults, 1},
    {"prereq_exists", build_prereq, check_prereq, 0},
    {"prereq_existsdata", build_prereq, check_prereq, 1},
    {"prereq_notexists", build_prereq, check_prereq, 2},
    {"prereq_nameinuse", build_prereq, check_prereq, 3},
    {"prereq_notnameinuse", build_prereq, check_prereq, 4},
    {"update_add", build_update, check_update, 0},
    {"update_remove", build_update, check_update, 1},
    {"update_removeall", build_update, check_update, 2},
    {"update_removesingle", build_update, check_update, 3},
    {"certreq_none", b_cr, c_cr, 0},
    {"saveddomain", build_store, check_store, 0},
    {"savedsecondary", build_store, check_store, 1},
    {"savedservice_domain", build_store, check_store, 2},
    {"savedservice_secondary", build_store, check_store, 3},
    {"rpc_call", build_rpc, check_rpc, 0},
    {"rpc_return_exception", build_rpc, check_rpc, 1},
    {"rpc_bootstrap", build_rpc, check_rpc, 2},
    {"rpc_bootstrap_objid", build_rpc, check_rpc, 3}, /* data/NAME.bin: written by libcapnp */
};

/* interop pack|unpack: stdin to stdout. */
static int packing(bool pack)
{
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, stdin);
    struct err e;
    if (pack) {
        size_t cap = capnp_pack_bound(len);
        uint8_t *out = malloc(cap);
        size_t n = capnp_pack(buf, len, out, cap);
        if (n == 0 && len) return 1;
        fwrite(out, 1, n, stdout);
        free(out);
        return 0;
    }
    uint8_t *out;
    size_t n;
    if (capnp_unpack(buf, len, 1 << 24, &out, &n, &e) < 0) {
        fprintf(stderr, "interop: %s\n", e.msg);
        return 1;
    }
    fwrite(out, 1, n, stdout);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "pack") == 0 || strcmp(argv[1], "unpack") == 0))
        return packing(strcmp(argv[1], "pack") == 0);
    if (argc != 3) {
        fprintf(stderr, "usage: interop build|check CASE\n");
        return 2;
    }
    const struct icase *c = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, argv[2]) == 0) c = &cases[i];
    if (!c) {
        fprintf(stderr, "interop: unknown case %s\n", argv[2]);
        return 2;
    }
    struct err e;
    if (strcmp(argv[1], "build") == 0) {
        struct capnp_builder b;
        capnp_builder_init(&b, 0);
        c->build(&b, c->arg);
        uint8_t *out;
        size_t len;
        if (capnp_builder_serialize(&b, &out, &len, &e) < 0) {
            fprintf(stderr, "interop: %s\n", e.msg);
            return 1;
        }
        fwrite(out, 1, len, stdout);
        free(out);
        capnp_builder_free(&b);
        return 0;
    }
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, stdin);
    struct capnp_msg m;
    if (capnp_msg_init_bytes(&m, buf, len, &e) < 0) {
        fprintf(stderr, "interop: %s\n", e.msg);
        return 1;
    }
    c->check(&m, c->arg);
    if (capnp_msg_error(&m)) {
        fprintf(stderr, "interop: %s\n", capnp_msg_error(&m));
        failures++;
    }
    capnp_msg_free(&m);
    return failures ? 1 : 0;
}
