/*
 * log: leveled logging to stderr. Level 0 logs only errors, 1 one line per
 * event (per query, per RPC call), 2 all fields, 3 hex dumps. The level is
 * a global read with a relaxed load, so the hot path pays one compare when
 * logging is off: always guard per-query logging with log_enabled(level).
 */
#ifndef CEON_LOG_H
#define CEON_LOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_INFO = 1, LOG_DEBUG = 2, LOG_TRACE = 3 };

extern int log_level_global;
void log_set_level(int level);
static inline bool log_enabled(int level) { return __atomic_load_n(&log_level_global, __ATOMIC_RELAXED) >= level; }

/* Program name prefixed to every line, e.g. "capd". */
void log_set_prog(const char *prog);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
/* Hex dump of len bytes at level LOG_TRACE, each line prefixed with what. */
void log_hex(const char *what, const void *data, size_t len);
#endif
