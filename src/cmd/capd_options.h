/*
 * capd_options: capd's command line. struct capd_config is what the
 * options say; each option is one row of a table (names, argument, help,
 * setter) from which the usage text and getopt's tables are made, so an
 * option cannot be parsed without being listed in --help or the reverse.
 * Kept out of capd.c, which is the start-up sequence that uses the values.
 *
 * Adding an option: a field in struct capd_config, one row in `options`
 * (capd_options.c), and the code that uses the field in capd.c's main.
 * capd(8) (docs/man/capd.8.scd) must name it: e2e/manpages checks.
 */
#ifndef CEON_CMD_CAPD_OPTIONS_H
#define CEON_CMD_CAPD_OPTIONS_H
#include "cmd/capd_xfr.h"
#include "eon/server.h"
#include "util/err.h"
#include <stdbool.h>
#include <stdint.h>

#define CAPD_MAX_LIST 64 /* most -z, -a or -b options */

struct capd_list {
    const char *v[CAPD_MAX_LIST];
    size_t n;
};

struct capd_config {
    struct capd_list zonefiles;     /* -z */
    struct capd_list authoritative; /* -a: served without a zone file */
    struct capd_list binds;         /* -b; empty: "::" (or 0.0.0.0 without IPv6) */
    struct capd_list primaries;     /* --primary: secondary of these zones (eon/secondary.h) */
    uint16_t port;
    bool udp, tcp;
    int log_level;
    const char *metrics_listen;         /* --metrics-listen; NULL: no statistics endpoint */
    unsigned tcp_per_addr;              /* DNS over TCP connections per source prefix; 0: default */
    unsigned char v4_prefix, v6_prefix; /* what one source is, for both limits */
    long journal_max_entries;           /* --journal-max-entries; 0: the journal's default */
    double journal_size_ratio;          /* --journal-size-ratio, if journal_size_ratio_set */
    bool journal_size_ratio_set;        /* false: the journal's default */
    struct eon_config eon;              /* the Cap'n Proto side: src/eon/server.h */
    struct capd_xfr xfr;                /* zone transfers and NOTIFY: cmd/capd_xfr.h */
};

/* Fills c from argv (c holds the defaults). Returns 0, 1 if --help or
 * --version was printed, -1 + e on a bad option. */
int capd_parse_args(int argc, char **argv, struct capd_config *c, struct err *e);
#endif
