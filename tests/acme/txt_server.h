/*
 * A tiny authoritative DNS responder for the pebble test: answers TXT
 * queries over UDP on loopback from a table the acme hooks fill, as capd's
 * zone will. NOERROR with no answer for anything else. Test code only.
 */
#ifndef CEON_TESTS_ACME_TXT_SERVER_H
#define CEON_TESTS_ACME_TXT_SERVER_H
#include <stddef.h>
#include <uv.h>

#define TXT_SERVER_MAX 64

struct txt_server {
    uv_udp_t udp;
    struct {
        char name[256], value[256];
    } rr[TXT_SERVER_MAX];
    size_t n;
    size_t queries, txt_answers; /* what pebble asked, for the test's report */
};

int txt_server_start(struct txt_server *s, uv_loop_t *loop, int port);
void txt_server_stop(struct txt_server *s);
/* 0 or -1 (table full, too long, or the exact value is already there). */
int txt_server_add(struct txt_server *s, const char *name, const char *value);
/* 0, or -1 if that value was not there. */
int txt_server_remove(struct txt_server *s, const char *name, const char *value);
#endif
