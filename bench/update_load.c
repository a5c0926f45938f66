/*
 * update_load: in-process Domain.update load for bench/update.sh.
 *
 *   update_load CAP_FILE CLIENTS CONNECTIONS TOTAL [NAMES]
 *
 * Opens CONNECTIONS connections (one client vat each) to the capability in
 * CAP_FILE and bootstraps every one of them before the clock starts: each
 * connection completes its TLS handshake, restores the capability and
 * answers one getName call, so no update's latency includes connection
 * setup. Then CLIENTS concurrent clients spread over the connections each
 * send one update, wait for success=true, and send the next, until TOTAL
 * updates are acknowledged.
 *
 * Without NAMES each update adds one A record at a fresh name (the zone
 * grows by TOTAL records). With NAMES, update i replaces the A RRset of the
 * existing name h<i mod NAMES> (remove the RRset, add one A record), so the
 * zone keeps its size during the run: that is what bench/update.sh uses to
 * compare zone sizes, and what it sends to knotd and named through nsupdate.
 *
 * Prints one line: "updates=N failed=F seconds=S per_second=R p50_ms=A
 * p99_ms=B p999_ms=C". Built by bench/update.sh against the release
 * build's static libraries.
 */
#include "eon/client.h"
#include "eon/gen/eon.capnp.h"
#include "rpc/rpc.h"
#include "rpc/sturdy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

struct client {
    struct rpc_cap *cap;
    int id;
    double started;
};

static uv_loop_t loop;
static char domain[1024];
static long total, sent, done, failed, names;
static double *lat;
static char run_tag[32];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_one(struct client *c);

static void on_done(void *ud, struct rpc_response *r)
{
    struct client *c = ud;
    bool ok = !r->error &&
              eon_Domain_update_Results_get_success(eon_Domain_update_Results_from_ptr(r->content));
    if (!ok) {
        if (failed++ < 3)
            fprintf(stderr, "update_load: %s\n",
                    r->error ? r->error
                             : eon_Domain_update_Results_get_error(
                                   eon_Domain_update_Results_from_ptr(r->content))
                                   .str);
    } else {
        lat[done++] = now() - c->started;
    }
    rpc_response_free(r);
    if (failed > 100) {
        uv_stop(&loop);
        return;
    }
    send_one(c);
}

static void send_one(struct client *c)
{
    if (sent >= total) return;
    long n = sent++;
    char name[1200];
    if (names)
        snprintf(name, sizeof name, "h%ld.%s", n % names, domain);
    else
        snprintf(name, sizeof name, "l%s-%ld.%s", run_tag, n, domain);
    struct rpc_req *req = rpc_req_new(c->cap, eon_Domain_ID, eon_Domain_update_ORDINAL);
    eon_Domain_update_Params_B p = eon_Domain_update_Params_init_ptr(rpc_req_params(req));
    eon_Domain_update_Params_init_prereqs(p, 0);
    eon_Update_LB ul = eon_Domain_update_Params_init_updates(p, names ? 2 : 1);
    uint32_t i = 0;
    if (names) {
        eon_Update_B rm = eon_Update_LB_at(ul, i++);
        eon_Update_set_name(rm, name, (uint32_t)strlen(name));
        eon_Update_remove_set_type(eon_Update_init_remove(rm), 1);
    }
    eon_Update_B u = eon_Update_LB_at(ul, i);
    eon_Update_set_name(u, name, (uint32_t)strlen(name));
    eon_Update_add_B a = eon_Update_init_add(u);
    eon_Update_add_set_type(a, 1);
    uint8_t ip[4] = {192, 0, 2, (uint8_t)(n % 250 + 1)};
    eon_Update_add_set_value(a, ip, 4);
    eon_Update_add_set_ttl(a, 60);
    c->started = now();
    struct rpc_promise *pr = rpc_req_send(req, on_done, c);
    rpc_promise_unref(pr);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The latency at quantile q (0..1) of the sorted samples, in ms. */
static double quantile_ms(double q)
{
    if (!done) return 0;
    long i = (long)(q * (double)done);
    return lat[i < done ? i : done - 1] * 1e3;
}

/* Completes connection setup (TLS, bootstrap, restore) with one getName. */
static int bootstrap(struct rpc_cap *cap, struct err *e)
{
    struct rpc_req *req = rpc_req_new(cap, eon_Domain_ID, eon_Domain_getName_ORDINAL);
    eon_Domain_getName_Params_init_ptr(rpc_req_params(req));
    struct rpc_response *r = rpc_call_wait(req, 30000, e);
    if (!r) return -1;
    rpc_response_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: update_load CAP_FILE CLIENTS CONNECTIONS TOTAL [NAMES]\n");
        return 1;
    }
    int nclients = atoi(argv[2]), nconns = atoi(argv[3]);
    total = atol(argv[4]);
    names = argc == 6 ? atol(argv[5]) : 0;
    if (nclients < 1 || nconns < 1 || nconns > nclients || total < 1 || names < 0)
        return fprintf(stderr, "update_load: bad numbers\n"), 1;
    struct err e;
    if (eon_client_get_name(argv[1], domain, sizeof domain, &e) < 0)
        return fprintf(stderr, "update_load: %s\n", e.msg), 1;
    struct sturdy_ref ref;
    if (sturdy_load_file(argv[1], &ref, &e) < 0)
        return fprintf(stderr, "update_load: %s\n", e.msg), 1;
    snprintf(run_tag, sizeof run_tag, "%lx", (unsigned long)time(NULL) ^ (unsigned long)getpid());
    uv_loop_init(&loop);
    struct rpc_vat **vats = calloc((size_t)nconns, sizeof *vats);
    struct rpc_cap **caps = calloc((size_t)nconns, sizeof *caps);
    struct client *cl = calloc((size_t)nclients, sizeof *cl);
    lat = calloc((size_t)total, sizeof *lat);
    struct rpc_vat_config cfg = {.secret_key_file = NULL};
    for (int i = 0; i < nconns; i++) {
        if (!(vats[i] = rpc_vat_new(&loop, &cfg, &e)))
            return fprintf(stderr, "update_load: %s\n", e.msg), 1;
        caps[i] = rpc_vat_restore(vats[i], &ref);
        if (bootstrap(caps[i], &e) < 0)
            return fprintf(stderr, "update_load: connection %d: %s\n", i, e.msg), 1;
    }
    double t0 = now();
    for (int i = 0; i < nclients; i++) {
        cl[i].cap = caps[i % nconns];
        cl[i].id = i;
        send_one(&cl[i]);
    }
    while (done + failed < total && uv_run(&loop, UV_RUN_ONCE))
        ;
    double secs = now() - t0;
    qsort(lat, (size_t)done, sizeof *lat, cmp);
    printf("updates=%ld failed=%ld seconds=%.3f per_second=%.0f p50_ms=%.2f p99_ms=%.2f "
           "p999_ms=%.2f\n",
           done, failed, secs, done / secs, quantile_ms(0.5), quantile_ms(0.99),
           quantile_ms(0.999));
    for (int i = 0; i < nconns; i++) {
        rpc_cap_unref(caps[i]);
        rpc_vat_free(vats[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    free(vats);
    free(caps);
    free(cl);
    free(lat);
    return failed ? 1 : 0;
}
