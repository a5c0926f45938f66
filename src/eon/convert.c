#include "eon/convert.h"
#include "dns/name.h"
#include "dns/wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t root_name[1] = {0};

/* Text from the network into a wire name: exactly len bytes, no NUL. */
static int text_to_wire(capnp_text t, uint8_t out[DNS_NAME_MAX], struct err *e)
{
    if (strlen(t.str) != t.len) return err_set(e, "invalid name: contains a NUL byte");
    struct err ne;
    if (dns_name_from_text(t.str, root_name, out, &ne) < 0)
        return err_set(e, "invalid name '%.300s': %s", t.str, ne.msg);
    return 0;
}

static int copy_value(capnp_data v, uint16_t type, const char *what, uint8_t **mem,
                      const uint8_t **out, uint16_t *outlen, struct err *e)
{
    char tb[16];
    if (v.len > 65535)
        return err_set(e, "value of %s %s is %u bytes, more than 65535", what,
                       dns_type_to_text(type, tb), v.len);
    if (v.len) memcpy(*mem, v.ptr, v.len);
    *out = *mem;
    *outlen = (uint16_t)v.len;
    *mem += v.len;
    return 0;
}

/* Bytes the wire form of a name given as text can take: a label's text
 * is at least as long as its wire form, plus the first length byte and
 * the root. */
static size_t wire_room(capnp_text t)
{
    return t.len + 2 < DNS_NAME_MAX ? t.len + 2 : DNS_NAME_MAX;
}

int eon_update_decode(eon_Domain_update_Params_R params, struct eon_update_req *j, struct err *e)
{
    return eon_update_decode_max(params, j, EON_UPDATE_MAX_ITEMS, e);
}

int eon_update_decode_max(eon_Domain_update_Params_R params, struct eon_update_req *j,
                          uint32_t max_items, struct err *e)
{
    eon_Prereq_LR pl = eon_Domain_update_Params_get_prereqs(params);
    eon_Update_LR ul = eon_Domain_update_Params_get_updates(params);
    uint32_t np = eon_Prereq_LR_len(pl), nu = eon_Update_LR_len(ul);
    /* A few bytes can claim millions of empty list elements (each still
     * costs a word of the traversal limit); no real Domain.update comes
     * near the bound (a DNS UPDATE message holds at most ~6,000 RRs). */
    if ((uint64_t)np + nu > max_items)
        return err_set(e, "too many prerequisites and updates (%u, at most %u)", np + nu,
                       max_items);
    size_t bytes = 0;
    for (uint32_t i = 0; i < np; i++) {
        eon_Prereq_R r = eon_Prereq_LR_at(pl, i);
        bytes += wire_room(eon_Prereq_get_name(r));
        if (eon_Prereq_which(r) == eon_Prereq_existsData)
            bytes += eon_Prereq_existsData_get_value(eon_Prereq_get_existsData(r)).len;
    }
    for (uint32_t i = 0; i < nu; i++) {
        eon_Update_R r = eon_Update_LR_at(ul, i);
        bytes += wire_room(eon_Update_get_name(r));
        if (eon_Update_which(r) == eon_Update_add)
            bytes += eon_Update_add_get_value(eon_Update_get_add(r)).len;
        else if (eon_Update_which(r) == eon_Update_removeSingle)
            bytes += eon_Update_removeSingle_get_value(eon_Update_get_removeSingle(r)).len;
    }
    j->p = calloc(np ? np : 1, sizeof *j->p);
    j->u = calloc(nu ? nu : 1, sizeof *j->u);
    j->mem = malloc(bytes ? bytes : 1);
    if (!j->p || !j->u || !j->mem) return err_set(e, "out of memory");
    j->np = np;
    j->nu = nu;
    uint8_t *mem = j->mem;
    for (uint32_t i = 0; i < np; i++) {
        eon_Prereq_R r = eon_Prereq_LR_at(pl, i);
        struct dns_prereq *p = &j->p[i];
        if (text_to_wire(eon_Prereq_get_name(r), mem, e) < 0)
            return err_prefix(e, "prerequisite %u", i + 1);
        p->owner = mem;
        mem += dns_name_len(mem);
        const char *nm = eon_Prereq_get_name(r).str;
        switch (eon_Prereq_which(r)) {
        case eon_Prereq_exists:
            p->kind = DNS_PREREQ_EXISTS;
            p->type = (uint16_t)eon_Prereq_exists_get_type(eon_Prereq_get_exists(r));
            break;
        case eon_Prereq_existsData: {
            eon_Prereq_existsData_R g = eon_Prereq_get_existsData(r);
            p->kind = DNS_PREREQ_EXISTS_DATA;
            p->type = (uint16_t)eon_Prereq_existsData_get_type(g);
            if (copy_value(eon_Prereq_existsData_get_value(g), p->type, nm, &mem, &p->rdata,
                           &p->rdlen, e) < 0)
                return -1;
            break;
        }
        case eon_Prereq_notExists:
            p->kind = DNS_PREREQ_NOT_EXISTS;
            p->type = (uint16_t)eon_Prereq_notExists_get_type(eon_Prereq_get_notExists(r));
            break;
        case eon_Prereq_nameInUse:
            p->kind = DNS_PREREQ_NAME_IN_USE;
            break;
        case eon_Prereq_notNameInUse:
            p->kind = DNS_PREREQ_NOT_NAME_IN_USE;
            break;
        default:
            return err_set(e, "prerequisite %u: unknown kind %u", i + 1,
                           (unsigned)eon_Prereq_which(r));
        }
    }
    for (uint32_t i = 0; i < nu; i++) {
        eon_Update_R r = eon_Update_LR_at(ul, i);
        struct dns_update *u = &j->u[i];
        if (text_to_wire(eon_Update_get_name(r), mem, e) < 0)
            return err_prefix(e, "update %u", i + 1);
        u->owner = mem;
        mem += dns_name_len(mem);
        const char *nm = eon_Update_get_name(r).str;
        switch (eon_Update_which(r)) {
        case eon_Update_add: {
            eon_Update_add_R g = eon_Update_get_add(r);
            u->kind = DNS_UPDATE_ADD;
            u->type = (uint16_t)eon_Update_add_get_type(g);
            /* A negative Int32 becomes > 2^31-1, which the engine refuses. */
            u->ttl = (uint32_t)eon_Update_add_get_ttl(g);
            if (copy_value(eon_Update_add_get_value(g), u->type, nm, &mem, &u->rdata, &u->rdlen,
                           e) < 0)
                return -1;
            break;
        }
        case eon_Update_remove:
            u->kind = DNS_UPDATE_REMOVE_RRSET;
            u->type = (uint16_t)eon_Update_remove_get_type(eon_Update_get_remove(r));
            break;
        case eon_Update_removeAll:
            u->kind = DNS_UPDATE_REMOVE_ALL;
            break;
        case eon_Update_removeSingle: {
            eon_Update_removeSingle_R g = eon_Update_get_removeSingle(r);
            u->kind = DNS_UPDATE_REMOVE_RR;
            u->type = (uint16_t)eon_Update_removeSingle_get_type(g);
            if (copy_value(eon_Update_removeSingle_get_value(g), u->type, nm, &mem, &u->rdata,
                           &u->rdlen, e) < 0)
                return -1;
            break;
        }
        default:
            return err_set(e, "update %u: unknown kind %u", i + 1, (unsigned)eon_Update_which(r));
        }
    }
    return 0;
}

static void set_prereq(eon_Prereq_B b, const struct eon_rec *r)
{
    eon_Prereq_set_name(b, r->name, (uint32_t)strlen(r->name));
    switch (r->kind) {
    case EON_SPEC_EXISTS:
        eon_Prereq_exists_set_type(eon_Prereq_init_exists(b), (int16_t)r->type);
        break;
    case EON_SPEC_EXISTS_DATA: {
        eon_Prereq_existsData_B g = eon_Prereq_init_existsData(b);
        eon_Prereq_existsData_set_type(g, (int16_t)r->type);
        eon_Prereq_existsData_set_value(g, r->rdata, r->rdlen);
        break;
    }
    case EON_SPEC_NOT_EXISTS:
        eon_Prereq_notExists_set_type(eon_Prereq_init_notExists(b), (int16_t)r->type);
        break;
    case EON_SPEC_NAME_IN_USE:
        eon_Prereq_set_nameInUse(b);
        break;
    default:
        eon_Prereq_set_notNameInUse(b);
        break;
    }
}

static void set_update(eon_Update_B b, const struct eon_rec *r)
{
    eon_Update_set_name(b, r->name, (uint32_t)strlen(r->name));
    switch (r->kind) {
    case EON_SPEC_ADD: {
        eon_Update_add_B g = eon_Update_init_add(b);
        eon_Update_add_set_type(g, (int16_t)r->type);
        eon_Update_add_set_value(g, r->rdata, r->rdlen);
        eon_Update_add_set_ttl(g, (int32_t)r->ttl);
        break;
    }
    case EON_SPEC_REMOVE:
        eon_Update_remove_set_type(eon_Update_init_remove(b), (int16_t)r->type);
        break;
    case EON_SPEC_REMOVE_ALL:
        eon_Update_set_removeAll(b);
        break;
    default: {
        eon_Update_removeSingle_B g = eon_Update_init_removeSingle(b);
        eon_Update_removeSingle_set_type(g, (int16_t)r->type);
        eon_Update_removeSingle_set_value(g, r->rdata, r->rdlen);
        break;
    }
    }
}

void eon_update_req_free(struct eon_update_req *r)
{
    free(r->p);
    free(r->u);
    free(r->mem);
    r->p = NULL;
    r->u = NULL;
    r->mem = NULL;
    r->np = r->nu = 0;
}

void eon_update_encode(eon_Domain_update_Params_B params, const struct eon_rec *prereqs, size_t np,
                       const struct eon_rec *updates, size_t nu)
{
    eon_Prereq_LB pl = eon_Domain_update_Params_init_prereqs(params, (uint32_t)np);
    for (size_t i = 0; i < np; i++)
        set_prereq(eon_Prereq_LB_at(pl, (uint32_t)i), &prereqs[i]);
    eon_Update_LB ul = eon_Domain_update_Params_init_updates(params, (uint32_t)nu);
    for (size_t i = 0; i < nu; i++)
        set_update(eon_Update_LB_at(ul, (uint32_t)i), &updates[i]);
}
