/*
 * libFuzzer target for Domain.update's params as they arrive from the
 * network: the input is a framed Cap'n Proto message read as
 * Domain.update Params and decoded into the dns layer's prerequisites and
 * updates (eon/convert.h), whose names must then be valid wire names and
 * whose values must lie inside the decoder's own copy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "capnp/capnp.h"
#include "dns/name.h"
#include "eon/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct capnp_msg m;
    struct err e;
    if (capnp_msg_init_bytes(&m, data, size, &e) < 0) return 0;
    struct eon_update_req req = {0};
    if (eon_update_decode(eon_Domain_update_Params_read_root(&m), &req, &e) == 0) {
        for (size_t i = 0; i < req.np; i++)
            if (!dns_name_check(req.p[i].owner, DNS_NAME_MAX) ||
                (req.p[i].rdlen && !req.p[i].rdata))
                abort();
        for (size_t i = 0; i < req.nu; i++)
            if (!dns_name_check(req.u[i].owner, DNS_NAME_MAX) ||
                (req.u[i].rdlen && !req.u[i].rdata))
                abort();
    }
    eon_update_req_free(&req);
    capnp_msg_free(&m);
    return 0;
}
