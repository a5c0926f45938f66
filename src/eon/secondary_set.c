/*
 * The secondary zones (eon/secondary.h): one per --primary FILE, its
 * record in the state dir, serving it from the journal at start, its
 * service and saved record, the restorer's branch, the reload gate and
 * the statistics.
 */
#include "dns/journal.h"
#include "dns/name.h"
#include "eon/domain.h"
#include "eon/saved.h"
#include "eon/secondary_int.h"
#include "rpc/store.h"
#include "rpc/sturdy.h"
#include "util/atomicfile.h"
#include "util/b64url.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <urcu-qsbr.h>

static const uint8_t root_name[1] = {0};

/* Parses a zone name as the primary spells it into s (not yet recorded). */
static int parse_name(struct eon_secondary *s, const char *name, struct err *e)
{
    uint8_t w[DNS_NAME_MAX];
    struct err ne;
    size_t l = strlen(name);
    if (l == 0 || l >= DNS_NAME_TEXT_MAX || dns_name_from_text(name, root_name, w, &ne) < 0 ||
        w[0] == 0)
        return err_set(e, "'%.300s' is not a zone name", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (l > 1 && s->name[l - 1] == '.') s->name[l - 1] = 0;
    memcpy(s->as_written, w, DNS_NAME_MAX);
    dns_name_lower(s->apex, w);
    return 0;
}

/* The zone served with this apex, if any (the loop thread is an offline
 * reader: online for the lookup). */
static struct zone *served(struct eon_secondaries *set, const uint8_t *apex)
{
    rcu_thread_online();
    struct zone *z = zone_set_get(zone_set_current(set->zones), apex);
    rcu_thread_offline();
    return z;
}

/* The zone of s must be no other zone's: not a zone file's (-z, -a) nor
 * another --primary's. */
static int check_unique(struct eon_secondary *s, struct err *e)
{
    struct eon_secondaries *set = s->set;
    for (size_t i = 0; i < set->n; i++) {
        struct eon_secondary *o = &set->v[i];
        if (o != s && o->name[0] && dns_name_equal(o->apex, s->apex))
            return err_set(e,
                           "%s is the secondary of both --primary %s and --primary %s: choose one",
                           s->name, o->file, s->file);
    }
    struct zone *z = served(set, s->apex);
    if (z && z != s->zone)
        return err_set(e, "%s is both a zone file (-z) and a secondary of --primary %s: choose one",
                       s->name, s->file);
    return 0;
}

static int read_primary_file(struct eon_secondary *s, const char *state_root, struct err *e)
{
    size_t len;
    char *uri = read_file(s->file, 4096, &len, e);
    if (!uri) return err_prefix(e, "--primary %s", s->file);
    while (len && (uri[len - 1] == '\n' || uri[len - 1] == '\r' || uri[len - 1] == ' '))
        uri[--len] = 0;
    s->uri = uri;
    struct sturdy_ref ref;
    if (sturdy_parse(uri, &ref, e) < 0)
        return err_prefix(e, "--primary %s: not a capability URI", s->file);
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)uri, len, h);
    char b[64];
    b64url_encode(h, sizeof h, b);
    size_t pl = strlen(state_root) + strlen(b) + 16;
    s->record = xmalloc(pl);
    snprintf(s->record, pl, "%s/secondary/%s", state_root, b);
    return 0;
}

/* A zone known from the record is served from the journal at once. */
static int open_known(struct eon_secondary *s, struct err *e)
{
    struct eon_secondaries *set = s->set;
    size_t len;
    struct err re;
    char *name = read_file(s->record, DNS_NAME_TEXT_MAX, &len, &re);
    if (!name) {
        if (errno == ENOENT) return 0; /* never reached the primary yet */
        return err_set(e, "--primary %s: %s", s->file, re.msg);
    }
    int rc = parse_name(s, name, e);
    free(name);
    if (rc < 0) return err_prefix(e, "--primary %s: its record %s", s->file, s->record);
    if (check_unique(s, e) < 0) return -1;
    if (!set->journal) return 0;
    struct zone_version *v = NULL;
    struct journal_replay_info info;
    int got = journal_load_zone(set->journal, s->apex, &v, &info, e);
    if (got < 0)
        return err_prefix(e, "secondary %s (move the journal aside to start empty)", s->name);
    if (got == 0) return 0;
    struct zone *z = zone_new(v, e);
    if (!z) return -1;
    zone_set_apex_as_written(z, s->as_written);
    if (zone_set_add(set->zones, z, e) < 0) {
        zone_free(z);
        return -1;
    }
    s->zone = z;
    s->serial = info.serial;
    log_error("%s: secondary of --primary %s, served from the journal at serial %u (%llu change "
              "sets after its snapshot)",
              s->name, s->file, info.serial, (unsigned long long)info.entries);
    return 0;
}

int eon_secondaries_open(const char *const *files, size_t n, unsigned retry_wait_s,
                         const char *state_root, struct journal *j, struct zone_set_handle *zones,
                         struct eon_secondaries **out, struct err *e)
{
    *out = NULL;
    if (n == 0) return 0;
    struct eon_secondaries *set = xcalloc(1, sizeof *set);
    set->journal = j;
    set->zones = zones;
    set->retry_wait_s = retry_wait_s ? retry_wait_s : 60;
    set->stage_max_bytes = SEC_STAGE_MAX_BYTES;
    set->v = xcalloc(n, sizeof *set->v);
    set->n = n;
    for (size_t i = 0; i < n; i++) {
        struct eon_secondary *s = &set->v[i];
        s->set = set;
        s->file = xstrdup(files[i]);
        s->tail = &s->head;
    }
    for (size_t i = 0; i < n; i++) {
        struct eon_secondary *s = &set->v[i];
        for (size_t k = 0; k < i; k++)
            if (!strcmp(set->v[k].file, s->file)) {
                err_set(e, "--primary %s is given twice", s->file);
                goto fail;
            }
        if (read_primary_file(s, state_root, e) < 0 || open_known(s, e) < 0) goto fail;
    }
    *out = set;
    return 0;
fail:
    eon_secondaries_free(set);
    return -1;
}

bool eon_secondaries_has(const struct eon_secondaries *set, const uint8_t *apex)
{
    for (size_t i = 0; set && i < set->n; i++)
        if (set->v[i].name[0] && dns_name_equal(set->v[i].apex, apex)) return true;
    return false;
}

/* The service of a known zone: fixed ID, registered with the vat, its
 * SavedService.secondary record in the store (written when missing). */
static int make_service(struct eon_secondary *s, struct err *e)
{
    struct eon_ctx *c = s->set->ctx;
    if (s->svc) return 0;
    char idname[DNS_NAME_TEXT_MAX + 16];
    snprintf(idname, sizeof idname, "secondary_%s", s->name);
    if (s->set->derive(s->set->derive_ud, idname, s->id, e) < 0) return -1;
    char *uri = rpc_vat_sturdy_uri(c->vat, s->id, sizeof s->id);
    if (!uri) return err_set(e, "no address for capability URIs");
    int rc = sec_service_make(s, uri, e);
    free(uri);
    if (rc < 0) return -1;
    if (rpc_vat_add_service(c->vat, s->id, sizeof s->id, sec_service_cap(s), e) < 0) return -1;
    uint8_t *have = NULL, *rec = NULL;
    size_t hl = 0, rl = 0;
    struct err ge;
    if (eon_saved_secondary_encode(s->name, &rec, &rl, e) < 0) return -1;
    int got = svc_store_get(c->store, s->id, sizeof s->id, &have, &hl, &ge);
    if (got != 1 || hl != rl || memcmp(have, rec, rl) != 0)
        rc = svc_store_put(c->store, s->id, sizeof s->id, rec, rl, e);
    free(have);
    free(rec);
    return rc;
}

int sec_set_name(struct eon_secondary *s, const char *name, struct err *e)
{
    if (s->name[0]) {
        uint8_t w[DNS_NAME_MAX];
        struct err ne;
        if (dns_name_from_text(name, root_name, w, &ne) < 0 || !dns_name_equal(w, s->apex))
            return err_set(e,
                           "the primary now serves zone '%.300s', not %s as recorded in %s: a "
                           "different primary behind the same file? (remove the record to follow "
                           "it)",
                           name, s->name, s->record);
        return make_service(s, e);
    }
    if (parse_name(s, name, e) < 0) goto fail;
    if (check_unique(s, e) < 0) goto fail;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", s->record);
    *strrchr(dir, '/') = 0;
    if (mkdir_p(dir, 0750, e) < 0 ||
        atomic_write_file(s->record, s->name, strlen(s->name), 0600, e) < 0)
        goto fail;
    log_error("%s: secondary of --primary %s (recorded in %s)", s->name, s->file, s->record);
    return make_service(s, e);
fail:
    s->name[0] = 0;
    memset(s->apex, 0, sizeof s->apex);
    return -1;
}

int eon_secondaries_start(struct eon_secondaries *set, struct eon_ctx *ctx, eon_derive_id_fn derive,
                          void *derive_ud, struct err *e)
{
    if (!set) return 0;
    set->ctx = ctx;
    set->derive = derive;
    set->derive_ud = derive_ud;
    for (size_t i = 0; i < set->n; i++) {
        struct eon_secondary *s = &set->v[i];
        if (s->name[0] && make_service(s, e) < 0) return err_prefix(e, "secondary %s", s->name);
    }
    for (size_t i = 0; i < set->n; i++)
        sec_link_start(&set->v[i]);
    return 0;
}

void eon_secondaries_stop(struct eon_secondaries *set)
{
    if (!set || set->stopping) return;
    set->stopping = true;
    for (size_t i = 0; i < set->n; i++) {
        sec_link_stop(&set->v[i]);
        sec_queue_stop(&set->v[i]);
    }
}

void eon_secondaries_free(struct eon_secondaries *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) {
        struct eon_secondary *s = &set->v[i];
        sec_service_drop(s);
        sec_stage_free(s);
        if (s->primary) rpc_cap_unref(s->primary);
        free(s->file);
        free(s->uri);
        free(s->record);
    }
    free(set->v);
    free(set);
}

struct rpc_cap *eon_secondary_restore(struct eon_secondaries *set, const char *name,
                                      const uint8_t *id, size_t len, struct err *e)
{
    (void)id;
    (void)len;
    uint8_t w[DNS_NAME_MAX];
    struct err ne;
    if (dns_name_from_text(name, root_name, w, &ne) < 0)
        return err_set(e, "saved secondary '%.300s': %s", name, ne.msg), NULL;
    for (size_t i = 0; set && i < set->n; i++) {
        struct eon_secondary *s = &set->v[i];
        /* Any saved ID of the zone (eon's secondaries have random ones)
         * reaches the one service of the zone. */
        if (s->name[0] && dns_name_equal(s->apex, w) && s->svc)
            return rpc_cap_ref(sec_service_cap(s));
    }
    err_set(e, "saved service for %s is a secondary, and no --primary of this capd has that zone",
            name);
    return NULL;
}

int eon_secondaries_reload_begin(struct eon_secondaries *set, struct err *e)
{
    if (!set) return 0;
    if (set->adding)
        return err_set(e, "a secondary zone is being added to the served zones right now: send "
                          "SIGHUP again");
    set->reloading = true;
    return 0;
}

void eon_secondaries_reload_end(struct eon_secondaries *set)
{
    if (!set) return;
    set->reloading = false;
    for (size_t i = 0; i < set->n; i++)
        sec_queue_kick(&set->v[i]);
}

void eon_secondaries_render(void *ud, struct metrics_text *t)
{
    struct eon_secondaries *set = ud;
    if (!set) return;
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"capd_secondary_zone_serial", "gauge",
         "SOA serial of the last update applied from the primary"},
        {"capd_secondary_zone_last_update_timestamp_seconds", "gauge",
         "when the last update from the primary was applied, Unix time; 0: not since start"},
        {"capd_secondary_zone_link", "gauge",
         "link to the primary: 1 for the state it is in (connecting, registered, retrying)"},
        {"capd_secondary_zone_full_transfers_total", "counter",
         "full transfers received and applied"},
        {"capd_secondary_zone_updates_total", "counter", "incremental updates applied"},
        {"capd_secondary_zone_failures_total", "counter",
         "updates refused or failed, and failed attempts to reach the primary"},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        metrics_family(t, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < set->n; i++) {
            const struct eon_secondary *s = &set->v[i];
            const char *l[] = {"zone", s->name, "primary", s->file, NULL, NULL, NULL};
            switch (f) {
            case 0:
                metrics_sample(t, fam[f].name, l, s->serial);
                break;
            case 1:
                metrics_sample(t, fam[f].name, l, s->last_update);
                break;
            case 2: {
                static const enum sec_link st[] = {SEC_LINK_CONNECTING, SEC_LINK_REGISTERED,
                                                   SEC_LINK_RETRYING};
                for (size_t k = 0; k < 3; k++) {
                    l[4] = "state";
                    l[5] = sec_link_state_name(st[k]);
                    metrics_sample(t, fam[f].name, l, s->link == st[k]);
                }
                break;
            }
            case 3:
                metrics_sample(t, fam[f].name, l, s->full_transfers);
                break;
            case 4:
                metrics_sample(t, fam[f].name, l, s->updates_applied);
                break;
            default:
                metrics_sample(t, fam[f].name, l, s->failures);
            }
        }
    }
}
