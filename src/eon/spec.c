#include "eon/spec.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PREREQ_FORMS                                                                               \
    "exists|NAME|TYPE, exists|NAME|TYPE|VALUE, not-exists|NAME|TYPE, name-inuse|NAME or "          \
    "not-name-inuse|NAME"
#define UPDATE_FORMS                                                                               \
    "add|NAME|TYPE|VALUE|TTL, remove|NAME|TYPE, remove|NAME or remove|NAME|TYPE|VALUE"

static size_t count_bars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '|';
    return n;
}

/* Splits off the first field: returns it NUL-terminated, advances *s past
 * the '|' (or to NULL at the end). */
static char *take(char **s)
{
    char *f = *s;
    char *bar = f ? strchr(f, '|') : NULL;
    if (bar) {
        *bar = 0;
        *s = bar + 1;
    } else {
        *s = NULL;
    }
    return f;
}

static int parse_ttl(const char *t, uint32_t *ttl)
{
    if (!*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 10) return -1;
    unsigned long long v = strtoull(t, NULL, 10);
    if (v > 2147483647ULL) /* RFC 2181 §8: TTLs are 31 bits */
        return -1;
    *ttl = (uint32_t)v;
    return 0;
}

int eon_spec_parse(char *s, bool prereq, struct eon_spec *out, struct err *e)
{
    char orig[512];
    size_t sl = strlen(s);
    if (sl < sizeof orig) {
        memcpy(orig, s, sl + 1);
    } else {
        memcpy(orig, s, sizeof orig - 4);
        strcpy(orig + sizeof orig - 4, "...");
    }
    const char *forms = prereq ? PREREQ_FORMS : UPDATE_FORMS;
    const char *what = prereq ? "prerequisite" : "update";
    memset(out, 0, sizeof *out);
    size_t bars = count_bars(s);
    char *rest = s;
    const char *op = take(&rest);
    bool ok = false;

    if (prereq) {
        if (!strcmp(op, "exists") && bars == 2) {
            out->kind = EON_SPEC_EXISTS;
            out->name = take(&rest);
            out->type = take(&rest);
            ok = true;
        } else if (!strcmp(op, "exists") && bars >= 3) {
            out->kind = EON_SPEC_EXISTS_DATA;
            out->name = take(&rest);
            out->type = take(&rest);
            out->value = rest; /* the rest, '|' included */
            ok = true;
        } else if (!strcmp(op, "not-exists") && bars == 2) {
            out->kind = EON_SPEC_NOT_EXISTS;
            out->name = take(&rest);
            out->type = take(&rest);
            ok = true;
        } else if (!strcmp(op, "name-inuse") && bars == 1) {
            out->kind = EON_SPEC_NAME_IN_USE;
            out->name = take(&rest);
            ok = true;
        } else if ((!strcmp(op, "not-name-inuse") || !strcmp(op, "name-not-inuse")) && bars == 1) {
            out->kind = EON_SPEC_NOT_NAME_IN_USE;
            out->name = take(&rest);
            ok = true;
        }
    } else {
        if (!strcmp(op, "add") && bars >= 4) {
            out->kind = EON_SPEC_ADD;
            out->name = take(&rest);
            out->type = take(&rest);
            char *last = strrchr(rest, '|'); /* TTL is the last field */
            *last = 0;
            out->value = rest;
            if (parse_ttl(last + 1, &out->ttl) < 0)
                return err_set(e,
                               "invalid update '%s': TTL '%s' must be an integer from 0 to "
                               "2147483647",
                               orig, last + 1);
            ok = true;
        } else if (!strcmp(op, "remove") && bars == 1) {
            out->kind = EON_SPEC_REMOVE_ALL;
            out->name = take(&rest);
            ok = true;
        } else if (!strcmp(op, "remove") && bars == 2) {
            out->kind = EON_SPEC_REMOVE;
            out->name = take(&rest);
            out->type = take(&rest);
            ok = true;
        } else if (!strcmp(op, "remove") && bars >= 3) {
            out->kind = EON_SPEC_REMOVE_SINGLE;
            out->name = take(&rest);
            out->type = take(&rest);
            out->value = rest;
            ok = true;
        }
    }
    if (!ok) return err_set(e, "invalid %s '%s': expected %s", what, orig, forms);
    if (!*out->name) return err_set(e, "invalid %s '%s': empty NAME", what, orig);
    if (out->type && !*out->type) return err_set(e, "invalid %s '%s': empty TYPE", what, orig);
    if (out->value && !*out->value) return err_set(e, "invalid %s '%s': empty VALUE", what, orig);
    return 0;
}
