/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_impl.h - the OpenSSL side of TLS, shared by tls.c (contexts),
 * tls_conn.c (one connection's engine), tls_cert.c (certificates as text)
 * and tls_sock.c.  Only these files include OpenSSL; everything else sees
 * lib/tls.h.
 */
#ifndef SOCKIT_TLS_IMPL_H
#define SOCKIT_TLS_IMPL_H

#include "tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>

/* A session ticket key: its name (in every ticket), cipher and MAC keys. */
struct sk__tls_ticket_key {
    unsigned char name[16];
    unsigned char aes[32];  /* AES-256-CBC */
    unsigned char hmac[32]; /* HMAC-SHA256 */
};

/* A certificate the server presents to clients naming `name` in SNI. */
struct sk__tls_sni {
    char *name;               /* lower case; "*.example.org" for a wildcard */
    X509 *cert;
    STACK_OF(X509) *chain;    /* may be NULL */
    EVP_PKEY *key;
};

/* A client's cached session for one server name and address. */
#define SK__TLS_CACHE_SLOTS 16
#define SK__TLS_CACHE_KEY 320
struct sk__tls_cached {
    char key[SK__TLS_CACHE_KEY]; /* "name|addr", "" when the slot is free */
    SSL_SESSION *sess;
    uint64_t used;               /* for least-recently-used replacement */
};

struct sk_tls_ctx {
    SSL_CTX *ssl;
    int side;                   /* SK_TLS_CLIENT or SK_TLS_SERVER */
    atomic_int refs;
    bool check_hostname;
    bool resumption;
    unsigned char *alpn;        /* wire format (length-prefixed names) */
    size_t alpn_len;
    /* The lock guards what handshakes on many threads read while the
     * owner may change it: ticket keys, SNI list, session cache. */
    pthread_mutex_t lock;
    struct sk__tls_ticket_key keys[2]; /* [0] current, [1] previous */
    bool have_prev;
    struct sk__tls_sni *sni;
    size_t nsni;
    struct sk__tls_cached cache[SK__TLS_CACHE_SLOTS];
    uint64_t clock;
};

struct sk__tls {
    SSL *ssl;
    sk_tls_ctx *ctx;            /* one reference held */
    int fd;
    bool established;
    bool failed;                /* a fatal error: no close_notify */
    bool nowait;                /* the BIO adds MSG_DONTWAIT (closing) */
    bool notify_sent;           /* our close_notify is out (not merely queued:
                                 * OpenSSL flags SENT_SHUTDOWN before the
                                 * alert has left, and a second SSL_shutdown
                                 * flushes it, or once it has, reads) */
    char alpn[256];
    char cache_key[SK__TLS_CACHE_KEY]; /* client with resumption: "" otherwise */
};

/* The BIO that moves TLS records over t->fd with recv/send (MSG_NOSIGNAL:
 * never SIGPIPE).  tls_conn.c. */
BIO *sk__tls_bio_new(sk__tls *t);

/* The session cache of a client context (tls.c): offers a cached session
 * for t->cache_key on t->ssl, if any. */
void sk__tls_cache_offer(sk__tls *t);

/* Maps an X509_V_ERR_* value to SK_ETLS_VERIFY_* (0 for X509_V_OK). */
int sk__tls_verify_code(long v);

#endif /* SOCKIT_TLS_IMPL_H */
