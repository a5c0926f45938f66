/* The names the phamt tests store (test_phamt.c, test_phamt_build.c): the
 * one generator both use, so their universes are built alike. */
#ifndef CEON_TEST_PHAMT_TEST_NAMES_H
#define CEON_TEST_PHAMT_TEST_NAMES_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Writes the wire name "<prefix><i>" + suffix (a wire name, root included,
 * suffix_len bytes) into out; returns its length. */
static inline size_t phamt_test_name(uint8_t out[32], char prefix, int i, const char *suffix,
                                     size_t suffix_len)
{
    char t[24];
    int l = snprintf(t, sizeof t, "%c%d", prefix, i);
    out[0] = (uint8_t)l;
    memcpy(out + 1, t, (size_t)l);
    memcpy(out + 1 + l, suffix, suffix_len);
    return (size_t)l + 1 + suffix_len;
}
#endif
