/* SPDX-License-Identifier: MIT */
/*
 * bench/rawecho.c - the "raw floor": the least an epoll echo server can do.
 *
 *   rawecho TCP_PORT [UDP_PORT [TIME_PORT]]
 *
 * One thread, one level-triggered epoll set, listening on 0.0.0.0 (so every
 * 127.0.0.x destination reaches it).  A readable listener is drained with
 * non-blocking accept4; a readable connection gets one recv and one send of
 * what came in; a readable UDP socket gets one recvfrom and one sendto.
 * Nothing else: no limits, no timers, no logging.  Tuned as every peer of
 * bench/compare is (bench/README.md): TCP_NODELAY on each echo connection,
 * a SOMAXCONN backlog, the kernel's socket buffer sizes.  With
 * TIME_PORT it is also the floor for connection churn: an RFC 868 time
 * server that, for each accepted connection, sends the 4 bytes and closes
 * (accept4, send, close - three system calls per connection).
 *
 * The only state is for the rare short send (a fast stream writer can fill
 * the socket buffer): the unsent rest is kept, reading stops, and the
 * connection waits for EPOLLOUT, so no byte is lost and memory stays bounded
 * by one read.  Port 0 picks a free port; when ready the program prints
 * `ready tcp=PORT udp=PORT time=PORT` (0 for what it does not serve) on
 * stdout.
 *
 * A benchmark peer on plain POSIX/Linux calls, built with `cc -O2`; it is
 * not part of libsockit and deliberately shares none of its code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE 65536
/* Seconds from 1900-01-01 to the Unix epoch (RFC 868). */
#define RFC868_OFFSET 2208988800u
#define MAX_EVENTS 256

/* The unsent tail of one connection's last read, when a send fell short. */
typedef struct pending {
    char *buf;
    size_t off, len;
} pending;

static int epfd;
static pending *pend;     /* indexed by descriptor */
static size_t pend_count; /* entries allocated in pend */
static char buf[READ_SIZE];

static void die(const char *what)
{
    fprintf(stderr, "rawecho: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Returns a bound, non-blocking socket of `type` on 0.0.0.0:port. */
static int open_socket(int type, int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int one = 1;
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("bind");
    if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
        die("listen");
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;

    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        die("getsockname");
    return ntohs(sin.sin_port);
}

static void watch(int op, int fd, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};

    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        die("epoll_ctl");
}

/* Makes sure pend[] covers descriptor `fd`; O(fd) when it grows. */
static void pend_reserve(int fd)
{
    size_t want = (size_t)fd + 1, n = pend_count ? pend_count : 1024;

    if (want <= pend_count)
        return;
    while (n < want)
        n *= 2;
    pend = realloc(pend, n * sizeof *pend);
    if (!pend)
        die("realloc");
    memset(pend + pend_count, 0, (n - pend_count) * sizeof *pend);
    pend_count = n;
}

static void conn_close(int fd)
{
    if ((size_t)fd < pend_count) {
        free(pend[fd].buf);
        pend[fd] = (pending){0};
    }
    close(fd); /* also removes it from the epoll set */
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        int one = 1;

        if (fd < 0) {
            /* EAGAIN: drained.  EMFILE and the like: the listener stays
             * readable and is retried on the next wakeup. */
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        watch(EPOLL_CTL_ADD, fd, EPOLLIN);
    }
}

/* Answers every pending time connection: 4 bytes, then close.  The
 * client sends nothing, so close(2) ends with an orderly FIN. */
static void on_time_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        uint32_t now;

        if (fd < 0)
            return;
        now = htonl((uint32_t)time(NULL) + RFC868_OFFSET);
        send(fd, &now, sizeof now, MSG_NOSIGNAL);
        close(fd);
    }
}

/* Keeps what a short send left over and waits for the socket to drain. */
static void keep_rest(int fd, const char *data, size_t len)
{
    pend_reserve(fd);
    pend[fd].buf = malloc(len);
    if (!pend[fd].buf)
        die("malloc");
    memcpy(pend[fd].buf, data, len);
    pend[fd].off = 0;
    pend[fd].len = len;
    watch(EPOLL_CTL_MOD, fd, EPOLLOUT);
}

static void on_readable(int fd)
{
    ssize_t n = recv(fd, buf, sizeof buf, 0), sent;

    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(fd);
        return;
    }
    sent = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN) {
            conn_close(fd);
            return;
        }
        sent = 0;
    }
    if (sent < n)
        keep_rest(fd, buf + sent, (size_t)(n - sent));
}

static void on_writable(int fd)
{
    pending *p = &pend[fd];
    ssize_t sent = send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);

    if (sent < 0) {
        if (errno != EAGAIN)
            conn_close(fd);
        return;
    }
    p->off += (size_t)sent;
    if (p->off < p->len)
        return;
    free(p->buf);
    *p = (pending){0};
    watch(EPOLL_CTL_MOD, fd, EPOLLIN);
}

static void on_datagram(int fd)
{
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);

    if (n >= 0)
        sendto(fd, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&from, fromlen);
}

int main(int argc, char **argv)
{
    struct epoll_event events[MAX_EVENTS];
    int lfd, ufd = -1, tfd = -1;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: rawecho TCP_PORT [UDP_PORT [TIME_PORT]]\n");
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    lfd = open_socket(SOCK_STREAM, atoi(argv[1]));
    watch(EPOLL_CTL_ADD, lfd, EPOLLIN);
    if (argc >= 3) {
        ufd = open_socket(SOCK_DGRAM, atoi(argv[2]));
        watch(EPOLL_CTL_ADD, ufd, EPOLLIN);
    }
    if (argc == 4) {
        tfd = open_socket(SOCK_STREAM, atoi(argv[3]));
        watch(EPOLL_CTL_ADD, tfd, EPOLLIN);
    }
    printf("ready tcp=%d udp=%d time=%d\n", bound_port(lfd), ufd >= 0 ? bound_port(ufd) : 0,
           tfd >= 0 ? bound_port(tfd) : 0);
    fflush(stdout);

    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == lfd)
                on_accept(fd);
            else if (fd == ufd)
                on_datagram(fd);
            else if (fd == tfd)
                on_time_accept(fd);
            else if ((size_t)fd < pend_count && pend[fd].buf)
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}
