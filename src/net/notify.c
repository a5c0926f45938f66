#include "net/notify.h"
#include "dns/name.h"
#include "dns/wire.h"
#include "util/buf.h"
#include "util/log.h"
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NOTIFY_MSG_MAX 1024
#define NOTIFY_MAX_CHANGED 256 /* distinct zones changed between two loop wake-ups */

/* One zone and one secondary. */
struct notify_job {
    struct notify_job *next;
    struct notifier *n;
    uv_timer_t timer;
    uint8_t apex[DNS_NAME_MAX];
    size_t target;
    uint32_t serial;      /* newest serial known */
    uint32_t sent_serial; /* serial in the outstanding NOTIFY */
    uint16_t id;
    unsigned tries;
    bool in_flight, again;
    uint64_t first_sent_ms;
};

struct changed {
    uint8_t apex[DNS_NAME_MAX];
    uint32_t serial;
};

struct notifier {
    uv_loop_t *loop;
    struct net_addr *targets;
    size_t ntargets;
    const struct dns_tsig_key *key;
    unsigned first_retry_ms, max_tries;
    struct notifier_counts counts;
    uv_udp_t sock4, sock6;
    bool have4, have6;
    uv_async_t wake;
    int open_handles;
    struct notify_job *jobs;
    /* Filled by notifier_changed from any thread, drained on the loop. */
    pthread_mutex_t mu;
    bool stopping;
    struct changed changed[NOTIFY_MAX_CHANGED];
    size_t nchanged;
    uint8_t rbuf[NOTIFY_MSG_MAX];
};

int notifier_parse_target(const char *text, struct net_addr *out, struct err *e)
{
    char host[128];
    const char *port_s = NULL;
    size_t hl;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close) return err_set(e, "bad --notify '%s': missing ']'", text);
        hl = (size_t)(close - text - 1);
        if (close[1] == ':')
            port_s = close + 2;
        else if (close[1])
            return err_set(e, "bad --notify '%s'", text);
        text++;
    } else {
        const char *c = strchr(text, ':');
        /* More than one colon: an IPv6 address without a port. */
        if (c && !strchr(c + 1, ':')) {
            hl = (size_t)(c - text);
            port_s = c + 1;
        } else {
            hl = strlen(text);
        }
    }
    if (hl == 0 || hl >= sizeof host) return err_set(e, "bad --notify address '%s'", text);
    memcpy(host, text, hl);
    host[hl] = 0;
    long port = 53;
    if (port_s) {
        char *end;
        port = strtol(port_s, &end, 10);
        if (!*port_s || *end || port < 1 || port > 65535)
            return err_set(e, "bad --notify port in '%s': expected 1 to 65535", text);
    }
    return net_addr_parse(out, host, (uint16_t)port, e);
}

static void handle_closed(uv_handle_t *h)
{
    struct notifier *n = h->data;
    n->open_handles--;
}

static void job_closed(uv_handle_t *h)
{
    struct notify_job *j = h->data;
    j->n->open_handles--;
    free(j);
}

static size_t build(struct notifier *n, struct notify_job *j, uint8_t *out, size_t cap)
{
    /* RFC 1996 §3: opcode NOTIFY, AA, the zone's SOA as the question. */
    size_t nl = dns_name_len(j->apex);
    memset(out, 0, DNS_HEADER_LEN);
    put_be16(out, j->id);
    put_be16(out + 2, (uint16_t)(DNS_OP_NOTIFY << 11 | DNS_F_AA));
    put_be16(out + 4, 1);
    memcpy(out + DNS_HEADER_LEN, j->apex, nl);
    size_t len = DNS_HEADER_LEN + nl;
    put_be16(out + len, DNS_T_SOA);
    put_be16(out + len + 2, 1);
    len += 4;
    if (n->key) {
        struct dns_tsig_session s = {.key = n->key};
        struct err e;
        if (dns_tsig_sign(&s, out, &len, cap, &e) < 0) {
            log_error("notify: %s", e.msg);
            return 0;
        }
    }
    return len;
}

static void retry_cb(uv_timer_t *t);

static void send_job(struct notify_job *j)
{
    struct notifier *n = j->n;
    const struct net_addr *a = &n->targets[j->target];
    uv_udp_t *sock = a->ss.ss_family == AF_INET6 ? &n->sock6 : &n->sock4;
    uint8_t msg[NOTIFY_MSG_MAX];
    if (getrandom(&j->id, sizeof j->id, 0) != sizeof j->id) j->id = (uint16_t)rand();
    if (!j->in_flight) {
        j->tries = 0;
        j->first_sent_ms = uv_now(n->loop);
    }
    j->sent_serial = j->serial;
    j->again = false;
    j->in_flight = true;
    j->tries++;
    size_t len = build(n, j, msg, sizeof msg);
    if (len) {
        uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
        /* A datagram that does not go out now is as good as lost: the retry
         * timer covers both. */
        uv_udp_try_send(sock, &b, 1, (const struct sockaddr *)&a->ss);
        n->counts.sent++;
    }
    uv_timer_start(&j->timer, retry_cb, (uint64_t)n->first_retry_ms << (j->tries - 1), 0);
}

static void job_log(int level, struct notify_job *j, const char *what)
{
    if (!log_enabled(level)) return;
    char as[NET_ADDR_STRLEN], zn[DNS_NAME_TEXT_MAX];
    net_addr_format((const struct sockaddr *)&j->n->targets[j->target].ss, as, sizeof as);
    if (dns_name_to_text(j->apex, zn, sizeof zn) < 0) snprintf(zn, sizeof zn, "?");
    log_msg(level, "notify %s: %s serial %u %s after %u tries, %llu ms", as, zn, j->sent_serial,
            what, j->tries, (unsigned long long)(uv_now(j->n->loop) - j->first_sent_ms));
}

static void retry_cb(uv_timer_t *t)
{
    struct notify_job *j = t->data;
    if (j->tries >= j->n->max_tries) {
        j->n->counts.abandoned++;
        job_log(LOG_ERROR, j, "not acknowledged: giving up");
        j->in_flight = false;
        if (j->again) send_job(j);
        return;
    }
    send_job(j); /* with the newest serial */
}

static struct notify_job *job_get(struct notifier *n, const uint8_t *apex, size_t target)
{
    for (struct notify_job *j = n->jobs; j; j = j->next)
        if (j->target == target && dns_name_equal(j->apex, apex)) return j;
    struct notify_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->n = n;
    memcpy(j->apex, apex, dns_name_len(apex));
    j->target = target;
    uv_timer_init(n->loop, &j->timer);
    j->timer.data = j;
    n->open_handles++;
    j->next = n->jobs;
    n->jobs = j;
    return j;
}

static void wake_cb(uv_async_t *a)
{
    struct notifier *n = a->data;
    struct changed batch[NOTIFY_MAX_CHANGED];
    pthread_mutex_lock(&n->mu);
    size_t nb = n->nchanged;
    memcpy(batch, n->changed, nb * sizeof *batch);
    n->nchanged = 0;
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < nb; i++)
        for (size_t t = 0; t < n->ntargets; t++) {
            struct notify_job *j = job_get(n, batch[i].apex, t);
            if (!j) {
                log_error("notify: out of memory");
                continue;
            }
            j->serial = batch[i].serial;
            if (j->in_flight)
                j->again = true; /* coalesced: one more NOTIFY once this one is answered */
            else
                send_job(j);
        }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct notifier *n = h->data;
    *b = uv_buf_init((char *)n->rbuf, sizeof n->rbuf);
}

static bool same_addr(const struct sockaddr *a, const struct net_addr *b)
{
    if (a->sa_family != b->ss.ss_family) return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&b->ss;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* An answer: QR, opcode NOTIFY, our ID, from the address we sent to. Any
 * rcode ends the retries (RFC 1996 §4.7: the secondary answered). */
static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    (void)flags;
    struct notifier *n = h->data;
    if (nread < DNS_HEADER_LEN || !from) return;
    const uint8_t *p = (const uint8_t *)buf->base;
    uint16_t id = be16(p), fl = be16(p + 2);
    if (!(fl & DNS_F_QR) || DNS_OPCODE(fl) != DNS_OP_NOTIFY) return;
    for (struct notify_job *j = n->jobs; j; j = j->next) {
        if (!j->in_flight || j->id != id || !same_addr(from, &n->targets[j->target])) continue;
        uv_timer_stop(&j->timer);
        j->in_flight = false;
        n->counts.answered++;
        if (DNS_RCODE(fl) != DNS_RC_NOERROR) {
            char what[64];
            snprintf(what, sizeof what, "answered with rcode %u", DNS_RCODE(fl));
            job_log(LOG_ERROR, j, what);
        } else {
            job_log(LOG_INFO, j, "acknowledged");
        }
        if (j->again) send_job(j);
        return;
    }
}

static int open_sock(struct notifier *n, uv_udp_t *s, bool *have, const char *any, struct err *e)
{
    struct net_addr a;
    if (net_addr_parse(&a, any, 0, e) < 0) return -1;
    int r = uv_udp_init(n->loop, s);
    if (r < 0) return err_set(e, "notify socket: %s", uv_strerror(r));
    s->data = n;
    *have = true;
    n->open_handles++;
    r = uv_udp_bind(s, (const struct sockaddr *)&a.ss,
                    a.ss.ss_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
    if (r == 0) r = uv_udp_recv_start(s, alloc_cb, recv_cb);
    if (r < 0) return err_set(e, "notify socket: %s", uv_strerror(r));
    return 0;
}

int notifier_start(uv_loop_t *loop, const struct notifier_config *cfg, struct notifier **out,
                   struct err *e)
{
    *out = NULL;
    struct notifier *n = calloc(1, sizeof *n);
    if (n) n->targets = malloc((cfg->ntargets ? cfg->ntargets : 1) * sizeof *n->targets);
    if (!n || !n->targets) {
        free(n);
        return err_set(e, "out of memory");
    }
    memcpy(n->targets, cfg->targets, cfg->ntargets * sizeof *n->targets);
    n->ntargets = cfg->ntargets;
    n->key = cfg->key;
    n->first_retry_ms = cfg->first_retry_ms ? cfg->first_retry_ms : NOTIFY_FIRST_RETRY_MS;
    /* Shifting the wait by tries - 1 must stay within 64 bits. */
    n->max_tries = cfg->max_tries ? cfg->max_tries : NOTIFY_MAX_TRIES;
    if (n->max_tries > 20) n->max_tries = 20;
    n->loop = loop;
    pthread_mutex_init(&n->mu, NULL);
    uv_async_init(loop, &n->wake, wake_cb);
    n->wake.data = n;
    n->open_handles = 1;
    for (size_t i = 0; i < n->ntargets; i++) {
        bool v6 = n->targets[i].ss.ss_family == AF_INET6;
        if (v6 && !n->have6 && open_sock(n, &n->sock6, &n->have6, "::", e) < 0) goto fail;
        if (!v6 && !n->have4 && open_sock(n, &n->sock4, &n->have4, "0.0.0.0", e) < 0) goto fail;
    }
    *out = n;
    return 0;
fail:
    notifier_stop(n);
    uv_run(loop, UV_RUN_NOWAIT);
    notifier_free(n);
    return -1;
}

void notifier_changed(void *arg, const uint8_t *apex, uint32_t serial)
{
    struct notifier *n = arg;
    pthread_mutex_lock(&n->mu);
    if (n->stopping) {
        pthread_mutex_unlock(&n->mu);
        return;
    }
    size_t i = 0;
    while (i < n->nchanged && !dns_name_equal(n->changed[i].apex, apex))
        i++;
    if (i == n->nchanged && n->nchanged < NOTIFY_MAX_CHANGED) {
        memcpy(n->changed[i].apex, apex, dns_name_len(apex));
        n->nchanged++;
    }
    if (i < n->nchanged)
        n->changed[i].serial = serial;
    else
        log_error("notify: more than %d zones changed at once, one NOTIFY lost",
                  NOTIFY_MAX_CHANGED);
    uv_async_send(&n->wake);
    pthread_mutex_unlock(&n->mu);
}

void notifier_stop(struct notifier *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    bool was = n->stopping;
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    if (was) return;
    uv_close((uv_handle_t *)&n->wake, handle_closed);
    if (n->have4 && !uv_is_closing((uv_handle_t *)&n->sock4))
        uv_close((uv_handle_t *)&n->sock4, handle_closed);
    if (n->have6 && !uv_is_closing((uv_handle_t *)&n->sock6))
        uv_close((uv_handle_t *)&n->sock6, handle_closed);
    for (struct notify_job *j = n->jobs; j; j = j->next)
        uv_close((uv_handle_t *)&j->timer, job_closed);
    n->jobs = NULL;
}

void notifier_counts(const struct notifier *n, struct notifier_counts *out)
{
    *out = n->counts;
}

void notifier_free(struct notifier *n)
{
    if (!n) return;
    pthread_mutex_destroy(&n->mu);
    free(n->targets);
    free(n);
}

void notifier_render(void *notifier, struct metrics_text *t)
{
    struct notifier_counts n;
    notifier_counts(notifier, &n);
    metrics_family(t, "capd_notify_total", "counter",
                   "NOTIFY to secondaries: datagrams sent (retries included), NOTIFYs answered, "
                   "NOTIFYs abandoned after the last try");
    const char *sent[] = {"outcome", "sent", NULL}, *ans[] = {"outcome", "answered", NULL},
               *ab[] = {"outcome", "abandoned", NULL};
    metrics_sample(t, "capd_notify_total", sent, n.sent);
    metrics_sample(t, "capd_notify_total", ans, n.answered);
    metrics_sample(t, "capd_notify_total", ab, n.abandoned);
}
