#include "dns/tsig.h"
#include "dns/name.h"
#include <libknot/errcode.h>
#include <libknot/error.h>
#include <libknot/packet/pkt.h>
#include <libknot/rrtype/tsig.h>
#include <libknot/tsig-op.h>
#include <libknot/tsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dns_tsig_key {
    knot_tsig_key_t k;
    char name[DNS_NAME_TEXT_MAX];
};

int dns_tsig_key_parse(const char *spec, struct dns_tsig_key **out, struct err *e)
{
    *out = NULL;
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1])
        return err_set(e, "bad TSIG key '%s': expected NAME:BASE64SECRET", spec);
    struct dns_tsig_key *k = calloc(1, sizeof *k);
    if (!k) return err_set(e, "out of memory");
    /* libknot reads "[algorithm:]name:secret" and defaults to hmac-sha256. */
    int r = knot_tsig_key_init_str(&k->k, spec);
    if (r != KNOT_EOK) {
        free(k);
        return err_set(e, "bad TSIG key '%.*s': %s", (int)(colon - spec), spec, knot_strerror(r));
    }
    if (k->k.algorithm != DNSSEC_TSIG_HMAC_SHA256) {
        knot_tsig_key_deinit(&k->k);
        free(k);
        return err_set(e, "TSIG key '%.*s': only hmac-sha256 is supported", (int)(colon - spec),
                       spec);
    }
    if (dns_name_to_text(k->k.name, k->name, sizeof k->name) < 0)
        snprintf(k->name, sizeof k->name, "(unprintable)");
    *out = k;
    return 0;
}

void dns_tsig_key_free(struct dns_tsig_key *k)
{
    if (!k) return;
    knot_tsig_key_deinit(&k->k);
    free(k);
}

const char *dns_tsig_key_name(const struct dns_tsig_key *k)
{
    return k->name;
}

size_t dns_tsig_reserve(const struct dns_tsig_key *k)
{
    return k ? knot_tsig_wire_maxsize(&k->k) : 0;
}

static uint16_t tsig_error_of(int r)
{
    switch (r) {
    case KNOT_TSIG_EBADKEY:
        return KNOT_RCODE_BADKEY;
    case KNOT_TSIG_EBADTIME:
        return KNOT_RCODE_BADTIME;
    case KNOT_TSIG_EBADTRUNC:
        return KNOT_RCODE_BADTRUNC;
    default:
        return KNOT_RCODE_BADSIG;
    }
}

static const char *tsig_error_name(uint16_t code)
{
    switch (code) {
    case KNOT_RCODE_BADKEY:
        return "BADKEY";
    case KNOT_RCODE_BADTIME:
        return "BADTIME";
    case KNOT_RCODE_BADTRUNC:
        return "BADTRUNC";
    default:
        return "BADSIG";
    }
}

int dns_tsig_check_request(const struct dns_tsig_key *const *keys, size_t nkeys, const uint8_t *q,
                           size_t qlen, struct dns_tsig_session *s, uint8_t *answer,
                           size_t *answer_len, size_t cap, char *why, size_t whylen)
{
    memset(s, 0, sizeof *s);
    if (qlen > 65535) return -2;
    /* knot_pkt_parse strips the TSIG from the wire it parses: a copy. */
    uint8_t *wire = malloc(qlen ? qlen : 1);
    if (!wire) return -2;
    memcpy(wire, q, qlen);
    knot_pkt_t *pkt = knot_pkt_new(wire, (uint16_t)qlen, NULL);
    int rc = -2;
    if (!pkt || knot_pkt_parse(pkt, 0) != KNOT_EOK) goto out;
    if (!pkt->tsig_rr) {
        rc = 0;
        goto out;
    }
    const struct dns_tsig_key *key = NULL;
    for (size_t i = 0; i < nkeys && !key; i++)
        if (dns_name_equal(pkt->tsig_rr->owner, keys[i]->k.name)) key = keys[i];
    char kn[DNS_NAME_TEXT_MAX];
    if (dns_name_to_text(pkt->tsig_rr->owner, kn, sizeof kn) < 0) snprintf(kn, sizeof kn, "?");
    int r = key ? knot_tsig_server_check(pkt->tsig_rr, pkt->wire, pkt->size, &key->k)
                : KNOT_TSIG_EBADKEY;
    if (r == KNOT_EOK) {
        size_t ml = knot_tsig_rdata_mac_length(pkt->tsig_rr);
        if (ml > sizeof s->mac) ml = sizeof s->mac;
        memcpy(s->mac, knot_tsig_rdata_mac(pkt->tsig_rr), ml);
        s->mac_len = ml;
        s->key = key;
        rc = 1;
        goto out;
    }
    uint16_t code = tsig_error_of(r);
    snprintf(why, whylen, "TSIG key %s: %s (%s)", kn, knot_strerror(r), tsig_error_name(code));
    rc = -1;
    if (code == KNOT_RCODE_BADTIME && key) {
        /* Signed, with our time, so the client can trust the error. */
        uint8_t mac[64];
        size_t ml = knot_tsig_rdata_mac_length(pkt->tsig_rr), dl = sizeof mac;
        if (knot_tsig_sign(answer, answer_len, cap, knot_tsig_rdata_mac(pkt->tsig_rr), ml, mac, &dl,
                           &key->k, code, knot_tsig_rdata_time_signed(pkt->tsig_rr)) == KNOT_EOK)
            goto out;
    }
    /* BADKEY and BADSIG answers are unsigned (RFC 8945 §5.2.2). */
    knot_tsig_add(answer, answer_len, cap, code, pkt->tsig_rr);
out:
    knot_pkt_free(pkt);
    free(wire);
    return rc;
}

int dns_tsig_sign(struct dns_tsig_session *s, uint8_t *msg, size_t *len, size_t cap, struct err *e)
{
    if (!s->key) return 0;
    uint8_t mac[64];
    size_t ml = sizeof mac;
    int r;
    if (s->signed_messages == 0)
        r = knot_tsig_sign(msg, len, cap, s->mac_len ? s->mac : NULL, s->mac_len, mac, &ml,
                           &s->key->k, 0, 0);
    else
        r = knot_tsig_sign_next(msg, len, cap, s->mac, s->mac_len, mac, &ml, &s->key->k, msg, *len);
    if (r != KNOT_EOK) return err_set(e, "TSIG signing failed: %s", knot_strerror(r));
    memcpy(s->mac, mac, ml);
    s->mac_len = ml;
    s->signed_messages++;
    return 0;
}
