/* Unit tests for the state dir: layout, modes, locking, name safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eon/state.h"
#include "util/atomicfile.h"

static char tmpl[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpl, "/tmp/ceon-state-XXXXXX");
    return mkdtemp(tmpl) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    return system(cmd) == 0 ? 0 : -1;
}

static mode_t mode_of(const char *p)
{
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    return sb.st_mode & 0777;
}

static void layout_and_modes(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/var/lib/eon", tmpl);
    struct eon_state st;
    struct err e = {0};
    umask(022); /* the usual one: directories come out exactly 0750, as eon makes them */
    assert_int_equal(eon_state_open(&st, dir, &e), 0);
    assert_int_equal(mode_of(dir), 0750);
    assert_int_equal(mode_of(st.caps_domain), 0750);
    assert_int_equal(mode_of(st.caps_primary), 0750);
    assert_int_equal(mode_of(st.store), 0750);
    assert_int_equal(mode_of(st.journal), 0750);
    char challenges[160];
    snprintf(challenges, sizeof challenges, "%s/acme-challenges", dir);
    assert_int_equal(mode_of(challenges), 0750); /* made at start, not at the first record */
    char path[256];
    assert_int_equal(eon_state_write_cap(&st, EON_CAP_DOMAIN, "example.org",
                                         "capnp://insecure@127.0.0.1:7000/abc", path, sizeof path,
                                         &e),
                     0);
    char want[256];
    snprintf(want, sizeof want, "%s/caps/domain/example.org.cap", dir);
    assert_string_equal(path, want);
    assert_int_equal(mode_of(path), 0600);
    size_t len;
    char *body = read_file(path, 4096, &len, &e);
    assert_non_null(body);
    assert_string_equal(body, "capnp://insecure@127.0.0.1:7000/abc");
    free(body);
    assert_int_equal(
        eon_state_write_cap(&st, EON_CAP_PRIMARY, "example.org", "u", path, sizeof path, &e), 0);
    snprintf(want, sizeof want, "%s/caps/primary/example.org.cap", dir);
    assert_string_equal(path, want);
    /* names from the network never become paths */
    assert_int_equal(eon_state_write_cap(&st, EON_CAP_DOMAIN, "../../x", "u", NULL, 0, &e), -1);
    assert_non_null(strstr(e.msg, "refusing"));
    assert_int_equal(eon_state_write_cap(&st, EON_CAP_DOMAIN, "a/b", "u", NULL, 0, &e), -1);
    eon_state_close(&st);

    /* an existing too-open dir is tightened; eon's 0750 and a stricter
     * 0700 are left as they are */
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(chmod(challenges, 0777), 0);
    assert_int_equal(eon_state_open(&st, dir, &e), 0);
    assert_int_equal(mode_of(dir), 0750);
    assert_int_equal(mode_of(challenges), 0750);
    eon_state_close(&st);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(eon_state_open(&st, dir, &e), 0);
    assert_int_equal(mode_of(dir), 0700);
    eon_state_close(&st);
}

static void refuses_unusable(void **state)
{
    (void)state;
    char file[128];
    snprintf(file, sizeof file, "%s/plainfile", tmpl);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct eon_state st;
    struct err e = {0};
    assert_int_equal(eon_state_open(&st, file, &e), -1);
    assert_non_null(strstr(e.msg, "plainfile"));

    char dir[128];
    snprintf(dir, sizeof dir, "%s/s2", tmpl);
    assert_int_equal(mkdir(dir, 0700), 0);
    char caps[160];
    snprintf(caps, sizeof caps, "%s/caps", dir);
    assert_int_equal(symlink("/tmp", caps), 0);
    assert_int_equal(eon_state_open(&st, dir, &e), -1);
    assert_non_null(strstr(e.msg, "symbolic link"));
    /* acme-challenges, which the start-time cleanup reads, likewise: a
     * link, or a file in its place, is refused with its path named */
    assert_int_equal(unlink(caps), 0);
    char challenges[160], want[256];
    snprintf(challenges, sizeof challenges, "%s/acme-challenges", dir);
    assert_int_equal(symlink("/tmp", challenges), 0);
    assert_int_equal(eon_state_open(&st, dir, &e), -1);
    snprintf(want, sizeof want, "state dir %s: is a symbolic link; refusing to follow it",
             challenges);
    assert_string_equal(e.msg, want);
    assert_int_equal(unlink(challenges), 0);
    f = fopen(challenges, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(eon_state_open(&st, dir, &e), -1);
    snprintf(want, sizeof want, "state dir %s: exists but is not a directory", challenges);
    assert_string_equal(e.msg, want);
    assert_int_equal(eon_state_open(&st, "", &e), -1);
}

static void lock_excludes_second_capd(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/s3", tmpl);
    struct eon_state st;
    struct err e = {0};
    assert_int_equal(eon_state_open(&st, dir, &e), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* flock is per open file description: a second open in another
         * process conflicts, as a second capd would. */
        struct eon_state st2;
        struct err e2;
        int r = eon_state_open(&st2, dir, &e2);
        _exit(r == -1 && strstr(e2.msg, "in use by another capd") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    eon_state_close(&st);
    assert_int_equal(eon_state_open(&st, dir, &e), 0);
    eon_state_close(&st);
}

static void name_safety(void **state)
{
    (void)state;
    assert_true(eon_name_file_safe("example.org"));
    assert_true(eon_name_file_safe("test.example.org"));
    assert_true(eon_name_file_safe("_dmarc.x-y.example"));
    assert_false(eon_name_file_safe(""));
    assert_false(eon_name_file_safe("."));
    assert_false(eon_name_file_safe(".."));
    assert_false(eon_name_file_safe("../../x"));
    assert_false(eon_name_file_safe("a/b"));
    assert_false(eon_name_file_safe("/etc"));
    assert_false(eon_name_file_safe("a..b"));
    assert_false(eon_name_file_safe("a.b."));
    assert_false(eon_name_file_safe(".a"));
    assert_false(eon_name_file_safe("a b"));
    assert_false(eon_name_file_safe("a\\b"));
    assert_false(eon_name_file_safe("a\nb"));
    char longlabel[70];
    memset(longlabel, 'a', 64);
    longlabel[64] = 0;
    assert_false(eon_name_file_safe(longlabel));
    longlabel[63] = 0;
    assert_true(eon_name_file_safe(longlabel));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(layout_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_unusable, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_excludes_second_capd, setup, teardown),
        cmocka_unit_test(name_safety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
