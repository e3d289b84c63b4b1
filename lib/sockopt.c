/* SPDX-License-Identifier: MIT */
/*
 * lib/sockopt.c - socket options: the raw setsockopt/getsockopt pair, their int
 * forms, and the three options people most often get wrong by hand
 * (keepalive with its timing knobs, TCP_NODELAY, linger).
 */
#include "internal.h"

#include <errno.h>
#include <netinet/tcp.h>

int sk_sock_setsockopt(sk_sock *s, int level, int name, const void *val,
                       socklen_t len)
{
    if (s->fd < 0)
        return -EBADF;
    if (setsockopt(s->fd, level, name, val, len) < 0)
        return -errno;
    return 0;
}

int sk_sock_getsockopt(const sk_sock *s, int level, int name, void *val,
                       socklen_t *len)
{
    if (s->fd < 0)
        return -EBADF;
    if (getsockopt(s->fd, level, name, val, len) < 0)
        return -errno;
    return 0;
}

int sk_sock_setsockopt_int(sk_sock *s, int level, int name, int val)
{
    return sk_sock_setsockopt(s, level, name, &val, sizeof val);
}

int sk_sock_getsockopt_int(const sk_sock *s, int level, int name, int *val)
{
    socklen_t len = sizeof *val;

    *val = 0;
    return sk_sock_getsockopt(s, level, name, val, &len);
}

/* Sets one TCP-level keepalive knob when a value was asked for. */
static int keepalive_knob(sk_sock *s, int name, int val)
{
    if (val <= 0)
        return 0;
    return sk_sock_setsockopt_int(s, IPPROTO_TCP, name, val);
}

/*
 * The knobs have different names per platform: TCP_KEEPIDLE on Linux and
 * the BSDs, TCP_KEEPALIVE on macOS; a platform without one keeps its
 * default for that field.  The first failure is returned.
 */
int sk_sock_set_keepalive(sk_sock *s, bool on, int idle, int interval, int count)
{
    int r = sk_sock_setsockopt_int(s, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);

    if (r < 0 || !on)
        return r;
#if defined(TCP_KEEPIDLE)
    r = keepalive_knob(s, TCP_KEEPIDLE, idle);
#elif defined(TCP_KEEPALIVE)
    r = keepalive_knob(s, TCP_KEEPALIVE, idle);
#endif
#ifdef TCP_KEEPINTVL
    if (r == 0)
        r = keepalive_knob(s, TCP_KEEPINTVL, interval);
#endif
#ifdef TCP_KEEPCNT
    if (r == 0)
        r = keepalive_knob(s, TCP_KEEPCNT, count);
#endif
    return r;
}

int sk_sock_set_nodelay(sk_sock *s, bool on)
{
    return sk_sock_setsockopt_int(s, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

/* Errors: -EINVAL for a negative time, or the setsockopt error. */
int sk_sock_set_linger(sk_sock *s, bool on, int seconds)
{
    if (on && seconds < 0)
        return -EINVAL;

    struct linger lg = {.l_onoff = on ? 1 : 0, .l_linger = on ? seconds : 0};

    return sk_sock_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}
