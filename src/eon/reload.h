/*
 * reload: the zones capd serves from zone files (-z), read at start and
 * again on SIGHUP, without stopping DNS or the Cap'n Proto side.
 *
 * -z PATH names a zone file or a directory. In a directory every regular
 * file (symbolic links followed) whose name does not start with '.' is a
 * zone file, read in name order; so editors' swap files (.x.swp) and
 * files being written under a dot name are skipped, and adding a zone is
 * putting its file there and sending SIGHUP.
 *
 * A re-read (eon_zonefiles_reload) runs on libuv's thread pool, because
 * parsing a large zone and waiting for the journal's group commit must
 * not hold up the loop, which serves DNS over TCP and every RPC
 * connection. For each file:
 *   - a zone already served: journal_reload (dns/journal_reload.h) applies
 *     the start-up rule of docs/state-dir.md, atomically with respect to
 *     updates; unchanged content does nothing;
 *   - a new zone: the journal is replayed as at start and the zone added
 *     to the zone set; the caller then registers its services and writes
 *     its cap files (apply, on the loop);
 *   - a zone this capd serves otherwise (a secondary of --primary, -a):
 *     the file is ignored with one log line; its content comes from elsewhere;
 *   - a file that does not load (syntax, unreadable, an explicit -z file
 *     gone) or whose journal does not apply: one log line naming the file
 *     and the reason; the zone it served keeps its served version.
 * A zone whose file is gone from its directory (and named by no other
 * file) stops being served: it leaves the zone set (DNS answers REFUSED).
 * Its struct zone is kept until eon_zonefiles_free, because Domain
 * capabilities, updates in flight and certificate orders hold pointers to
 * it; their calls answer "no longer served" (eon/domain.c). Its cap files
 * and services are kept: the capability is the same one if the file comes
 * back (IDs are derived from the key and the name), and meanwhile its
 * holders get that clear error rather than an unknown service. A zone that
 * comes back reuses its struct zone, so those capabilities work again.
 * Its journal is kept too, as at a restart without the zone.
 *
 * A request while a re-read runs is coalesced: exactly one more runs after
 * it (it sees every edit made before it started).
 *
 * Threads: the zone set is changed only here (at start and by the one
 * re-read at a time), so the worker reads zone_set_current without being
 * an RCU reader: nothing can free the set it reads.
 */
#ifndef CEON_EON_RELOAD_H
#define CEON_EON_RELOAD_H
#include "dns/name.h"
#include "dns/zone.h"
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct journal;
struct eon_zonefiles;

/* At start: loads every zone file of paths (files or directories) and adds
 * the zones to `zones`. Fails on the first file that does not load or a
 * zone served twice: capd does not start. */
int eon_zonefiles_open(const char *const *paths, size_t n, struct zone_set_handle *zones,
                       struct eon_zonefiles **out, struct err *e);
/* After the loop has finished and the services are freed: frees the zones
 * that left the set. NULL is ignored. */
void eon_zonefiles_free(struct eon_zonefiles *zf);

/* What one re-read changed (for the capability side). */
struct eon_reload_result {
    char (*added)[DNS_NAME_TEXT_MAX]; /* zones now served, as written, no trailing dot */
    size_t nadded;
    size_t files, changed, removed, failed;
};

/* On the loop, after each re-read. */
typedef void (*eon_reload_apply_fn)(void *ud, const struct eon_reload_result *r);
/* On the loop, when no re-read runs or is pending any more. */
typedef void (*eon_reload_done_fn)(void *ud);

/* Starts a re-read, or arranges one more after the one running. j may be
 * NULL (no journal). Returns -1 only if the work cannot be queued. */
int eon_zonefiles_reload(struct eon_zonefiles *zf, uv_loop_t *loop, struct journal *j,
                         eon_reload_apply_fn apply, void *apply_ud, eon_reload_done_fn done,
                         void *done_ud, struct err *e);
/* capd is stopping: a pending re-read is not started (a running one
 * finishes; its callbacks still come). */
void eon_zonefiles_stop(struct eon_zonefiles *zf);
#endif
