/*
 * capc: the command-line client of capd's Cap'n Proto interface, with the
 * OCaml original's commands and syntax:
 *   capc get-name CAP_FILE
 *   capc delegate CAP_FILE SUBDOMAIN [--cap-dir DIR]
 *   capc update CAP_FILE [-p PREREQ]... [-u UPDATE]...
 * Exit status 0 on success, 1 with one line "capc: ..." on failure.
 * Parsing and wiring only; the work is in src/eon (spec, specenc, client).
 */
#include "eon/client.h"
#include "eon/spec.h"
#include "eon/specenc.h"
#include "eon/state.h"
#include "util/log.h"
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_main[] =
    "usage: capc COMMAND CAP_FILE [ARGS...]\n"
    "\n"
    "A client for capd's capabilities. CAP_FILE holds a sturdy ref URI of the form\n"
    "capnp://sha-256:<hash>@address:port/<service-ID>, as written by capd in\n"
    "STATE/caps/ or by 'capc delegate'.\n"
    "\n"
    "Commands:\n"
    "  get-name CAP_FILE                        print the domain the capability is for\n"
    "  delegate CAP_FILE SUBDOMAIN [--cap-dir DIR]\n"
    "                                           create a capability for SUBDOMAIN\n"
    "  update CAP_FILE [-p PREREQ]... [-u UPDATE]...\n"
    "                                           change DNS records (RFC 2136 semantics)\n"
    "  cert CAP_FILE EMAIL -d DOMAIN... [--org ORG] [--cert-dir DIR] [--exit-when-renewed]\n"
    "                                           get a TLS certificate (ACME DNS-01 by capd)\n"
    "                                           and its renewals\n"
    "\n"
    "Use 'capc COMMAND --help' for help on one command; 'capc --version' prints\n"
    "the version.\n";

static const char usage_get_name[] =
    "usage: capc get-name CAP_FILE\n"
    "\n"
    "Prints the domain name the capability in CAP_FILE is authoritative for.\n";

static const char usage_delegate[] =
    "usage: capc delegate CAP_FILE SUBDOMAIN [--cap-dir DIR]\n"
    "\n"
    "Asks for a new capability for SUBDOMAIN.NAME (NAME being CAP_FILE's domain),\n"
    "persisted by capd so it works across restarts, and writes its URI to\n"
    "DIR/SUBDOMAIN.NAME.cap (mode 0600). Each call creates a distinct capability.\n"
    "\n"
    "  --cap-dir DIR   directory to write the capability file in (default: .)\n";

static const char usage_update[] =
    "usage: capc update CAP_FILE [-p PREREQ]... [-u UPDATE]...\n"
    "\n"
    "Applies the updates atomically if every prerequisite holds (RFC 2136). capd\n"
    "answers only once the change is durable. Names must be the capability's\n"
    "domain or below it.\n"
    "\n"
    "  -p, --prerequisite PREREQ   one of\n"
    "        exists|NAME|TYPE         an RRset of TYPE exists at NAME\n"
    "        exists|NAME|TYPE|VALUE   the RRset is exactly this one record\n"
    "        not-exists|NAME|TYPE     no RRset of TYPE at NAME\n"
    "        name-inuse|NAME          NAME owns at least one record\n"
    "        not-name-inuse|NAME      NAME owns no records\n"
    "  -u, --update UPDATE         one of\n"
    "        add|NAME|TYPE|VALUE|TTL  add a record\n"
    "        remove|NAME|TYPE         remove the RRset of TYPE at NAME\n"
    "        remove|NAME              remove every RRset at NAME\n"
    "        remove|NAME|TYPE|VALUE   remove one record\n"
    "\n"
    "VALUE is zone-file presentation format for any type, names absolute, e.g.\n"
    "  -u 'add|test.example.org|A|128.232.113.136|3600'\n"
    "  -u 'add|example.org|MX|10 mail.example.org.|3600'\n"
    "except a TXT VALUE that does not start with '\"': that is one string, taken\n"
    "byte for byte (spaces, ';' and quotes inside are kept), as eon takes it:\n"
    "  -u 'add|example.org|TXT|v=spf1 -all|300'            one string\n"
    "A TXT VALUE starting with '\"' is presentation format: one or more quoted\n"
    "strings with \\\" \\\\ and \\DDD escapes:\n"
    "  -u 'add|example.org|TXT|\"v=DMARC1; p=none\"|300'     one string\n"
    "  -u 'add|example.org|TXT|\"part one\" \"part two\"|300' two strings\n";

/* One line, whatever the server put in its error text. */
static const char usage_cert[] =
    "usage: capc cert CAP_FILE EMAIL -d DOMAIN... [--org ORG] [--cert-dir DIR]\n"
    "                 [--exit-when-renewed]\n"
    "\n"
    "Asks capd to provision a certificate for the DOMAINs with ACME DNS-01 (EMAIL is\n"
    "the ACME account) and to call back with it, now and on every renewal. The\n"
    "files key.pem, fullchain.pem, cert.pem and chain.pem go to DIR (default\n"
    "certs/DOMAIN, the first DOMAIN), key.pem and the others mode 0640 as eon's\n"
    "capc. Prints \"Updated certificate for DOMAIN\" for the first one and\n"
    "\"Renewed certificate for DOMAIN\" (and creates DIR/renewed) for each renewal\n"
    "capd pushes later. capc keeps running to receive renewals, and calls capd\n"
    "again (1 s, doubling up to 60 s) when the connection ends.\n"
    "\n"
    "  -d, --domain DOMAIN     a domain for the certificate (repeatable, at least one)\n"
    "  --org ORG               the organization in the certificate request\n"
    "  --cert-dir DIR          where to write the files\n"
    "  --exit-when-renewed     exit once a renewed certificate has been written\n";

static int fail(const char *msg)
{
    fputs("capc: ", stderr);
    for (const char *p = msg; *p; p++)
        fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
    fputc('\n', stderr);
    return 1;
}

static int usage_error(const char *cmd, const char *msg)
{
    if (cmd)
        fprintf(stderr, "capc: %s: %s (see 'capc %s --help')\n", cmd, msg, cmd);
    else
        fprintf(stderr, "capc: %s (see 'capc --help')\n", msg);
    return 1;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    }
    return false;
}

static int cmd_get_name(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_get_name, stdout);
        return 0;
    }
    if (argc != 2)
        return usage_error("get-name", argc < 2 ? "missing CAP_FILE" : "too many arguments");
    char name[1024];
    struct err e;
    if (eon_client_get_name(argv[1], name, sizeof name, &e) < 0) return fail(e.msg);
    printf("%s\n", name);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_delegate(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_delegate, stdout);
        return 0;
    }
    const char *cap_dir = NULL;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    /* Positionals may come before or after --cap-dir, as with cmdliner. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cap-dir")) {
            if (i + 1 >= argc) return usage_error("delegate", "--cap-dir needs a DIR");
            cap_dir = argv[++i];
        } else if (!strncmp(argv[i], "--cap-dir=", 10)) {
            cap_dir = argv[i] + 10;
        } else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--")) {
            return usage_error("delegate", "unknown option");
        } else if (!strcmp(argv[i], "--")) {
            continue;
        } else if (npos == 2) {
            return usage_error("delegate", "too many arguments");
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos < 2) return usage_error("delegate", npos ? "missing SUBDOMAIN" : "missing CAP_FILE");
    char sub[512];
    snprintf(sub, sizeof sub, "%s", pos[1]);
    size_t l = strlen(sub);
    if (l > 1 && sub[l - 1] == '.') sub[l - 1] = 0;
    if (!eon_name_file_safe(sub))
        return fail("invalid SUBDOMAIN: want one or more non-empty labels of at most 63 "
                    "characters, without '/', '\\' or spaces");
    char path[4096];
    struct err e;
    if (eon_client_delegate(pos[0], sub, cap_dir, path, sizeof path, &e) < 0) return fail(e.msg);
    printf("Wrote capability to %s\n", path);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_update(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_update, stdout);
        return 0;
    }
    static const struct option opts[] = {{"prerequisite", required_argument, NULL, 'p'},
                                         {"update", required_argument, NULL, 'u'},
                                         {NULL, 0, NULL, 0}};
    struct eon_rec *pre = calloc((size_t)argc, sizeof *pre);
    struct eon_rec *upd = calloc((size_t)argc, sizeof *upd);
    size_t np = 0, nu = 0;
    const char *cap_file = NULL;
    int rc = 1, c;
    struct err e;
    if (!pre || !upd) {
        rc = fail("out of memory");
        goto out;
    }
    optind = 1;
    opterr = 0;
    /* "-" first: positionals are returned in order as option 1. */
    while ((c = getopt_long(argc, argv, "-p:u:", opts, NULL)) != -1) {
        if (c == 1) {
            if (cap_file) {
                rc = usage_error("update", "too many arguments (quote -u/-p values)");
                goto out;
            }
            cap_file = optarg;
        } else if (c == 'p' || c == 'u') {
            struct eon_spec s;
            if (eon_spec_parse(optarg, c == 'p', &s, &e) < 0 ||
                eon_spec_encode(&s, c == 'p' ? &pre[np] : &upd[nu], &e) < 0) {
                rc = fail(e.msg);
                goto out;
            }
            if (c == 'p')
                np++;
            else
                nu++;
        } else {
            rc = usage_error("update", "unknown option or missing argument");
            goto out;
        }
    }
    if (!cap_file) {
        rc = usage_error("update", "missing CAP_FILE");
        goto out;
    }
    if (eon_client_update(cap_file, pre, np, upd, nu, &e) < 0) {
        rc = fail(e.msg);
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < np; i++)
        eon_rec_free(&pre[i]);
    for (size_t i = 0; i < nu; i++)
        eon_rec_free(&upd[i]);
    free(pre);
    free(upd);
    return rc;
}

static int cmd_cert(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_cert, stdout);
        return 0;
    }
    static const struct option opts[] = {{"domain", required_argument, NULL, 'd'},
                                         {"org", required_argument, NULL, 'o'},
                                         {"cert-dir", required_argument, NULL, 'c'},
                                         {"exit-when-renewed", no_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    char **domains = calloc((size_t)argc, sizeof *domains);
    const char *pos[2] = {NULL, NULL}, *org = NULL, *cert_dir = NULL;
    int npos = 0, c, rc = 1;
    size_t nd = 0;
    bool exit_when_renewed = false;
    if (!domains) return fail("out of memory");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "-d:", opts, NULL)) != -1) {
        if (c == 1) {
            if (npos == 2) {
                rc = usage_error("cert", "too many arguments");
                goto out;
            }
            pos[npos++] = optarg;
        } else if (c == 'd') {
            domains[nd++] = optarg;
        } else if (c == 'o') {
            org = optarg;
        } else if (c == 'c') {
            cert_dir = optarg;
        } else if (c == 'x') {
            exit_when_renewed = true;
        } else {
            rc = usage_error("cert", "unknown option or missing argument");
            goto out;
        }
    }
    if (npos < 2) {
        rc = usage_error("cert", npos ? "missing EMAIL" : "missing CAP_FILE");
        goto out;
    }
    if (nd == 0) {
        rc = usage_error("cert", "give at least one domain with -d DOMAIN");
        goto out;
    }
    char dir[4096];
    if (cert_dir) {
        snprintf(dir, sizeof dir, "%s", cert_dir);
    } else {
        if (!eon_name_file_safe(domains[0])) {
            rc = fail("the first DOMAIN cannot be a directory name: give --cert-dir");
            goto out;
        }
        snprintf(dir, sizeof dir, "certs/%s", domains[0]);
    }
    struct eon_certcb_state st = {.cert_dir = dir, .domain = domains[0], .out = stdout};
    struct err e;
    if (eon_client_cert(pos[0], pos[1], domains, nd, org, &st, exit_when_renewed, &e) < 0)
        rc = fail(e.msg);
    else
        rc = 0;
out:
    free(domains);
    return rc;
}

int main(int argc, char **argv)
{
    log_set_prog("capc");
    if (argc < 2) return usage_error(NULL, "missing COMMAND");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("capc (ceon) %s\n", CEON_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "get-name")) return cmd_get_name(argc - 1, argv + 1);
    if (!strcmp(cmd, "delegate")) return cmd_delegate(argc - 1, argv + 1);
    if (!strcmp(cmd, "update")) return cmd_update(argc - 1, argv + 1);
    if (!strcmp(cmd, "cert")) return cmd_cert(argc - 1, argv + 1);
    char msg[300];
    snprintf(msg, sizeof msg, "unknown command '%.200s'", cmd);
    return usage_error(NULL, msg);
}
