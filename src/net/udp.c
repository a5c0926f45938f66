#include "net/udp.h"
#include "util/log.h"
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#define UDP_BATCH 64
/* A query longer than this is dropped (the kernel flags it MSG_TRUNC). */
#define UDP_RX_SIZE 4096
/* Largest UDP answer: dns_answer also honours the client's EDNS size. */
#define UDP_TX_SIZE 4096
#define UDP_MAX_WORKERS 256

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message. */
union udp_ctl {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
};

struct udp_worker {
    struct udp_server *srv;
    pthread_t thread;
    bool running;
    int fd;
    bool pktinfo; /* wildcard bind: answer from the query's destination address */
    uint8_t (*rxbuf)[UDP_RX_SIZE];
    uint8_t (*txbuf)[UDP_TX_SIZE];
    struct mmsghdr rx[UDP_BATCH], tx[UDP_BATCH];
    struct iovec rxiov[UDP_BATCH], txiov[UDP_BATCH];
    struct sockaddr_storage peer[UDP_BATCH];
    union udp_ctl rxctl[UDP_BATCH], txctl[UDP_BATCH];
};

struct udp_server {
    const struct zone_set_handle *zones;
    atomic_bool stop;
    size_t nworkers;
    struct udp_worker **w;
};

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v);
}

/* Opens one socket on a. With reuseport false it is only a probe: binding
 * without SO_REUSEPORT fails if anyone (even another capd of the same user,
 * whose SO_REUSEPORT sockets would otherwise silently share the port with
 * us) holds the port. */
static int open_socket(const struct net_addr *a, bool reuseport, bool pktinfo, struct err *e)
{
    char as[NET_ADDR_STRLEN];
    net_addr_format((const struct sockaddr *)&a->ss, as, sizeof as);
    int fam = a->ss.ss_family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return err_set(e, "cannot open UDP socket for %s: %s", as, strerror(errno));
    if (reuseport && set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) goto fail;
    if (fam == AF_INET6 && set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, net_addr_is_any(a) ? 0 : 1) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) goto fail;
    if (!reuseport) return fd;
    /* Best effort from here: a larger receive queue absorbs bursts (capped
     * by net.core.rmem_max), and ignoring path-MTU updates keeps forged
     * ICMP from making us fragment answers. */
    set_int(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
    if (fam == AF_INET) {
        set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
    } else {
        set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_OMIT);
        if (net_addr_is_any(a)) /* v4 over the dual-stack socket */
            set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT);
    }
    if (pktinfo) {
        int r = fam == AF_INET ? set_int(fd, IPPROTO_IP, IP_PKTINFO, 1)
                               : set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        if (r < 0) goto fail;
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return err_set(e, "cannot bind UDP %s: %s", as, strerror(saved));
}

/* Builds the control message that makes the answer leave from the address
 * the query was sent to (needed when bound to a wildcard on a multi-homed
 * host). Returns its length, 0 if the query carried no packet info. */
static size_t reply_pktinfo(const struct msghdr *in, union udp_ctl *out)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
        memset(out, 0, sizeof *out);
        struct cmsghdr *o = &out->align;
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi, po = {0};
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            po.ipi_spec_dst = pi.ipi_addr; /* routing picks the interface */
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof po);
            memcpy(CMSG_DATA(o), &po, sizeof po);
            return CMSG_SPACE(sizeof po);
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi, po = {0};
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            po.ipi6_addr = pi.ipi6_addr;
            /* A link-local source only means something on its interface. */
            if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr)) po.ipi6_ifindex = pi.ipi6_ifindex;
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof po);
            memcpy(CMSG_DATA(o), &po, sizeof po);
            return CMSG_SPACE(sizeof po);
        }
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct udp_worker *w = arg;
    struct udp_server *srv = w->srv;
    bool reported = false;
    rcu_register_thread();
    rcu_thread_offline();
    for (;;) {
        for (size_t i = 0; i < UDP_BATCH; i++) {
            struct msghdr *h = &w->rx[i].msg_hdr;
            h->msg_namelen = sizeof w->peer[i];
            h->msg_controllen = w->pktinfo ? sizeof w->rxctl[i] : 0;
            h->msg_flags = 0;
        }
        /* Offline while blocked: a zone update never waits for an idle
         * worker. udp_stop wakes us with shutdown(2). */
        int n = recvmmsg(w->fd, w->rx, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (atomic_load_explicit(&srv->stop, memory_order_acquire)) break;
        if (n <= 0) {
            if (n < 0 && errno != EINTR && errno != EAGAIN && !reported) {
                log_error("UDP receive failed: %s", strerror(errno));
                reported = true;
            }
            continue;
        }

        unsigned m = 0;
        rcu_thread_online();
        const struct zone_set *zs = zone_set_current(srv->zones);
        for (int i = 0; i < n; i++) {
            const struct msghdr *h = &w->rx[i].msg_hdr;
            if (h->msg_flags & MSG_TRUNC) continue;
            size_t len = net_answer(srv->zones, &zs, w->rxbuf[i], w->rx[i].msg_len, w->txbuf[i],
                                    UDP_TX_SIZE, false, (const struct sockaddr *)&w->peer[i]);
            if (len == 0) continue;
            struct msghdr *o = &w->tx[m].msg_hdr;
            w->txiov[m].iov_base = w->txbuf[i];
            w->txiov[m].iov_len = len;
            o->msg_name = &w->peer[i];
            o->msg_namelen = h->msg_namelen;
            o->msg_iov = &w->txiov[m];
            o->msg_iovlen = 1;
            size_t cl = w->pktinfo ? reply_pktinfo(h, &w->txctl[m]) : 0;
            o->msg_control = cl ? &w->txctl[m] : NULL;
            o->msg_controllen = cl;
            o->msg_flags = 0;
            m++;
        }
        rcu_thread_offline();

        /* sendmmsg stops at the first message that fails (unreachable or
         * port-0 peer, ...): drop that one and carry on with the rest. */
        for (unsigned off = 0; off < m;) {
            int r = sendmmsg(w->fd, w->tx + off, m - off, 0);
            if (r > 0)
                off += (unsigned)r;
            else if (r < 0 && errno == EINTR)
                continue;
            else
                off++;
        }
    }
    rcu_unregister_thread();
    return NULL;
}

static struct udp_worker *worker_new(struct udp_server *s, int fd, bool pktinfo)
{
    struct udp_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->srv = s;
    w->fd = fd;
    w->pktinfo = pktinfo;
    w->rxbuf = malloc(sizeof *w->rxbuf * UDP_BATCH);
    w->txbuf = malloc(sizeof *w->txbuf * UDP_BATCH);
    if (!w->rxbuf || !w->txbuf) {
        free(w->rxbuf);
        free(w->txbuf);
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < UDP_BATCH; i++) {
        w->rxiov[i].iov_base = w->rxbuf[i];
        w->rxiov[i].iov_len = UDP_RX_SIZE;
        struct msghdr *h = &w->rx[i].msg_hdr;
        h->msg_name = &w->peer[i];
        h->msg_iov = &w->rxiov[i];
        h->msg_iovlen = 1;
        h->msg_control = pktinfo ? &w->rxctl[i] : NULL;
    }
    return w;
}

size_t udp_worker_count(const struct udp_server *s)
{
    return s ? s->nworkers : 0;
}

void udp_stop(struct udp_server *s)
{
    if (!s) return;
    atomic_store_explicit(&s->stop, true, memory_order_release);
    /* On Linux, shutdown of a UDP socket wakes a receiver blocked in
     * recvmmsg and makes later calls return at once (the call itself
     * reports ENOTCONN, which is expected). */
    for (size_t i = 0; i < s->nworkers; i++)
        shutdown(s->w[i]->fd, SHUT_RDWR);
    for (size_t i = 0; i < s->nworkers; i++) {
        struct udp_worker *w = s->w[i];
        if (w->running) pthread_join(w->thread, NULL);
        close(w->fd);
        free(w->rxbuf);
        free(w->txbuf);
        free(w);
    }
    free(s->w);
    free(s);
}

struct udp_server *udp_start(const struct udp_config *cfg, struct err *e)
{
    size_t per = cfg->workers_per_addr;
    if (per == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        per = n > 0 ? (size_t)n : 1;
    }
    if (per > UDP_MAX_WORKERS) per = UDP_MAX_WORKERS;

    /* Probe every address first so that "port in use" is reported before
     * any of our own SO_REUSEPORT sockets exist. */
    for (size_t a = 0; a < cfg->naddrs; a++) {
        int fd = open_socket(&cfg->addrs[a], false, false, e);
        if (fd < 0) return NULL;
        close(fd);
    }

    struct udp_server *s = calloc(1, sizeof *s);
    if (s) s->w = calloc(cfg->naddrs * per, sizeof *s->w);
    if (!s || !s->w) {
        free(s);
        err_set(e, "out of memory");
        return NULL;
    }
    s->zones = cfg->zones;
    atomic_init(&s->stop, false);
    for (size_t a = 0; a < cfg->naddrs; a++) {
        bool pktinfo = net_addr_is_any(&cfg->addrs[a]);
        for (size_t k = 0; k < per; k++) {
            int fd = open_socket(&cfg->addrs[a], true, pktinfo, e);
            if (fd < 0) goto fail;
            struct udp_worker *w = worker_new(s, fd, pktinfo);
            if (!w) {
                close(fd);
                err_set(e, "out of memory");
                goto fail;
            }
            s->w[s->nworkers++] = w;
        }
    }

    /* Workers block every signal: SIGTERM/SIGINT belong to the main loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < s->nworkers; i++) {
        int r = pthread_create(&s->w[i]->thread, NULL, worker_main, s->w[i]);
        if (r != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            err_set(e, "cannot start UDP worker thread: %s", strerror(r));
            goto fail;
        }
        s->w[i]->running = true;
        pthread_setname_np(s->w[i]->thread, "capd-udp");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s;
fail:
    udp_stop(s);
    return NULL;
}
