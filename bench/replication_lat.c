/*
 * replication_lat: propagation latency for bench/replication.sh.
 *
 *   replication_lat cap CAP_FILE SEC_PORT N [TAG]
 *   replication_lat dns PRIMARY_PORT ZONE SEC_PORT N [TAG]
 *   replication_lat wait SEC_PORT NAME SECONDS
 *
 * N times, one after the other: add one A record at a fresh name on the
 * primary and wait for its acknowledgement (cap: Domain.update over Cap'n
 * Proto from this process, success=true; dns: an RFC 2136 UPDATE over UDP
 * to 127.0.0.1:PRIMARY_PORT, NOERROR), then query the name at
 * 127.0.0.1:SEC_PORT over UDP in a tight loop (each query waits at most
 * 2 ms for its answer) until the secondary answers it with data. The
 * latency of one update is acknowledgement -> first answer with the record:
 * what a client of the primary waits before every secondary serves its
 * change. An update not visible after 20 s counts as lost.
 *
 * Prints one line: "updates=N lost=L p50_ms=A p99_ms=B max_ms=C mean_ms=D".
 *
 * wait: queries NAME A at 127.0.0.1:SEC_PORT in the same tight loop until
 * it is answered with data, and prints the wall-clock time (seconds since
 * the epoch) of that answer; exit 1 after SECONDS without one. The script
 * takes the time before it starts a fresh secondary: the difference is how
 * long that secondary took to serve the zone's last record.
 * Built by bench/replication.sh against the release build's static
 * libraries (like bench/update_load.c).
 */
#include "eon/client.h"
#include "eon/gen/eon.capnp.h"
#include "rpc/rpc.h"
#include "rpc/sturdy.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends NAME (dotted, no trailing dot needed) as wire labels. */
static size_t put_name(uint8_t *p, const char *name)
{
    size_t o = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[o++] = (uint8_t)l;
        memcpy(p + o, name, l);
        o += l;
        name += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    return o;
}

static size_t put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static int udp_socket(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("replication_lat: udp socket");
        exit(1);
    }
    return fd;
}

/* Sends msg[0..n) and waits up to ms for a reply with the same ID; returns
 * its length, 0 on timeout. */
static ssize_t exchange(int fd, const uint8_t *msg, size_t n, uint8_t *buf, size_t cap, int ms)
{
    if (send(fd, msg, n, 0) < 0) return 0;
    double end = now() + ms / 1e3;
    for (;;) {
        int left = (int)((end - now()) * 1e3);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left < 0 || poll(&p, 1, left > 0 ? left : 0) <= 0) {
            if (left <= 0) return 0;
            continue;
        }
        ssize_t r = recv(fd, buf, cap, 0);
        if (r >= 12 && buf[0] == msg[0] && buf[1] == msg[1]) return r;
    }
}

static uint16_t qid;

/* One query for NAME A: 1 answered with data, 0 not (yet). */
static int probe(int fd, const char *name)
{
    uint8_t q[512], r[1500];
    size_t o = 0;
    qid++;
    o += put16(q + o, qid);
    o += put16(q + o, 0); /* no RD */
    o += put16(q + o, 1);
    o += put16(q + o, 0);
    o += put16(q + o, 0);
    o += put16(q + o, 0);
    o += put_name(q + o, name);
    o += put16(q + o, 1);
    o += put16(q + o, 1);
    ssize_t n = exchange(fd, q, o, r, sizeof r, 2);
    return n >= 12 && (r[3] & 0x0f) == 0 && (r[6] << 8 | r[7]) > 0;
}

/* An RFC 2136 UPDATE adding NAME 60 A ip to ZONE; 0 on NOERROR. */
static int dns_update(int fd, const char *zone, const char *name, const uint8_t ip[4])
{
    uint8_t q[512], r[1500];
    size_t o = 0;
    qid++;
    o += put16(q + o, qid);
    o += put16(q + o, 5 << 11); /* opcode UPDATE */
    o += put16(q + o, 1);       /* zone */
    o += put16(q + o, 0);       /* prerequisites */
    o += put16(q + o, 1);       /* updates */
    o += put16(q + o, 0);
    o += put_name(q + o, zone);
    o += put16(q + o, 6); /* SOA */
    o += put16(q + o, 1);
    o += put_name(q + o, name);
    o += put16(q + o, 1);
    o += put16(q + o, 1);
    o += put16(q + o, 0);
    o += put16(q + o, 60);
    o += put16(q + o, 4);
    memcpy(q + o, ip, 4);
    o += 4;
    for (int attempt = 0; attempt < 5; attempt++) {
        ssize_t n = exchange(fd, q, o, r, sizeof r, 2000);
        if (n >= 12) return (r[3] & 0x0f) == 0 ? 0 : -1;
    }
    return -1;
}

static int cap_update(struct rpc_cap *cap, const char *name, const uint8_t ip[4])
{
    struct rpc_req *req = rpc_req_new(cap, eon_Domain_ID, eon_Domain_update_ORDINAL);
    eon_Domain_update_Params_B p = eon_Domain_update_Params_init_ptr(rpc_req_params(req));
    eon_Domain_update_Params_init_prereqs(p, 0);
    eon_Update_LB ul = eon_Domain_update_Params_init_updates(p, 1);
    eon_Update_B u = eon_Update_LB_at(ul, 0);
    eon_Update_set_name(u, name, (uint32_t)strlen(name));
    eon_Update_add_B a = eon_Update_init_add(u);
    eon_Update_add_set_type(a, 1);
    eon_Update_add_set_value(a, ip, 4);
    eon_Update_add_set_ttl(a, 60);
    struct err e;
    struct rpc_response *r = rpc_call_wait(req, 30000, &e);
    if (!r) return fprintf(stderr, "replication_lat: update: %s\n", e.msg), -1;
    bool ok = !r->error &&
              eon_Domain_update_Results_get_success(eon_Domain_update_Results_from_ptr(r->content));
    if (!ok)
        fprintf(stderr, "replication_lat: update refused: %s\n",
                r->error ? r->error
                         : eon_Domain_update_Results_get_error(
                               eon_Domain_update_Results_from_ptr(r->content))
                               .str);
    rpc_response_free(r);
    return ok ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int wait_for(uint16_t port, const char *name, double secs)
{
    int fd = udp_socket(port);
    double t0 = now();
    while (now() - t0 < secs) {
        if (probe(fd, name)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            printf("%ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
            return 0;
        }
        /* Nothing listening yet: the refused send returns at once. */
        usleep(200);
    }
    fprintf(stderr, "replication_lat: %s not answered within %.0f s\n", name, secs);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "wait") == 0)
        return wait_for((uint16_t)atoi(argv[2]), argv[3], atof(argv[4]));
    bool cap_mode = argc >= 5 && strcmp(argv[1], "cap") == 0;
    bool dns_mode = argc >= 6 && strcmp(argv[1], "dns") == 0;
    if (!cap_mode && !dns_mode) {
        fprintf(stderr, "usage: replication_lat cap CAP_FILE SEC_PORT N [TAG]\n"
                        "       replication_lat dns PRIMARY_PORT ZONE SEC_PORT N [TAG]\n");
        return 1;
    }
    char zone[1024];
    uv_loop_t loop;
    struct rpc_vat *vat = NULL;
    struct rpc_cap *cap = NULL;
    int upd_fd = -1;
    int a = cap_mode ? 3 : 4;
    uint16_t sec_port = (uint16_t)atoi(argv[a]);
    long n = atol(argv[a + 1]);
    const char *tag = argc > a + 2 ? argv[a + 2] : "p";
    if (n < 1) return fprintf(stderr, "replication_lat: bad N\n"), 1;
    if (cap_mode) {
        struct err e;
        if (eon_client_get_name(argv[2], zone, sizeof zone, &e) < 0)
            return fprintf(stderr, "replication_lat: %s\n", e.msg), 1;
        struct sturdy_ref ref;
        if (sturdy_load_file(argv[2], &ref, &e) < 0)
            return fprintf(stderr, "replication_lat: %s\n", e.msg), 1;
        uv_loop_init(&loop);
        struct rpc_vat_config cfg = {.secret_key_file = NULL};
        if (!(vat = rpc_vat_new(&loop, &cfg, &e)))
            return fprintf(stderr, "replication_lat: %s\n", e.msg), 1;
        cap = rpc_vat_restore(vat, &ref);
    } else {
        snprintf(zone, sizeof zone, "%s", argv[3]);
        upd_fd = udp_socket((uint16_t)atoi(argv[2]));
    }
    int sec_fd = udp_socket(sec_port);
    double *lat = calloc((size_t)n, sizeof *lat);
    long done = 0, lost = 0;
    for (long i = 0; i < n; i++) {
        char name[1200];
        snprintf(name, sizeof name, "lat-%s-%ld.%s", tag, i, zone);
        uint8_t ip[4] = {192, 0, 2, (uint8_t)(i % 250 + 1)};
        int rc = cap_mode ? cap_update(cap, name, ip) : dns_update(upd_fd, zone, name, ip);
        if (rc < 0) return fprintf(stderr, "replication_lat: update %ld failed\n", i), 1;
        double t0 = now(), t1 = 0;
        while (now() - t0 < 20) {
            if (probe(sec_fd, name)) {
                t1 = now();
                break;
            }
        }
        if (t1 == 0)
            lost++;
        else
            lat[done++] = t1 - t0;
    }
    qsort(lat, (size_t)done, sizeof *lat, cmp);
    double sum = 0;
    for (long i = 0; i < done; i++)
        sum += lat[i];
#define Q(q)                                                                                       \
    (done ? lat[(long)((q) * (double)done) < done ? (long)((q) * (double)done) : done - 1] * 1e3   \
          : 0)
    printf("updates=%ld lost=%ld p50_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f\n", done, lost,
           Q(0.5), Q(0.99), done ? lat[done - 1] * 1e3 : 0, done ? sum / (double)done * 1e3 : 0);
    if (cap) {
        rpc_cap_unref(cap);
        rpc_vat_free(vat);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    free(lat);
    return lost ? 1 : 0;
}
