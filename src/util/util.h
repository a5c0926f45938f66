/*
 * util: the bottom layer. Owns what every other layer needs and nothing
 * DNS- or Cap'n-Proto-specific: error messages (err.h), logging (log.h),
 * bounded byte buffers (buf.h), an arena allocator (arena.h), base64url
 * (b64url.h) and crash-safe file writes (atomicfile.h).
 * Nothing in util includes a header from another layer.
 */
#ifndef CEON_UTIL_H
#define CEON_UTIL_H
#include "arena.h"
#include "atomicfile.h"
#include "b64url.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#endif
