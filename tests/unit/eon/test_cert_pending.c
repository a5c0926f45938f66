/* Unit tests for eon/cert_pending (STATE/acme-challenges): a record written
 * parses back to what was written, forgetting removes it (and an absent
 * one is no error), and the parser refuses what capd never writes: other
 * owners, other characters, extra, repeated, missing or unterminated lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eon/cert_pending.h"
#include "util/atomicfile.h"

static const char owner[] = "_acme-challenge.www.example.org";
static const char value[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";

/* The one file in dir (its path into out), or fails. */
static void only_file(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            int l = snprintf(out, cap, "%s/%.255s", dir, de->d_name);
            assert_true(l > 0 && (size_t)l < cap);
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
}

static void record_parse_forget(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/ceon-pending.XXXXXX", dir[64], path[512];
    assert_non_null(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s/acme-challenges", tmpl);
    struct err e;
    assert_int_equal(cert_pending_record(dir, owner, value, &e), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    only_file(dir, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len;
    char *text = read_file(path, CERT_PENDING_FILE_MAX, &len, &e);
    assert_non_null(text);
    struct cert_pending p;
    assert_int_equal(cert_pending_parse(text, len, &p, &e), 0);
    assert_string_equal(p.owner, owner);
    assert_string_equal(p.value, value);
    free(text);
    /* A second value at the same owner (NAME and *.NAME) is its own file. */
    assert_int_equal(cert_pending_record(dir, owner, "other-value", &e), 0);
    assert_int_equal(cert_pending_forget(dir, owner, "other-value", &e), 0);
    only_file(dir, path, sizeof path);
    assert_int_equal(cert_pending_forget(dir, owner, value, &e), 0);
    assert_int_equal(cert_pending_forget(dir, owner, value, &e), 0); /* absent: fine */
    assert_int_equal(rmdir(dir), 0);                                 /* empty */
    assert_int_equal(rmdir(tmpl), 0);
    /* capd records only what it would remove again. */
    assert_int_equal(cert_pending_record("/nonexistent", "www.example.org", value, &e), -1);
    assert_int_equal(cert_pending_record("/nonexistent", owner, "a b", &e), -1);
}

static void parser_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "ceon-acme-challenge 2\nowner _acme-challenge.x.org\nvalue abc\n",
        "ceon-acme-challenge 1\nowner www.x.org\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.X.org\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org.\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge..org\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge./x\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue a\"b\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue \n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue abc",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\n",
        "ceon-acme-challenge 1\nvalue abc\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue abc\nvalue def\n",
        "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue abc\nextra\n",
    };
    struct cert_pending p;
    struct err e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = 0;
        if (cert_pending_parse(bad[i], strlen(bad[i]), &p, &e) == 0)
            fail_msg("accepted case %zu: %s", i, bad[i]);
        assert_true(e.msg[0] != 0);
    }
    /* A value one character longer than CERT_PENDING_VALUE_MAX. */
    char longer[200];
    int l = snprintf(longer, sizeof longer,
                     "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue %0*d\n",
                     CERT_PENDING_VALUE_MAX + 1, 0);
    assert_int_equal(cert_pending_parse(longer, (size_t)l, &p, &e), -1);
    l = snprintf(longer, sizeof longer,
                 "ceon-acme-challenge 1\nowner _acme-challenge.x.org\nvalue %0*d\n",
                 CERT_PENDING_VALUE_MAX, 0);
    assert_int_equal(cert_pending_parse(longer, (size_t)l, &p, &e), 0);
    const char good[] = "ceon-acme-challenge 1\nvalue a-b_C9\nowner _acme-challenge.x-1.org\n";
    assert_int_equal(cert_pending_parse(good, strlen(good), &p, &e), 0);
    assert_string_equal(p.owner, "_acme-challenge.x-1.org");
    assert_string_equal(p.value, "a-b_C9");
    /* The length counts, not a NUL: a short length cuts the last newline. */
    assert_int_equal(cert_pending_parse(good, strlen(good) - 1, &p, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_parse_forget),
        cmocka_unit_test(parser_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
