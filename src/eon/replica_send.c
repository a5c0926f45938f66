/*
 * replica_send: what the primary sends a secondary (docs/replication.md).
 *
 * Incremental: one Secondary.update with every journal change set from the
 * serial the secondary has (`acked`) onwards, bounded (REPL_BATCH_*):
 *   prereqs = [existsData(apex, SOA, the SOA at `acked`)]
 *   updates = the change sets' operations in order (apex SOA changes left
 *             out: the last operation sets the SOA), then
 *             add(apex, SOA, the SOA at the batch's last serial)
 * The SOAs come from dns/xfr.h's xfr_soa_at, IXFR's derivation.
 * Full: update([], [remove(apex, SOA)]), then every record of one held
 * version as single-value adds, REPL_CHUNK_* per call, names in ascending
 * canonical order (the apex first), the apex SOA last in the last call.
 */
#include "dns/journal.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "eon/convert.h"
#include "eon/gen/eon.capnp.h"
#include "eon/replica_int.h"
#include "util/xalloc.h"
#include <stdlib.h>
#include <string.h>

void repl_name_text(const uint8_t *wire, char *out, size_t cap)
{
    if (dns_name_to_text(wire, out, cap) < 0 && cap) out[0] = 0;
    size_t l = strlen(out);
    if (l > 1 && out[l - 1] == '.') out[l - 1] = 0;
}

static void set_name(eon_Update_B u, const uint8_t *wire)
{
    char t[DNS_NAME_TEXT_MAX];
    repl_name_text(wire, t, sizeof t);
    eon_Update_set_name(u, t, (uint32_t)strlen(t));
}

static void set_add(eon_Update_B u, const uint8_t *owner, uint16_t type, const uint8_t *rd,
                    uint16_t rdlen, uint32_t ttl)
{
    set_name(u, owner);
    eon_Update_add_B g = eon_Update_init_add(u);
    eon_Update_add_set_type(g, (int16_t)type);
    eon_Update_add_set_value(g, rd, rdlen);
    eon_Update_add_set_ttl(g, (int32_t)ttl);
}

static void set_change(eon_Update_B u, const struct dns_change *c)
{
    switch (c->op) {
    case DNS_CHANGE_ADD:
        set_add(u, c->owner, c->type, c->rdata, c->rdlen, c->ttl);
        return;
    case DNS_CHANGE_DEL: {
        set_name(u, c->owner);
        eon_Update_removeSingle_B g = eon_Update_init_removeSingle(u);
        eon_Update_removeSingle_set_type(g, (int16_t)c->type);
        eon_Update_removeSingle_set_value(g, c->rdata, c->rdlen);
        return;
    }
    case DNS_CHANGE_DEL_RRSET:
        set_name(u, c->owner);
        eon_Update_remove_set_type(eon_Update_init_remove(u), (int16_t)c->type);
        return;
    default:
        set_name(u, c->owner);
        eon_Update_set_removeAll(u);
        return;
    }
}

/* A Secondary.update request whose one prerequisite is
 * existsData(apex, SOA, soa): the secondary applies it only if it holds
 * exactly that SOA. The caller fills *p's updates and sends it. */
static struct rpc_req *soa_checked_update(struct replica *r, const uint8_t *apex,
                                          const uint8_t *soa, uint16_t soalen,
                                          eon_Secondary_update_Params_B *p)
{
    struct rpc_req *req = rpc_req_new(r->cap, eon_Secondary_ID, eon_Secondary_update_ORDINAL);
    *p = eon_Secondary_update_Params_init_ptr(rpc_req_params(req));
    eon_Prereq_B pre = eon_Prereq_LB_at(eon_Secondary_update_Params_init_prereqs(*p, 1), 0);
    char text[DNS_NAME_TEXT_MAX];
    repl_name_text(apex, text, sizeof text);
    eon_Prereq_set_name(pre, text, (uint32_t)strlen(text));
    eon_Prereq_existsData_B ed = eon_Prereq_init_existsData(pre);
    eon_Prereq_existsData_set_type(ed, (int16_t)DNS_T_SOA);
    eon_Prereq_existsData_set_value(ed, soa, soalen);
    return req;
}

/* ------------------------------------------------------------ incremental */

/* The change sets' operations, copied out of the journal (its pointers
 * only last until the next read). */
struct batch {
    struct dns_change *ops;
    size_t n, cap;
    uint8_t *mem;
    size_t used, memcap;
};

static void batch_free(struct batch *b)
{
    free(b->ops);
    free(b->mem);
}

static void batch_add(struct batch *b, const struct dns_change *c)
{
    size_t ol = dns_name_len(c->owner);
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->ops = xrealloc(b->ops, b->cap * sizeof *b->ops);
    }
    if (b->used + ol + c->rdlen > b->memcap) {
        while (b->used + ol + c->rdlen > b->memcap)
            b->memcap = b->memcap ? 2 * b->memcap : 4096;
        b->mem = xrealloc(b->mem, b->memcap);
    }
    struct dns_change *o = &b->ops[b->n++];
    *o = *c;
    /* offsets for now: mem may still move */
    memcpy(b->mem + b->used, c->owner, ol);
    o->owner = (const uint8_t *)(uintptr_t)b->used;
    b->used += ol;
    if (c->rdlen) memcpy(b->mem + b->used, c->rdata, c->rdlen);
    o->rdata = (const uint8_t *)(uintptr_t)b->used;
    b->used += c->rdlen;
}

static bool is_apex_soa(const struct dns_change *c, const uint8_t *apex)
{
    return c->type == DNS_T_SOA && dns_name_equal(c->owner, apex);
}

/* Reads change sets from `acked` up to v's serial into b, within the
 * bounds. 0: read up to *to, 1: the journal does not cover acked. */
static int read_batch(struct replica *r, const struct zone_version *v, struct batch *b,
                      uint32_t *to, struct err *e)
{
    struct journal *j = r->zone->repl->ctx->journal;
    struct journal_iter *it = NULL;
    int rc = j ? journal_iter_open(j, v->apex, r->acked, &it, e) : 1;
    if (rc != 0 || !it) return rc < 0 ? -1 : 1;
    uint32_t at = r->acked, from, next;
    const struct dns_change *ch;
    size_t n;
    size_t bytes = 0;
    while (at != v->serial && (rc = journal_iter_next(it, &from, &next, &ch, &n, e)) > 0) {
        if (from != at) break;
        size_t k = 0, kb = 0;
        for (size_t i = 0; i < n; i++)
            if (!is_apex_soa(&ch[i], v->apex)) {
                k++;
                kb += dns_name_len(ch[i].owner) + ch[i].rdlen;
            }
        if (b->n && (b->n + k > REPL_BATCH_OPS || bytes + kb > REPL_BATCH_BYTES)) break;
        /* One change set bigger than a secondary takes in a call (an
         * update removing a large name): only the whole zone can carry it. */
        if (k + 2 > EON_UPDATE_MAX_ITEMS) break;
        for (size_t i = 0; i < n; i++)
            if (!is_apex_soa(&ch[i], v->apex)) batch_add(b, &ch[i]);
        bytes += kb;
        at = next;
    }
    journal_iter_close(it);
    if (rc < 0) return -1;
    if (at == r->acked) return 1;
    *to = at;
    return 0;
}

int replica_send_incremental(struct replica *r, const struct zone_version *v, uint32_t *to,
                             rpc_response_fn cb, void *ud, struct err *e)
{
    struct batch b = {0};
    int rc = read_batch(r, v, &b, to, e);
    if (rc != 0) {
        batch_free(&b);
        return rc;
    }
    struct journal *j = r->zone->repl->ctx->journal;
    uint8_t before[XFR_SOA_MAX], after[XFR_SOA_MAX];
    uint16_t blen, alen;
    uint32_t bttl, attl;
    if ((rc = xfr_soa_at(j, v, r->acked, before, &blen, &bttl, e)) != 0 ||
        (rc = xfr_soa_at(j, v, *to, after, &alen, &attl, e)) != 0) {
        batch_free(&b);
        return rc;
    }
    eon_Secondary_update_Params_B p;
    struct rpc_req *req = soa_checked_update(r, v->apex, before, blen, &p);
    eon_Update_LB ul = eon_Secondary_update_Params_init_updates(p, (uint32_t)b.n + 1);
    for (size_t i = 0; i < b.n; i++) {
        struct dns_change c = b.ops[i];
        c.owner = b.mem + (uintptr_t)c.owner;
        c.rdata = b.mem + (uintptr_t)c.rdata;
        set_change(eon_Update_LB_at(ul, (uint32_t)i), &c);
    }
    set_add(eon_Update_LB_at(ul, (uint32_t)b.n), v->apex, DNS_T_SOA, after, alen, attl);
    batch_free(&b);
    rpc_promise_unref(rpc_req_send(req, cb, ud));
    return 0;
}

int replica_send_soa_check(struct replica *r, const struct zone_version *v, rpc_response_fn cb,
                           void *ud, struct err *e)
{
    (void)e;
    const struct dns_rrset *soa = zone_version_soa(v);
    const uint8_t *rr = rrset_first(soa);
    eon_Secondary_update_Params_B p;
    struct rpc_req *req = soa_checked_update(r, v->apex, rr_rdata(rr), rr_rdlen(rr), &p);
    eon_Secondary_update_Params_init_updates(p, 0);
    rpc_promise_unref(rpc_req_send(req, cb, ud));
    return 0;
}

/* ------------------------------------------------------------ full transfer */

int replica_send_clear(struct replica *r, rpc_response_fn cb, void *ud, struct err *e)
{
    (void)e;
    struct rpc_req *req = rpc_req_new(r->cap, eon_Secondary_ID, eon_Secondary_update_ORDINAL);
    eon_Secondary_update_Params_B p = eon_Secondary_update_Params_init_ptr(rpc_req_params(req));
    eon_Secondary_update_Params_init_prereqs(p, 0);
    eon_Update_LB ul = eon_Secondary_update_Params_init_updates(p, 1);
    eon_Update_B u = eon_Update_LB_at(ul, 0);
    set_name(u, r->xv->apex);
    eon_Update_remove_set_type(eon_Update_init_remove(u), (int16_t)DNS_T_SOA);
    rpc_promise_unref(rpc_req_send(req, cb, ud));
    return 0;
}

/* The cursor: the next record of the version after (node, set, rr),
 * nodes in canonical order (the version's ordered index), the apex SOA
 * skipped (it goes last of all). eon's secondary takes the records in any
 * order as long as the SOA ends the transfer. */
struct cursor {
    struct zone_cursor zc;
    const struct zone_node *nd; /* NULL: take the next node */
    size_t set;
    const uint8_t *rr;
};

static bool cursor_next(struct cursor *c, const struct zone_node **n, const struct dns_rrset **s)
{
    for (;;) {
        if (!c->nd) {
            if (!(c->nd = zone_cursor_next(&c->zc))) return false;
            c->set = 0;
            c->rr = NULL;
        }
        const struct zone_node *nd = c->nd;
        for (; c->set < nd->nrrsets; c->set++, c->rr = NULL) {
            const struct dns_rrset *set = &nd->rrsets[c->set];
            if ((nd->flags & ZN_APEX) && set->type == DNS_T_SOA) continue; /* last of all */
            c->rr = c->rr ? rrset_next(set, c->rr) : rrset_first(set);
            if (!c->rr) continue;
            *n = nd;
            *s = set;
            return true;
        }
        c->nd = NULL;
    }
}

int replica_send_chunk(struct replica *r, rpc_response_fn cb, void *ud, struct err *e)
{
    (void)e;
    const struct zone_version *v = r->xv;
    struct cursor c = {r->x_zc, r->x_nd, r->x_set, r->x_rr}, start = c;
    const struct zone_node *n;
    const struct dns_rrset *s;
    size_t count = 0, bytes = 0;
    /* First pass: how many records go in this call. */
    while (count < REPL_CHUNK_RECORDS && bytes < REPL_CHUNK_BYTES) {
        struct cursor before = c;
        if (!cursor_next(&c, &n, &s)) break;
        size_t rb = n->name_len + rr_rdlen(c.rr);
        if (count && bytes + rb > REPL_CHUNK_BYTES) {
            c = before;
            break;
        }
        count++;
        bytes += rb;
    }
    struct cursor probe = c;
    bool last = !cursor_next(&probe, &n, &s) && count < REPL_CHUNK_RECORDS;
    struct rpc_req *req = rpc_req_new(r->cap, eon_Secondary_ID, eon_Secondary_update_ORDINAL);
    eon_Secondary_update_Params_B p = eon_Secondary_update_Params_init_ptr(rpc_req_params(req));
    eon_Secondary_update_Params_init_prereqs(p, 0);
    eon_Update_LB ul = eon_Secondary_update_Params_init_updates(p, (uint32_t)(count + last));
    c = start;
    for (size_t i = 0; i < count && cursor_next(&c, &n, &s); i++)
        set_add(eon_Update_LB_at(ul, (uint32_t)i), n->name, s->type, rr_rdata(c.rr), rr_rdlen(c.rr),
                s->ttl);
    if (last) {
        const struct dns_rrset *soa = zone_version_soa(v);
        const uint8_t *rr = rrset_first(soa);
        set_add(eon_Update_LB_at(ul, (uint32_t)count), v->apex, DNS_T_SOA, rr_rdata(rr),
                rr_rdlen(rr), soa->ttl);
        r->x_done = true;
    }
    r->x_zc = c.zc;
    r->x_nd = c.nd;
    r->x_set = c.set;
    r->x_rr = c.rr;
    r->x_records += count + last;
    rpc_promise_unref(rpc_req_send(req, cb, ud));
    return 0;
}

int replica_update_result(struct rpc_response *resp, struct err *e)
{
    if (resp->error) return err_set(e, "%s", resp->error);
    eon_Secondary_update_Results_R res = eon_Secondary_update_Results_from_ptr(resp->content);
    if (eon_Secondary_update_Results_get_success(res)) return 0;
    capnp_text t = eon_Secondary_update_Results_get_error(res);
    return err_set(e, "%.*s", (int)(t.len > 400 ? 400 : t.len), t.str ? t.str : "");
}
