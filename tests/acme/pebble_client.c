/*
 * The acme library against a real pebble (tests/acme/pebble_test.sh starts
 * it with -dnsserver pointing at this program's TXT responder).
 *   pebble_client DIRECTORY_URL CA_FILE DNS_PORT OUT_DIR
 * 1. Two orders at once on one loop, from two new accounts:
 *    A (RSA-2048 account, RS256): example.test, www.example.test and
 *      *.example.test in one order -- three authorizations, two of them
 *      with their TXT value at the same name; hooks answer later (async);
 *    B (P-256 account, ES256): b.example.test; hooks answer at once.
 *    Both must issue, every authorization must have had its record, and
 *    the chains are written to OUT_DIR/{a,b}.pem for openssl verify.
 * 2. A third client with A's account key (through PEM) must find A's
 *    account (onlyReturnExisting) and order fail.example.test with a wrong
 *    TXT value: the callback must carry pebble's problem document, and
 *    every record must be gone afterwards. The callback frees its client.
 * 3. B's client orders two names and set_txt fails for one: the order
 *    fails without answering any challenge (pebble asks no DNS query) and
 *    both records are cleared.
 * 4. An order cancelled from inside set_txt: "cancelled", cleared, no
 *    challenge answered.
 * 5. A client without the CA file: pebble's certificate is refused.
 * Exit 0 when all holds; every check that fails prints one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "txt_server.h"

static int failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static uv_loop_t *loop;
static struct txt_server dns;

/* One run of an order: its hooks' bookkeeping and outcome. */
struct run {
    const char *label;
    bool async_hooks, wrong_value;
    const char *refuse; /* set_txt fails for names containing this */
    struct acme_client **free_in_callback;
    bool cancel_in_set; /* acme_order_cancel from inside set_txt */
    struct acme_order *order;
    char account_url[512];
    size_t sets, clears, live; /* live: set and not yet cleared */
    bool done, ok;
    char *cert_pem;
    struct acme_error error;
    char problem_json[2048];
    char problem_type[256];
};

struct pending_done {
    uv_timer_t timer;
    acme_hook_done_cb done;
    void *done_arg;
    int ok;
};

static void on_later(uv_timer_t *t)
{
    struct pending_done *p = t->data;
    p->done(p->done_arg, p->ok, p->ok ? "txt table refused" : NULL);
    uv_close((uv_handle_t *)&p->timer, (uv_close_cb)free);
}

/* Calls done from a later loop turn, as a journaled zone update will. */
static void answer(struct run *r, acme_hook_done_cb done, void *done_arg, int ok)
{
    if (!r->async_hooks) {
        done(done_arg, ok, ok ? "txt table refused" : NULL);
        return;
    }
    struct pending_done *p = calloc(1, sizeof *p);
    p->done = done, p->done_arg = done_arg, p->ok = ok;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_later, 0, 0);
}

static void set_txt(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                    void *done_arg)
{
    struct run *r = ctx;
    r->sets++;
    r->live++;
    printf("%s: set_txt %s %s\n", r->label, name, value);
    CHECK(strncmp(name, "_acme-challenge.", 16) == 0 && !strchr(name, '*'), "bad name %s", name);
    CHECK(strlen(value) == 43, "value %s is not 43 characters", value);
    if (r->cancel_in_set) acme_order_cancel(r->order);
    if (r->refuse && strstr(name, r->refuse)) {
        answer(r, done, done_arg, -1);
        return;
    }
    int rc =
        txt_server_add(&dns, name, r->wrong_value ? "this-is-not-the-key-authorization" : value);
    answer(r, done, done_arg, rc);
}

static void clear_txt(void *ctx, const char *name, const char *value, acme_hook_done_cb done,
                      void *done_arg)
{
    struct run *r = ctx;
    r->clears++;
    r->live--;
    printf("%s: clear_txt %s %s\n", r->label, name, value);
    int rc =
        txt_server_remove(&dns, name, r->wrong_value ? "this-is-not-the-key-authorization" : value);
    /* A refused set is cleared too: a failed update may have half-happened. */
    CHECK(rc == 0 || (r->refuse && strstr(name, r->refuse)),
          "%s: clear_txt for a value that was not set", r->label);
    answer(r, done, done_arg, rc);
}

static void on_done(void *arg, const char *cert_pem, const struct acme_error *err)
{
    struct run *r = arg;
    CHECK(!r->done, "%s: completion called twice", r->label);
    r->done = true;
    r->ok = cert_pem != NULL;
    if (cert_pem) {
        r->cert_pem = strdup(cert_pem);
        printf("%s: issued, %zu bytes of PEM\n", r->label, strlen(cert_pem));
    } else {
        r->error.problem = NULL;
        snprintf(r->error.message, sizeof r->error.message, "%s", err->message);
        if (err->problem) {
            snprintf(r->problem_json, sizeof r->problem_json, "%s", err->problem->json);
            snprintf(r->problem_type, sizeof r->problem_type, "%s", err->problem->type);
        }
        printf("%s: failed: %s\n%s: problem document: %s\n", r->label, err->message, r->label,
               err->problem ? err->problem->json : "(none)");
    }
    if (r->free_in_callback) { /* allowed by acme.h: the deferred free path */
        const char *url = acme_client_account_url(*r->free_in_callback);
        snprintf(r->account_url, sizeof r->account_url, "%s", url ? url : "");
        acme_client_free(*r->free_in_callback);
        *r->free_in_callback = NULL;
    }
}

static struct acme_client *client(const char *url, const char *ca, EVP_PKEY *key,
                                  enum acme_key_type type)
{
    struct err e;
    struct acme_client_config cfg = {.directory_url = url,
                                     .ca_file = ca,
                                     .account_key = key,
                                     .account_key_type = type,
                                     .email = "ryan@example.test",
                                     .order_timeout_s = 120};
    struct acme_client *c = acme_client_new(loop, &cfg, &e);
    if (!c) {
        fprintf(stderr, "acme_client_new: %s\n", e.msg);
        exit(2);
    }
    return c;
}

static struct acme_order *start(struct acme_client *c, const char *const *names, size_t n,
                                EVP_PKEY *cert_key, struct run *r)
{
    struct err e;
    struct acme_dns_hooks hooks = {.ctx = r, .set_txt = set_txt, .clear_txt = clear_txt};
    r->order = acme_order_start(c, names, n, cert_key, "ryan@example.test", "ceon test", &hooks,
                                on_done, r, &e);
    if (!r->order) {
        fprintf(stderr, "acme_order_start: %s\n", e.msg);
        exit(2);
    }
    return r->order;
}

static void check_issued(struct run *r, const char *const *names, size_t n, size_t authzs,
                         const char *out_dir, const char *file)
{
    CHECK(r->done && r->ok, "%s: not issued: %s", r->label, r->error.message);
    CHECK(r->sets == authzs, "%s: %zu set_txt for %zu authorizations", r->label, r->sets, authzs);
    CHECK(r->clears == r->sets && r->live == 0, "%s: %zu set, %zu cleared", r->label, r->sets,
          r->clears);
    if (!r->ok) return;
    struct acme_cert_info info;
    struct err e;
    CHECK(acme_cert_info_from_pem(r->cert_pem, strlen(r->cert_pem), &info, &e) == 0, "%s: %s",
          r->label, e.msg);
    CHECK(acme_cert_names_equal(&info, names, n), "%s: the leaf's SANs are not the names asked",
          r->label);
    CHECK(info.not_after > time(NULL) && !acme_cert_due(&info, time(NULL), 0),
          "%s: certificate already due", r->label);
    acme_cert_info_clear(&info);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, file);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(r->cert_pem, f) >= 0 && fclose(f) == 0, "writing %s", path);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pebble_client DIRECTORY_URL CA_FILE DNS_PORT OUT_DIR\n");
        return 2;
    }
    const char *url = argv[1], *ca = argv[2], *out_dir = argv[4];
    loop = uv_default_loop();
    if (txt_server_start(&dns, loop, atoi(argv[3])) < 0) {
        fprintf(stderr, "cannot bind UDP 127.0.0.1:%s\n", argv[3]);
        return 2;
    }
    struct err e;
    EVP_PKEY *cert_key_a = acme_key_generate(ACME_KEY_P256, &e);
    EVP_PKEY *cert_key_b = acme_key_generate(ACME_KEY_RSA2048, &e);

    /* 1. two orders at once */
    struct acme_client *ca_client = client(url, ca, NULL, ACME_KEY_RSA2048);
    struct acme_client *cb_client = client(url, ca, NULL, ACME_KEY_P256);
    const char *names_a[] = {"example.test", "www.example.test", "*.example.test"};
    const char *names_b[] = {"b.example.test"};
    struct run a = {.label = "A", .async_hooks = true}, b = {.label = "B"};
    start(ca_client, names_a, 3, cert_key_a, &a);
    start(cb_client, names_b, 1, cert_key_b, &b);
    uv_run(loop, UV_RUN_DEFAULT); /* until both are done: the TXT server is unref'd */
    check_issued(&a, names_a, 3, 3, out_dir, "a.pem");
    check_issued(&b, names_b, 1, 1, out_dir, "b.pem");
    CHECK(dns.n == 0, "%zu TXT records left after the orders", dns.n);
    const char *account_a = acme_client_account_url(ca_client);
    CHECK(account_a && acme_client_account_url(cb_client) &&
              strcmp(account_a, acme_client_account_url(cb_client)) != 0,
          "A and B should be two accounts");

    /* 2. the same account through its PEM, and a refusal */
    char *pem = acme_key_to_pem(acme_client_account_key(ca_client), &e);
    EVP_PKEY *again = pem ? acme_key_from_pem(pem, strlen(pem), &e) : NULL;
    CHECK(again, "account key PEM round trip: %s", e.msg);
    struct acme_client *cc_client = client(url, ca, again, ACME_KEY_P256);
    const char *names_c[] = {"fail.example.test"};
    struct run c = {
        .label = "C", .async_hooks = true, .wrong_value = true, .free_in_callback = &cc_client};
    start(cc_client, names_c, 1, cert_key_a, &c);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(c.done && !c.ok, "C: a wrong TXT value was accepted");
    CHECK(strcmp(c.problem_type, "urn:ietf:params:acme:error:unauthorized") == 0,
          "C: problem type \"%s\", pebble says unauthorized for a wrong DNS-01 value",
          c.problem_type);
    CHECK(strstr(c.problem_json, "\"type\"") && strstr(c.problem_json, "\"detail\""),
          "C: problem document not passed on: %s", c.problem_json);
    CHECK(strstr(c.error.message, "fail.example.test"), "C: message does not name the name: %s",
          c.error.message);
    CHECK(c.sets == 1 && c.clears == 1 && c.live == 0 && dns.n == 0,
          "C: records not cleared (%zu set, %zu cleared, %zu in the table)", c.sets, c.clears,
          dns.n);
    CHECK(account_a && strcmp(c.account_url, account_a) == 0,
          "C: did not find A's account (%s vs %s)", c.account_url, account_a);
    CHECK(!cc_client, "C: the client was not freed from the callback");

    /* 3. a hook failing: no challenge answered, every record cleared */
    const char *names_d[] = {"d1.example.test", "d2.example.test"};
    struct run d = {.label = "D", .async_hooks = true, .refuse = "d2."};
    size_t queries_before = dns.queries;
    start(cb_client, names_d, 2, cert_key_b, &d);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(d.done && !d.ok && strstr(d.error.message, "_acme-challenge.d2.example.test"),
          "D: a refused set_txt did not fail the order: %s", d.error.message);
    CHECK(d.problem_type[0] == 0, "D: a local failure carries a CA problem");
    CHECK(d.sets == 2 && d.clears == 2 && dns.n == 0, "D: %zu set, %zu cleared, %zu left", d.sets,
          d.clears, dns.n);
    CHECK(dns.queries == queries_before,
          "D: pebble validated (%zu DNS queries): a challenge was "
          "answered after a hook failed",
          dns.queries - queries_before);
    /* 4. cancelled while its records are being added: cleared, no challenge answered */
    const char *names_f[] = {"f.example.test"};
    struct run f = {.label = "F", .async_hooks = true, .cancel_in_set = true};
    queries_before = dns.queries;
    start(cb_client, names_f, 1, cert_key_b, &f);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(f.done && !f.ok && strcmp(f.error.message, "cancelled") == 0, "F: %s", f.error.message);
    CHECK(f.sets == 1 && f.clears == 1 && dns.n == 0, "F: %zu set, %zu cleared, %zu left", f.sets,
          f.clears, dns.n);
    CHECK(dns.queries == queries_before, "F: a challenge was answered after the cancel");

    /* 5. without the CA file pebble's HTTPS certificate is not trusted */
    struct acme_client *untrusting = client(url, NULL, NULL, ACME_KEY_P256);
    struct run g = {.label = "G"};
    start(untrusting, names_f, 1, cert_key_b, &g);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(g.done && !g.ok && strstr(g.error.message, "certificate"),
          "G: pebble's certificate was not refused: %s", g.error.message);
    CHECK(g.sets == 0 && !acme_client_account_url(untrusting), "G: went past the directory");
    acme_client_free(untrusting);

    printf("badNonce answers retried: %zu (A and C's account) + %zu (B, D)\n",
           acme_client_bad_nonce_retries(ca_client), acme_client_bad_nonce_retries(cb_client));
    printf("pebble asked %zu DNS queries, %zu answered with TXT\n", dns.queries, dns.txt_answers);

    acme_client_free(ca_client);
    acme_client_free(cb_client);
    txt_server_stop(&dns);
    uv_run(loop, UV_RUN_DEFAULT);
    EVP_PKEY_free(again);
    EVP_PKEY_free(cert_key_a);
    EVP_PKEY_free(cert_key_b);
    free(pem);
    free(a.cert_pem), free(b.cert_pem);
    uv_loop_close(loop);
    printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
