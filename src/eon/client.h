/*
 * client: what capc does over Cap'n Proto, one blocking call sequence per
 * function: load the cap file (sturdy ref URI), connect (TLS with the
 * fingerprint check), restore the service by its ID, call, disconnect.
 * Errors are one line for the user: connection refused, fingerprint
 * mismatch, unknown capability, or the server's own error text.
 */
#ifndef CEON_EON_CLIENT_H
#define CEON_EON_CLIENT_H
#include "eon/certcb.h"
#include "eon/specenc.h"
#include "util/err.h"
#include <stddef.h>

/* Domain.getName (or Primary.getName when the file is a Primary cap). The
 * name is written to out (NUL-terminated). */
int eon_client_get_name(const char *cap_file, char *out, size_t cap, struct err *e);

/* Domain.delegate(subdomain) pipelined with Persistent.save on the result;
 * writes the URI to DIR/SUBDOMAIN.NAME.cap (cap_dir NULL or "": the current
 * directory; mode 0600) and puts the path as written in path_out. */
int eon_client_delegate(const char *cap_file, const char *subdomain, const char *cap_dir,
                        char *path_out, size_t path_cap, struct err *e);

/* Domain.update(prereqs, updates). success=false from the server becomes
 * -1 with the server's error text in e. */
int eon_client_update(const char *cap_file, const struct eon_rec *prereqs, size_t np,
                      const struct eon_rec *updates, size_t nu, struct err *e);
/* Domain.cert(email, domains, org, callback): asks capd for a certificate
 * (ACME DNS-01) for domains (at least one; org may be NULL) and then
 * serves the callback, which writes the files (eon/certcb.h). Returns 0
 * after a renewal when exit_when_renewed is set; otherwise it keeps
 * waiting for renewals. When the connection ends after a certificate
 * arrived (capd restarting), it calls again after 1 s, doubling up to
 * 60 s, one line on stderr each time. Returns -1 with e set when capd
 * refuses or reports a failure, or the connection ends before the first
 * certificate. */
int eon_client_cert(const char *cap_file, const char *email, char *const *domains, size_t nd,
                    const char *org, struct eon_certcb_state *st, bool exit_when_renewed,
                    struct err *e);
#endif
