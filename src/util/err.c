#include "err.h"
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    /* Truncation is fine here: the message stays a valid, shorter string. */
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used + 2 < sizeof e->msg) {
        memcpy(e->msg + used, ": ", 2);
        size_t room = sizeof e->msg - used - 2 - 1, olen = strnlen(old, sizeof old - 1);
        if (olen > room)
            olen = room;
        memcpy(e->msg + used + 2, old, olen);
        e->msg[used + 2 + olen] = 0;
    }
    return -1;
}
