/*
 * update_load: in-process Domain.update load for bench/update.sh.
 *
 *   update_load CAP_FILE CLIENTS CONNECTIONS TOTAL
 *
 * Opens CONNECTIONS connections (one client vat each) to the capability in
 * CAP_FILE and runs CLIENTS concurrent clients spread over them; each client
 * sends one update (add one A record at a fresh name), waits for
 * success=true, and sends the next, until TOTAL updates are acknowledged.
 * Prints one line: "updates=N seconds=S per_second=R p50_ms=A p99_ms=B".
 * Built by bench/update.sh against the release build's static libraries.
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
static long total, sent, done, failed;
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
    snprintf(name, sizeof name, "l%s-%ld.%s", run_tag, n, domain);
    struct rpc_req *req = rpc_req_new(c->cap, eon_Domain_ID, eon_Domain_update_ORDINAL);
    eon_Domain_update_Params_B p = eon_Domain_update_Params_init_ptr(rpc_req_params(req));
    eon_Domain_update_Params_init_prereqs(p, 0);
    eon_Update_LB ul = eon_Domain_update_Params_init_updates(p, 1);
    eon_Update_B u = eon_Update_LB_at(ul, 0);
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

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: update_load CAP_FILE CLIENTS CONNECTIONS TOTAL\n");
        return 1;
    }
    int nclients = atoi(argv[2]), nconns = atoi(argv[3]);
    total = atol(argv[4]);
    if (nclients < 1 || nconns < 1 || nconns > nclients || total < 1)
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
    double p50 = done ? lat[done / 2] * 1e3 : 0, p99 = done ? lat[done * 99 / 100] * 1e3 : 0;
    printf("updates=%ld failed=%ld seconds=%.3f per_second=%.0f p50_ms=%.2f p99_ms=%.2f\n", done,
           failed, secs, done / secs, p50, p99);
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
