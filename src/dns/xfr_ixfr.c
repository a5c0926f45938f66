/*
 * IXFR difference sequences (RFC 1995 §4) from the journal's change sets.
 *
 * The update engine records self-contained change sets: every deleted RR
 * with its TTL (DNS_CHANGE_DEL) and every added RR (DNS_CHANGE_ADD), which
 * are exactly the "deleted RRs" and "added RRs" of a difference sequence.
 * What a change set lacks is the SOA on either side: the serial bump is
 * implied. The SOA before change set i is the zone's SOA with serial
 * from_i, and its other fields are those of the SOA that the first later
 * change set replacing the SOA deleted, or of the current SOA if none did.
 * So planning reads the change sets once (and checks that they chain from
 * the client's serial to the version's), keeping only the SOAs deleted
 * along the way; streaming then reads them again, one at a time.
 */
#include "dns/wire.h"
#include "dns/xfr_int.h"
#include "util/buf.h"
#include <stdlib.h>
#include <string.h>

enum { IX_FIRST_SOA, IX_SET, IX_DELS, IX_ADDS, IX_DONE };

static bool is_apex_soa(const struct xfr_stream *s, const struct dns_change *c)
{
    return c->type == DNS_T_SOA && dns_name_equal(c->owner, s->v->apex);
}

static int tpl_add(struct xfr_stream *s, size_t index, const struct dns_change *c, struct err *e)
{
    if (c->rdlen > XFR_SOA_RDATA_MAX || xfr_soa_serial_offset(c->rdata, c->rdlen) < 0)
        return err_set(e, "malformed SOA in the journal");
    struct xfr_soa_tpl *t = realloc(s->tpl, (s->ntpl + 1) * sizeof *t);
    if (!t) return err_set(e, "out of memory");
    s->tpl = t;
    t += s->ntpl++;
    t->index = index;
    t->ttl = c->ttl;
    t->len = c->rdlen;
    memcpy(t->rd, c->rdata, c->rdlen);
    return 0;
}

/* 1: the change sets from `since` reach the version's serial (s->nsets
 * of them), 0: they do not, -1: error. */
static int walk(struct xfr_stream *s, struct journal *j, uint32_t since, struct err *e)
{
    struct journal_iter *it;
    int r = journal_iter_open(j, s->v->apex, since, &it, e);
    if (r < 0) return -1;
    if (r > 0 || !it) return 0; /* compacted away, unknown serial, or no journal for the zone */
    uint32_t at = since, from, to;
    const struct dns_change *ch;
    size_t n, count = 0;
    int ok = 0;
    while (at != s->v->serial && (r = journal_iter_next(it, &from, &to, &ch, &n, e)) > 0) {
        if (from != at) break;
        for (size_t i = 0; i < n; i++) {
            if (ch[i].op != DNS_CHANGE_ADD && ch[i].op != DNS_CHANGE_DEL) goto out;
            if (ch[i].op == DNS_CHANGE_DEL && is_apex_soa(s, &ch[i]) &&
                tpl_add(s, count, &ch[i], e) < 0) {
                ok = -1;
                goto out;
            }
        }
        at = to;
        count++;
    }
    if (r < 0) {
        ok = -1;
        goto out;
    }
    /* The journal may be ahead of the version (committed, about to be
     * published): the loop stops at the version's serial. */
    if (at == s->v->serial && count > 0) {
        ok = 1;
        s->nsets = count;
    }
out:
    journal_iter_close(it);
    return ok;
}

int xfr_ixfr_plan(struct xfr_stream *s, struct journal *j, uint32_t since, struct err *e)
{
    s->kind = XFR_IXFR_FULL;
    if (!j) return 0;
    int r = walk(s, j, since, e);
    if (r < 0) return -1;
    if (r == 0) {
        free(s->tpl);
        s->tpl = NULL;
        s->ntpl = 0;
        return 0;
    }
    if (journal_iter_open(j, s->v->apex, since, &s->it, e) != 0 || !s->it)
        return err_set(e, "the journal changed while planning an IXFR");
    s->kind = XFR_IXFR;
    s->from = since;
    return 0;
}

/* The SOA as it was before change set i, with the given serial. */
static int soa_before(struct xfr_stream *s, size_t i, uint32_t serial, struct xfr_rr *out,
                      struct err *e)
{
    for (size_t k = 0; k < s->ntpl; k++)
        if (s->tpl[k].index >= i)
            return xfr_soa_rr(s, s->tpl[k].rd, s->tpl[k].len, s->tpl[k].ttl, serial, out, e);
    const struct dns_rrset *soa = zone_version_soa(s->v);
    const uint8_t *p = rrset_first(soa);
    return xfr_soa_rr(s, rr_rdata(p), rr_rdlen(p), soa->ttl, serial, out, e);
}

/* The next change of kind op in the current set, skipping the apex SOA
 * (the difference sequence carries it in its own place). */
static bool next_change(struct xfr_stream *s, enum dns_change_op op, struct xfr_rr *out)
{
    while (s->ich < s->nch) {
        const struct dns_change *c = &s->ch[s->ich++];
        if (c->op != op || is_apex_soa(s, c)) continue;
        *out = (struct xfr_rr){c->owner, c->type, c->ttl, c->rdata, c->rdlen};
        return true;
    }
    return false;
}

int xfr_ixfr_next_rr(struct xfr_stream *s, struct xfr_rr *out, struct err *e)
{
    switch (s->phase) {
    case IX_FIRST_SOA:
        s->phase = IX_SET;
        return soa_before(s, s->nsets, s->v->serial, out, e) < 0 ? -1 : 1;
    case IX_SET: {
        if (s->set_index == s->nsets) {
            s->phase = IX_DONE;
            return soa_before(s, s->nsets, s->v->serial, out, e) < 0 ? -1 : 1;
        }
        uint32_t from;
        int r = journal_iter_next(s->it, &from, &s->to, &s->ch, &s->nch, e);
        if (r < 0) return -1;
        if (r == 0 || from != s->from)
            return err_set(e, "the journal changed during an IXFR (serial %u)", s->from);
        s->ich = 0;
        s->phase = IX_DELS;
        return soa_before(s, s->set_index, from, out, e) < 0 ? -1 : 1;
    }
    case IX_DELS:
        if (next_change(s, DNS_CHANGE_DEL, out)) return 1;
        s->ich = 0;
        s->phase = IX_ADDS;
        return soa_before(s, s->set_index + 1, s->to, out, e) < 0 ? -1 : 1;
    case IX_ADDS:
        if (next_change(s, DNS_CHANGE_ADD, out)) return 1;
        s->set_index++;
        s->from = s->to;
        s->phase = IX_SET;
        return xfr_ixfr_next_rr(s, out, e);
    default:
        return 0;
    }
}

int xfr_soa_at(struct journal *j, const struct zone_version *v, uint32_t serial, uint8_t *rd,
               uint16_t *rdlen, uint32_t *ttl, struct err *e)
{
    struct xfr_stream s = {.v = v};
    struct xfr_rr rr;
    int r = serial == v->serial ? 1 : j ? walk(&s, j, serial, e) : 0;
    /* The SOA before the first change set from `serial` (index 0). */
    if (r > 0 && soa_before(&s, 0, serial, &rr, e) < 0) r = -1;
    if (r > 0) {
        memcpy(rd, rr.rd, rr.rdlen);
        *rdlen = rr.rdlen;
        *ttl = rr.ttl;
    }
    free(s.tpl);
    return r < 0 ? -1 : r > 0 ? 0 : 1;
}

void xfr_ixfr_close(struct xfr_stream *s)
{
    journal_iter_close(s->it);
    s->it = NULL;
    free(s->tpl);
    s->tpl = NULL;
}
