/* Unit tests of eon/reload.h: which files of a -z directory are zone files,
 * what a re-read adds, keeps and removes, and that requests coalesce. Run
 * without a journal (the journal side is tests/unit/dns/test_journal_reload.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dns/name.h"
#include "dns/zone.h"
#include "eon/reload.h"

struct fx {
    char dir[64];
    char zdir[96];
    struct zone_set_handle zones;
    unsigned applied, done;
    size_t added_last;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/ceon-reload-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->zdir, sizeof f->zdir, "%s/zones", f->dir);
    if (mkdir(f->zdir, 0700) < 0) return -1;
    zone_set_handle_init(&f->zones);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    char cmd[128];
    zone_set_handle_destroy(&f->zones);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

/* Writes zone `apex` (with the www address given) to DIR/name. */
static void put(struct fx *f, const char *name, const char *apex, const char *www)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", f->zdir, name);
    FILE *o = fopen(p, "w");
    assert_non_null(o);
    fprintf(o, "$ORIGIN %s.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n", apex);
    if (www) fprintf(o, "www A %s\n", www);
    fclose(o);
}

static const struct zone *served(struct fx *f, const char *apex)
{
    uint8_t w[DNS_NAME_MAX];
    struct err e;
    assert_true(dns_name_from_text(apex, NULL, w, &e) > 0);
    return zone_set_get(zone_set_current(&f->zones), w);
}

static bool has_www(const struct zone *z, const char *apex)
{
    char n[300];
    uint8_t w[DNS_NAME_MAX];
    struct err e;
    snprintf(n, sizeof n, "www.%s.", apex);
    int len = dns_name_from_text(n, NULL, w, &e);
    return zone_version_find(zone_current(z), w, (size_t)len) != NULL;
}

static void on_apply(void *ud, const struct eon_reload_result *r)
{
    struct fx *f = ud;
    f->applied++;
    f->added_last = r->nadded;
}
static void on_done(void *ud)
{
    ((struct fx *)ud)->done++;
}

/* One re-read (or several, coalesced) run to the end on a private loop. */
static void reread(struct fx *f, struct eon_zonefiles *zf, int requests)
{
    uv_loop_t loop;
    struct err e;
    uv_loop_init(&loop);
    f->applied = f->done = 0;
    for (int i = 0; i < requests; i++)
        if (eon_zonefiles_reload(zf, &loop, NULL, on_apply, f, on_done, f, &e) < 0)
            fail_msg("%s", e.msg);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    assert_int_equal(f->done, 1);
}

static void test_directory(void **st)
{
    struct fx *f = *st;
    put(f, "b.zone", "example.net", "192.0.2.2");
    put(f, "a.zone", "example.org", "192.0.2.1");
    put(f, ".hidden", "example.com", NULL); /* starts with a dot: not a zone file */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/subdir", f->zdir);
    assert_int_equal(mkdir(sub, 0700), 0); /* not a regular file */
    const char *paths[] = {f->zdir};
    struct eon_zonefiles *zf;
    struct err e;
    if (eon_zonefiles_open(paths, 1, &f->zones, &zf, &e) < 0) fail_msg("%s", e.msg);
    const struct zone_set *zs = zone_set_current(&f->zones);
    assert_int_equal(zs->n, 2);
    /* In name order: a.zone first. */
    assert_true(dns_name_equal(zs->zones[0]->apex, (const uint8_t *)"\7example\3org"));
    assert_null(served(f, "example.com."));

    /* Edit one, add one, break none: one changed, one added. */
    put(f, "a.zone", "example.org", "192.0.2.9");
    put(f, "c.zone", "example.com", NULL);
    reread(f, zf, 1);
    assert_int_equal(f->applied, 1);
    assert_int_equal(f->added_last, 1);
    assert_non_null(served(f, "example.com."));
    /* A broken file keeps its zone; a removed one's zone leaves the set. */
    const struct zone *net = served(f, "example.net."), *com = served(f, "example.com.");
    char p[256];
    snprintf(p, sizeof p, "%s/b.zone", f->zdir);
    FILE *o = fopen(p, "a");
    fputs("this is not a record\n", o);
    fclose(o);
    snprintf(p, sizeof p, "%s/c.zone", f->zdir);
    assert_int_equal(unlink(p), 0);
    reread(f, zf, 1);
    assert_ptr_equal(served(f, "example.net."), net);
    assert_true(has_www(net, "example.net"));
    assert_null(served(f, "example.com."));
    /* Back again: the same struct zone (capabilities hold pointers to it). */
    put(f, "c.zone", "example.com", NULL);
    reread(f, zf, 1);
    assert_ptr_equal(served(f, "example.com."), com);
    assert_int_equal(f->added_last, 1);
    /* The same zone in a second file is ignored, the first keeps it. */
    put(f, "d.zone", "example.org", NULL);
    reread(f, zf, 1);
    assert_true(has_www(served(f, "example.org."), "example.org"));
    eon_zonefiles_free(zf);
}

/* A zone served otherwise (a secondary's, -a) is not taken over by a file
 * that appears for it in a -z directory: its content comes from elsewhere. */
static void test_zone_served_otherwise(void **st)
{
    struct fx *f = *st;
    put(f, "a.zone", "example.org", NULL);
    const char *paths[] = {f->zdir};
    struct eon_zonefiles *zf;
    struct err e;
    if (eon_zonefiles_open(paths, 1, &f->zones, &zf, &e) < 0) fail_msg("%s", e.msg);
    uint8_t apex[DNS_NAME_MAX];
    assert_true(dns_name_from_text("example.net.", NULL, apex, &e) > 0);
    struct zone_version *v;
    assert_int_equal(zone_synthesize(apex, 7, &v, &e), 0);
    struct zone *other = zone_new(v, &e);
    assert_non_null(other);
    assert_int_equal(zone_set_add(&f->zones, other, &e), 0);
    put(f, "b.zone", "example.net", "192.0.2.2");
    reread(f, zf, 1);
    assert_ptr_equal(served(f, "example.net."), other);
    assert_false(has_www(other, "example.net"));
    assert_int_equal(zone_current(other)->serial, 7);
    /* Nor later, once the file has been seen. */
    reread(f, zf, 1);
    assert_false(has_www(other, "example.net"));
    eon_zonefiles_free(zf);
    zone_set_remove(&f->zones, apex);
    zone_free(other);
}

static void test_coalesced(void **st)
{
    struct fx *f = *st;
    put(f, "a.zone", "example.org", NULL);
    const char *paths[] = {f->zdir};
    struct eon_zonefiles *zf;
    struct err e;
    if (eon_zonefiles_open(paths, 1, &f->zones, &zf, &e) < 0) fail_msg("%s", e.msg);
    /* Three requests while the first runs: one more re-read, one done. */
    reread(f, zf, 4);
    assert_int_equal(f->applied, 2);
    /* Stopping: a pending one is not started. */
    eon_zonefiles_stop(zf);
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(eon_zonefiles_reload(zf, &loop, NULL, on_apply, f, on_done, f, &e), -1);
    uv_loop_close(&loop);
    eon_zonefiles_free(zf);
}

static void test_start_errors(void **st)
{
    struct fx *f = *st;
    put(f, "a.zone", "example.org", NULL);
    put(f, "b.zone", "example.org", NULL);
    const char *paths[] = {f->zdir};
    struct eon_zonefiles *zf;
    struct err e;
    /* The same zone twice at start: capd does not start. */
    assert_int_equal(eon_zonefiles_open(paths, 1, &f->zones, &zf, &e), -1);
    assert_non_null(strstr(e.msg, "b.zone"));
    const char *missing[] = {"/nonexistent/zone"};
    assert_int_equal(eon_zonefiles_open(missing, 1, &f->zones, &zf, &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/zone"));
}

int main(void)
{
    /* This thread is no RCU reader: it reads the zone set only when no
     * re-read runs (after uv_run), so nothing frees what it reads. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_served_otherwise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
