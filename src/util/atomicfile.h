/*
 * atomicfile: writing files so that a crash leaves either the old or the
 * new content, never a mix: write a temporary file in the same directory,
 * fsync it, rename it over the target, fsync the directory.
 */
#ifndef CEON_ATOMICFILE_H
#define CEON_ATOMICFILE_H
#include "err.h"
#include <stddef.h>
#include <sys/types.h>

/* Atomically replaces path with len bytes of data, file mode `mode`. */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode, struct err *e);
/* Creates every missing directory of path (like mkdir -p) with `mode`;
 * existing directories are left as they are. */
int mkdir_p(const char *path, mode_t mode, struct err *e);
/* Reads a whole regular file of at most max bytes into a malloc'd buffer
 * with a NUL appended (not counted in *len). */
char *read_file(const char *path, size_t max, size_t *len, struct err *e);
#endif
