#include "eon/certcb.h"
#include "eon/gen/eon.capnp.h"
#include "util/atomicfile.h"
#include "util/log.h"
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

struct certcb {
    struct rpc_object obj; /* first */
    struct eon_certcb_state *st;
};

static int write_in(const char *dir, const char *name, const void *p, size_t n, mode_t mode,
                    struct err *e)
{
    char path[4096];
    int l = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (l < 0 || (size_t)l >= sizeof path) return err_set(e, "%s/%s: path too long", dir, name);
    return atomic_write_file(path, p, n, mode, e);
}

static const char begin_cert[] = "-----BEGIN CERTIFICATE-----";

/* Writes the four PEM files. The chain is split at the second
 * certificate: cert.pem is the leaf, chain.pem the intermediates. */
static int save(const char *dir, capnp_data cert, capnp_text key, bool renewed, struct err *e)
{
    if (cert.len == 0 || !memmem(cert.ptr, cert.len, begin_cert, sizeof begin_cert - 1))
        return err_set(e, "the certificate from capd is not a PEM certificate chain");
    const uint8_t *first = memmem(cert.ptr, cert.len, begin_cert, sizeof begin_cert - 1);
    size_t off = (size_t)(first - cert.ptr) + sizeof begin_cert - 1;
    const uint8_t *second =
        memmem(cert.ptr + off, cert.len - off, begin_cert, sizeof begin_cert - 1);
    size_t leaf_end = second ? (size_t)(second - cert.ptr) : cert.len;
    if (mkdir_p(dir, 0750, e) < 0 || write_in(dir, "key.pem", key.str, key.len, 0640, e) < 0 ||
        write_in(dir, "fullchain.pem", cert.ptr, cert.len, 0640, e) < 0 ||
        write_in(dir, "cert.pem", first, leaf_end - (size_t)(first - cert.ptr), 0640, e) < 0 ||
        write_in(dir, "chain.pem", second ? second : (const uint8_t *)"",
                 second ? cert.len - leaf_end : 0, 0640, e) < 0)
        return -1;
    if (renewed && write_in(dir, "renewed", "", 0, 0640, e) < 0) return -1;
    return 0;
}

/* Records cert as the last one; true if it was the last one already. */
static bool same_as_last(struct eon_certcb_state *st, capnp_data cert)
{
    unsigned char h[32];
    SHA256(cert.ptr, cert.len, h);
    bool same = st->have_last && !memcmp(h, st->last, sizeof h);
    memcpy(st->last, h, sizeof h);
    st->have_last = true;
    return same;
}

static void certcb_dispatch(struct rpc_object *self, struct rpc_call *call)
{
    struct certcb *c = (struct certcb *)self;
    struct eon_certcb_state *st = c->st;
    if (rpc_call_interface(call) != eon_CertCallback_ID ||
        rpc_call_method(call) != eon_CertCallback_register_ORDINAL) {
        rpc_call_unimplemented(call);
        return;
    }
    eon_CertCallback_register_Params_R p =
        eon_CertCallback_register_Params_from_ptr(rpc_call_params(call));
    bool renewed = eon_CertCallback_register_Params_get_renewed(p);
    capnp_data cert = eon_CertCallback_register_Params_get_cert(p);
    bool had = st->have_last;
    struct err e;
    if (!eon_CertCallback_register_Params_get_success(p)) {
        capnp_text t = eon_CertCallback_register_Params_get_error(p);
        snprintf(st->error, sizeof st->error, "%.*s", (int)(t.len > 480 ? 480 : t.len),
                 t.len ? t.str : "certificate request failed (no reason given)");
        st->failed = true;
    } else if (same_as_last(st, cert) && !renewed) {
        /* capc called again (capd restarted) and got what it has. */
    } else if ((renewed = renewed || had),
               save(st->cert_dir, cert, eon_CertCallback_register_Params_get_key(p), renewed, &e) <
                   0) {
        snprintf(st->error, sizeof st->error, "%s", e.msg);
        st->failed = true;
    } else {
        if (renewed)
            st->renewed++;
        else
            st->updated++;
        fprintf(st->out, "%s certificate for %s\n", renewed ? "Renewed" : "Updated", st->domain);
        fflush(st->out);
    }
    eon_CertCallback_register_Results_init_ptr(rpc_call_results(call));
    rpc_call_return(call);
}

static void certcb_destroy(struct rpc_object *self)
{
    free(self);
}

static const struct rpc_object_vtbl certcb_vt = {certcb_dispatch, certcb_destroy};

struct rpc_cap *eon_certcb_new(struct eon_certcb_state *st)
{
    struct certcb *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    rpc_object_init(&c->obj, &certcb_vt);
    c->st = st;
    return &c->obj.cap;
}
