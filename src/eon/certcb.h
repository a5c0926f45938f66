/*
 * certcb: capc's CertCallback, the capability capc passes to Domain.cert
 * and capd calls (on the same connection) each time it has provisioned or
 * renewed the certificate: register(success, error, cert, key, renewed).
 *
 * On success it writes, in cert_dir (created 0750): key.pem,
 * fullchain.pem, cert.pem (the first certificate of the chain) and
 * chain.pem (the rest), each 0640 (key.pem too: eon's capc does so and
 * its deployments let the web server's group read it) and atomically, plus an empty "renewed"
 * file for a renewal, as the original capc does; then prints
 * "Updated certificate for DOMAIN" or "Renewed certificate for DOMAIN".
 * After the first certificate, one delivered with renewed = false (capc
 * called again after losing capd) is a renewal if it differs from the
 * last one, and nothing to do if it is the same.
 */
#ifndef CEON_EON_CERTCB_H
#define CEON_EON_CERTCB_H
#include "rpc/rpc.h"
#include <stdbool.h>
#include <stdio.h>

struct eon_certcb_state {
    const char *cert_dir; /* where the files go */
    const char *domain;   /* for the messages */
    FILE *out;            /* messages (stdout) */
    unsigned updated, renewed;
    bool failed; /* the server reported failure, or the files could not be written */
    /* SHA-256 of the last chain received: a call made again after capd
     * restarted delivers the certificate from disk with renewed = false;
     * the same one is not news, another one is a renewal. */
    unsigned char last[32];
    bool have_last;
    char error[512];
};

/* A new CertCallback object (one reference) reporting into st, which must
 * outlive it. */
struct rpc_cap *eon_certcb_new(struct eon_certcb_state *st);
#endif
