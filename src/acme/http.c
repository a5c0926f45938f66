/*
 * acme/http: libcurl multi interface on libuv. curl tells us which sockets
 * to watch (socket_cb) and when to call it back (timer_cb); libuv tells
 * curl when a socket is ready (on_poll) or the time has come (on_timer);
 * finished transfers are collected in collect_done. See http.h.
 */
#include "acme/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/xalloc.h"

struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    struct acme_http *http;
    struct sock_watch *prev, *next;
};

struct request {
    struct acme_http *http;
    CURL *easy;
    struct curl_slist *headers;
    char *post_body;
    acme_http_cb cb;
    void *arg;
    struct acme_http_response resp;
    size_t body_cap;
    bool body_too_large;
    char errbuf[CURL_ERROR_SIZE];
    struct request *prev, *next;
};

struct acme_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    STACK_OF(X509) * extra_ca;
    char *protocols;
    struct request *requests;
    struct sock_watch *watches;
    size_t pending;
    /* A callback may free the client (and so this) while collect_done is
     * still walking curl's list: the free then waits until the walk ends. */
    int dispatching;
    bool free_requested;
};

static void collect_done(struct acme_http *h);

/* ---- loop glue ---- */

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock_watch *w = poll->data;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    struct acme_http *h = w->http; /* w may be freed inside socket_action */
    curl_multi_socket_action(h->multi, w->fd, flags, &running);
    collect_done(h);
}

static void free_watch(uv_handle_t *handle)
{
    free(handle->data);
}

static void unwatch(struct acme_http *h, struct sock_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        h->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    uv_close((uv_handle_t *)&w->poll, free_watch);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct acme_http *h = userp;
    struct sock_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            curl_multi_assign(h->multi, fd, NULL);
            unwatch(h, w);
        }
        return 0;
    }
    if (!w) {
        w = xcalloc(1, sizeof *w);
        if (uv_poll_init_socket(h->loop, &w->poll, fd) != 0) {
            free(w);
            return -1; /* curl fails the transfer */
        }
        w->fd = fd;
        w->http = h;
        w->poll.data = w;
        w->next = h->watches;
        if (h->watches) h->watches->prev = w;
        h->watches = w;
        curl_multi_assign(h->multi, fd, w);
    }
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&w->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *timer)
{
    struct acme_http *h = timer->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct acme_http *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else /* 0 too goes through the loop: curl forbids calling back from here */
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- one request ---- */

static void response_clear(struct acme_http_response *r)
{
    free(r->body);
    free(r->location);
    free(r->replay_nonce);
    free(r->content_type);
    memset(r, 0, sizeof *r);
    r->retry_after = -1;
}

static void request_free(struct request *r)
{
    struct acme_http *h = r->http;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->requests = r->next;
    if (r->next) r->next->prev = r->prev;
    h->pending--;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->post_body);
    response_clear(&r->resp);
    free(r);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct request *r = userp;
    size_t len = size * n;
    if (len > ACME_HTTP_MAX_BODY - r->resp.body_len) {
        r->body_too_large = true;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    if (r->resp.body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->resp.body_len + len + 1)
            cap *= 2;
        r->resp.body = xrealloc(r->resp.body, cap);
        r->body_cap = cap;
    }
    memcpy(r->resp.body + r->resp.body_len, data, len);
    r->resp.body_len += len;
    r->resp.body[r->resp.body_len] = 0;
    return len;
}

long acme_http_parse_retry_after(const char *v)
{
    if (isdigit((unsigned char)*v)) {
        long s = 0;
        for (; isdigit((unsigned char)*v) && s < 1000000; v++)
            s = s * 10 + (*v - '0');
        return *v ? -1 : s;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == -1) return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct request *r = userp;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the previous headers. */
        free(r->resp.location), free(r->resp.replay_nonce), free(r->resp.content_type);
        r->resp.location = r->resp.replay_nonce = r->resp.content_type = NULL;
        r->resp.retry_after = -1;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (vlen > ACME_HTTP_MAX_HEADER || memchr(v, 0, vlen))
        return len; /* not one ACME could use: ignored */
    char **slot = NULL;
    if (name_len == 8 && strncasecmp(data, "Location", 8) == 0)
        slot = &r->resp.location;
    else if (name_len == 12 && strncasecmp(data, "Replay-Nonce", 12) == 0)
        slot = &r->resp.replay_nonce;
    else if (name_len == 12 && strncasecmp(data, "Content-Type", 12) == 0)
        slot = &r->resp.content_type;
    else if (name_len == 11 && strncasecmp(data, "Retry-After", 11) == 0) {
        char tmp[128];
        if (vlen < sizeof tmp) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = 0;
            r->resp.retry_after = acme_http_parse_retry_after(tmp);
        }
        return len;
    }
    if (slot) {
        free(*slot);
        *slot = xmalloc(vlen + 1);
        memcpy(*slot, v, vlen);
        (*slot)[vlen] = 0;
    }
    return len;
}

/* Adds ca_file's certificates to the trust store curl built from the
 * system's, so both are trusted. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userp)
{
    (void)easy;
    struct acme_http *h = userp;
    X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);
    for (int i = 0; i < sk_X509_num(h->extra_ca); i++)
        X509_STORE_add_cert(store, sk_X509_value(h->extra_ca, i));
    return CURLE_OK;
}

static void destroy(struct acme_http *h);

static void collect_done(struct acme_http *h)
{
    CURLMsg *msg;
    int left;
    h->dispatching++;
    while (!h->free_requested && (msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode result = msg->data.result;
        char why[CURL_ERROR_SIZE + 64];
        if (result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->resp.status);
            if (!r->resp.body) r->resp.body = xstrdup("");
            r->cb(r->arg, &r->resp, NULL);
        } else {
            if (r->body_too_large || result == CURLE_FILESIZE_EXCEEDED)
                snprintf(why, sizeof why, "response body larger than %u bytes", ACME_HTTP_MAX_BODY);
            else
                snprintf(why, sizeof why, "%s",
                         r->errbuf[0] ? r->errbuf : curl_easy_strerror(result));
            r->cb(r->arg, NULL, why);
        }
        request_free(r);
    }
    if (--h->dispatching == 0 && h->free_requested) destroy(h);
}

/* curl_global_init is not thread-safe before 7.84 and must run once. */
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int load_extra_ca(struct acme_http *h, const char *ca_file, struct err *e)
{
    FILE *f = fopen(ca_file, "r");
    if (!f) return err_set(e, "%s: %s", ca_file, strerror(errno));
    h->extra_ca = sk_X509_new_null();
    X509 *cert;
    while ((cert = PEM_read_X509(f, NULL, NULL, NULL)))
        sk_X509_push(h->extra_ca, cert);
    ERR_clear_error(); /* the read that ended the loop */
    fclose(f);
    if (sk_X509_num(h->extra_ca) == 0) return err_set(e, "%s: no PEM certificate in it", ca_file);
    return 0;
}

struct acme_http *acme_http_new(uv_loop_t *loop, const char *ca_file, const char *protocols,
                                struct err *e)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, curl_init_once);
    struct acme_http *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->protocols = xstrdup(protocols);
    if (ca_file && load_extra_ca(h, ca_file, e) < 0) {
        sk_X509_pop_free(h->extra_ca, X509_free);
        free(h->protocols);
        free(h);
        return NULL;
    }
    h->multi = curl_multi_init();
    if (!h->multi) {
        err_set(e, "curl_multi_init failed");
        sk_X509_pop_free(h->extra_ca, X509_free);
        free(h->protocols);
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    return h;
}

int acme_http_request(struct acme_http *h, const char *method, const char *url, const char *body,
                      const char *content_type, acme_http_cb cb, void *arg, struct err *e)
{
    struct request *r = xcalloc(1, sizeof *r);
    r->http = h;
    r->cb = cb;
    r->arg = arg;
    r->resp.retry_after = -1;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return err_set(e, "curl_easy_init failed");
    }
    CURL *c = r->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, h->protocols);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* ACME never redirects */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ACME_HTTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ACME_HTTP_MAX_BODY);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ceon-acme/0.1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (h->extra_ca) {
        /* Every connection must see the extra CAs; a store cached across
         * handles would have them added again and again. */
        curl_easy_setopt(c, CURLOPT_CA_CACHE_TIMEOUT, 0L);
        if (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK) {
            curl_easy_cleanup(c);
            free(r);
            return err_set(e, "this libcurl cannot add a CA file to its trust store "
                              "(it needs the OpenSSL backend)");
        }
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        r->post_body = xstrdup(body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->post_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->post_body));
        r->headers = curl_slist_append(r->headers, "Expect:"); /* no 100-continue round trip */
    }
    if (content_type) {
        char line[128];
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        r->headers = curl_slist_append(r->headers, line);
    }
    if (r->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);

    r->next = h->requests;
    if (h->requests) h->requests->prev = r;
    h->requests = r;
    h->pending++;
    CURLMcode mc = curl_multi_add_handle(h->multi, c);
    if (mc != CURLM_OK) {
        request_free(r);
        return err_set(e, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    return 0;
}

size_t acme_http_pending(const struct acme_http *h)
{
    return h->pending;
}

/* curl_multi_remove_handle drops the transfer's connection, tells
 * socket_cb to unwatch its socket and forgets a DONE message not yet read,
 * so collect_done never sees the request again. */
size_t acme_http_cancel(struct acme_http *h, void *arg)
{
    size_t n = 0;
    for (struct request *r = h->requests, *next; r; r = next) {
        next = r->next;
        if (r->arg != arg) continue;
        request_free(r);
        n++;
    }
    return n;
}

static void free_http(uv_handle_t *handle)
{
    struct acme_http *h = handle->data;
    sk_X509_pop_free(h->extra_ca, X509_free);
    free(h->protocols);
    free(h);
}

void acme_http_free(struct acme_http *h)
{
    if (!h) return;
    h->free_requested = true;
    if (!h->dispatching) destroy(h);
}

static void destroy(struct acme_http *h)
{
    while (h->requests)
        request_free(h->requests);
    curl_multi_cleanup(h->multi);
    while (h->watches) /* curl normally said REMOVE for each already */
        unwatch(h, h->watches);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, free_http);
}
