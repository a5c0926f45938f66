/*
 * state: capd's state directory (layout in docs/state-dir.md).
 *
 *   STATE/                 0750, locked (flock on STATE/lock) by one capd
 *   STATE/caps/domain/     NAME.cap: sturdy ref URI of the zone's Domain cap
 *   STATE/caps/primary/    NAME.cap: sturdy ref URI of the zone's Primary cap
 *   STATE/store/           the rpc layer's service store (saved services)
 *   STATE/journal/         the dns layer's LMDB journal
 *   STATE/acme-challenges/ challenge values an ACME order added (eon/cert_pending.h)
 *   STATE/caps/secondary/Z/  the secondaries registered for zone Z: per
 *                          secondary NAME.cap (its Secondary capability's
 *                          URI) and NAME.serial (the serial it is known to
 *                          have); eon's files there are HOST.cap
 *
 * Directories are 0750, as the OCaml original makes them, and files 0600:
 * a cap file IS the authority, so it must never be readable by others
 * (the directory's group may list, not read). Names that become file names pass
 * eon_name_file_safe first, so nothing from the network reaches a path
 * unchecked.
 */
#ifndef CEON_EON_STATE_H
#define CEON_EON_STATE_H
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum eon_cap_kind { EON_CAP_DOMAIN, EON_CAP_PRIMARY };

struct eon_state {
    char *root;         /* STATE */
    char *caps_domain;  /* STATE/caps/domain */
    char *caps_primary; /* STATE/caps/primary */
    char *store;        /* STATE/store */
    char *journal;      /* STATE/journal */
    int lock_fd;        /* holds the flock; -1 when closed */
};

/* Creates (mode 0750) or opens the state dir and its subdirectories,
 * tightens existing directories to at most 0750, checks they are writable and takes
 * an exclusive lock so two capds never share one state dir. Fails with a
 * message naming the directory and the reason. */
int eon_state_open(struct eon_state *st, const char *dir, struct err *e);
void eon_state_close(struct eon_state *st);

/* True if `name` (presentation form, no trailing dot) can be used as a
 * file name: 1..253 chars, labels 1..63 chars, no empty label, only
 * printable ASCII other than '/', '\\' and spaces; so "..", "a/b",
 * "../../x" and "" are refused. */
bool eon_name_file_safe(const char *name);

/* The label rules of eon_name_file_safe without its length limit: one or
 * more labels of 1..63 characters, printable ASCII other than '/', '\\'
 * and spaces. Returns 0, or -1 with the reason alone in e ("empty label",
 * "character 0x2f is not allowed", ...); the caller names the input.
 * eon_subdomain_check (eon/domain.h) uses it too, so delegate and the cap
 * files agree on what a name is. */
int eon_name_labels_check(const char *name, struct err *e);

/* Writes STATE/caps/{domain,primary}/NAME.cap containing exactly `uri`
 * (atomically, mode 0600). The path written goes to path_out if non-NULL. */
int eon_state_write_cap(const struct eon_state *st, enum eon_cap_kind kind, const char *name,
                        const char *uri, char *path_out, size_t path_cap, struct err *e);

/* STATE/caps/secondary/ZONE into out, creating caps/secondary and ZONE
 * (0750) when missing; ZONE must pass eon_name_file_safe. */
int eon_state_secondary_dir(const struct eon_state *st, const char *zone, char *out, size_t cap,
                            struct err *e);

/* The base name (no extension) of a secondary's files: HOST_PORT_H, where
 * H is the first 16 characters of base64url(digest), digest being the
 * SHA-256 of its URI: the capability itself names the file, so two
 * secondaries on one host get two files and the same capability
 * registering again gets the same one. Characters of HOST other than
 * letters, digits, '.' and '-' become '_' (an IPv6 address, a unix path). */
#define EON_SECONDARY_BASE_MAX 128
void eon_secondary_base_name(const char *host, unsigned port, const uint8_t digest[32],
                             char out[EON_SECONDARY_BASE_MAX]);
#endif
