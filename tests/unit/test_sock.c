/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_sock.c - socket objects on real loopback sockets: creation and
 * close, TCP/UDP over IPv4 and IPv6, Unix sockets, socket pairs, connect and
 * its errors, send/recv/sendall, SIGPIPE, shutdown, names and options.
 *
 * Addresses are filled by hand so these tests depend only on sock.c and
 * its neighbours.  Every port is ephemeral (bind to port 0).  The sendall
 * timeouts never fire early and get a generous late side (a per-call
 * deadline would overrun them by seconds); +-50 ms accuracy of connect,
 * accept, send and recv timeouts is tested in test_timeout.c.
 */
#define _GNU_SOURCE
#include "sk_test.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static sk_addr loopback(int family, int port)
{
    sk_addr a;

    memset(&a, 0, sizeof a);
    if (family == AF_INET6) {
        a.u.in6.sin6_family = AF_INET6;
        a.u.in6.sin6_port = htons((uint16_t)port);
        a.u.in6.sin6_addr = in6addr_loopback;
        a.len = sizeof a.u.in6;
    } else {
        a.u.in4.sin_family = AF_INET;
        a.u.in4.sin_port = htons((uint16_t)port);
        a.u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.len = sizeof a.u.in4;
    }
    return a;
}

static int addr_port(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return ntohs(a->u.in4.sin_port);
}

/* Skips the scenario when ::1 cannot be bound here. */
static void need_ipv6(void)
{
    sk_sock *s;
    sk_addr a = loopback(AF_INET6, 0);

    if (sk_sock_open(&s, AF_INET6, SOCK_STREAM, 0) < 0)
        SK_SKIP("no IPv6 sockets");
    if (sk_sock_bind(s, &a) < 0) {
        sk_sock_free(s);
        SK_SKIP("cannot bind ::1");
    }
    sk_sock_free(s);
}

/* A listening TCP socket on loopback; *bound receives its address. */
static sk_sock *listener(int family, int backlog, sk_addr *bound)
{
    sk_sock *l;
    sk_addr a = loopback(family, 0);

    CHECK_OK(sk_sock_open(&l, family, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_bind(l, &a));
    CHECK_OK(sk_sock_listen(l, backlog));
    CHECK_OK(sk_sock_getsockname(l, bound));
    return l;
}

/* A connected TCP pair over loopback: *c connected, *a accepted. */
static void tcp_pair(int family, sk_sock **c, sk_sock **a)
{
    sk_addr addr;
    sk_sock *l = listener(family, 1, &addr);

    CHECK_OK(sk_sock_open(c, family, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_connect(*c, &addr));
    CHECK_OK(sk_sock_accept(l, a, NULL));
    sk_sock_free(l);
}

/* Shrinks the kernel buffers so that "the peer stops reading" fills them
 * after a few hundred kilobytes at most. */
static void small_buffers(sk_sock *sender, sk_sock *receiver)
{
    CHECK_OK(sk_sock_setsockopt_int(sender, SOL_SOCKET, SO_SNDBUF, 4096));
    CHECK_OK(sk_sock_setsockopt_int(receiver, SOL_SOCKET, SO_RCVBUF, 4096));
}

static bool has_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    return fl >= 0 && (fl & FD_CLOEXEC);
}

static bool has_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && (fl & O_NONBLOCK);
}

/* Sends `s` and checks the peer receives exactly it. */
static void exchange(sk_sock *from, sk_sock *to, const char *text)
{
    char buf[256];
    size_t len = strlen(text), got = 0;

    CHECK_OK(sk_sock_sendall(from, text, len, NULL));
    while (got < len) {
        ssize_t n = sk_sock_recv(to, buf + got, sizeof buf - got, 0);

        CHECK_INT(n, >, 0);
        got += (size_t)n;
    }
    CHECK_EQ(got, len);
    CHECK_MEM(buf, text, len);
}

/* ---- creation and close --------------------------------------------------- */

SK_TEST(open_and_attributes)
{
    sk_sock *s;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_INT(sk_sock_fileno(s), >=, 0);
    CHECK_EQ(sk_sock_family(s), AF_INET);
    CHECK_EQ(sk_sock_type(s), SOCK_STREAM);
    CHECK_OK(sk_sock_close(s));
    CHECK_EQ(sk_sock_fileno(s), -1);
    /* The object stays usable for queries after close. */
    CHECK_EQ(sk_sock_family(s), AF_INET);
    sk_sock_free(s);

    CHECK_OK(sk_sock_open(&s, AF_UNIX, SOCK_DGRAM, 0));
    CHECK_EQ(sk_sock_family(s), AF_UNIX);
    CHECK_EQ(sk_sock_type(s), SOCK_DGRAM);
    sk_sock_free(s);

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_DGRAM, IPPROTO_UDP));
    CHECK_EQ(sk_sock_type(s), SOCK_DGRAM);
    sk_sock_free(s);
    sk_sock_free(NULL);
}

SK_TEST(open_invalid_arguments)
{
    sk_sock *s = NULL;

    CHECK_ERR(sk_sock_open(&s, 12345, SOCK_STREAM, 0), -EAFNOSUPPORT);
    CHECK_ERR(sk_sock_open(&s, AF_INET, 999, 0), -EINVAL);
    CHECK_ERR(sk_sock_open(&s, AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTONOSUPPORT);
    CHECK(s == NULL);
}

SK_TEST(closed_socket_operations)
{
    sk_sock *s, *other = NULL;
    sk_addr a = loopback(AF_INET, 0), out;
    char buf[4];
    int v;
    socklen_t vlen = sizeof v;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_EQ(sk_sock_close(s), 0);
    CHECK_EQ(sk_sock_close(s), 0); /* idempotent */
    CHECK_ERR(sk_sock_bind(s, &a), -EBADF);
    CHECK_ERR(sk_sock_listen(s, 1), -EBADF);
    CHECK_ERR(sk_sock_accept(s, &other, NULL), -EBADF);
    CHECK_ERR(sk_sock_connect(s, &a), -EBADF);
    CHECK_EQ(sk_sock_connect_ex(s, &a), EBADF);
    CHECK_ERR(sk_sock_send(s, "x", 1, 0), -EBADF);
    CHECK_ERR(sk_sock_sendall(s, "x", 1, NULL), -EBADF);
    CHECK_ERR(sk_sock_recv(s, buf, sizeof buf, 0), -EBADF);
    CHECK_ERR(sk_sock_recvfrom(s, buf, sizeof buf, 0, &out), -EBADF);
    CHECK_ERR(sk_sock_sendto(s, "x", 1, 0, &a), -EBADF);
    CHECK_ERR(sk_sock_shutdown(s, SHUT_RDWR), -EBADF);
    CHECK_ERR(sk_sock_getpeername(s, &out), -EBADF);
    CHECK_ERR(sk_sock_getsockname(s, &out), -EBADF);
    CHECK_ERR(sk_sock_setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1), -EBADF);
    CHECK_ERR(sk_sock_getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vlen), -EBADF);
    CHECK_ERR(sk_sock_getsockopt_int(s, SOL_SOCKET, SO_TYPE, &v), -EBADF);
    CHECK_ERR(sk_sock_set_nodelay(s, true), -EBADF);
    CHECK_ERR(sk_sock_set_keepalive(s, true, 1, 1, 1), -EBADF);
    CHECK_ERR(sk_sock_set_linger(s, true, 0), -EBADF);
    CHECK_ERR(sk_sock_settimeout(s, 1.0), -EBADF);
    CHECK_ERR(sk_sock_detach(s), -EBADF);
    CHECK(other == NULL);
    sk_sock_free(s);
}

SK_TEST(sendall_counts_on_closed_socket)
{
    sk_sock *s;
    size_t sent = 99;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    sk_sock_close(s);
    CHECK_ERR(sk_sock_sendall(s, "abc", 3, &sent), -EBADF);
    CHECK_EQ(sent, 0);
    sk_sock_free(s);
}

SK_TEST(cloexec_everywhere)
{
    sk_sock *s, *pair[2], *c, *a, *adopted;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK(has_cloexec(sk_sock_fileno(s)));
    sk_sock_free(s);
    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_DGRAM, 0));
    CHECK(has_cloexec(sk_sock_fileno(s)));
    sk_sock_free(s);

    CHECK_OK(sk_sock_pair(pair, AF_UNIX, SOCK_STREAM));
    CHECK(has_cloexec(sk_sock_fileno(pair[0])));
    CHECK(has_cloexec(sk_sock_fileno(pair[1])));
    sk_sock_free(pair[0]);
    sk_sock_free(pair[1]);

    tcp_pair(AF_INET, &c, &a);
    CHECK(has_cloexec(sk_sock_fileno(c)));
    CHECK(has_cloexec(sk_sock_fileno(a)));
    sk_sock_free(c);
    sk_sock_free(a);

    int raw = socket(AF_INET, SOCK_DGRAM, 0);

    CHECK_INT(raw, >=, 0);
    CHECK(!has_cloexec(raw));
    CHECK_OK(sk_sock_from_fd(&adopted, raw));
    CHECK(has_cloexec(raw));
    sk_sock_free(adopted);
}

SK_TEST(from_fd_adopts_descriptor)
{
    int raw = socket(AF_INET6, SOCK_STREAM, 0);
    sk_sock *s;

    if (raw < 0)
        raw = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_INT(raw, >=, 0);

    int family;
    socklen_t len = sizeof family;

    CHECK_EQ(getsockopt(raw, SOL_SOCKET, SO_DOMAIN, &family, &len), 0);
    CHECK_OK(sk_sock_from_fd(&s, raw));
    CHECK_EQ(sk_sock_fileno(s), raw);
    CHECK_EQ(sk_sock_family(s), family);
    CHECK_EQ(sk_sock_type(s), SOCK_STREAM);
    CHECK_EQ(sk_sock_gettimeout(s), SK_TIMEOUT_NONE);
    CHECK(!has_nonblock(raw));
    /* The socket owns the descriptor: closing the socket closes it. */
    CHECK_OK(sk_sock_close(s));
    CHECK_EQ(fcntl(raw, F_GETFD), -1);
    CHECK_EQ(errno, EBADF);
    sk_sock_free(s);
}

SK_TEST(from_fd_errors_leave_fd_open)
{
    int p[2];
    sk_sock *s = NULL;

    CHECK_EQ(pipe(p), 0);
    CHECK_ERR(sk_sock_from_fd(&s, p[0]), -ENOTSOCK);
    /* A failed adoption leaves the descriptor to the caller. */
    CHECK_INT(fcntl(p[0], F_GETFD), >=, 0);
    close(p[0]);
    close(p[1]);
    CHECK_ERR(sk_sock_from_fd(&s, p[0]), -EBADF);
    CHECK_ERR(sk_sock_from_fd(&s, -1), -EBADF);
    CHECK(s == NULL);
}

/* The internal wrap used by the connection helpers: known family and type,
 * the default timeout applied, and the descriptor closed on failure. */
SK_TEST(internal_wrap)
{
    sk_sock *s = NULL;
    int raw = socket(AF_INET, SOCK_DGRAM, 0);

    CHECK_INT(raw, >=, 0);
    CHECK_OK(sk_setdefaulttimeout(1.5));
    CHECK_OK(sk__sock_wrap(&s, raw, AF_INET, SOCK_DGRAM));
    CHECK_EQ(sk_sock_fileno(s), raw);
    CHECK_EQ(sk_sock_family(s), AF_INET);
    CHECK_EQ(sk_sock_type(s), SOCK_DGRAM);
    CHECK(sk_sock_gettimeout(s) == 1.5);
    CHECK(has_nonblock(raw));
    CHECK(has_cloexec(raw));
    sk_sock_free(s);

    s = NULL;
    CHECK_ERR(sk__sock_wrap(&s, raw, AF_INET, SOCK_DGRAM), -EBADF);
    CHECK(s == NULL);
}

SK_TEST(detach_gives_up_descriptor)
{
    sk_sock *s;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_DGRAM, 0));
    int fd = sk_sock_fileno(s);
    int got = sk_sock_detach(s);

    CHECK_EQ(got, fd);
    CHECK_EQ(sk_sock_fileno(s), -1);
    CHECK_ERR(sk_sock_detach(s), -EBADF);
    CHECK_ERR(sk_sock_send(s, "x", 1, 0), -EBADF);
    /* Closing and freeing the object leaves the descriptor open. */
    CHECK_EQ(sk_sock_close(s), 0);
    sk_sock_free(s);
    CHECK_INT(fcntl(fd, F_GETFD), >=, 0);
    CHECK_EQ(close(fd), 0);
}

SK_TEST(socketpair_stream_and_dgram)
{
    sk_sock *p[2];
    char buf[16];

    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
    CHECK_EQ(sk_sock_family(p[0]), AF_UNIX);
    CHECK_EQ(sk_sock_type(p[1]), SOCK_STREAM);
    exchange(p[0], p[1], "ping");
    exchange(p[1], p[0], "pong");
    sk_sock_close(p[0]);
    CHECK_EQ(sk_sock_recv(p[1], buf, sizeof buf, 0), 0);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);

    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_DGRAM));
    CHECK_EQ(sk_sock_type(p[0]), SOCK_DGRAM);
    CHECK_EQ(sk_sock_send(p[0], "one", 3, 0), 3);
    CHECK_EQ(sk_sock_send(p[0], "", 0, 0), 0);
    CHECK_EQ(sk_sock_send(p[0], "three", 5, 0), 5);
    /* Datagram boundaries hold, and an empty datagram reads as 0. */
    CHECK_EQ(sk_sock_recv(p[1], buf, sizeof buf, 0), 3);
    CHECK_EQ(sk_sock_recv(p[1], buf, sizeof buf, 0), 0);
    CHECK_EQ(sk_sock_recv(p[1], buf, sizeof buf, 0), 5);
    CHECK_MEM(buf, "three", 5);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);

    CHECK_ERR(sk_sock_pair(p, AF_INET, SOCK_STREAM), -EOPNOTSUPP);
}

/* ---- TCP ---------------------------------------------------------------- */

static void tcp_exchange_family(int family)
{
    sk_addr laddr, peer, cname, pname;
    sk_sock *l = listener(family, 4, &laddr), *c, *a;

    CHECK_INT(addr_port(&laddr), >, 0);
    CHECK_OK(sk_sock_open(&c, family, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_connect(c, &laddr));
    CHECK_OK(sk_sock_accept(l, &a, &peer));
    CHECK_EQ(sk_sock_family(a), family);
    CHECK_EQ(sk_sock_type(a), SOCK_STREAM);

    /* The peer address accept reports is the client's own name. */
    CHECK_OK(sk_sock_getsockname(c, &cname));
    CHECK_EQ(peer.len, cname.len);
    CHECK_MEM(&peer.u, &cname.u, cname.len);
    CHECK_OK(sk_sock_getpeername(c, &pname));
    CHECK_EQ(addr_port(&pname), addr_port(&laddr));

    exchange(c, a, "hello, server");
    exchange(a, c, "hello, client");
    sk_sock_free(c);
    sk_sock_free(a);
    sk_sock_free(l);
}

SK_TEST(tcp_v4_exchange)
{
    tcp_exchange_family(AF_INET);
}

SK_TEST(tcp_v6_exchange)
{
    need_ipv6();
    tcp_exchange_family(AF_INET6);
}

SK_TEST(listen_default_backlog)
{
    sk_addr a;
    sk_sock *l = listener(AF_INET, -1, &a), *c[3], *acc;

    for (int i = 0; i < 3; i++) {
        CHECK_OK(sk_sock_open(&c[i], AF_INET, SOCK_STREAM, 0));
        CHECK_OK(sk_sock_connect(c[i], &a));
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sk_sock_accept(l, &acc, NULL));
        sk_sock_free(acc);
        sk_sock_free(c[i]);
    }
    sk_sock_free(l);
}

SK_TEST(bind_address_in_use)
{
    sk_addr a;
    sk_sock *l = listener(AF_INET, 1, &a), *s;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_ERR(sk_sock_bind(s, &a), -EADDRINUSE);
    sk_sock_free(s);
    sk_sock_free(l);
}

/* A bound TCP socket that is not listening answers SYN with RST, which
 * gives a refused port that no other test can take meanwhile. */
static sk_sock *refusing_port(int family, sk_addr *a)
{
    sk_sock *s;
    sk_addr any = loopback(family, 0);

    CHECK_OK(sk_sock_open(&s, family, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_bind(s, &any));
    CHECK_OK(sk_sock_getsockname(s, a));
    return s;
}

SK_TEST(connect_refused)
{
    sk_addr a;
    sk_sock *hold = refusing_port(AF_INET, &a), *c;

    /* Blocking, timed and non-blocking-then-wait paths all report it. */
    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_ERR(sk_sock_connect(c, &a), -ECONNREFUSED);
    sk_sock_free(c);

    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_settimeout(c, 2.0));
    CHECK_ERR(sk_sock_connect(c, &a), -ECONNREFUSED);
    sk_sock_free(c);

    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_EQ(sk_sock_connect_ex(c, &a), ECONNREFUSED);
    sk_sock_free(c);
    sk_sock_free(hold);
}

SK_TEST(connect_refused_v6)
{
    need_ipv6();

    sk_addr a;
    sk_sock *hold = refusing_port(AF_INET6, &a), *c;

    CHECK_OK(sk_sock_open(&c, AF_INET6, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_settimeout(c, 2.0));
    CHECK_ERR(sk_sock_connect(c, &a), -ECONNREFUSED);
    sk_sock_free(c);
    sk_sock_free(hold);
}

SK_TEST(connect_nonblocking_completes)
{
    sk_addr a;
    sk_sock *l = listener(AF_INET, 1, &a), *c, *acc;

    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_setblocking(c, false));

    int r = sk_sock_connect(c, &a);

    /* Loopback may finish at once, but normally it is in progress. */
    CHECK(r == 0 || r == -EINPROGRESS);
    CHECK_EQ(sk__wait_fd(sk_sock_fileno(c), POLLOUT, sk__deadline_from_timeout(5)), 0);

    int err = -1;

    CHECK_OK(sk_sock_getsockopt_int(c, SOL_SOCKET, SO_ERROR, &err));
    CHECK_EQ(err, 0);
    CHECK_OK(sk_sock_setblocking(c, true));
    CHECK_OK(sk_sock_accept(l, &acc, NULL));
    exchange(c, acc, "connected");
    sk_sock_free(acc);
    sk_sock_free(c);

    /* connect_ex reports the same in CPython's positive form. */
    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_setblocking(c, false));
    r = sk_sock_connect_ex(c, &a);
    CHECK(r == 0 || r == EINPROGRESS);
    sk_sock_free(c);
    CHECK_OK(sk_sock_accept(l, &acc, NULL));
    sk_sock_free(acc);

    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_EQ(sk_sock_connect_ex(c, &a), 0);
    sk_sock_free(c);
    sk_sock_free(l);
}

/*
 * With the accept queue full (backlog 0 holds one connection), Linux drops
 * further SYNs, so a timed connect runs out of time.
 */
SK_TEST(connect_timeout)
{
    sk_addr a;
    sk_sock *l = listener(AF_INET, 0, &a), *c[4];
    int timed_out = -1;

    for (int i = 0; i < 4 && timed_out < 0; i++) {
        CHECK_OK(sk_sock_open(&c[i], AF_INET, SOCK_STREAM, 0));
        CHECK_OK(sk_sock_settimeout(c[i], 0.2));

        double t0 = sk_test_now();
        int r = sk_sock_connect(c[i], &a);
        double el = sk_test_now() - t0;

        if (r == SK_ETIMEOUT) {
            CHECK_TIME(el, 0.19, 2.0);
            timed_out = i;
        } else {
            CHECK_OK(r);
        }
    }
    if (timed_out < 0)
        SK_SKIP("the kernel accepted every connection; no queue overflow here");

    /* connect_ex reports a timeout as EAGAIN, like CPython. */
    sk_sock *extra;

    CHECK_OK(sk_sock_open(&extra, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_settimeout(extra, 0.1));
    CHECK_EQ(sk_sock_connect_ex(extra, &a), EAGAIN);
    sk_sock_free(extra);
    for (int i = 0; i <= timed_out; i++)
        sk_sock_free(c[i]);
    sk_sock_free(l);
}

SK_TEST(accept_nonblocking_and_timeout)
{
    sk_addr a;
    sk_sock *l = listener(AF_INET, 1, &a), *acc = NULL;

    CHECK_OK(sk_sock_setblocking(l, false));
    CHECK_ERR(sk_sock_accept(l, &acc, NULL), -EAGAIN);
    CHECK_OK(sk_sock_settimeout(l, 0.2));

    double t0 = sk_test_now();

    CHECK_ERR(sk_sock_accept(l, &acc, NULL), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.19, 2.0);
    CHECK(acc == NULL);
    sk_sock_free(l);
}

SK_TEST(recv_after_peer_close)
{
    sk_sock *c, *a;
    char buf[8];

    tcp_pair(AF_INET, &c, &a);
    CHECK_EQ(sk_sock_send(c, "bye", 3, 0), 3);
    sk_sock_close(c);
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 3);
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 0);
    /* End of stream is sticky, also for a timed socket. */
    CHECK_OK(sk_sock_settimeout(a, 1.0));
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 0);
    sk_sock_free(c);
    sk_sock_free(a);
}

SK_TEST(recv_flags_peek)
{
    sk_sock *c, *a;
    char buf[8];

    tcp_pair(AF_INET, &c, &a);
    CHECK_OK(sk_sock_sendall(c, "peek", 4, NULL));
    CHECK_OK(sk_sock_settimeout(a, 2.0));
    CHECK_EQ(sk_sock_recv(a, buf, 4, MSG_PEEK | MSG_WAITALL), 4);
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 4);
    CHECK_MEM(buf, "peek", 4);
    sk_sock_free(c);
    sk_sock_free(a);
}

SK_TEST(nonblocking_eagain)
{
    sk_sock *c, *a;
    char buf[4096];

    tcp_pair(AF_INET, &c, &a);
    small_buffers(c, a);
    /* MSG_DONTWAIT makes one call non-blocking, even on a blocking or
     * timed socket. */
    CHECK_ERR(sk_sock_recv(a, buf, sizeof buf, MSG_DONTWAIT), -EAGAIN);
    CHECK_OK(sk_sock_settimeout(a, 5.0));
    CHECK_ERR(sk_sock_recv(a, buf, sizeof buf, MSG_DONTWAIT), -EAGAIN);
    CHECK_OK(sk_sock_setblocking(a, false));
    CHECK_OK(sk_sock_setblocking(c, false));
    CHECK_ERR(sk_sock_recv(a, buf, sizeof buf, 0), -EAGAIN);

    /* Fill the path until send would block: -EAGAIN, never a wait. */
    memset(buf, 'x', sizeof buf);
    ssize_t n;
    size_t total = 0;
    double t0 = sk_test_now();

    while ((n = sk_sock_send(c, buf, sizeof buf, 0)) > 0) {
        total += (size_t)n;
        CHECK_INT(total, <, 64u << 20);
    }
    CHECK_ERR(n, -EAGAIN);
    CHECK_INT(total, >, 0);
    CHECK_TIME(sk_test_now() - t0, 0.0, 2.0);

    size_t sent = 0;

    CHECK_ERR(sk_sock_sendall(c, buf, sizeof buf, &sent), -EAGAIN);
    CHECK_INT(sent, <, sizeof buf);
    sk_sock_free(c);
    sk_sock_free(a);
}

/* Reads everything from a socket and counts it; checks the byte pattern. */
struct reader {
    sk_sock *s;
    size_t total;
    int delay_ms;   /* pause between reads (a slow reader) */
    size_t chunk;
    bool pattern_ok;
    atomic_bool stop;
};

static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    unsigned char buf[65536];

    r->pattern_ok = true;
    for (;;) {
        if (atomic_load(&r->stop))
            break;
        ssize_t n = sk_sock_recv(r->s, buf, r->chunk, 0);

        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != pattern_byte(r->total + (size_t)i))
                r->pattern_ok = false;
        }
        r->total += (size_t)n;
        if (r->delay_ms)
            usleep((useconds_t)r->delay_ms * 1000);
    }
    return NULL;
}

static unsigned char *pattern(size_t len)
{
    unsigned char *p = malloc(len);

    CHECK(p != NULL);
    for (size_t i = 0; i < len; i++)
        p[i] = pattern_byte(i);
    return p;
}

SK_TEST(sendall_complete)
{
    sk_sock *c, *a;
    size_t len = 8u << 20, sent = 0;
    unsigned char *data = pattern(len);
    struct reader r = {.chunk = 65536};
    pthread_t t;

    /* Default buffers: tiny ones make loopback TCP crawl on delayed ACKs.
     * 8 MiB still takes many send calls. */
    tcp_pair(AF_INET, &c, &a);
    r.s = a;
    CHECK_EQ(pthread_create(&t, NULL, reader_main, &r), 0);
    CHECK_OK(sk_sock_settimeout(c, 30.0));
    CHECK_OK(sk_sock_sendall(c, data, len, &sent));
    CHECK_EQ(sent, len);
    CHECK_OK(sk_sock_shutdown(c, SHUT_WR));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.total, len);
    CHECK(r.pattern_ok);
    sk_sock_free(c);
    sk_sock_free(a);
    free(data);
}

SK_TEST(sendall_timeout_reports_partial)
{
    sk_sock *c, *a;
    size_t len = 16u << 20, sent = 0;
    unsigned char *data = pattern(len);

    tcp_pair(AF_INET, &c, &a);
    small_buffers(c, a);
    CHECK_OK(sk_sock_settimeout(c, 0.2));

    double t0 = sk_test_now();

    CHECK_ERR(sk_sock_sendall(c, data, len, &sent), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.19, 2.0);
    CHECK_INT(sent, >, 0);
    CHECK_INT(sent, <, len);

    /* Exactly `sent` bytes arrive, in order: the count can be trusted to
     * resume from. */
    struct reader r = {.s = a, .chunk = 65536};
    pthread_t t;

    CHECK_OK(sk_sock_shutdown(c, SHUT_WR));
    CHECK_EQ(pthread_create(&t, NULL, reader_main, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.total, sent);
    CHECK(r.pattern_ok);
    sk_sock_free(c);
    sk_sock_free(a);
    free(data);
}

/*
 * A slow reader keeps every single send waiting briefly; a per-call
 * deadline would let sendall run for as long as the data takes (tens of
 * seconds here).  One deadline ends it at the timeout.
 */
SK_TEST(sendall_one_deadline)
{
    sk_sock *c, *a;
    size_t len = 8u << 20, sent = 0;
    unsigned char *data = pattern(len);
    struct reader r = {.chunk = 4096, .delay_ms = 20};
    pthread_t t;

    tcp_pair(AF_INET, &c, &a);
    small_buffers(c, a);
    r.s = a;
    CHECK_EQ(pthread_create(&t, NULL, reader_main, &r), 0);
    CHECK_OK(sk_sock_settimeout(c, 0.5));

    double t0 = sk_test_now();
    int rc = sk_sock_sendall(c, data, len, &sent);
    double el = sk_test_now() - t0;

    CHECK_ERR(rc, SK_ETIMEOUT);
    CHECK_TIME(el, 0.49, 3.0);
    CHECK_INT(sent, >, 0);
    CHECK_INT(sent, <, len);

    /* The reader drains what was sent, then sees the end of stream. */
    CHECK_OK(sk_sock_shutdown(c, SHUT_WR));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.total, sent);
    CHECK(r.pattern_ok);
    sk_sock_free(c);
    sk_sock_free(a);
    free(data);
}

/*
 * The test keeps SIGPIPE at its default disposition (terminate): if the
 * library let one through, this process would die instead of failing.
 */
SK_TEST(no_sigpipe)
{
    sk_sock *c, *a, *p[2];
    char buf[1024] = {0};
    int r = 0;

    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    tcp_pair(AF_INET, &c, &a);
    sk_sock_close(a);
    /* The first sends may still be accepted, or hit the reset. */
    for (int i = 0; i < 100 && r >= 0; i++)
        r = (int)sk_sock_send(c, buf, sizeof buf, 0);
    CHECK(r == -EPIPE || r == -ECONNRESET);
    CHECK_ERR(sk_sock_send(c, buf, sizeof buf, 0), -EPIPE);
    CHECK_ERR(sk_sock_sendall(c, buf, sizeof buf, NULL), -EPIPE);
    sk_sock_free(c);
    sk_sock_free(a);

    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
    sk_sock_close(p[1]);
    CHECK_ERR(sk_sock_send(p[0], "x", 1, 0), -EPIPE);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(shutdown_semantics)
{
    sk_sock *c, *a, *u;
    char buf[16];

    tcp_pair(AF_INET, &c, &a);
    /* SHUT_WR: the peer sees end of stream, the other direction still works. */
    CHECK_OK(sk_sock_shutdown(c, SHUT_WR));
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 0);
    exchange(a, c, "still open");
    CHECK_ERR(sk_sock_send(c, "x", 1, 0), -EPIPE);

    /* SHUT_RD: further reads return end of stream at once. */
    CHECK_OK(sk_sock_shutdown(a, SHUT_RD));
    CHECK_EQ(sk_sock_recv(a, buf, sizeof buf, 0), 0);
    CHECK_ERR(sk_sock_shutdown(a, 12345), -EINVAL);
    CHECK_OK(sk_sock_shutdown(a, SHUT_RDWR));
    sk_sock_free(c);
    sk_sock_free(a);

    CHECK_OK(sk_sock_open(&u, AF_INET, SOCK_STREAM, 0));
    CHECK_ERR(sk_sock_shutdown(u, SHUT_RDWR), -ENOTCONN);
    sk_sock_free(u);
}

SK_TEST(names)
{
    sk_sock *s;
    sk_addr a = loopback(AF_INET, 0), got;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_DGRAM, 0));
    CHECK_ERR(sk_sock_getpeername(s, &got), -ENOTCONN);
    CHECK_EQ(got.len, 0);
    CHECK_OK(sk_sock_bind(s, &a));
    CHECK_OK(sk_sock_getsockname(s, &got));
    CHECK_EQ(got.len, sizeof got.u.in4);
    CHECK_EQ(got.u.in4.sin_family, AF_INET);
    CHECK_EQ(got.u.in4.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    CHECK_INT(addr_port(&got), >, 0);
    /* A connected datagram socket has a peer name. */
    CHECK_OK(sk_sock_connect(s, &got));
    sk_addr peer;

    CHECK_OK(sk_sock_getpeername(s, &peer));
    CHECK_EQ(addr_port(&peer), addr_port(&got));
    sk_sock_free(s);
}

/* ---- UDP and Unix sockets ------------------------------------------------- */

static void udp_family(int family)
{
    sk_sock *srv, *cli;
    sk_addr any = loopback(family, 0), srv_addr, cli_addr, from;
    char buf[64];

    CHECK_OK(sk_sock_open(&srv, family, SOCK_DGRAM, 0));
    CHECK_OK(sk_sock_bind(srv, &any));
    CHECK_OK(sk_sock_getsockname(srv, &srv_addr));
    CHECK_OK(sk_sock_settimeout(srv, 5.0));

    /* sendto needs neither connect nor bind. */
    CHECK_OK(sk_sock_open(&cli, family, SOCK_DGRAM, 0));
    CHECK_EQ(sk_sock_sendto(cli, "question", 8, 0, &srv_addr), 8);
    CHECK_OK(sk_sock_getsockname(cli, &cli_addr));

    CHECK_EQ(sk_sock_recvfrom(srv, buf, sizeof buf, 0, &from), 8);
    CHECK_MEM(buf, "question", 8);
    CHECK_EQ(from.len, cli_addr.len);
    CHECK_EQ(addr_port(&from), addr_port(&cli_addr));

    CHECK_EQ(sk_sock_sendto(srv, "answer", 6, 0, &from), 6);
    CHECK_OK(sk_sock_settimeout(cli, 5.0));
    CHECK_EQ(sk_sock_recvfrom(cli, buf, sizeof buf, 0, NULL), 6);
    CHECK_MEM(buf, "answer", 6);

    /* Empty datagrams are datagrams. */
    CHECK_EQ(sk_sock_sendto(cli, "", 0, 0, &srv_addr), 0);
    CHECK_EQ(sk_sock_recvfrom(srv, buf, sizeof buf, 0, &from), 0);

    /* Nothing more queued: a timed recvfrom runs out. */
    CHECK_OK(sk_sock_settimeout(srv, 0.05));
    CHECK_ERR(sk_sock_recvfrom(srv, buf, sizeof buf, 0, &from), SK_ETIMEOUT);
    CHECK_OK(sk_sock_setblocking(srv, false));
    CHECK_ERR(sk_sock_recvfrom(srv, buf, sizeof buf, 0, &from), -EAGAIN);
    sk_sock_free(srv);
    sk_sock_free(cli);
}

SK_TEST(udp_v4_sendto_recvfrom)
{
    udp_family(AF_INET);
}

SK_TEST(udp_v6_sendto_recvfrom)
{
    need_ipv6();
    udp_family(AF_INET6);
}

/* A fresh private directory for Unix socket paths. */
static void unix_paths(char *dir, size_t dsize, sk_addr *a, sk_addr *b)
{
    snprintf(dir, dsize, "/tmp/sk-test-sock-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->u.un.sun_family = b->u.un.sun_family = AF_UNIX;
    snprintf(a->u.un.sun_path, sizeof a->u.un.sun_path, "%s/a", dir);
    snprintf(b->u.un.sun_path, sizeof b->u.un.sun_path, "%s/b", dir);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                         strlen(a->u.un.sun_path) + 1);
    b->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                         strlen(b->u.un.sun_path) + 1);
}

SK_TEST(unix_stream)
{
    char dir[64];
    sk_addr a, b, peer;
    sk_sock *l, *c, *acc;

    unix_paths(dir, sizeof dir, &a, &b);
    CHECK_OK(sk_sock_open(&l, AF_UNIX, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_bind(l, &a));
    CHECK_OK(sk_sock_listen(l, 4));
    CHECK_OK(sk_sock_open(&c, AF_UNIX, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_settimeout(c, 2.0));
    CHECK_OK(sk_sock_connect(c, &a));
    CHECK_OK(sk_sock_accept(l, &acc, &peer));
    CHECK_EQ(sk_sock_family(acc), AF_UNIX);
    exchange(c, acc, "over a path");
    exchange(acc, c, "and back");

    sk_addr name;

    CHECK_OK(sk_sock_getpeername(c, &name));
    CHECK_STR(name.u.un.sun_path, a.u.un.sun_path);
    sk_sock_free(acc);
    sk_sock_free(c);
    sk_sock_free(l);

    /* A path nobody listens on. */
    CHECK_OK(sk_sock_open(&c, AF_UNIX, SOCK_STREAM, 0));
    CHECK_ERR(sk_sock_connect(c, &b), -ENOENT);
    sk_sock_free(c);
    unlink(a.u.un.sun_path);
    rmdir(dir);
}

SK_TEST(unix_dgram)
{
    char dir[64];
    sk_addr a, b, from;
    sk_sock *sa, *sb;
    char buf[32];

    unix_paths(dir, sizeof dir, &a, &b);
    CHECK_OK(sk_sock_open(&sa, AF_UNIX, SOCK_DGRAM, 0));
    CHECK_OK(sk_sock_open(&sb, AF_UNIX, SOCK_DGRAM, 0));
    CHECK_OK(sk_sock_bind(sa, &a));
    CHECK_OK(sk_sock_bind(sb, &b));
    CHECK_OK(sk_sock_settimeout(sb, 2.0));
    CHECK_EQ(sk_sock_sendto(sa, "datagram", 8, 0, &b), 8);
    CHECK_EQ(sk_sock_recvfrom(sb, buf, sizeof buf, 0, &from), 8);
    CHECK_MEM(buf, "datagram", 8);
    CHECK_STR(from.u.un.sun_path, a.u.un.sun_path);
    sk_sock_free(sa);
    sk_sock_free(sb);
    unlink(a.u.un.sun_path);
    unlink(b.u.un.sun_path);
    rmdir(dir);
}

/* ---- options -------------------------------------------------------------- */

SK_TEST(sockopt_raw_and_int)
{
    sk_sock *s;
    int v = -1, type = 0;
    socklen_t len = sizeof type;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_getsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, &v));
    CHECK_EQ(v, 0);
    CHECK_OK(sk_sock_setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1));
    CHECK_OK(sk_sock_getsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, &v));
    CHECK_INT(v, !=, 0);
    CHECK_OK(sk_sock_getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len));
    CHECK_EQ(type, SOCK_STREAM);
    CHECK_EQ(len, sizeof type);

    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};

    CHECK_OK(sk_sock_setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    CHECK_ERR(sk_sock_setsockopt_int(s, SOL_SOCKET, 99999, 1), -ENOPROTOOPT);
    CHECK_ERR(sk_sock_getsockopt_int(s, 12345, 1, &v), -EOPNOTSUPP);
    sk_sock_free(s);
}

SK_TEST(keepalive)
{
    sk_sock *s;
    int v;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_set_keepalive(s, true, 30, 5, 3));
    CHECK_OK(sk_sock_getsockopt_int(s, SOL_SOCKET, SO_KEEPALIVE, &v));
    CHECK_INT(v, !=, 0);
#ifdef TCP_KEEPIDLE
    CHECK_OK(sk_sock_getsockopt_int(s, IPPROTO_TCP, TCP_KEEPIDLE, &v));
    CHECK_EQ(v, 30);
#endif
#ifdef TCP_KEEPINTVL
    CHECK_OK(sk_sock_getsockopt_int(s, IPPROTO_TCP, TCP_KEEPINTVL, &v));
    CHECK_EQ(v, 5);
#endif
#ifdef TCP_KEEPCNT
    CHECK_OK(sk_sock_getsockopt_int(s, IPPROTO_TCP, TCP_KEEPCNT, &v));
    CHECK_EQ(v, 3);
#endif
    /* Values <= 0 leave a field alone. */
    CHECK_OK(sk_sock_set_keepalive(s, true, 0, -1, 7));
#ifdef TCP_KEEPIDLE
    CHECK_OK(sk_sock_getsockopt_int(s, IPPROTO_TCP, TCP_KEEPIDLE, &v));
    CHECK_EQ(v, 30);
#endif
#ifdef TCP_KEEPCNT
    CHECK_OK(sk_sock_getsockopt_int(s, IPPROTO_TCP, TCP_KEEPCNT, &v));
    CHECK_EQ(v, 7);
#endif
    CHECK_OK(sk_sock_set_keepalive(s, false, 0, 0, 0));
    CHECK_OK(sk_sock_getsockopt_int(s, SOL_SOCKET, SO_KEEPALIVE, &v));
    CHECK_EQ(v, 0);
    /* Out-of-range knobs are the kernel's to refuse. */
    CHECK_ERR(sk_sock_set_keepalive(s, true, 1 << 30, 1, 1), -EINVAL);
    sk_sock_free(s);
}

SK_TEST(nodelay)
{
    sk_sock *c, *a;
    int v;

    tcp_pair(AF_INET, &c, &a);
    CHECK_OK(sk_sock_set_nodelay(c, true));
    CHECK_OK(sk_sock_getsockopt_int(c, IPPROTO_TCP, TCP_NODELAY, &v));
    CHECK_INT(v, !=, 0);
    CHECK_OK(sk_sock_set_nodelay(c, false));
    CHECK_OK(sk_sock_getsockopt_int(c, IPPROTO_TCP, TCP_NODELAY, &v));
    CHECK_EQ(v, 0);
    sk_sock_free(c);
    sk_sock_free(a);
}

SK_TEST(linger_options)
{
    sk_sock *s;
    struct linger lg;
    socklen_t len = sizeof lg;

    CHECK_OK(sk_sock_open(&s, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_set_linger(s, true, 7));
    CHECK_OK(sk_sock_getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len));
    CHECK_INT(lg.l_onoff, !=, 0);
    CHECK_EQ(lg.l_linger, 7);
    CHECK_OK(sk_sock_set_linger(s, false, 0));
    len = sizeof lg;
    CHECK_OK(sk_sock_getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len));
    CHECK_EQ(lg.l_onoff, 0);
    CHECK_ERR(sk_sock_set_linger(s, true, -1), -EINVAL);
    sk_sock_free(s);
}

/*
 * With a 5 s linger and unsent data stuck behind a peer that does not
 * read, close(2) would block for 5 s.  sk_sock_close must return at once
 * and reset the connection instead.
 */
SK_TEST(close_never_blocks_with_linger)
{
    sk_sock *c, *a;
    unsigned char buf[65536] = {0};
    char rbuf[16];

    tcp_pair(AF_INET, &c, &a);
    small_buffers(c, a);
    CHECK_OK(sk_sock_set_linger(c, true, 5));
    CHECK_OK(sk_sock_setblocking(c, false));
    while (sk_sock_send(c, buf, sizeof buf, 0) > 0)
        ;

    double t0 = sk_test_now();

    CHECK_OK(sk_sock_close(c));
    CHECK_TIME(sk_test_now() - t0, 0.0, 2.0);
    CHECK_EQ(sk_sock_close(c), 0);

    /* The peer sees the abortive close as a reset once the queued bytes
     * are dropped. */
    ssize_t n;

    CHECK_OK(sk_sock_settimeout(a, 5.0));
    do {
        n = sk_sock_recv(a, rbuf, sizeof rbuf, 0);
    } while (n > 0);
    CHECK_ERR(n, -ECONNRESET);
    sk_sock_free(c);
    sk_sock_free(a);
}
