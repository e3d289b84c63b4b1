/* SPDX-License-Identifier: MIT */
/*
 * lib/create_server.c - server sockets: sk_create_server (socket, options, bind,
 * listen in one call) and the dual-stack probe sk_has_dualstack_ipv6.
 */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Checks that the flags make sense for `family`: the IPv6 flags need an
 * IPv6 address and exclude each other. */
static int check_flags(int family, int flags)
{
    int v6flags = flags & (SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY);

    if (flags & ~(SK_SERVER_REUSEPORT | SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY))
        return -EINVAL;
    if (v6flags == (SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY))
        return -EINVAL;
    if (v6flags != 0 && family != AF_INET6)
        return -EINVAL;
    return 0;
}

/* SO_REUSEPORT, or -ENOPROTOOPT where the system has no such option. */
static int set_reuseport(sk_sock *s)
{
#ifdef SO_REUSEPORT
    int rc = sk_sock_setsockopt_int(s, SOL_SOCKET, SO_REUSEPORT, 1);

    return rc == -EINVAL ? -ENOPROTOOPT : rc;
#else
    (void)s;
    return -ENOPROTOOPT;
#endif
}

/* Applies SO_REUSEADDR and the flags before bind. */
static int set_server_options(sk_sock *s, int family, int type, int flags)
{
    int rc = 0;

    /* SO_REUSEADDR lets a restarted TCP server bind while connections of
     * its previous run sit in TIME_WAIT.  Datagram sockets have no such
     * state, and on them the option would let a second server bind the
     * same port and silently take its traffic.  On a Unix socket it means
     * nothing (a stale path must be unlinked instead). */
    if (family != AF_UNIX && type != SOCK_DGRAM)
        rc = sk_sock_setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && (flags & SK_SERVER_REUSEPORT))
        rc = set_reuseport(s);
    if (rc == 0 && (flags & SK_SERVER_DUALSTACK))
        rc = sk_sock_setsockopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (rc == 0 && (flags & SK_SERVER_V6ONLY))
        rc = sk_sock_setsockopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    return rc;
}

int sk_create_server(sk_sock **out, const sk_addr *addr, int type, int backlog,
                     int flags)
{
    sk_sock *s = NULL;
    int family, rc;

    if (out == NULL || addr == NULL || addr->len == 0)
        return -EINVAL;
    *out = NULL;
    family = addr->u.sa.sa_family;
    rc = check_flags(family, flags);
    if (rc < 0)
        return rc;
    rc = sk_sock_open(&s, family, type, 0);
    if (rc < 0)
        return rc;
    /* `type` may carry creation flags (SOCK_NONBLOCK, SOCK_CLOEXEC) that
     * sk_sock_open understands; the decisions below need the plain type. */
    type = sk_sock_type(s);
    rc = set_server_options(s, family, type, flags);
    if (rc == 0)
        rc = sk_sock_bind(s, addr);
    if (rc == 0 && (type == SOCK_STREAM || type == SOCK_SEQPACKET))
        rc = sk_sock_listen(s, backlog);
    if (rc < 0) {
        sk_sock_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/*
 * Probes by asking for IPV6_V6ONLY off on a fresh IPv6 socket, as CPython
 * does: systems without IPv6 fail the socket, systems that keep the
 * families apart (OpenBSD) fail the option.
 */
bool sk_has_dualstack_ipv6(void)
{
    int off = 0, fd;
    bool ok;

    fd = sk__socket(AF_INET6, SOCK_STREAM, 0, false);
    if (fd < 0)
        return false;
    ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0;
    close(fd);
    return ok;
}
