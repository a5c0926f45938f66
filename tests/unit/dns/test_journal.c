/* Unit tests of the update journal (dns/journal.h): append and replay,
 * compaction, corrupt entries, the IXFR iterator, serial
 * wrap, and a SIGKILL crash test repeated 20 times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns/journal.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "dns/zone.h"
#include "util/buf.h"

#include "journal_fixture.h"

static void test_append_replay(void **st)
{
    struct fixture *f = *st;
    struct journal_replay_info info;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 10, "", &info);
    assert_true(info.started);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 25; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 35);
    /* A failing update appends nothing. */
    struct dns_update bad = {DNS_UPDATE_REMOVE_RRSET, APEX, DNS_T_SOA, 0, NULL, 0};
    assert_int_equal(dns_update_apply(z, APEX, NULL, 0, &bad, 1, j, &s, &e), -1);
    uint32_t js;
    assert_true(journal_serial(j, APEX, &js));
    assert_int_equal(js, 35);
    uint64_t want = zone_version_hash(zone_current(z));
    zone_free(z);
    journal_close(j);

    j = jopen(f->dir);
    z = start(j, 10, "", &info);
    assert_false(info.started || info.dropped || info.content_changed || info.from_snapshot);
    assert_int_equal(info.entries, 25);
    assert_int_equal(info.serial, 35);
    assert_int_equal(zone_current(z)->serial, 35);
    assert_true(zone_version_hash(zone_current(z)) == want);
    assert_true(present(zone_current(z), "b-%u.example.org.", 24));
    /* Appends continue where the journal left off. */
    if (update(z, j, 100, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 36);
    /* The journal refuses a change set that does not start at its serial. */
    struct dns_change c = {
        DNS_CHANGE_DEL_NAME, (const uint8_t *)"\1x\7example\3org", 0, 0, 0, NULL};
    assert_int_equal(journal_append(j, APEX, 30, 31, &c, 1, &e), -1);
    assert_string_equal(e.msg, "the journal of example.org is at serial 36, not 30");
    assert_int_equal(journal_append(j, (const uint8_t *)"\7example\3com", 1, 2, &c, 1, &e), -1);
    assert_string_equal(e.msg, "no journal for example.com (journal_replay was not called)");
    zone_free(z);
    journal_close(j);
}

static void test_iterator(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 0xfffffffeu, "", NULL); /* the serials wrap */
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 5; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    assert_int_equal(s, 3);
    struct journal_iter *it;
    assert_int_equal(journal_iter_open(j, APEX, 0xffffffffu, &it, &e), 0);
    uint32_t from, to, expect = 0xffffffffu;
    const struct dns_change *ch;
    size_t n;
    int k = 0, r;
    while ((r = journal_iter_next(it, &from, &to, &ch, &n, &e)) == 1) {
        assert_int_equal(from, expect);
        assert_int_equal(to, serial_next(expect));
        assert_int_equal(n, 2);
        assert_int_equal(ch[0].op, DNS_CHANGE_ADD);
        expect = to;
        k++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(k, 4);
    journal_iter_close(it);
    /* Up to date: nothing to send. */
    assert_int_equal(journal_iter_open(j, APEX, 3, &it, &e), 0);
    assert_int_equal(journal_iter_next(it, &from, &to, &ch, &n, &e), 0);
    journal_iter_close(it);
    /* Unknown serial: the caller must send the whole zone. */
    assert_int_equal(journal_iter_open(j, APEX, 12345, &it, &e), 1);
    /* Deletions carry the deleted RR and its TTL (enough for an IXFR). */
    struct dns_update rm = {
        DNS_UPDATE_REMOVE_RRSET, (const uint8_t *)"\3a-0\7example\3org", DNS_T_A, 0, NULL, 0};
    assert_int_equal(dns_update_apply(z, APEX, NULL, 0, &rm, 1, j, &s, &e), 0);
    assert_int_equal(journal_iter_open(j, APEX, 3, &it, &e), 0);
    assert_int_equal(journal_iter_next(it, &from, &to, &ch, &n, &e), 1);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0].op, DNS_CHANGE_DEL);
    assert_int_equal(ch[0].ttl, 300);
    assert_int_equal(ch[0].rdlen, 4);
    assert_memory_equal(ch[0].rdata, "\12\0\0\0", 4);
    assert_int_equal(journal_iter_next(it, &from, &to, &ch, &n, &e), 0);
    journal_iter_close(it);
    zone_free(z);
    journal_close(j);
    j = jopen(f->dir);
    struct journal_replay_info info;
    z = start(j, 0xfffffffeu, "", &info);
    assert_int_equal(info.serial, 4);
    assert_int_equal(info.entries, 6);
    zone_free(z);
    journal_close(j);
}

static void test_compaction(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    journal_set_limits(j, 10, 0);
    struct zone *z = start(j, 1, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 47; i++) {
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
        journal_background_wait(j); /* each compaction done before the next update */
    }
    assert_int_equal(s, 48);
    uint64_t want = zone_version_hash(zone_current(z));
    /* Compacted away: serial 1 is no longer reachable, 45 is. */
    struct journal_iter *it;
    assert_int_equal(journal_iter_open(j, APEX, 1, &it, &e), 1);
    assert_int_equal(journal_iter_open(j, APEX, 45, &it, &e), 0);
    journal_iter_close(it);
    zone_free(z);
    journal_close(j);
    j = jopen(f->dir);
    struct journal_replay_info info;
    z = start(j, 1, "", &info);
    assert_true(info.from_snapshot);
    assert_true(info.entries < 10);
    assert_int_equal(info.serial, 48);
    assert_true(zone_version_hash(zone_current(z)) == want);
    zone_free(z);
    journal_close(j);
}

/* Overwrites entry `seq` of example.org with raw bytes, behind the journal's back. */
static void corrupt(const char *dir, uint64_t seq, const void *val, size_t len)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    uint8_t kb[8];
    put_be32(kb, (uint32_t)(seq >> 32));
    put_be32(kb + 4, (uint32_t)seq);
    MDB_val k = {8, kb}, v = {len, (void *)val};
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "zone:example.org.", 0, &dbi), 0);
    assert_int_equal(mdb_put(t, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

static void expect_replay_error(const char *dir, const char *text)
{
    struct journal *j = jopen(dir);
    struct zone_version *v = load(1, ""), *out = NULL;
    struct err e;
    assert_int_equal(journal_replay(j, v, &out, NULL, &e), -1);
    assert_null(out);
    assert_string_equal(e.msg, text);
    zone_version_free(v);
    journal_close(j);
}

static void test_corrupt(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 1, "", NULL);
    uint32_t s;
    struct err e;
    for (unsigned i = 0; i < 3; i++)
        if (update(z, j, i, &s, &e) < 0) fail_msg("%s", e.msg);
    zone_free(z);
    journal_close(j);
    const char *pfx = "the journal of example.org cannot be replayed: ";
    char want[512];
    /* Truncated header. */
    corrupt(f->dir, 2, "\1\1\0\0\0\0", 6);
    snprintf(want, sizeof want, "%sentry 2: truncated entry (6 bytes)", pfx);
    expect_replay_error(f->dir, want);
    /* A newer format. */
    corrupt(f->dir, 2, "\7\1\0\0\0\0\0\2\0\0\0\3\0\0\0\0", 16);
    snprintf(want, sizeof want, "%sentry 2: entry format 7, this capd reads format 1", pfx);
    expect_replay_error(f->dir, want);
    /* A record cut short. */
    corrupt(f->dir, 2, "\1\1\0\0\0\0\0\2\0\0\0\3\0\0\0\1\0\1\0\0\1\0\0\0\0\0\4\1\2", 29);
    snprintf(want, sizeof want, "%sentry 2: record 0: truncated", pfx);
    expect_replay_error(f->dir, want);
    /* An owner of length 0 (fuzz_journal_record): refused, not read from
     * the bytes that follow it. */
    corrupt(f->dir, 2, "\1\1\0\0\0\0\0\2\0\0\0\3\0\0\0\1\0\0\0\1\0\0\0\0\0\1\5", 27);
    snprintf(want, sizeof want, "%sentry 2: record 0: bad owner name", pfx);
    expect_replay_error(f->dir, want);
    /* Serials that do not chain (entry 2 claims 5 -> 6). */
    corrupt(f->dir, 2, "\1\1\0\0\0\0\0\5\0\0\0\6\0\0\0\0", 16);
    snprintf(want, sizeof want, "%sentry 2 goes from serial 5 but the zone was at 2", pfx);
    expect_replay_error(f->dir, want);
    /* Trailing bytes. */
    corrupt(f->dir, 2, "\1\1\0\0\0\0\0\2\0\0\0\3\0\0\0\0zz", 18);
    snprintf(want, sizeof want, "%sentry 2: 2 bytes after the last record", pfx);
    expect_replay_error(f->dir, want);
    /* A change set that breaks the zone (deletes the apex: no SOA). */
    corrupt(f->dir, 2,
            "\1\1\0\0\0\0\0\2\0\0\0\3\0\0\0\1"
            "\3\15\7example\3org\0\0\6\0\0\0\0\0\0",
            39);
    snprintf(want, sizeof want,
             "%sthe replayed zone is invalid: no SOA record at the zone apex example.org.", pfx);
    expect_replay_error(f->dir, want);
}

/* The crash test: a child runs 4 threads that apply updates concurrently
 * (so group commits are in flight) and report each acknowledged update's
 * number on a pipe; it is SIGKILLed at a random moment. After replay, every
 * acknowledged update must be there, every update that is there must be
 * whole (both of its records), and the serial must count them. */
#define CRASH_THREADS 4
struct crash_arg {
    struct zone *z;
    struct journal *j;
    unsigned base;
    int fd;
};

static void *crash_worker(void *p)
{
    struct crash_arg *a = p;
    for (unsigned k = 0;; k++) {
        uint32_t s, id = a->base + k;
        struct err e;
        if (update(a->z, a->j, id, &s, &e) < 0) _exit(4);
        if (write(a->fd, &id, sizeof id) != sizeof id) _exit(5);
    }
    return NULL;
}

static void crash_child(const char *dir, int fd, unsigned round)
{
    struct journal *j;
    struct err e;
    if (journal_open(dir, &j, &e) < 0) _exit(2);
    journal_set_limits(j, 40, 0); /* compactions happen during the run too */
    struct zone_version *v = load(1, ""), *out;
    if (journal_replay(j, v, &out, NULL, &e) < 0) _exit(3);
    if (out) {
        zone_version_free(v);
        v = out;
    }
    struct zone *z = zone_new(v, &e);
    pthread_t t[CRASH_THREADS];
    struct crash_arg a[CRASH_THREADS];
    for (unsigned i = 0; i < CRASH_THREADS; i++) {
        a[i] = (struct crash_arg){z, j, round * 1000000u + i * 100000u, fd};
        pthread_create(&t[i], NULL, crash_worker, &a[i]);
    }
    pause();
    _exit(6);
}

struct count_ctx {
    unsigned a, b;
    const struct zone_version *v;
    bool whole;
};

static int count_rrset(void *ctx, const struct zone_node *n, const struct dns_rrset *s)
{
    struct count_ctx *c = ctx;
    unsigned id;
    char text[DNS_NAME_TEXT_MAX];
    dns_name_to_text(n->name, text, sizeof text);
    if (s->type == DNS_T_A && sscanf(text, "a-%u.", &id) == 1) {
        c->a++;
        c->whole = c->whole && present(c->v, "b-%u.example.org.", id);
    } else if (s->type == DNS_T_TXT && sscanf(text, "b-%u.", &id) == 1) {
        c->b++;
        c->whole = c->whole && present(c->v, "a-%u.example.org.", id);
    }
    return 0;
}

static void test_crash(void **st)
{
    struct fixture *f = *st;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint32_t *acked = NULL;
    size_t nacked = 0, cap = 0;
    for (unsigned round = 0; round < 20; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->dir, p[1], round + 1);
        }
        close(p[1]);
        struct timespec ts = {0, (long)(rand() % 150 + 5) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        uint32_t id;
        while (read(p[0], &id, sizeof id) == sizeof id) {
            if (nacked == cap) acked = realloc(acked, (cap = cap ? 2 * cap : 256) * sizeof *acked);
            acked[nacked++] = id;
        }
        close(p[0]);

        struct journal *j = jopen(f->dir);
        struct zone *z = start(j, 1, "", NULL);
        const struct zone_version *v = zone_current(z);
        for (size_t i = 0; i < nacked; i++)
            if (!present(v, "a-%u.example.org.", acked[i]))
                fail_msg("round %u: acknowledged update %u is missing", round, acked[i]);
        struct count_ctx c = {0, 0, v, true};
        zone_version_foreach(v, count_rrset, &c);
        if (!c.whole || c.a != c.b) fail_msg("round %u: an update is half applied", round);
        assert_true(c.a >= nacked);
        assert_int_equal(v->serial, 1 + c.a); /* one serial per update, none lost */
        zone_free(z);
        journal_close(j);
    }
    print_message("crash test: 20 rounds, %zu updates acknowledged in total\n", nacked);
    free(acked);
}

/* A commit failing under concurrent load: the failed updates are reported,
 * the successful ones are all there, nothing else is. */
struct fl_arg {
    struct zone *z;
    struct journal *j;
    unsigned id;
    int ok, failed;
};

static void *fl_worker(void *p)
{
    struct fl_arg *a = p;
    for (unsigned k = 0; k < 60; k++) {
        uint32_t s;
        struct err e;
        if (update(a->z, a->j, 1000 * a->id + k, &s, &e) == 0)
            a->ok++;
        else if (strncmp(e.msg, "journal: ", 9) == 0)
            a->failed++;
        else
            fail_msg("unexpected error: %s", e.msg);
    }
    return NULL;
}

static void test_commit_failure_concurrent(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 1, "", NULL);
    pthread_t t[4];
    struct fl_arg a[4];
    for (unsigned i = 0; i < 4; i++) {
        a[i] = (struct fl_arg){z, j, i, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, fl_worker, &a[i]), 0);
    }
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
    struct err e;
    assert_int_equal(journal_drop(j, APEX, &e), 0); /* every later commit fails */
    int ok = 0, failed = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
        failed += a[i].failed;
    }
    assert_int_equal(ok + failed, 240);
    const struct zone_version *v = zone_current(z);
    assert_int_equal(v->serial, 1 + ok);
    struct count_ctx c = {0, 0, v, true};
    zone_version_foreach(v, count_rrset, &c);
    assert_true(c.whole);
    assert_int_equal(c.a, ok);
    assert_null(journal_tip(j, z));
    print_message("commit failure: %d updates succeeded, %d failed\n", ok, failed);
    zone_free(z);
    journal_close(j);
}

/* Group commit: concurrent updaters share transactions, see each other's
 * uncommitted changes in prerequisites, and replay gives the same zone. */
#define THREADS 8
#define PER 40
struct gc_arg {
    struct zone *z;
    struct journal *j;
    unsigned id;
    int won; /* times this thread won the "lock" prerequisite race */
    int failed;
};

static void *gc_worker(void *p)
{
    struct gc_arg *a = p;
    struct err e;
    uint32_t s;
    for (unsigned i = 0; i < PER; i++) {
        if (update(a->z, a->j, 1000 * a->id + i, &s, &e) < 0) a->failed++;
        /* Everyone races to create lock-i; the prerequisite lets one win. */
        char name[64];
        uint8_t n[DNS_NAME_MAX], ip[4] = {10, 0, 0, (uint8_t)a->id};
        snprintf(name, sizeof name, "lock-%u.example.org.", i);
        dns_name_from_text(name, NULL, n, &e);
        struct dns_prereq pr = {DNS_PREREQ_NOT_NAME_IN_USE, n, 0, NULL, 0};
        struct dns_update u = {DNS_UPDATE_ADD, n, DNS_T_A, 60, ip, 4};
        if (dns_update_apply(a->z, APEX, &pr, 1, &u, 1, a->j, &s, &e) == 0)
            a->won++;
        else if (!strstr(e.msg, "is in use"))
            a->failed++;
    }
    return NULL;
}

static void test_group_commit(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    journal_set_limits(j, 100, 0);
    struct zone *z = start(j, 1, "", NULL);
    pthread_t t[THREADS];
    struct gc_arg a[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        a[i] = (struct gc_arg){z, j, i, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, gc_worker, &a[i]), 0);
    }
    int won = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failed, 0);
        won += a[i].won;
    }
    assert_int_equal(won, PER); /* exactly one winner per lock name */
    const struct zone_version *v = zone_current(z);
    assert_int_equal(v->serial, 1 + THREADS * PER + PER);
    for (unsigned i = 0; i < THREADS; i++)
        for (unsigned k = 0; k < PER; k++)
            assert_true(present(v, "a-%u.example.org.", 1000 * i + k) &&
                        present(v, "b-%u.example.org.", 1000 * i + k));
    uint64_t commits, entries;
    journal_counters(j, &commits, &entries);
    assert_int_equal(entries, THREADS * PER + PER);
    print_message("group commit: %llu change sets in %llu transactions\n",
                  (unsigned long long)entries, (unsigned long long)commits);
    uint64_t want = zone_version_hash(v);
    zone_free(z);
    journal_close(j);
    j = jopen(f->dir);
    struct journal_replay_info info;
    z = start(j, 1, "", &info);
    assert_int_equal(info.serial, 1 + THREADS * PER + PER);
    assert_true(zone_version_hash(zone_current(z)) == want);
    zone_free(z);
    journal_close(j);
}

/* A failing commit: nothing is published, the zone builds on its published
 * version again, and the error reaches every waiter. */
static void test_commit_failure(void **st)
{
    struct fixture *f = *st;
    struct journal *j = jopen(f->dir);
    struct zone *z = start(j, 1, "", NULL);
    uint32_t s;
    struct err e;
    if (update(z, j, 1, &s, &e) < 0) fail_msg("%s", e.msg);
    struct err de;
    assert_int_equal(journal_drop(j, APEX, &de), 0);
    assert_int_equal(update(z, j, 2, &s, &e), -1);
    assert_string_equal(e.msg,
                        "journal: no journal for example.org (journal_replay was not called)");
    assert_int_equal(zone_current(z)->serial, 2);
    assert_false(present(zone_current(z), "a-%u.example.org.", 2));
    assert_null(journal_tip(j, z));
    /* Restarting the journal from the served version makes updates work again. */
    struct journal_replay_info info;
    struct zone_version *out;
    assert_int_equal(journal_replay(j, zone_current(z), &out, &info, &e), 0);
    assert_true(info.started);
    assert_int_equal(update(z, j, 3, &s, &e), 0);
    assert_int_equal(s, 3);
    zone_free(z);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
