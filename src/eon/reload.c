/*
 * reload: zone files read at start and re-read on SIGHUP (eon/reload.h).
 */
#include "eon/reload.h"
#include "dns/journal.h"
#include "dns/journal_reload.h"
#include "util/log.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Zone files per read at most: the journal keeps at most 1023 zones, and
 * a bound keeps a directory of junk from exhausting memory. */
#define ZF_MAX_FILES 1000

/* A file and the zone it served after the last read. */
struct zf_file {
    char *path;
    size_t src; /* index of the -z PATH it came from */
    uint8_t apex[DNS_NAME_MAX];
};

/* One file found by a read. */
struct zf_cand {
    char *path;
    size_t src;
    struct zone_version *v; /* NULL: did not load */
    uint8_t as_written[DNS_NAME_MAX];
};

/* The re-read state machine (explicit, on the loop thread). */
enum zf_state {
    ZF_IDLE,          /* nothing running */
    ZF_RUNNING,       /* a re-read runs on the thread pool */
    ZF_RUNNING_AGAIN, /* and another was asked for meanwhile */
};

struct eon_zonefiles {
    char **paths; /* -z as given */
    size_t npaths;
    struct zone_set_handle *zones;
    struct zf_file *files; /* worker (or start) only */
    size_t nfiles;
    struct zone **retired; /* left the set; kept for the pointers to them */
    size_t nretired;
    /* loop thread only */
    enum zf_state state;
    bool stopping;
    uv_work_t work;
    struct journal *j;
    eon_reload_apply_fn apply;
    eon_reload_done_fn done;
    void *apply_ud, *done_ud;
    struct eon_reload_result res; /* written by the worker, read in after_work */
};

static void ztext(const uint8_t *wire, char out[DNS_NAME_TEXT_MAX])
{
    if (dns_name_to_text(wire, out, DNS_NAME_TEXT_MAX) < 0) out[0] = 0;
    size_t l = strlen(out);
    if (l > 1 && out[l - 1] == '.') out[l - 1] = 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- finding and loading the files ---- */

struct zf_scan {
    struct zf_cand *c;
    size_t n;
    bool *dir_failed; /* per -z PATH: a directory that could not be read */
};

static void scan_free(struct zf_scan *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->c[i].path);
        if (s->c[i].v) zone_version_free(s->c[i].v);
    }
    free(s->c);
    free(s->dir_failed);
    memset(s, 0, sizeof *s);
}

static int add_cand(struct zf_scan *s, char *path, size_t src, struct err *e)
{
    if (!path) return err_set(e, "out of memory");
    if (s->n == ZF_MAX_FILES) {
        free(path);
        return err_set(e, "more than %d zone files", ZF_MAX_FILES);
    }
    struct zf_cand *c = realloc(s->c, (s->n + 1) * sizeof *c);
    if (!c) {
        free(path);
        return err_set(e, "out of memory");
    }
    s->c = c;
    s->c[s->n++] = (struct zf_cand){.path = path, .src = src};
    return 0;
}

/* The regular files of dir not starting with '.', in name order. */
static int scan_dir(struct zf_scan *s, const char *dir, size_t src, struct err *e)
{
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "zone directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = path_join(dir, de->d_name);
        struct stat sb;
        if (p && (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))) {
            free(p);
            continue;
        }
        char **nn = p && n < ZF_MAX_FILES ? realloc(names, (n + 1) * sizeof *nn) : NULL;
        if (!nn) {
            free(p);
            rc = err_set(e, "zone directory %s: %s", dir,
                         n < ZF_MAX_FILES ? "out of memory" : "too many files");
            break;
        }
        names = nn;
        names[n++] = p;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = add_cand(s, names[i], src, e);
        else
            free(names[i]);
    }
    free(names);
    return rc;
}

/* Lists the files of every -z PATH. strict (start): any problem fails;
 * otherwise a directory that cannot be read is logged and marked. */
static int scan(struct eon_zonefiles *zf, struct zf_scan *s, bool strict, struct err *e)
{
    memset(s, 0, sizeof *s);
    if (!(s->dir_failed = calloc(zf->npaths ? zf->npaths : 1, sizeof *s->dir_failed)))
        return err_set(e, "out of memory");
    for (size_t i = 0; i < zf->npaths; i++) {
        struct stat sb;
        struct err de;
        const char *p = zf->paths[i];
        if (stat(p, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            /* A file, or missing: loading it names the problem. */
            if (add_cand(s, strdup(p), i, e) < 0) return -1;
        } else if (scan_dir(s, p, i, &de) < 0) {
            if (strict) {
                *e = de;
                return -1;
            }
            log_error("reload: %s; its zones keep being served as they are", de.msg);
            s->dir_failed[i] = true;
        }
    }
    return 0;
}

/* ---- start ---- */

static int remember(struct eon_zonefiles *zf, const char *path, size_t src, const uint8_t *apex)
{
    struct zf_file *f = realloc(zf->files, (zf->nfiles + 1) * sizeof *f);
    if (!f) return -1;
    zf->files = f;
    f = &zf->files[zf->nfiles];
    if (!(f->path = strdup(path))) return -1;
    f->src = src;
    memcpy(f->apex, apex, dns_name_len(apex));
    zf->nfiles++;
    return 0;
}

int eon_zonefiles_open(const char *const *paths, size_t n, struct zone_set_handle *zones,
                       struct eon_zonefiles **out, struct err *e)
{
    struct eon_zonefiles *zf = calloc(1, sizeof *zf);
    if (!zf || !(zf->paths = calloc(n ? n : 1, sizeof *zf->paths))) {
        free(zf);
        return err_set(e, "out of memory");
    }
    zf->zones = zones;
    for (size_t i = 0; i < n; i++, zf->npaths++)
        if (!(zf->paths[i] = strdup(paths[i]))) {
            eon_zonefiles_free(zf);
            return err_set(e, "out of memory");
        }
    struct zf_scan s;
    int rc = scan(zf, &s, true, e);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        struct zf_cand *c = &s.c[i];
        if (zone_load_file_as_written(c->path, NULL, &c->v, c->as_written, e) < 0) {
            rc = -1;
            break;
        }
        struct zone *z = zone_new(c->v, e);
        c->v = NULL; /* the zone's, also on failure */
        if (!z) {
            rc = err_prefix(e, "%s", c->path);
            break;
        }
        zone_set_apex_as_written(z, c->as_written);
        if (zone_set_add(zones, z, e) < 0) {
            zone_free(z);
            rc = err_prefix(e, "%s", c->path);
        } else if (remember(zf, c->path, c->src, z->apex) < 0) {
            rc = err_set(e, "out of memory");
        }
    }
    scan_free(&s);
    if (rc < 0) {
        eon_zonefiles_free(zf);
        return -1;
    }
    *out = zf;
    return 0;
}

void eon_zonefiles_free(struct eon_zonefiles *zf)
{
    if (!zf) return;
    for (size_t i = 0; i < zf->npaths; i++)
        free(zf->paths[i]);
    free(zf->paths);
    for (size_t i = 0; i < zf->nfiles; i++)
        free(zf->files[i].path);
    free(zf->files);
    for (size_t i = 0; i < zf->nretired; i++)
        zone_free(zf->retired[i]);
    free(zf->retired);
    free(zf->res.added);
    free(zf);
}

/* ---- one re-read (worker thread) ---- */

/* The zones every file of this read serves, in file order. */
struct zf_claims {
    struct zf_file *f;
    size_t n;
};

static const struct zf_file *claimed(const struct zf_claims *cl, const uint8_t *apex)
{
    for (size_t i = 0; i < cl->n; i++)
        if (dns_name_equal(cl->f[i].apex, apex)) return &cl->f[i];
    return NULL;
}

static int claim(struct zf_claims *cl, const char *path, size_t src, const uint8_t *apex)
{
    struct zf_file *f = realloc(cl->f, (cl->n + 1) * sizeof *f);
    if (!f) return -1;
    cl->f = f;
    f = &cl->f[cl->n];
    if (!(f->path = strdup(path))) return -1;
    f->src = src;
    memcpy(f->apex, apex, dns_name_len(apex));
    cl->n++;
    return 0;
}

static void log_outcome(const char *name, const char *path, const struct journal_reload_info *ri)
{
    switch (ri->outcome) {
    case JOURNAL_RELOAD_UNCHANGED:
        return;
    case JOURNAL_RELOAD_STARTED:
    case JOURNAL_RELOAD_NO_JOURNAL:
        log_error("reload: %s: the zone file's version is served, serial %u -> %u (%s)", name,
                  ri->old_serial, ri->new_serial, path);
        return;
    case JOURNAL_RELOAD_FILE_WINS:
        log_error("reload: %s: the zone file wins, serial %u -> %u, %llu journal entries "
                  "dropped (%s)",
                  name, ri->old_serial, ri->new_serial, (unsigned long long)ri->entries, path);
        return;
    case JOURNAL_RELOAD_ON_TOP:
        log_error("reload: %s: the zone file's edit is served with the journal's %llu change "
                  "sets%s on top, serial %u -> %u (%s)",
                  name, (unsigned long long)ri->entries,
                  ri->from_snapshot ? " after its snapshot" : "", ri->old_serial, ri->new_serial,
                  path);
        return;
    }
}

static struct zone *take_retired(struct eon_zonefiles *zf, const uint8_t *apex)
{
    for (size_t i = 0; i < zf->nretired; i++)
        if (dns_name_equal(zf->retired[i]->apex, apex)) {
            struct zone *z = zf->retired[i];
            zf->retired[i] = zf->retired[--zf->nretired];
            return z;
        }
    return NULL;
}

static void add_name(struct eon_reload_result *r, const char *name)
{
    char(*a)[DNS_NAME_TEXT_MAX] = realloc(r->added, (r->nadded + 1) * sizeof *a);
    if (!a) {
        log_error("reload: %s: out of memory: its capability files are not written", name);
        return;
    }
    r->added = a;
    snprintf(a[r->nadded++], DNS_NAME_TEXT_MAX, "%s", name);
}

/* A zone this read serves that the set does not have: one that left it
 * earlier comes back (its journal rule as for a served zone), else a new
 * one (the journal replayed as at start). fv is consumed. */
static int serve_new(struct eon_zonefiles *zf, struct journal *j, struct zf_cand *c, struct err *e)
{
    struct zone_version *fv = c->v;
    c->v = NULL;
    struct zone *z = take_retired(zf, fv->apex);
    struct journal_reload_info ri = {0};
    if (z) {
        if (journal_reload(j, z, fv, &ri, e) < 0) {
            zf->retired[zf->nretired++] = z; /* the slot it had is still there */
            return -1;
        }
    } else {
        struct zone_version *out = NULL;
        struct journal_replay_info info = {0};
        if (j && journal_replay(j, fv, &out, &info, e) < 0) {
            zone_version_free(fv);
            return -1;
        }
        if (out) {
            zone_version_free(fv);
            fv = out;
        }
        ri.entries = info.entries;
        if (!(z = zone_new(fv, e))) return -1;
        zone_set_apex_as_written(z, c->as_written);
    }
    char name[DNS_NAME_TEXT_MAX];
    ztext(z->apex_as_written, name);
    /* Under the lock: a zone that comes back may have updates in flight,
     * and this thread is no RCU reader. */
    zone_lock(z);
    uint32_t serial = zone_current(z)->serial;
    zone_unlock(z);
    if (zone_set_add(zf->zones, z, e) < 0) {
        /* Keep a zone that was served once: pointers to it may exist. */
        struct zone **r = realloc(zf->retired, (zf->nretired + 1) * sizeof *r);
        if (r) {
            zf->retired = r;
            zf->retired[zf->nretired++] = z;
        }
        return -1;
    }
    if (ri.entries)
        log_error("reload: %s: now served from %s, serial %u (%llu journal change sets "
                  "replayed)",
                  name, c->path, serial, (unsigned long long)ri.entries);
    else
        log_error("reload: %s: now served from %s, serial %u", name, c->path, serial);
    add_name(&zf->res, name);
    return 0;
}

static void retire(struct eon_zonefiles *zf, const struct zf_file *f)
{
    struct zone **r = realloc(zf->retired, (zf->nretired + 1) * sizeof *r);
    if (!r) {
        log_error("reload: out of memory: %s stays served", f->path);
        return;
    }
    zf->retired = r;
    struct zone *z = zone_set_remove(zf->zones, f->apex);
    if (!z) return; /* already gone (served twice before), or out of memory: stays */
    zf->retired[zf->nretired++] = z;
    zf->res.removed++;
    char name[DNS_NAME_TEXT_MAX];
    ztext(z->apex_as_written, name);
    log_error("reload: %s: no longer served (%s is gone); its capability files are kept and "
              "answer that it is no longer served",
              name, f->path);
}

/* Whether the zone apex was served from one of our files before this read. */
static bool from_file(const struct eon_zonefiles *zf, const uint8_t *apex)
{
    for (size_t k = 0; k < zf->nfiles; k++)
        if (dns_name_equal(zf->files[k].apex, apex)) return true;
    return false;
}

static void reread(struct eon_zonefiles *zf, struct journal *j)
{
    struct eon_reload_result *res = &zf->res;
    struct zf_scan s;
    struct zf_claims cl = {0};
    struct err e;
    if (scan(zf, &s, false, &e) < 0) {
        log_error("reload: %s; nothing changed", e.msg);
        scan_free(&s);
        res->failed++;
        return;
    }
    res->files = s.n;
    for (size_t i = 0; i < s.n; i++) {
        struct zf_cand *c = &s.c[i];
        if (zone_load_file_as_written(c->path, NULL, &c->v, c->as_written, &e) < 0) {
            c->v = NULL;
            log_error("reload: %s; the zone keeps its served version", e.msg);
            res->failed++;
        }
    }
    /* What cannot be read now keeps what it served: a file that failed, and
     * every file of a directory that could not be listed. */
    for (size_t k = 0; k < zf->nfiles; k++) {
        const struct zf_file *f = &zf->files[k];
        bool keep = s.dir_failed[f->src];
        for (size_t i = 0; i < s.n && !keep; i++)
            keep = !s.c[i].v && !strcmp(s.c[i].path, f->path);
        if (keep && !claimed(&cl, f->apex) && claim(&cl, f->path, f->src, f->apex) < 0)
            log_error("reload: out of memory");
    }
    const struct zone_set *zs = zone_set_current(zf->zones); /* see reload.h: Threads */
    for (size_t i = 0; i < s.n; i++) {
        struct zf_cand *c = &s.c[i];
        if (!c->v) continue;
        char name[DNS_NAME_TEXT_MAX];
        ztext(c->as_written, name);
        const struct zf_file *other = claimed(&cl, c->v->apex);
        if (other) {
            log_error("reload: %s: zone %s is already served from %s; this file is ignored",
                      c->path, name, other->path);
            res->failed++;
            continue;
        }
        struct zone *z = zone_set_get(zs, c->v->apex);
        if (z && !from_file(zf, c->v->apex)) {
            /* A secondary's zone (--primary) or an -a zone: its content
             * comes from elsewhere, a file must not overwrite it. */
            log_error("reload: %s: zone %s is served by this capd otherwise (a secondary of "
                      "--primary, or -a); this file is ignored",
                      c->path, name);
            res->failed++;
            continue;
        }
        if (claim(&cl, c->path, c->src, c->v->apex) < 0) {
            log_error("reload: %s: out of memory", c->path);
            res->failed++;
            continue;
        }
        const char *then = "the zone keeps its served version";
        int rc;
        if (z) {
            struct zone_version *fv = c->v;
            struct journal_reload_info ri;
            c->v = NULL;
            rc = journal_reload(j, z, fv, &ri, &e);
            if (rc == 0) log_outcome(name, c->path, &ri);
            if (rc == 0 && ri.outcome != JOURNAL_RELOAD_UNCHANGED) res->changed++;
        } else {
            rc = serve_new(zf, j, c, &e);
            zs = zone_set_current(zf->zones);
            then = "the zone is not served";
        }
        if (rc < 0) {
            log_error("reload: %s: %s; %s", c->path, e.msg, then);
            res->failed++;
        }
    }
    for (size_t k = 0; k < zf->nfiles; k++)
        if (!claimed(&cl, zf->files[k].apex)) retire(zf, &zf->files[k]);
    for (size_t k = 0; k < zf->nfiles; k++)
        free(zf->files[k].path);
    free(zf->files);
    zf->files = cl.f;
    zf->nfiles = cl.n;
    scan_free(&s);
}

/* ---- the state machine (loop thread) ---- */

static void work(uv_work_t *w)
{
    struct eon_zonefiles *zf = w->data;
    reread(zf, zf->j);
}

static int queue(struct eon_zonefiles *zf, uv_loop_t *loop, struct err *e);

static void after_work(uv_work_t *w, int status)
{
    struct eon_zonefiles *zf = w->data;
    struct eon_reload_result *r = &zf->res;
    if (status == 0) {
        /* Apply first: "reload: done" is what an operator (and
         * e2e/reload) waits for, so an added zone's cap files must exist
         * by then. */
        zf->apply(zf->apply_ud, r);
        log_error("reload: done: %zu zone files, %zu changed, %zu added, %zu removed, %zu failed",
                  r->files, r->changed, r->nadded, r->removed, r->failed);
    }
    free(r->added);
    memset(r, 0, sizeof *r);
    struct err e;
    if (zf->state == ZF_RUNNING_AGAIN && !zf->stopping) {
        zf->state = ZF_RUNNING;
        if (queue(zf, w->loop, &e) == 0) return;
        log_error("reload: %s", e.msg);
    }
    zf->state = ZF_IDLE;
    zf->done(zf->done_ud);
}

static int queue(struct eon_zonefiles *zf, uv_loop_t *loop, struct err *e)
{
    zf->work.data = zf;
    int rc = uv_queue_work(loop, &zf->work, work, after_work);
    return rc ? err_set(e, "cannot start a reload: %s", uv_strerror(rc)) : 0;
}

int eon_zonefiles_reload(struct eon_zonefiles *zf, uv_loop_t *loop, struct journal *j,
                         eon_reload_apply_fn apply, void *apply_ud, eon_reload_done_fn done,
                         void *done_ud, struct err *e)
{
    if (zf->stopping) return err_set(e, "capd is stopping");
    if (zf->state != ZF_IDLE) {
        log_info("reload: one is running; another follows it");
        zf->state = ZF_RUNNING_AGAIN;
        return 0;
    }
    zf->j = j;
    zf->apply = apply;
    zf->apply_ud = apply_ud;
    zf->done = done;
    zf->done_ud = done_ud;
    if (queue(zf, loop, e) < 0) return -1;
    zf->state = ZF_RUNNING;
    return 0;
}

void eon_zonefiles_stop(struct eon_zonefiles *zf)
{
    if (zf) zf->stopping = true;
}
