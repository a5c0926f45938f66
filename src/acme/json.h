/*
 * acme/json: the ACME server's JSON documents (RFC 8555 §7.1), parsed into
 * plain C structs with every field checked for type and size. The server
 * is trusted for nothing: a wrong type, a missing required member, an
 * over-long string or too many elements is an error naming the member.
 * Unknown members are ignored, as the RFC asks.
 */
#ifndef CEON_ACME_JSON_H
#define CEON_ACME_JSON_H
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* Bounds on what the server may send. A URL or token longer than this is
 * not a real ACME server's; 100 identifiers per order is Let's Encrypt's. */
#define ACME_MAX_URL 2048
#define ACME_MAX_TOKEN 256
#define ACME_MAX_NAME 255
#define ACME_MAX_AUTHZ 100
#define ACME_MAX_SUBPROBLEMS 100
#define ACME_MAX_DETAIL 4096

struct acme_directory {
    char *new_nonce, *new_account, *new_order;
    char *terms_of_service; /* meta.termsOfService, may be NULL */
};

/* A problem document (RFC 7807 as used by RFC 8555 §6.7). */
struct acme_subproblem {
    char *type, *detail;
    char *identifier; /* identifier.value, may be NULL */
};
struct acme_problem {
    char *type;   /* e.g. urn:ietf:params:acme:error:unauthorized; "about:blank" if absent */
    char *detail; /* may be NULL */
    int status;   /* 0 if absent */
    struct acme_subproblem *sub;
    size_t n_sub;
    char *json; /* the document as the server sent it */
};

enum acme_status {
    ACME_STATUS_PENDING,
    ACME_STATUS_READY,
    ACME_STATUS_PROCESSING,
    ACME_STATUS_VALID,
    ACME_STATUS_INVALID,
    ACME_STATUS_EXPIRED,
    ACME_STATUS_DEACTIVATED,
    ACME_STATUS_REVOKED,
};

struct acme_order_doc {
    enum acme_status status;
    char **authorizations;
    size_t n_authorizations;
    char *finalize;
    char *certificate;          /* NULL until valid */
    struct acme_problem *error; /* NULL unless the server set one */
};

struct acme_authz_doc {
    enum acme_status status;
    char *identifier; /* identifier.value (type must be "dns") */
    bool wildcard;
    /* The dns-01 challenge, if the authorization offers one. */
    bool has_dns01;
    enum acme_status dns01_status;
    char *dns01_url, *dns01_token;
    struct acme_problem *dns01_error; /* NULL unless set */
};

/* Each parser: 0 and a filled *out, or -1 + e (and *out all NULL/zero).
 * The text need not be NUL-terminated. Free with the matching *_clear. */
int acme_parse_directory(const char *text, size_t len, struct acme_directory *out, struct err *e);
int acme_parse_order(const char *text, size_t len, struct acme_order_doc *out, struct err *e);
int acme_parse_authz(const char *text, size_t len, struct acme_authz_doc *out, struct err *e);
/* Returns NULL + e if the text is not a problem document. */
struct acme_problem *acme_parse_problem(const char *text, size_t len, struct err *e);
/* The status member of an account object (newAccount's answer). */
int acme_parse_account_status(const char *text, size_t len, enum acme_status *out, struct err *e);

void acme_directory_clear(struct acme_directory *d);
void acme_order_doc_clear(struct acme_order_doc *o);
void acme_authz_doc_clear(struct acme_authz_doc *a);
void acme_problem_free(struct acme_problem *p);
struct acme_problem *acme_problem_copy(const struct acme_problem *p);
/* One line for a user: "TYPE: DETAIL (IDENT: TYPE: DETAIL; ...)", truncated to cap. */
void acme_problem_format(const struct acme_problem *p, char *buf, size_t cap);
const char *acme_status_name(enum acme_status s);
#endif
