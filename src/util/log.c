#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int log_level_global = LOG_ERROR;
static const char *prog = "ceon";

void log_set_level(int level) { __atomic_store_n(&log_level_global, level, __ATOMIC_RELAXED); }
void log_set_prog(const char *p) { prog = p; }

void log_msg(int level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[2048];
    int n = snprintf(line, sizeof line, "%s: ", prog);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line keeps lines from concurrent threads whole. */
    fprintf(stderr, "%s\n", line);
}

void log_hex(const char *what, const void *data, size_t len)
{
    if (!log_enabled(LOG_TRACE))
        return;
    const uint8_t *p = data;
    for (size_t off = 0; off < len; off += 16) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s %04zx:", what, off);
        for (size_t i = off; i < off + 16 && i < len && n > 0 && (size_t)n < sizeof line; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %02x", p[i]);
        log_msg(LOG_TRACE, "%s", line);
    }
}
