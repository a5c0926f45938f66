#include "net/serve.h"
#include "dns/wire.h"
#include "net/addr.h"
#include "net/stats.h"
#include "util/log.h"
#include <stdio.h>
#include <urcu-qsbr.h>

static void log_query(const struct query_info *qi, size_t qlen, size_t alen, bool tcp,
                      const struct sockaddr *peer)
{
    char ps[NET_ADDR_STRLEN], qn[DNS_NAME_TEXT_MAX], tb[16];
    net_addr_format(peer, ps, sizeof ps);
    if (qi->qname_len == 0 || dns_name_to_text(qi->qname, qn, sizeof qn) < 0)
        snprintf(qn, sizeof qn, "%s", qi->qname_len ? "(unprintable)" : "(no question)");
    const char *rc = dns_rcode_name(qi->rcode);
    char rcb[16];
    if (!rc) {
        snprintf(rcb, sizeof rcb, "RCODE%u", qi->rcode);
        rc = rcb;
    }
    const char *proto = tcp ? "tcp" : "udp";
    if (alen == 0) {
        log_info("%s %s: %s %s: %zu bytes, no answer", proto, ps, qn,
                 dns_type_to_text(qi->qtype, tb), qlen);
        return;
    }
    if (!log_enabled(LOG_DEBUG)) {
        log_info("%s %s: %s %s -> %s, %zu bytes", proto, ps, qn, dns_type_to_text(qi->qtype, tb),
                 rc, alen);
        return;
    }
    log_debug("%s %s: id %u opcode %u %s class %u %s query %zu bytes edns %s size %u -> %s "
              "flags%s%s answer %u authority %u additional %u, %zu bytes",
              proto, ps, qi->id, qi->opcode, qn, qi->qclass, dns_type_to_text(qi->qtype, tb), qlen,
              qi->edns ? "yes" : "no", qi->edns_size, rc, qi->aa ? " aa" : "", qi->tc ? " tc" : "",
              qi->ancount, qi->nscount, qi->arcount, alen);
}

size_t net_answer(const struct zone_set_handle *zones, const struct zone_set **zs, const uint8_t *q,
                  size_t qlen, uint8_t *out, size_t outcap, bool over_tcp,
                  const struct sockaddr *peer)
{
    /* dns_answer fills qi whether we pass one or not: counting costs the
     * few increments in net_stats_count, no extra parsing. */
    struct query_info qi;
    size_t alen = dns_answer(*zs, q, qlen, out, outcap, over_tcp, &qi);
    net_stats_count(&qi, alen, over_tcp);
    if (!log_enabled(LOG_INFO)) return alen;
    rcu_thread_offline();
    log_query(&qi, qlen, alen, over_tcp, peer);
    log_hex("query", q, qlen);
    log_hex("answer", out, alen);
    rcu_thread_online();
    *zs = zone_set_current(zones);
    return alen;
}
