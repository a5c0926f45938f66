/* Zone files and single records from presentation text, parsed by
 * libzscanner (Knot's zone scanner); we only turn its records into builder
 * entries and its errors into "file:line: reason". */
#include "dns/rr.h"
#include "dns/wire.h"
#include "dns/zbuild.h"
#include <errno.h>
#include <libzscanner/scanner.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TTL 3600

struct load_ctx {
    struct zbuild *b;
    struct err *e;
    bool failed;
    bool apex_known;            /* with no origin given, the first SOA owner is the apex */
    const char *name;           /* file name for messages when zscanner has none */
    uint8_t apex[DNS_NAME_MAX]; /* once apex_known: the origin given, or the SOA owner */
    uint8_t *apex_as_written;   /* NULL, or the last spelling of the apex seen */
};

static const char *scan_file(const zs_scanner_t *s, const struct load_ctx *c)
{
    return s->file.name ? s->file.name : c->name;
}

static void on_error(zs_scanner_t *s)
{
    struct load_ctx *c = s->process.data;
    if (!c->failed) {
        c->failed = true;
        err_set(c->e, "%s:%llu: %s", scan_file(s, c), (unsigned long long)s->line_counter,
                zs_strerror(s->error.code));
    }
    s->state = ZS_STATE_STOP;
}

static void on_record(zs_scanner_t *s)
{
    struct load_ctx *c = s->process.data;
    struct err e;
    if (c->failed) {
        s->state = ZS_STATE_STOP;
        return;
    }
    const char *why = NULL;
    if (s->r_class != DNS_CLASS_IN) why = "only class IN is supported";
    if (!why && s->r_type == DNS_T_SOA && !c->apex_known) {
        c->apex_known = true;
        memcpy(c->apex, s->r_owner, dns_name_len(s->r_owner));
        struct zbuild *nb = zb_new(s->r_owner);
        if (!nb) {
            why = "out of memory";
        } else {
            zb_set_file(nb, c->name);
            /* nothing can have been added before the apex was known */
            zb_free(c->b);
            c->b = nb;
        }
    }
    if (!why && !c->apex_known)
        why = "record before the SOA record (no origin given, so the SOA owner is the apex)";
    if (!why && zb_add(c->b, s->r_owner, s->r_type, s->r_ttl, s->r_data, (uint16_t)s->r_data_length,
                       true, (unsigned long)s->line_counter, &e) < 0)
        why = e.msg;
    if (!why && c->apex_as_written && dns_name_equal(s->r_owner, c->apex))
        memcpy(c->apex_as_written, s->r_owner, dns_name_len(s->r_owner));
    if (why) {
        c->failed = true;
        err_set(c->e, "%s:%llu: %s", scan_file(s, c), (unsigned long long)s->line_counter, why);
        s->state = ZS_STATE_STOP;
    }
}

static int load(const char *text, size_t len, const char *path, const char *name,
                const uint8_t *origin, struct zone_version **out, uint8_t *apex_as_written,
                struct err *e)
{
    char otext[DNS_NAME_TEXT_MAX] = ".";
    if (origin) dns_name_to_text(origin, otext, sizeof otext);
    zs_scanner_t *s = malloc(sizeof *s);
    struct load_ctx c = {
        .e = e, .apex_known = origin != NULL, .name = name, .apex_as_written = apex_as_written};
    if (origin) memcpy(c.apex, origin, dns_name_len(origin));
    if (apex_as_written) memcpy(apex_as_written, c.apex, dns_name_len(c.apex));
    if (!s) return err_set(e, "out of memory");
    c.b = zb_new(origin ? origin : (const uint8_t *)"");
    if (!c.b || zs_init(s, otext, DNS_CLASS_IN, DEFAULT_TTL) != 0) {
        zb_free(c.b);
        free(s);
        return err_set(e, "%s: cannot initialise the zone scanner", name);
    }
    zb_set_file(c.b, name);
    int r = path ? zs_set_input_file(s, path) : zs_set_input_string(s, text, len);
    if (r != 0) {
        err_set(e, "%s: %s", name, path && errno ? strerror(errno) : zs_strerror(s->error.code));
        goto out;
    }
    zs_set_processing(s, on_record, on_error, &c);
    r = zs_parse_all(s);
    if (c.failed) {
        r = -1;
        goto out;
    }
    if (r != 0 || s->error.counter) {
        r = err_set(e, "%s:%llu: %s", name, (unsigned long long)s->line_counter,
                    zs_strerror(s->error.code));
        goto out;
    }
    if (!c.apex_known) {
        r = err_set(e, "%s: no SOA record", name);
        goto out;
    }
    r = zb_freeze(c.b, false, 0, out, e);
out:
    zs_deinit(s);
    free(s);
    zb_free(c.b);
    return r;
}

int zone_load_file_as_written(const char *path, const uint8_t *origin, struct zone_version **out,
                              uint8_t *apex_as_written, struct err *e)
{
    FILE *f = fopen(path, "r"); /* for a clear message: zscanner only says "file error" */
    if (!f) return err_set(e, "%s: %s", path, strerror(errno));
    fclose(f);
    errno = 0;
    return load(NULL, 0, path, path, origin, out, apex_as_written, e);
}

int zone_load_file(const char *path, const uint8_t *origin, struct zone_version **out,
                   struct err *e)
{
    return zone_load_file_as_written(path, origin, out, NULL, e);
}

int zone_load_string(const char *text, const char *name, const uint8_t *origin,
                     struct zone_version **out, struct err *e)
{
    return load(text, strlen(text), NULL, name, origin, out, NULL, e);
}

/* ---- single records ---- */

struct rr_ctx {
    struct dns_rr *rr;
    struct err *e;
    int records;
    bool failed;
};

static void rr_error(zs_scanner_t *s)
{
    struct rr_ctx *c = s->process.data;
    if (!c->failed) err_set(c->e, "%s", zs_strerror(s->error.code));
    c->failed = true;
    s->state = ZS_STATE_STOP;
}

static void rr_record(zs_scanner_t *s)
{
    struct rr_ctx *c = s->process.data;
    if (++c->records > 1) {
        c->failed = true;
        err_set(c->e, "more than one record");
        s->state = ZS_STATE_STOP;
        return;
    }
    struct dns_rr *rr = c->rr;
    memcpy(rr->owner, s->r_owner, s->r_owner_length);
    rr->owner_len = (uint16_t)s->r_owner_length;
    rr->type = s->r_type;
    rr->rclass = s->r_class;
    rr->ttl = s->r_ttl;
    rr->rdlen = (uint16_t)s->r_data_length;
    memcpy(rr->rdata, s->r_data, s->r_data_length);
}

int dns_rr_parse_line(const char *line, const uint8_t *origin, uint32_t default_ttl,
                      struct dns_rr *rr, struct err *e)
{
    if (strpbrk(line, "\r\n")) return err_set(e, "record text must be one line");
    if (line[0] == '$') return err_set(e, "directives are not records");
    char otext[DNS_NAME_TEXT_MAX] = ".";
    if (origin) dns_name_to_text(origin, otext, sizeof otext);
    zs_scanner_t *s = malloc(sizeof *s);
    if (!s) return err_set(e, "out of memory");
    struct rr_ctx c = {.rr = rr, .e = e};
    int r = -1;
    if (zs_init(s, otext, DNS_CLASS_IN, default_ttl) != 0) {
        free(s);
        return err_set(e, "cannot initialise the zone scanner");
    }
    size_t n = strlen(line);
    char *buf = malloc(n + 2);
    if (!buf) {
        err_set(e, "out of memory");
        goto out;
    }
    memcpy(buf, line, n);
    buf[n] = '\n';
    buf[n + 1] = 0;
    if (zs_set_input_string(s, buf, n + 1) != 0 || zs_set_processing(s, rr_record, rr_error, &c)) {
        err_set(e, "%s", zs_strerror(s->error.code));
        goto out;
    }
    r = zs_parse_all(s);
    if (c.failed)
        r = -1;
    else if (r != 0 || s->error.counter)
        r = err_set(e, "%s", zs_strerror(s->error.code));
    else if (c.records != 1)
        r = err_set(e, "no record");
    else if (rr->rclass != DNS_CLASS_IN)
        r = err_set(e, "only class IN is supported");
    else if (dns_type_is_meta(rr->type) || rr->type == 0)
        r = err_set(e, "this type cannot be stored in a zone");
    else
        r = 0;
out:
    free(buf);
    zs_deinit(s);
    free(s);
    return r;
}

int dns_rr_parse_text(const char *owner, const char *type, const char *value, uint32_t ttl,
                      const uint8_t *origin, struct dns_rr *rr, struct err *e)
{
    uint8_t o[DNS_NAME_MAX];
    char otext[DNS_NAME_TEXT_MAX];
    if (dns_name_from_text(owner, origin, o, e) < 0) return -1;
    dns_name_to_text(o, otext, sizeof otext);
    if (strpbrk(type, " \t;()\"\r\n") || !*type) return err_set(e, "bad type '%s'", type);
    size_t n = strlen(otext) + strlen(type) + strlen(value) + 32;
    char *line = malloc(n);
    if (!line) return err_set(e, "out of memory");
    snprintf(line, n, "%s %lu IN %s %s", otext, (unsigned long)ttl, type, value);
    int r = dns_rr_parse_line(line, origin, ttl, rr, e);
    free(line);
    return r;
}
