#include "rpc/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/atomicfile.h"
#include "util/b64url.h"
#include "util/log.h"

struct tls_key {
    EVP_PKEY *pkey;
    X509 *cert;
    SSL_CTX *server_ctx;
    char fp[TLS_FP_LEN + 1];
    uint8_t secret_hash[32];
};

struct tls_session {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool server, established;
    char expected[TLS_FP_LEN + 1];
    char peer_fp[TLS_FP_LEN + 1];
    /* Compared as raw SHA-256 digests: a key that cannot be encoded
     * (peer_ok false) or an expected value that is not 32 bytes never
     * matches, where two empty strings would have. */
    uint8_t expected_raw[32], peer_raw[32];
    bool peer_ok;
    uint8_t *pend; /* plaintext written before the handshake finished */
    size_t pend_len, pend_cap;
};

static int ssl_err(struct err *e, const char *what)
{
    unsigned long code = ERR_get_error();
    char buf[256] = "unknown error";
    if (code) ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return err_set(e, "%s: %s", what, buf);
}

static int digest_pkey(EVP_PKEY *pk, uint8_t md[32])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pk, &der);
    if (n <= 0) return -1;
    SHA256(der, (size_t)n, md);
    OPENSSL_free(der);
    return 0;
}

static int fingerprint_pkey(EVP_PKEY *pk, char *out)
{
    uint8_t md[32];
    if (digest_pkey(pk, md) < 0) return -1;
    b64url_encode(md, sizeof md, out);
    return 0;
}

/* A self-signed certificate as the original makes: CN "capnp", valid from
 * 1970 to 9999, signed with SHA-256. */
static X509 *self_signed(EVP_PKEY *pk)
{
    X509 *x = X509_new();
    if (!x) return NULL;
    uint64_t serial;
    X509_NAME *name = X509_get_subject_name(x);
    if (RAND_bytes((unsigned char *)&serial, sizeof serial) != 1 || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) ||
        !ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "19700101010101Z") ||
        !ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "99991231235959Z") ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"capnp", -1,
                                    -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pk) ||
        !X509_sign(x, pk, EVP_sha256())) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Identity is by key fingerprint, not by CA: accept any chain here and
 * check the fingerprint once the handshake is done. */
static int accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ok;
    (void)ctx;
    return 1;
}

static SSL_CTX *make_ctx(bool server, EVP_PKEY *pk, X509 *cert)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* The server wants the client's key (a peer identity), not a CA chain. */
    SSL_CTX_set_verify(ctx,
                       server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       accept_any);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* A peer could make the server redo the expensive handshake on one
     * connection again and again (TLS 1.2; 1.3 has no renegotiation). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    return ctx;
}

static struct tls_key *key_from_pkey(EVP_PKEY *pk, const char *pem, size_t pemlen, struct err *e)
{
    struct tls_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pk);
        err_set(e, "out of memory");
        return NULL;
    }
    k->pkey = pk;
    SHA256((const unsigned char *)pem, pemlen, k->secret_hash);
    k->cert = self_signed(pk);
    if (!k->cert || fingerprint_pkey(pk, k->fp) < 0 ||
        !(k->server_ctx = make_ctx(true, pk, k->cert))) {
        ssl_err(e, "TLS key setup");
        tls_key_free(k);
        return NULL;
    }
    return k;
}

struct tls_key *tls_key_from_pem(const char *pem, size_t len, struct err *e)
{
    if (len > INT32_MAX) {
        err_set(e, "key too large");
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!pk) {
        ssl_err(e, "cannot read PEM private key");
        return NULL;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        err_set(e, "secret key is not an RSA key");
        return NULL;
    }
    return key_from_pkey(pk, pem, len, e);
}

/* A fresh RSA-2048 key as PEM (PKCS#8, like the original writes). */
static char *generate_pem(EVP_PKEY **out, size_t *len, struct err *e)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    if (!pk || !b || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
        ssl_err(e, "cannot generate an RSA key");
        goto out;
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    pem = malloc((size_t)n + 1);
    if (!pem) {
        err_set(e, "out of memory");
        goto out;
    }
    memcpy(pem, data, (size_t)n);
    pem[n] = 0;
    *len = (size_t)n;
    *out = pk;
    pk = NULL;
out:
    EVP_PKEY_free(pk);
    BIO_free(b);
    return pem;
}

struct tls_key *tls_key_load(const char *path, struct err *e)
{
    struct stat st;
    if (path[0] && stat(path, &st) == 0) {
        /* Still used (refusing would take a working server down), but
         * said once, loudly: anyone who can read it can be this server. */
        if (st.st_mode & 077)
            log_error("capnp secret key file %s is readable by group or others (mode %04o): "
                      "chmod 600 %s",
                      path, (unsigned)(st.st_mode & 07777), path);
        size_t len;
        char *pem = read_file(path, 1 << 20, &len, e);
        if (!pem) return NULL;
        struct tls_key *k = tls_key_from_pem(pem, len, e);
        OPENSSL_cleanse(pem, len);
        free(pem);
        if (!k) err_prefix(e, "%s", path);
        return k;
    }
    if (path[0] && errno != ENOENT) {
        err_set(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pk = NULL;
    size_t len = 0;
    char *pem = generate_pem(&pk, &len, e);
    if (!pem) return NULL;
    if (path[0] && atomic_write_file(path, pem, len, 0600, e) < 0) {
        EVP_PKEY_free(pk);
        OPENSSL_cleanse(pem, len);
        free(pem);
        return NULL;
    }
    struct tls_key *k = key_from_pkey(pk, pem, len, e);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return k;
}

void tls_key_free(struct tls_key *k)
{
    if (!k) return;
    SSL_CTX_free(k->server_ctx);
    X509_free(k->cert);
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *tls_key_fingerprint(const struct tls_key *k)
{
    return k->fp;
}
const uint8_t *tls_key_secret_hash(const struct tls_key *k)
{
    return k->secret_hash;
}

/* The client identity: one ephemeral key per process, made on first use.
 * Servers take any client key (they only learn the peer's identity), so
 * it is ECDSA P-256: made in well under a millisecond, where RSA-2048
 * generation costs up to a second, which every capc run would pay.
 * eon's server accepts it too (checked in the ocaml-tls 2.0.3 its flake
 * resolves): it asks for a certificate with every default signature
 * algorithm, ecdsa_secp256r1_sha256 first, and verifies the client's
 * CertificateVerify against that list for any key type (lib/config.ml
 * default_signature_algorithms; lib/handshake_server13.ml certificate
 * request and answer_client_certificate_verify; TLS 1.2 asks for RSA_SIGN
 * and ECDSA_SIGN, lib/handshake_server.ml); capnp-rpc's authenticator
 * accepts any certificate and fingerprints any public key. */
static SSL_CTX *client_ctx;

static SSL_CTX *get_client_ctx(struct err *e)
{
    if (client_ctx) return client_ctx;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *cert = pk ? self_signed(pk) : NULL;
    SSL_CTX *ctx = cert ? make_ctx(false, pk, cert) : NULL;
    X509_free(cert);
    EVP_PKEY_free(pk);
    if (!ctx) {
        ssl_err(e, "TLS client setup");
        return NULL;
    }
    client_ctx = ctx;
    return ctx;
}

static struct tls_session *session_new(SSL_CTX *ctx, bool server, struct err *e)
{
    struct tls_session *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(e, "out of memory");
        return NULL;
    }
    s->server = server;
    s->ssl = SSL_new(ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        free(s);
        ssl_err(e, "TLS session");
        return NULL;
    }
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    if (server)
        SSL_set_accept_state(s->ssl);
    else
        SSL_set_connect_state(s->ssl);
    return s;
}

struct tls_session *tls_session_server(struct tls_key *k, struct err *e)
{
    return session_new(k->server_ctx, true, e);
}

struct tls_session *tls_session_client(const char *expected_fp, struct err *e)
{
    uint8_t raw[33];
    size_t n = strlen(expected_fp);
    if (n > TLS_FP_LEN || b64url_decode(expected_fp, n, raw, sizeof raw) != 32) {
        err_set(e, "bad server key fingerprint '%s' (expected 43 base64url characters)",
                expected_fp);
        return NULL;
    }
    SSL_CTX *ctx = get_client_ctx(e);
    if (!ctx) return NULL;
    struct tls_session *s = session_new(ctx, false, e);
    if (s) {
        strcpy(s->expected, expected_fp);
        memcpy(s->expected_raw, raw, 32);
    }
    return s;
}

void tls_session_free(struct tls_session *s)
{
    if (!s) return;
    SSL_free(s->ssl);
    free(s->pend);
    free(s);
}

static int write_now(struct tls_session *s, const void *p, size_t n, struct err *e)
{
    const uint8_t *q = p;
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int r = SSL_write(s->ssl, q, chunk);
        if (r <= 0) return ssl_err(e, "TLS write");
        q += r;
        n -= (size_t)r;
    }
    return 0;
}

static int finish_handshake(struct tls_session *s, struct err *e)
{
    X509 *peer = SSL_get1_peer_certificate(s->ssl);
    if (peer) {
        EVP_PKEY *pk = X509_get0_pubkey(peer);
        s->peer_ok = pk && digest_pkey(pk, s->peer_raw) == 0;
        if (s->peer_ok)
            b64url_encode(s->peer_raw, sizeof s->peer_raw, s->peer_fp);
        else
            s->peer_fp[0] = 0;
        X509_free(peer);
    }
    if (!s->server) {
        if (!peer) return err_set(e, "server presented no certificate");
        /* Comparing public values: no need for constant time. */
        if (!s->peer_ok || memcmp(s->peer_raw, s->expected_raw, 32) != 0)
            return err_set(e, "server key fingerprint mismatch (expected %s, got %s)", s->expected,
                           s->peer_fp);
    }
    s->established = true;
    if (s->pend_len) {
        int r = write_now(s, s->pend, s->pend_len, e);
        free(s->pend);
        s->pend = NULL;
        s->pend_len = s->pend_cap = 0;
        if (r < 0) return -1;
    }
    return 0;
}

static int handshake_step(struct tls_session *s, struct err *e)
{
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) return finish_handshake(s, e);
    int code = SSL_get_error(s->ssl, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
    return ssl_err(e, "TLS handshake failed");
}

int tls_session_start(struct tls_session *s, struct err *e)
{
    return handshake_step(s, e);
}

int tls_session_input(struct tls_session *s, const uint8_t *in, size_t n, tls_plain_fn fn, void *ud,
                      struct err *e)
{
    while (n > 0) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int w = BIO_write(s->rbio, in, chunk);
        if (w <= 0) return err_set(e, "TLS: out of memory");
        in += w;
        n -= (size_t)w;
    }
    if (!s->established) {
        if (handshake_step(s, e) < 0) return -1;
        if (!s->established) return 0;
    }
    uint8_t buf[16384];
    for (;;) {
        int r = SSL_read(s->ssl, buf, sizeof buf);
        if (r > 0) {
            if (fn(ud, buf, (size_t)r) < 0) return -1;
            continue;
        }
        int code = SSL_get_error(s->ssl, r);
        if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
        if (code == SSL_ERROR_ZERO_RETURN) return err_set(e, "TLS connection closed by peer");
        return ssl_err(e, "TLS read failed");
    }
}

int tls_session_write(struct tls_session *s, const void *p, size_t n, struct err *e)
{
    if (n == 0) return 0;
    if (s->established) return write_now(s, p, n, e);
    if (n > s->pend_cap - s->pend_len) {
        size_t cap = s->pend_cap ? s->pend_cap : 4096;
        while (cap - s->pend_len < n)
            cap *= 2;
        uint8_t *np = realloc(s->pend, cap);
        if (!np) return err_set(e, "out of memory");
        s->pend = np;
        s->pend_cap = cap;
    }
    memcpy(s->pend + s->pend_len, p, n);
    s->pend_len += n;
    return 0;
}

bool tls_session_take_output(struct tls_session *s, uint8_t **out, size_t *len)
{
    size_t n = BIO_ctrl_pending(s->wbio);
    if (n == 0) return false;
    uint8_t *p = malloc(n);
    if (!p) return false;
    int r = BIO_read(s->wbio, p, (int)n);
    if (r <= 0) {
        free(p);
        return false;
    }
    *out = p;
    *len = (size_t)r;
    return true;
}

bool tls_session_established(const struct tls_session *s)
{
    return s->established;
}
const char *tls_session_peer_fingerprint(const struct tls_session *s)
{
    return s->peer_fp;
}

void tls_session_shutdown(struct tls_session *s)
{
    if (s->established) SSL_shutdown(s->ssl);
}

int tls_fingerprint_of_pem(const char *pem, size_t len, char *out, struct err *e)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b) return err_set(e, "out of memory");
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;
    if (x) {
        pk = X509_get_pubkey(x);
        X509_free(x);
    } else {
        ERR_clear_error();
        BIO_reset(b);
        pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        if (!pk) {
            ERR_clear_error();
            BIO_reset(b);
            pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        }
    }
    BIO_free(b);
    if (!pk) return ssl_err(e, "no certificate or key in PEM data");
    int r = fingerprint_pkey(pk, out);
    EVP_PKEY_free(pk);
    return r < 0 ? ssl_err(e, "cannot encode the public key") : 0;
}
