/*
 * acme/keygen: key generation on libuv's thread pool. An RSA-4096 key (eon's
 * certificate keys) takes from a fraction of a second to seconds of CPU:
 * done on the loop's thread it would stall DNS over TCP and RPC meanwhile.
 */
#include "acme/acme.h"
#include "util/xalloc.h"

struct keygen {
    uv_work_t work;
    enum acme_key_type type;
    EVP_PKEY *key;
    struct err err;
    acme_keygen_cb cb;
    void *arg;
};

static void generate(uv_work_t *work)
{
    struct keygen *k = work->data;
    k->key = acme_key_generate(k->type, &k->err);
}

static void generated(uv_work_t *work, int status)
{
    struct keygen *k = work->data;
    if (status == UV_ECANCELED) err_set(&k->err, "key generation cancelled");
    k->cb(k->arg, k->key, k->key ? NULL : k->err.msg);
    free(k);
}

int acme_key_generate_async(uv_loop_t *loop, enum acme_key_type type, acme_keygen_cb cb, void *arg,
                            struct err *e)
{
    struct keygen *k = xcalloc(1, sizeof *k);
    k->type = type;
    k->cb = cb;
    k->arg = arg;
    k->work.data = k;
    int rc = uv_queue_work(loop, &k->work, generate, generated);
    if (rc != 0) {
        free(k);
        return err_set(e, "starting key generation: %s", uv_strerror(rc));
    }
    return 0;
}
