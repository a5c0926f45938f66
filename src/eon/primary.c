#include "eon/primary.h"
#include "eon/gen/eon.capnp.h"
#include "util/log.h"
#include <stdlib.h>
#include <string.h>

struct eon_primary {
    struct rpc_object obj; /* first */
    struct eon_ctx *ctx;
    struct eon_repl *repl;
    char name[DNS_NAME_TEXT_MAX];
};

static void do_register(struct eon_primary *p, struct rpc_call *call)
{
    eon_Primary_registerSeconday_Params_R params =
        eon_Primary_registerSeconday_Params_from_ptr(rpc_call_params(call));
    uint32_t idx;
    if (!eon_Primary_registerSeconday_Params_get_secondary(params, &idx)) {
        rpc_call_fail(call, "registerSeconday: no secondary capability given");
        return;
    }
    if (!p->repl) {
        rpc_call_fail(call, "registerSeconday: this capd has no state dir for %s", p->name);
        return;
    }
    log_info("Primary(%s).registerSeconday", p->name);
    eon_repl_register(p->repl, p->name, rpc_call_param_cap(call, idx), call);
}

static void primary_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct eon_primary *p = (struct eon_primary *)self;
    if (rpc_call_interface(call) != eon_Primary_ID) {
        rpc_call_unimplemented(call);
        return;
    }
    switch (rpc_call_method(call)) {
    case eon_Primary_getName_ORDINAL: {
        eon_Primary_getName_Results_B r =
            eon_Primary_getName_Results_init_ptr(rpc_call_results(call));
        eon_Primary_getName_Results_set_name(r, p->name, (uint32_t)strlen(p->name));
        log_info("Primary(%s).getName", p->name);
        rpc_call_return(call);
        return;
    }
    case eon_Primary_registerSeconday_ORDINAL:
        do_register(p, call);
        return;
    case eon_Primary_updateSecondaries_ORDINAL:
        eon_repl_forward(p->repl, p->name, call);
        return;
    default:
        rpc_call_unimplemented(call);
    }
}

static void primary_destroy(struct rpc_object *self)
{
    free(self);
}

static const struct rpc_object_vtbl primary_vt = {primary_dispatch, primary_destroy};

struct rpc_cap *eon_primary_new(struct eon_ctx *c, struct eon_repl *repl, const char *name,
                                const uint8_t *id, size_t id_len, struct err *e)
{
    struct eon_primary *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(e, "out of memory");
        return NULL;
    }
    rpc_object_init(&p->obj, &primary_vt);
    p->ctx = c;
    p->repl = repl;
    snprintf(p->name, sizeof p->name, "%s", name);
    char *uri = rpc_vat_sturdy_uri(c->vat, id, id_len);
    if (!uri || rpc_object_set_sturdy_uri(&p->obj, uri) < 0) {
        free(uri);
        rpc_cap_unref(&p->obj.cap);
        err_set(e, "out of memory");
        return NULL;
    }
    free(uri);
    return &p->obj.cap;
}
