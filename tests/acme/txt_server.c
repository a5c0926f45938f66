/* See txt_server.h. */
#include "txt_server.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int txt_server_add(struct txt_server *s, const char *name, const char *value)
{
    if (s->n == TXT_SERVER_MAX || strlen(name) >= 256 || strlen(value) >= 256) return -1;
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->rr[i].name, name) == 0 && strcmp(s->rr[i].value, value) == 0) return -1;
    snprintf(s->rr[s->n].name, 256, "%s", name);
    snprintf(s->rr[s->n].value, 256, "%s", value);
    s->n++;
    return 0;
}

int txt_server_remove(struct txt_server *s, const char *name, const char *value)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcasecmp(s->rr[i].name, name) == 0 && strcmp(s->rr[i].value, value) == 0) {
            s->rr[i] = s->rr[--s->n];
            return 0;
        }
    }
    return -1;
}

/* The question's name as dotted text (no final dot); returns the offset
 * after QTYPE/QCLASS, or 0 if the query is malformed. */
static size_t read_question(const uint8_t *q, size_t len, char *name, uint16_t *qtype)
{
    size_t pos = 12, out = 0;
    while (pos < len && q[pos]) {
        size_t l = q[pos];
        if (l > 63 || pos + 1 + l > len || out + l + 1 >= 256) return 0;
        if (out) name[out++] = '.';
        memcpy(name + out, q + pos + 1, l);
        out += l;
        pos += 1 + l;
    }
    name[out] = 0;
    if (pos + 5 > len) return 0;
    *qtype = (uint16_t)(q[pos + 1] << 8 | q[pos + 2]);
    return pos + 5;
}

static void on_send(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    static char mem[4096];
    *buf = uv_buf_init(mem, sizeof mem);
}

static void on_query(uv_udp_t *udp, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                     unsigned flags)
{
    (void)flags;
    struct txt_server *s = udp->data;
    const uint8_t *q = (const uint8_t *)buf->base;
    char name[256];
    uint16_t qtype = 0;
    size_t qend;
    if (n < 12 || !from || (q[2] & 0x80) || (q[4] << 8 | q[5]) != 1 ||
        !(qend = read_question(q, (size_t)n, name, &qtype)))
        return;
    s->queries++;
    /* Header + question + answers; no EDNS in the answer. */
    struct {
        uv_udp_send_t req;
        uint8_t out[4096];
    } *r = malloc(sizeof *r);
    size_t len = qend, ancount = 0;
    memcpy(r->out, q, qend);
    r->out[2] = 0x84 | (q[2] & 0x79); /* QR, AA, the query's opcode and RD */
    r->out[3] = 0;
    for (size_t i = 0; qtype == 16 && i < s->n; i++) {
        size_t vl = strlen(s->rr[i].value);
        if (strcasecmp(s->rr[i].name, name) != 0 || len + 13 + vl > sizeof r->out) continue;
        uint8_t *p = r->out + len;
        const uint8_t rr[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, (uint8_t)(vl + 1), (uint8_t)vl};
        memcpy(p, rr, sizeof rr);
        memcpy(p + sizeof rr, s->rr[i].value, vl);
        len += sizeof rr + vl;
        ancount++;
    }
    if (ancount) s->txt_answers++;
    r->out[6] = 0, r->out[7] = (uint8_t)ancount;
    memset(r->out + 8, 0, 4); /* no authority, no additional (drops the query's OPT) */
    uv_buf_t b = uv_buf_init((char *)r->out, (unsigned)len);
    if (uv_udp_send(&r->req, udp, &b, 1, from, on_send) != 0) free(r);
}

int txt_server_start(struct txt_server *s, uv_loop_t *loop, int port)
{
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    if (uv_udp_init(loop, &s->udp) != 0) return -1;
    s->udp.data = s;
    if (uv_udp_bind(&s->udp, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_udp_recv_start(&s->udp, on_alloc, on_query) != 0) {
        uv_close((uv_handle_t *)&s->udp, NULL);
        return -1;
    }
    uv_unref((uv_handle_t *)&s->udp); /* uv_run returns once the orders are done */
    return 0;
}

void txt_server_stop(struct txt_server *s)
{
    uv_close((uv_handle_t *)&s->udp, NULL);
}
