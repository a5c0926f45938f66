#include "eon/specenc.h"
#include "dns/rr.h"
#include "dns/wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t root_name[1] = {0};

/* An unquoted TXT value is one string, byte for byte, as the original
 * takes it (`v=spf1 -all` is one string, not two): on the wire it becomes
 * as many 255-byte character-strings as it needs, split the way the
 * original's encoder splits it, so both send the same RDATA. */
static int txt_verbatim(const char *value, struct eon_rec *r, struct err *e)
{
    size_t len = strlen(value);
    size_t chunks = (len + 254) / 255;
    if (len + chunks > 65535)
        return err_set(e, "invalid TXT value: %zu bytes do not fit in one record", len);
    r->rdata = malloc(len + chunks);
    if (!r->rdata) return err_set(e, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < len; i += 255) {
        size_t n = len - i < 255 ? len - i : 255;
        r->rdata[o++] = (uint8_t)n;
        memcpy(r->rdata + o, value + i, n);
        o += n;
    }
    r->rdlen = (uint16_t)o;
    return 0;
}

int eon_spec_encode(const struct eon_spec *s, struct eon_rec *r, struct err *e)
{
    memset(r, 0, sizeof *r);
    r->kind = s->kind;
    r->ttl = s->ttl;
    uint8_t wire[DNS_NAME_MAX];
    struct err ne;
    /* Relative to the root: "test.example.org" and "test.example.org." mean
     * the same, as in the original. */
    if (dns_name_from_text(s->name, root_name, wire, &ne) < 0)
        return err_set(e, "invalid name '%s': %s", s->name, ne.msg);
    if (wire[0] == 0) return err_set(e, "invalid name '%s': the root is no one's domain", s->name);
    if (dns_name_to_text(wire, r->name, sizeof r->name) < 0)
        return err_set(e, "invalid name '%s': too long", s->name);
    size_t l = strlen(r->name);
    if (l > 1 && r->name[l - 1] == '.') r->name[l - 1] = 0;
    if (!s->type) return 0;
    int t = dns_type_from_text(s->type);
    if (t < 0) return err_set(e, "unknown record type '%s'", s->type);
    if (dns_type_is_meta((uint16_t)t) || t == 0)
        return err_set(e, "record type '%s' cannot be used here", s->type);
    r->type = (uint16_t)t;
    if (!s->value) return 0;
    if (r->type == DNS_T_TXT && s->value[0] != '"') return txt_verbatim(s->value, r, e);
    struct dns_rr *rr = malloc(sizeof *rr);
    if (!rr) return err_set(e, "out of memory");
    char owner[DNS_NAME_TEXT_MAX + 2];
    snprintf(owner, sizeof owner, "%s.", r->name);
    if (dns_rr_parse_text(owner, s->type, s->value, s->ttl, root_name, rr, &ne) < 0) {
        free(rr);
        return err_set(e, "invalid %s value '%s': %s", s->type, s->value, ne.msg);
    }
    r->rdlen = rr->rdlen;
    r->rdata = malloc(rr->rdlen ? rr->rdlen : 1);
    if (!r->rdata) {
        free(rr);
        return err_set(e, "out of memory");
    }
    memcpy(r->rdata, rr->rdata, rr->rdlen);
    free(rr);
    return 0;
}

void eon_rec_free(struct eon_rec *r)
{
    free(r->rdata);
    r->rdata = NULL;
}
