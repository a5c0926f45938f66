/*
 * cert_pending: the challenge TXT values an ACME order is adding, recorded
 * durably so that a capd killed mid-order (SIGKILL, power loss: no
 * acme_order_cancel) removes them at its next start.
 *
 *   STATE/acme-challenges/       0750, made and checked at start with the
 *                                state dir's other directories (eon/state.h)
 *   STATE/acme-challenges/H      0600, one per value, H = base64url (no
 *                                padding) of SHA-256 of "OWNER VALUE"
 *
 * A file is written (atomically, fsynced) before its value is added to the
 * zone and removed (unlink, directory fsynced) once the value's removal is
 * in the journal, so every value the journal may hold has its file. At
 * start every file is read back and exactly its value is removed through
 * the update engine and journal, never the RRset: other TXT values at the
 * same name (a user's own, made with `capc update`) stay.
 *
 * The file is three lines:
 *   ceon-acme-challenge 1
 *   owner _acme-challenge.NAME      (lowercase, no trailing dot)
 *   value VALUE                     (1-64 base64url characters)
 * The files are input from outside: the parser is bounds checked and
 * refuses anything else (owners not under _acme-challenge., other
 * characters, extra or missing lines) with a message.
 */
#ifndef CEON_EON_CERT_PENDING_H
#define CEON_EON_CERT_PENDING_H
#include "util/err.h"
#include <stddef.h>

#define CERT_PENDING_DIR "acme-challenges"
#define CERT_PENDING_FILE_MAX 512
#define CERT_PENDING_OWNER_MAX 254 /* text, no trailing dot */
#define CERT_PENDING_VALUE_MAX 64  /* a DNS-01 value is 43 */

struct cert_pending {
    char owner[CERT_PENDING_OWNER_MAX + 1];
    char value[CERT_PENDING_VALUE_MAX + 1];
};

/* Parses a file's len bytes (need not be NUL-terminated). 0, or -1 + e
 * naming what is wrong. */
int cert_pending_parse(const char *buf, size_t len, struct cert_pending *out, struct err *e);
/* Writes dir/H for (owner, value), creating dir (0750) when missing. */
int cert_pending_record(const char *dir, const char *owner, const char *value, struct err *e);
/* Removes dir/H for (owner, value) and fsyncs dir; an absent file is not an error. */
int cert_pending_forget(const char *dir, const char *owner, const char *value, struct err *e);
#endif
