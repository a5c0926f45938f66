/*
 * fuzz_check: what the fuzz targets share. CHECK(c) fails the input (abort,
 * which libFuzzer reports with the input saved) when a property the target
 * asserts does not hold, naming the file, line and condition.
 */
#ifndef CEON_FUZZ_CHECK_H
#define CEON_FUZZ_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#endif
