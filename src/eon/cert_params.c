/*
 * cert_params: Domain.cert's parameters checked and made a cert_spec
 * before anything else happens (cert.h, step 1): email, org, 1 to
 * ACME_MAX_NAMES names made canonical, each a name a CA issues for, inside
 * the capability's domain and in its served zone, the first one usable as
 * a directory name. Nothing unchecked reaches the CA or a path.
 */
#include "eon/cert_int.h"
#include "eon/gen/eon.capnp.h"
#include "eon/state.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

static const uint8_t root_name[1] = {0};

/* The served zone of lname, read the way domain.c reads it. */
struct zone *cert_zone_of(struct eon_certs *m, const uint8_t *lname)
{
    rcu_thread_online();
    struct zone *z = zone_set_find(zone_set_current(m->ctx->zones), lname);
    rcu_thread_offline();
    return z;
}

/* A text parameter into out (cap bytes): no NUL inside, not longer. */
static int text_param(capnp_text t, const char *what, char *out, size_t cap, struct err *e)
{
    if (strlen(t.str) != t.len) return err_set(e, "invalid %s: contains a NUL byte", what);
    if (t.len >= cap)
        return err_set(e, "invalid %s '%.40s...': longer than %zu characters", what, t.str,
                       cap - 1);
    memcpy(out, t.str, t.len + 1);
    return 0;
}

/* One requested name, made canonical (no trailing dot, lowercase) and
 * checked: a name a CA issues for, in the capability's subtree and zone. */
static int check_name(struct eon_certs *m, const struct eon_cert_scope *sc, capnp_text t,
                      char out[DNS_NAME_TEXT_MAX], struct err *e)
{
    if (text_param(t, "name", out, DNS_NAME_TEXT_MAX, e) < 0) return -1;
    size_t l = strlen(out);
    if (l > 1 && out[l - 1] == '.') out[--l] = 0;
    for (size_t i = 0; i < l; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    if (!acme_name_ok(out))
        return err_set(e,
                       "invalid name '%.300s': a certificate name is letters, digits and "
                       "hyphens in dot-separated labels, '*.' allowed first",
                       out);
    const char *base = strncmp(out, "*.", 2) ? out : out + 2;
    char owner[DNS_NAME_TEXT_MAX + 20];
    snprintf(owner, sizeof owner, "_acme-challenge.%s", base);
    uint8_t w[DNS_NAME_MAX], ow[DNS_NAME_MAX];
    struct err ne;
    if (dns_name_from_text(base, root_name, w, &ne) < 0 ||
        dns_name_from_text(owner, root_name, ow, &ne) < 0)
        return err_set(e, "invalid name '%s': %s", out, ne.msg);
    dns_name_lower(w, w);
    dns_name_lower(ow, ow);
    if (!dns_name_is_subdomain(w, sc->confine))
        return err_set(e, "name %s is outside %s", out, sc->name);
    if (cert_zone_of(m, ow) != sc->zone)
        return err_set(e, "%s is in another zone this capd serves apart from %s", owner, sc->name);
    return 0;
}

int cert_params_decode(struct eon_certs *m, const struct eon_cert_scope *sc, struct rpc_call *call,
                       struct cert_spec *s, struct rpc_cap **cb, struct err *e)
{
    eon_Domain_cert_Params_R p = eon_Domain_cert_Params_from_ptr(rpc_call_params(call));
    memset(s, 0, sizeof *s);
    *cb = NULL;
    if (text_param(eon_Domain_cert_Params_get_email(p), "email", s->email, sizeof s->email, e) < 0)
        return -1;
    if (!eon_cert_email_ok(s->email))
        return err_set(e,
                       "invalid email '%.100s': expected an address such as admin@example.org "
                       "(letters, digits and . _ + - before the @)",
                       s->email);
    if (text_param(eon_Domain_cert_Params_get_org(p), "org", s->org, sizeof s->org, e) < 0)
        return -1;
    for (const char *c = s->org; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return err_set(e, "invalid org: contains a control character");
    capnp_list_r dl = eon_Domain_cert_Params_get_domains(p);
    uint32_t n = capnp_list_r_len(dl);
    if (n == 0) return err_set(e, "no domain given");
    if (n > ACME_MAX_NAMES)
        return err_set(e, "%u domains: at most %d in one certificate", n, ACME_MAX_NAMES);
    for (uint32_t i = 0; i < n; i++) {
        char name[DNS_NAME_TEXT_MAX];
        if (check_name(m, sc, capnp_list_r_text(dl, i), name, e) < 0) {
            cert_spec_clear(s);
            return -1;
        }
        bool dup = false;
        for (size_t k = 0; k < s->n; k++)
            dup = dup || !strcmp(s->names[k], name);
        if (dup) continue;
        if (!(s->names[s->n] = strdup(name))) {
            cert_spec_clear(s);
            return err_set(e, "out of memory");
        }
        s->n++;
    }
    if (!eon_name_file_safe(s->names[0])) {
        cert_spec_clear(s);
        return err_set(e, "%s cannot be a directory name", s->names[0]);
    }
    uint32_t idx;
    if (!eon_Domain_cert_Params_get_certCallback(p, &idx)) {
        cert_spec_clear(s);
        return err_set(e, "no certCallback given");
    }
    *cb = rpc_call_param_cap(call, idx);
    snprintf(s->domain, sizeof s->domain, "%s", sc->name);
    memcpy(s->confine, sc->confine, dns_name_len(sc->confine));
    s->zone = sc->zone;
    return 0;
}
