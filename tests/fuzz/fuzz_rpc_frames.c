/* Arbitrary bytes from a peer into a vat serving the test service (plain,
 * no TLS): framing, every message type, the tables, pipelining, Abort.
 * Each input gets a fresh connection (one end of a socketpair); the vat
 * must neither crash nor leak, whatever the peer sends. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/rpc.h"
#include "../unit/rpc/rpc_test_service.h"

static struct rpc_vat *vat;

static void setup(void)
{
    struct err e;
    struct rpc_vat_config cfg = {
        .disable_tls = true, .max_message_bytes = 1 << 20, .max_questions = 64, .max_exports = 64};
    vat = rpc_vat_new(uv_default_loop(), &cfg, &e);
    struct test_obj *root = test_obj_new("example.org", NULL);
    rpc_vat_add_service(vat, (const uint8_t *)"svc", 3, &root->o.cap, &e);
    rpc_vat_set_bootstrap(vat, &root->o.cap);
    rpc_cap_unref(&root->o.cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vat) setup();
    if (size > 60000) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    struct err e;
    if (rpc_vat_serve_fd(vat, sv[0], &e) < 0) {
        close(sv[1]);
        return 0;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    struct rpc_stats s;
    for (int i = 0; i < 200; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        char sink[65536];
        while (recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) > 0)
            ;
        rpc_vat_stats(vat, &s);
        if (s.conns == 0) break;
        if (i > 100) usleep(1000); /* a `later` timer may still be running */
    }
    close(sv[1]);
    for (int i = 0; i < 10; i++)
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    return 0;
}
