#include "net/udp.h"
#include "util/log.h"
#include "util/metrics.h"
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

/*
 * One socket per bound address, shared by that address's workers. The
 * first worker (the leader) blocks in recvmmsg and serves everything while
 * it keeps up. The others (helpers) are parked on a condition variable: a
 * full batch shows a backlog, and the worker that received it wakes the next
 * helper, which drains the socket without blocking and parks again once its
 * batches are small. So the number of busy threads follows the load.
 *
 * Why not one SO_REUSEPORT socket per worker (as Knot does; NSD with
 * "reuseport: yes"): the kernel then hashes each client flow onto one
 * worker, so at moderate load every worker wakes for a few queries at a
 * time, and each wake-up (a context switch, often an inter-processor
 * interrupt) costs more than answering.
 * Measured on 2 cores (docs/performance.md): CPU per query 2.5 us when the
 * flows happened to hash onto one socket, 6.0-6.6 us when they were split.
 */
enum udp_role { UDP_LEADER, UDP_HELPER };
enum udp_helper_state { UDP_PARKED, UDP_DRAINING };

struct udp_worker {
    struct udp_server *srv;
    pthread_t thread;
    bool started; /* thread created: udp_stop joins it */
    enum udp_role role;
    int fd;                         /* the address's socket; owned (closed) by its leader */
    bool pktinfo;                   /* wildcard bind: answer from the query's destination address */
    struct udp_worker *next_helper; /* woken on a full batch; NULL for the last */
    /* Helpers only: parked until woken (wake set under park_mu). state is
     * read without the lock by wakers to skip the wake-up of a helper that
     * is already draining. */
    _Atomic enum udp_helper_state state;
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    bool wake;
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
    atomic_size_t helper_wakeups; /* how often a backlog woke a helper */
    size_t nworkers;
    struct udp_worker **w;
};

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v);
}

/* Opens the socket of address a. No SO_REUSEPORT: binding fails if anyone
 * (even another capd of the same user, whose SO_REUSEPORT sockets would
 * otherwise silently share the port with us) holds the port, and this
 * address's workers share the one socket (see struct udp_worker). */
static int open_socket(const struct net_addr *a, bool pktinfo, struct err *e)
{
    char as[NET_ADDR_STRLEN];
    net_addr_format((const struct sockaddr *)&a->ss, as, sizeof as);
    int fam = a->ss.ss_family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return err_set(e, "cannot open UDP socket for %s: %s", as, strerror(errno));
    if (fam == AF_INET6 && set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, net_addr_is_any(a) ? 0 : 1) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) goto fail;
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

/* Wakes helper h unless it is already draining. A wake-up lost to the race
 * with a helper that is just parking costs nothing lasting: the leader
 * keeps serving and wakes it again at its next full batch. */
static void wake_helper(struct udp_worker *h)
{
    if (!h || atomic_load_explicit(&h->state, memory_order_relaxed) == UDP_DRAINING) return;
    pthread_mutex_lock(&h->park_mu);
    if (!h->wake) atomic_fetch_add_explicit(&h->srv->helper_wakeups, 1, memory_order_relaxed);
    h->wake = true;
    pthread_cond_signal(&h->park_cv);
    pthread_mutex_unlock(&h->park_mu);
}

/* Receives one batch (flags: MSG_WAITFORONE blocks for the first packet,
 * MSG_DONTWAIT does not), answers it and sends the answers. Returns the
 * number of packets received, 0 when there were none (or the socket was
 * shut down), -1 on an error the caller reports. A full batch wakes the
 * next helper: the socket may hold more than this worker keeps up with. */
static int serve_batch(struct udp_worker *w, int flags)
{
    struct udp_server *srv = w->srv;
    for (size_t i = 0; i < UDP_BATCH; i++) {
        struct msghdr *h = &w->rx[i].msg_hdr;
        h->msg_namelen = sizeof w->peer[i];
        h->msg_controllen = w->pktinfo ? sizeof w->rxctl[i] : 0;
        h->msg_flags = 0;
    }
    /* Offline while blocked: a zone update never waits for an idle
     * worker. udp_stop wakes a blocked leader with shutdown(2). */
    int n = recvmmsg(w->fd, w->rx, UDP_BATCH, flags, NULL);
    if (n < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (n == 0) return 0;
    if (n == UDP_BATCH) wake_helper(w->next_helper);

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
    return n;
}

static bool stopping(const struct udp_worker *w)
{
    return atomic_load_explicit(&w->srv->stop, memory_order_acquire);
}

static void report_receive_error(bool *reported)
{
    if (*reported) return;
    log_error("UDP receive failed: %s", strerror(errno));
    *reported = true;
}

/* A helper drains while its batches show a backlog (at least this many
 * packets); a smaller batch means the leader keeps up again. */
#define UDP_HELPER_MIN (UDP_BATCH / 4)

static void *worker_main(void *arg)
{
    struct udp_worker *w = arg;
    bool reported = false;
    rcu_register_thread();
    rcu_thread_offline();
    while (!stopping(w)) {
        if (w->role == UDP_LEADER) {
            if (serve_batch(w, MSG_WAITFORONE) < 0 && !stopping(w)) report_receive_error(&reported);
            continue;
        }
        pthread_mutex_lock(&w->park_mu);
        while (!w->wake && !stopping(w))
            pthread_cond_wait(&w->park_cv, &w->park_mu);
        w->wake = false;
        pthread_mutex_unlock(&w->park_mu);
        atomic_store_explicit(&w->state, UDP_DRAINING, memory_order_relaxed);
        int n;
        do {
            n = serve_batch(w, MSG_DONTWAIT);
            if (n < 0 && !stopping(w)) report_receive_error(&reported);
        } while (n >= UDP_HELPER_MIN && !stopping(w));
        atomic_store_explicit(&w->state, UDP_PARKED, memory_order_relaxed);
    }
    rcu_unregister_thread();
    return NULL;
}

static struct udp_worker *worker_new(struct udp_server *s, int fd, bool pktinfo, enum udp_role role)
{
    struct udp_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->srv = s;
    w->fd = fd;
    w->pktinfo = pktinfo;
    w->role = role;
    atomic_init(&w->state, UDP_PARKED);
    w->rxbuf = malloc(sizeof *w->rxbuf * UDP_BATCH);
    w->txbuf = malloc(sizeof *w->txbuf * UDP_BATCH);
    if (!w->rxbuf || !w->txbuf || pthread_mutex_init(&w->park_mu, NULL) != 0) {
        free(w->rxbuf);
        free(w->txbuf);
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->park_cv, NULL) != 0) {
        pthread_mutex_destroy(&w->park_mu);
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

size_t udp_helper_wakeups(const struct udp_server *s)
{
    return s ? atomic_load_explicit(&s->helper_wakeups, memory_order_relaxed) : 0;
}

void udp_render_metrics(void *udp_server, struct metrics_text *t)
{
    const struct udp_server *s = udp_server;
    metrics_family(t, "capd_udp_workers", "gauge",
                   "UDP worker threads (per address: one leader, the others helpers)");
    metrics_sample(t, "capd_udp_workers", NULL, udp_worker_count(s));
    metrics_family(t, "capd_udp_helper_wakeups_total", "counter",
                   "times a full receive batch woke a parked UDP helper: the leader alone "
                   "was not keeping up with the queries");
    metrics_sample(t, "capd_udp_helper_wakeups_total", NULL, udp_helper_wakeups(s));
}

void udp_stop(struct udp_server *s)
{
    if (!s) return;
    atomic_store_explicit(&s->stop, true, memory_order_release);
    /* On Linux, shutdown of a UDP socket wakes a leader blocked in
     * recvmmsg and makes later calls return at once (the call itself
     * reports ENOTCONN, which is expected). Parked helpers are woken
     * through their condition variable and see stop. */
    for (size_t i = 0; i < s->nworkers; i++) {
        struct udp_worker *w = s->w[i];
        if (w->role == UDP_LEADER) {
            shutdown(w->fd, SHUT_RDWR);
            continue;
        }
        pthread_mutex_lock(&w->park_mu);
        pthread_cond_signal(&w->park_cv);
        pthread_mutex_unlock(&w->park_mu);
    }
    for (size_t i = 0; i < s->nworkers; i++)
        if (s->w[i]->started) pthread_join(s->w[i]->thread, NULL);
    for (size_t i = 0; i < s->nworkers; i++) {
        struct udp_worker *w = s->w[i];
        if (w->role == UDP_LEADER) close(w->fd);
        pthread_cond_destroy(&w->park_cv);
        pthread_mutex_destroy(&w->park_mu);
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

    struct udp_server *s = calloc(1, sizeof *s);
    if (s) s->w = calloc(cfg->naddrs * per, sizeof *s->w);
    if (!s || !s->w) {
        free(s);
        err_set(e, "out of memory");
        return NULL;
    }
    s->zones = cfg->zones;
    atomic_init(&s->stop, false);
    atomic_init(&s->helper_wakeups, 0);
    for (size_t a = 0; a < cfg->naddrs; a++) {
        bool pktinfo = net_addr_is_any(&cfg->addrs[a]);
        int fd = open_socket(&cfg->addrs[a], pktinfo, e);
        if (fd < 0) goto fail;
        struct udp_worker *prev = NULL;
        for (size_t k = 0; k < per; k++) {
            struct udp_worker *w = worker_new(s, fd, pktinfo, k == 0 ? UDP_LEADER : UDP_HELPER);
            if (!w) {
                if (k == 0) close(fd);
                err_set(e, "out of memory");
                goto fail;
            }
            if (prev) prev->next_helper = w;
            prev = w;
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
        s->w[i]->started = true;
        pthread_setname_np(s->w[i]->thread, "capd-udp");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s;
fail:
    udp_stop(s);
    return NULL;
}
