#include "rpc/sturdy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util/atomicfile.h"
#include "util/b64url.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (cap bytes incl. NUL). */
static int pct_decode(const char *s, size_t n, char *out, size_t cap, struct err *e,
                      const char *what)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) return err_set(e, "bad %%-escape in %s", what);
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0) return err_set(e, "bad %%-escape in %s", what);
            c = a << 4 | b;
            i += 2;
        }
        if (c == 0) return err_set(e, "NUL in %s", what);
        if (o + 1 >= cap) return err_set(e, "%s too long", what);
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

static int decode_id(const char *s, size_t n, struct sturdy_ref *r, struct err *e)
{
    char tmp[STURDY_MAX_ID * 2];
    if (pct_decode(s, n, tmp, sizeof tmp, e, "service ID") < 0) return -1;
    long len = b64url_decode(tmp, strlen(tmp), r->id, sizeof r->id);
    if (len < 0) return err_set(e, "bad service ID '%s' (expected base64url)", tmp);
    r->id_len = (size_t)len;
    return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port, bool zero_ok, struct err *e)
{
    unsigned v = 0;
    if (n == 0 || n > 5) return err_set(e, "bad port '%.*s'", (int)n, s);
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return err_set(e, "bad port '%.*s'", (int)n, s);
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if ((v == 0 && !zero_ok) || v > 65535) return err_set(e, "bad port '%.*s'", (int)n, s);
    *port = (uint16_t)v;
    return 0;
}

/* HOST:PORT with an optional [IPv6] host, from s[0..n). */
static int parse_hostport(const char *s, size_t n, struct sturdy_ref *r, bool zero_ok,
                          struct err *e)
{
    const char *colon;
    const char *host = s;
    size_t hlen;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return err_set(e, "missing ']' in '%.*s'", (int)n, s);
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (colon >= s + n || *colon != ':') return err_set(e, "missing port in '%.*s'", (int)n, s);
        if (!memchr(host, ':', hlen)) return err_set(e, "bad IPv6 address in '%.*s'", (int)n, s);
    } else {
        colon = NULL;
        for (size_t i = n; i-- > 0;)
            if (s[i] == ':') {
                colon = s + i;
                break;
            }
        if (!colon) return err_set(e, "missing port in '%.*s'", (int)n, s);
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen))
            return err_set(e, "IPv6 address must be in brackets in '%.*s'", (int)n, s);
    }
    if (hlen == 0) return err_set(e, "missing host in '%.*s'", (int)n, s);
    if (pct_decode(host, hlen, r->host, sizeof r->host, e, "host") < 0) return -1;
    for (const char *p = r->host; *p; p++)
        if (isspace((unsigned char)*p) || *p == '/' || *p == '@')
            return err_set(e, "bad host '%s'", r->host);
    return parse_port(colon + 1, (size_t)(s + n - colon - 1), &r->port, zero_ok, e);
}

int sturdy_parse(const char *uri, struct sturdy_ref *r, struct err *e)
{
    memset(r, 0, sizeof *r);
    while (isspace((unsigned char)*uri))
        uri++;
    size_t n = strlen(uri);
    while (n > 0 && isspace((unsigned char)uri[n - 1]))
        n--;
    static const char scheme[] = "capnp://";
    if (n < sizeof scheme - 1 || strncmp(uri, scheme, sizeof scheme - 1) != 0)
        return err_set(e, "'%.*s' is not a capnp:// URI", (int)(n > 200 ? 200 : n), uri);
    const char *p = uri + sizeof scheme - 1, *end = uri + n;
    const char *auth_end = memchr(p, '/', (size_t)(end - p));
    if (!auth_end) auth_end = end;
    if (memchr(p, '?', (size_t)(end - p)) || memchr(p, '#', (size_t)(end - p)))
        return err_set(e, "unexpected query or fragment in capnp URI");
    const char *at = NULL;
    for (const char *q = auth_end; q-- > p;)
        if (*q == '@') {
            at = q;
            break;
        }
    if (!at)
        return err_set(e, "missing digest in capnp URI (expected 'capnp://sha-256:FP@...' or "
                          "'capnp://insecure@...')");
    size_t ulen = (size_t)(at - p);
    if (ulen == 8 && strncmp(p, "insecure", 8) == 0) {
        r->insecure = true;
    } else {
        const char *c = memchr(p, ':', ulen);
        if (!c) return err_set(e, "missing digest value in capnp URI");
        if ((size_t)(c - p) != 7 || strncmp(p, "sha-256", 7) != 0)
            return err_set(e, "unknown digest type '%.*s' in capnp URI", (int)(c - p), p);
        size_t flen = (size_t)(at - c - 1);
        uint8_t raw[64];
        if (flen >= sizeof r->fingerprint || b64url_decode(c + 1, flen, raw, sizeof raw) != 32)
            return err_set(e, "bad sha-256 digest '%.*s' in capnp URI", (int)flen, c + 1);
        memcpy(r->fingerprint, c + 1, flen);
        r->fingerprint[flen] = 0;
    }
    const char *host = at + 1;
    if (host == auth_end) {
        /* unix: capnp://FP@/PATH/ID */
        r->kind = STURDY_UNIX;
        const char *slash = NULL;
        for (const char *q = end; q-- > auth_end;)
            if (*q == '/') {
                slash = q;
                break;
            }
        if (!slash || slash == auth_end) return err_set(e, "missing socket path in capnp URI");
        if (pct_decode(auth_end, (size_t)(slash - auth_end), r->path, sizeof r->path, e,
                       "socket path") < 0)
            return -1;
        return decode_id(slash + 1, (size_t)(end - slash - 1), r, e);
    }
    r->kind = STURDY_TCP;
    if (parse_hostport(host, (size_t)(auth_end - host), r, false, e) < 0) return -1;
    const char *id = auth_end < end ? auth_end + 1 : end;
    if (memchr(id, '/', (size_t)(end - id)))
        return err_set(e, "unexpected '/' in service ID of capnp URI");
    return decode_id(id, (size_t)(end - id), r, e);
}

/* Characters the original's URI printer leaves as they are in a path. */
static bool path_safe(int c)
{
    return isalnum(c) || strchr("-._~!$&'()*+,;=:@/", c);
}

/* Characters left as they are in a host: a path's, less the two that
 * end it ('/', '@'). */
static bool host_safe(int c)
{
    return path_safe(c) && c != '/' && c != '@';
}

/* Writes s with every byte safe() refuses as %XX, so sturdy_parse's
 * pct_decode gives s back. */
static size_t put_escaped(char *out, size_t o, size_t cap, const char *s, bool (*safe)(int))
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (safe(c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    return o;
}

char *sturdy_format(const struct sturdy_ref *r)
{
    size_t cap = 64 + 3 * strlen(r->path) + 3 * strlen(r->host) + b64url_enc_len(r->id_len) + 16;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t o = 0;
    o += (size_t)snprintf(out + o, cap - o, "capnp://");
    if (r->insecure)
        o += (size_t)snprintf(out + o, cap - o, "insecure@");
    else
        o += (size_t)snprintf(out + o, cap - o, "sha-256:%s@", r->fingerprint);
    if (r->kind == STURDY_TCP) {
        /* The host escaped like the path: parse_hostport accepts (and
         * decodes) a host with '%', '?', '#', '[' or ']', and written as it
         * is such a host gave a URI sturdy_parse refuses (fuzz_sturdy_ref). */
        bool v6 = strchr(r->host, ':') != NULL;
        if (v6) out[o++] = '[';
        o = put_escaped(out, o, cap, r->host, host_safe);
        o += (size_t)snprintf(out + o, cap - o, "%s:%u/", v6 ? "]" : "", r->port);
    } else {
        o = put_escaped(out, o, cap, r->path, path_safe);
        out[o++] = '/';
    }
    b64url_encode(r->id, r->id_len, out + o);
    return out;
}

int sturdy_load_file(const char *path, struct sturdy_ref *r, struct err *e)
{
    size_t len;
    char *data = read_file(path, 64 * 1024, &len, e);
    if (!data) return -1;
    if (strlen(data) != len) {
        free(data);
        return err_set(e, "%s: not a capability file", path);
    }
    int rc = sturdy_parse(data, r, e);
    free(data);
    if (rc < 0) err_prefix(e, "%s", path);
    return rc;
}

int sturdy_save_file(const char *path, const char *uri, struct err *e)
{
    size_t n = strlen(uri);
    char *data = malloc(n + 2);
    if (!data) return err_set(e, "out of memory");
    memcpy(data, uri, n);
    data[n] = '\n';
    int rc = atomic_write_file(path, data, n + 1, 0600, e);
    free(data);
    return rc;
}

int sturdy_parse_address(const char *addr, struct sturdy_ref *r, struct err *e)
{
    if (strncmp(addr, "unix:", 5) == 0) {
        const char *p = addr + 5;
        if (!*p) return err_set(e, "empty unix socket path in '%s'", addr);
        if (p[0] == '/') {
            if (strlen(p) >= sizeof r->path) return err_set(e, "unix socket path too long");
            strcpy(r->path, p);
        } else {
            /* Relative to the current directory, made absolute the way the
             * original does (the directory, '/', the path as given, nothing
             * normalised), so both write the same URI into cap files. */
            char cwd[STURDY_MAX_PATH];
            if (!getcwd(cwd, sizeof cwd))
                return err_set(e, "unix socket path '%s': cannot make it absolute: %s", p,
                               strerror(errno));
            size_t cl = strlen(cwd);
            const char *sep = cl > 0 && cwd[cl - 1] == '/' ? "" : "/";
            int n = snprintf(r->path, sizeof r->path, "%s%s%s", cwd, sep, p);
            if (n < 0 || (size_t)n >= sizeof r->path)
                return err_set(e, "unix socket path too long");
        }
        r->kind = STURDY_UNIX;
        r->host[0] = 0;
        r->port = 0;
        return 0;
    }
    if (strncmp(addr, "tcp:", 4) == 0) {
        r->kind = STURDY_TCP;
        r->path[0] = 0;
        /* Port 0 (any free port) is fine for listening. */
        return parse_hostport(addr + 4, strlen(addr + 4), r, true, e);
    }
    return err_set(e, "bad address '%s': only tcp:HOST:PORT and unix:PATH are supported", addr);
}

void sturdy_describe(const struct sturdy_ref *r, char *out, size_t cap)
{
    if (r->kind == STURDY_UNIX)
        snprintf(out, cap, "%s", r->path);
    else if (strchr(r->host, ':'))
        snprintf(out, cap, "[%s]:%u", r->host, r->port);
    else
        snprintf(out, cap, "%s:%u", r->host, r->port);
}

void sturdy_derive_id(const uint8_t secret[32], const char *name, uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), secret, 32, (const unsigned char *)name, strlen(name), out, &len);
}

int sturdy_random_id(uint8_t out[32], struct err *e)
{
    if (RAND_bytes(out, 32) != 1) return err_set(e, "cannot get random bytes from the OS");
    return 0;
}
