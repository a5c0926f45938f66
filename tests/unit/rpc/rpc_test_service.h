/*
 * A small test service shared by the rpc unit tests and the fuzz target.
 * Interface TEST_IFACE, params/results are structs of one pointer field:
 *   0 echo(text) -> (text)
 *   1 child(name) -> (cap)      a new persistent child object named name
 *   2 getName() -> (text)
 *   3 callback(cap) -> ()       calls cap.notify(name) and answers when
 *                                the callback has answered
 *   4 later(text) -> (text)     answers from a timer (asynchronously)
 *   5 next() -> (u64 in data)   a counter, for ordering checks
 *   6 identity(cap) -> (cap)    returns the capability it was given
 *   7 nameOf(t) -> (text)       t.getName(), answered when that returns
 *   8 childLater(name) -> (cap) like 1, answered from a timer
 *   9 badResults() -> (cap)     results with a capability whose message
 *                                cannot be built (a list too long): the
 *                                vat aborts the connection while returning
 *  10 bigChild(name) -> (cap)   like 1, in a struct with a 520 KB data
 *                                section: each pipelined call on it reads
 *                                65001 words of the kept answer
 * Callback interface CB_IFACE: 0 notify(text) -> ().
 */
#ifndef RPC_TEST_SERVICE_H
#define RPC_TEST_SERVICE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"

#define TEST_IFACE 0xabcdef0123456789ULL
#define CB_IFACE 0x9122334455667788ULL

struct test_obj {
    struct rpc_object o;
    char name[64];
    uint64_t counter;
    int *destroyed;
};

static const char *p0_text(capnp_ptr_r p, uint32_t *len)
{
    capnp_text t = capnp_ptr_r_text(capnp_struct_r_ptr(capnp_ptr_r_struct(p), 0));
    *len = t.len;
    return t.str;
}

static void set_text_result(struct rpc_call *call, const char *s, uint32_t n)
{
    capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 0, 1);
    capnp_ptr_b_set_text(capnp_struct_b_ptr(r, 0), s, n);
}

static struct test_obj *test_obj_new(const char *name, int *destroyed);

struct later_ctx {
    uv_timer_t t;
    struct rpc_call *call;
    char text[256];
    struct test_obj *child; /* childLater */
};

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_fire(uv_timer_t *t)
{
    struct later_ctx *l = t->data;
    if (l->child) {
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(l->call), 0, 1);
        capnp_ptr_b_set_cap(capnp_struct_b_ptr(r, 0), rpc_call_add_cap(l->call, &l->child->o.cap));
        rpc_cap_unref(&l->child->o.cap);
    } else {
        set_text_result(l->call, l->text, (uint32_t)strlen(l->text));
    }
    rpc_call_return(l->call);
    uv_close((uv_handle_t *)&l->t, later_closed);
}

static void cb_done(void *ud, struct rpc_response *r)
{
    struct rpc_call *call = ud;
    if (r->error)
        rpc_call_fail(call, "callback failed: %s", r->error);
    else {
        capnp_ptr_b_init_struct(rpc_call_results(call), 0, 0);
        rpc_call_return(call);
    }
    rpc_response_free(r);
}

static void name_done(void *ud, struct rpc_response *r)
{
    struct rpc_call *call = ud;
    if (r->error) {
        rpc_call_fail(call, "getName failed: %s", r->error);
    } else {
        uint32_t n;
        const char *s = p0_text(r->content, &n);
        set_text_result(call, s, n);
        rpc_call_return(call);
    }
    rpc_response_free(r);
}

static void test_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct test_obj *o = (struct test_obj *)self;
    if (rpc_call_interface(call) != TEST_IFACE) {
        rpc_call_unimplemented(call);
        return;
    }
    uint32_t n;
    const char *s;
    switch (rpc_call_method(call)) {
    case 0:
        s = p0_text(rpc_call_params(call), &n);
        set_text_result(call, s, n);
        rpc_call_return(call);
        return;
    case 1: {
        s = p0_text(rpc_call_params(call), &n);
        char name[128];
        snprintf(name, sizeof name, "%.*s.%.40s", (int)(n > 20 ? 20 : n), s, o->name);
        struct test_obj *child = test_obj_new(name, o->destroyed);
        char uri[256];
        snprintf(uri, sizeof uri, "capnp://insecure@127.0.0.1:1/%s", name);
        rpc_object_set_sturdy_uri(&child->o, uri);
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 0, 1);
        capnp_ptr_b_set_cap(capnp_struct_b_ptr(r, 0), rpc_call_add_cap(call, &child->o.cap));
        rpc_cap_unref(&child->o.cap);
        rpc_call_return(call);
        return;
    }
    case 2:
        set_text_result(call, o->name, (uint32_t)strlen(o->name));
        rpc_call_return(call);
        return;
    case 3: {
        uint32_t idx;
        capnp_ptr_r p = capnp_struct_r_ptr(capnp_ptr_r_struct(rpc_call_params(call)), 0);
        if (!capnp_ptr_r_cap(p, &idx)) {
            rpc_call_fail(call, "no callback given");
            return;
        }
        struct rpc_cap *cb = rpc_call_param_cap(call, idx);
        struct rpc_req *req = rpc_req_new(cb, CB_IFACE, 0);
        capnp_struct_b prm = capnp_ptr_b_init_struct(rpc_req_params(req), 0, 1);
        capnp_ptr_b_set_text(capnp_struct_b_ptr(prm, 0), o->name, (uint32_t)strlen(o->name));
        rpc_promise_unref(rpc_req_send(req, cb_done, call));
        rpc_cap_unref(cb);
        return;
    }
    case 4: {
        struct later_ctx *l = calloc(1, sizeof *l);
        s = p0_text(rpc_call_params(call), &n);
        snprintf(l->text, sizeof l->text, "%.*s", (int)n, s);
        l->call = call;
        uv_loop_t *loop = uv_default_loop();
        uv_timer_init(loop, &l->t);
        l->t.data = l;
        uv_timer_start(&l->t, later_fire, 20, 0);
        return;
    }
    case 5: {
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 1, 0);
        capnp_struct_b_set_u64(r, 0, o->counter++);
        rpc_call_return(call);
        return;
    }
    case 8: {
        struct later_ctx *l = calloc(1, sizeof *l);
        s = p0_text(rpc_call_params(call), &n);
        char name[128];
        snprintf(name, sizeof name, "%.*s.%.40s", (int)(n > 20 ? 20 : n), s, o->name);
        l->child = test_obj_new(name, o->destroyed);
        l->call = call;
        uv_timer_init(uv_default_loop(), &l->t);
        l->t.data = l;
        uv_timer_start(&l->t, later_fire, 20, 0);
        return;
    }
    case 7: {
        uint32_t idx;
        capnp_ptr_r p = capnp_struct_r_ptr(capnp_ptr_r_struct(rpc_call_params(call)), 0);
        if (!capnp_ptr_r_cap(p, &idx)) {
            rpc_call_fail(call, "no capability given");
            return;
        }
        struct rpc_cap *t = rpc_call_param_cap(call, idx);
        struct rpc_req *req = rpc_req_new(t, TEST_IFACE, 2);
        capnp_ptr_b_init_struct(rpc_req_params(req), 0, 0);
        rpc_promise_unref(rpc_req_send(req, name_done, call));
        rpc_cap_unref(t);
        return;
    }
    case 6: {
        uint32_t idx;
        capnp_ptr_r p = capnp_struct_r_ptr(capnp_ptr_r_struct(rpc_call_params(call)), 0);
        if (!capnp_ptr_r_cap(p, &idx)) {
            rpc_call_fail(call, "no capability given");
            return;
        }
        struct rpc_cap *c = rpc_call_param_cap(call, idx);
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 0, 1);
        capnp_ptr_b_set_cap(capnp_struct_b_ptr(r, 0), rpc_call_add_cap(call, c));
        rpc_cap_unref(c);
        rpc_call_return(call);
        return;
    }
    case 9: {
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 0, 2);
        capnp_ptr_b_set_cap(capnp_struct_b_ptr(r, 0), rpc_call_add_cap(call, &o->o.cap));
        capnp_ptr_b_init_list(capnp_struct_b_ptr(r, 1), CAPNP_ES_BYTE, 1u << 29);
        rpc_call_return(call);
        return;
    }
    case 10: {
        s = p0_text(rpc_call_params(call), &n);
        char name[128];
        snprintf(name, sizeof name, "%.*s.%.40s", (int)(n > 20 ? 20 : n), s, o->name);
        struct test_obj *child = test_obj_new(name, o->destroyed);
        capnp_struct_b r = capnp_ptr_b_init_struct(rpc_call_results(call), 65000, 1);
        capnp_ptr_b_set_cap(capnp_struct_b_ptr(r, 0), rpc_call_add_cap(call, &child->o.cap));
        rpc_cap_unref(&child->o.cap);
        rpc_call_return(call);
        return;
    }
    default:
        rpc_call_unimplemented(call);
    }
}

static void test_destroy(struct rpc_object *self)
{
    struct test_obj *o = (struct test_obj *)self;
    if (o->destroyed) (*o->destroyed)++;
    free(o);
}

static const struct rpc_object_vtbl test_vt = {test_dispatch, test_destroy};

static struct test_obj *test_obj_new(const char *name, int *destroyed)
{
    struct test_obj *o = calloc(1, sizeof *o);
    rpc_object_init(&o->o, &test_vt);
    snprintf(o->name, sizeof o->name, "%.63s", name);
    o->destroyed = destroyed;
    return o;
}
#endif
