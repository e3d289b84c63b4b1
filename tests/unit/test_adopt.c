/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_adopt.c - serving descriptors the server did not create
 * (sk_server_adopt_tcp, _udp, _conn): a bound socket that is not yet
 * listening, a listener shared by several workers, a bound UDP socket, one
 * connected socketpair end served as a single connection, and the
 * descriptors each call refuses (left open for the caller).
 */
#define _GNU_SOURCE
#include "sk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- an echo service and a server thread ----------------------------------- */

static size_t echo_data(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);

    return n > 0 ? (size_t)n : 0;
}

static sk_server *closing_server;

/* The single adopted connection ended: the server has nothing left to do. */
static void stop_on_close(sk_conn *c)
{
    sk_server_shutdown(closing_server);
}

static const sk_tcp_handler echo_tcp = {.on_data = echo_data};
static const sk_tcp_handler echo_once = {.on_data = echo_data, .on_close = stop_on_close};

static void echo_dgram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    CHECK_OK(sk_dgram_reply(d, data, len));
}

static const sk_udp_handler echo_udp = {.on_datagram = echo_dgram};

static void *run_thread(void *arg)
{
    return (void *)(intptr_t)sk_server_run(arg);
}

/* A loopback socket of `type` bound to an ephemeral port, not listening. */
static int bound_socket(int type, sk_addr *addr)
{
    int fd = socket(AF_INET, type, 0);

    CHECK(fd >= 0);
    CHECK_OK(sk_addr_from_ip(addr, "127.0.0.1", 0, AF_INET));
    CHECK_EQ(bind(fd, &addr->u.sa, addr->len), 0);
    addr->len = sizeof(addr->u);
    CHECK_EQ(getsockname(fd, &addr->u.sa, &addr->len), 0);
    return fd;
}

/* Sends `msg` over a fresh TCP connection to `to` and checks the echo. */
static void tcp_echo_roundtrip(const sk_addr *to, const char *msg)
{
    size_t len = strlen(msg), got = 0;
    char buf[256];
    int fd = socket(to->u.sa.sa_family, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};

    CHECK(fd >= 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(connect(fd, &to->u.sa, to->len), 0);
    CHECK_EQ(send(fd, msg, len, 0), (ssize_t)len);
    while (got < len) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
        CHECK(n > 0);
        got += (size_t)n;
    }
    CHECK(memcmp(buf, msg, len) == 0);
    close(fd);
}

/* ---- listeners ---------------------------------------------------------------- */

/* A bound, not yet listening socket is made to listen, the address it
 * reports is the socket's own, and with three workers sharing it every
 * connection is served. */
SK_TEST(adopt_tcp_shared_listener)
{
    sk_server_config cfg = {.threads = 3};
    sk_server *srv;
    sk_addr addr, bound;
    pthread_t t;
    void *rc;
    int fd = bound_socket(SOCK_STREAM, &addr), acc = 0;
    socklen_t len = sizeof(acc);

    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_adopt_tcp(srv, fd, &echo_tcp, NULL, &bound));
    CHECK_EQ(sk_addr_port(&bound), sk_addr_port(&addr));
    CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len), 0);
    CHECK_EQ(acc, 1);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(pthread_create(&t, NULL, run_thread, srv), 0);
    for (int i = 0; i < 20; i++)
        tcp_echo_roundtrip(&addr, i % 2 ? "adopted listener" : "shared by three workers");
    sk_server_shutdown(srv);
    CHECK_EQ(pthread_join(t, &rc), 0);
    CHECK_EQ((intptr_t)rc, 0);
    /* The server owned the descriptor and closed it when it stopped. */
    CHECK_EQ(fcntl(fd, F_GETFD), -1);
    sk_server_free(srv);
}

/* A bound UDP socket answers datagrams. */
SK_TEST(adopt_udp_bound_socket)
{
    sk_server_config cfg = {.threads = 2};
    sk_server *srv;
    sk_addr addr, bound;
    pthread_t t;
    char buf[64];
    struct timeval tv = {5, 0};
    int fd = bound_socket(SOCK_DGRAM, &addr), c = socket(AF_INET, SOCK_DGRAM, 0);

    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_adopt_udp(srv, fd, 0, &echo_udp, NULL, &bound));
    CHECK_EQ(sk_addr_port(&bound), sk_addr_port(&addr));
    CHECK_EQ(pthread_create(&t, NULL, run_thread, srv), 0);
    CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(sendto(c, "ping", 4, 0, &addr.u.sa, addr.len), 4);
    CHECK_EQ(recv(c, buf, sizeof(buf), 0), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    close(c);
    sk_server_shutdown(srv);
    CHECK_EQ(pthread_join(t, NULL), 0);
    sk_server_free(srv);
}

/* Descriptors that are not what the call serves are refused and left open. */
SK_TEST(adopt_refuses_wrong_descriptors)
{
    sk_server *srv;
    sk_addr a;
    int p[2], udp = bound_socket(SOCK_DGRAM, &a), tcp = bound_socket(SOCK_STREAM, &a);
    int unconnected = socket(AF_INET, SOCK_STREAM, 0);

    CHECK_OK(sk_server_new(&srv, NULL));
    CHECK_EQ(pipe(p), 0);
    CHECK_ERR(sk_server_adopt_tcp(srv, p[0], &echo_tcp, NULL, NULL), -ENOTSOCK);
    CHECK_ERR(sk_server_adopt_udp(srv, p[0], 0, &echo_udp, NULL, NULL), -ENOTSOCK);
    CHECK_ERR(sk_server_adopt_conn(srv, p[0], &echo_tcp, NULL), -ENOTSOCK);
    CHECK_ERR(sk_server_adopt_tcp(srv, udp, &echo_tcp, NULL, NULL), -EPROTOTYPE);
    CHECK_ERR(sk_server_adopt_udp(srv, tcp, 0, &echo_udp, NULL, NULL), -EPROTOTYPE);
    CHECK_ERR(sk_server_adopt_tcp(srv, tcp, NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(sk_server_adopt_conn(srv, unconnected, &echo_tcp, NULL), -ENOTCONN);
    CHECK_ERR(sk_server_adopt_tcp(srv, -1, &echo_tcp, NULL, NULL), -EBADF);
    CHECK_OK(sk_server_adopt_tcp(srv, tcp, &echo_tcp, NULL, NULL));
    /* A listener is not a connection. */
    CHECK_ERR(sk_server_adopt_conn(srv, tcp, &echo_tcp, NULL), -EINVAL);
    CHECK(fcntl(p[0], F_GETFD) >= 0);
    CHECK(fcntl(udp, F_GETFD) >= 0);
    CHECK(fcntl(unconnected, F_GETFD) >= 0);
    sk_server_free(srv);
    CHECK_EQ(fcntl(tcp, F_GETFD), -1);
    close(p[0]);
    close(p[1]);
    close(udp);
    close(unconnected);
}

/* ---- one connection ----------------------------------------------------------- */

/* One end of a socketpair is served as a single connection: echoed, closed
 * after our end of stream, and its on_close stops the server. */
SK_TEST(adopt_conn_serves_one_connection)
{
    sk_server_config cfg = {.threads = 2};
    sk_server *srv;
    pthread_t t;
    int sp[2];
    char buf[64];
    size_t got = 0;
    ssize_t n;
    struct timeval tv = {5, 0};

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    CHECK_EQ(setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_OK(sk_server_new(&srv, &cfg));
    closing_server = srv;
    CHECK_OK(sk_server_adopt_conn(srv, sp[0], &echo_once, NULL));
    CHECK_EQ(write(sp[1], "one connection\n", 15), 15);
    CHECK_EQ(shutdown(sp[1], SHUT_WR), 0);
    CHECK_EQ(pthread_create(&t, NULL, run_thread, srv), 0);
    while ((n = read(sp[1], buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)n;
    CHECK_EQ(n, 0);
    CHECK_EQ(got, 15);
    CHECK(memcmp(buf, "one connection\n", 15) == 0);
    /* on_close shut the server down: run returns without our help. */
    CHECK_EQ(pthread_join(t, NULL), 0);
    sk_server_free(srv);
    close(sp[1]);
}

/* A server shut down before it ran closes the adopted connection unserved. */
SK_TEST(adopt_conn_closed_if_never_run)
{
    sk_server *srv;
    int sp[2];
    char c;

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    CHECK_OK(sk_server_new(&srv, NULL));
    CHECK_OK(sk_server_adopt_conn(srv, sp[0], &echo_tcp, NULL));
    sk_server_free(srv);
    CHECK_EQ(read(sp[1], &c, 1), 0);
    close(sp[1]);
}
