/*
 * The update journal on LMDB (format and rules: journal.h).
 */
#include "dns/journal_int.h"
#include "dns/name.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zbuild.h"
#include "util/atomicfile.h"
#include "util/buf.h"
#include "util/log.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *jr_ztext(const uint8_t *n, char buf[DNS_NAME_TEXT_MAX])
{
    int l = dns_name_to_text(n, buf, DNS_NAME_TEXT_MAX);
    if (l > 1 && buf[l - 1] == '.') buf[l - 1] = 0;
    return buf;
}

int jr_txn_write(struct journal *j, MDB_txn **t)
{
    pthread_mutex_lock(&j->begin_mu);
    int rc = mdb_txn_begin(j->env, NULL, 0, t);
    pthread_mutex_unlock(&j->begin_mu);
    return rc;
}

int jr_mdb_fail(struct err *e, int rc, const char *what, const uint8_t *apex)
{
    if (apex) return err_set(e, "%s for %s: %s", what, ZNAME(apex), mdb_strerror(rc));
    return err_set(e, "%s: %s", what, mdb_strerror(rc));
}

/* ---- open / close ---- */

int journal_open(const char *dir, struct journal **out, struct err *e)
{
    if (mkdir_p(dir, 0700, e) < 0) return err_prefix(e, "journal directory %s", dir);
    struct journal *j = calloc(1, sizeof *j);
    if (!j) return err_set(e, "out of memory");
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->gc_mu, NULL);
    pthread_cond_init(&j->gc_cv, NULL);
    j->tail = &j->queue;
    j->max_entries = 1000;
    j->max_bytes = 16u << 20;
    j->size_ratio = JOURNAL_SIZE_RATIO_DEFAULT;
    jr_bg_init(j);
    int rc = mdb_env_create(&j->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(j->env, MAX_DBS + 1);
    if (rc == 0) rc = mdb_env_set_mapsize(j->env, MAP_SIZE);
    if (rc == 0) rc = mdb_env_open(j->env, dir, MDB_NOTLS, 0600);
    if (rc) {
        err_set(e, "cannot open the journal in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    int dead;
    mdb_reader_check(j->env, &dead); /* readers left by a process that died */
    /* LMDB fsyncs its files but not the directory: make newly created
     * data.mdb/lock.mdb entries durable too. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    MDB_txn *t;
    rc = jr_txn_write(j, &t);
    if (rc == 0) {
        rc = mdb_dbi_open(t, "meta", MDB_CREATE, &j->meta);
        rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    }
    if (rc) {
        err_set(e, "cannot open the journal in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    *out = j;
    return 0;
fail:
    if (j->env) mdb_env_close(j->env);
    jr_bg_stop(j);
    pthread_mutex_destroy(&j->lock);
    pthread_mutex_destroy(&j->gc_mu);
    pthread_cond_destroy(&j->gc_cv);
    free(j);
    return -1;
}

void journal_close(struct journal *j)
{
    if (!j) return;
    jr_bg_stop(j); /* before the environment goes: it may be writing */
    mdb_env_close(j->env);
    pthread_mutex_destroy(&j->lock);
    pthread_mutex_destroy(&j->gc_mu);
    pthread_cond_destroy(&j->gc_cv);
    free(j->tips);
    free(j->zones);
    free(j);
}

void journal_counters(struct journal *j, uint64_t *commits, uint64_t *entries)
{
    *commits = __atomic_load_n(&j->commits, __ATOMIC_RELAXED);
    *entries = __atomic_load_n(&j->written, __ATOMIC_RELAXED);
}

uint64_t journal_last_compaction(struct journal *j)
{
    return __atomic_load_n(&j->last_compaction, __ATOMIC_RELAXED);
}

uint64_t journal_used_bytes(struct journal *j)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(j->env, &info) != 0 || mdb_env_stat(j->env, &st) != 0) return 0;
    return (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}

void journal_set_limits(struct journal *j, uint64_t max_entries, uint64_t max_bytes)
{
    if (max_entries) j->max_entries = max_entries;
    if (max_bytes) j->max_bytes = max_bytes;
}

void journal_set_size_ratio(struct journal *j, double ratio)
{
    if (ratio >= 0) j->size_ratio = ratio;
}

/* The zone's database handle. Handles are opened in a write transaction of
 * their own and committed at once, so they stay valid for the life of the
 * environment whatever happens to the caller's transaction. */
int jr_zone_dbi(struct journal *j, const uint8_t *apex, MDB_dbi *dbi, struct err *e)
{
    uint8_t l[DNS_NAME_MAX];
    size_t len = dns_name_lower(l, apex);
    int r = -1;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->nzones; i++)
        if (j->zones[i].len == len && memcmp(j->zones[i].apex, l, len) == 0) {
            *dbi = j->zones[i].dbi;
            r = 0;
            goto out;
        }
    char name[DNS_NAME_TEXT_MAX + 8] = "zone:";
    if (dns_name_to_text(l, name + 5, sizeof name - 5) < 0 || strlen(name) > 500) {
        err_set(e, "zone name %s is too long for the journal", ZNAME(l));
        goto out;
    }
    if (j->nzones == j->cap) {
        size_t nc = j->cap ? 2 * j->cap : 8;
        struct jzone *nz = realloc(j->zones, nc * sizeof *nz);
        if (!nz) {
            err_set(e, "out of memory");
            goto out;
        }
        j->zones = nz;
        j->cap = nc;
    }
    MDB_txn *t;
    int rc = jr_txn_write(j, &t);
    if (rc == 0) {
        rc = mdb_dbi_open(t, name, MDB_CREATE, dbi);
        rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    }
    if (rc) {
        jr_mdb_fail(e, rc, "cannot open the journal database", l);
        goto out;
    }
    struct jzone *z = &j->zones[j->nzones++];
    memcpy(z->apex, l, len);
    z->len = (uint8_t)len;
    z->dbi = *dbi;
    r = 0;
out:
    pthread_mutex_unlock(&j->lock);
    return r;
}

/* ---- metadata ---- */

static void meta_key(const uint8_t *apex, uint8_t l[DNS_NAME_MAX], MDB_val *k)
{
    k->mv_size = dns_name_lower(l, apex);
    k->mv_data = l;
}

/* 1 found, 0 absent, -1 error. */
int jr_meta_get(struct journal *j, MDB_txn *t, const uint8_t *apex, struct jmeta *m, struct err *e)
{
    uint8_t l[DNS_NAME_MAX];
    MDB_val k, v;
    meta_key(apex, l, &k);
    int rc = mdb_get(t, j->meta, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return jr_mdb_fail(e, rc, "cannot read the journal metadata", apex);
    const uint8_t *p = v.mv_data;
    if ((v.mv_size != META_LEN && v.mv_size != META_LEN_OLD) || p[0] != FORMAT)
        return err_set(e,
                       "the journal metadata for %s has format %u (%zu bytes); this capd reads "
                       "format %u",
                       ZNAME(apex), v.mv_size ? p[0] : 0, v.mv_size, FORMAT);
    struct rbuf r;
    rbuf_init(&r, p + 4, v.mv_size - 4);
    m->base_serial = rbuf_u32(&r);
    m->file_hash = (uint64_t)rbuf_u32(&r) << 32 | rbuf_u32(&r);
    m->last_serial = rbuf_u32(&r);
    m->snap_bytes = 0; /* unknown in the old form */
    uint64_t *f[] = {&m->next_seq, &m->snap_seq, &m->entries, &m->bytes, &m->snap_bytes};
    for (int i = 0; i < (v.mv_size == META_LEN ? 5 : 4); i++)
        *f[i] = (uint64_t)rbuf_u32(&r) << 32 | rbuf_u32(&r);
    return 1;
}

int jr_meta_put(struct journal *j, MDB_txn *t, const uint8_t *apex, const struct jmeta *m,
                struct err *e)
{
    uint8_t l[DNS_NAME_MAX], b[META_LEN] = {FORMAT};
    struct wbuf w;
    wbuf_init(&w, b + 4, sizeof b - 4);
    wbuf_u32(&w, m->base_serial);
    wbuf_u32(&w, (uint32_t)(m->file_hash >> 32));
    wbuf_u32(&w, (uint32_t)m->file_hash);
    wbuf_u32(&w, m->last_serial);
    const uint64_t f[] = {m->next_seq, m->snap_seq, m->entries, m->bytes, m->snap_bytes};
    for (int i = 0; i < 5; i++) {
        wbuf_u32(&w, (uint32_t)(f[i] >> 32));
        wbuf_u32(&w, (uint32_t)f[i]);
    }
    MDB_val k, v = {sizeof b, b};
    meta_key(apex, l, &k);
    int rc = mdb_put(t, j->meta, &k, &v, 0);
    return rc ? jr_mdb_fail(e, rc, "cannot write the journal metadata", apex) : 0;
}

/* ---- entries ---- */

void jr_seq_key(uint64_t seq, uint8_t b[8], MDB_val *k)
{
    put_be32(b, (uint32_t)(seq >> 32));
    put_be32(b + 4, (uint32_t)seq);
    k->mv_size = 8;
    k->mv_data = b;
}

void jr_chunk_key(uint64_t seq, uint32_t idx, uint8_t b[CHUNK_KEY], MDB_val *k)
{
    put_be32(b, (uint32_t)(seq >> 32));
    put_be32(b + 4, (uint32_t)seq);
    put_be32(b + 8, idx);
    k->mv_size = CHUNK_KEY;
    k->mv_data = b;
}

uint64_t jr_key_seq(const MDB_val *k)
{
    if (k->mv_size != 8 && k->mv_size != CHUNK_KEY) return 0;
    const uint8_t *p = k->mv_data;
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static size_t record_size(const struct dns_change *c)
{
    return 2 + dns_name_len(c->owner) + 8 +
           (c->op == DNS_CHANGE_ADD || c->op == DNS_CHANGE_DEL ? c->rdlen : 0);
}

void jr_put_header(struct wbuf *w, int kind, uint32_t from, uint32_t to, uint32_t count)
{
    wbuf_u8(w, FORMAT);
    wbuf_u8(w, (uint8_t)kind);
    wbuf_u16(w, 0);
    wbuf_u32(w, from);
    wbuf_u32(w, to);
    wbuf_u32(w, count);
}

void jr_put_record(struct wbuf *w, uint8_t op, const uint8_t *owner, uint16_t type, uint32_t ttl,
                   const uint8_t *rd, uint16_t rdlen)
{
    size_t ol = dns_name_len(owner);
    wbuf_u8(w, op);
    wbuf_u8(w, (uint8_t)ol);
    wbuf_put(w, owner, ol);
    wbuf_u16(w, type);
    wbuf_u32(w, ttl);
    wbuf_u16(w, rdlen);
    wbuf_put(w, rd, rdlen);
}

int jr_decode(const MDB_val *v, struct decoded *d, struct err *e)
{
    struct rbuf r;
    rbuf_init(&r, v->mv_data, v->mv_size);
    uint8_t fmt = rbuf_u8(&r);
    d->kind = rbuf_u8(&r);
    rbuf_u16(&r);
    d->from = rbuf_u32(&r);
    d->to = rbuf_u32(&r);
    uint32_t count = rbuf_u32(&r);
    if (!rbuf_ok(&r)) return err_set(e, "truncated entry (%zu bytes)", v->mv_size);
    if (fmt != FORMAT) return err_set(e, "entry format %u, this capd reads format %u", fmt, FORMAT);
    if (d->kind != KIND_CHANGES && d->kind != KIND_SNAPSHOT)
        return err_set(e, "unknown entry kind %d", d->kind);
    if (count > rbuf_left(&r) / 11) return err_set(e, "truncated entry (%u records)", count);
    if (count > d->cap) {
        struct dns_change *nc = realloc(d->ch, (count ? count : 1) * sizeof *nc);
        if (!nc) return err_set(e, "out of memory");
        d->ch = nc;
        d->cap = count;
    }
    d->n = count;
    for (uint32_t i = 0; i < count; i++) {
        struct dns_change *c = &d->ch[i];
        uint8_t op = rbuf_u8(&r), ol = rbuf_u8(&r);
        const uint8_t *owner = r.p + r.pos;
        /* ol 0 passes dns_name_check(owner, 0) == 0, and the owner would
         * then be read from the bytes after it, past the value at its end. */
        if (ol == 0 || !rbuf_get(&r, NULL, ol) || dns_name_check(owner, ol) != ol)
            return err_set(e, "record %u: bad owner name", i);
        c->owner = owner;
        c->type = rbuf_u16(&r);
        c->ttl = rbuf_u32(&r);
        c->rdlen = rbuf_u16(&r);
        c->rdata = r.p + r.pos;
        if (!rbuf_get(&r, NULL, c->rdlen)) return err_set(e, "record %u: truncated", i);
        if (op > DNS_CHANGE_DEL_NAME || (d->kind == KIND_SNAPSHOT && op != DNS_CHANGE_ADD))
            return err_set(e, "record %u: bad operation %u", i, op);
        c->op = (enum dns_change_op)op;
    }
    if (rbuf_left(&r)) return err_set(e, "%zu bytes after the last record", rbuf_left(&r));
    return 0;
}

int jr_encode(uint32_t from, uint32_t to, const struct dns_change *changes, size_t n,
              struct jr_entry *out, struct err *e)
{
    if (n > UINT32_MAX) return err_set(e, "change set too large");
    size_t size = ENTRY_HDR;
    for (size_t i = 0; i < n; i++)
        size += record_size(&changes[i]);
    uint8_t *buf = malloc(size);
    if (!buf) return err_set(e, "out of memory");
    struct wbuf w;
    wbuf_init(&w, buf, size);
    jr_put_header(&w, KIND_CHANGES, from, to, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const struct dns_change *c = &changes[i];
        bool rd = c->op == DNS_CHANGE_ADD || c->op == DNS_CHANGE_DEL;
        jr_put_record(&w, (uint8_t)c->op, c->owner, c->type, c->ttl, rd ? c->rdata : NULL,
                      rd ? c->rdlen : 0);
    }
    out->from = from;
    out->to = to;
    out->buf = buf;
    out->size = size;
    return 0;
}

/* Puts one entry into the transaction, checking and advancing its zone's
 * metadata. */
static int put_entry(struct journal *j, MDB_txn *t, MDB_dbi dbi, const struct jr_entry *en,
                     struct err *e)
{
    struct jmeta m;
    int got = jr_meta_get(j, t, en->apex, &m, e);
    if (got == 0) err_set(e, "no journal for %s (journal_replay was not called)", ZNAME(en->apex));
    if (got <= 0) return -1;
    if (m.last_serial != en->from)
        return err_set(e, "the journal of %s is at serial %u, not %u", ZNAME(en->apex),
                       m.last_serial, en->from);
    uint8_t kb[8];
    MDB_val k, v = {en->size, en->buf};
    jr_seq_key(m.next_seq, kb, &k);
    int rc = mdb_put(t, dbi, &k, &v, MDB_APPEND);
    if (rc) return jr_mdb_fail(e, rc, "cannot write an entry", en->apex);
    m.last_serial = en->to;
    m.next_seq++;
    m.entries++;
    m.bytes += en->size;
    return jr_meta_put(j, t, en->apex, &m, e);
}

int jr_write(struct journal *j, struct jr_entry *const *en, size_t n, struct err *e)
{
    MDB_txn *t;
    MDB_dbi *dbi = malloc((n ? n : 1) * sizeof *dbi);
    if (!dbi) return err_set(e, "out of memory");
    int r = -1, rc;
    /* Before the transaction: opening a handle may need a write transaction. */
    for (size_t i = 0; i < n; i++)
        if (jr_zone_dbi(j, en[i]->apex, &dbi[i], e) < 0) goto out;
    if ((rc = jr_txn_write(j, &t))) {
        jr_mdb_fail(e, rc, "cannot begin a transaction", NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (put_entry(j, t, dbi[i], en[i], e) < 0) {
            mdb_txn_abort(t);
            goto out;
        }
    if ((rc = mdb_txn_commit(t))) {
        jr_mdb_fail(e, rc, "cannot commit", NULL);
    } else {
        r = 0;
        __atomic_add_fetch(&j->commits, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&j->written, n, __ATOMIC_RELAXED);
    }
out:
    free(dbi);
    return r;
}

int journal_append(struct journal *j, const uint8_t *apex, uint32_t from_serial, uint32_t to_serial,
                   const struct dns_change *changes, size_t n, struct err *e)
{
    struct jr_entry en = {.apex = apex}, *p = &en;
    if (jr_encode(from_serial, to_serial, changes, n, &en, e) < 0) return -1;
    int r = jr_write(j, &p, 1, e);
    free(en.buf);
    return r;
}

int journal_drop(struct journal *j, const uint8_t *apex, struct err *e)
{
    MDB_dbi dbi;
    if (jr_zone_dbi(j, apex, &dbi, e) < 0) return -1;
    uint8_t l[DNS_NAME_MAX];
    MDB_val k;
    MDB_txn *t;
    meta_key(apex, l, &k);
    pthread_mutex_lock(&j->compact_mu); /* not under a compaction of the zone */
    int rc = jr_txn_write(j, &t);
    if (rc == 0) {
        rc = mdb_drop(t, dbi, 0);
        if (rc == 0) rc = mdb_del(t, j->meta, &k, NULL);
        if (rc == MDB_NOTFOUND) rc = 0;
        rc = rc ? (mdb_txn_abort(t), rc) : mdb_txn_commit(t);
    }
    pthread_mutex_unlock(&j->compact_mu);
    return rc ? jr_mdb_fail(e, rc, "cannot drop the journal", apex) : 0;
}

bool journal_serial(struct journal *j, const uint8_t *apex, uint32_t *serial)
{
    MDB_txn *t;
    struct jmeta m;
    struct err e;
    if (mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t)) return false;
    int got = jr_meta_get(j, t, apex, &m, &e);
    mdb_txn_abort(t);
    if (got == 1 && serial) *serial = m.last_serial;
    return got == 1;
}
