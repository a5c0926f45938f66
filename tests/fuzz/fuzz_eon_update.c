/*
 * libFuzzer target for Domain.update's params as they arrive from the
 * network: the input is a framed Cap'n Proto message read as
 * Domain.update Params and decoded into the dns layer's prerequisites and
 * updates (eon/convert.h). On success:
 *  - every owner is a valid wire name and every value (rdata, rdlen) lies
 *    inside the decoder's own copy (req.mem, whose real size ASan knows),
 *    so nothing the engine later reads through them can reach past it;
 *  - every byte of every value is read, so a length that claims more than
 *    was allocated is an ASan report even where the bound check would not
 *    see it (e.g. one past a block);
 *  - each value and its length equal the Data in the message, and each
 *    element's kind matches the message's union.
 */
#include <sanitizer/allocator_interface.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp/capnp.h"
#include "dns/name.h"
#include "eon/convert.h"

static volatile uint8_t sink;

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "fuzz_eon_update: element %zu: %s\n", i, what);
    abort();
}

/* p lies in [lo, lo + size) with n bytes after it. */
static int inside(const uint8_t *p, size_t n, const uint8_t *lo, size_t size)
{
    return p >= lo && p <= lo + size && n <= (size_t)(lo + size - p);
}

/* Checks one decoded (owner, value) against the block and the message's
 * Data (has_value: the kind carries a value). */
static void check(size_t i, const uint8_t *owner, const uint8_t *rd, uint16_t rdlen, bool has_value,
                  capnp_data want, const uint8_t *mem, size_t memsize)
{
    size_t nl = dns_name_check(owner, DNS_NAME_MAX);
    if (!nl || !inside(owner, nl, mem, memsize)) fail("owner outside the decoded copy", i);
    if (!has_value) {
        if (rdlen) fail("a value for a kind without one", i);
        return;
    }
    if (rdlen && !rd) fail("NULL value with a length", i);
    if (rdlen && !inside(rd, rdlen, mem, memsize)) fail("value outside the decoded copy", i);
    uint8_t sum = 0;
    for (uint16_t k = 0; k < rdlen; k++) /* every byte: ASan sees an overread */
        sum ^= rd[k];
    sink = sum;
    if (rdlen != want.len || (rdlen && memcmp(rd, want.ptr, rdlen) != 0))
        fail("value differs from the message's Data", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct capnp_msg m;
    struct err e;
    if (capnp_msg_init_bytes(&m, data, size, &e) < 0) return 0;
    eon_Domain_update_Params_R params = eon_Domain_update_Params_read_root(&m);
    struct eon_update_req req = {0};
    if (eon_update_decode(params, &req, &e) == 0) {
        size_t memsize = __sanitizer_get_allocated_size(req.mem);
        eon_Prereq_LR pl = eon_Domain_update_Params_get_prereqs(params);
        eon_Update_LR ul = eon_Domain_update_Params_get_updates(params);
        if (req.np != eon_Prereq_LR_len(pl) || req.nu != eon_Update_LR_len(ul))
            fail("element count differs from the lists", 0);
        static const enum dns_prereq_kind pk[] = {[eon_Prereq_exists] = DNS_PREREQ_EXISTS,
                                                  [eon_Prereq_existsData] = DNS_PREREQ_EXISTS_DATA,
                                                  [eon_Prereq_notExists] = DNS_PREREQ_NOT_EXISTS,
                                                  [eon_Prereq_nameInUse] = DNS_PREREQ_NAME_IN_USE,
                                                  [eon_Prereq_notNameInUse] =
                                                      DNS_PREREQ_NOT_NAME_IN_USE};
        for (size_t i = 0; i < req.np; i++) {
            eon_Prereq_R r = eon_Prereq_LR_at(pl, (uint32_t)i);
            unsigned w = eon_Prereq_which(r);
            if (w >= sizeof pk / sizeof *pk || req.p[i].kind != pk[w]) fail("prereq kind", i);
            bool has = w == eon_Prereq_existsData;
            capnp_data want = {0};
            if (has) want = eon_Prereq_existsData_get_value(eon_Prereq_get_existsData(r));
            check(i, req.p[i].owner, req.p[i].rdata, req.p[i].rdlen, has, want, req.mem, memsize);
        }
        static const enum dns_update_kind uk[] = {[eon_Update_add] = DNS_UPDATE_ADD,
                                                  [eon_Update_remove] = DNS_UPDATE_REMOVE_RRSET,
                                                  [eon_Update_removeAll] = DNS_UPDATE_REMOVE_ALL,
                                                  [eon_Update_removeSingle] = DNS_UPDATE_REMOVE_RR};
        for (size_t i = 0; i < req.nu; i++) {
            eon_Update_R r = eon_Update_LR_at(ul, (uint32_t)i);
            unsigned w = eon_Update_which(r);
            if (w >= sizeof uk / sizeof *uk || req.u[i].kind != uk[w]) fail("update kind", i);
            capnp_data want = {0};
            if (w == eon_Update_add)
                want = eon_Update_add_get_value(eon_Update_get_add(r));
            else if (w == eon_Update_removeSingle)
                want = eon_Update_removeSingle_get_value(eon_Update_get_removeSingle(r));
            bool has = w == eon_Update_add || w == eon_Update_removeSingle;
            check(i, req.u[i].owner, req.u[i].rdata, req.u[i].rdlen, has, want, req.mem, memsize);
        }
    }
    eon_update_req_free(&req);
    capnp_msg_free(&m);
    return 0;
}
