/*
 * The journal's background thread (issue 12): it runs the compactions the
 * commits queue (journal_compact.c writes them) and releases the versions
 * that commits replace, after their grace period.
 *
 * Updates that outrun compaction: a commit that leaves a zone past twice
 * its limits while the zone's compaction is queued or running waits for
 * it (jr_bg_throttle), which bounds what start-up replays (journal.h).
 *
 * Why a thread of the journal's own rather than a libuv work item: the dns
 * layer has no event loop, commits run on whatever thread waited first, and
 * a compaction blocks in fsync for as long as its chunks take; a thread per
 * journal keeps that out of libuv's small shared pool, and journal_close
 * can stop and join it.
 *
 * The same thread waits for the grace period of the versions a commit
 * replaced (synchronize_rcu) and releases them: one wait covers every
 * version retired meanwhile, and neither the zone lock nor an update's
 * reply waits for it.
 */
#include "dns/journal_int.h"
#include "dns/zone.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

struct jretire {
    struct jretire *next;
    struct zone_version *v;
};
/* Releases a batch of replaced versions after one grace period. */
static void release_after_grace(struct jretire *r)
{
    if (!r) return;
    synchronize_rcu();
    while (r) {
        struct jretire *next = r->next;
        zone_version_release(r->v);
        free(r);
        r = next;
    }
}

void jr_bg_drain_retired(struct journal *j)
{
    pthread_mutex_lock(&j->bg_mu);
    struct jretire *r = j->retired;
    j->retired = NULL;
    pthread_mutex_unlock(&j->bg_mu);
    release_after_grace(r);
    if (r) {
        pthread_mutex_lock(&j->bg_mu);
        pthread_cond_broadcast(&j->bg_cv);
        pthread_mutex_unlock(&j->bg_mu);
    }
}
static void *bg_main(void *arg)
{
    struct journal *j = arg;
    pthread_mutex_lock(&j->bg_mu);
    for (;;) {
        if (j->retired) {
            pthread_mutex_unlock(&j->bg_mu);
            jr_bg_drain_retired(j);
            pthread_mutex_lock(&j->bg_mu);
        } else if (j->bg_stop) {
            break;
        } else if (j->jobs) {
            struct jcompaction *job = j->jobs;
            j->jobs = job->next;
            j->bg_busy = true;
            memcpy(j->bg_apex, job->apex, sizeof job->apex);
            pthread_mutex_unlock(&j->bg_mu);
            jr_compact_job(j, job);
            free(job);
            pthread_mutex_lock(&j->bg_mu);
            j->bg_busy = false;
            pthread_cond_broadcast(&j->bg_cv);
        } else {
            pthread_cond_wait(&j->bg_cv, &j->bg_mu);
        }
    }
    while (j->jobs) { /* closing: what was queued is dropped */
        struct jcompaction *job = j->jobs;
        j->jobs = job->next;
        zone_version_release(job->v);
        free(job);
    }
    pthread_mutex_unlock(&j->bg_mu);
    return NULL;
}

/* bg_mu held. False if the thread cannot run (the caller works inline). */
static bool bg_running(struct journal *j)
{
    if (!j->bg_started && !j->bg_stop)
        j->bg_started = pthread_create(&j->bg_thread, NULL, bg_main, j) == 0;
    return j->bg_started && !j->bg_stop;
}
void jr_bg_init(struct journal *j)
{
    pthread_mutex_init(&j->bg_mu, NULL);
    pthread_cond_init(&j->bg_cv, NULL);
    pthread_mutex_init(&j->compact_mu, NULL);
    jr_compact_init(j);
}

void jr_bg_stop(struct journal *j)
{
    pthread_mutex_lock(&j->bg_mu);
    __atomic_store_n(&j->bg_stop, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&j->bg_cv);
    bool started = j->bg_started;
    pthread_mutex_unlock(&j->bg_mu);
    if (started) pthread_join(j->bg_thread, NULL);
    release_after_grace(j->retired); /* none unless the thread never ran */
    j->retired = NULL;
    pthread_mutex_destroy(&j->bg_mu);
    pthread_cond_destroy(&j->bg_cv);
    pthread_mutex_destroy(&j->compact_mu);
    pthread_mutex_destroy(&j->begin_mu);
}

void journal_background_wait(struct journal *j)
{
    pthread_mutex_lock(&j->bg_mu);
    while (j->jobs || j->bg_busy || j->retired)
        pthread_cond_wait(&j->bg_cv, &j->bg_mu);
    pthread_mutex_unlock(&j->bg_mu);
}

void jr_bg_retire(struct journal *j, struct zone_version *old)
{
    if (!old) return;
    struct jretire *r = malloc(sizeof *r);
    pthread_mutex_lock(&j->bg_mu);
    if (r && bg_running(j)) {
        *r = (struct jretire){j->retired, old};
        j->retired = r;
        pthread_cond_broadcast(&j->bg_cv);
        r = NULL;
        old = NULL;
    }
    pthread_mutex_unlock(&j->bg_mu);
    if (old) {
        free(r);
        synchronize_rcu();
        zone_version_release(old);
    }
}

/* The policy (journal.h, issue 12): a snapshot rewrites the whole zone, so
 * it waits until the change sets since the last one weigh a share of it
 * (size_ratio of its bytes) as well as number max_entries; max_bytes caps
 * them whatever the zone's size. A snapshot of unknown size (none yet, or
 * recorded by a journal before snap_bytes) leaves max_entries alone, as
 * before the ratio existed. */
bool jr_over_limits(const struct journal *j, const struct jmeta *m, uint64_t times)
{
    if (!m->entries) return false;
    if (m->bytes >= times * j->max_bytes) return true;
    double share = j->size_ratio * (double)m->snap_bytes * (double)times;
    return m->entries >= times * j->max_entries && (double)m->bytes >= share;
}

/* 1 with *m when the zone's entries since its snapshot exceed the limits. */
static int wants(struct journal *j, const uint8_t *apex, struct jmeta *m)
{
    MDB_txn *t;
    struct err e;
    if (mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t)) return 0;
    int got = jr_meta_get(j, t, apex, m, &e);
    mdb_txn_abort(t);
    return got == 1 && jr_over_limits(j, m, 1);
}

bool journal_wants_compaction(struct journal *j, const uint8_t *apex)
{
    struct jmeta m;
    return wants(j, apex, &m);
}

static bool queued_for(const struct journal *j, const uint8_t *apex)
{
    size_t len = dns_name_len(apex);
    if (j->bg_busy && memcmp(j->bg_apex, apex, len) == 0) return true;
    for (const struct jcompaction *c = j->jobs; c; c = c->next)
        if (memcmp(c->apex, apex, len) == 0) return true;
    return false;
}

void jr_bg_maybe_compact(struct journal *j, struct zone *z, const struct zone_version *v)
{
    struct jmeta m;
    if (!wants(j, z->apex, &m) || m.last_serial != v->serial) return;
    struct jcompaction *job = NULL;
    pthread_mutex_lock(&j->bg_mu);
    bool inline_ = !bg_running(j);
    if (!inline_ && !queued_for(j, z->apex) && (job = calloc(1, sizeof *job))) {
        dns_name_lower(job->apex, z->apex);
        zone_version_hold(v);
        job->v = (struct zone_version *)v;
        job->seq = m.next_seq - 1;
        job->old_snap = m.snap_seq;
        job->serial = v->serial;
        struct jcompaction **pp = &j->jobs;
        while (*pp)
            pp = &(*pp)->next;
        *pp = job;
        pthread_cond_broadcast(&j->bg_cv);
    }
    pthread_mutex_unlock(&j->bg_mu);
    struct err e;
    if (inline_ && journal_compact(j, v, &e) < 0)
        log_error("warning: journal compaction for %s failed (the journal keeps growing): %s",
                  ZNAME(z->apex), e.msg);
}

/* The bound on what start-up replays (journal.h): a commit that leaves a
 * zone more than twice over its limits while its compaction is still
 * queued or being written waits for that compaction, holding the group
 * commit (the committer's own update was already published and is
 * durable; the updates queued behind it wait). Called by the committer
 * with no lock held. */
void jr_bg_throttle(struct journal *j, const uint8_t *apex)
{
    struct jmeta m;
    if (!wants(j, apex, &m) || !jr_over_limits(j, &m, 2)) return;
    pthread_mutex_lock(&j->bg_mu);
    /* (a commit made by the background thread itself, from a test's hook,
     * would wait for its own compaction) */
    if (bg_running(j) && queued_for(j, apex) && !pthread_equal(pthread_self(), j->bg_thread)) {
        j->throttled++;
        /* The compaction waits for grace periods between chunks: no
         * reader section may be open on this thread meanwhile. */
        bool online = rcu_read_ongoing();
        if (online) rcu_thread_offline();
        while (queued_for(j, apex) && !j->bg_stop)
            pthread_cond_wait(&j->bg_cv, &j->bg_mu);
        if (online) rcu_thread_online();
    }
    pthread_mutex_unlock(&j->bg_mu);
}
