/* The vat: configuration, listeners, the restorer (service IDs ->
 * capabilities), sturdy ref URIs, client connections. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "rpc/rpc_int.h"
#include "util/log.h"

struct rpc_vat *rpc_vat_new(uv_loop_t *loop, const struct rpc_vat_config *cfg, struct err *e)
{
    struct rpc_vat *v = xcalloc(1, sizeof *v);
    v->loop = loop;
    /* A peer that goes away while we write must cost a connection, not
     * the process: libuv leaves SIGPIPE alone, so ignore it unless the
     * program has its own handler. */
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    if (cfg) v->cfg = *cfg;
    struct rpc_vat_config *c = &v->cfg;
    if (!c->max_message_bytes) c->max_message_bytes = 16u << 20;
    if (!c->max_questions) c->max_questions = 4096;
    if (!c->max_exports) c->max_exports = 65536;
    if (!c->idle_timeout_ms) c->idle_timeout_ms = 600000;
    if (!c->max_write_queue) c->max_write_queue = 64u << 20;
    if (!c->max_conns) c->max_conns = 512;
    if (!c->auth_timeout_ms) c->auth_timeout_ms = 10000;
    if (!c->conn_budget_bytes) c->conn_budget_bytes = 4u << 20;
    if (!c->drain_timeout_ms) c->drain_timeout_ms = 30000;
    if (!c->close_timeout_ms) c->close_timeout_ms = 5000;
    if (!c->max_conns_per_addr) c->max_conns_per_addr = 32;
    if (!c->reserved_conns) c->reserved_conns = c->max_conns / 4;
    if (c->reserved_conns == UINT32_MAX || c->reserved_conns >= c->max_conns) c->reserved_conns = 0;
    if (!c->preauth_message_bytes) c->preauth_message_bytes = 64u << 10;
    if (!c->traversal_limit_words) c->traversal_limit_words = CAPNP_DEFAULT_TRAVERSAL_WORDS;
    addr_limit_init(&v->per_addr, c->max_conns_per_addr, c->v4_prefix, c->v6_prefix);
    if (!c->disable_tls && c->secret_key_file) {
        v->key = tls_key_load(c->secret_key_file, e);
        if (!v->key) {
            addr_limit_free(&v->per_addr);
            free(v);
            return NULL;
        }
        v->tls = true;
    }
    c->secret_key_file = NULL; /* not kept: the caller's string */
    uv_prepare_init(loop, &v->flush);
    uv_check_init(loop, &v->check);
    v->flush.data = v->check.data = v;
    return v;
}

uv_loop_t *rpc_vat_loop(struct rpc_vat *v)
{
    return v->loop;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}
static void vat_handle_closed(uv_handle_t *h)
{
    struct rpc_vat *v = h->data;
    if (--v->handles_open == 0) free(v);
}

static void rcache_forget(struct rpc_vat *v, const uint8_t h[32]);

static void rcache_clear(struct rpc_vat *v)
{
    for (uint32_t i = 0; i < v->nrcache; i++)
        rpc_cap_unref(v->rcache[i].cap);
    free(v->rcache);
    v->rcache = NULL;
    v->nrcache = 0;
}

void rpc_vat_free(struct rpc_vat *v)
{
    if (!v) return;
    v->freeing = true;
    for (uint32_t i = 0; i < v->nlisteners; i++)
        uv_close(v->listeners[i], free_handle);
    free(v->listeners);
    for (struct rpc_conn *c = v->conns; c; c = c->next)
        conn_close(c, "vat shut down");
    vat_flush_now(v);
    /* What is left is closing its socket (or waiting for a shutdown):
     * close now and let it finish without the vat. */
    for (struct rpc_conn *c = v->conns, *next; c; c = next) {
        next = c->next;
        if (c->shutting_down && !uv_is_closing(&c->h.h)) {
            c->close_due = 1;
            conn_arm_timer(c); /* fires at once: closes the socket */
        }
        c->vat = NULL;
        c->next = c->prev = NULL;
    }
    v->conns = NULL;
    for (uint32_t i = 0; i < v->nsvcs; i++)
        rpc_cap_unref(v->svcs[i].cap);
    free(v->svcs);
    rcache_clear(v);
    addr_limit_free(&v->per_addr);
    rpc_cap_unref(v->bootstrap);
    tls_key_free(v->key);
    v->handles_open = 2;
    uv_close((uv_handle_t *)&v->flush, vat_handle_closed);
    uv_close((uv_handle_t *)&v->check, vat_handle_closed);
}

void vat_conn_closed(struct rpc_vat *v, struct rpc_conn *c)
{
    if (c->slot_held) {
        c->slot_held = false;
        v->naccepted--;
        if (c->authed) v->nauthed--;
    }
    if (c->src_counted) {
        c->src_counted = false;
        addr_limit_release(&v->per_addr, &c->src);
    }
    if (c->prev)
        c->prev->next = c->next;
    else if (v->conns == c)
        v->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

/* ------------------------------------------------------------ listening */

/* At most one log line a second for each of the flood's symptoms. */
static bool log_now(struct rpc_vat *v, uint64_t *last)
{
    uint64_t now = uv_now(v->loop);
    if (*last && now - *last < 1000) return false;
    *last = now ? now : 1;
    return true;
}

/* Over the limit: accept and close at once, so the client fails cleanly
 * instead of waiting in the backlog. */
static void refuse(struct rpc_vat *v, uv_stream_t *server)
{
    bool pipe = server->type == UV_NAMED_PIPE;
    uv_handle_t *h = malloc(pipe ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
    if (!h) return;
    int r = pipe ? uv_pipe_init(v->loop, (uv_pipe_t *)h, 0) : uv_tcp_init(v->loop, (uv_tcp_t *)h);
    if (r < 0) {
        free(h);
        return;
    }
    uv_accept(server, (uv_stream_t *)h);
    uv_close(h, free_handle);
    if (log_now(v, &v->refusal_logged))
        log_info("rpc: connection refused, %u connections open", v->naccepted);
}

/* Unauthenticated connections may use the slots but the reserved share:
 * a flood of strangers never locks out a client that has a service ID. */
static bool slot_free(struct rpc_vat *v)
{
    if (v->naccepted >= v->cfg.max_conns) return false;
    return v->naccepted - v->nauthed < v->cfg.max_conns - v->cfg.reserved_conns;
}

/* Counts the connection against its source prefix: false when that
 * prefix already has its share. */
static bool count_source(struct rpc_vat *v, struct rpc_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (c->is_pipe || uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) < 0 ||
        !addr_limit_key(&v->per_addr, (const struct sockaddr *)&ss, &c->src))
        return true; /* unix sockets: only local users, and 0600 */
    if (!addr_limit_acquire(&v->per_addr, &c->src)) return false;
    c->src_counted = true;
    return true;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct rpc_vat *v = server->data;
    if (status < 0) {
        /* Typically out of file descriptors under a flood. */
        if (log_now(v, &v->accept_error_logged)) log_error("rpc: accept: %s", uv_strerror(status));
        return;
    }
    if (!slot_free(v)) {
        v->refused_full++;
        refuse(v, server);
        return;
    }
    struct rpc_conn *c = conn_new(v);
    c->slot_held = true;
    v->naccepted++;
    bool pipe = server->type == UV_NAMED_PIPE;
    c->is_pipe = pipe;
    int r = pipe ? uv_pipe_init(v->loop, &c->h.pipe, 0) : uv_tcp_init(v->loop, &c->h.tcp);
    if (r < 0) {
        conn_close(c, uv_strerror(r));
        return;
    }
    c->h.h.data = c;
    c->handle_open = true;
    if ((r = uv_accept(server, &c->h.s)) < 0) {
        conn_close(c, uv_strerror(r));
        return;
    }
    if (!count_source(v, c)) {
        v->refused_per_source++;
        if (log_now(v, &v->refusal_logged))
            log_info("rpc: connection refused: %u connections open from that address",
                     addr_limit_count(&v->per_addr, &c->src));
        conn_close(c, "too many connections from that address");
        return;
    }
    if (v->tls) {
        struct err e;
        c->tls = tls_session_server(v->key, &e);
        if (!c->tls) {
            conn_close(c, e.msg);
            return;
        }
    }
    conn_start_reading(c);
}

int rpc_vat_serve_fd(struct rpc_vat *v, int fd, struct err *e)
{
    struct rpc_conn *c = conn_new(v);
    /* A pipe handle works for any stream socket. */
    c->is_pipe = true;
    int r = uv_pipe_init(v->loop, &c->h.pipe, 0);
    if (r == 0) {
        c->h.h.data = c;
        c->handle_open = true;
        r = uv_pipe_open(&c->h.pipe, fd);
    }
    if (r < 0) {
        err_set(e, "cannot serve fd %d: %s", fd, uv_strerror(r));
        conn_close(c, e->msg);
        return -1;
    }
    if (v->tls) {
        c->tls = tls_session_server(v->key, e);
        if (!c->tls) {
            conn_close(c, e->msg);
            return -1;
        }
    }
    conn_start_reading(c);
    return 0;
}

static int add_listener(struct rpc_vat *v, uv_handle_t *h, struct err *e)
{
    uv_handle_t **nl = realloc(v->listeners, sizeof *nl * (v->nlisteners + 1));
    if (!nl) {
        uv_close(h, free_handle);
        return err_set(e, "out of memory");
    }
    v->listeners = nl;
    v->listeners[v->nlisteners++] = h;
    return 0;
}

int rpc_vat_listen_sockaddr(struct rpc_vat *v, const struct sockaddr *sa, struct err *e)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t) return err_set(e, "out of memory");
    uv_tcp_init(v->loop, t);
    t->data = v;
    int r = uv_tcp_bind(t, sa, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)t, 128, on_connection);
    if (r < 0) {
        uv_close((uv_handle_t *)t, free_handle);
        return err_set(e, "cannot listen: %s", uv_strerror(r));
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len) == 0)
        v->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return add_listener(v, (uv_handle_t *)t, e);
}

int rpc_vat_bound_port(struct rpc_vat *v)
{
    return v->bound_port;
}

int rpc_vat_listen(struct rpc_vat *v, const char *addr, struct err *e)
{
    struct sturdy_ref r = {0};
    if (sturdy_parse_address(addr, &r, e) < 0) return -1;
    if (!v->have_public) {
        v->public_addr = r;
        v->have_public = true;
    }
    if (r.kind == STURDY_UNIX) {
        struct stat st;
        /* A stale socket from an earlier run; never remove anything else. */
        if (lstat(r.path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(r.path);
        uv_pipe_t *p = malloc(sizeof *p);
        if (!p) return err_set(e, "out of memory");
        uv_pipe_init(v->loop, p, 0);
        p->data = v;
        /* Created 0600 from the start (no moment in which others could
         * connect), then chmod in case the umask was even stricter. */
        mode_t old_mask = umask(077);
        int rc = uv_pipe_bind(p, r.path);
        umask(old_mask);
        if (rc == 0) {
            chmod(r.path, 0600);
            rc = uv_listen((uv_stream_t *)p, 128, on_connection);
        }
        if (rc < 0) {
            uv_close((uv_handle_t *)p, free_handle);
            return err_set(e, "cannot listen on %s: %s", r.path, uv_strerror(rc));
        }
        return add_listener(v, (uv_handle_t *)p, e);
    }
    char port[8];
    snprintf(port, sizeof port, "%u", r.port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(r.host, port, &hints, &res);
    if (g != 0) return err_set(e, "cannot resolve %s: %s", r.host, gai_strerror(g));
    int rc = rpc_vat_listen_sockaddr(v, res->ai_addr, e);
    freeaddrinfo(res);
    if (rc < 0) err_prefix(e, "%s", addr);
    return rc;
}

int rpc_vat_set_public_address(struct rpc_vat *v, const char *addr, struct err *e)
{
    struct sturdy_ref r = {0};
    if (sturdy_parse_address(addr, &r, e) < 0) return -1;
    v->public_addr = r;
    v->have_public = true;
    return 0;
}

char *rpc_vat_sturdy_uri(struct rpc_vat *v, const uint8_t *id, size_t len)
{
    if (!v->have_public || len > STURDY_MAX_ID) return NULL;
    struct sturdy_ref r = v->public_addr;
    r.insecure = !v->tls;
    snprintf(r.fingerprint, sizeof r.fingerprint, "%s", v->tls ? tls_key_fingerprint(v->key) : "");
    memcpy(r.id, id, len);
    r.id_len = len;
    return sturdy_format(&r);
}

const char *rpc_vat_fingerprint(const struct rpc_vat *v)
{
    return v->key ? tls_key_fingerprint(v->key) : "";
}

int rpc_vat_derive_id(const struct rpc_vat *v, const char *name, uint8_t out[32])
{
    if (!v->key) return -1;
    sturdy_derive_id(tls_key_secret_hash(v->key), name, out);
    return 0;
}

/* ------------------------------------------------------------ services */

int rpc_vat_add_service(struct rpc_vat *v, const uint8_t *id, size_t len, struct rpc_cap *cap,
                        struct err *e)
{
    uint8_t h[32];
    SHA256(id, len, h);
    for (uint32_t i = 0; i < v->nsvcs; i++)
        if (CRYPTO_memcmp(v->svcs[i].hash, h, 32) == 0) {
            rpc_cap_ref(cap);
            rpc_cap_unref(v->svcs[i].cap);
            v->svcs[i].cap = cap;
            return 0;
        }
    if (v->nsvcs == v->svc_cap) {
        uint32_t nc = v->svc_cap ? v->svc_cap * 2 : 8;
        struct svc_entry *ns = realloc(v->svcs, sizeof *ns * nc);
        if (!ns) return err_set(e, "out of memory");
        v->svcs = ns;
        v->svc_cap = nc;
    }
    memcpy(v->svcs[v->nsvcs].hash, h, 32);
    v->svcs[v->nsvcs++].cap = rpc_cap_ref(cap);
    return 0;
}

void rpc_vat_remove_service(struct rpc_vat *v, const uint8_t *id, size_t len)
{
    uint8_t h[32];
    SHA256(id, len, h);
    for (uint32_t i = 0; i < v->nsvcs; i++)
        if (CRYPTO_memcmp(v->svcs[i].hash, h, 32) == 0) {
            rpc_cap_unref(v->svcs[i].cap);
            v->svcs[i] = v->svcs[--v->nsvcs];
            break;
        }
    rcache_forget(v, h);
}

void rpc_vat_set_restorer(struct rpc_vat *v, rpc_restore_fn fn, void *ud)
{
    v->restore = fn;
    v->restore_ud = ud;
}

void rpc_vat_set_bootstrap(struct rpc_vat *v, struct rpc_cap *cap)
{
    rpc_cap_ref(cap);
    rpc_cap_unref(v->bootstrap);
    v->bootstrap = cap;
}

/* At most this many restored capabilities are remembered. */
#define RCACHE_MAX 1024

static struct rpc_cap *rcache_get(struct rpc_vat *v, const uint8_t h[32])
{
    struct restore_entry *hit = NULL;
    for (uint32_t i = 0; i < v->nrcache; i++)
        if (CRYPTO_memcmp(v->rcache[i].hash, h, 32) == 0) hit = &v->rcache[i];
    if (!hit) return NULL;
    hit->used = ++v->rcache_clock;
    return rpc_cap_ref(hit->cap);
}

static void rcache_put(struct rpc_vat *v, const uint8_t h[32], struct rpc_cap *cap)
{
    struct restore_entry *slot;
    if (v->nrcache < RCACHE_MAX) {
        v->rcache = xrealloc(v->rcache, sizeof *v->rcache * (v->nrcache + 1));
        slot = &v->rcache[v->nrcache++];
    } else {
        slot = &v->rcache[0];
        for (uint32_t i = 1; i < v->nrcache; i++)
            if (v->rcache[i].used < slot->used) slot = &v->rcache[i];
        rpc_cap_unref(slot->cap);
    }
    memcpy(slot->hash, h, 32);
    slot->cap = rpc_cap_ref(cap);
    slot->used = ++v->rcache_clock;
}

static void rcache_forget(struct rpc_vat *v, const uint8_t h[32])
{
    for (uint32_t i = 0; i < v->nrcache; i++)
        if (CRYPTO_memcmp(v->rcache[i].hash, h, 32) == 0) {
            rpc_cap_unref(v->rcache[i].cap);
            v->rcache[i] = v->rcache[--v->nrcache];
            return;
        }
}

struct rpc_cap *vat_lookup_service(struct rpc_vat *v, const uint8_t *id, size_t len, bool *found)
{
    /* Hash first, then compare every entry in constant time: the time
     * taken says nothing about how close a guess was. */
    uint8_t h[32];
    SHA256(id, len, h);
    struct rpc_cap *hit = NULL;
    for (uint32_t i = 0; i < v->nsvcs; i++)
        if (CRYPTO_memcmp(v->svcs[i].hash, h, 32) == 0) hit = v->svcs[i].cap;
    *found = hit != NULL;
    if (hit) return rpc_cap_ref(hit);
    /* A restored service is the same object the next time: the store is
     * read once, and a peer that restores it again and again gets one
     * export, not one per Bootstrap. */
    if ((hit = rcache_get(v, h))) {
        *found = true;
        return hit;
    }
    if (v->restore) {
        struct rpc_cap *c = v->restore(v->restore_ud, id, len);
        *found = c != NULL;
        if (c) rcache_put(v, h, c);
        return c;
    }
    return NULL;
}

/* ------------------------------------------------------------ client */

struct rpc_cap *rpc_vat_restore(struct rpc_vat *v, const struct sturdy_ref *ref)
{
    struct rpc_conn *c = conn_connect(v, ref);
    if (conn_dead(c)) return rpc_cap_broken(c->error ? c->error : "disconnected");
    struct rpc_promise *p = xcalloc(1, sizeof *p);
    p->refs = 1;
    p->conn = c;
    conn_ref(c);
    proto_bootstrap(c, p, ref->id, ref->id_len);
    struct rpc_cap *cap = rpc_promise_cap(p, NULL, 0);
    rpc_promise_unref(p);
    return cap;
}

struct rpc_cap *rpc_vat_restore_uri(struct rpc_vat *v, const char *uri, struct err *e)
{
    struct sturdy_ref r;
    if (sturdy_parse(uri, &r, e) < 0) return NULL;
    return rpc_vat_restore(v, &r);
}

void rpc_vat_stats(struct rpc_vat *v, struct rpc_stats *s)
{
    memset(s, 0, sizeof *s);
    s->accepted = v->naccepted;
    s->authenticated = v->nauthed;
    s->refused_full = v->refused_full;
    s->refused_per_source = v->refused_per_source;
    for (struct rpc_conn *c = v->conns; c; c = c->next) {
        if (c->state == CONN_GONE) {
            s->closing++;
            continue;
        }
        s->conns++;
        s->paused += c->reading == READ_PAUSED;
        s->held += c->held + c->held_kept;
        s->questions += c->questions.len;
        s->answers += c->answers.len;
        s->imports += c->imports.len;
        s->exports += c->exports.len;
    }
}
