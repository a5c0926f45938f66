/*
 * capnpc-c: a plugin for the reference schema compiler
 * (`capnp compile -o ./capnpc-c:OUTDIR file.capnp`). Reads the
 * CodeGeneratorRequest from stdin with ceon's own runtime and the
 * generated accessors for schema.capnp (gen/, bootstrapped), and writes
 * P.capnp.h / P.capnp.c per requested file into the current directory
 * (the compiler runs the plugin in OUTDIR). The naming conventions are in
 * docs/capnp-codegen.md. Output is deterministic: same input, same bytes.
 */
#include "capnpc-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "capnpc-c: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) die("formatting failed");
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc - b->len <= (size_t)n)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) die("out of memory");
        b->p = np;
        b->cap = nc;
    }
}

static struct node *nodes;
static size_t nnodes;

static int cmp_node(const void *a, const void *b)
{
    uint64_t x = ((const struct node *)a)->id, y = ((const struct node *)b)->id;
    return x < y ? -1 : x > y;
}

struct node *find_node(uint64_t id)
{
    struct node key = {.id = id};
    return bsearch(&key, nodes, nnodes, sizeof *nodes, cmp_node);
}

struct node *need_node(uint64_t id)
{
    struct node *n = find_node(id);
    if (!n) die("the request lacks node 0x%016llx", (unsigned long long)id);
    return n;
}

/* "dir/rpc.capnp" -> "rpc". */
static char *file_prefix(const char *path, size_t len)
{
    const char *base = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/') base = path + i + 1;
    size_t n = (size_t)(path + len - base);
    if (n > 6 && memcmp(base + n - 6, ".capnp", 6) == 0) n -= 6;
    char *r = malloc(n + 1);
    if (!r) die("out of memory");
    for (size_t i = 0; i < n; i++)
        r[i] = (base[i] == '-' || base[i] == '.') ? '_' : base[i];
    r[n] = 0;
    return r;
}

/* Display name "dir/rpc.capnp:Message.Which" -> "rpc_Message_Which";
 * implicit parameter structs "Domain.getName$Params" -> "..._Params". */
static void name_node(struct node *n)
{
    capnp_text dn = schema_Node_get_displayName(n->r);
    const char *colon = memchr(dn.str, ':', dn.len);
    if (!colon) {
        n->cname = file_prefix(dn.str, dn.len);
        n->prefix = n->cname;
        return;
    }
    n->prefix = file_prefix(dn.str, (size_t)(colon - dn.str));
    size_t rest = dn.len - (size_t)(colon + 1 - dn.str);
    size_t pl = strlen(n->prefix);
    n->cname = malloc(pl + 1 + rest + 1);
    if (!n->cname) die("out of memory");
    memcpy(n->cname, n->prefix, pl);
    n->cname[pl] = '_';
    for (size_t i = 0; i < rest; i++) {
        char c = colon[1 + i];
        n->cname[pl + 1 + i] = (c == '.' || c == '$') ? '_' : c;
    }
    n->cname[pl + 1 + rest] = 0;
}

/* Declaration order within a file: each node, then its groups (structs)
 * or implicit parameter structs (interfaces), then its nested nodes. */
static void order(struct node *n, struct node ***list, size_t *len, size_t *cap)
{
    if (n->listed) return;
    n->listed = true;
    enum schema_Node_which w = schema_Node_which(n->r);
    if (w != schema_Node_file && w != schema_Node_annotation) {
        if (*len == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *list = realloc(*list, *cap * sizeof **list);
            if (!*list) die("out of memory");
        }
        (*list)[(*len)++] = n;
    }
    if (w == schema_Node_struct) {
        schema_Field_LR fs = schema_Node_struct_get_fields(schema_Node_get_struct(n->r));
        for (uint32_t i = 0; i < schema_Field_LR_len(fs); i++) {
            schema_Field_R f = schema_Field_LR_at(fs, i);
            if (schema_Field_which(f) == schema_Field_group)
                order(need_node(schema_Field_group_get_typeId(schema_Field_get_group(f))), list,
                      len, cap);
        }
    } else if (w == schema_Node_interface) {
        schema_Method_LR ms = schema_Node_interface_get_methods(schema_Node_get_interface(n->r));
        for (uint32_t i = 0; i < schema_Method_LR_len(ms); i++) {
            schema_Method_R m = schema_Method_LR_at(ms, i);
            struct node *p = need_node(schema_Method_get_paramStructType(m));
            struct node *r = need_node(schema_Method_get_resultStructType(m));
            if (schema_Node_get_scopeId(p->r) == 0) order(p, list, len, cap);
            if (schema_Node_get_scopeId(r->r) == 0) order(r, list, len, cap);
        }
    }
    schema_Node_NestedNode_LR nn = schema_Node_get_nestedNodes(n->r);
    for (uint32_t i = 0; i < schema_Node_NestedNode_LR_len(nn); i++) {
        struct node *c =
            find_node(schema_Node_NestedNode_get_id(schema_Node_NestedNode_LR_at(nn, i)));
        if (c) order(c, list, len, cap);
    }
}

static void write_file(const char *name, const struct sb *b)
{
    FILE *f = fopen(name, "wb");
    if (!f) die("cannot create %s", name);
    if (fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) die("cannot write %s", name);
}

static uint8_t *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    uint8_t *p = malloc(cap);
    for (;;) {
        if (!p) die("out of memory");
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        p = realloc(p, cap);
    }
    if (ferror(f)) die("cannot read the request from stdin");
    *len = n;
    return p;
}

int main(void)
{
    size_t len;
    uint8_t *buf = read_all(stdin, &len);
    struct capnp_msg msg;
    struct err e;
    if (capnp_msg_init_bytes(&msg, buf, len, &e) < 0) die("bad request: %s", e.msg);
    /* The request comes from the compiler we just ran: trusted, and large
     * for big schemas, so lift the traversal budget. */
    capnp_msg_set_limits(&msg, UINT64_MAX, 64);
    schema_CodeGeneratorRequest_R req = schema_CodeGeneratorRequest_read_root(&msg);
    schema_Node_LR nl = schema_CodeGeneratorRequest_get_nodes(req);
    nnodes = schema_Node_LR_len(nl);
    nodes = calloc(nnodes ? nnodes : 1, sizeof *nodes);
    if (!nodes) die("out of memory");
    for (size_t i = 0; i < nnodes; i++) {
        nodes[i].r = schema_Node_LR_at(nl, (uint32_t)i);
        nodes[i].id = schema_Node_get_id(nodes[i].r);
    }
    qsort(nodes, nnodes, sizeof *nodes, cmp_node);
    for (size_t i = 0; i < nnodes; i++)
        name_node(&nodes[i]);

    schema_CodeGeneratorRequest_RequestedFile_LR rf =
        schema_CodeGeneratorRequest_get_requestedFiles(req);
    for (uint32_t i = 0; i < schema_CodeGeneratorRequest_RequestedFile_LR_len(rf); i++) {
        schema_CodeGeneratorRequest_RequestedFile_R f =
            schema_CodeGeneratorRequest_RequestedFile_LR_at(rf, i);
        struct node *fn = need_node(schema_CodeGeneratorRequest_RequestedFile_get_id(f));
        struct node **list = NULL;
        size_t n = 0, cap = 0;
        order(fn, &list, &n, &cap);
        struct sb h = {0}, c = {0};
        capnp_text fname = schema_CodeGeneratorRequest_RequestedFile_get_filename(f);
        emit_file(fn, fname.str, list, n, &h, &c);
        if (capnp_msg_error(&msg)) die("bad request: %s", capnp_msg_error(&msg));
        char path[512];
        snprintf(path, sizeof path, "%s.capnp.h", fn->cname);
        write_file(path, &h);
        snprintf(path, sizeof path, "%s.capnp.c", fn->cname);
        write_file(path, &c);
        free(h.p);
        free(c.p);
        free(list);
    }
    if (capnp_msg_error(&msg)) die("bad request: %s", capnp_msg_error(&msg));
    for (size_t i = 0; i < nnodes; i++) {
        if (nodes[i].prefix != nodes[i].cname) free(nodes[i].prefix);
        free(nodes[i].cname);
    }
    free(nodes);
    capnp_msg_free(&msg);
    free(buf);
    return 0;
}
