/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_listen.c - sk_create_server and sk_has_dualstack_ipv6: options set
 * before bind, TCP and UDP, IPv6 dual-stack and v6-only, Unix sockets and
 * bind errors.
 */
#include "sk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static sk_sock *server_at(const char *ip, int port, int type, int flags, sk_addr *bound)
{
    sk_sock *s;
    sk_addr a;

    CHECK_OK(sk_addr_from_ip(&a, ip, port, AF_UNSPEC));
    CHECK_OK(sk_create_server(&s, &a, type, -1, flags));
    CHECK_OK(sk_sock_getsockname(s, bound));
    return s;
}

static int opt(sk_sock *s, int level, int name)
{
    int v = -1;

    CHECK_OK(sk_sock_getsockopt_int(s, level, name, &v));
    return v;
}

/* Connects a blocking TCP client to `to` and returns the result. */
static int tcp_connect(const sk_addr *to, sk_sock **out)
{
    CHECK_OK(sk_sock_open(out, sk_addr_family(to), SOCK_STREAM, 0));
    CHECK_OK(sk_sock_settimeout(*out, 2.0));
    return sk_sock_connect(*out, to);
}

/* Accepts one connection within 2 s; returns the peer address. */
static void accept_one(sk_sock *l, sk_addr *peer)
{
    sk_sock *c;

    CHECK_OK(sk_sock_settimeout(l, 2.0));
    CHECK_OK(sk_sock_accept(l, &c, peer));
    sk_sock_free(c);
}

static bool have_ipv6(void)
{
    sk_sock *s;
    sk_addr a;
    int rc;

    CHECK_OK(sk_addr_from_ip(&a, "::1", 0, AF_INET6));
    if (sk_sock_open(&s, AF_INET6, SOCK_STREAM, 0) < 0)
        return false;
    rc = sk_sock_bind(s, &a);
    sk_sock_free(s);
    return rc == 0;
}

/* ---- scenarios ------------------------------------------------------------ */

SK_TEST(tcp_server)
{
    sk_sock *l, *c;
    sk_addr la, peer, local;

    CHECK_OK(sk_setdefaulttimeout(2.5));
    l = server_at("127.0.0.1", 0, SOCK_STREAM, 0, &la);
    CHECK(sk_addr_port(&la) > 0);
    CHECK_EQ(opt(l, SOL_SOCKET, SO_REUSEADDR), 1);
    CHECK_EQ(opt(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    CHECK(sk_sock_gettimeout(l) == 2.5);
    CHECK(fcntl(sk_sock_fileno(l), F_GETFD) & FD_CLOEXEC);
    CHECK_OK(tcp_connect(&la, &c));
    CHECK_OK(sk_sock_getsockname(c, &local));
    accept_one(l, &peer);
    CHECK(sk_addr_equal(&peer, &local));
    sk_sock_free(c);
    sk_sock_free(l);
}

SK_TEST(udp_server)
{
    sk_sock *s, *c;
    sk_addr sa, from, local;
    char buf[16];

    s = server_at("127.0.0.1", 0, SOCK_DGRAM, 0, &sa);
    /* Not on datagram sockets, where it would let another server share the
     * port (see bind_in_use). */
    CHECK_EQ(opt(s, SOL_SOCKET, SO_REUSEADDR), 0);
    CHECK_EQ(opt(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
    CHECK_EQ(sk_sock_type(s), SOCK_DGRAM);
    CHECK_OK(sk_sock_settimeout(s, 2.0));
    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_DGRAM, 0));
    CHECK_EQ(sk_sock_sendto(c, "ping", 4, 0, &sa), 4);
    CHECK_OK(sk_sock_getsockname(c, &local));
    CHECK_EQ(sk_sock_recvfrom(s, buf, sizeof(buf), 0, &from), 4);
    CHECK_MEM(buf, "ping", 4);
    /* The client's implicit bind is the wildcard; the sender is loopback. */
    CHECK_EQ(sk_addr_port(&from), sk_addr_port(&local));
    CHECK_OK(sk_addr_format_ip(&from, buf, sizeof(buf)));
    CHECK_STR(buf, "127.0.0.1");
    sk_sock_free(c);
    sk_sock_free(s);
}

/*
 * The creation flags sk_sock_open accepts in `type` (SOCK_NONBLOCK makes the
 * timeout 0.0) do not change what kind of server is made: a stream socket
 * still listens and gets SO_REUSEADDR, a datagram socket still does not.
 */
SK_TEST(type_with_creation_flags)
{
    sk_sock *l, *u, *c, *acc;
    sk_addr la, ua;

    l = server_at("127.0.0.1", 0, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &la);
    CHECK_EQ(sk_sock_type(l), SOCK_STREAM);
    CHECK_EQ(opt(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    CHECK_EQ(opt(l, SOL_SOCKET, SO_REUSEADDR), 1);
    CHECK(sk_sock_gettimeout(l) == 0.0);
    CHECK_ERR(sk_sock_accept(l, &acc, NULL), -EAGAIN);
    CHECK_OK(tcp_connect(&la, &c));
    accept_one(l, NULL);
    sk_sock_free(c);
    sk_sock_free(l);

    u = server_at("127.0.0.1", 0, SOCK_DGRAM | SOCK_NONBLOCK, 0, &ua);
    CHECK_EQ(sk_sock_type(u), SOCK_DGRAM);
    CHECK_EQ(opt(u, SOL_SOCKET, SO_REUSEADDR), 0);
    sk_sock_free(u);
}

SK_TEST(reuseport)
{
    static const int types[] = { SOCK_STREAM, SOCK_DGRAM };

    for (size_t i = 0; i < 2; i++) {
        sk_sock *a, *b;
        sk_addr aa, ba;

        a = server_at("127.0.0.1", 0, types[i], SK_SERVER_REUSEPORT, &aa);
        CHECK_EQ(opt(a, SOL_SOCKET, SO_REUSEPORT), 1);
        /* A second socket on the same port, both asking for it. */
        b = server_at("127.0.0.1", sk_addr_port(&aa), types[i], SK_SERVER_REUSEPORT,
                      &ba);
        CHECK(sk_addr_equal(&aa, &ba));
        sk_sock_free(b);
        sk_sock_free(a);
    }
}

SK_TEST(bind_in_use)
{
    static const int types[] = { SOCK_STREAM, SOCK_DGRAM };

    for (size_t i = 0; i < 2; i++) {
        sk_sock *a, *b = NULL;
        sk_addr aa;

        a = server_at("127.0.0.1", 0, types[i], 0, &aa);
        CHECK_ERR(sk_create_server(&b, &aa, types[i], -1, 0), -EADDRINUSE);
        CHECK(b == NULL);
        /* SO_REUSEPORT on one side only does not share the port either. */
        CHECK_ERR(sk_create_server(&b, &aa, types[i], -1, SK_SERVER_REUSEPORT),
                  -EADDRINUSE);
        sk_sock_free(a);
    }
}

SK_TEST(dualstack_accepts_ipv4)
{
    sk_sock *l, *c, *v4 = NULL;
    sk_addr la, to, peer, local;
    char text[SK_ADDRSTRLEN];

    if (!sk_has_dualstack_ipv6())
        SK_SKIP("no dual-stack IPv6 sockets here");
    l = server_at("::", 0, SOCK_STREAM, SK_SERVER_DUALSTACK, &la);
    CHECK_EQ(opt(l, IPPROTO_IPV6, IPV6_V6ONLY), 0);
    /* The port is taken for IPv4 too. */
    CHECK_OK(sk_addr_from_ip(&to, "0.0.0.0", sk_addr_port(&la), AF_INET));
    CHECK_ERR(sk_create_server(&v4, &to, SOCK_STREAM, -1, 0), -EADDRINUSE);
    /* An IPv4 client gets through and shows up as a mapped address. */
    CHECK_OK(sk_addr_from_ip(&to, "127.0.0.1", sk_addr_port(&la), AF_INET));
    CHECK_OK(tcp_connect(&to, &c));
    CHECK_OK(sk_sock_getsockname(c, &local));
    accept_one(l, &peer);
    CHECK_EQ(sk_addr_family(&peer), AF_INET6);
    CHECK_OK(sk_addr_format_ip(&peer, text, sizeof(text)));
    CHECK_STR(text, "::ffff:127.0.0.1");
    CHECK_EQ(sk_addr_port(&peer), sk_addr_port(&local));
    sk_sock_free(c);
    sk_sock_free(l);
}

SK_TEST(v6only_refuses_ipv4)
{
    sk_sock *l, *v4, *c;
    sk_addr la, to;

    if (!have_ipv6())
        SK_SKIP("no IPv6 loopback");
    /* The IPv4 side of the port stays free: an IPv4 socket can bind it
     * (and, not listening, refuses connections, so no other test's
     * listener can take the port while we look).  Another process may
     * already use the IPv4 side of the ephemeral port the kernel gave us,
     * in which case we take another port. */
    for (int attempt = 0;; attempt++) {
        int rc;

        l = server_at("::", 0, SOCK_STREAM, SK_SERVER_V6ONLY, &la);
        CHECK_EQ(opt(l, IPPROTO_IPV6, IPV6_V6ONLY), 1);
        CHECK_OK(sk_addr_from_ip(&to, "0.0.0.0", sk_addr_port(&la), AF_INET));
        CHECK_OK(sk_sock_open(&v4, AF_INET, SOCK_STREAM, 0));
        rc = sk_sock_bind(v4, &to);
        if (rc == 0)
            break;
        CHECK_ERR(rc, -EADDRINUSE);
        CHECK(attempt < 50);
        sk_sock_free(v4);
        sk_sock_free(l);
    }
    CHECK_OK(sk_addr_from_ip(&to, "127.0.0.1", sk_addr_port(&la), AF_INET));
    CHECK_ERR(tcp_connect(&to, &c), -ECONNREFUSED);
    sk_sock_free(c);
    /* IPv6 clients still get in. */
    CHECK_OK(sk_addr_from_ip(&to, "::1", sk_addr_port(&la), AF_INET6));
    CHECK_OK(tcp_connect(&to, &c));
    accept_one(l, NULL);
    sk_sock_free(c);
    sk_sock_free(v4);
    sk_sock_free(l);
}

SK_TEST(unix_server)
{
    char dir[] = "/tmp/sk-listen-XXXXXX", path[64];
    sk_sock *l, *c, *again = NULL;
    sk_addr ua, bound;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/sock", dir);
    CHECK_OK(sk_addr_from_unix(&ua, path));
    CHECK_OK(sk_create_server(&l, &ua, SOCK_STREAM, 4, 0));
    CHECK_EQ(sk_sock_family(l), AF_UNIX);
    /* No SO_REUSEADDR on Unix sockets. */
    CHECK_EQ(opt(l, SOL_SOCKET, SO_REUSEADDR), 0);
    CHECK_EQ(opt(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    CHECK_OK(sk_sock_getsockname(l, &bound));
    CHECK(sk_addr_equal(&bound, &ua));
    CHECK_OK(sk_sock_open(&c, AF_UNIX, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_connect(c, &ua));
    accept_one(l, NULL);
    sk_sock_free(c);
    /* The path exists now: a second server there fails. */
    CHECK_ERR(sk_create_server(&again, &ua, SOCK_STREAM, 4, 0), -EADDRINUSE);
    sk_sock_free(l);
    unlink(path);
    rmdir(dir);
}

SK_TEST(bad_arguments)
{
    sk_sock *s = NULL;
    sk_addr v4, v6;

    CHECK_OK(sk_addr_from_ip(&v4, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_addr_from_ip(&v6, "::1", 0, AF_INET6));
    CHECK_ERR(sk_create_server(&s, NULL, SOCK_STREAM, -1, 0), -EINVAL);
    /* The IPv6 flags need an IPv6 address and exclude each other. */
    CHECK_ERR(sk_create_server(&s, &v4, SOCK_STREAM, -1, SK_SERVER_DUALSTACK), -EINVAL);
    CHECK_ERR(sk_create_server(&s, &v4, SOCK_STREAM, -1, SK_SERVER_V6ONLY), -EINVAL);
    CHECK_ERR(sk_create_server(&s, &v6, SOCK_STREAM, -1,
                               SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY),
              -EINVAL);
    CHECK_ERR(sk_create_server(&s, &v4, SOCK_STREAM, -1, 0x100), -EINVAL);
    CHECK(s == NULL);
}
