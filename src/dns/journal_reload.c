/*
 * journal_reload: the start-up rule for a live zone (journal_reload.h).
 */
#include "dns/journal_reload.h"
#include "dns/journal_int.h"
#include <string.h>

/* The content hash journal_replay recorded for the zone's file. 1 found,
 * 0 no journal for the zone, -1 error. */
static int recorded_hash(struct journal *j, const uint8_t *apex, uint64_t *hash, struct err *e)
{
    MDB_txn *t;
    struct jmeta m;
    int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &t);
    if (rc) return jr_mdb_fail(e, rc, "cannot read the journal", apex);
    int got = jr_meta_get(j, t, apex, &m, e);
    mdb_txn_abort(t);
    if (got == 1) *hash = m.file_hash;
    return got;
}

/* Returns with z locked and nothing of z queued or being committed: every
 * update acknowledged so far is in the journal and published, and no
 * other can start until z is unlocked. */
static int lock_quiet(struct journal *j, struct zone *z, struct err *e)
{
    for (;;) {
        zone_lock(z);
        if (!journal_tip(j, z)) return 0;
        zone_unlock(z);
        struct journal_sub *s;
        if (journal_submit(j, z, 0, 0, NULL, 0, NULL, &s, e) < 0) return -1;
        /* A barrier's own result does not matter: a failed commit failed
         * its updates (and cleared the tip), which is all we wait for. */
        struct err ignored;
        (void)journal_wait(j, s, &ignored);
    }
}

static int reload_without_journal(struct zone *z, struct zone_version *fv,
                                  struct journal_reload_info *info)
{
    zone_lock(z);
    const struct zone_version *cur = zone_current(z);
    info->old_serial = info->new_serial = cur->serial;
    if (zone_version_hash(cur) == zone_version_hash(fv)) {
        zone_unlock(z);
        zone_version_free(fv);
        return 0;
    }
    info->outcome = JOURNAL_RELOAD_NO_JOURNAL;
    info->new_serial = fv->serial;
    zone_publish(z, fv);
    zone_unlock(z);
    return 0;
}

int journal_reload(struct journal *j, struct zone *z, struct zone_version *fv,
                   struct journal_reload_info *info, struct err *e)
{
    memset(info, 0, sizeof *info);
    info->outcome = JOURNAL_RELOAD_UNCHANGED;
    if (!dns_name_equal(fv->apex, z->apex)) {
        zone_version_free(fv);
        return err_set(e, "the zone file's apex is not %s", ZNAME(z->apex));
    }
    if (!j) return reload_without_journal(z, fv, info);
    /* Only journal_replay (start, reload) records the hash, and reloads
     * run one at a time: the check needs no lock, so an unchanged zone
     * costs no wait for the commits. */
    uint64_t hash = zone_version_hash(fv), seen = 0; /* set when got == 1 */
    int got = recorded_hash(j, z->apex, &seen, e);
    if (got < 0) {
        zone_version_free(fv);
        return -1;
    }
    if (got == 1 && seen == hash) {
        /* Under the lock: this thread is no RCU reader, so only the lock
         * keeps the served version from being replaced and freed. */
        zone_lock(z);
        info->old_serial = info->new_serial = zone_current(z)->serial;
        zone_unlock(z);
        zone_version_free(fv);
        return 0;
    }
    if (lock_quiet(j, z, e) < 0) {
        zone_version_free(fv);
        return -1;
    }
    info->old_serial = zone_current(z)->serial;
    struct zone_version *out = NULL;
    struct journal_replay_info ri;
    if (journal_replay(j, fv, &out, &ri, e) < 0) {
        zone_unlock(z);
        zone_version_free(fv);
        return -1;
    }
    if (out) {
        zone_version_free(fv);
        fv = out;
    }
    info->outcome = ri.dropped ? JOURNAL_RELOAD_FILE_WINS
                    : out      ? JOURNAL_RELOAD_ON_TOP
                               : JOURNAL_RELOAD_STARTED;
    info->entries = ri.entries;
    info->from_snapshot = ri.from_snapshot;
    info->new_serial = fv->serial;
    zone_publish(z, fv);
    zone_unlock(z);
    return 0;
}
