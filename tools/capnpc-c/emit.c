/*
 * capnpc-c emitter: turns schema nodes into C. The header holds, in this
 * order, IDs/typedefs/enums for every node (so later code can name any
 * type), then per-struct entry points, then field accessors, all static
 * inline so the compiler sees through them. The .c file holds the enum
 * name tables.
 */
#include "capnpc-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_VOID,
    K_BOOL,
    K_INT,
    K_FLOAT,
    K_TEXT,
    K_DATA,
    K_LIST,
    K_ENUM,
    K_STRUCT,
    K_IFACE,
    K_ANY
};

struct tinfo {
    enum kind k;
    unsigned bits; /* K_INT, K_FLOAT, K_ENUM (16), K_BOOL (1) */
    bool sign;
    const char *ctype;  /* C type of a primitive value */
    uint64_t id;        /* K_STRUCT, K_ENUM, K_IFACE */
    schema_Type_R elem; /* K_LIST */
};

static struct tinfo type_info(schema_Type_R t)
{
    struct tinfo ti = {0};
    switch (schema_Type_which(t)) {
    case schema_Type_void:
        ti.k = K_VOID;
        break;
    case schema_Type_bool:
        ti = (struct tinfo){K_BOOL, 1, false, "bool"};
        break;
    case schema_Type_int8:
        ti = (struct tinfo){K_INT, 8, true, "int8_t"};
        break;
    case schema_Type_int16:
        ti = (struct tinfo){K_INT, 16, true, "int16_t"};
        break;
    case schema_Type_int32:
        ti = (struct tinfo){K_INT, 32, true, "int32_t"};
        break;
    case schema_Type_int64:
        ti = (struct tinfo){K_INT, 64, true, "int64_t"};
        break;
    case schema_Type_uint8:
        ti = (struct tinfo){K_INT, 8, false, "uint8_t"};
        break;
    case schema_Type_uint16:
        ti = (struct tinfo){K_INT, 16, false, "uint16_t"};
        break;
    case schema_Type_uint32:
        ti = (struct tinfo){K_INT, 32, false, "uint32_t"};
        break;
    case schema_Type_uint64:
        ti = (struct tinfo){K_INT, 64, false, "uint64_t"};
        break;
    case schema_Type_float32:
        ti = (struct tinfo){K_FLOAT, 32, true, "float"};
        break;
    case schema_Type_float64:
        ti = (struct tinfo){K_FLOAT, 64, true, "double"};
        break;
    case schema_Type_text:
        ti.k = K_TEXT;
        break;
    case schema_Type_data:
        ti.k = K_DATA;
        break;
    case schema_Type_list:
        ti.k = K_LIST;
        ti.elem = schema_Type_list_get_elementType(schema_Type_get_list(t));
        break;
    case schema_Type_enum:
        ti = (struct tinfo){K_ENUM, 16, false, "uint16_t"};
        ti.id = schema_Type_enum_get_typeId(schema_Type_get_enum(t));
        break;
    case schema_Type_struct:
        ti.k = K_STRUCT;
        ti.id = schema_Type_struct_get_typeId(schema_Type_get_struct(t));
        break;
    case schema_Type_interface:
        ti.k = K_IFACE;
        ti.id = schema_Type_interface_get_typeId(schema_Type_get_interface(t));
        break;
    default:
        ti.k = K_ANY;
        break;
    }
    return ti;
}

/* Raw bits of a primitive default value. */
static uint64_t value_bits(schema_Value_R v)
{
    switch (schema_Value_which(v)) {
    case schema_Value_bool:
        return schema_Value_get_bool(v);
    case schema_Value_int8:
        return (uint8_t)schema_Value_get_int8(v);
    case schema_Value_int16:
        return (uint16_t)schema_Value_get_int16(v);
    case schema_Value_int32:
        return (uint32_t)schema_Value_get_int32(v);
    case schema_Value_int64:
        return (uint64_t)schema_Value_get_int64(v);
    case schema_Value_uint8:
        return schema_Value_get_uint8(v);
    case schema_Value_uint16:
        return schema_Value_get_uint16(v);
    case schema_Value_uint32:
        return schema_Value_get_uint32(v);
    case schema_Value_uint64:
        return schema_Value_get_uint64(v);
    case schema_Value_float32:
        return capnp_f32_bits(schema_Value_get_float32(v));
    case schema_Value_float64:
        return capnp_f64_bits(schema_Value_get_float64(v));
    case schema_Value_enum:
        return schema_Value_get_enum(v);
    default:
        return 0;
    }
}

static const char *esize_name(schema_Type_R elem)
{
    struct tinfo t = type_info(elem);
    switch (t.k) {
    case K_VOID:
        return "CAPNP_ES_VOID";
    case K_BOOL:
        return "CAPNP_ES_BIT";
    case K_INT:
    case K_FLOAT:
    case K_ENUM:
        return t.bits == 8    ? "CAPNP_ES_BYTE"
               : t.bits == 16 ? "CAPNP_ES_2B"
               : t.bits == 32 ? "CAPNP_ES_4B"
                              : "CAPNP_ES_8B";
    case K_STRUCT:
        return "CAPNP_ES_COMPOSITE";
    default:
        return "CAPNP_ES_PTR";
    }
}

/* A C string literal for arbitrary bytes. */
static void c_literal(struct sb *b, const uint8_t *p, uint32_t n)
{
    sb_printf(b, "\"");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\' || c == '?')
            sb_printf(b, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            sb_printf(b, "%c", c);
        else
            sb_printf(b, "\\%03o", c);
    }
    sb_printf(b, "\"");
}

static const char *ucast(unsigned bits)
{
    return bits == 8 ? "uint8_t" : bits == 16 ? "uint16_t" : bits == 32 ? "uint32_t" : "uint64_t";
}

static void emit_types(struct sb *h, struct node *n)
{
    const char *N = n->cname;
    sb_printf(h, "\n/* %s */\n#define %s_ID 0x%016" PRIx64 "ULL\n",
              schema_Node_get_displayName(n->r).str, N, n->id);
    switch (schema_Node_which(n->r)) {
    case schema_Node_struct: {
        schema_Node_struct_R s = schema_Node_get_struct(n->r);
        if (!schema_Node_struct_get_isGroup(s)) {
            sb_printf(h, "enum { %s_DATA_WORDS = %u, %s_PTR_COUNT = %u };\n", N,
                      schema_Node_struct_get_dataWordCount(s), N,
                      schema_Node_struct_get_pointerCount(s));
            sb_printf(h, "typedef struct { capnp_list_r l; } %s_LR;\n", N);
            sb_printf(h, "typedef struct { capnp_list_b l; } %s_LB;\n", N);
        }
        sb_printf(h, "typedef struct { capnp_struct_r r; } %s_R;\n", N);
        sb_printf(h, "typedef struct { capnp_struct_b b; } %s_B;\n", N);
        if (schema_Node_struct_get_discriminantCount(s)) {
            sb_printf(h, "enum %s_which {\n", N);
            schema_Field_LR fs = schema_Node_struct_get_fields(s);
            for (uint32_t i = 0; i < schema_Field_LR_len(fs); i++) {
                schema_Field_R f = schema_Field_LR_at(fs, i);
                uint16_t dv = schema_Field_get_discriminantValue(f);
                if (dv != 0xffff)
                    sb_printf(h, "    %s_%s = %u,\n", N, schema_Field_get_name(f).str, dv);
            }
            sb_printf(h, "};\n");
        }
        break;
    }
    case schema_Node_enum: {
        schema_Enumerant_LR es = schema_Node_enum_get_enumerants(schema_Node_get_enum(n->r));
        sb_printf(h, "enum %s {\n", N);
        for (uint32_t i = 0; i < schema_Enumerant_LR_len(es); i++)
            sb_printf(h, "    %s_%s = %u,\n", N,
                      schema_Enumerant_get_name(schema_Enumerant_LR_at(es, i)).str, i);
        sb_printf(h, "};\nconst char *%s_name(uint16_t v); /* NULL if unknown */\n", N);
        break;
    }
    case schema_Node_interface: {
        schema_Method_LR ms = schema_Node_interface_get_methods(schema_Node_get_interface(n->r));
        if (schema_Method_LR_len(ms)) {
            sb_printf(h, "enum {\n");
            for (uint32_t i = 0; i < schema_Method_LR_len(ms); i++)
                sb_printf(h, "    %s_%s_ORDINAL = %u,\n", N,
                          schema_Method_get_name(schema_Method_LR_at(ms, i)).str, i);
            sb_printf(h, "};\n");
        }
        break;
    }
    case schema_Node_const: {
        schema_Node_const_R k = schema_Node_get_const(n->r);
        struct tinfo t = type_info(schema_Node_const_get_type(k));
        schema_Value_R v = schema_Node_const_get_value(k);
        uint64_t bits = value_bits(v);
        if (t.k == K_BOOL)
            sb_printf(h, "#define %s %s\n", N, bits ? "true" : "false");
        else if (t.k == K_INT || t.k == K_ENUM) {
            if (t.sign) {
                int64_t sv = t.bits == 8    ? (int8_t)bits
                             : t.bits == 16 ? (int16_t)bits
                             : t.bits == 32 ? (int32_t)bits
                                            : (int64_t)bits;
                sb_printf(h, "#define %s ((%s)%" PRId64 "LL)\n", N, t.ctype, sv);
            } else {
                sb_printf(h, "#define %s ((%s)0x%" PRIx64 "ULL)\n", N, t.ctype, bits);
            }
        } else if (t.k == K_FLOAT) {
            sb_printf(h, "#define %s %s(0x%" PRIx64 "ULL)\n", N,
                      t.bits == 32 ? "capnp_f32" : "capnp_f64", bits);
        } else if (t.k == K_TEXT) {
            capnp_text s = schema_Value_get_text(v);
            sb_printf(h, "#define %s ", N);
            c_literal(h, (const uint8_t *)s.str, s.len);
            sb_printf(h, "\n");
        } else {
            sb_printf(h, "/* %s: constants of this type are not generated */\n", N);
        }
        break;
    }
    default:
        break;
    }
}

static void emit_param_aliases(struct sb *h, struct node *n)
{
    if (schema_Node_which(n->r) != schema_Node_interface) return;
    schema_Method_LR ms = schema_Node_interface_get_methods(schema_Node_get_interface(n->r));
    for (uint32_t i = 0; i < schema_Method_LR_len(ms); i++) {
        schema_Method_R m = schema_Method_LR_at(ms, i);
        const char *mn = schema_Method_get_name(m).str;
        struct node *p = need_node(schema_Method_get_paramStructType(m));
        struct node *r = need_node(schema_Method_get_resultStructType(m));
        const char *sfx[2] = {"Params", "Results"};
        struct node *t[2] = {p, r};
        for (int k = 0; k < 2; k++) {
            char want[512];
            snprintf(want, sizeof want, "%s_%s_%s", n->cname, mn, sfx[k]);
            if (strcmp(want, t[k]->cname) == 0) continue;
            sb_printf(h, "typedef %s_R %s_R;\ntypedef %s_B %s_B;\n", t[k]->cname, want, t[k]->cname,
                      want);
        }
    }
}

static void emit_entry(struct sb *h, struct node *n)
{
    if (schema_Node_which(n->r) != schema_Node_struct ||
        schema_Node_struct_get_isGroup(schema_Node_get_struct(n->r)))
        return;
    const char *N = n->cname;
    sb_printf(h,
              "\nstatic inline %s_R %s_from_ptr(capnp_ptr_r p) { return "
              "(%s_R){capnp_ptr_r_struct(p)}; }\n"
              "static inline %s_R %s_read_root(struct capnp_msg *m) { return "
              "%s_from_ptr(capnp_msg_root(m)); }\n"
              "static inline %s_B %s_init_ptr(capnp_ptr_b p)\n{\n"
              "    return (%s_B){capnp_ptr_b_init_struct(p, %s_DATA_WORDS, %s_PTR_COUNT)};\n}\n"
              "static inline %s_B %s_new_root(struct capnp_builder *b) { return "
              "%s_init_ptr(capnp_builder_root(b)); }\n"
              "static inline uint32_t %s_LR_len(%s_LR l) { return l.l.len; }\n"
              "static inline %s_R %s_LR_at(%s_LR l, uint32_t i) { return "
              "(%s_R){capnp_list_r_struct(l.l, i)}; }\n"
              "static inline uint32_t %s_LB_len(%s_LB l) { return l.l.len; }\n"
              "static inline %s_B %s_LB_at(%s_LB l, uint32_t i) { return "
              "(%s_B){capnp_list_b_struct(l.l, i)}; }\n",
              N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N);
}

/* The explicit default of a struct/list/AnyPointer field, as an encoded
 * pointer in the request (null when there is none). */
static capnp_ptr_r ptr_default(schema_Field_slot_R sl)
{
    capnp_ptr_r none = {0};
    if (!schema_Field_slot_get_hadExplicitDefault(sl)) return none;
    schema_Value_R v = schema_Field_slot_get_defaultValue(sl);
    switch (schema_Value_which(v)) {
    case schema_Value_struct:
        return schema_Value_get_struct(v);
    case schema_Value_list:
        return schema_Value_get_list(v);
    case schema_Value_anyPointer:
        return schema_Value_get_anyPointer(v);
    default:
        return none;
    }
}

/* Emits the default value of field N_F as a static single-segment
 * message: the request's pointer copied into a builder whose first
 * segment holds it all (so word 0 is the root pointer and there are no far
 * pointers), the words written as they are. Declares N_F_default in the
 * header and defines it in the source; returns false when there is no
 * default (the getter then has none to fall back to). */
static bool emit_ptr_default(struct sb *h, struct sb *c, const char *N, const char *F,
                             schema_Field_slot_R sl)
{
    capnp_ptr_r dp = ptr_default(sl);
    if (capnp_ptr_r_is_null(dp)) return false;
    struct capnp_builder b;
    for (uint32_t words = 256;; words *= 2) {
        if (words > CAPNP_MAX_SEGMENT_WORDS / 2) die("default of %s.%s is too large", N, F);
        capnp_builder_init(&b, words);
        if (capnp_copy(capnp_builder_root(&b), dp) < 0 || capnp_builder_error(&b))
            die("cannot copy the default of %s.%s", N, F);
        if (b.nsegs == 1) break;
        capnp_builder_free(&b);
    }
    const struct capnp_bseg *sg = &b.segs[0];
    sb_printf(h, "extern const struct capnp_msg %s_%s_default;\n", N, F);
    sb_printf(c, "\nstatic const uint64_t %s_%s_words[%u] = {", N, F, sg->used);
    for (uint32_t i = 0; i < sg->used; i++) {
        uint64_t w;
        memcpy(&w, sg->p + 8 * (size_t)i, 8);
        sb_printf(c, "%s0x%016" PRIx64 "ULL,", i % 4 ? " " : "\n    ", w);
    }
    sb_printf(c,
              "\n};\nstatic const struct capnp_seg %s_%s_seg = {(const uint8_t *)%s_%s_words, "
              "%u};\nconst struct capnp_msg %s_%s_default = CAPNP_STATIC_MSG(%s_%s_seg);\n",
              N, F, N, F, sg->used, N, F, N, F);
    capnp_builder_free(&b);
    return true;
}

static void emit_field(struct sb *h, struct sb *c, struct node *n, schema_Node_struct_R s,
                       schema_Field_R f)
{
    const char *N = n->cname, *F = schema_Field_get_name(f).str;
    uint16_t dv = schema_Field_get_discriminantValue(f);
    char disc[160] = "";
    if (dv != 0xffff)
        snprintf(disc, sizeof disc, "    capnp_struct_b_set_u16(s.b, %u, %u);\n",
                 schema_Node_struct_get_discriminantOffset(s), dv);
    if (schema_Field_which(f) == schema_Field_group) {
        const char *G = need_node(schema_Field_group_get_typeId(schema_Field_get_group(f)))->cname;
        sb_printf(h, "static inline %s_R %s_get_%s(%s_R s) { return (%s_R){s.r}; }\n", G, N, F, N,
                  G);
        sb_printf(h, "static inline %s_B %s_init_%s(%s_B s)\n{\n%s    return (%s_B){s.b};\n}\n", G,
                  N, F, N, disc, G);
        return;
    }
    schema_Field_slot_R sl = schema_Field_get_slot(f);
    uint32_t off = schema_Field_slot_get_offset(sl);
    struct tinfo t = type_info(schema_Field_slot_get_type(sl));
    schema_Value_R dflt = schema_Field_slot_get_defaultValue(sl);
    bool ptr = t.k >= K_TEXT && t.k != K_ENUM;
    if (ptr)
        sb_printf(h,
                  "static inline bool %s_has_%s(%s_R s) { return "
                  "!capnp_ptr_r_is_null(capnp_struct_r_ptr(s.r, %u)); }\n",
                  N, F, N, off);
    /* Reader expression for the pointer of a struct/list/AnyPointer field,
     * falling back to its default (if any) when null. */
    char rptr[600];
    if ((t.k == K_STRUCT || t.k == K_LIST || t.k == K_ANY) && emit_ptr_default(h, c, N, F, sl))
        snprintf(rptr, sizeof rptr, "capnp_ptr_r_or(capnp_struct_r_ptr(s.r, %u), &%s_%s_default)",
                 off, N, F);
    else
        snprintf(rptr, sizeof rptr, "capnp_struct_r_ptr(s.r, %u)", off);
    switch (t.k) {
    case K_VOID:
        if (dv != 0xffff)
            sb_printf(h, "static inline void %s_set_%s(%s_B s)\n{\n%s}\n", N, F, N, disc);
        break;
    case K_BOOL: {
        bool d = value_bits(dflt) != 0;
        sb_printf(
            h, "static inline bool %s_get_%s(%s_R s) { return capnp_struct_r_bool(s.r, %u)%s; }\n",
            N, F, N, off, d ? " ^ true" : "");
        sb_printf(h,
                  "static inline void %s_set_%s(%s_B s, bool v)\n{\n%s    "
                  "capnp_struct_b_set_bool(s.b, %u, v%s);\n}\n",
                  N, F, N, disc, off, d ? " ^ true" : "");
        break;
    }
    case K_INT:
    case K_ENUM:
    case K_FLOAT: {
        uint64_t d = value_bits(dflt);
        char x[64] = "";
        if (d) snprintf(x, sizeof x, " ^ 0x%" PRIx64 "u", d);
        const char *U = ucast(t.bits);
        unsigned ub = t.bits;
        if (t.k == K_FLOAT) {
            sb_printf(h,
                      "static inline %s %s_get_%s(%s_R s) { return "
                      "capnp_f%u((%s)(capnp_struct_r_u%u(s.r, %u)%s)); }\n",
                      t.ctype, N, F, N, ub, U, ub, off, x);
            sb_printf(h,
                      "static inline void %s_set_%s(%s_B s, %s v)\n{\n%s    "
                      "capnp_struct_b_set_u%u(s.b, %u, (%s)(capnp_f%u_bits(v)%s));\n}\n",
                      N, F, N, t.ctype, disc, ub, off, U, ub, x);
        } else {
            sb_printf(h,
                      "static inline %s %s_get_%s(%s_R s) { return (%s)(capnp_struct_r_u%u(s.r, "
                      "%u)%s); }\n",
                      t.ctype, N, F, N, t.ctype, ub, off, x);
            sb_printf(h,
                      "static inline void %s_set_%s(%s_B s, %s v)\n{\n%s    "
                      "capnp_struct_b_set_u%u(s.b, %u, (%s)((%s)v%s));\n}\n",
                      N, F, N, t.ctype, disc, ub, off, U, U, x);
        }
        break;
    }
    case K_TEXT:
    case K_DATA: {
        bool text = t.k == K_TEXT;
        sb_printf(h, "static inline capnp_%s %s_get_%s(%s_R s)\n{\n", text ? "text" : "data", N, F,
                  N);
        bool has_d = schema_Field_slot_get_hadExplicitDefault(sl) &&
                     schema_Value_has_text(dflt); /* text and data share the slot */
        if (has_d) {
            capnp_ptr_r dp = capnp_struct_r_ptr(dflt.r, 0);
            const uint8_t *p;
            uint32_t len;
            if (text) {
                capnp_text dt = capnp_ptr_r_text(dp);
                p = (const uint8_t *)dt.str;
                len = dt.len;
            } else {
                capnp_data dd = capnp_ptr_r_data(dp);
                p = dd.ptr;
                len = dd.len;
            }
            sb_printf(h, "    if (!%s_has_%s(s))\n        return (capnp_%s){", N, F,
                      text ? "text" : "data");
            if (!text) sb_printf(h, "(const uint8_t *)");
            c_literal(h, p, len);
            sb_printf(h, ", %u};\n", len);
        }
        sb_printf(h, "    return capnp_ptr_r_%s(capnp_struct_r_ptr(s.r, %u));\n}\n",
                  text ? "text" : "data", off);
        if (text)
            sb_printf(
                h,
                "static inline int %s_set_%s(%s_B s, const char *str, uint32_t len)\n{\n%s"
                "    return capnp_ptr_b_set_text(capnp_struct_b_ptr(s.b, %u), str, len);\n}\n",
                N, F, N, disc, off);
        else
            sb_printf(h,
                      "static inline int %s_set_%s(%s_B s, const void *p, uint32_t len)\n{\n%s"
                      "    return capnp_ptr_b_set_data(capnp_struct_b_ptr(s.b, %u), p, len);\n}\n",
                      N, F, N, disc, off);
        break;
    }
    case K_STRUCT: {
        const char *U = need_node(t.id)->cname;
        sb_printf(h, "static inline %s_R %s_get_%s(%s_R s) { return %s_from_ptr(%s); }\n", U, N, F,
                  N, U, rptr);
        sb_printf(h,
                  "static inline %s_B %s_init_%s(%s_B s)\n{\n%s    return "
                  "%s_init_ptr(capnp_struct_b_ptr(s.b, %u));\n}\n",
                  U, N, F, N, disc, U, off);
        break;
    }
    case K_LIST: {
        struct tinfo e = type_info(t.elem);
        if (e.k == K_STRUCT) {
            const char *U = need_node(e.id)->cname;
            sb_printf(h,
                      "static inline %s_LR %s_get_%s(%s_R s)\n{\n"
                      "    return (%s_LR){capnp_ptr_r_list(%s, CAPNP_ES_COMPOSITE)};\n}\n",
                      U, N, F, N, U, rptr);
            sb_printf(h,
                      "static inline %s_LB %s_init_%s(%s_B s, uint32_t n)\n{\n%s"
                      "    return (%s_LB){capnp_ptr_b_init_struct_list(capnp_struct_b_ptr(s.b, "
                      "%u), %s_DATA_WORDS, %s_PTR_COUNT, n)};\n}\n",
                      U, N, F, N, disc, U, off, U, U);
        } else {
            const char *es = esize_name(t.elem);
            sb_printf(h,
                      "static inline capnp_list_r %s_get_%s(%s_R s) { return "
                      "capnp_ptr_r_list(%s, %s); }\n",
                      N, F, N, rptr, es);
            sb_printf(h,
                      "static inline capnp_list_b %s_init_%s(%s_B s, uint32_t n)\n{\n%s"
                      "    return capnp_ptr_b_init_list(capnp_struct_b_ptr(s.b, %u), %s, n);\n}\n",
                      N, F, N, disc, off, es);
        }
        break;
    }
    case K_IFACE:
        sb_printf(h,
                  "static inline bool %s_get_%s(%s_R s, uint32_t *cap_index)\n{\n"
                  "    return capnp_ptr_r_cap(capnp_struct_r_ptr(s.r, %u), cap_index);\n}\n",
                  N, F, N, off);
        sb_printf(h,
                  "static inline void %s_set_%s(%s_B s, uint32_t cap_index)\n{\n%s"
                  "    capnp_ptr_b_set_cap(capnp_struct_b_ptr(s.b, %u), cap_index);\n}\n",
                  N, F, N, disc, off);
        break;
    case K_ANY:
        sb_printf(h, "static inline capnp_ptr_r %s_get_%s(%s_R s) { return %s; }\n", N, F, N, rptr);
        sb_printf(h,
                  "static inline capnp_ptr_b %s_ptr_%s(%s_B s)\n{\n%s    return "
                  "capnp_struct_b_ptr(s.b, %u);\n}\n",
                  N, F, N, disc, off);
        break;
    }
}

static void emit_fields(struct sb *h, struct sb *c, struct node *n)
{
    if (schema_Node_which(n->r) != schema_Node_struct) return;
    schema_Node_struct_R s = schema_Node_get_struct(n->r);
    const char *N = n->cname;
    sb_printf(h, "\n/* %s fields */\n", N);
    if (schema_Node_struct_get_discriminantCount(s))
        sb_printf(h,
                  "static inline enum %s_which %s_which(%s_R s)\n{\n"
                  "    return (enum %s_which)capnp_struct_r_u16(s.r, %u);\n}\n",
                  N, N, N, N, schema_Node_struct_get_discriminantOffset(s));
    schema_Field_LR fs = schema_Node_struct_get_fields(s);
    for (uint32_t i = 0; i < schema_Field_LR_len(fs); i++)
        emit_field(h, c, n, s, schema_Field_LR_at(fs, i));
}

/* Headers of other files whose types this file's fields use. */
static void note_import(const char ***inc, size_t *ninc, const char *own, uint64_t id)
{
    struct node *t = find_node(id);
    if (!t || strcmp(t->prefix, own) == 0) return;
    for (size_t i = 0; i < *ninc; i++)
        if (strcmp((*inc)[i], t->prefix) == 0) return;
    *inc = realloc(*inc, (*ninc + 1) * sizeof **inc);
    if (!*inc) die("out of memory");
    (*inc)[(*ninc)++] = t->prefix;
}

static void collect_imports(struct node **list, size_t n, const char *own, const char ***inc,
                            size_t *ninc)
{
    for (size_t i = 0; i < n; i++) {
        if (schema_Node_which(list[i]->r) == schema_Node_interface) {
            /* Explicit parameter types get P_I_method_Params typedefs. */
            schema_Method_LR ms =
                schema_Node_interface_get_methods(schema_Node_get_interface(list[i]->r));
            for (uint32_t j = 0; j < schema_Method_LR_len(ms); j++) {
                schema_Method_R m = schema_Method_LR_at(ms, j);
                note_import(inc, ninc, own, schema_Method_get_paramStructType(m));
                note_import(inc, ninc, own, schema_Method_get_resultStructType(m));
            }
            continue;
        }
        if (schema_Node_which(list[i]->r) != schema_Node_struct) continue;
        schema_Field_LR fs = schema_Node_struct_get_fields(schema_Node_get_struct(list[i]->r));
        for (uint32_t j = 0; j < schema_Field_LR_len(fs); j++) {
            schema_Field_R f = schema_Field_LR_at(fs, j);
            if (schema_Field_which(f) != schema_Field_slot) continue;
            struct tinfo t = type_info(schema_Field_slot_get_type(schema_Field_get_slot(f)));
            if (t.k == K_LIST) t = type_info(t.elem);
            if (t.k == K_STRUCT || t.k == K_ENUM) note_import(inc, ninc, own, t.id);
        }
    }
}

void emit_file(struct node *fn, const char *filename, struct node **list, size_t n, struct sb *h,
               struct sb *c)
{
    const char *P = fn->cname;
    sb_printf(h, "/* Generated by capnpc-c from %s. Do not edit: run `make gen`. */\n", filename);
    sb_printf(h, "#ifndef CEON_GEN_%s_CAPNP_H\n#define CEON_GEN_%s_CAPNP_H\n", P, P);
    sb_printf(h, "#include \"capnp/capnp.h\"\n");
    const char **inc = NULL;
    size_t ninc = 0;
    collect_imports(list, n, P, &inc, &ninc);
    for (size_t i = 0; i < ninc; i++)
        sb_printf(h, "#include \"%s.capnp.h\"\n", inc[i]);
    free(inc);
    sb_printf(h, "\n#define %s_FILE_ID 0x%016" PRIx64 "ULL\n", P, fn->id);
    for (size_t i = 0; i < n; i++)
        emit_types(h, list[i]);
    for (size_t i = 0; i < n; i++)
        emit_param_aliases(h, list[i]);
    for (size_t i = 0; i < n; i++)
        emit_entry(h, list[i]);
    struct sb dflt = {0}; /* default values, for the source */
    for (size_t i = 0; i < n; i++)
        emit_fields(h, &dflt, list[i]);
    sb_printf(h, "\n#endif\n");

    sb_printf(c, "/* Generated by capnpc-c from %s. Do not edit: run `make gen`. */\n", filename);
    sb_printf(c, "#include \"%s.capnp.h\"\n", P);
    if (dflt.len) sb_printf(c, "%s", dflt.p);
    free(dflt.p);
    for (size_t i = 0; i < n; i++) {
        if (schema_Node_which(list[i]->r) != schema_Node_enum) continue;
        schema_Enumerant_LR es = schema_Node_enum_get_enumerants(schema_Node_get_enum(list[i]->r));
        sb_printf(c, "\nconst char *%s_name(uint16_t v)\n{\n    switch (v) {\n", list[i]->cname);
        for (uint32_t j = 0; j < schema_Enumerant_LR_len(es); j++)
            sb_printf(c, "    case %u:\n        return \"%s\";\n", j,
                      schema_Enumerant_get_name(schema_Enumerant_LR_at(es, j)).str);
        sb_printf(c, "    }\n    return 0;\n}\n");
    }
}
