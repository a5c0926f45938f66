/* Arbitrary bytes from a peer into a vat serving the test service (plain,
 * no TLS): framing, every message type, the tables, pipelining, Abort.
 * Each input gets a fresh connection (one end of a socketpair). Besides
 * not crashing or leaking, the vat must:
 *
 *  - close a connection fed garbage without waiting for the peer to hang
 *    up. Garbage is judged here, with the capnp layer alone: a framing
 *    error, or a message whose root cannot be read as an rpc Message. The
 *    vat's last message must then be an Abort (unless it paused reading
 *    on its budget and closed at the drain deadline first). A message that is an Abort
 *    must close the connection too. Other input ends in our EOF, after
 *    which the connection must close as well; both within CLOSE_WITHIN_MS.
 *  - hold at most MEM_FIXED + MEM_PER_BYTE * (input bytes) more heap at
 *    any moment of the connection than before it, and no more than
 *    MEM_AFTER soon (CLOSE_WITHIN_MS) after it is closed. Every malloc and
 *    free of the process is counted (ASan's allocator hooks) while the vat
 *    runs, so the vat, libuv and the service are all included; the
 *    target's own work is not.
 */
#include <sanitizer/allocator_interface.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capnp/frame.h"
#include "rpc/gen/rpc.capnp.h"
#include "rpc/rpc.h"
#include "../unit/rpc/rpc_test_service.h"

#define MAX_MESSAGE (1u << 20)
#define CLOSE_WITHIN_MS 3000
/* The bound on what one connection may make the vat hold. The vat's
 * per-connection budget (conn_budget_bytes: output, calls in flight, kept
 * answers; past it the vat stops reading) counts messages by their bytes,
 * while the builders holding them grow by doubling, so the heap behind a
 * spent budget is up to twice it (measured: 9.0 MB for 4 MiB, however many
 * bigChild answers, 520 KB each, the peer leaves unfinished). Plus read
 * buffers (libuv's 64 KiB, the vat's input buffer), the framer's body, one
 * message in progress and the tables (MEM_FIXED); plus a few copies of each
 * input byte (input buffer, framed message, queued calls, echoed results).
 * Without the budget, 30 such calls (4 KB of input, the seed
 * bigchild_unfinished) make the vat hold 34 MB. */
#define MEM_BUDGET (4u << 20)
#define MEM_FIXED (2ll * MEM_BUDGET + (2ll << 20))
#define MEM_PER_BYTE 64ll
/* What a closed connection may leave behind (grown id tables and the
 * like, reused by the next one). */
#define MEM_AFTER (64ll << 10)

static struct rpc_vat *vat;

/* ---- heap accounting ---- */

static atomic_llong live, peak;
static atomic_bool tracking;

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    if (!atomic_load(&tracking)) return;
    long long now = atomic_fetch_add(&live, (long long)n) + (long long)n;
    long long pk = atomic_load(&peak);
    while (now > pk && !atomic_compare_exchange_weak(&peak, &pk, now))
        ;
}

static void on_free(const volatile void *p)
{
    if (p && atomic_load(&tracking))
        atomic_fetch_sub(&live, (long long)__sanitizer_get_allocated_size((const void *)p));
}

static void setup(void)
{
    struct err e;
    /* Short drain and close timeouts: a connection paused on its budget
     * (this peer never drains: it sends no Finish) or closing with output
     * left must still be gone within CLOSE_WITHIN_MS. */
    struct rpc_vat_config cfg = {.disable_tls = true,
                                 .max_message_bytes = MAX_MESSAGE,
                                 .max_questions = 64,
                                 .max_exports = 64,
                                 .conn_budget_bytes = MEM_BUDGET,
                                 .drain_timeout_ms = 200,
                                 .close_timeout_ms = 500};
    vat = rpc_vat_new(uv_default_loop(), &cfg, &e);
    struct test_obj *root = test_obj_new("example.org", NULL);
    rpc_vat_add_service(vat, (const uint8_t *)"svc", 3, &root->o.cap, &e);
    rpc_vat_set_bootstrap(vat, &root->o.cap);
    rpc_cap_unref(&root->o.cap);
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}

/* ---- what a correct vat must do with this input ---- */

enum verdict {
    OPEN,    /* well-framed messages (maybe a partial one at the end) */
    GARBAGE, /* must be aborted: framing error or unreadable Message */
    ABORTED, /* the peer sent Abort: must be closed */
};

static enum verdict judge(const uint8_t *data, size_t size)
{
    struct capnp_framer f;
    struct err e;
    enum verdict v = OPEN;
    capnp_framer_init(&f, MAX_MESSAGE, 0);
    for (size_t pos = 0; pos < size && v == OPEN;) {
        size_t used;
        int r = capnp_framer_feed(&f, data + pos, size - pos, &used, &e);
        pos += used;
        if (r < 0) v = GARBAGE;
        if (r == 0 && !used) break; /* cannot happen: the framer takes what it is given */
        if (r != 1) continue;
        struct capnp_msg m;
        if (capnp_framer_take(&f, &m, &e) < 0) abort();
        capnp_msg_set_limits(&m, CAPNP_DEFAULT_TRAVERSAL_WORDS, CAPNP_DEFAULT_NESTING);
        unsigned which = rpc_Message_which(rpc_Message_read_root(&m));
        if (capnp_msg_error(&m))
            v = GARBAGE;
        else if (which == rpc_Message_abort)
            v = ABORTED;
        capnp_msg_free(&m);
    }
    capnp_framer_free(&f);
    return v;
}

/* The kind of the last complete message the vat sent (-1: none). */
static int last_kind(const uint8_t *out, size_t n)
{
    struct capnp_framer f;
    struct err e;
    int kind = -1;
    capnp_framer_init(&f, 0, 0);
    for (size_t pos = 0; pos < n;) {
        size_t used;
        int r = capnp_framer_feed(&f, out + pos, n - pos, &used, &e);
        pos += used;
        if (r < 0) {
            fprintf(stderr, "fuzz_rpc_frames: the vat sent a bad frame: %s\n", e.msg);
            abort();
        }
        if (r != 1) continue;
        struct capnp_msg m;
        if (capnp_framer_take(&f, &m, &e) < 0) abort();
        kind = (int)rpc_Message_which(rpc_Message_read_root(&m));
        capnp_msg_free(&m);
    }
    capnp_framer_free(&f);
    return kind;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static _Noreturn void fail(const char *why, enum verdict v, size_t size)
{
    static const char *names[] = {"well-framed", "garbage", "an Abort"};
    fprintf(stderr, "fuzz_rpc_frames: %s (input: %zu bytes, %s)\n", why, size, names[v]);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vat) setup();
    if (size > 60000) return 0;
    enum verdict v = judge(data, size);
    static uint8_t out[4 << 20]; /* what the vat sent (static: not counted) */
    size_t nout = 0;
    bool out_whole = true;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    struct err e;
    atomic_store(&live, 0);
    atomic_store(&peak, 0);
    atomic_store(&tracking, true);
    if (rpc_vat_serve_fd(vat, sv[0], &e) < 0) {
        atomic_store(&tracking, false);
        close(sv[1]);
        return 0;
    }
    size_t off = 0;
    while (off < size) { /* fits the socket buffer: the vat reads nothing yet */
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    /* Garbage must be closed by the vat alone; otherwise we hang up. */
    bool hung_up = v == OPEN;
    if (hung_up) shutdown(sv[1], SHUT_WR);
    struct rpc_stats s;
    bool eof = false, paused = false;
    long long deadline = now_ms() + CLOSE_WITHIN_MS;
    for (int i = 0;; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        ssize_t got;
        uint8_t sink[65536];
        while ((got = recv(sv[1], sink, sizeof sink, MSG_DONTWAIT)) > 0) {
            if ((size_t)got > sizeof out - nout) out_whole = false;
            if (out_whole) memcpy(out + nout, sink, (size_t)got);
            nout += (size_t)got;
        }
        eof = eof || got == 0;
        rpc_vat_stats(vat, &s);
        paused = paused || s.paused;
        if (s.conns == 0 && eof) break;
        if (now_ms() > deadline)
            fail(hung_up ? "the connection stayed open after our EOF"
                         : "the connection stayed open although the vat must close it",
                 v, size);
        if (i > 100) usleep(1000); /* a `later` timer may still be running */
    }
    close(sv[1]);
    /* Work the service started (a `later` timer) may hold memory for a
     * moment after the close; it must be let go soon. */
    deadline = now_ms() + CLOSE_WITHIN_MS;
    for (int i = 0; i < 10 || atomic_load(&live) > MEM_AFTER; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        if (atomic_load(&live) <= MEM_AFTER) continue;
        if (now_ms() > deadline) {
            fprintf(stderr, "fuzz_rpc_frames: %lld bytes still held\n", atomic_load(&live));
            fail("memory kept after the connection closed", v, size);
        }
        usleep(1000);
    }
    atomic_store(&tracking, false);

    long long bound = MEM_FIXED + MEM_PER_BYTE * (long long)size;
    if (atomic_load(&peak) > bound) {
        fprintf(stderr, "fuzz_rpc_frames: held %lld bytes, bound %lld\n", atomic_load(&peak),
                bound);
        fail("too much memory held for one connection", v, size);
    }
    if (getenv("FUZZ_RPC_REPORT"))
        fprintf(stderr, "peak %lld live %lld size %zu verdict %d\n", atomic_load(&peak),
                atomic_load(&live), size, v);
    /* A connection paused on its budget may be closed by the drain deadline
     * before it reads the garbage: then there is no Abort to expect. */
    if (v == GARBAGE && out_whole && !paused && last_kind(out, nout) != rpc_Message_abort)
        fail("no Abort sent before closing on garbage", v, size);
    return 0;
}
