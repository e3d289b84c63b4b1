/* SPDX-License-Identifier: MIT */
/*
 * lib/sock_io.c - the socket calls that wait for the network: connect, send,
 * sendall, recv, recvfrom, sendto, and their deadline variants.
 *
 * Map: each public call turns the socket's timeout into one deadline and
 * hands it to a _dl variant (sendall loops under that single deadline).
 * Every call tries its system call first and waits (sk__wait_fd) only when
 * the call would block, so the steady state is one system call; in blocking
 * mode the system call itself blocks and EINTR is retried.  Sends always
 * carry MSG_NOSIGNAL.  A socket under TLS hands its stream calls to
 * lib/tls.h (tls_sock.c) with the same deadline.
 */
#include "internal.h"
#include "tls.h"

#include <errno.h>
#include <poll.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* platforms without it use SO_NOSIGPIPE instead */
#endif

/* The retry rule of internal.h, shared with accept (sock.c) and framing. */
int sk__sock_io_retry(const sk_sock *s, int err, short events, int64_t deadline)
{
    if (err == EINTR)
        return 0;
    if (err != EAGAIN && err != EWOULDBLOCK)
        return -err;
    if (s->timeout < 0)
        return -EAGAIN;
    return sk__wait_fd(s->fd, events, deadline);
}

/* MSG_DONTWAIT makes one call non-blocking whatever the socket's timeout. */
static int64_t flags_deadline(int flags, int64_t deadline)
{
    return (flags & MSG_DONTWAIT) ? SK__NOW_DEADLINE : deadline;
}

/* The call cannot block: the socket is in non-blocking mode (any timeout
 * but none), or the flags say so.  Then it may skip glibc's cancellation
 * bookkeeping (sk__sys_* in internal.h). */
static bool never_blocks(const sk_sock *s, int flags)
{
    return s->timeout >= 0 || (flags & MSG_DONTWAIT);
}

/*
 * Waits for an asynchronous connect to finish and returns its outcome from
 * SO_ERROR: 0, SK_ETIMEOUT, or the connect error.
 */
static int connect_finish(const sk_sock *s, int64_t deadline)
{
    int r = sk__wait_fd(s->fd, POLLOUT, deadline);

    if (r < 0)
        return r;

    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

/*
 * A connect interrupted by a signal goes on in the background; calling
 * connect again would fail with EALREADY, so the interrupted case waits for
 * completion like a timed connect does.
 */
int sk_sock_connect(sk_sock *s, const sk_addr *addr)
{
    if (s->fd < 0)
        return -EBADF;

    int64_t deadline = sk__sock_deadline(s);

    if (connect(s->fd, &addr->u.sa, addr->len) == 0)
        return 0;

    int err = errno;

    if (err == EINTR || (err == EINPROGRESS && deadline != SK__NOW_DEADLINE))
        return connect_finish(s, deadline);
    return -err;
}

int sk_sock_connect_ex(sk_sock *s, const sk_addr *addr)
{
    int r = sk_sock_connect(s, addr);

    if (r == SK_ETIMEOUT)
        return EAGAIN;
    return r < 0 ? -r : 0;
}

ssize_t sk__sock_send_dl(sk_sock *s, const void *buf, size_t len, int flags,
                         int64_t deadline)
{
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL)
        return sk__tls_sock_send_dl(s, buf, len, flags, deadline);
    deadline = flags_deadline(flags, deadline);
    for (;;) {
        ssize_t n = never_blocks(s, flags)
                        ? sk__sys_send(s->fd, buf, len, flags | MSG_NOSIGNAL)
                        : send(s->fd, buf, len, flags | MSG_NOSIGNAL);

        if (n >= 0)
            return n;
        int r = sk__sock_io_retry(s, errno, POLLOUT, deadline);

        if (r < 0)
            return r;
    }
}

ssize_t sk__sock_recv_dl(sk_sock *s, void *buf, size_t len, int flags,
                         int64_t deadline)
{
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL)
        return sk__tls_sock_recv_dl(s, buf, len, flags, deadline);
    deadline = flags_deadline(flags, deadline);
    for (;;) {
        ssize_t n = never_blocks(s, flags) ? sk__sys_recv(s->fd, buf, len, flags)
                                           : recv(s->fd, buf, len, flags);

        if (n >= 0)
            return n;
        int r = sk__sock_io_retry(s, errno, POLLIN, deadline);

        if (r < 0)
            return r;
    }
}

/*
 * Loops send under the caller's single deadline.  *sent (if not NULL)
 * always receives the number of bytes that went out.
 */
int sk__sock_sendall_dl(sk_sock *s, const void *buf, size_t len, size_t *sent,
                        int64_t deadline)
{
    const char *p = buf;
    size_t done = 0;
    int r = 0;

    while (done < len) {
        ssize_t n = sk__sock_send_dl(s, p + done, len - done, 0, deadline);

        if (n < 0) {
            r = (int)n;
            break;
        }
        done += (size_t)n;
    }
    if (sent != NULL)
        *sent = done;
    return r;
}

ssize_t sk_sock_send(sk_sock *s, const void *buf, size_t len, int flags)
{
    return sk__sock_send_dl(s, buf, len, flags, sk__sock_deadline(s));
}

int sk_sock_sendall(sk_sock *s, const void *buf, size_t len, size_t *sent)
{
    return sk__sock_sendall_dl(s, buf, len, sent, sk__sock_deadline(s));
}

ssize_t sk_sock_recv(sk_sock *s, void *buf, size_t len, int flags)
{
    return sk__sock_recv_dl(s, buf, len, flags, sk__sock_deadline(s));
}

ssize_t sk_sock_recvfrom(sk_sock *s, void *buf, size_t len, int flags,
                         sk_addr *from)
{
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL)
        return -EOPNOTSUPP;

    int64_t deadline = flags_deadline(flags, sk__sock_deadline(s));
    sk_addr tmp;
    sk_addr *a = from ? from : &tmp;

    for (;;) {
        a->len = sizeof a->u;
        ssize_t n = never_blocks(s, flags)
                        ? sk__sys_recvfrom(s->fd, buf, len, flags, &a->u.sa, &a->len)
                        : recvfrom(s->fd, buf, len, flags, &a->u.sa, &a->len);

        if (n >= 0)
            return n;
        int r = sk__sock_io_retry(s, errno, POLLIN, deadline);

        if (r < 0)
            return r;
    }
}

ssize_t sk_sock_sendto(sk_sock *s, const void *buf, size_t len, int flags,
                       const sk_addr *to)
{
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL)
        return -EOPNOTSUPP;

    int64_t deadline = flags_deadline(flags, sk__sock_deadline(s));

    for (;;) {
        ssize_t n = never_blocks(s, flags)
                        ? sk__sys_sendto(s->fd, buf, len, flags | MSG_NOSIGNAL, &to->u.sa,
                                         to->len)
                        : sendto(s->fd, buf, len, flags | MSG_NOSIGNAL, &to->u.sa, to->len);

        if (n >= 0)
            return n;
        int r = sk__sock_io_retry(s, errno, POLLOUT, deadline);

        if (r < 0)
            return r;
    }
}
