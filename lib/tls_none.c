/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_none.c - TLS in a library built with -DSK_TLS=OFF: the context
 * calls and the engine (lib/tls.h) exist and fail with SK_ETLS_UNAVAILABLE,
 * so programs link against either build and learn at run time which one
 * they got (sk_tls_available).  tls_sock.c is the same in both builds;
 * without an engine no socket is ever wrapped.
 */
#include "tls.h"

#include <errno.h>

bool sk_tls_available(void)
{
    return false;
}

int sk_tls_ctx_new(sk_tls_ctx **out, int side)
{
    if (out != NULL)
        *out = NULL;
    return SK_ETLS_UNAVAILABLE;
}

void sk_tls_ctx_free(sk_tls_ctx *ctx)
{
}

int sk_tls_ctx_load_cert_chain(sk_tls_ctx *ctx, const char *certfile, const char *keyfile)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_load_verify_locations(sk_tls_ctx *ctx, const char *cafile, const char *capath)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_verify_mode(sk_tls_ctx *ctx, int mode)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_check_hostname(sk_tls_ctx *ctx, bool on)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_alpn_protocols(sk_tls_ctx *ctx, const char *const *protos, size_t n)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_minimum_version(sk_tls_ctx *ctx, int version)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_maximum_version(sk_tls_ctx *ctx, int version)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_set_resumption(sk_tls_ctx *ctx, bool on)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_add_sni_cert(sk_tls_ctx *ctx, const char *servername, const char *certfile,
                            const char *keyfile)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk_tls_ctx_rotate_ticket_keys(sk_tls_ctx *ctx)
{
    return SK_ETLS_UNAVAILABLE;
}

/* ---- the engine (lib/tls.h) --------------------------------------------- */

void sk__tls_ctx_ref(sk_tls_ctx *ctx)
{
}

int sk__tls_ctx_side(const sk_tls_ctx *ctx)
{
    return 0;
}

int sk__tls_new(sk__tls **out, sk_tls_ctx *ctx, int fd, const char *server_hostname)
{
    return SK_ETLS_UNAVAILABLE;
}

void sk__tls_free(sk__tls *t)
{
}

int sk__tls_handshake_step(sk__tls *t)
{
    return SK_ETLS_UNAVAILABLE;
}

bool sk__tls_established(const sk__tls *t)
{
    return false;
}

ssize_t sk__tls_read(sk__tls *t, void *buf, size_t len, bool peek)
{
    return SK_ETLS_UNAVAILABLE;
}

ssize_t sk__tls_write(sk__tls *t, const void *buf, size_t len)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk__tls_shutdown_step(sk__tls *t)
{
    return SK_ETLS_UNAVAILABLE;
}

int sk__tls_send_close_notify(sk__tls *t)
{
    return SK_ETLS_UNAVAILABLE;
}

void sk__tls_close_notify(sk__tls *t)
{
}

const char *sk__tls_version(const sk__tls *t)
{
    return NULL;
}

const char *sk__tls_cipher(const sk__tls *t)
{
    return NULL;
}

const char *sk__tls_alpn(const sk__tls *t)
{
    return NULL;
}

int sk__tls_export(const sk__tls *t, const char *label, const void *context,
                   size_t context_len, void *out, size_t len)
{
    return SK_ETLS_UNAVAILABLE;
}

bool sk__tls_reused(const sk__tls *t)
{
    return false;
}

int sk__tls_verify_result(const sk__tls *t)
{
    return SK_ETLS_UNAVAILABLE;
}

size_t sk__tls_pending(const sk__tls *t)
{
    return 0;
}

int sk__tls_peer_cert(const sk__tls *t, sk_tls_cert_info *out)
{
    return SK_ETLS_UNAVAILABLE;
}

time_t sk__tls_ctx_not_after(const sk_tls_ctx *ctx)
{
    return 0;
}
