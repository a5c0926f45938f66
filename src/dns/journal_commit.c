/*
 * Group commit (see journal.h): concurrent updates share one LMDB
 * transaction, hence one fsync, and each is published only once durable.
 *
 * Locks: a zone's writer lock is always taken before gc_mu, never after.
 * gc_mu protects the queue, the tips and every submission's done/rc/err.
 */
#include "dns/journal_int.h"
#include "dns/zone.h"
#include <stdlib.h>
#include <string.h>

struct journal_sub {
    struct journal_sub *next;
    struct zone *z;
    struct zone_version *nv; /* NULL: a barrier */
    struct jr_entry en;      /* en.buf NULL: a barrier */
    bool done;
    int rc;
    struct err err;
};

/* ---- tips (gc_mu held) ---- */

static struct jtip *tip_find(struct journal *j, const struct zone *z)
{
    for (size_t i = 0; i < j->ntips; i++)
        if (j->tips[i].z == z) return &j->tips[i];
    return NULL;
}

static int tip_set(struct journal *j, struct zone *z, struct zone_version *v)
{
    struct jtip *t = tip_find(j, z);
    if (!t) {
        if (j->ntips == j->captips) {
            size_t nc = j->captips ? 2 * j->captips : 8;
            struct jtip *nt = realloc(j->tips, nc * sizeof *nt);
            if (!nt) return -1;
            j->tips = nt;
            j->captips = nc;
        }
        t = &j->tips[j->ntips++];
        t->z = z;
    }
    t->v = v;
    return 0;
}

/* Forgets z's tip if it is v (or any tip, with v NULL). */
static void tip_clear(struct journal *j, const struct zone *z, const struct zone_version *v)
{
    struct jtip *t = tip_find(j, z);
    if (t && (!v || t->v == v)) *t = j->tips[--j->ntips];
}

const struct zone_version *journal_tip(struct journal *j, const struct zone *z)
{
    pthread_mutex_lock(&j->gc_mu);
    struct jtip *t = tip_find(j, z);
    const struct zone_version *v = t ? t->v : NULL;
    pthread_mutex_unlock(&j->gc_mu);
    return v;
}

int journal_submit(struct journal *j, struct zone *z, uint32_t from_serial, uint32_t to_serial,
                   const struct dns_change *changes, size_t n, struct zone_version *nv,
                   struct journal_sub **out, struct err *e)
{
    struct journal_sub *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, "out of memory");
    s->z = z;
    s->nv = nv;
    s->en.apex = z->apex;
    if (nv && jr_encode(from_serial, to_serial, changes, n, &s->en, e) < 0) {
        free(s);
        return -1;
    }
    pthread_mutex_lock(&j->gc_mu);
    if (nv && tip_set(j, z, nv) < 0) {
        pthread_mutex_unlock(&j->gc_mu);
        free(s->en.buf);
        free(s);
        return err_set(e, "out of memory");
    }
    *j->tail = s;
    j->tail = &s->next;
    pthread_mutex_unlock(&j->gc_mu);
    *out = s;
    return 0;
}

/* ---- committing (one thread at a time, gc_mu not held) ---- */

static bool later_version_for(const struct journal_sub *s)
{
    for (const struct journal_sub *k = s->next; k; k = k->next)
        if (k->z == s->z && k->nv) return true;
    return false;
}

/* Under the zone lock only what must be: the pointer swap, the tip, and
 * noticing that the zone wants a compaction (the background thread writes
 * it). The version replaced is released after a grace period, off the
 * lock and off this thread (jr_bg_retire). */
static void publish(struct journal *j, struct journal_sub *s)
{
    zone_lock(s->z);
    struct zone_version *old = zone_publish_swap(s->z, s->nv);
    pthread_mutex_lock(&j->gc_mu);
    tip_clear(j, s->z, s->nv);
    pthread_mutex_unlock(&j->gc_mu);
    jr_bg_maybe_compact(j, s->z, s->nv);
    zone_unlock(s->z);
    jr_bg_retire(j, old);
}

/* After a failed commit: z's versions in the batch are freed, and the
 * queued submissions for z, which were built on them, fail too; z builds
 * on its published version again. Under z's lock, because an updater
 * holding it may be reading the tip. */
static void fail_zone(struct journal *j, struct journal_sub *batch, struct zone *z,
                      const struct err *why)
{
    zone_lock(z);
    pthread_mutex_lock(&j->gc_mu);
    for (struct journal_sub *s = batch; s; s = s->next)
        if (s->z == z && s->nv) {
            zone_version_free(s->nv);
            s->nv = NULL;
        }
    for (struct journal_sub **pp = &j->queue; *pp;) {
        struct journal_sub *s = *pp;
        if (s->z != z) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        if (j->tail == &s->next) j->tail = pp;
        if (s->nv) zone_version_free(s->nv);
        free(s->en.buf);
        s->en.buf = NULL;
        s->rc = -1;
        s->err = *why;
        s->done = true;
    }
    tip_clear(j, z, NULL);
    pthread_mutex_unlock(&j->gc_mu);
    zone_unlock(z);
}

/* The apexes of the zones a successful commit published (distinct), for
 * the throttle once the batch is answered; NULL when none or out of memory. */
struct published {
    size_t n;
    uint8_t apex[][DNS_NAME_MAX];
};

static struct published *published_zones(const struct journal_sub *batch)
{
    size_t n = 0;
    for (const struct journal_sub *s = batch; s; s = s->next)
        n += s->nv != NULL;
    struct published *p = n ? malloc(sizeof *p + n * sizeof p->apex[0]) : NULL;
    if (!p) return NULL;
    p->n = 0;
    for (const struct journal_sub *s = batch; s; s = s->next) {
        bool seen = false;
        for (const struct journal_sub *k = batch; k != s && !seen; k = k->next)
            seen = k->z == s->z && k->nv;
        if (s->nv && !seen) dns_name_lower(p->apex[p->n++], s->z->apex); /* as jobs are queued */
    }
    return p;
}

static struct published *commit(struct journal *j, struct journal_sub *batch)
{
    struct published *pz = NULL;
    size_t n = 0;
    for (struct journal_sub *s = batch; s; s = s->next)
        n += s->en.buf != NULL;
    struct jr_entry **en = malloc((n ? n : 1) * sizeof *en);
    struct err e;
    int rc = 0;
    if (!en) {
        rc = err_set(&e, "out of memory");
    } else {
        n = 0;
        for (struct journal_sub *s = batch; s; s = s->next)
            if (s->en.buf) en[n++] = &s->en;
        if (n) rc = jr_write(j, en, n, &e);
    }
    free(en);
    for (struct journal_sub *s = batch; s; s = s->next) {
        free(s->en.buf);
        s->en.buf = NULL;
    }
    if (rc == 0) {
        /* Only the newest version of each zone is published. The ones before
         * it were never visible, and nobody reads them any more: an updater
         * reads the tip only under the zone lock, and the one that read this
         * version is the one that submitted the later one. */
        pz = published_zones(batch);
        for (struct journal_sub *s = batch; s; s = s->next)
            if (s->nv && later_version_for(s))
                zone_version_free(s->nv);
            else if (s->nv)
                publish(j, s);
    } else {
        for (struct journal_sub *s = batch; s; s = s->next) {
            bool seen = false;
            for (struct journal_sub *k = batch; k != s && !seen; k = k->next)
                seen = k->z == s->z;
            if (!seen) fail_zone(j, batch, s->z, &e);
        }
    }
    pthread_mutex_lock(&j->gc_mu);
    for (struct journal_sub *s = batch; s; s = s->next) {
        s->rc = rc;
        if (rc) s->err = e;
        s->nv = NULL;
        s->done = true;
    }
    pthread_mutex_unlock(&j->gc_mu);
    return pz;
}

int journal_wait(struct journal *j, struct journal_sub *s, struct err *e)
{
    pthread_mutex_lock(&j->gc_mu);
    while (!s->done) {
        if (j->committing) {
            pthread_cond_wait(&j->gc_cv, &j->gc_mu);
            continue;
        }
        j->committing = true;
        struct journal_sub *batch = j->queue;
        j->queue = NULL;
        j->tail = &j->queue;
        pthread_mutex_unlock(&j->gc_mu);
        struct published *pz = commit(j, batch);
        if (pz) {
            /* The batch is answered first; the updates queued behind
             * it wait while a zone's overdue compaction catches up. */
            pthread_mutex_lock(&j->gc_mu);
            pthread_cond_broadcast(&j->gc_cv);
            pthread_mutex_unlock(&j->gc_mu);
            for (size_t i = 0; i < pz->n; i++)
                jr_bg_throttle(j, pz->apex[i]);
            free(pz);
        }
        pthread_mutex_lock(&j->gc_mu);
        j->committing = false;
        pthread_cond_broadcast(&j->gc_cv);
    }
    int rc = s->rc;
    if (rc) *e = s->err;
    pthread_mutex_unlock(&j->gc_mu);
    free(s);
    return rc;
}
