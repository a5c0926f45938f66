/* Unit tests for acme/json: the documents a CA sends, and hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/json.h"

#define LEN(s) (sizeof(s) - 1)

static void problem_with_subproblems(void **state)
{
    (void)state;
    /* RFC 8555 §6.7.1's example */
    static const char doc[] =
        "{\"type\": \"urn:ietf:params:acme:error:malformed\","
        " \"detail\": \"Some of the identifiers requested were rejected\","
        " \"subproblems\": ["
        "  {\"type\": \"urn:ietf:params:acme:error:malformed\","
        "   \"detail\": \"Invalid underscore in DNS name \\\"_example.org\\\"\","
        "   \"identifier\": {\"type\": \"dns\", \"value\": \"_example.org\"}},"
        "  {\"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\","
        "   \"detail\": \"This CA will not issue for \\\"example.net\\\"\","
        "   \"identifier\": {\"type\": \"dns\", \"value\": \"example.net\"}}]}";
    struct err e;
    struct acme_problem *p = acme_parse_problem(doc, LEN(doc), &e);
    assert_non_null(p);
    assert_string_equal(p->type, "urn:ietf:params:acme:error:malformed");
    assert_string_equal(p->detail, "Some of the identifiers requested were rejected");
    assert_int_equal(p->status, 0);
    assert_int_equal(p->n_sub, 2);
    assert_string_equal(p->sub[0].identifier, "_example.org");
    assert_string_equal(p->sub[1].type, "urn:ietf:params:acme:error:rejectedIdentifier");
    assert_string_equal(p->sub[1].detail, "This CA will not issue for \"example.net\"");
    assert_string_equal(p->json, doc); /* verbatim */
    char line[1024];
    acme_problem_format(p, line, sizeof line);
    assert_string_equal(line,
                        "urn:ietf:params:acme:error:malformed: Some of the identifiers requested "
                        "were rejected (_example.org: urn:ietf:params:acme:error:malformed: "
                        "Invalid underscore in DNS name \"_example.org\"; example.net: "
                        "urn:ietf:params:acme:error:rejectedIdentifier: This CA will not issue "
                        "for \"example.net\")");
    char tiny[16];
    acme_problem_format(p, tiny, sizeof tiny); /* truncates, stays terminated */
    assert_int_equal(strlen(tiny), 15);
    struct acme_problem *copy = acme_problem_copy(p);
    assert_string_equal(copy->sub[1].identifier, "example.net");
    assert_string_equal(copy->json, p->json);
    acme_problem_free(copy);
    acme_problem_free(p);

    static const char minimal[] = "{\"detail\":\"x\",\"status\":400}";
    p = acme_parse_problem(minimal, LEN(minimal), &e);
    assert_non_null(p);
    assert_string_equal(p->type, "about:blank");
    assert_int_equal(p->status, 400);
    acme_problem_free(p);
}

static void problem_refusals(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "[]",
        "{\"type\": 5}",
        "{\"type\": \"t\", \"status\": \"400\"}",
        "{\"type\": \"t\", \"status\": 7}",
        "{\"type\": \"t\", \"subproblems\": {}}",
        "{\"type\": \"t\", \"subproblems\": [5]}",
        ("{\"type\": \"t\", \"subproblems\": [{\"identifier\": {\"type\": \"ip\", \"value\": "
         "\"1.2.3.4\"}}]}"),
        "{\"type\": \"t\", \"type\": \"u\"}", /* duplicate member */
        "{\"type\": \"a\\u0000b\"}",          /* NUL inside */
        "{\"type\": \"t\"} trailing",
    };
    struct err e;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct acme_problem *p = acme_parse_problem(bad[i], strlen(bad[i]), &e);
        if (p) fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(e.msg) > 0);
    }
    /* too many subproblems */
    char *many = malloc(200 * 4 + 64);
    size_t n = (size_t)sprintf(many, "{\"subproblems\":[");
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(many + n, "%s{}", i ? "," : "");
    n += (size_t)sprintf(many + n, "]}");
    assert_null(acme_parse_problem(many, n, &e));
    free(many);
}

static void directory(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"keyChange\":\"https://ca/rollover\",\"meta\":{\"termsOfService\":\"data:text/"
        "plain,tos\",\"externalAccountRequired\":false},\"newAccount\":\"https://ca/"
        "new-acct\",\"newNonce\":\"https://ca/nonce-plz\",\"newOrder\":\"https://ca/order-plz\","
        "\"revokeCert\":\"https://ca/revoke-cert\",\"unknownFuture\":[1,2,3]}";
    struct acme_directory d;
    struct err e;
    assert_int_equal(acme_parse_directory(doc, LEN(doc), &d, &e), 0);
    assert_string_equal(d.new_nonce, "https://ca/nonce-plz");
    assert_string_equal(d.new_account, "https://ca/new-acct");
    assert_string_equal(d.new_order, "https://ca/order-plz");
    assert_string_equal(d.terms_of_service, "data:text/plain,tos");
    acme_directory_clear(&d);

    const char *bad[] = {
        "{\"newNonce\":\"https://a\",\"newAccount\":\"https://b\"}",
        "{\"newNonce\":\"http://a\",\"newAccount\":\"https://b\",\"newOrder\":\"https://c\"}",
        "{\"newNonce\":\"https://a\",\"newAccount\":[],\"newOrder\":\"https://c\"}",
        ("{\"newNonce\":\"https://a\",\"newAccount\":\"https://b\",\"newOrder\":\"https://c\","
         "\"meta\":7}"),
        "{\"newNonce\":\"file:///etc/passwd\",\"newAccount\":\"https://b\",\"newOrder\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(acme_parse_directory(bad[i], strlen(bad[i]), &d, &e), -1);
        assert_null(d.new_nonce); /* nothing half-filled left behind */
    }
    /* a URL longer than any CA's */
    size_t big = ACME_MAX_URL + 100;
    char *doc2 = malloc(big + 200);
    int n = sprintf(doc2, "{\"newNonce\":\"https://");
    memset(doc2 + n, 'a', big);
    n += (int)big;
    n += sprintf(doc2 + n, "\",\"newAccount\":\"https://b\",\"newOrder\":\"https://c\"}");
    assert_int_equal(acme_parse_directory(doc2, (size_t)n, &d, &e), -1);
    assert_non_null(strstr(e.msg, "newNonce"));
    free(doc2);
}

static void order(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"status\":\"pending\",\"expires\":\"2026-01-01T00:00:00Z\",\"identifiers\":[{\"type\":"
        "\"dns\",\"value\":\"example.org\"}],\"authorizations\":[\"https://ca/authz/1\","
        "\"https://ca/authz/2\"],\"finalize\":\"https://ca/order/1/finalize\"}";
    struct acme_order_doc o;
    struct err e;
    assert_int_equal(acme_parse_order(doc, LEN(doc), &o, &e), 0);
    assert_int_equal(o.status, ACME_STATUS_PENDING);
    assert_int_equal(o.n_authorizations, 2);
    assert_string_equal(o.authorizations[1], "https://ca/authz/2");
    assert_null(o.certificate);
    assert_null(o.error);
    acme_order_doc_clear(&o);

    static const char invalid[] =
        "{\"status\":\"invalid\",\"authorizations\":[\"https://ca/a\"],\"finalize\":\"https://"
        "ca/"
        "f\",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no\"}}";
    assert_int_equal(acme_parse_order(invalid, LEN(invalid), &o, &e), 0);
    assert_int_equal(o.status, ACME_STATUS_INVALID);
    assert_string_equal(o.error->type, "urn:ietf:params:acme:error:unauthorized");
    assert_non_null(strstr(o.error->json, "\"detail\":\"no\""));
    acme_order_doc_clear(&o);

    const char *bad[] = {
        "{\"status\":\"weird\",\"authorizations\":[\"https://a\"],\"finalize\":\"https://f\"}",
        "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"https://f\"}",
        "{\"status\":\"pending\",\"authorizations\":[\"https://a\", 5],\"finalize\":\"https://f\"}",
        "{\"status\":\"pending\",\"authorizations\":[\"http://a\"],\"finalize\":\"https://f\"}",
        "{\"status\":\"pending\",\"authorizations\":[\"https://a\"]}",
        "{\"status\":\"valid\",\"authorizations\":[\"https://a\"],\"finalize\":\"https://f\","
        "\"certificate\":true}",
        "{\"status\":\"pending\",\"authorizations\":[\"https://a\"],\"finalize\":\"https://f\","
        "\"error\":\"bad\"}",
        "{\"status\":null,\"authorizations\":[\"https://a\"],\"finalize\":\"https://f\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (acme_parse_order(bad[i], strlen(bad[i]), &o, &e) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_null(o.authorizations);
    }
    /* more authorizations than an order may have */
    char *many = malloc(ACME_MAX_AUTHZ * 20 + 200);
    int n =
        sprintf(many, "{\"status\":\"pending\",\"finalize\":\"https://f\",\"authorizations\":[");
    for (int i = 0; i <= ACME_MAX_AUTHZ; i++)
        n += sprintf(many + n, "%s\"https://a/%d\"", i ? "," : "", i);
    n += sprintf(many + n, "]}");
    assert_int_equal(acme_parse_order(many, (size_t)n, &o, &e), -1);
    free(many);
}

static void authorization(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"example.org\"},"
        "\"wildcard\":true,\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca/c/1\","
        "\"token\":\"t1\",\"status\":\"pending\"},{\"type\":\"dns-01\",\"url\":\"https://ca/c/2\","
        "\"token\":\"DGyRejmCefe7v4NfDGDKfA\",\"status\":\"pending\"},{\"type\":\"future-01\"}]}";
    struct acme_authz_doc a;
    struct err e;
    assert_int_equal(acme_parse_authz(doc, LEN(doc), &a, &e), 0);
    assert_int_equal(a.status, ACME_STATUS_PENDING);
    assert_string_equal(a.identifier, "example.org");
    assert_true(a.wildcard);
    assert_true(a.has_dns01);
    assert_string_equal(a.dns01_url, "https://ca/c/2");
    assert_string_equal(a.dns01_token, "DGyRejmCefe7v4NfDGDKfA");
    acme_authz_doc_clear(&a);

    static const char failed[] =
        "{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.org\"},"
        "\"challenges\":[{\"type\":\"dns-01\",\"url\":\"https://ca/c\",\"token\":\"tok\","
        "\"status\":\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\","
        "\"detail\":\"Correct value not found for DNS challenge\",\"status\":403}}]}";
    assert_int_equal(acme_parse_authz(failed, LEN(failed), &a, &e), 0);
    assert_int_equal(a.dns01_status, ACME_STATUS_INVALID);
    assert_string_equal(a.dns01_error->detail, "Correct value not found for DNS challenge");
    assert_int_equal(a.dns01_error->status, 403);
    acme_authz_doc_clear(&a);

    static const char no_dns[] =
        "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"x.org\"},"
        "\"challenges\":[]}";
    assert_int_equal(acme_parse_authz(no_dns, LEN(no_dns), &a, &e), 0);
    assert_false(a.has_dns01);
    acme_authz_doc_clear(&a);

    const char *bad[] = {
        /* token outside base64url: it would go into the hash unchecked */
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"challenges\":"
        "[{\"type\":\"dns-01\",\"url\":\"https://c\",\"token\":\"a.b\",\"status\":\"pending\"}]}",
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":\"1.2.3.4\"},"
        "\"challenges\":[]}",
        "{\"status\":\"pending\",\"identifier\":\"x\",\"challenges\":[]}",
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"challenges\":"
        "{}}",
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"challenges\":"
        "[],\"wildcard\":\"yes\"}",
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"challenges\":"
        "[{\"type\":\"dns-01\",\"url\":\"https://c\",\"status\":\"pending\"}]}",
        "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"x\"},\"challenges\":"
        "[[]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (acme_parse_authz(bad[i], strlen(bad[i]), &a, &e) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_null(a.identifier);
    }
}

/* A raw NUL byte is refused wherever it is (jansson alone let one through
 * after a number; fuzz_acme_json found it). */
static void raw_nul(void **state)
{
    (void)state;
    static const char doc[] = "{\"type\":\"t\",\"status\":403\0}";
    struct err e;
    assert_null(acme_parse_problem(doc, sizeof doc - 1, &e));
    assert_non_null(strstr(e.msg, "NUL byte at offset 24"));
    static const char ok[] = "{\"type\":\"t\",\"status\":403}"; /* the same without it */
    struct acme_problem *p = acme_parse_problem(ok, sizeof ok - 1, &e);
    assert_non_null(p);
    acme_problem_free(p);
}

static void hostile_documents(void **state)
{
    (void)state;
    struct err e;
    /* deep nesting: jansson's depth limit, not the stack */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    assert_null(acme_parse_problem(deep, depth * 2, &e));
    struct acme_order_doc o;
    assert_int_equal(acme_parse_order(deep, depth * 2, &o, &e), -1);
    free(deep);
    /* over the document bound: refused before parsing */
    size_t big = (1u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    assert_null(acme_parse_problem(huge, big, &e));
    assert_non_null(strstr(e.msg, "bytes"));
    free(huge);
    /* not NUL-terminated input: only len bytes are read */
    char exact[] = {'{', '}', 'X'};
    enum acme_status st;
    assert_int_equal(acme_parse_account_status(exact, 2, &st, &e), -1);
    assert_non_null(strstr(e.msg, "status"));
    static const char acct[] = "{\"status\":\"valid\",\"contact\":[\"mailto:a@b\"]}";
    assert_int_equal(acme_parse_account_status(acct, LEN(acct), &st, &e), 0);
    assert_int_equal(st, ACME_STATUS_VALID);
    /* invalid UTF-8 */
    static const char bad_utf8[] = "{\"type\":\"\xff\xfe\"}";
    assert_null(acme_parse_problem(bad_utf8, LEN(bad_utf8), &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(problem_with_subproblems),
        cmocka_unit_test(problem_refusals),
        cmocka_unit_test(directory),
        cmocka_unit_test(order),
        cmocka_unit_test(authorization),
        cmocka_unit_test(hostile_documents),
        cmocka_unit_test(raw_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
