/*
 * Reading the journal: the start-up rule (journal_replay) and iterating
 * over change sets (for IXFR). Format and rules: journal.h.
 */
#include "dns/journal_int.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zbuild.h"
#include "util/buf.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>

/* ---- replay ---- */

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t x = *h;
    for (size_t i = 0; i < n; i++) {
        x ^= b[i];
        x *= 1099511628211ull;
    }
    *h = x;
}

void jr_hash_rrset(uint64_t *h, const struct zone_node *node, const struct dns_rrset *s)
{
    uint8_t hdr[8];
    put_be16(hdr, s->type);
    put_be32(hdr + 2, s->ttl);
    put_be16(hdr + 6, s->count);
    fnv(h, node->name, node->name_len);
    fnv(h, hdr, sizeof hdr);
    fnv(h, s->rdata, s->rdata_size);
}

static int hash_rrset(void *ctx, const struct zone_node *node, const struct dns_rrset *s)
{
    jr_hash_rrset(ctx, node, s);
    return 0;
}

uint64_t zone_version_hash(const struct zone_version *v)
{
    uint64_t h = JR_HASH_INIT;
    zone_version_foreach(v, hash_rrset, &h);
    return h;
}

static int start_fresh(struct journal *j, MDB_txn *t, MDB_dbi dbi, const struct zone_version *fv,
                       uint64_t hash, uint64_t next_seq, struct err *e)
{
    int rc = mdb_drop(t, dbi, 0);
    if (rc) return jr_mdb_fail(e, rc, "cannot empty the journal", fv->apex);
    struct jmeta m = {.base_serial = fv->serial,
                      .file_hash = hash,
                      .last_serial = fv->serial,
                      .next_seq = next_seq ? next_seq : 1};
    return jr_meta_put(j, t, fv->apex, &m, e);
}

/*
 * Applies one change of entry d. At run time every version's SOA carries
 * that version's serial (zone_version_apply writes it), so the change set
 * of an update that set the SOA deletes the SOA with the serial d->from.
 * Replay builds one version from all entries and writes the serial only at
 * the end: the builder's SOA still carries the file's serial (or that of
 * the last SOA update), so deleting by exact RDATA would miss it and leave
 * two SOAs. Instead that deletion, once its serial is checked, removes the
 * builder's SOA (a zone has exactly one) and the SOA the entry adds
 * replaces it, as it did when the update was made. This also holds when
 * the file's SOA was edited without a newer serial (rule 3): the SOA an
 * update set wins over the edit, whose other changes stay.
 */
static int apply_change(struct zbuild *b, const uint8_t *apex, const struct decoded *d,
                        const struct dns_change *c, struct err *e)
{
    if (c->op == DNS_CHANGE_ADD)
        return zb_add(b, c->owner, c->type, c->ttl, c->rdata, c->rdlen, false, 0, e) < 0 ? -1 : 0;
    if (c->op == DNS_CHANGE_DEL && c->type == DNS_T_SOA && dns_name_equal(c->owner, apex)) {
        if (!dns_rdata_check(DNS_T_SOA, c->rdata, c->rdlen))
            return err_set(e, "it deletes a malformed SOA");
        uint32_t serial = be32(c->rdata + c->rdlen - 20);
        if (serial != d->from)
            return err_set(e, "it deletes an SOA of serial %u (the zone's is %u)", serial, d->from);
        return zb_del(b, DNS_CHANGE_DEL_RRSET, c->owner, DNS_T_SOA, NULL, 0, e);
    }
    return zb_del(b, c->op, c->owner, c->type, c->rdata, c->rdlen, e);
}

/* Applies every record of the entry at the cursor (decoded into d). */
static int apply_entry(struct zbuild *b, const uint8_t *apex, const MDB_val *k, const MDB_val *v,
                       struct decoded *d, struct err *e)
{
    unsigned long long seq = jr_key_seq(k);
    if (jr_decode(v, d, e) < 0) return err_prefix(e, "entry %llu", seq);
    for (size_t i = 0; i < d->n; i++)
        if (apply_change(b, apex, d, &d->ch[i], e) < 0)
            return err_prefix(e, "entry %llu (serial %u -> %u) does not apply", seq, d->from,
                              d->to);
    return 0;
}

/* Applies the snapshot the metadata names (its chunks, or the one entry
 * of a journal written before chunks) and leaves the cursor after it.
 * *serial: the snapshot's. */
static int apply_snapshot(MDB_cursor *cur, MDB_val *k, MDB_val *v, int *rc, struct zbuild *b,
                          const uint8_t *apex, const struct jmeta *m, struct decoded *d,
                          uint32_t *serial, struct err *e)
{
    uint8_t kb[8];
    jr_seq_key(m->snap_seq, kb, k);
    *rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    bool whole = *rc == 0 && !jr_is_chunk(k) && jr_key_seq(k) == m->snap_seq;
    if (*rc == 0 && !whole && (!jr_is_chunk(k) || jr_key_seq(k) != m->snap_seq)) *rc = MDB_NOTFOUND;
    if (*rc == MDB_NOTFOUND)
        return err_set(e, "its snapshot (entry %llu) is missing", (unsigned long long)m->snap_seq);
    for (uint32_t idx = 0; *rc == 0; idx++) {
        if (!whole && (!jr_is_chunk(k) || jr_key_seq(k) != m->snap_seq)) break;
        if (!whole && be32((const uint8_t *)k->mv_data + 8) != idx)
            return err_set(e, "snapshot %llu lacks chunk %u", (unsigned long long)m->snap_seq, idx);
        if (apply_entry(b, apex, k, v, d, e) < 0) return -1;
        if (d->kind != KIND_SNAPSHOT)
            return err_set(e, "entry %llu is not the snapshot its metadata names",
                           (unsigned long long)m->snap_seq);
        if (idx > 0 && d->to != *serial)
            return err_set(e, "snapshot %llu: chunk %u is of serial %u, not %u",
                           (unsigned long long)m->snap_seq, idx, d->to, *serial);
        *serial = d->to;
        *rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
        if (whole) break;
    }
    return 0;
}

/* Builds the replayed version: the snapshot (or the file's version), then
 * every change set after it, checking that the serials chain from the
 * snapshot (or from the serial the journal began at, whatever the file's
 * serial is now: an edited file may have any serial that is not newer).
 * Chunks other than the snapshot's were left by an interrupted compaction:
 * skipped. */
static int replay_entries(MDB_txn *t, MDB_dbi dbi, const uint8_t *apex,
                          const struct zone_version *fv, const struct jmeta *m,
                          struct zone_version **out, struct journal_replay_info *info,
                          struct err *e)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct decoded d = {0};
    struct zbuild *b = zb_new(apex);
    int r = -1, rc;
    uint32_t serial = m->base_serial;
    if (!b) return err_set(e, "out of memory");
    if ((rc = mdb_cursor_open(t, dbi, &cur))) {
        zb_free(b);
        return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    }
    if (m->snap_seq) {
        if (apply_snapshot(cur, &k, &v, &rc, b, apex, m, &d, &serial, e) < 0) goto done;
        info->from_snapshot = true;
    } else if (!fv || zb_load_version(b, fv, e) < 0) {
        if (!fv) err_set(e, "it has no snapshot");
        goto done;
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (jr_is_chunk(&k)) continue;
        unsigned long long seq = jr_key_seq(&k);
        if (v.mv_size >= 2 && ((const uint8_t *)v.mv_data)[1] == KIND_SNAPSHOT) {
            err_set(e, "entry %llu is an unexpected snapshot", seq);
            goto done;
        }
        if (v.mv_size >= ENTRY_HDR && be32((const uint8_t *)v.mv_data + 4) != serial) {
            err_set(e, "entry %llu goes from serial %u but the zone was at %u", seq,
                    be32((const uint8_t *)v.mv_data + 4), serial);
            goto done;
        }
        if (apply_entry(b, apex, &k, &v, &d, e) < 0) goto done;
        serial = d.to;
        info->entries++;
    }
    if (rc != MDB_NOTFOUND) {
        jr_mdb_fail(e, rc, "cannot read the journal", NULL);
        goto done;
    }
    if (serial != m->last_serial) {
        err_set(e, "its entries end at serial %u but its metadata says %u", serial, m->last_serial);
        goto done;
    }
    if (zb_freeze(b, true, serial, out, e) < 0) {
        err_prefix(e, "the replayed zone is invalid");
        goto done;
    }
    info->serial = serial;
    r = 0;
done:
    mdb_cursor_close(cur);
    zb_free(b);
    free(d.ch);
    return r;
}

static int replay_locked(struct journal *j, const struct zone_version *fv,
                         struct zone_version **out, struct journal_replay_info *info, struct err *e)
{
    struct journal_replay_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    info->serial = fv->serial;
    *out = NULL;
    MDB_dbi dbi;
    if (jr_zone_dbi(j, fv->apex, &dbi, e) < 0) return -1;
    uint64_t hash = zone_version_hash(fv);
    MDB_txn *t;
    struct jmeta m;
    int rc = jr_txn_write(j, &t);
    if (rc) return jr_mdb_fail(e, rc, "cannot begin a transaction", fv->apex);
    int got = jr_meta_get(j, t, fv->apex, &m, e);
    if (got < 0) goto abort;
    if (got == 0) {
        info->started = true;
        if (start_fresh(j, t, dbi, fv, hash, 1, e) < 0) goto abort;
    } else if (serial_newer(fv->serial, m.last_serial) && hash != m.file_hash) {
        /* Only an edited file wins: SOA updates can move the journal's
         * serial more than 2^31 past an unchanged file's, which then looks
         * newer (RFC 1982) although nobody touched it. */
        info->dropped = true;
        info->entries = m.entries;
        if (m.snap_seq || m.entries)
            log_error("warning: the zone file of %s has serial %u, newer than the journal's %u: "
                      "the zone file wins and the journal is dropped",
                      ZNAME(fv->apex), fv->serial, m.last_serial);
        if (start_fresh(j, t, dbi, fv, hash, m.next_seq, e) < 0) goto abort;
    } else if (!m.snap_seq && !m.entries) {
        /* Nothing recorded yet: follow the file, whatever its serial. */
        if (start_fresh(j, t, dbi, fv, hash, m.next_seq, e) < 0) goto abort;
    } else {
        if (hash != m.file_hash) {
            info->content_changed = true;
            log_error("warning: the zone file of %s changed but its serial %u is not newer than "
                      "the journal's %u: %s",
                      ZNAME(fv->apex), fv->serial, m.last_serial,
                      m.snap_seq ? "the journal's snapshot replaces the file's content (raise the "
                                   "file's serial above the journal's to make the file win)"
                                 : "the journal's changes are applied on top of the file");
            m.file_hash = hash; /* the chain still starts at m.base_serial */
            if (jr_meta_put(j, t, fv->apex, &m, e) < 0) goto abort;
        }
        if ((m.snap_seq || m.entries) &&
            replay_entries(t, dbi, fv->apex, fv, &m, out, info, e) < 0) {
            err_prefix(e, "the journal of %s cannot be replayed", ZNAME(fv->apex));
            goto abort;
        }
    }
    if ((rc = mdb_txn_commit(t))) {
        if (*out) zone_version_free(*out);
        *out = NULL;
        return jr_mdb_fail(e, rc, "cannot commit", fv->apex);
    }
    return 0;
abort:
    mdb_txn_abort(t);
    return -1;
}

int journal_replay(struct journal *j, const struct zone_version *fv, struct zone_version **out,
                   struct journal_replay_info *info, struct err *e)
{
    /* It may restart the zone's journal: not under a compaction of it. */
    pthread_mutex_lock(&j->compact_mu);
    int r = replay_locked(j, fv, out, info, e);
    pthread_mutex_unlock(&j->compact_mu);
    return r;
}

int journal_build_version(const uint8_t *apex, const struct dns_change *records, size_t n,
                          uint32_t serial, struct zone_version **out, struct err *e)
{
    struct zbuild *b = zb_new(apex);
    if (!b) return err_set(e, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct dns_change *c = &records[i];
        if (c->op != DNS_CHANGE_ADD)
            rc = err_set(e, "record %zu is not an addition", i);
        else if (zb_add(b, c->owner, c->type, c->ttl, c->rdata, c->rdlen, false, 0, e) < 0)
            rc = -1;
    }
    if (rc == 0) rc = zb_freeze(b, true, serial, out, e);
    zb_free(b);
    return rc < 0 ? -1 : 0;
}

int journal_load_zone(struct journal *j, const uint8_t *apex, struct zone_version **out,
                      struct journal_replay_info *info, struct err *e)
{
    struct journal_replay_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    *out = NULL;
    MDB_dbi dbi;
    if (jr_zone_dbi(j, apex, &dbi, e) < 0) return -1;
    MDB_txn *t;
    struct jmeta m;
    int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t);
    if (rc) return jr_mdb_fail(e, rc, "cannot begin a transaction", apex);
    int got = jr_meta_get(j, t, apex, &m, e);
    if (got == 1 && !m.snap_seq) got = 0; /* change sets of a zone file we do not have */
    if (got == 1 && replay_entries(t, dbi, apex, NULL, &m, out, info, e) < 0) {
        err_prefix(e, "the journal of %s cannot be replayed", ZNAME(apex));
        got = -1;
    }
    mdb_txn_abort(t);
    return got;
}

/* ---- iterating (IXFR) ---- */

struct journal_iter {
    MDB_txn *t;
    MDB_cursor *cur;
    bool at_end;
    struct decoded d;
};

void journal_iter_close(struct journal_iter *it)
{
    if (!it) return;
    if (it->cur) mdb_cursor_close(it->cur);
    if (it->t) mdb_txn_abort(it->t);
    free(it->d.ch);
    free(it);
}

int journal_iter_open(struct journal *j, const uint8_t *apex, uint32_t since,
                      struct journal_iter **out, struct err *e)
{
    MDB_dbi dbi;
    struct jmeta m;
    MDB_val k, v;
    *out = NULL;
    if (jr_zone_dbi(j, apex, &dbi, e) < 0) return -1;
    struct journal_iter *it = calloc(1, sizeof *it);
    if (!it) return err_set(e, "out of memory");
    int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &it->t);
    if (rc == 0) rc = mdb_cursor_open(it->t, dbi, &it->cur);
    if (rc) {
        journal_iter_close(it);
        return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    }
    int got = jr_meta_get(j, it->t, apex, &m, e);
    if (got <= 0) {
        journal_iter_close(it);
        return got;
    }
    if (since == m.last_serial) {
        it->at_end = true;
        *out = it;
        return 0;
    }
    /* The change set that starts at `since`, after the snapshot if any. */
    uint8_t kb[8];
    jr_seq_key(m.snap_seq, kb, &k);
    rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT)) {
        if (jr_is_chunk(&k) || v.mv_size < ENTRY_HDR) continue; /* reported by _next if reached */
        const uint8_t *p = v.mv_data;
        if (p[1] == KIND_CHANGES && be32(p + 4) == since) {
            *out = it;
            return 0;
        }
    }
    journal_iter_close(it);
    if (rc != MDB_NOTFOUND) return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    return 1;
}

int journal_iter_next(struct journal_iter *it, uint32_t *from_serial, uint32_t *to_serial,
                      const struct dns_change **changes, size_t *n, struct err *e)
{
    if (it->at_end) return 0;
    MDB_val k, v;
    int rc = mdb_cursor_get(it->cur, &k, &v, MDB_GET_CURRENT);
    if (rc) return jr_mdb_fail(e, rc, "cannot read the journal", NULL);
    if (jr_decode(&v, &it->d, e) < 0)
        return err_prefix(e, "entry %llu", (unsigned long long)jr_key_seq(&k));
    *from_serial = it->d.from;
    *to_serial = it->d.to;
    *changes = it->d.ch;
    *n = it->d.n;
    /* Snapshot chunks between change sets (a compaction in progress, or
     * one interrupted) are not change sets. */
    while ((rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT)) == 0 && jr_is_chunk(&k))
        ;
    if (rc == MDB_NOTFOUND)
        it->at_end = true;
    else if (rc)
        return jr_mdb_fail(e, rc, "cannot read the journal", NULL);
    return 1;
}
