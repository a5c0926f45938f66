/*
 * interop: what the interop helper's files share (interop.c: the cases
 * and main; interop_test_schema.c: test.capnp's All and Defaults;
 * interop_ceon_schemas.c: eon.capnp, store.capnp and rpc.capnp). Each
 * case is a builder writing the values of data/CASE.txt and a checker
 * reading them back; `arg` picks the variant.
 */
#ifndef CEON_TEST_CAPNP_INTEROP_H
#define CEON_TEST_CAPNP_INTEROP_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capnp/capnp.h"

/* Failed checks so far; main exits 1 when any. */
extern int failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define T(s) s, (uint32_t)(sizeof s - 1)

static inline bool text_is(capnp_text t, const char *s)
{
    return t.len == strlen(s) && memcmp(t.str, s, t.len) == 0 && t.str[t.len] == 0;
}
static inline bool data_is(capnp_data d, const void *p, uint32_t n)
{
    return d.len == n && (n == 0 || memcmp(d.ptr, p, n) == 0);
}

/* test.capnp (interop_test_schema.c) */
void b_all(struct capnp_builder *b, int empty);
void c_all(struct capnp_msg *m, int empty);
void build_defaults(struct capnp_builder *b, int set);
void check_defaults(struct capnp_msg *m, int set);
/* eon.capnp, store.capnp, rpc.capnp (interop_ceon_schemas.c) */
void build_prereq(struct capnp_builder *b, int which);
void check_prereq(struct capnp_msg *m, int which);
void build_update(struct capnp_builder *b, int which);
void check_update(struct capnp_msg *m, int which);
void b_cr(struct capnp_builder *b, int unused);
void c_cr(struct capnp_msg *m, int unused);
void build_store(struct capnp_builder *b, int which);
void check_store(struct capnp_msg *m, int which);
void build_rpc(struct capnp_builder *b, int which);
void check_rpc(struct capnp_msg *m, int which);
#endif
