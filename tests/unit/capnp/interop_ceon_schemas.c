/*
 * Interop cases of ceon's own schemas for interop.c: eon.capnp's Prereq,
 * Update and CertReq, store.capnp's saved services, rpc.capnp's messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eon/gen/eon.capnp.h"
#include "eon/gen/store.capnp.h"
#include "interop.h"
#include "rpc/gen/rpc.capnp.h"

/* ----------------------------------------------------------------- eon */
static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v4[4] = {127, 0, 0, 1};
static const uint8_t v4b[4] = {192, 0, 2, 1};

void build_prereq(struct capnp_builder *b, int which)
{
    eon_Prereq_B p = eon_Prereq_new_root(b);
    static const char *names[] = {"a.example.org", "b.example.org", "c.example.org",
                                  "d.example.org", "e.example.org"};
    eon_Prereq_set_name(p, names[which], 13);
    switch (which) {
    case 0:
        eon_Prereq_exists_set_type(eon_Prereq_init_exists(p), 1);
        break;
    case 1: {
        eon_Prereq_existsData_B d = eon_Prereq_init_existsData(p);
        eon_Prereq_existsData_set_type(d, 28);
        eon_Prereq_existsData_set_value(d, v6, 16);
        break;
    }
    case 2:
        eon_Prereq_notExists_set_type(eon_Prereq_init_notExists(p), 15);
        break;
    case 3:
        eon_Prereq_set_nameInUse(p);
        break;
    case 4:
        eon_Prereq_set_notNameInUse(p);
        break;
    }
}

void check_prereq(struct capnp_msg *m, int which)
{
    eon_Prereq_R p = eon_Prereq_read_root(m);
    static const char *names[] = {"a.example.org", "b.example.org", "c.example.org",
                                  "d.example.org", "e.example.org"};
    CHECK(text_is(eon_Prereq_get_name(p), names[which]));
    static const enum eon_Prereq_which w[] = {eon_Prereq_exists, eon_Prereq_existsData,
                                              eon_Prereq_notExists, eon_Prereq_nameInUse,
                                              eon_Prereq_notNameInUse};
    CHECK(eon_Prereq_which(p) == w[which]);
    if (which == 0) CHECK(eon_Prereq_exists_get_type(eon_Prereq_get_exists(p)) == 1);
    if (which == 1) {
        CHECK(eon_Prereq_existsData_get_type(eon_Prereq_get_existsData(p)) == 28);
        CHECK(data_is(eon_Prereq_existsData_get_value(eon_Prereq_get_existsData(p)), v6, 16));
    }
    if (which == 2) CHECK(eon_Prereq_notExists_get_type(eon_Prereq_get_notExists(p)) == 15);
}

void build_update(struct capnp_builder *b, int which)
{
    eon_Update_B u = eon_Update_new_root(b);
    switch (which) {
    case 0: {
        eon_Update_set_name(u, T("www.example.org"));
        eon_Update_add_B a = eon_Update_init_add(u);
        eon_Update_add_set_type(a, 1);
        eon_Update_add_set_value(a, v4, 4);
        eon_Update_add_set_ttl(a, 3600);
        break;
    }
    case 1:
        eon_Update_set_name(u, T("old.example.org"));
        eon_Update_remove_set_type(eon_Update_init_remove(u), 16);
        break;
    case 2:
        eon_Update_set_name(u, T("gone.example.org"));
        eon_Update_set_removeAll(u);
        break;
    case 3: {
        eon_Update_set_name(u, T("x.example.org"));
        eon_Update_removeSingle_B r = eon_Update_init_removeSingle(u);
        eon_Update_removeSingle_set_type(r, 1);
        eon_Update_removeSingle_set_value(r, v4b, 4);
        break;
    }
    }
}

void check_update(struct capnp_msg *m, int which)
{
    eon_Update_R u = eon_Update_read_root(m);
    switch (which) {
    case 0:
        CHECK(text_is(eon_Update_get_name(u), "www.example.org"));
        CHECK(eon_Update_which(u) == eon_Update_add);
        CHECK(eon_Update_add_get_type(eon_Update_get_add(u)) == 1);
        CHECK(data_is(eon_Update_add_get_value(eon_Update_get_add(u)), v4, 4));
        CHECK(eon_Update_add_get_ttl(eon_Update_get_add(u)) == 3600);
        break;
    case 1:
        CHECK(eon_Update_which(u) == eon_Update_remove);
        CHECK(eon_Update_remove_get_type(eon_Update_get_remove(u)) == 16);
        break;
    case 2:
        CHECK(text_is(eon_Update_get_name(u), "gone.example.org"));
        CHECK(eon_Update_which(u) == eon_Update_removeAll);
        break;
    case 3:
        CHECK(eon_Update_which(u) == eon_Update_removeSingle);
        CHECK(data_is(eon_Update_removeSingle_get_value(eon_Update_get_removeSingle(u)), v4b, 4));
        break;
    }
}

/* --------------------------------------------------------------- store */
void build_store(struct capnp_builder *b, int which)
{
    if (which == 0) {
        store_SavedDomain_B d = store_SavedDomain_new_root(b);
        store_SavedDomain_set_name(d, T("example.org"));
        store_SavedDomain_set_primary(d, T("ns1.example.org"));
    } else if (which == 1) {
        store_SavedSecondary_set_name(store_SavedSecondary_new_root(b), T("example.org"));
    } else if (which == 2) {
        store_SavedDomain_B d = store_SavedService_init_domain(store_SavedService_new_root(b));
        store_SavedDomain_set_name(d, T("example.org"));
        store_SavedDomain_set_primary(d, T("p"));
    } else {
        store_SavedSecondary_set_name(
            store_SavedService_init_secondary(store_SavedService_new_root(b)),
            T("sec.example.org"));
    }
}

void check_store(struct capnp_msg *m, int which)
{
    if (which == 0) {
        store_SavedDomain_R d = store_SavedDomain_read_root(m);
        CHECK(text_is(store_SavedDomain_get_name(d), "example.org"));
        CHECK(text_is(store_SavedDomain_get_primary(d), "ns1.example.org"));
    } else if (which == 1) {
        CHECK(text_is(store_SavedSecondary_get_name(store_SavedSecondary_read_root(m)),
                      "example.org"));
    } else if (which == 2) {
        store_SavedService_R s = store_SavedService_read_root(m);
        CHECK(store_SavedService_which(s) == store_SavedService_domain);
        CHECK(text_is(store_SavedDomain_get_primary(store_SavedService_get_domain(s)), "p"));
    } else {
        store_SavedService_R s = store_SavedService_read_root(m);
        CHECK(store_SavedService_which(s) == store_SavedService_secondary);
        CHECK(text_is(store_SavedSecondary_get_name(store_SavedService_get_secondary(s)),
                      "sec.example.org"));
    }
}

static void build_certreq_none(struct capnp_builder *b)
{
    eon_CertReq_set_none(eon_CertReq_new_root(b));
}
static void check_certreq_none(struct capnp_msg *m)
{
    CHECK(eon_CertReq_which(eon_CertReq_read_root(m)) == eon_CertReq_none);
}

/* ----------------------------------------------------------------- rpc */
void build_rpc(struct capnp_builder *b, int which)
{
    rpc_Message_B msg = rpc_Message_new_root(b);
    if (which == 0) {
        rpc_Call_B c = rpc_Message_init_call(msg);
        rpc_Call_set_questionId(c, 1);
        rpc_MessageTarget_set_importedCap(rpc_Call_init_target(c), 5);
        rpc_Call_set_interfaceId(c, eon_Domain_ID);
        rpc_Call_set_methodId(c, eon_Domain_update_ORDINAL);
        rpc_CapDescriptor_LB t = rpc_Payload_init_capTable(rpc_Call_init_params(c), 4);
        rpc_CapDescriptor_set_senderHosted(rpc_CapDescriptor_LB_at(t, 0), 3);
        rpc_CapDescriptor_set_receiverHosted(rpc_CapDescriptor_LB_at(t, 1), 7);
        rpc_PromisedAnswer_B pa =
            rpc_CapDescriptor_init_receiverAnswer(rpc_CapDescriptor_LB_at(t, 2));
        rpc_PromisedAnswer_set_questionId(pa, 4);
        rpc_PromisedAnswer_Op_LB ops = rpc_PromisedAnswer_init_transform(pa, 2);
        rpc_PromisedAnswer_Op_set_noop(rpc_PromisedAnswer_Op_LB_at(ops, 0));
        rpc_PromisedAnswer_Op_set_getPointerField(rpc_PromisedAnswer_Op_LB_at(ops, 1), 1);
        rpc_CapDescriptor_set_senderPromise(rpc_CapDescriptor_LB_at(t, 3), 9);
        rpc_Call_sendResultsTo_set_caller(rpc_Call_init_sendResultsTo(c));
        rpc_Call_set_allowThirdPartyTailCall(c, true);
    } else if (which == 1) {
        rpc_Return_B r = rpc_Message_init_return(msg);
        rpc_Return_set_answerId(r, 1);
        rpc_Return_set_releaseParamCaps(r, false);
        rpc_Exception_B e = rpc_Return_init_exception(r);
        rpc_Exception_set_reason(e, T("boom"));
        rpc_Exception_set_type(e, rpc_Exception_Type_overloaded);
    } else {
        rpc_Bootstrap_B bs = rpc_Message_init_bootstrap(msg);
        rpc_Bootstrap_set_questionId(bs, 9);
        if (which == 3)
            capnp_ptr_b_set_text(rpc_Bootstrap_ptr_deprecatedObjectId(bs), T("legacy-object"));
    }
}

void check_rpc(struct capnp_msg *m, int which)
{
    rpc_Message_R msg = rpc_Message_read_root(m);
    if (which == 0) {
        CHECK(rpc_Message_which(msg) == rpc_Message_call);
        rpc_Call_R c = rpc_Message_get_call(msg);
        CHECK(rpc_Call_get_questionId(c) == 1);
        CHECK(rpc_MessageTarget_which(rpc_Call_get_target(c)) == rpc_MessageTarget_importedCap);
        CHECK(rpc_MessageTarget_get_importedCap(rpc_Call_get_target(c)) == 5);
        CHECK(rpc_Call_get_interfaceId(c) == eon_Domain_ID);
        CHECK(rpc_Call_get_methodId(c) == 2);
        rpc_CapDescriptor_LR t = rpc_Payload_get_capTable(rpc_Call_get_params(c));
        CHECK(rpc_CapDescriptor_LR_len(t) == 4);
        rpc_CapDescriptor_R d0 = rpc_CapDescriptor_LR_at(t, 0);
        CHECK(rpc_CapDescriptor_which(d0) == rpc_CapDescriptor_senderHosted);
        CHECK(rpc_CapDescriptor_get_senderHosted(d0) == 3);
        CHECK(rpc_CapDescriptor_get_attachedFd(d0) == 255);
        CHECK(rpc_CapDescriptor_get_receiverHosted(rpc_CapDescriptor_LR_at(t, 1)) == 7);
        rpc_PromisedAnswer_R pa =
            rpc_CapDescriptor_get_receiverAnswer(rpc_CapDescriptor_LR_at(t, 2));
        CHECK(rpc_PromisedAnswer_get_questionId(pa) == 4);
        rpc_PromisedAnswer_Op_LR ops = rpc_PromisedAnswer_get_transform(pa);
        CHECK(rpc_PromisedAnswer_Op_LR_len(ops) == 2);
        CHECK(rpc_PromisedAnswer_Op_which(rpc_PromisedAnswer_Op_LR_at(ops, 0)) ==
              rpc_PromisedAnswer_Op_noop);
        CHECK(rpc_PromisedAnswer_Op_get_getPointerField(rpc_PromisedAnswer_Op_LR_at(ops, 1)) == 1);
        CHECK(rpc_CapDescriptor_which(rpc_CapDescriptor_LR_at(t, 3)) ==
              rpc_CapDescriptor_senderPromise);
        CHECK(rpc_Call_sendResultsTo_which(rpc_Call_get_sendResultsTo(c)) ==
              rpc_Call_sendResultsTo_caller);
        CHECK(rpc_Call_get_allowThirdPartyTailCall(c));
    } else if (which == 1) {
        CHECK(rpc_Message_which(msg) == rpc_Message_return);
        rpc_Return_R r = rpc_Message_get_return(msg);
        CHECK(rpc_Return_get_answerId(r) == 1);
        CHECK(rpc_Return_get_releaseParamCaps(r) == false);
        CHECK(rpc_Return_which(r) == rpc_Return_exception);
        CHECK(text_is(rpc_Exception_get_reason(rpc_Return_get_exception(r)), "boom"));
        CHECK(rpc_Exception_get_type(rpc_Return_get_exception(r)) == rpc_Exception_Type_overloaded);
        CHECK(strcmp(rpc_Exception_Type_name(rpc_Exception_get_type(rpc_Return_get_exception(r))),
                     "overloaded") == 0);
    } else {
        CHECK(rpc_Message_which(msg) == rpc_Message_bootstrap);
        rpc_Bootstrap_R bs = rpc_Message_get_bootstrap(msg);
        CHECK(rpc_Bootstrap_get_questionId(bs) == 9);
        if (which == 3)
            CHECK(text_is(capnp_ptr_r_text(rpc_Bootstrap_get_deprecatedObjectId(bs)),
                          "legacy-object"));
        else
            CHECK(!rpc_Bootstrap_has_deprecatedObjectId(bs));
    }
}

void b_cr(struct capnp_builder *b, int a)
{
    (void)a, build_certreq_none(b);
}
void c_cr(struct capnp_msg *m, int a)
{
    (void)a, check_certreq_none(m);
}
