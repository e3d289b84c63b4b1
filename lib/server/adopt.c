/* SPDX-License-Identifier: MIT */
/*
 * lib/server/adopt.c - serving descriptors someone else created: the
 * listening and datagram sockets of systemd's socket activation, and the
 * one connected socket an inetd hands over.
 *
 *   adopt_check         the descriptor is a socket of the right type, in the
 *                       right state (listening, or connected); its local
 *                       address (and peer) are read once here
 *   sk_server_adopt_*   the public calls: check, set close-on-exec and
 *                       O_NONBLOCK, then sk__server_add_fd (server.c)
 *
 * Nothing is set that the kernel could refuse on a bound socket: the
 * family, IPV6_V6ONLY and the socket's other options stay as their creator
 * left them.  An adopted listener is never re-bound with SO_REUSEPORT; the
 * workers share it.
 */
#include "server.h"

#include <errno.h>
#include <sys/socket.h>

/* Reads one integer socket option.  Returns 0 or -errno (-ENOTSOCK for a
 * pipe or a file, -EBADF for a closed descriptor). */
static int sockopt_int(int fd, int level, int name, int *out)
{
    socklen_t len = sizeof(*out);

    *out = 0;
    return getsockopt(fd, level, name, out, &len) == 0 ? 0 : -errno;
}

/*
 * Checks that `fd` is a socket of `type`, listening (`listening`) or not,
 * and reads its local address into *local.  A stream socket that should
 * listen but does not yet is put into the listening state.  Returns 0,
 * -EBADF, -ENOTSOCK, -EPROTOTYPE (another type), -EINVAL (a listener where
 * a connection was wanted), or the -errno of listen(2) or getsockname(2).
 */
static int adopt_check(int fd, int type, bool listening, sk_addr *local)
{
    int got, acc, err;

    if (fd < 0)
        return -EBADF;
    err = sockopt_int(fd, SOL_SOCKET, SO_TYPE, &got);
    if (err < 0)
        return err;
    if (got != type)
        return -EPROTOTYPE;
    if (type == SOCK_STREAM) {
        err = sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc);
        if (err < 0)
            return err;
        if (!listening && acc)
            return -EINVAL;
        if (listening && !acc && listen(fd, SOMAXCONN) != 0)
            return -errno;
    }
    local->len = sizeof(local->u);
    if (getsockname(fd, &local->u.sa, &local->len) != 0)
        return -errno;
    return 0;
}

/* The common tail: descriptor flags, then the service. */
static int adopt(sk_server *srv, int fd, int type, int flags, enum sk__adopt how,
                 const sk_tcp_handler *th, const sk_udp_handler *uh, void *arg,
                 sk_addr *bound)
{
    sk_addr local, peer;
    int err;

    if (srv == NULL || (th == NULL && uh == NULL) ||
        (flags & ~(type == SOCK_DGRAM ? SK_SERVER_RXTIME | SK_SERVER_RXTTL : 0)))
        return -EINVAL;
    err = adopt_check(fd, type, how == SK__ADOPT_LISTENER, &local);
    if (err == 0 && how == SK__ADOPT_CONN) {
        peer.len = sizeof(peer.u);
        if (getpeername(fd, &peer.u.sa, &peer.len) != 0)
            err = -errno;
    }
    if (err == 0)
        err = sk__fd_set_flags(fd, true);
    if (err == 0)
        err = sk__server_add_fd(srv, type, fd, flags, how, th, uh, arg, &local,
                                how == SK__ADOPT_CONN ? &peer : NULL);
    if (err == 0 && bound != NULL)
        *bound = local;
    return err;
}

int sk_server_adopt_tcp(sk_server *srv, int fd, const sk_tcp_handler *h, void *arg,
                        sk_addr *bound)
{
    return adopt(srv, fd, SOCK_STREAM, 0, SK__ADOPT_LISTENER, h, NULL, arg, bound);
}

int sk_server_adopt_udp(sk_server *srv, int fd, int flags, const sk_udp_handler *h,
                        void *arg, sk_addr *bound)
{
    return adopt(srv, fd, SOCK_DGRAM, flags, SK__ADOPT_LISTENER, NULL, h, arg, bound);
}

int sk_server_adopt_conn(sk_server *srv, int fd, const sk_tcp_handler *h, void *arg)
{
    return adopt(srv, fd, SOCK_STREAM, 0, SK__ADOPT_CONN, h, NULL, arg, NULL);
}
