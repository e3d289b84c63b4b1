/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_conn.c - one connection's TLS engine: the record BIO, the
 * handshake, read, write and shutdown steps, and how OpenSSL's failures
 * become sockit codes.  Nothing here waits: every step returns
 * SK_ETLS_WANT_READ or SK_ETLS_WANT_WRITE when the descriptor is not ready
 * (lib/tls.h says who waits).
 *
 * Error mapping (tls_error): OpenSSL's error queue is per thread, so every
 * step clears it before its call and after reading it.  A failed step is
 * classified by SSL_get_error, then by the queue's reason: the peer's
 * certificate refused (the verify result names why), no common protocol
 * version, a peer that is not speaking TLS, end of stream without
 * close_notify (ragged EOF), anything else in the handshake, anything else
 * after it.  A system error under SSL_ERROR_SYSCALL stays -errno.
 */
#include "tls_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* ---- the record BIO ----------------------------------------------------- */

static int bio_write(BIO *b, const char *buf, size_t len, size_t *done)
{
    sk__tls *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do
        n = send(t->fd, buf, len, MSG_NOSIGNAL | (t->nowait ? MSG_DONTWAIT : 0));
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        *done = (size_t)n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_write(b);
    return 0;
}

static int bio_read(BIO *b, char *buf, size_t len, size_t *done)
{
    sk__tls *t = BIO_get_data(b);
    ssize_t n = recv(t->fd, buf, len, t->nowait ? MSG_DONTWAIT : 0);

    BIO_clear_retry_flags(b);
    if (n > 0) {
        *done = (size_t)n;
        return 1;
    }
    if (n == 0) {
        errno = 0; /* end of stream: OpenSSL reports it as unexpected EOF */
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        BIO_set_retry_read(b);
    return 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    sk__tls *t = BIO_get_data(b);

    switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = t->fd;
        return t->fd;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* The method lives as long as the process (OpenSSL keeps a pointer). */
static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sockit");

    if (m == NULL)
        return;
    BIO_meth_set_write_ex(m, bio_write);
    BIO_meth_set_read_ex(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

BIO *sk__tls_bio_new(sk__tls *t)
{
    pthread_once(&bio_once, bio_method_init);
    if (bio_method == NULL)
        return NULL;

    BIO *b = BIO_new(bio_method);

    if (b != NULL)
        BIO_set_data(b, t);
    return b;
}

/* ---- error mapping ------------------------------------------------------ */

int sk__tls_verify_code(long v)
{
    switch (v) {
    case X509_V_OK:
        return 0;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return SK_ETLS_VERIFY_UNKNOWN_ISSUER;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return SK_ETLS_VERIFY_HOSTNAME;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return SK_ETLS_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return SK_ETLS_VERIFY_NOT_YET_VALID;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return SK_ETLS_VERIFY_SELF_SIGNED;
    default:
        return SK_ETLS_VERIFY_OTHER;
    }
}

/* A failure in the handshake, by the reason OpenSSL recorded. */
static int handshake_error(const sk__tls *t, int reason)
{
    switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED: {
        int v = sk__tls_verify_code(SSL_get_verify_result(t->ssl));

        return v < 0 ? v : SK_ETLS_VERIFY_OTHER;
    }
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_UNSUPPORTED_SSL_VERSION:
        return SK_ETLS_VERSION;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_BAD_PROTOCOL_VERSION_NUMBER:
        return SK_ETLS_NOT_TLS;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return SK_ETLS_EOF;
    default:
        return SK_ETLS_HANDSHAKE;
    }
}

/*
 * The sockit code for a failed call that returned `ret`, with errno as the
 * call left it in `saved_errno`.  0 means the peer's close_notify (a clean
 * end).  Clears the thread's error queue.
 */
static int tls_error(sk__tls *t, int ret, int saved_errno)
{
    int e = SSL_get_error(t->ssl, ret);
    unsigned long q = ERR_peek_last_error();
    int code;

    ERR_clear_error();
    switch (e) {
    case SSL_ERROR_ZERO_RETURN:
        return t->established ? 0 : SK_ETLS_EOF;
    case SSL_ERROR_WANT_READ:
        return SK_ETLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return SK_ETLS_WANT_WRITE;
    case SSL_ERROR_SYSCALL:
        code = saved_errno > 0 ? -saved_errno : SK_ETLS_EOF;
        break;
    case SSL_ERROR_SSL:
        if (ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            code = SK_ETLS_EOF;
        else if (!t->established)
            code = handshake_error(t, ERR_GET_REASON(q));
        else
            code = SK_ETLS_PROTOCOL;
        break;
    default:
        code = t->established ? SK_ETLS_PROTOCOL : SK_ETLS_HANDSHAKE;
        break;
    }
    t->failed = true;
    return code;
}

/* ---- life --------------------------------------------------------------- */

/* A name for the session cache: the server name and the peer's address. */
static void cache_key(sk__tls *t, const char *name)
{
    sk_addr peer;
    char addr[SK_ADDRSTRLEN];

    peer.len = sizeof peer.u;
    if (getpeername(t->fd, &peer.u.sa, &peer.len) < 0 ||
        sk_addr_format(&peer, addr, sizeof addr) < 0)
        return;
    snprintf(t->cache_key, sizeof t->cache_key, "%s|%s", name ? name : "", addr);
}

/* True when `name` is an IPv4 or IPv6 literal (no SNI, an IP SAN check). */
static bool is_ip_literal(const char *name)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* Client side: SNI, the name check and the cached session. */
static int client_setup(sk__tls *t, const char *name)
{
    sk_tls_ctx *ctx = t->ctx;

    if (ctx->check_hostname && name == NULL)
        return -EINVAL;
    if (name != NULL && !is_ip_literal(name) &&
        SSL_set_tlsext_host_name(t->ssl, name) != 1)
        return -EINVAL;
    if (name != NULL && ctx->check_hostname) {
        X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
        int ok = is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(p, name)
                                     : X509_VERIFY_PARAM_set1_host(p, name, 0);

        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (ok != 1)
            return -EINVAL;
    }
    if (ctx->resumption) {
        cache_key(t, name);
        if (t->cache_key[0] != '\0')
            sk__tls_cache_offer(t);
    }
    SSL_set_connect_state(t->ssl);
    return 0;
}

int sk__tls_new(sk__tls **out, sk_tls_ctx *ctx, int fd, const char *server_hostname)
{
    sk__tls *t = calloc(1, sizeof *t);
    int r = -ENOMEM;

    if (t == NULL)
        return -ENOMEM;
    t->fd = fd;
    t->ctx = ctx;
    sk__tls_ctx_ref(ctx);
    t->ssl = SSL_new(ctx->ssl);

    BIO *b = t->ssl != NULL ? sk__tls_bio_new(t) : NULL;

    if (b == NULL)
        goto fail;
    SSL_set_bio(t->ssl, b, b);
    SSL_set_app_data(t->ssl, t);
    if (ctx->side == SK_TLS_CLIENT)
        r = client_setup(t, server_hostname);
    else {
        SSL_set_accept_state(t->ssl);
        r = 0;
    }
    if (r < 0)
        goto fail;
    ERR_clear_error();
    *out = t;
    return 0;

fail:
    ERR_clear_error();
    sk__tls_free(t);
    return r;
}

void sk__tls_free(sk__tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    sk_tls_ctx_free(t->ctx);
    free(t);
}

/* ---- steps -------------------------------------------------------------- */

static void on_established(sk__tls *t)
{
    const unsigned char *p;
    unsigned len;

    t->established = true;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    if (len > 0 && len < sizeof t->alpn) {
        memcpy(t->alpn, p, len);
        t->alpn[len] = '\0';
    }
}

int sk__tls_handshake_step(sk__tls *t)
{
    if (t->established)
        return 0;
    if (t->failed)
        return SK_ETLS_HANDSHAKE;
    ERR_clear_error();
    errno = 0;

    int r = SSL_do_handshake(t->ssl);

    if (r == 1) {
        on_established(t);
        return 0;
    }
    return tls_error(t, r, errno);
}

bool sk__tls_established(const sk__tls *t)
{
    return t->established;
}

ssize_t sk__tls_read(sk__tls *t, void *buf, size_t len, bool peek)
{
    size_t n = 0;
    int r = sk__tls_handshake_step(t);

    if (r < 0)
        return r;
    if (len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    if ((peek ? SSL_peek_ex(t->ssl, buf, len, &n) : SSL_read_ex(t->ssl, buf, len, &n)) == 1)
        return (ssize_t)n;
    return tls_error(t, 0, errno);
}

ssize_t sk__tls_write(sk__tls *t, const void *buf, size_t len)
{
    size_t n = 0;
    int r = sk__tls_handshake_step(t);

    if (r < 0)
        return r;
    if (len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(t->ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    r = tls_error(t, 0, errno);
    /* A close_notify seen while writing is the peer gone, not success. */
    return r == 0 ? -EPIPE : r;
}

int sk__tls_send_close_notify(sk__tls *t)
{
    if (!t->established || t->failed)
        return -EINVAL;
    if (t->notify_sent)
        return 0;
    ERR_clear_error();
    errno = 0;

    int r = SSL_shutdown(t->ssl);

    /* 0 is "sent, the peer's not yet seen" -- or, when the alert went out
     * only in part (a short write, then EAGAIN), "not sent yet", which only
     * the want tells apart. */
    if (r == 1 || (r == 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_WRITE)) {
        t->notify_sent = true;
        return 0;
    }
    if (r == 0)
        return SK_ETLS_WANT_WRITE;
    r = tls_error(t, r, errno);
    return r == 0 ? -EPIPE : r;
}

int sk__tls_shutdown_step(sk__tls *t)
{
    char sink[4096];
    size_t n;
    int r = sk__tls_send_close_notify(t);

    if (r < 0)
        return r;
    while (!(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN)) {
        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(t->ssl, sink, sizeof sink, &n) == 1)
            continue;
        r = tls_error(t, 0, errno);
        if (r != 0)
            return r;
    }
    return 0;
}

void sk__tls_close_notify(sk__tls *t)
{
    if (t == NULL || !t->established || t->failed || t->notify_sent)
        return;
    t->nowait = true;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}

/* ---- accessors ---------------------------------------------------------- */

const char *sk__tls_version(const sk__tls *t)
{
    return t->established ? SSL_get_version(t->ssl) : NULL;
}

const char *sk__tls_cipher(const sk__tls *t)
{
    return t->established ? SSL_get_cipher_name(t->ssl) : NULL;
}

const char *sk__tls_alpn(const sk__tls *t)
{
    return t->established && t->alpn[0] != '\0' ? t->alpn : NULL;
}

bool sk__tls_reused(const sk__tls *t)
{
    return t->established && SSL_session_reused(t->ssl);
}

int sk__tls_export(const sk__tls *t, const char *label, const void *context,
                   size_t context_len, void *out, size_t len)
{
    if (!t->established)
        return -EINVAL;
    if (SSL_export_keying_material(t->ssl, out, len, label, strlen(label), context,
                                   context_len, context != NULL) != 1) {
        ERR_clear_error();
        return SK_ETLS_HANDSHAKE;
    }
    return 0;
}

int sk__tls_verify_result(const sk__tls *t)
{
    X509 *peer = SSL_get0_peer_certificate(t->ssl);

    if (peer == NULL)
        return -ENODATA;
    return sk__tls_verify_code(SSL_get_verify_result(t->ssl));
}

size_t sk__tls_pending(const sk__tls *t)
{
    int n = SSL_pending(t->ssl);

    return n > 0 ? (size_t)n : 0;
}
