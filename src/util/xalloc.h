/*
 * The allocation-failure policy for small internal objects (table
 * entries, list nodes, bookkeeping): they abort the process on failure,
 * as Redis's zmalloc does. A failure there means the machine is out of
 * memory and no caller could do better than a half-torn-down state; what
 * a peer can make large (message buffers, lists sized by a count on the
 * wire) is allocated with plain malloc and fails gracefully instead.
 */
#ifndef CEON_UTIL_XALLOC_H
#define CEON_UTIL_XALLOC_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *xalloc_check(void *p, size_t n)
{
    if (!p && n) {
        fprintf(stderr, "fatal: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

static inline void *xmalloc(size_t n)
{
    return xalloc_check(malloc(n ? n : 1), n ? n : 1);
}

static inline void *xcalloc(size_t k, size_t n)
{
    return xalloc_check(calloc(k ? k : 1, n ? n : 1), (k ? k : 1) * (n ? n : 1));
}

static inline void *xrealloc(void *p, size_t n)
{
    return xalloc_check(realloc(p, n ? n : 1), n ? n : 1);
}

static inline char *xstrdup(const char *s)
{
    return xalloc_check(strdup(s), strlen(s) + 1);
}
#endif
