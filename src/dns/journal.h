/*
 * journal: durable record of every change made to a zone at run time, on
 * LMDB (one environment in a directory, e.g. STATE/journal/).
 *
 * Layout. A named database "meta" holds one record per zone (key: the
 * lowercase wire apex): the zone file's serial when the journal began
 * (where its first change set starts), the content hash of the zone file
 * as last seen, the serial after the latest entry, the next sequence
 * number, compaction counters and the bytes of the zone's snapshot (a
 * record of 52 bytes, from before that field, still opens: size unknown). Each zone has its own
 * named database "zone:<apex>." whose keys are a 64-bit big-endian sequence number that only grows
 * (so serial wrap-around, RFC 1982, never reorders entries) and whose values are entries: u8 format
 * version (1), u8 kind (1 = change set, 2 = snapshot), u16 0, u32 from_serial, u32 to_serial, u32
 * count, then count records { u8 op (enum dns_change_op), u8 owner_len, owner (wire), u16 type, u32
 * ttl, u16 rdlen, rdata }. A snapshot of serial X is stored in chunks (entries of kind 2 from X to
 * X, about 1 MiB of records each) under 12-byte keys: the sequence number
 * s of the change set that brought the zone to X, then the chunk index
 * (u32). They sort between entry s and entry s + 1: the snapshot sits at
 * X's place in the sequence. The metadata's snapshot field names s; chunks
 * at any other place were left by an interrupted compaction and are
 * skipped (and deleted by the next one). A journal written before chunks
 * existed keeps its snapshot as one 8-byte-key entry at the sequence
 * number the metadata names; both forms replay.
 * Integers are big-endian. No checksum: LMDB commits are atomic and
 * durable (its default sync mode: fsync before mdb_txn_commit returns), so a
 * crash leaves a committed entry whole or absent. The one exception is a
 * snapshot chunk: committed without fsync and flushed right after, outside
 * LMDB's writer lock, and always before the switch to its snapshot, which
 * is an ordinary commit (journal_compact.c says what a power cut in that
 * window could do). Every read is bounds checked anyway and a value that
 * does not decode exactly is reported.
 *
 * Compaction. A snapshot rewrites the whole zone, so its cost follows the
 * zone's size, not the updates' (issue 12). A zone is compacted when its
 * entries since its last snapshot number at least max_entries (default
 * 1000) AND weigh at least size_ratio times the last snapshot's bytes
 * (default 0.25, recorded in the metadata when the snapshot is written),
 * or whatever their number when they weigh max_bytes (default 16 MiB).
 * size_ratio 0, or a snapshot of unknown size (none yet, or written before
 * the metadata recorded sizes), compacts at max_entries as before the
 * ratio existed. The commit that noticed it hands the version it published
 * to the journal's background thread, which writes a snapshot of it (every
 * RR) chunk by chunk, then deletes the older entries and switches the
 * metadata in one small transaction (journal_compact.c); updates go on
 * meanwhile and their change sets stay after the snapshot. Start-up
 * replays one snapshot plus the change sets after it: at most 2 x
 * max_entries of them or about 2 x size_ratio x the snapshot's bytes of
 * them, whichever is more, never more than about 2 x max_bytes, plus one
 * group commit's (with the default ratio, change sets of at most half the
 * snapshot's size, or 2,000 of them on a small zone). A commit that leaves
 * a zone past twice its limits while its compaction is still queued or
 * being written waits for that compaction before it returns, and the group
 * commit waits with it: updates that outrun compaction are slowed to its
 * pace (a compaction that fails is logged and retried by the next commit;
 * only then can the journal grow past the bound).
 *
 * Start-up rule (journal_replay), comparing the zone as loaded from its
 * file with the journal's metadata:
 *  1. no journal for the zone, or one without entries: it is (re)started,
 *     recording the file's serial and content hash; the file's version is
 *     served.
 *  2. the file's content changed since it was last seen (different hash)
 *     and its serial is newer (RFC 1982) than the journal's latest serial:
 *     the file wins. The zone's journal is dropped (with a warning if it
 *     had entries) and restarted from the file. An unchanged file never
 *     wins, whatever its serial: SOA updates may have moved the journal's
 *     serial more than 2^31 past it, making the file's look newer.
 *  3. otherwise the journal is replayed: from its snapshot if it has one,
 *     else on top of the file's version. If the file's content changed
 *     since the journal began (different hash) but its serial is not newer,
 *     a warning says so: the change sets are applied on top of the edited
 *     file (where the journal has a snapshot, the snapshot replaces the
 *     file's content: raise the file's serial above the journal's to make
 *     the file win). The new hash is recorded, so the warning appears once;
 *     the change sets still chain from the serial the journal began at,
 *     whatever serial the edited file has, so every later start replays
 *     the same way.
 *  A corrupt entry (undecodable, unknown format version, serials that do
 *  not chain, or a change set that no longer applies) makes journal_replay
 *  fail with a message naming the zone, the entry and the reason: capd
 *  refuses to start rather than silently lose or reorder acknowledged
 *  updates. The admin can move STATE/journal aside to start from the zone
 *  files.
 *
 * Every change to a journaled zone must go through the journal (in practice
 * dns_update_apply): a change published behind its back breaks the serial
 * chain, and later appends are refused ("the journal of Z is at serial A,
 * not B") until capd restarts.
 *
 * Threads: every function may be called from any thread; writes are
 * serialised by LMDB's writer lock. A journal_iter holds a read transaction
 * and must be closed by the thread that uses it.
 */
#ifndef CEON_DNS_JOURNAL_H
#define CEON_DNS_JOURNAL_H
#include "dns/zone.h"
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

/* Opens (creating it and the directory, mode 0700, if missing) the journal
 * environment in dir. */
int journal_open(const char *dir, struct journal **out, struct err *e);
void journal_close(struct journal *j);

/* Compaction thresholds (0 = keep the current value). */
void journal_set_limits(struct journal *j, uint64_t max_entries, uint64_t max_bytes);
/* The share of the snapshot's size that a zone's change sets must also
 * reach before it is compacted (above; negative = keep the current value,
 * 0 = compact at max_entries whatever the zone's size). */
#define JOURNAL_SIZE_RATIO_DEFAULT 0.25
void journal_set_size_ratio(struct journal *j, double ratio);

/* Change-set transactions committed and entries they held, since open
 * (entries / commits is the group-commit factor). */
void journal_counters(struct journal *j, uint64_t *commits, uint64_t *entries);
/* Bytes of the journal's data file in use (LMDB pages up to the last one
 * written), for the statistics. */
uint64_t journal_used_bytes(struct journal *j);
/* Unix time of the last compaction (snapshot) since open, 0 if none. */
uint64_t journal_last_compaction(struct journal *j);

/* What journal_replay did (for logs and tests). */
struct journal_replay_info {
    bool started;         /* rule 1: no journal existed, one was started */
    bool dropped;         /* rule 2: the zone file was newer, the journal was dropped */
    bool content_changed; /* rule 3: the file changed without a newer serial */
    bool from_snapshot;   /* replay started from a snapshot */
    uint64_t entries;     /* change sets replayed (or dropped, with `dropped`) */
    uint32_t serial;      /* serial after replay */
};

/*
 * Applies the start-up rule above for the zone whose version was loaded from
 * its file (or synthesised: give it a fixed serial, or every start will look
 * like a newer file). On success returns 0 and sets *out to NULL when the
 * file's version is to be served as it is, or to a new version (owned by the
 * caller) that replaces it. Must be called once per zone before any
 * journal_append for it. info may be NULL.
 */
int journal_replay(struct journal *j, const struct zone_version *file_version,
                   struct zone_version **out, struct journal_replay_info *info, struct err *e);

/* Appends one change set of the zone `apex` that took it from from_serial
 * (which must be the journal's latest serial) to to_serial. Durable when it
 * returns 0. */
int journal_append(struct journal *j, const uint8_t *apex, uint32_t from_serial, uint32_t to_serial,
                   const struct dns_change *changes, size_t n, struct err *e);

/* True when the zone's entries since its last snapshot exceed the limits. */
bool journal_wants_compaction(struct journal *j, const uint8_t *apex);
/* Writes a snapshot of v (which must be at the journal's latest serial) and
 * deletes the older entries, now, on the calling thread (the commit path
 * uses the background thread instead). Waits for a compaction running in
 * the background. The switch to the snapshot is atomic. */
int journal_compact(struct journal *j, const struct zone_version *v, struct err *e);
/* Waits until the background thread is idle: no compaction queued or
 * running, every version replaced by a commit released (tests, and
 * callers that need the effects now). */
void journal_background_wait(struct journal *j);

/* Replaces the zone's journal by a snapshot of v, whatever serial the
 * journal was at (or with no journal for the zone yet), in one transaction:
 * every older entry is deleted, the journal's serial becomes v's. For a
 * zone whose content arrives whole from elsewhere (a secondary's full
 * transfer). The caller holds the zone's writer lock and has nothing of
 * the zone in the group commit. */
int journal_snapshot_replace(struct journal *j, const struct zone_version *v, struct err *e);

/* Builds a version of the zone `apex` from nothing but n records (every
 * change must be DNS_CHANGE_ADD), with the SOA serial set to serial, as
 * replaying a snapshot does: for content that arrives whole (a
 * secondary's full transfer), far cheaper than applying it as a change
 * set to another version. Fails with the reason (owner outside the zone,
 * malformed RDATA, not exactly one SOA, CNAME beside other data, ...). */
int journal_build_version(const uint8_t *apex, const struct dns_change *records, size_t n,
                          uint32_t serial, struct zone_version **out, struct err *e);

/* Opens a zone that exists only in the journal (no zone file: a
 * secondary's): builds its version from the snapshot and the change sets
 * after it. Returns 1 with *out set (owned by the caller), 0 when the
 * journal has no snapshot for the zone (nothing to serve), -1 on a corrupt
 * journal (message as journal_replay's). info may be NULL. */
int journal_load_zone(struct journal *j, const uint8_t *apex, struct zone_version **out,
                      struct journal_replay_info *info, struct err *e);

/* Drops the zone's journal entirely (entries and metadata). */
int journal_drop(struct journal *j, const uint8_t *apex, struct err *e);

/* Latest serial recorded for the zone; returns false if it has no journal. */
bool journal_serial(struct journal *j, const uint8_t *apex, uint32_t *serial);

/*
 * Iterating over the change sets since serial `since` (for IXFR): opens an
 * iterator positioned at the entry whose from_serial is `since`. Returns 0
 * on success (*out set; if since is the latest serial, it yields nothing),
 * 1 if the journal does not reach back to `since` (compacted away, or an
 * unknown serial: the caller must send the whole zone), -1 on error.
 * journal_iter_next returns 1 with the next change set (valid until the next
 * call or close), 0 at the end, -1 on a corrupt entry.
 */
struct journal_iter;
int journal_iter_open(struct journal *j, const uint8_t *apex, uint32_t since,
                      struct journal_iter **out, struct err *e);
int journal_iter_next(struct journal_iter *it, uint32_t *from_serial, uint32_t *to_serial,
                      const struct dns_change **changes, size_t *n, struct err *e);
void journal_iter_close(struct journal_iter *it);

/*
 * Group commit, used by dns_update_apply so that concurrent updates share
 * one LMDB transaction and one fsync, while every update is still durable
 * before it is visible:
 *  1. holding z's writer lock, the updater builds on journal_tip(j, z) (the
 *     newest version submitted for z but not yet committed) or, if NULL, on
 *     zone_current(z); then journal_submit()s its change set and new version;
 *  2. it releases the zone lock and calls journal_wait(). One waiting thread
 *     at a time becomes the committer: it writes every submission queued so
 *     far in one transaction, then publishes each zone's newest committed
 *     version (under that zone's lock), and wakes the others. The versions
 *     it replaced are released by the journal's background thread after a
 *     grace period: neither the zone lock nor any reply waits for it.
 * If the commit fails, its submissions fail with the journal's message, and
 * so do the later submissions for the same zones (they were built on the
 * failed ones); their versions are freed and the zone's tip is reset.
 * A submission with nv == NULL and n == 0 is a barrier: it carries no
 * change, and completes when everything submitted before it has (an update
 * that changed nothing, but whose prerequisites saw uncommitted changes).
 * journal_close requires that nothing is queued; it stops a running
 * compaction (what it wrote is skipped, as after a crash) and releases
 * every replaced version.
 */
struct journal_sub;
const struct zone_version *journal_tip(struct journal *j, const struct zone *z);
int journal_submit(struct journal *j, struct zone *z, uint32_t from_serial, uint32_t to_serial,
                   const struct dns_change *changes, size_t n, struct zone_version *nv,
                   struct journal_sub **out, struct err *e);
/* Waits for the submission, frees it, and returns 0 or -1 with e set. */
int journal_wait(struct journal *j, struct journal_sub *s, struct err *e);

/* Content hash of a version (owners, types, TTLs and RDATA in canonical
 * order): what the journal records to notice an edited zone file. */
uint64_t zone_version_hash(const struct zone_version *v);
#endif
