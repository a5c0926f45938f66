#include "answer_parse.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

struct rd {
    const uint8_t *p; /* the whole packet: names in RDATA may point anywhere before */
    size_t len;
};

/* Reads the (possibly compressed) name at *pos; *pos moves past it in the
 * record, not past what its pointers lead to. Pointers must go backwards
 * (RFC 1035 §4.1.4: to a prior occurrence), which also rules out loops. */
static void name_at(struct rd r, size_t *pos, uint8_t wire[256], char *text, size_t tcap)
{
    size_t at = *pos, w = 0, t = 0, limit = *pos;
    bool jumped = false;
    for (;;) {
        if (at >= r.len) fail_msg("name runs past the end at %zu", at);
        uint8_t c = r.p[at];
        if ((c & 0xc0) == 0xc0) {
            if (at + 1 >= r.len) fail_msg("pointer cut at %zu", at);
            size_t to = (size_t)(c & 0x3f) << 8 | r.p[at + 1];
            if (to >= limit) fail_msg("pointer at %zu to %zu does not point back", at, to);
            if (!jumped) *pos = at + 2;
            jumped = true;
            limit = to;
            at = to;
            continue;
        }
        if (c & 0xc0) fail_msg("label type %#x at %zu", c, at);
        if (at + 1 + c > r.len) fail_msg("label runs past the end at %zu", at);
        if (w + 1 + c > 255) fail_msg("name longer than 255 bytes at %zu", *pos);
        memcpy(wire + w, r.p + at, 1 + (size_t)c);
        w += 1 + (size_t)c;
        if (c == 0) break;
        for (uint8_t i = 1; i <= c; i++) {
            uint8_t ch = (uint8_t)tolower(r.p[at + i]);
            if (ch == '.' || ch == '\\')
                t += (size_t)snprintf(text + t, tcap - t, "\\%c", ch);
            else if (ch <= ' ' || ch >= 0x7f)
                t += (size_t)snprintf(text + t, tcap - t, "\\%03u", ch);
            else
                t += (size_t)snprintf(text + t, tcap - t, "%c", ch);
        }
        t += (size_t)snprintf(text + t, tcap - t, ".");
        at += 1 + (size_t)c;
    }
    if (!jumped) *pos = at + 1;
    if (t == 0) snprintf(text, tcap, ".");
}

/* Appends the name at *pos to out as text. */
static void put_name(struct rd r, size_t *pos, char *out, size_t cap)
{
    uint8_t wire[256];
    size_t n = strlen(out);
    name_at(r, pos, wire, out + n, cap - n);
}

static void put(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* RDATA [pos, end) of type t as presentation text. */
static void rdata_text(struct rd r, uint16_t t, size_t pos, size_t end, char *out, size_t cap)
{
    size_t start = pos;
    out[0] = 0;
    switch (t) {
    case 1:  /* A */
    case 28: /* AAAA */
        if (end - pos != (t == 1 ? 4u : 16u)) fail_msg("address of %zu bytes", end - pos);
        inet_ntop(t == 1 ? AF_INET : AF_INET6, r.p + pos, out, (socklen_t)cap);
        return;
    case 2:  /* NS */
    case 5:  /* CNAME */
    case 12: /* PTR */
    case 39: /* DNAME */
        put_name(r, &pos, out, cap);
        break;
    case 15: /* MX */
        if (end - pos < 3) fail_msg("short MX");
        put(out, cap, "%u ", ap_u16(r.p + pos));
        pos += 2;
        put_name(r, &pos, out, cap);
        break;
    case 6: /* SOA */
        put_name(r, &pos, out, cap);
        put(out, cap, " ");
        put_name(r, &pos, out, cap);
        if (end < pos || end - pos != 20) fail_msg("SOA numbers take %zu bytes", end - pos);
        for (int i = 0; i < 5; i++, pos += 4)
            put(out, cap, " %u", ap_u32(r.p + pos));
        break;
    case 33: /* SRV */
        if (end - pos < 7) fail_msg("short SRV");
        put(out, cap, "%u %u %u ", ap_u16(r.p + pos), ap_u16(r.p + pos + 2), ap_u16(r.p + pos + 4));
        pos += 6;
        put_name(r, &pos, out, cap);
        break;
    case 16: /* TXT: each string quoted, in order */
        while (pos < end) {
            uint8_t n = r.p[pos++];
            if (n > end - pos) fail_msg("TXT string runs past its RDATA");
            put(out, cap, "%s\"", pos > start + 1 ? " " : "");
            for (uint8_t i = 0; i < n; i++) {
                uint8_t ch = r.p[pos + i];
                if (ch == '"' || ch == '\\')
                    put(out, cap, "\\%c", ch);
                else if (ch < ' ' || ch >= 0x7f)
                    put(out, cap, "\\%03u", ch);
                else
                    put(out, cap, "%c", ch);
            }
            put(out, cap, "\"");
            pos += n;
        }
        break;
    case 43: /* DS */
        if (end - pos < 4) fail_msg("short DS");
        put(out, cap, "%u %u %u ", ap_u16(r.p + pos), r.p[pos + 2], r.p[pos + 3]);
        for (pos += 4; pos < end; pos++)
            put(out, cap, "%02X", r.p[pos]);
        break;
    default:
        put(out, cap, "\\# %zu", end - pos);
        if (end > pos) put(out, cap, " ");
        for (; pos < end; pos++)
            put(out, cap, "%02x", r.p[pos]);
        break;
    }
    if (pos != end) fail_msg("type %u: RDATA has %zu bytes after its last field", t, end - pos);
}

void ap_parse(struct msg *m, const uint8_t *p, size_t len)
{
    memset(m, 0, sizeof *m);
    struct rd r = {p, len};
    m->len = len;
    assert_true(len >= 12);
    m->id = ap_u16(p);
    m->flags = ap_u16(p + 2);
    m->qd = ap_u16(p + 4);
    uint16_t cnt[3] = {ap_u16(p + 6), ap_u16(p + 8), ap_u16(p + 10)};
    size_t pos = 12;
    char scratch[1100];
    if (m->qd == 1) {
        name_at(r, &pos, m->qname_raw, scratch, sizeof scratch);
        assert_true(pos + 4 <= len);
        m->qtype = ap_u16(p + pos);
        pos += 4;
    }
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < cnt[s]; i++) {
            assert_true(m->n[s] < 64);
            struct prr *rr = &m->rr[s][m->n[s]];
            rr->owner_at = pos;
            name_at(r, &pos, rr->owner, rr->owner_text, sizeof rr->owner_text);
            assert_true(pos + 10 <= len);
            rr->type = ap_u16(p + pos);
            rr->rclass = ap_u16(p + pos + 2);
            rr->ttl = ap_u32(p + pos + 4);
            rr->rdlen = ap_u16(p + pos + 8);
            pos += 10;
            assert_true(pos + rr->rdlen <= len);
            if (rr->type == 41) { /* OPT: only in the additional section, once */
                assert_int_equal(s, 2);
                assert_false(m->opt);
                assert_int_equal(rr->owner[0], 0);
                m->opt = true;
                m->opt_size = rr->rclass;
                m->opt_ttl = rr->ttl;
                m->opt_rdlen = rr->rdlen;
            } else {
                assert_true(rr->rdlen <= sizeof rr->rd);
                memcpy(rr->rd, p + pos, rr->rdlen);
                rdata_text(r, rr->type, pos, pos + rr->rdlen, rr->text, sizeof rr->text);
                m->n[s]++;
            }
            pos += rr->rdlen;
        }
    assert_int_equal(pos, len); /* nothing after the last record */
}

size_t ap_name_wire(const char *text, uint8_t *out)
{
    size_t o = 0;
    for (const char *s = text; *s;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        assert_true(n >= 1 && n <= 63);
        out[o++] = (uint8_t)n;
        memcpy(out + o, s, n);
        o += n;
        s += n + (dot ? 1 : 0);
    }
    out[o++] = 0;
    assert_true(o <= 255);
    return o;
}

uint16_t ap_type(const char *mn)
{
    static const struct {
        const char *mn;
        uint16_t t;
    } types[] = {{"A", 1},    {"NS", 2},    {"CNAME", 5}, {"SOA", 6},    {"PTR", 12}, {"MX", 15},
                 {"TXT", 16}, {"AAAA", 28}, {"SRV", 33},  {"DNAME", 39}, {"DS", 43}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i].mn, mn) == 0) return types[i].t;
    unsigned v;
    if (sscanf(mn, "TYPE%u", &v) == 1 && v > 0 && v <= 65535) return (uint16_t)v;
    return 0;
}
