/*
 * fuzz_acme_json: the ACME document parsers (acme/json.h) on arbitrary bytes.
 *
 * Every input goes through all of them: directory, order, authorization,
 * problem and account status. Checked on what parses: the bounds json.h
 * promises (URL lengths and https://, counts, token characters), the problem
 * document kept verbatim, its copy equal to it, and formatting it into a
 * small buffer staying inside the buffer.
 */
#include "acme/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static void check_url(const char *u, int optional)
{
    if (!u) {
        CHECK(optional);
        return;
    }
    CHECK(strncmp(u, "https://", 8) == 0 && strlen(u) <= ACME_MAX_URL);
}

static void check_problem(const struct acme_problem *p)
{
    if (!p) return;
    CHECK(p->type && p->json);
    CHECK(p->n_sub <= ACME_MAX_SUBPROBLEMS);
    CHECK(p->status == 0 || (p->status >= 100 && p->status <= 599));
    CHECK(!p->detail || strlen(p->detail) <= ACME_MAX_DETAIL);
    char small[40];
    memset(small, 0x55, sizeof small);
    acme_problem_format(p, small, 32);
    CHECK(memchr(small, 0, 32) && small[32] == 0x55);
    struct acme_problem *copy = acme_problem_copy(p);
    CHECK(strcmp(copy->type, p->type) == 0 && strcmp(copy->json, p->json) == 0);
    CHECK(copy->n_sub == p->n_sub);
    acme_problem_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct err e;

    struct acme_directory d;
    if (acme_parse_directory(text, size, &d, &e) == 0) {
        check_url(d.new_nonce, 0);
        check_url(d.new_account, 0);
        check_url(d.new_order, 0);
        acme_directory_clear(&d);
    }

    struct acme_order_doc o;
    if (acme_parse_order(text, size, &o, &e) == 0) {
        CHECK(o.n_authorizations >= 1 && o.n_authorizations <= ACME_MAX_AUTHZ);
        for (size_t i = 0; i < o.n_authorizations; i++)
            check_url(o.authorizations[i], 0);
        check_url(o.finalize, 0);
        check_url(o.certificate, 1);
        check_problem(o.error);
        CHECK(acme_status_name(o.status)[0] != '?');
        acme_order_doc_clear(&o);
    }

    struct acme_authz_doc a;
    if (acme_parse_authz(text, size, &a, &e) == 0) {
        CHECK(a.identifier && strlen(a.identifier) <= ACME_MAX_NAME);
        if (a.has_dns01) {
            check_url(a.dns01_url, 0);
            size_t len = strlen(a.dns01_token);
            CHECK(len >= 1 && len <= ACME_MAX_TOKEN);
            CHECK(strspn(a.dns01_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_") == len);
            check_problem(a.dns01_error);
        }
        acme_authz_doc_clear(&a);
    }

    struct acme_problem *p = acme_parse_problem(text, size, &e);
    if (p) {
        CHECK(strlen(p->json) == size && memcmp(p->json, data, size) == 0);
        check_problem(p);
        acme_problem_free(p);
    }

    enum acme_status st;
    if (acme_parse_account_status(text, size, &st, &e) == 0) CHECK(acme_status_name(st)[0] != '?');
    return 0;
}
