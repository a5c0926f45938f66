/*
 * err: how functions report failure. A function that can fail returns
 * an int (0 ok, -1 failed) or a pointer (NULL failed) and fills a
 * caller-provided struct err with a one-line message a user can act on.
 */
#ifndef CEON_ERR_H
#define CEON_ERR_H
#include <stdarg.h>

struct err {
    char msg[512];
};

/* Sets e->msg (if e is non-NULL) and returns -1 so callers can write
 * `return err_set(e, "...");`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the existing message: "prefix: old message". Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
