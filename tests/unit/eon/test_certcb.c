/* Unit tests for capc's CertCallback: the files it writes and what it
 * reports, driven by local calls through the rpc object API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eon/certcb.h"
#include "eon/gen/eon.capnp.h"
#include "util/atomicfile.h"

#define LEAF "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
#define INTER "-----BEGIN CERTIFICATE-----\nINTER\n-----END CERTIFICATE-----\n"

static char tmp[64];

static void call_register(struct rpc_cap *cb, bool success, const char *error, const char *cert,
                          const char *key, bool renewed)
{
    struct rpc_req *req = rpc_req_new(cb, eon_CertCallback_ID, eon_CertCallback_register_ORDINAL);
    eon_CertCallback_register_Params_B p =
        eon_CertCallback_register_Params_init_ptr(rpc_req_params(req));
    eon_CertCallback_register_Params_set_success(p, success);
    if (error) eon_CertCallback_register_Params_set_error(p, error, (uint32_t)strlen(error));
    if (cert) eon_CertCallback_register_Params_set_cert(p, cert, (uint32_t)strlen(cert));
    if (key) eon_CertCallback_register_Params_set_key(p, key, (uint32_t)strlen(key));
    eon_CertCallback_register_Params_set_renewed(p, renewed);
    struct err e;
    struct rpc_response *r = rpc_call_wait(req, 1000, &e);
    if (!r) fail_msg("register: %s", e.msg);
    rpc_response_free(r);
}

static char *slurp(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    struct err e;
    char *s = read_file(path, 1 << 20, &len, &e);
    if (!s) fail_msg("%s", e.msg);
    return s;
}

static void writes_files(void **state)
{
    (void)state;
    strcpy(tmp, "/tmp/ceon-certcb-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    char dir[128];
    snprintf(dir, sizeof dir, "%s/certs/test.example.org", tmp);
    char *outbuf = NULL;
    size_t outlen = 0;
    FILE *out = open_memstream(&outbuf, &outlen);
    struct eon_certcb_state st = {.cert_dir = dir, .domain = "test.example.org", .out = out};
    struct rpc_cap *cb = eon_certcb_new(&st);

    call_register(cb, true, NULL, LEAF INTER, "KEY", false);
    assert_false(st.failed);
    assert_int_equal(st.updated, 1);
    char *s = slurp(dir, "fullchain.pem");
    assert_string_equal(s, LEAF INTER);
    free(s);
    s = slurp(dir, "cert.pem");
    assert_string_equal(s, LEAF);
    free(s);
    s = slurp(dir, "chain.pem");
    assert_string_equal(s, INTER);
    free(s);
    s = slurp(dir, "key.pem");
    assert_string_equal(s, "KEY");
    free(s);
    struct stat sb;
    char path[256];
    snprintf(path, sizeof path, "%s/key.pem", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640); /* as eon's capc */
    snprintf(path, sizeof path, "%s/renewed", dir);
    assert_int_equal(stat(path, &sb), -1);

    call_register(cb, true, NULL, LEAF, "KEY2", true);
    assert_int_equal(st.renewed, 1);
    assert_int_equal(stat(path, &sb), 0);
    s = slurp(dir, "chain.pem");
    assert_string_equal(s, "");
    free(s);

    /* capc called again after capd restarted: the same certificate from
     * disk is not news; another one is a renewal it missed. */
    call_register(cb, true, NULL, LEAF, "KEY2", false);
    assert_int_equal(st.renewed, 1);
    assert_int_equal(st.updated, 1);
    call_register(cb, true, NULL, INTER LEAF, "KEY3", false);
    assert_int_equal(st.renewed, 2);

    fflush(out);
    assert_string_equal(outbuf, "Updated certificate for test.example.org\n"
                                "Renewed certificate for test.example.org\n"
                                "Renewed certificate for test.example.org\n");

    call_register(cb, true, NULL, "not a certificate", "KEY", false);
    assert_true(st.failed);
    assert_non_null(strstr(st.error, "not a PEM certificate chain"));

    st.failed = false;
    call_register(cb, false, "DNS-01 challenge failed", NULL, NULL, false);
    assert_true(st.failed);
    assert_string_equal(st.error, "DNS-01 challenge failed");

    rpc_cap_unref(cb);
    fclose(out);
    free(outbuf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
