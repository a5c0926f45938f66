/*
 * replica_files: a secondary's files in STATE/caps/secondary/ZONE/ and its
 * registration (docs/replication.md, docs/state-dir.md).
 *
 *   BASE.cap     its Secondary capability's URI (0600, atomic)
 *   BASE.serial  the serial it is known to have, in decimal (0600, atomic
 *                rename without fsync: a stale or lost value only costs
 *                one full transfer)
 *
 * BASE is eon_secondary_base_name's HOST_PORT_HASH for secondaries that
 * register with this capd; eon names its files HOST.cap, which are read
 * as well.
 */
#include "eon/replica_int.h"
#include "eon/gen/eon.capnp.h"
#include "rpc/gen/persistent.capnp.h"
#include "util/atomicfile.h"
#include "util/log.h"
#include "util/xalloc.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int replica_save_serial(struct replica *r, struct err *e)
{
    char path[4400], tmp[4400], text[16];
    snprintf(path, sizeof path, "%s/%s.serial", r->zone->dir, r->base);
    snprintf(tmp, sizeof tmp, "%s/.%s.serial.tmp", r->zone->dir, r->base);
    int n = snprintf(text, sizeof text, "%u\n", r->acked);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return err_set(e, "%s: %s", tmp, strerror(errno));
    bool ok = write(fd, text, (size_t)n) == n;
    int saved = errno;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        if (ok) saved = errno;
        unlink(tmp);
        return err_set(e, "%s: %s", path, strerror(saved));
    }
    return 0;
}

static char *read_trimmed(const char *path, struct err *e)
{
    size_t len;
    char *s = read_file(path, 4096, &len, e);
    if (!s) return NULL;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = 0;
    return s;
}

static struct replica *find_uri(struct repl_zone *z, const char *uri)
{
    for (struct replica *r = z->replicas; r; r = r->next)
        if (strcmp(r->uri, uri) == 0) return r;
    return NULL;
}

static struct replica *find_base(struct repl_zone *z, const char *base)
{
    for (struct replica *r = z->replicas; r; r = r->next)
        if (strcmp(r->base, base) == 0) return r;
    return NULL;
}

/* One BASE.cap file at start: a queue that connects and catches up. */
static void load_one(struct repl_zone *z, const char *file)
{
    char path[4400], base[EON_SECONDARY_BASE_MAX];
    size_t l = strlen(file);
    if (l < 5 || l - 4 >= sizeof base || strcmp(file + l - 4, ".cap") != 0) return;
    snprintf(base, sizeof base, "%.*s", (int)(l - 4), file);
    snprintf(path, sizeof path, "%s/%s", z->dir, file);
    struct err e;
    struct sturdy_ref ref;
    char *uri = read_trimmed(path, &e);
    if (!uri || sturdy_parse(uri, &ref, &e) < 0) {
        log_error("secondary %s of %s: %s: %s (ignored)", base, z->name, path, e.msg);
        free(uri);
        return;
    }
    if (find_uri(z, uri) || find_base(z, base) || z->n >= EON_REPL_MAX_SECONDARIES) {
        log_error("secondary %s of %s: %s: %s (ignored)", base, z->name, path,
                  z->n >= EON_REPL_MAX_SECONDARIES ? "too many secondaries"
                                                   : "the same capability as another file");
        free(uri);
        return;
    }
    struct replica *r = replica_new(z, base, uri);
    free(uri);
    snprintf(path, sizeof path, "%s/%s.serial", z->dir, base);
    char *serial = read_trimmed(path, &e);
    char *end = NULL;
    unsigned long v = serial ? strtoul(serial, &end, 10) : 0;
    if (serial && end != serial && !*end && v <= UINT32_MAX) {
        r->acked = (uint32_t)v;
        r->acked_known = true;
    }
    free(serial);
    if (r->acked_known)
        log_info("secondary %s of %s: from %s, at serial %u", base, z->name, z->dir, r->acked);
    else
        log_info("secondary %s of %s: from %s, serial unknown", base, z->name, z->dir);
    replica_schedule_connect(r, 0);
}

int repl_zone_load(struct repl_zone *z, struct err *e)
{
    DIR *d = opendir(z->dir);
    if (!d) return err_set(e, "%s: %s", z->dir, strerror(errno));
    /* Sorted, so the order (and which of two files for one capability
     * wins) does not depend on the file system. */
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (strcmp(names[k], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[k];
                names[k] = t;
            }
    for (size_t i = 0; i < n; i++) {
        load_one(z, names[i]);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* ------------------------------------------------------------ registration */

struct reg {
    struct repl_zone *z;
    struct rpc_call *call;
    struct rpc_cap *cap;
};

static int store(struct repl_zone *z, const char *uri, struct rpc_cap *cap, struct err *e)
{
    struct sturdy_ref ref;
    if (sturdy_parse(uri, &ref, e) < 0) return err_prefix(e, "the secondary's sturdy ref");
    uint8_t digest[32];
    SHA256((const unsigned char *)uri, strlen(uri), digest);
    char base[EON_SECONDARY_BASE_MAX];
    eon_secondary_base_name(ref.kind == STURDY_TCP ? ref.host : "unix", ref.port, digest, base);
    struct replica *r = find_uri(z, uri);
    if (!r) r = find_base(z, base);
    if (!r && z->n >= EON_REPL_MAX_SECONDARIES)
        return err_set(e,
                       "zone %s already has %d secondaries, the most capd keeps; remove the "
                       "files of one that is gone from %s",
                       z->name, EON_REPL_MAX_SECONDARIES, z->dir);
    const char *b = r ? r->base : base;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.cap", z->dir, b);
    if (atomic_write_file(path, uri, strlen(uri), 0600, e) < 0) return -1;
    if (!r) {
        r = replica_new(z, base, uri);
    } else if (strcmp(r->uri, uri) != 0) {
        free(r->uri);
        r->uri = xstrdup(uri);
    }
    if (r->acked_known)
        log_info("secondary %s of %s: registered (%s), at serial %u", r->base, z->name, path,
                 r->acked);
    else
        log_info("secondary %s of %s: registered (%s), serial unknown", r->base, z->name, path);
    replica_attach(r, rpc_cap_ref(cap));
    replica_step(r);
    return 0;
}

static void on_saved(void *ud, struct rpc_response *resp)
{
    struct reg *g = ud;
    struct err e;
    char *uri = NULL;
    if (resp->error) {
        err_set(&e, "Persistent.save on the secondary failed: %s", resp->error);
    } else {
        capnp_text t = capnp_ptr_r_text(persistent_Persistent_SaveResults_get_sturdyRef(
            persistent_Persistent_SaveResults_from_ptr(resp->content)));
        if (!t.str || t.len == 0 || t.len > 4000 || strlen(t.str) != t.len)
            err_set(&e, "Persistent.save on the secondary returned no usable sturdy ref");
        else
            uri = xstrdup(t.str);
    }
    rpc_response_free(resp);
    if (uri && g->z->repl->stopping) {
        err_set(&e, "capd is stopping");
        free(uri);
        uri = NULL;
    }
    if (!uri || store(g->z, uri, g->cap, &e) < 0) {
        log_error("Primary(%s).registerSeconday: %s", g->z->name, e.msg);
        rpc_call_fail(g->call, "cannot register the secondary: %s", e.msg);
    } else {
        rpc_call_return(g->call);
    }
    free(uri);
    rpc_cap_unref(g->cap);
    free(g);
}

void eon_repl_register(struct eon_repl *rp, const char *name, struct rpc_cap *secondary,
                       struct rpc_call *call)
{
    struct repl_zone *z = repl_zone_find(rp, name);
    if (!z || rp->stopping) {
        rpc_call_fail(call, "cannot register a secondary of %s: %s", name,
                      z ? "capd is stopping" : "this capd keeps no state for it");
        rpc_cap_unref(secondary);
        return;
    }
    struct reg *g = xcalloc(1, sizeof *g);
    g->z = z;
    g->call = call;
    g->cap = secondary;
    /* Asynchronous: the secondary answers save while its own registration
     * call (this one) is still pending. */
    struct rpc_req *req = rpc_req_new(secondary, RPC_PERSISTENT_ID, RPC_PERSISTENT_SAVE);
    capnp_ptr_b_init_struct(rpc_req_params(req), 0, 0);
    rpc_promise_unref(rpc_req_send(req, on_saved, g));
}
