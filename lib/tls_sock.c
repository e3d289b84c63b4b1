/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_sock.c - TLS on sockit sockets: sk_tls_wrap, sk_tls_handshake,
 * sk_tls_connect, sk_tls_unwrap, the accessors, and the wrapped socket's
 * I/O that sock_io.c, frame.c and sock.c hand over.
 *
 * Map: each call takes one deadline on entry (the socket's timeout, or
 * the connect call's) and loops one engine step (tls_conn.c) at a time;
 * when the step wants the descriptor readable or writable, tls_wait waits
 * for that under the deadline, or, on a non-blocking socket, returns the
 * want to the caller.  The engine never blocks, so a blocking socket waits
 * here too (its descriptor is blocking, so the system calls themselves
 * wait and the poll is reached only after EINTR).
 */
#include "tls.h"

#include <errno.h>
#include <math.h>
#include <poll.h>

/* After step result `r`: 0 to step again (the descriptor is ready), or
 * what to return (r itself when not a want, the want when nothing may
 * wait, SK_ETIMEOUT, -errno). */
static int tls_wait(const sk_sock *s, int r, int64_t deadline)
{
    short events;

    if (r == SK_ETLS_WANT_READ)
        events = POLLIN;
    else if (r == SK_ETLS_WANT_WRITE)
        events = POLLOUT;
    else
        return r;
    if (deadline == SK__NOW_DEADLINE)
        return r;
    return sk__wait_fd(s->fd, events, deadline);
}

static bool is_want(int r)
{
    return r == SK_ETLS_WANT_READ || r == SK_ETLS_WANT_WRITE;
}

/* The handshake under `deadline`.  Any failure but a want unwraps s. */
static int handshake_dl(sk_sock *s, int64_t deadline)
{
    for (;;) {
        int r = sk__tls_handshake_step(s->tls);

        if (r == 0)
            return 0;
        r = tls_wait(s, r, deadline);
        if (r < 0) {
            if (!is_want(r)) {
                sk__tls_free(s->tls);
                s->tls = NULL;
            }
            return r;
        }
    }
}

static int wrap_dl(sk_sock *s, sk_tls_ctx *ctx, const char *server_hostname,
                   int64_t deadline)
{
    if (s == NULL || ctx == NULL)
        return -EINVAL;
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL)
        return -EALREADY;
    if (s->type != SOCK_STREAM)
        return -EPROTOTYPE;

    int r = sk__tls_new(&s->tls, ctx, s->fd, server_hostname);

    if (r < 0)
        return r;
    return handshake_dl(s, deadline);
}

int sk_tls_wrap(sk_sock *s, sk_tls_ctx *ctx, const char *server_hostname)
{
    return wrap_dl(s, ctx, server_hostname, s != NULL ? sk__sock_deadline(s) : 0);
}

int sk_tls_handshake(sk_sock *s)
{
    if (s == NULL || s->tls == NULL)
        return -EINVAL;
    return handshake_dl(s, sk__sock_deadline(s));
}

int sk_tls_connect_ex(sk_sock **out, const char *host, const char *port, int family,
                      sk_tls_ctx *ctx, const char *server_hostname, double timeout)
{
    sk_sock *s;

    if (out == NULL || ctx == NULL)
        return -EINVAL;
    *out = NULL;
    if (timeout == SK_TIMEOUT_DEFAULT)
        timeout = sk_getdefaulttimeout();
    if (isnan(timeout) || (timeout < 0 && timeout != SK_TIMEOUT_NONE))
        return -EINVAL;

    int64_t deadline = sk__deadline_from_timeout(timeout);
    int r = sk_create_connection(&s, host, port, family, timeout, NULL);

    if (r < 0)
        return r;
    r = wrap_dl(s, ctx, server_hostname != NULL ? server_hostname : host, deadline);
    if (r < 0) {
        sk_sock_free(s);
        return r;
    }
    *out = s;
    return 0;
}

int sk_tls_connect(sk_sock **out, const char *host, const char *port, sk_tls_ctx *ctx,
                   double timeout)
{
    return sk_tls_connect_ex(out, host, port, AF_UNSPEC, ctx, NULL, timeout);
}

int sk_tls_unwrap(sk_sock *s)
{
    if (s == NULL || s->tls == NULL || !sk__tls_established(s->tls))
        return -EINVAL;

    int64_t deadline = sk__sock_deadline(s);
    int r;

    for (;;) {
        r = sk__tls_shutdown_step(s->tls);
        if (r == 0)
            break;
        r = tls_wait(s, r, deadline);
        if (is_want(r))
            return r; /* non-blocking: still wrapped, call again */
        if (r < 0)
            break;
    }
    sk__tls_free(s->tls);
    s->tls = NULL;
    return r;
}

/* ---- a wrapped socket's I/O --------------------------------------------- */

ssize_t sk__tls_sock_recv_dl(sk_sock *s, void *buf, size_t len, int flags,
                             int64_t deadline)
{
    if (flags & ~(MSG_PEEK | MSG_DONTWAIT))
        return -EOPNOTSUPP;
    if (flags & MSG_DONTWAIT)
        deadline = SK__NOW_DEADLINE;
    for (;;) {
        ssize_t n = sk__tls_read(s->tls, buf, len, (flags & MSG_PEEK) != 0);

        if (n >= 0)
            return n;
        int r = tls_wait(s, (int)n, deadline);

        if (r < 0)
            return r;
    }
}

ssize_t sk__tls_sock_send_dl(sk_sock *s, const void *buf, size_t len, int flags,
                             int64_t deadline)
{
    if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL))
        return -EOPNOTSUPP;
    if (flags & MSG_DONTWAIT)
        deadline = SK__NOW_DEADLINE;
    for (;;) {
        ssize_t n = sk__tls_write(s->tls, buf, len);

        if (n >= 0)
            return n;
        int r = tls_wait(s, (int)n, deadline);

        if (r < 0)
            return r;
    }
}

int sk__tls_sock_close_notify(sk_sock *s)
{
    int64_t deadline = sk__sock_deadline(s);

    for (;;) {
        int r = sk__tls_send_close_notify(s->tls);

        if (r == 0)
            return 0;
        r = tls_wait(s, r, deadline);
        if (r < 0)
            return r;
    }
}

void sk__tls_sock_release(sk_sock *s, bool notify)
{
    if (s->tls == NULL)
        return;
    if (notify)
        sk__tls_close_notify(s->tls);
    sk__tls_free(s->tls);
    s->tls = NULL;
}

/* ---- accessors ---------------------------------------------------------- */

const char *sk_tls_version(const sk_sock *s)
{
    return s != NULL && s->tls != NULL ? sk__tls_version(s->tls) : NULL;
}

const char *sk_tls_cipher(const sk_sock *s)
{
    return s != NULL && s->tls != NULL ? sk__tls_cipher(s->tls) : NULL;
}

const char *sk_tls_alpn(const sk_sock *s)
{
    return s != NULL && s->tls != NULL ? sk__tls_alpn(s->tls) : NULL;
}

bool sk_tls_session_reused(const sk_sock *s)
{
    return s != NULL && s->tls != NULL && sk__tls_reused(s->tls);
}

int sk_tls_export_keying_material(const sk_sock *s, const char *label, const void *context,
                                  size_t context_len, void *out, size_t len)
{
    if (!sk_tls_available())
        return SK_ETLS_UNAVAILABLE;
    if (s == NULL || s->tls == NULL || label == NULL || (out == NULL && len > 0))
        return -EINVAL;
    return sk__tls_export(s->tls, label, context, context_len, out, len);
}

int sk_tls_verify_result(const sk_sock *s)
{
    if (s == NULL || s->tls == NULL)
        return -EINVAL;
    return sk__tls_verify_result(s->tls);
}

size_t sk_tls_pending(const sk_sock *s)
{
    return s != NULL && s->tls != NULL ? sk__tls_pending(s->tls) : 0;
}

int sk_tls_peer_cert(const sk_sock *s, sk_tls_cert_info *out)
{
    if (s == NULL || s->tls == NULL || out == NULL)
        return -EINVAL;
    return sk__tls_peer_cert(s->tls, out);
}
