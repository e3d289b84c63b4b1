/* SPDX-License-Identifier: MIT */
/*
 * lib/sock.c - socket objects: creation, adoption, close, and the calls that
 * only configure or describe a socket (bind, listen, shutdown, names).
 *
 * Map: every way a socket comes into being (open, from_fd, pair, wrap,
 * accept) gives its descriptor close-on-exec and the O_NONBLOCK mode that
 * matches its timeout, in the creating system call where the platform
 * allows; close never blocks.  The calls that wait for the network live in
 * sock_io.c.
 */
#define _GNU_SOURCE /* accept4, SOCK_CLOEXEC, SO_DOMAIN */
#include "internal.h"
#include "timeout.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

/* Flags for socket(2)-like calls that create a descriptor for a socket
 * whose timeout will be `timeout`. */
static int creation_flags(double timeout)
{
    int flags = 0;
#ifdef SOCK_CLOEXEC
    flags |= SOCK_CLOEXEC;
#endif
#ifdef SOCK_NONBLOCK
    if (timeout >= 0)
        flags |= SOCK_NONBLOCK;
#endif
    return flags;
}

/*
 * Where sends cannot carry MSG_NOSIGNAL (the BSDs, macOS), the socket
 * itself is told not to raise SIGPIPE.  Best effort: a platform with
 * neither has no way to suppress the signal per socket.
 */
static void no_sigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
    int one = 1;

    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

/*
 * Where the creating call could not set the flags (no SOCK_CLOEXEC or
 * SOCK_NONBLOCK), sets them now.  Returns 0 or -errno.
 */
static int finish_flags(int fd, double timeout)
{
    no_sigpipe(fd);
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    (void)timeout;
    return 0;
#else
    return sk__fd_set_flags(fd, timeout >= 0);
#endif
}

/* Allocates the object for a descriptor already in the right mode.  On
 * failure returns -ENOMEM and leaves fd open. */
static int sock_new(sk_sock **out, int fd, int family, int type, double timeout)
{
    sk_sock *s = malloc(sizeof *s);

    if (s == NULL)
        return -ENOMEM;
    s->fd = fd;
    s->family = family;
    s->type = type;
    s->timeout = timeout;
    s->tls = NULL;
    *out = s;
    return 0;
}

/* The type without the creation flags some callers or's into it. */
static int plain_type(int type)
{
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    return type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
    return type;
#endif
}

/*
 * The timeout a new socket starts with: the process default, or 0.0 when
 * the caller or'ed SOCK_NONBLOCK into the type (as CPython does), so that
 * the descriptor's mode and the timeout agree.
 */
static double initial_timeout(int type)
{
#ifdef SOCK_NONBLOCK
    if (type & SOCK_NONBLOCK)
        return 0.0;
#endif
    return sk_getdefaulttimeout();
}

int sk__socket(int family, int type, int proto, bool nonblock)
{
    double mode = nonblock ? 0.0 : SK_TIMEOUT_NONE;
    int fd = socket(family, type | creation_flags(mode), proto);

    if (fd < 0)
        return -errno;
    int r = finish_flags(fd, mode);

    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int sk_sock_open(sk_sock **out, int family, int type, int proto)
{
    double timeout = initial_timeout(type);
    int fd = sk__socket(family, type, proto, timeout >= 0);

    if (fd < 0)
        return fd;
    int r = sock_new(out, fd, family, plain_type(type), timeout);

    if (r < 0)
        close(fd);
    return r;
}

/*
 * Brings an adopted descriptor in line with the process default timeout:
 * close-on-exec, and O_NONBLOCK exactly when the timeout is >= 0.
 */
static int adopt_fd(int fd, double timeout)
{
    int r = sk__fd_set_flags(fd, false);

    no_sigpipe(fd);

    if (r == 0)
        r = sk__fd_set_nonblock(fd, timeout >= 0);
    return r;
}

int sk__sock_wrap(sk_sock **out, int fd, int family, int type)
{
    double timeout = sk_getdefaulttimeout();
    int r = adopt_fd(fd, timeout);

    if (r == 0)
        r = sock_new(out, fd, family, type, timeout);
    if (r < 0)
        close(fd);
    return r;
}

/* Reads the family of the socket behind fd. */
static int fd_family(int fd, int *family)
{
#ifdef SO_DOMAIN
    socklen_t len = sizeof *family;

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, family, &len) == 0)
        return 0;
#endif
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -errno;
    *family = ss.ss_family;
    return 0;
}

/* On failure the descriptor stays open and belongs to the caller again. */
int sk_sock_from_fd(sk_sock **out, int fd)
{
    int type, family;
    socklen_t len = sizeof type;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -errno;
    int r = fd_family(fd, &family);

    if (r < 0)
        return r;
    double timeout = sk_getdefaulttimeout();

    r = adopt_fd(fd, timeout);
    if (r < 0)
        return r;
    return sock_new(out, fd, family, type, timeout);
}

int sk_sock_pair(sk_sock *out[2], int family, int type)
{
    double timeout = initial_timeout(type);
    int fds[2];
    int r;

    if (socketpair(family, type | creation_flags(timeout), 0, fds) < 0)
        return -errno;
    if ((r = finish_flags(fds[0], timeout)) < 0 ||
        (r = finish_flags(fds[1], timeout)) < 0)
        goto fail_fds;
    if ((r = sock_new(&out[0], fds[0], family, plain_type(type), timeout)) < 0)
        goto fail_fds;
    if ((r = sock_new(&out[1], fds[1], family, plain_type(type), timeout)) < 0)
        goto fail_first;
    return 0;

fail_first:
    free(out[0]);
    out[0] = NULL;
fail_fds:
    close(fds[1]);
    close(fds[0]);
    return r;
}

/*
 * A positive SO_LINGER time would make close(2) block until the data is
 * sent or the time runs out.  Such a socket is switched to l_linger = 0,
 * which makes close return at once and reset the connection: the documented
 * price of never blocking.  Only TCP-like sockets honour linger, so the
 * probe is skipped for the others.
 */
static void defuse_linger(const sk_sock *s)
{
    if (s->type != SOCK_STREAM || s->family == AF_UNIX)
        return;

    struct linger lg;
    socklen_t len = sizeof lg;

    if (getsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, &len) < 0)
        return;
    if (lg.l_onoff && lg.l_linger > 0) {
        lg.l_linger = 0;
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
}

int sk_sock_close(sk_sock *s)
{
    if (s->fd < 0)
        return 0;
    sk__tls_sock_release(s, true);
    defuse_linger(s);

    int fd = s->fd;

    s->fd = -1;
    /* The descriptor is released even when close reports EINTR, so it is
     * never retried (a retry could close a descriptor another thread just
     * got), and EINTR is not an error the caller can act on. */
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

void sk_sock_free(sk_sock *s)
{
    if (s == NULL)
        return;
    sk_sock_close(s);
    free(s);
}

int sk_sock_detach(sk_sock *s)
{
    int fd = s->fd;

    if (fd < 0)
        return -EBADF;
    sk__tls_sock_release(s, false);
    s->fd = -1;
    return fd;
}

int sk_sock_fileno(const sk_sock *s)
{
    return s->fd;
}

int sk_sock_family(const sk_sock *s)
{
    return s->family;
}

int sk_sock_type(const sk_sock *s)
{
    return s->type;
}

int sk_sock_bind(sk_sock *s, const sk_addr *addr)
{
    if (s->fd < 0)
        return -EBADF;
    if (bind(s->fd, &addr->u.sa, addr->len) < 0)
        return -errno;
    return 0;
}

int sk_sock_listen(sk_sock *s, int backlog)
{
    if (s->fd < 0)
        return -EBADF;
    if (listen(s->fd, backlog < 0 ? SOMAXCONN : backlog) < 0)
        return -errno;
    return 0;
}

/*
 * The accepted socket takes the process default timeout, as in CPython,
 * and gets its mode from accept4's flags, so accepting costs one system
 * call where accept4 exists.
 */
int sk_sock_accept(sk_sock *s, sk_sock **out, sk_addr *peer)
{
    if (s->fd < 0)
        return -EBADF;

    int64_t deadline = sk__sock_deadline(s);
    double timeout = sk_getdefaulttimeout();
    sk_addr tmp;
    sk_addr *a = peer ? peer : &tmp;

    for (;;) {
        a->len = sizeof a->u;
#ifdef SOCK_CLOEXEC
        int fd = accept4(s->fd, &a->u.sa, &a->len, creation_flags(timeout));
#else
        int fd = accept(s->fd, &a->u.sa, &a->len);
#endif
        if (fd >= 0) {
            int r = finish_flags(fd, timeout);

            if (r == 0)
                r = sock_new(out, fd, s->family, s->type, timeout);
            if (r < 0)
                close(fd);
            return r;
        }
        int r = sk__sock_io_retry(s, errno, POLLIN, deadline);

        if (r < 0)
            return r;
    }
}

int sk_sock_shutdown(sk_sock *s, int how)
{
    if (s->fd < 0)
        return -EBADF;
    if (s->tls != NULL && (how == SHUT_WR || how == SHUT_RDWR)) {
        int r = sk__tls_sock_close_notify(s);

        if (r < 0)
            return r;
    }
    if (shutdown(s->fd, how) < 0)
        return -errno;
    return 0;
}

int sk_sock_getpeername(const sk_sock *s, sk_addr *addr)
{
    if (s->fd < 0)
        return -EBADF;
    addr->len = sizeof addr->u;
    if (getpeername(s->fd, &addr->u.sa, &addr->len) < 0) {
        addr->len = 0;
        return -errno;
    }
    return 0;
}

int sk_sock_getsockname(const sk_sock *s, sk_addr *addr)
{
    if (s->fd < 0)
        return -EBADF;
    addr->len = sizeof addr->u;
    if (getsockname(s->fd, &addr->u.sa, &addr->len) < 0) {
        addr->len = 0;
        return -errno;
    }
    return 0;
}
