/*
 * journal_reload: the start-up rule of journal.h applied again to a zone
 * that is being served and updated (capd's SIGHUP), atomically with
 * respect to updates.
 *
 * journal_replay may only run before the zone's first append: it reads
 * the journal's metadata and decides from it, so a change set committed
 * or queued meanwhile would be ignored (file wins: its append then finds
 * the journal restarted and fails) or built on a version without the
 * file's edit (on top: its publish would hide the edit). journal_reload
 * therefore first waits until the group commit holds nothing for the zone
 * (journal_tip is NULL) while holding the zone's writer lock, so no update
 * can submit until it is done; every update acknowledged before is in the
 * journal and is replayed on top of the new file or dropped with it
 * exactly as at start, and every update after it builds on the version it
 * publishes.
 *
 * Why wait rather than queue behind the commits: the committer publishes
 * under the zone lock, so the lock cannot be held across journal_wait.
 * journal_reload submits a barrier, waits for it without the lock, and
 * checks again with the lock; updates arriving in between make it go
 * round again (each round drains everything queued before it).
 */
#ifndef CEON_DNS_JOURNAL_RELOAD_H
#define CEON_DNS_JOURNAL_RELOAD_H
#include "dns/journal.h"
#include "dns/zone.h"
#include "util/err.h"
#include <stdint.h>

/* What journal_reload did with the zone file's new version. */
enum journal_reload_outcome {
    JOURNAL_RELOAD_UNCHANGED,  /* same content as last seen: nothing done, fv freed */
    JOURNAL_RELOAD_STARTED,    /* rule 1: no change sets; the file's version is served and
                                * the journal (re)started from it */
    JOURNAL_RELOAD_FILE_WINS,  /* rule 2: newer serial and changed content; the journal was
                                * dropped (with journal_replay's warning) */
    JOURNAL_RELOAD_ON_TOP,     /* rule 3: the journal's change sets (or snapshot) applied
                                * on top of the edited file */
    JOURNAL_RELOAD_NO_JOURNAL, /* j == NULL: the file's version replaces the served one */
};

struct journal_reload_info {
    enum journal_reload_outcome outcome;
    uint32_t old_serial, new_serial; /* served before and after */
    uint64_t entries;                /* change sets replayed, or dropped (FILE_WINS) */
    bool from_snapshot;
};

/*
 * Re-reads zone z from fv, the version just loaded from its file (owned by
 * the call: published or freed, also on failure). j may be NULL (capd
 * without a journal). Unchanged content (the hash journal_replay recorded,
 * or without a journal the served version's) does nothing. Otherwise the
 * start-up rule decides and the result is published with zone_publish
 * (readers never wait; the old version goes after a grace period). On
 * failure (the journal does not apply on top of the edited file, LMDB
 * fails) the served version and the journal are left as they were and e
 * says why. Blocks (zone lock, commits, a grace period): call it from a
 * worker thread, never from an RCU reader's read-side section. z need not
 * be in a zone set (a zone about to be served again).
 */
int journal_reload(struct journal *j, struct zone *z, struct zone_version *fv,
                   struct journal_reload_info *info, struct err *e);
#endif
