#include "net/xfr_out.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "net/addr.h"
#include "util/buf.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#define XFR_MSG_MAX 65535
/* Messages are filled to about 16 KiB, not 64: measured with a 100,000-record
 * zone, Knot as the secondary took 0.14-0.17 s for 16 KiB messages and
 * 0.59-0.75 s for 64 KiB ones (Knot itself sends about 16 KiB). */
#define XFR_MSG_TARGET 16384

struct xfr_out {
    struct xfr_acl *allow;
    size_t nallow;
    struct dns_tsig_key *const *keys;
    size_t nkeys;
    struct journal *journal;
};

struct xfr_transfer {
    uv_write_t req;
    struct xfr_stream *s;
    struct dns_tsig_session tsig;
    uv_stream_t *stream;
    xfr_progress_fn progress;
    void *conn;
    bool aborted;
    char peer[NET_ADDR_STRLEN];
    char zone[DNS_NAME_TEXT_MAX];
    uint64_t started_ms;
    uint8_t buf[2 + XFR_MSG_MAX]; /* one message, with its TCP length prefix */
};

/* ---- access control ---- */

int xfr_acl_parse(const char *text, struct xfr_acl *out, struct err *e)
{
    char a[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof a)
        return err_set(e, "bad address '%s': expected ADDR or ADDR/LEN", text);
    memcpy(a, text, alen);
    a[alen] = 0;
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, a, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, a, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return err_set(e, "bad address '%s': expected a numeric IPv4 or IPv6 address", text);
    }
    out->prefix = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        /* Digits only: strtoul also takes "-0", " 8" and "+8", and "-0"
         * would open the list to every address. */
        if (!isdigit((unsigned char)slash[1]) || *end || v > max)
            return err_set(e, "bad prefix length in '%s': expected 0 to %u", text, max);
        out->prefix = (unsigned)v;
    }
    return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    size_t bytes = bits / 8;
    if (memcmp(a, b, bytes)) return false;
    unsigned rest = bits % 8;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool xfr_acl_allows(const struct xfr_acl *acl, size_t n, const struct sockaddr *peer)
{
    uint8_t v4[4], v6[16];
    bool has4 = false, has6 = false;
    if (peer->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        has4 = true;
    } else if (peer->sa_family == AF_INET6) {
        memcpy(v6, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
        has6 = true;
        /* A v4-mapped peer (on a dual-stack "::" listener) is its IPv4 address. */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(v6, mapped, 12)) {
            memcpy(v4, v6 + 12, 4);
            has4 = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (acl[i].family == AF_INET && has4 && prefix_eq(acl[i].addr, v4, acl[i].prefix))
            return true;
        if (acl[i].family == AF_INET6 && has6 && prefix_eq(acl[i].addr, v6, acl[i].prefix))
            return true;
    }
    return false;
}

struct xfr_out *xfr_out_new(const struct xfr_out_config *cfg, struct err *e)
{
    struct xfr_out *x = calloc(1, sizeof *x);
    if (x && cfg->nallow) x->allow = malloc(cfg->nallow * sizeof *x->allow);
    if (!x || (cfg->nallow && !x->allow)) {
        free(x);
        err_set(e, "out of memory");
        return NULL;
    }
    if (cfg->nallow) memcpy(x->allow, cfg->allow, cfg->nallow * sizeof *x->allow);
    x->nallow = cfg->nallow;
    x->keys = cfg->keys;
    x->nkeys = cfg->nkeys;
    x->journal = cfg->journal;
    return x;
}

void xfr_out_free(struct xfr_out *x)
{
    if (!x) return;
    free(x->allow);
    free(x);
}

/* ---- streaming ---- */

static void transfer_free(struct xfr_transfer *t)
{
    xfr_stream_close(t->s);
    free(t);
}

static void write_done(uv_write_t *req, int status);

/* Makes, signs and writes the next message. 1: a write is under way,
 * 0: the transfer is complete, -1: failed (logged). */
static int send_next(struct xfr_transfer *t)
{
    struct err e;
    size_t len = 0, cap = XFR_MSG_TARGET - dns_tsig_reserve(t->tsig.key);
    int r = xfr_stream_next(t->s, t->buf + 2, cap, &len, &e);
    if (r == 1 && dns_tsig_sign(&t->tsig, t->buf + 2, &len, XFR_MSG_MAX, &e) < 0) r = -1;
    if (r < 0) {
        log_error("xfr %s: %s %s failed: %s", t->peer, t->zone,
                  xfr_kind_name(xfr_stream_kind(t->s)), e.msg);
        return -1;
    }
    if (r == 0) return 0;
    put_be16(t->buf, (uint16_t)len);
    uv_buf_t b = uv_buf_init((char *)t->buf, (unsigned)(len + 2));
    if (uv_write(&t->req, t->stream, &b, 1, write_done) < 0) return -1;
    return 1;
}

static void write_done(uv_write_t *req, int status)
{
    struct xfr_transfer *t = (struct xfr_transfer *)req;
    if (t->aborted) {
        transfer_free(t);
        return;
    }
    int r = status < 0 ? -1 : send_next(t);
    if (r == 1) {
        t->progress(t->conn, 0, false);
        return;
    }
    if (r == 0 && log_enabled(LOG_INFO)) {
        uint64_t ms = uv_now(t->stream->loop) - t->started_ms;
        log_info("xfr %s: %s %s serial %u: %llu records in %llu messages, %llu ms%s", t->peer,
                 t->zone, xfr_kind_name(xfr_stream_kind(t->s)), xfr_stream_serial(t->s),
                 (unsigned long long)xfr_stream_records(t->s),
                 (unsigned long long)xfr_stream_messages(t->s), (unsigned long long)ms,
                 t->tsig.key ? ", TSIG signed" : "");
    }
    xfr_progress_fn progress = t->progress;
    void *conn = t->conn;
    transfer_free(t);
    progress(conn, r < 0 ? -1 : 0, true);
}

void xfr_transfer_abort(struct xfr_transfer *t)
{
    /* A write is always under way while a transfer exists: its callback
     * (UV_ECANCELED once the handle closes) frees the transfer. */
    if (t) t->aborted = true;
}

/* ---- one query ---- */

/* Logs with the thread offline: logging may block on stderr, and a blocked
 * online reader would hold up every update. */
static void log_offline(int level, const char *peer, const char *what, const char *zone)
{
    if (!log_enabled(level)) return;
    rcu_thread_offline();
    log_msg(level, "xfr %s: %s %s", peer, zone, what);
    rcu_thread_online();
}

int xfr_out_query(struct xfr_out *x, const struct zone_set *zs, const uint8_t *q, size_t qlen,
                  const struct sockaddr *peer, uv_stream_t *stream, xfr_progress_fn progress,
                  void *conn, uint8_t *ans, size_t anscap, size_t *alen, struct xfr_transfer **tp)
{
    char ps[NET_ADDR_STRLEN], zn[DNS_NAME_TEXT_MAX];
    net_addr_format(peer, ps, sizeof ps);
    struct xfr_request r;
    if (xfr_request_parse(q, qlen, &r) < 0) {
        *alen = xfr_refusal(q, qlen, DNS_RC_FORMERR, ans, anscap);
        log_offline(LOG_INFO, ps, "malformed transfer request: FORMERR", "");
        return 0;
    }
    if (dns_name_to_text(r.lname, zn, sizeof zn) < 0) snprintf(zn, sizeof zn, "?");
    const char *type = r.qtype == DNS_T_AXFR ? "AXFR" : "IXFR";
    char what[DNS_NAME_TEXT_MAX + 256];
    if (!xfr_acl_allows(x->allow, x->nallow, peer)) {
        *alen = xfr_refusal(q, qlen, DNS_RC_REFUSED, ans, anscap);
        snprintf(what, sizeof what, "%s refused: address not allowed (--allow-transfer)", type);
        log_offline(LOG_INFO, ps, what, zn);
        return 0;
    }
    struct dns_tsig_session tsig = {0};
    if (x->nkeys) {
        char why[DNS_NAME_TEXT_MAX + 64] = "";
        *alen = xfr_refusal(q, qlen, DNS_RC_NOTAUTH, ans, anscap);
        int k = dns_tsig_check_request((const struct dns_tsig_key *const *)x->keys, x->nkeys, q,
                                       qlen, &tsig, ans, alen, anscap, why, sizeof why);
        if (k == -2) *alen = xfr_refusal(q, qlen, DNS_RC_FORMERR, ans, anscap);
        if (k != 1) {
            snprintf(what, sizeof what, "%s refused: %s", type,
                     k == 0    ? "not signed (TSIG required): NOTAUTH"
                     : k == -2 ? "malformed: FORMERR"
                               : why);
            log_offline(LOG_ERROR, ps, what, zn);
            return 0;
        }
    }
    struct zone *z = zone_set_get(zs, r.lname);
    if (!z) {
        *alen = xfr_refusal(q, qlen, DNS_RC_NOTAUTH, ans, anscap);
        struct err e;
        if (dns_tsig_sign(&tsig, ans, alen, anscap, &e) < 0) *alen = 0;
        snprintf(what, sizeof what, "%s: not a zone we serve: NOTAUTH", type);
        log_offline(LOG_INFO, ps, what, zn);
        return 0;
    }
    /* Held from here, the version outlives this read-side section: the
     * rest (reading the journal to plan an IXFR, making and writing the
     * first message, logging) runs offline, so it never delays a grace
     * period, that is an update. */
    const struct zone_version *v = zone_current(z);
    zone_version_hold(v);
    rcu_thread_offline();
    struct xfr_transfer *t = calloc(1, sizeof *t);
    struct err e;
    int rc = t ? xfr_stream_open(&r, v, x->journal, &t->s, &e) : err_set(&e, "out of memory");
    zone_version_release(v); /* the stream holds its own */
    if (rc == 0) {
        t->tsig = tsig;
        t->stream = stream;
        t->progress = progress;
        t->conn = conn;
        t->started_ms = uv_now(stream->loop);
        memcpy(t->peer, ps, sizeof ps);
        snprintf(t->zone, sizeof t->zone, "%s", zn);
        if (log_enabled(LOG_DEBUG))
            log_debug("xfr %s: %s %s started (%s, serial %u)", ps, zn, type,
                      xfr_kind_name(xfr_stream_kind(t->s)), xfr_stream_serial(t->s));
        rc = send_next(t) == 1 ? 0 : err_set(&e, "cannot write the first message");
        if (rc < 0) transfer_free(t);
        t = rc < 0 ? NULL : t;
    } else {
        free(t);
        t = NULL;
    }
    if (!t) log_error("xfr %s: %s %s failed: %s: SERVFAIL", ps, zn, type, e.msg);
    rcu_thread_online();
    if (!t) {
        *alen = xfr_refusal(q, qlen, DNS_RC_SERVFAIL, ans, anscap);
        return 0;
    }
    *tp = t;
    return 1;
}
