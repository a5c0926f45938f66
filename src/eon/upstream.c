/* The link to the primary (eon/upstream.h). */
#include "eon/upstream.h"
#include "eon/domain.h"
#include "eon/gen/eon.capnp.h"
#include "rpc/sturdy.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum step { STEP_NAME, STEP_REGISTER, STEP_HEARTBEAT };

/* What an answer belongs to: a link attempt that a failure or a stop has
 * since replaced is recognised by its generation and ignored. */
struct pending {
    struct eon_secondary *s;
    unsigned gen;
    enum step step;
};

const char *sec_link_state_name(enum sec_link l)
{
    switch (l) {
    case SEC_LINK_CONNECTING:
        return "connecting";
    case SEC_LINK_REGISTERED:
        return "registered";
    case SEC_LINK_RETRYING:
        return "retrying";
    default:
        return "idle";
    }
}

static void attempt(struct eon_secondary *s);

static void fail(struct eon_secondary *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* How long an answer may take: a stopped primary (or a connection that
 * died without a word) answers nothing, and the rpc layer has no
 * deadline of its own for calls. */
static unsigned deadline_ms(const struct eon_secondary *s)
{
    unsigned ms = s->set->retry_wait_s * 1000u;
    return ms < 10000 ? 10000 : ms;
}

static void on_timer(uv_timer_t *t)
{
    struct eon_secondary *s = t->data;
    if (s->set->stopping) return;
    if (s->waiting)
        fail(s, "no answer to %s within %u s", s->waiting, deadline_ms(s) / 1000);
    else if (s->link == SEC_LINK_REGISTERED)
        sec_link_heartbeat(s);
    else
        attempt(s);
}

static unsigned heartbeat_ms(const struct eon_secondary *s)
{
    unsigned ms = s->set->retry_wait_s * 1000u / 4;
    return ms > 15000 ? 15000 : ms ? ms : 1;
}

/* Where the file points, for messages: "HOST:PORT". */
static void where(const struct eon_secondary *s, char *out, size_t cap)
{
    struct sturdy_ref ref;
    struct err e;
    if (sturdy_parse(s->uri, &ref, &e) == 0)
        sturdy_describe(&ref, out, cap);
    else
        snprintf(out, cap, "?");
}

static void fail(struct eon_secondary *s, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->gen++;
    s->failures++;
    s->waiting = NULL;
    if (s->primary) {
        rpc_cap_unref(s->primary);
        s->primary = NULL;
    }
    if (s->set->stopping) return;
    log_error("primary %s: %s, retrying in %u s", s->file, msg, s->set->retry_wait_s);
    s->link = SEC_LINK_RETRYING;
    uv_timer_start(&s->timer, on_timer, (uint64_t)s->set->retry_wait_s * 1000, 0);
}

static void on_answer(void *ud, struct rpc_response *r);

static void send_call(struct eon_secondary *s, enum step step)
{
    struct rpc_req *req;
    if (step == STEP_REGISTER) {
        req = rpc_req_new(s->primary, eon_Primary_ID, eon_Primary_registerSeconday_ORDINAL);
        eon_Primary_registerSeconday_Params_B p =
            eon_Primary_registerSeconday_Params_init_ptr(rpc_req_params(req));
        eon_Primary_registerSeconday_Params_set_secondary(p,
                                                          rpc_req_add_cap(req, sec_service_cap(s)));
    } else {
        req = rpc_req_new(s->primary, eon_Primary_ID, eon_Primary_getName_ORDINAL);
        eon_Primary_getName_Params_init_ptr(rpc_req_params(req));
    }
    struct pending *p = xmalloc(sizeof *p);
    *p = (struct pending){s, s->gen, step};
    s->waiting = step == STEP_REGISTER ? "registerSeconday" : "getName";
    uv_timer_start(&s->timer, on_timer, deadline_ms(s), 0);
    struct rpc_promise *pr = rpc_req_send(req, on_answer, p);
    if (pr) rpc_promise_unref(pr);
}

static void on_answer(void *ud, struct rpc_response *r)
{
    struct pending p = *(struct pending *)ud;
    free(ud);
    struct eon_secondary *s = p.s;
    if (p.gen != s->gen || s->set->stopping) {
        rpc_response_free(r);
        return;
    }
    s->waiting = NULL;
    uv_timer_stop(&s->timer);
    char at[300];
    if (r->error) {
        where(s, at, sizeof at);
        const char *what = p.step == STEP_REGISTER ? "registerSeconday" : "getName";
        if (p.step == STEP_HEARTBEAT)
            fail(s, "connection lost (%s: %s)", what, r->error);
        else if (r->error_type == RPC_EXCEPTION_DISCONNECTED && !strstr(r->error, "running at"))
            fail(s, "%s: %s (is the primary capd running at %s?)", what, r->error, at);
        else
            fail(s, "%s at %s: %s", what, at, r->error);
        rpc_response_free(r);
        return;
    }
    if (p.step == STEP_REGISTER) {
        rpc_response_free(r);
        s->link = SEC_LINK_REGISTERED;
        log_error("secondary %s: registered with the primary of --primary %s (%.0f ms after "
                  "connecting)",
                  s->name, s->file, (double)(uv_hrtime() - s->attempt_ns) / 1e6);
        uv_timer_start(&s->timer, on_timer, heartbeat_ms(s), 0);
        return;
    }
    capnp_text t =
        eon_Primary_getName_Results_get_name(eon_Primary_getName_Results_from_ptr(r->content));
    char name[DNS_NAME_TEXT_MAX];
    bool ok = t.len < sizeof name && !memchr(t.str, 0, t.len);
    if (ok) {
        memcpy(name, t.str, t.len);
        name[t.len] = 0;
    }
    rpc_response_free(r);
    struct err e;
    if (!ok) {
        fail(s, "getName answered no usable zone name");
    } else if (p.step == STEP_HEARTBEAT) {
        if (sec_set_name(s, name, &e) < 0)
            fail(s, "%s", e.msg);
        else
            uv_timer_start(&s->timer, on_timer, heartbeat_ms(s), 0);
    } else if (sec_set_name(s, name, &e) < 0) {
        fail(s, "%s", e.msg);
    } else {
        send_call(s, STEP_REGISTER);
    }
}

void sec_link_heartbeat(struct eon_secondary *s)
{
    send_call(s, STEP_HEARTBEAT);
}

static void attempt(struct eon_secondary *s)
{
    struct err e;
    s->gen++;
    s->attempt_ns = uv_hrtime();
    s->link = SEC_LINK_CONNECTING;
    if (s->primary) rpc_cap_unref(s->primary);
    s->primary = rpc_vat_restore_uri(s->set->ctx->vat, s->uri, &e);
    if (!s->primary) {
        fail(s, "%s", e.msg);
        return;
    }
    send_call(s, STEP_NAME);
}

void sec_link_start(struct eon_secondary *s)
{
    if (!s->timer_init) {
        uv_timer_init(s->set->ctx->loop, &s->timer);
        s->timer.data = s;
        s->timer_init = true;
    }
    attempt(s);
}

void sec_link_stop(struct eon_secondary *s)
{
    s->gen++;
    s->waiting = NULL;
    s->link = SEC_LINK_IDLE;
    if (s->timer_init && !uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, NULL);
    if (s->primary) {
        rpc_cap_unref(s->primary);
        s->primary = NULL;
    }
}
