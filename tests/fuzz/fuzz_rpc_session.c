/* Whole RPC sessions against a live vat serving the test service (plain,
 * no TLS; issue 9). Where fuzz_rpc_frames writes one blob of bytes, this
 * target splits its input into records and feeds them one at a time,
 * running the loop and reading the vat's answers after each, so sequences
 * (Bootstrap, calls, calls pipelined on earlier answers, Finish, Release,
 * timers firing in between) get explored. Records:
 *   op 0 (op % 4): u16 LE length N, N bytes: sent as one single-segment
 *        message (the harness writes the segment table and pads the body
 *        to whole words), so mutations reach message handling, not framing
 *   op 1: u16 LE length N, N raw bytes written as they are (framing)
 *   op 2: let time pass (~25 ms, the test service's `later` timers fire);
 *        at most 3 per input
 *   op 3: end of input
 * Checked after every record, besides ASan/UBSan/LSan:
 *   - the vat sends at most 16 bytes per byte it got (plus 64 KiB): no
 *     answer is an amplification of the message that caused it;
 *   - the vat holds at most BOUND bytes for the peer (rpc_stats.held) and
 *     the process at most BOUND more heap than before the session (the
 *     DAG echo of issue 9 point 1 made 64 MiB from a 392-byte message);
 *   - after the vat sent Abort, the connection closes and nothing follows
 *     the Abort;
 *   - a message whose root is not a struct pointer, or (before a Bootstrap
 *     was answered with a capability) any message other than Bootstrap,
 *     Call, Finish or Abort, closes the connection (checked until the
 *     first raw record: after one, where frames start is unknown);
 * and once the session ends: the connection is gone and every table entry
 * and byte it held is released.
 * Seeds (tests/fuzz/corpus/fuzz_rpc_session/): bootstrap, a call, a call
 * pipelined on the bootstrap's answer, a pipelined child().getName() chain,
 * finish with releaseResultCaps false, `later` with time passing; and two
 * that today's vat must refuse: an unknown message before any Bootstrap
 * (closed), a DAG-shaped unknown message after one (Abort, no echo).
 * FUZZ_RPC_SESSION_TRACE=1 prints the answers, to check what a seed does. */
#include <sanitizer/allocator_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/rpc.h"
#include "../unit/rpc/rpc_test_service.h"

#define BOUND (8u << 20)
#define SESSION_MAX 65536

static struct rpc_vat *vat;

static void setup(void)
{
    struct err e;
    struct rpc_vat_config cfg = {.disable_tls = true,
                                 .max_message_bytes = 1 << 20,
                                 .max_questions = 64,
                                 .max_exports = 64,
                                 .conn_budget_bytes = 1 << 20};
    vat = rpc_vat_new(uv_default_loop(), &cfg, &e);
    if (!vat) {
        fprintf(stderr, "rpc_vat_new: %s\n", e.msg);
        abort();
    }
    struct test_obj *root = test_obj_new("example.org", NULL);
    rpc_vat_add_service(vat, (const uint8_t *)"svc", 3, &root->o.cap, &e);
    rpc_vat_set_bootstrap(vat, &root->o.cap);
    rpc_cap_unref(&root->o.cap);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rpc_session: " __VA_ARGS__);                                     \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What the peer (this harness) has seen of the session. */
struct peer {
    int fd;
    uint8_t in[1 << 16]; /* answers not yet parsed */
    size_t in_len;
    size_t skip;      /* bytes still to come of a frame too large to look at */
    size_t sent, got; /* bytes written to the vat, read from it */
    bool eof, aborted, authed;
    uint32_t boot_q[16]; /* questions of the Bootstrap messages sent */
    unsigned nboot;
};

static uint64_t word(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The struct a pointer at word index `at` of seg (n words) points to, as a
 * word index, or -1 when it is not an in-bounds struct pointer. */
static long struct_at(const uint8_t *seg, size_t n, size_t at, uint16_t *dwords)
{
    if (at >= n) return -1;
    uint64_t p = word(seg + 8 * at);
    if ((p & 3) != 0 || p == 0) return -1;
    int32_t off = (int32_t)(uint32_t)p >> 2;
    long s = (long)at + 1 + off;
    *dwords = (uint16_t)(p >> 32);
    uint16_t ptrs = (uint16_t)(p >> 48);
    if (s < 0 || (size_t)s + *dwords + ptrs > n) return -1;
    return s;
}

/* Looks at one answer of the vat: Abort, or a Return with results to one of
 * our Bootstrap questions (a service is restored then). */
static bool trace; /* FUZZ_RPC_SESSION_TRACE=1: one line per answer, to check seeds */

static void saw_answer(struct peer *pr, const uint8_t *seg, size_t n)
{
    uint16_t dw, dw2;
    long root = struct_at(seg, n, 0, &dw);
    if (root < 0 || dw < 1) return;
    uint16_t tag;
    memcpy(&tag, seg + 8 * root, 2);
    if (trace) fprintf(stderr, "answer: tag %u, %zu words\n", tag, n);
    if (tag == 1) pr->aborted = true;
    if (tag != 3) return;
    long ret = struct_at(seg, n, (size_t)root + dw, &dw2);
    if (ret < 0 || dw2 < 1) return;
    uint32_t qid;
    uint16_t which;
    memcpy(&qid, seg + 8 * ret, 4);
    memcpy(&which, seg + 8 * ret + 6, 2);
    if (trace) fprintf(stderr, "  return to question %u: which %u\n", qid, which);
    for (unsigned i = 0; i < pr->nboot; i++)
        if (pr->boot_q[i] == qid && which == 0) pr->authed = true;
}

/* Reads what the vat sent and splits it into frames. */
static void drain(struct peer *pr)
{
    for (;;) {
        ssize_t r = recv(pr->fd, pr->in + pr->in_len, sizeof pr->in - pr->in_len, MSG_DONTWAIT);
        if (r == 0) pr->eof = true;
        if (r <= 0) break;
        pr->in_len += (size_t)r;
        pr->got += (size_t)r;
        CHECK(pr->got <= 16 * pr->sent + 65536, "the vat sent %zu bytes for the %zu it got",
              pr->got, pr->sent);
        size_t off = pr->skip < pr->in_len ? pr->skip : pr->in_len;
        pr->skip -= off;
        while (pr->in_len - off >= 8) {
            uint32_t nseg;
            memcpy(&nseg, pr->in + off, 4);
            nseg++;
            CHECK(nseg <= 512, "the vat sent a frame of %u segments", nseg);
            size_t hdr = (4 + 4 * (size_t)nseg + 7) & ~(size_t)7, total = hdr;
            if (pr->in_len - off < hdr) break;
            uint32_t seg0 = 0;
            for (uint32_t i = 0; i < nseg; i++) {
                uint32_t w;
                memcpy(&w, pr->in + off + 4 + 4 * i, 4);
                if (i == 0) seg0 = w;
                total += 8 * (size_t)w;
            }
            if (pr->in_len - off < total && total <= sizeof pr->in) break;
            CHECK(!pr->aborted, "the vat sent a message after its Abort");
            if (total > sizeof pr->in) { /* larger than we look at: skip it */
                pr->skip = total - (pr->in_len - off);
                off = pr->in_len;
                break;
            }
            saw_answer(pr, pr->in + off + hdr, seg0);
            off += total;
        }
        memmove(pr->in, pr->in + off, pr->in_len - off);
        pr->in_len -= off;
    }
}

static size_t heap(void)
{
    return __sanitizer_get_current_allocated_bytes();
}

/* Runs the loop until it has nothing more to do right now. */
static void pump(struct peer *pr, size_t heap0)
{
    struct rpc_stats s;
    for (int i = 0; i < 20; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        drain(pr);
    }
    rpc_vat_stats(vat, &s);
    CHECK(s.held <= BOUND, "the vat holds %zu bytes for one peer (bound %u)", s.held, BOUND);
    size_t h = heap();
    CHECK(h <= heap0 + BOUND, "heap grew by %zu bytes in one session (bound %u)", h - heap0, BOUND);
}

/* The connection must end: the peer sees EOF or the vat has no connection. */
static void expect_closed(struct peer *pr, size_t heap0, const char *why)
{
    struct rpc_stats s;
    for (int i = 0; i < 50; i++) {
        pump(pr, heap0);
        rpc_vat_stats(vat, &s);
        if (pr->eof || s.conns == 0) return;
    }
    CHECK(0, "connection still open after %s", why);
}

static void send_all(struct peer *pr, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(pr->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the vat closed: later checks decide */
        pr->sent += (size_t)w;
        p += w;
        n -= (size_t)w;
    }
}

/* Sends body as a one-segment message; returns its root's union tag, or
 * -1 when the root is not an in-bounds struct pointer. */
static int send_message(struct peer *pr, const uint8_t *body, size_t n)
{
    static uint8_t buf[8 + SESSION_MAX + 8];
    size_t words = (n + 7) / 8;
    uint32_t hdr[2] = {0, (uint32_t)words};
    memcpy(buf, hdr, 8);
    memset(buf + 8, 0, 8 * words);
    memcpy(buf + 8, body, n);
    send_all(pr, buf, 8 + 8 * words);
    uint16_t dw;
    long root = struct_at(buf + 8, words, 0, &dw);
    if (root < 0) return -1;
    uint16_t tag = 0;
    if (dw) memcpy(&tag, buf + 8 + 8 * root, 2);
    if (tag == 8 && pr->nboot < 16) { /* Bootstrap: remember its question */
        uint16_t bdw;
        uint32_t q = 0; /* a null or short struct reads as the default, 0 */
        long b = struct_at(buf + 8, words, (size_t)root + dw, &bdw);
        if (dw && b >= 0 && bdw >= 1) memcpy(&q, buf + 8 + 8 * b, 4);
        pr->boot_q[pr->nboot++] = q;
    }
    return tag;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vat) {
        trace = getenv("FUZZ_RPC_SESSION_TRACE") != NULL;
        setup();
    }
    if (size > SESSION_MAX) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
    struct err e;
    size_t heap0 = heap();
    if (rpc_vat_serve_fd(vat, sv[0], &e) < 0) {
        close(sv[1]);
        return 0;
    }
    static struct peer pr;
    memset(&pr, 0, sizeof pr);
    pr.fd = sv[1];
    size_t off = 0;
    int waits = 0;
    bool closed = false;
    bool raw = false; /* raw bytes were sent: where frames start is unknown */
    while (off < size && !closed) {
        uint8_t op = data[off++] & 3;
        if (op == 3) break;
        if (op == 2) {
            if (waits++ < 3) {
                usleep(25000);
                pump(&pr, heap0);
            }
            continue;
        }
        if (size - off < 2) break;
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off) n = size - off;
        const uint8_t *body = data + off;
        off += n;
        if (op == 1) {
            send_all(&pr, body, n);
            pump(&pr, heap0);
            raw = true;
        } else if (raw) { /* framing unknown since raw bytes: just send */
            send_message(&pr, body, n);
            pump(&pr, heap0);
        } else {
            bool authed = pr.authed;
            int tag = send_message(&pr, body, n);
            pump(&pr, heap0);
            if (tag < 0 && n >= 8 && (word(body) & 3) == 1) {
                expect_closed(&pr, heap0, "a message whose root is a list");
                closed = true;
            } else if (tag >= 0 && !authed && tag != 1 && tag != 2 && tag != 4 && tag != 8) {
                expect_closed(&pr, heap0,
                              "a message other than Bootstrap/Call/Finish/Abort "
                              "before a service was restored");
                closed = true;
            }
        }
        if (pr.aborted) {
            expect_closed(&pr, heap0, "the vat's Abort");
            closed = true;
        }
        if (pr.eof) closed = true;
    }
    /* End of the session: the peer hangs up; everything must be released. */
    shutdown(sv[1], SHUT_WR);
    struct rpc_stats s;
    for (int i = 0; i < 300; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        drain(&pr);
        rpc_vat_stats(vat, &s);
        if (s.conns == 0 && s.closing == 0) break;
        if (i > 100) usleep(1000); /* a `later` timer may still be running */
    }
    close(sv[1]);
    for (int i = 0; i < 10; i++)
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    rpc_vat_stats(vat, &s);
    CHECK(s.conns == 0, "the connection outlived its peer's hang-up");
    CHECK(s.questions == 0 && s.answers == 0 && s.imports == 0 && s.exports == 0 && s.held == 0,
          "after the session: %u questions, %u answers, %u imports, %u exports, %zu bytes held",
          s.questions, s.answers, s.imports, s.exports, s.held);
    return 0;
}
