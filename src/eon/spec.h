/*
 * spec: capc's `|`-separated prerequisite and update syntax, as in the
 * OCaml original:
 *   PREREQ  exists|NAME|TYPE  exists|NAME|TYPE|VALUE  not-exists|NAME|TYPE
 *           name-inuse|NAME   not-name-inuse|NAME
 *   UPDATE  add|NAME|TYPE|VALUE|TTL  remove|NAME|TYPE  remove|NAME
 *           remove|NAME|TYPE|VALUE
 * VALUE is zone-file presentation format, except that a TXT VALUE not
 * starting with '"' is one string taken verbatim, as the original takes
 * every TXT value (eon/specenc.h). Unlike the original (which splits
 * on every '|'), VALUE is everything between TYPE and the next fixed field,
 * so a TXT value may itself contain '|'. ("name-not-inuse" is accepted as
 * a synonym: the original's help text spells it that way.)
 */
#ifndef CEON_EON_SPEC_H
#define CEON_EON_SPEC_H
#include "util/err.h"
#include <stdbool.h>
#include <stdint.h>

enum eon_spec_kind {
    EON_SPEC_EXISTS,
    EON_SPEC_EXISTS_DATA,
    EON_SPEC_NOT_EXISTS,
    EON_SPEC_NAME_IN_USE,
    EON_SPEC_NOT_NAME_IN_USE,
    EON_SPEC_ADD,
    EON_SPEC_REMOVE,        /* an RRset */
    EON_SPEC_REMOVE_ALL,    /* every RRset at a name */
    EON_SPEC_REMOVE_SINGLE, /* one RR */
};

/* Pointers into the string given to the parser (which is split in place);
 * type and value are NULL when the kind has none. */
struct eon_spec {
    enum eon_spec_kind kind;
    const char *name;
    const char *type;
    const char *value;
    uint32_t ttl;
};

/* Parses one -p (prereq=true) or -u argument, modifying s in place. On
 * error the message quotes the argument and the accepted forms. */
int eon_spec_parse(char *s, bool prereq, struct eon_spec *out, struct err *e);
#endif
