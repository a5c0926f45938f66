/* ceon side of bench/capnp.sh: build+serialize and read+traverse a
 * Domain.update request carrying N Update records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capnp/capnp.h"
#include "eon/gen/eon.capnp.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *build(uint32_t n, size_t *len)
{
    struct capnp_builder b;
    capnp_builder_init(&b, 0);
    eon_Domain_update_Params_B p = eon_Domain_update_Params_new_root(&b);
    eon_Update_LB l = eon_Domain_update_Params_init_updates(p, n);
    char name[64];
    for (uint32_t i = 0; i < n; i++) {
        eon_Update_B u = eon_Update_LB_at(l, i);
        int k = snprintf(name, sizeof name, "host-%u.example.org", i);
        eon_Update_set_name(u, name, (uint32_t)k);
        eon_Update_add_B a = eon_Update_init_add(u);
        eon_Update_add_set_type(a, 1);
        uint8_t v[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        eon_Update_add_set_value(a, v, 4);
        eon_Update_add_set_ttl(a, 3600);
    }
    uint8_t *out;
    struct err e;
    if (capnp_builder_serialize(&b, &out, len, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    capnp_builder_free(&b);
    return out;
}

static uint64_t traverse(const uint8_t *buf, size_t len)
{
    struct capnp_msg m;
    struct err e;
    if (capnp_msg_init_bytes(&m, buf, len, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    uint64_t sum = 0;
    eon_Update_LR l = eon_Domain_update_Params_get_updates(eon_Domain_update_Params_read_root(&m));
    uint32_t n = eon_Update_LR_len(l);
    for (uint32_t i = 0; i < n; i++) {
        eon_Update_R u = eon_Update_LR_at(l, i);
        sum += eon_Update_get_name(u).len;
        if (eon_Update_which(u) == eon_Update_add) {
            eon_Update_add_R a = eon_Update_get_add(u);
            capnp_data v = eon_Update_add_get_value(a);
            sum +=
                (uint64_t)eon_Update_add_get_type(a) + (uint64_t)eon_Update_add_get_ttl(a) + v.len;
            if (v.len == 4) sum += v.ptr[3];
        }
    }
    if (capnp_msg_error(&m)) {
        fprintf(stderr, "%s\n", capnp_msg_error(&m));
        exit(1);
    }
    capnp_msg_free(&m);
    return sum;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 200;
    size_t len = 0;
    /* The best of 5 batches: the machine is shared, the minimum is the
     * least disturbed figure. */
    double tb = 1e30, tr = 1e30;
    uint8_t *msg = build(n, &len);
    uint64_t sum = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int r = 0; r < rounds; r++)
            free(build(n, &len));
        double t1 = now();
        sum = 0;
        for (int r = 0; r < rounds; r++)
            sum += traverse(msg, len);
        double t2 = now();
        if (t1 - t0 < tb) tb = t1 - t0;
        if (t2 - t1 < tr) tr = t2 - t1;
    }
    printf("%.1f %.1f %zu %llu\n", tb / rounds * 1e6, tr / rounds * 1e6, len,
           (unsigned long long)(sum / (uint64_t)rounds));
    free(msg);
    return 0;
}
