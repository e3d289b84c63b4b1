/* SPDX-License-Identifier: MIT */
/*
 * lib/server/addr.c - a connection's addresses: the peer kept inline in
 * 28 bytes when it is IPv4 or IPv6, the sk_addr forms made on first request
 * (sk_conn_peer, sk_conn_local: getsockname only then), and the addresses a
 * PROXY header gives (the client as peer, the proxy as "via").
 *
 * It calls no other file of lib/server/.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const sk_addr no_addr;

int sk__conn_store_peer(sk_conn *c, const sk_addr *peer)
{
    int family = peer->len > 0 ? peer->u.sa.sa_family : AF_UNSPEC;

    if (family == AF_INET && peer->len == sizeof(struct sockaddr_in)) {
        c->peer.in4 = peer->u.in4;
        return 0;
    }
    if (family == AF_INET6 && peer->len == sizeof(struct sockaddr_in6)) {
        c->peer.in6 = peer->u.in6;
        return 0;
    }
    c->peer.sa.sa_family = AF_UNSPEC;
    c->addrs = calloc(1, sizeof(*c->addrs));
    if (c->addrs == NULL)
        return -ENOMEM;
    c->addrs->peer = *peer;
    return 0;
}

void sk__conn_peer_addr(const sk_conn *c, sk_addr *out)
{
    memset(out, 0, sizeof(*out));
    switch (c->peer.sa.sa_family) {
    case AF_INET:
        out->len = sizeof(struct sockaddr_in);
        out->u.in4 = c->peer.in4;
        break;
    case AF_INET6:
        out->len = sizeof(struct sockaddr_in6);
        out->u.in6 = c->peer.in6;
        break;
    default:
        if (c->addrs != NULL)
            *out = c->addrs->peer;
        break;
    }
}

int sk__conn_set_client(sk_conn *c, const sk_addr *client, const sk_addr *local)
{
    sk_addr via;

    sk__conn_peer_addr(c, &via);
    if (c->addrs == NULL) {
        c->addrs = calloc(1, sizeof(*c->addrs));
        if (c->addrs == NULL)
            return -ENOMEM;
    }
    c->addrs->via = via;
    c->addrs->peer = *client;
    c->addrs->local = *local;
    if (client->u.sa.sa_family == AF_INET)
        c->peer.in4 = client->u.in4;
    else if (client->u.sa.sa_family == AF_INET6)
        c->peer.in6 = client->u.in6;
    else
        c->peer.sa.sa_family = AF_UNSPEC; /* a Unix-domain client: in addrs only */
    c->flags |= SK__C_LOCAL | SK__C_VIA;
    return 0;
}

const char *sk__conn_via_text(const sk_conn *c, char *buf, size_t size)
{
    char text[SK_ADDRSTRLEN] = "?";

    if (!(c->flags & SK__C_VIA) || c->addrs == NULL)
        return "";
    sk_addr_format(&c->addrs->via, text, sizeof(text));
    snprintf(buf, size, " via=%s", text);
    return buf;
}

/* Made on first use: most connections never ask.  Without memory for it,
 * both calls answer "no address" (len 0) rather than fail. */
sk__conn_addrs *sk__conn_addrs_get(sk_conn *c)
{
    if (c->addrs == NULL) {
        c->addrs = calloc(1, sizeof(*c->addrs));
        if (c->addrs != NULL)
            sk__conn_peer_addr(c, &c->addrs->peer);
    }
    return c->addrs;
}

static sk__conn_addrs *conn_addrs(const sk_conn *c)
{
    return sk__conn_addrs_get((sk_conn *)c);
}

const sk_addr *sk_conn_peer(const sk_conn *c)
{
    const sk__conn_addrs *a = conn_addrs(c);

    return a != NULL ? &a->peer : &no_addr;
}

/* Looked up on first use: getsockname is a system call. */
const sk_addr *sk_conn_local(const sk_conn *c)
{
    sk_conn *m = (sk_conn *)c;
    sk__conn_addrs *a = conn_addrs(c);

    if (a == NULL)
        return &no_addr;
    if (!(m->flags & SK__C_LOCAL) && m->io.fd >= 0) {
        a->local.len = sizeof(a->local.u);
        if (getsockname(m->io.fd, &a->local.u.sa, &a->local.len) < 0)
            a->local.len = 0;
        m->flags |= SK__C_LOCAL;
    }
    return &a->local;
}

const sk_addr *sk_conn_via(const sk_conn *c)
{
    return (c->flags & SK__C_VIA) && c->addrs != NULL ? &c->addrs->via : NULL;
}
