/* capnpc-c internals: the node index (capnpc-c.c) and the emitter (emit.c). */
#ifndef CEON_CAPNPC_C_H
#define CEON_CAPNPC_C_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capnp/capnp.h"
#include "gen/schema.capnp.h"

struct node {
    uint64_t id;
    schema_Node_R r;
    char *cname;  /* C name: prefix + "_" + path with '_' */
    char *prefix; /* file prefix, e.g. "rpc" */
    bool listed;
};

struct sb {
    char *p;
    size_t len, cap;
};

void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
struct node *find_node(uint64_t id);
struct node *need_node(uint64_t id);
/* Writes header and source for file node fn; list: its nodes in order. */
void emit_file(struct node *fn, const char *filename, struct node **list, size_t n, struct sb *h,
               struct sb *c);
#endif
