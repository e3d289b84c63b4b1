/* SPDX-License-Identifier: MIT */
/*
 * lib/tls.c - TLS contexts (Python's SSLContext) on OpenSSL 3.
 *
 * Map: sk_tls_ctx_new builds an SSL_CTX with create_default_context's
 * settings for its side and installs the callbacks that read the context
 * under its lock: the client's session cache (new_session), the server's
 * ticket keys (ticket_key), SNI certificate choice (choose_cert) and ALPN
 * choice (choose_alpn).  The setters below change the SSL_CTX before it is
 * shared; the ones meant for a running server (SNI certificates, ticket
 * rotation) take the lock.  The engine for one connection is tls_conn.c.
 */
#include "tls_impl.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool sk_tls_available(void)
{
    return true;
}

/* ---- references --------------------------------------------------------- */

void sk__tls_ctx_ref(sk_tls_ctx *ctx)
{
    atomic_fetch_add(&ctx->refs, 1);
}

int sk__tls_ctx_side(const sk_tls_ctx *ctx)
{
    return ctx->side;
}

static void sni_clear(struct sk__tls_sni *e)
{
    free(e->name);
    X509_free(e->cert);
    sk_X509_pop_free(e->chain, X509_free);
    EVP_PKEY_free(e->key);
}

void sk_tls_ctx_free(sk_tls_ctx *ctx)
{
    if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) != 1)
        return;
    for (size_t i = 0; i < ctx->nsni; i++)
        sni_clear(&ctx->sni[i]);
    free(ctx->sni);
    for (size_t i = 0; i < SK__TLS_CACHE_SLOTS; i++)
        SSL_SESSION_free(ctx->cache[i].sess);
    free(ctx->alpn);
    SSL_CTX_free(ctx->ssl);
    OPENSSL_cleanse(ctx->keys, sizeof ctx->keys);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

/* ---- client session cache ----------------------------------------------- */

/* The slot for `key`, or NULL.  Under the lock. */
static struct sk__tls_cached *cache_find(sk_tls_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < SK__TLS_CACHE_SLOTS; i++)
        if (ctx->cache[i].sess != NULL && strcmp(ctx->cache[i].key, key) == 0)
            return &ctx->cache[i];
    return NULL;
}

/* The slot to store `key` in: its own, a free one, or the least recently
 * used.  Under the lock. */
static struct sk__tls_cached *cache_slot(sk_tls_ctx *ctx, const char *key)
{
    struct sk__tls_cached *e = cache_find(ctx, key), *lru = &ctx->cache[0];

    if (e != NULL)
        return e;
    for (size_t i = 0; i < SK__TLS_CACHE_SLOTS; i++) {
        if (ctx->cache[i].sess == NULL)
            return &ctx->cache[i];
        if (ctx->cache[i].used < lru->used)
            lru = &ctx->cache[i];
    }
    return lru;
}

/* OpenSSL hands every new session (TLS 1.3: every ticket) of a client
 * connection here; the newest per server is kept.  Returns 1: the
 * reference is ours. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    sk__tls *t = SSL_get_app_data(ssl);

    if (t == NULL || t->cache_key[0] == '\0')
        return 0;
    sk_tls_ctx *ctx = t->ctx;

    pthread_mutex_lock(&ctx->lock);
    struct sk__tls_cached *e = cache_slot(ctx, t->cache_key);

    SSL_SESSION_free(e->sess);
    e->sess = sess;
    snprintf(e->key, sizeof e->key, "%s", t->cache_key);
    e->used = ++ctx->clock;
    pthread_mutex_unlock(&ctx->lock);
    return 1;
}

void sk__tls_cache_offer(sk__tls *t)
{
    sk_tls_ctx *ctx = t->ctx;

    pthread_mutex_lock(&ctx->lock);
    struct sk__tls_cached *e = cache_find(ctx, t->cache_key);

    if (e != NULL) {
        SSL_set_session(t->ssl, e->sess);
        e->used = ++ctx->clock;
    }
    pthread_mutex_unlock(&ctx->lock);
}

/* ---- server session tickets --------------------------------------------- */

static int key_fill(struct sk__tls_ticket_key *k)
{
    if (RAND_bytes(k->name, sizeof k->name) != 1 || RAND_bytes(k->aes, sizeof k->aes) != 1 ||
        RAND_bytes(k->hmac, sizeof k->hmac) != 1)
        return SK_ETLS_HANDSHAKE;
    return 0;
}

int sk_tls_ctx_rotate_ticket_keys(sk_tls_ctx *ctx)
{
    struct sk__tls_ticket_key k;

    if (ctx == NULL || ctx->side != SK_TLS_SERVER)
        return -EINVAL;
    int r = key_fill(&k);

    if (r < 0)
        return r;
    pthread_mutex_lock(&ctx->lock);
    ctx->keys[1] = ctx->keys[0];
    ctx->keys[0] = k;
    ctx->have_prev = true;
    pthread_mutex_unlock(&ctx->lock);
    OPENSSL_cleanse(&k, sizeof k);
    return 0;
}

/* Sets up the ticket's cipher and MAC with key k. */
static int ticket_init(const struct sk__tls_ticket_key *k, unsigned char *iv,
                       EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
                                          sizeof k->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc)
        return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
    return EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback: encrypting, the current key; decrypting, the
 * key the ticket names, if we still have it, else 0: a full handshake.
 * A ticket that opens is always renewed (2): under TLS 1.3 a resumed
 * connection otherwise gets no new ticket, and a client would keep
 * presenting the same one until its key is rotated out.
 */
static int ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv,
                      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    sk_tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct sk__tls_ticket_key k;
    int which = -1;

    if (enc && RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
        return -1;
    pthread_mutex_lock(&ctx->lock);
    if (enc || memcmp(name, ctx->keys[0].name, 16) == 0)
        which = 0;
    else if (ctx->have_prev && memcmp(name, ctx->keys[1].name, 16) == 0)
        which = 1;
    if (which >= 0)
        k = ctx->keys[which];
    pthread_mutex_unlock(&ctx->lock);
    if (which < 0)
        return 0;
    if (enc)
        memcpy(name, k.name, 16);
    int r = ticket_init(&k, iv, cctx, hctx, enc);

    OPENSSL_cleanse(&k, sizeof k);
    if (r < 0)
        return -1;
    return enc ? 1 : 2;
}

/* ---- server: SNI and ALPN choice ---------------------------------------- */

/* True when the SNI `name` matches `pattern` ("*.b.c" matches one label). */
static bool sni_match(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');

        return dot != NULL && dot != name && strcasecmp(dot, pattern + 1) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

/* Called when the server picks its certificate: one named by the client's
 * SNI, if listed, replaces the context's own. */
static int choose_cert(SSL *ssl, void *arg)
{
    sk_tls_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int ok = 1;

    if (name == NULL)
        return 1;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nsni; i++) {
        struct sk__tls_sni *e = &ctx->sni[i];

        if (sni_match(e->name, name)) {
            ok = SSL_use_cert_and_key(ssl, e->cert, e->key, e->chain, 1);
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return ok;
}

static int choose_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    sk_tls_ctx *ctx = arg;
    unsigned char *o;

    if (ctx->alpn == NULL ||
        SSL_select_next_proto(&o, outlen, ctx->alpn, (unsigned)ctx->alpn_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- creation ----------------------------------------------------------- */

/* create_default_context's settings for one side. */
static int ctx_setup(sk_tls_ctx *ctx)
{
    SSL_CTX *c = ctx->ssl;

    SSL_CTX_set_app_data(c, ctx);
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1)
        return -ENOMEM;
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    /* A store that cannot be read is not fatal: the caller may load its own. */
    SSL_CTX_set_default_verify_paths(c);
    ERR_clear_error();
    if (ctx->side == SK_TLS_CLIENT) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, new_session);
        return 0;
    }
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    /* A server that verifies client certificates refuses to resume a
     * session without a session id context (OpenSSL's "session id context
     * uninitialized": an internal-error alert to the client); one for
     * every server context, so mutual TLS resumes too. */
    if (SSL_CTX_set_session_id_context(c, (const unsigned char *)"sockit", 6) != 1)
        return -ENOMEM;
    SSL_CTX_set_cert_cb(c, choose_cert, ctx);
    SSL_CTX_set_alpn_select_cb(c, choose_alpn, ctx);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(c, ticket_key) != 1)
        return -ENOMEM;
    return key_fill(&ctx->keys[0]);
}

int sk_tls_ctx_new(sk_tls_ctx **out, int side)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (side != SK_TLS_CLIENT && side != SK_TLS_SERVER)
        return -EINVAL;

    sk_tls_ctx *ctx = calloc(1, sizeof *ctx);

    if (ctx == NULL)
        return -ENOMEM;
    ctx->side = side;
    atomic_init(&ctx->refs, 1);
    ctx->check_hostname = side == SK_TLS_CLIENT;
    ctx->resumption = true;
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->ssl = SSL_CTX_new(side == SK_TLS_CLIENT ? TLS_client_method() : TLS_server_method());

    int r = ctx->ssl != NULL ? ctx_setup(ctx) : -ENOMEM;

    ERR_clear_error();
    if (r < 0) {
        sk_tls_ctx_free(ctx);
        return r;
    }
    *out = ctx;
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

/* -errno when `path` cannot be opened for reading, else 0: so a missing
 * file is ENOENT, not a TLS error. */
static int readable(const char *path)
{
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -errno;
    fclose(f);
    return 0;
}

int sk_tls_ctx_load_cert_chain(sk_tls_ctx *ctx, const char *certfile, const char *keyfile)
{
    if (ctx == NULL || certfile == NULL)
        return -EINVAL;
    if (keyfile == NULL)
        keyfile = certfile;

    int r = readable(certfile);

    if (r == 0)
        r = readable(keyfile);
    if (r < 0)
        return r;
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, certfile) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx->ssl, keyfile, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ssl) != 1)
        r = SK_ETLS_CERT;
    ERR_clear_error();
    return r;
}

int sk_tls_ctx_load_verify_locations(sk_tls_ctx *ctx, const char *cafile, const char *capath)
{
    if (ctx == NULL || (cafile == NULL && capath == NULL))
        return -EINVAL;

    int r = cafile != NULL ? readable(cafile) : 0;

    if (r < 0)
        return r;
    if (SSL_CTX_load_verify_locations(ctx->ssl, cafile, capath) != 1)
        r = SK_ETLS_CERT;
    ERR_clear_error();
    return r;
}

/* Reads a PEM chain (leaf first) and key into *e.  Returns 0, SK_ETLS_CERT. */
static int sni_load(struct sk__tls_sni *e, const char *certfile, const char *keyfile)
{
    FILE *f = fopen(certfile, "r");
    X509 *x;

    if (f == NULL)
        return -errno;
    e->cert = PEM_read_X509(f, NULL, NULL, NULL);
    while (e->cert != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (e->chain == NULL)
            e->chain = sk_X509_new_null();
        if (e->chain == NULL || !sk_X509_push(e->chain, x)) {
            X509_free(x);
            break;
        }
    }
    fclose(f);
    if ((f = fopen(keyfile, "r")) == NULL)
        return -errno;
    e->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (e->cert == NULL || e->key == NULL || X509_check_private_key(e->cert, e->key) != 1)
        return SK_ETLS_CERT;
    return 0;
}

int sk_tls_ctx_add_sni_cert(sk_tls_ctx *ctx, const char *servername, const char *certfile,
                            const char *keyfile)
{
    struct sk__tls_sni e = {0};

    if (ctx == NULL || ctx->side != SK_TLS_SERVER || servername == NULL ||
        servername[0] == '\0' || certfile == NULL)
        return -EINVAL;
    int r = sni_load(&e, certfile, keyfile != NULL ? keyfile : certfile);

    ERR_clear_error();
    if (r == 0 && (e.name = strdup(servername)) == NULL)
        r = -ENOMEM;
    if (r < 0) {
        sni_clear(&e);
        return r;
    }
    pthread_mutex_lock(&ctx->lock);
    struct sk__tls_sni *grown = realloc(ctx->sni, (ctx->nsni + 1) * sizeof *grown);

    if (grown != NULL) {
        ctx->sni = grown;
        ctx->sni[ctx->nsni++] = e;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (grown == NULL) {
        sni_clear(&e);
        return -ENOMEM;
    }
    return 0;
}

/* ---- settings ----------------------------------------------------------- */

int sk_tls_ctx_set_verify_mode(sk_tls_ctx *ctx, int mode)
{
    int v;

    if (ctx == NULL)
        return -EINVAL;
    switch (mode) {
    case SK_TLS_VERIFY_NONE:
        v = SSL_VERIFY_NONE;
        break;
    case SK_TLS_VERIFY_OPTIONAL:
        v = SSL_VERIFY_PEER;
        break;
    case SK_TLS_VERIFY_REQUIRED:
        v = SSL_VERIFY_PEER;
        if (ctx->side == SK_TLS_SERVER)
            v |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    default:
        return -EINVAL;
    }
    SSL_CTX_set_verify(ctx->ssl, v, NULL);
    return 0;
}

int sk_tls_ctx_set_check_hostname(sk_tls_ctx *ctx, bool on)
{
    if (ctx == NULL)
        return -EINVAL;
    ctx->check_hostname = on;
    return 0;
}

int sk_tls_ctx_set_alpn_protocols(sk_tls_ctx *ctx, const char *const *protos, size_t n)
{
    size_t len = 0;

    if (ctx == NULL || (n > 0 && protos == NULL))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t l = protos[i] != NULL ? strlen(protos[i]) : 0;

        if (l == 0 || l > 255)
            return -EINVAL;
        len += 1 + l;
    }
    unsigned char *wire = n > 0 ? malloc(len) : NULL, *p = wire;

    if (n > 0 && wire == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protos[i]);

        *p++ = (unsigned char)l;
        memcpy(p, protos[i], l);
        p += l;
    }
    /* SSL_CTX_set_alpn_protos returns 0 on success. */
    if (ctx->side == SK_TLS_CLIENT && SSL_CTX_set_alpn_protos(ctx->ssl, wire,
                                                              (unsigned)len) != 0) {
        free(wire);
        return -ENOMEM;
    }
    free(ctx->alpn);
    ctx->alpn = wire;
    ctx->alpn_len = len;
    return 0;
}

static bool version_ok(int v)
{
    return v >= SK_TLS_VERSION_1_0 && v <= SK_TLS_VERSION_1_3;
}

int sk_tls_ctx_set_minimum_version(sk_tls_ctx *ctx, int version)
{
    if (ctx == NULL || !version_ok(version))
        return -EINVAL;
    return SSL_CTX_set_min_proto_version(ctx->ssl, version) == 1 ? 0 : -EINVAL;
}

int sk_tls_ctx_set_maximum_version(sk_tls_ctx *ctx, int version)
{
    if (ctx == NULL || (version != 0 && !version_ok(version)))
        return -EINVAL;
    return SSL_CTX_set_max_proto_version(ctx->ssl, version) == 1 ? 0 : -EINVAL;
}

int sk_tls_ctx_set_resumption(sk_tls_ctx *ctx, bool on)
{
    if (ctx == NULL)
        return -EINVAL;
    ctx->resumption = on;
    if (ctx->side == SK_TLS_SERVER) {
        if (on) {
            SSL_CTX_clear_options(ctx->ssl, SSL_OP_NO_TICKET);
            SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_SERVER);
            SSL_CTX_set_num_tickets(ctx->ssl, 2);
        } else {
            SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_TICKET);
            SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_num_tickets(ctx->ssl, 0);
        }
    }
    return 0;
}
