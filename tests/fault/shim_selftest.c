/* SPDX-License-Identifier: MIT */
/*
 * tests/fault/shim_selftest.c - proves that faultshim injects what it promises, and
 * nothing else, so that passing the suite under the shim means something.
 *
 * Usage: shim_selftest PATH_TO_SHIM
 *
 * The parent runs uninstrumented and re-executes itself once per check
 * with LD_PRELOAD and the SK_FAULT_* variables set (argv[1] names the
 * check); each child does real I/O on local sockets and pipes, tells an
 * injected fault from the kernel's own behaviour by comparing with what is
 * queued (FIONREAD), and asserts:
 *   stream    blocking stream sockets see short reads and writes and EINTR,
 *             never EAGAIN; every byte arrives once and in order.
 *   nonblock  non-blocking stream sockets also see EAGAIN, in runs no longer
 *             than SK_FAULT_MAX_RUN; pipes are never shortened and never
 *             see EAGAIN, but do see EINTR.
 *   dgram     datagrams (sendto/recvfrom/sendmsg/recvmsg) are never
 *             truncated; recvmmsg/sendmmsg handle fewer messages, each whole.
 *   accept    accept/accept4 fail with EMFILE (and EAGAIN only when the
 *             listener is non-blocking) and every queued connection is
 *             accepted in the end.
 *   connect   a blocking connect fails with EINTR while the connection goes
 *             on (writable, SO_ERROR 0, a peer name); a non-blocking one
 *             is never faulted.
 *   wait      poll and epoll_wait say EINTR only when nothing is ready.
 *   shortmin  with SK_FAULT_SHORT_MIN=16, 10-byte transfers are never cut
 *             and 1000-byte ones are.
 *   maxrun    at a 100% rate, faults come in runs of exactly MAX_RUN and
 *             the next call goes through.
 *   off       without SK_FAULT_SEED nothing is injected even at 100%, nor
 *             with an SK_FAULT_ONLY that matches no loaded object; one
 *             that matches this program lets the maxrun check pass.
 *   trace     prints the outcome of a fixed call sequence; the parent checks
 *             that a seed reproduces it and another seed changes it.
 *   stats     the SK_FAULT_STATS file counts what was injected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAIL(...)                                                            \
    do {                                                                     \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                 \
        exit(1);                                                             \
    } while (0)

#define REQUIRE(cond, ...)                                                   \
    do {                                                                     \
        if (!(cond))                                                         \
            FAIL(__VA_ARGS__);                                               \
    } while (0)

/* What the checks saw. */
struct tally {
    long calls, shorts, eintr, eagain, emfile;
    int run, longest_run; /* consecutive faults on the current descriptor */
};

static void note(struct tally *t, bool faulted)
{
    t->calls++;
    if (faulted) {
        if (++t->run > t->longest_run)
            t->longest_run = t->run;
    } else {
        t->run = 0;
    }
}

static int max_run(void)
{
    const char *s = getenv("SK_FAULT_MAX_RUN");

    return s != NULL ? atoi(s) : 3;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static int queued(int fd)
{
    int n = 0;

    if (ioctl(fd, FIONREAD, &n) < 0)
        FAIL("FIONREAD: %s", strerror(errno));
    return n;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        FAIL("fcntl: %s", strerror(errno));
}

/* Connects to a listener; returns the connect's errno (0 on success) and
 * leaves a connected socket in *out. */
static int connect_one(const struct sockaddr_in *a, bool nonblocking, int *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    int r, first, err = 0;
    struct pollfd p = { fd, POLLOUT, 0 };
    socklen_t len = sizeof err;
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;

    REQUIRE(fd >= 0, "socket");
    r = connect(fd, (const struct sockaddr *)a, sizeof *a);
    if (r == 0) {
        *out = fd;
        return 0;
    }
    first = errno;
    REQUIRE(first == EINTR || first == EINPROGRESS, "connect: %s", strerror(first));
    REQUIRE(nonblocking == (first == EINPROGRESS), "connect said %s on a %s socket",
            strerror(first), nonblocking ? "non-blocking" : "blocking");
    /* As after a real EINTR: the connection completes in the background. */
    while ((r = poll(&p, 1, 5000)) < 0 && errno == EINTR)
        ;
    REQUIRE(r == 1, "connect never completed");
    REQUIRE(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0,
            "SO_ERROR %d", err);
    REQUIRE(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0,
            "not connected after the interrupted connect: %s", strerror(errno));
    REQUIRE((fcntl(fd, F_GETFL) & O_NONBLOCK) == (nonblocking ? O_NONBLOCK : 0),
            "the socket's mode changed");
    *out = fd;
    return first;
}

/* A connected TCP pair on 127.0.0.1 (blocking). */
static void tcp_pair(int sv[2])
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    REQUIRE(l >= 0, "socket: %s", strerror(errno));
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    REQUIRE(listen(l, 1) == 0, "listen: %s", strerror(errno));
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname");
    connect_one(&a, false, &sv[0]);
    /* The accept itself may be faulted: retry, as any caller must. */
    do
        sv[1] = accept(l, NULL, NULL);
    while (sv[1] < 0 && (errno == EINTR || errno == EMFILE));
    REQUIRE(sv[1] >= 0, "accept: %s", strerror(errno));
    close(l);
}

/* ---- moving bytes through a stream, one call style per round ------------------ */

/* One write-side call of `len` bytes from buf, in the style `how`. */
static ssize_t put(int fd, const unsigned char *buf, size_t len, int how)
{
    struct iovec iov[3];
    struct msghdr m = { 0 };
    size_t a = len / 3, b = len / 3;

    iov[0] = (struct iovec){ (void *)buf, a };
    iov[1] = (struct iovec){ (void *)(buf + a), b };
    iov[2] = (struct iovec){ (void *)(buf + a + b), len - a - b };
    switch (how % 5) {
    case 0:
        return write(fd, buf, len);
    case 1:
        return send(fd, buf, len, MSG_NOSIGNAL);
    case 2:
        return writev(fd, iov, 3);
    case 3: /* as the library sends on a non-blocking socket */
        return syscall(SYS_sendto, fd, buf, len, MSG_NOSIGNAL, NULL, 0);
    default:
        m.msg_iov = iov;
        m.msg_iovlen = 3;
        return sendmsg(fd, &m, MSG_NOSIGNAL);
    }
}

static ssize_t get(int fd, unsigned char *buf, size_t len, int how)
{
    struct iovec iov[2];
    struct msghdr m = { 0 };
    size_t a = len / 2;

    iov[0] = (struct iovec){ buf, a };
    iov[1] = (struct iovec){ buf + a, len - a };
    switch (how % 6) {
    case 0:
        return read(fd, buf, len);
    case 1:
        return recv(fd, buf, len, 0);
    case 2:
        return readv(fd, iov, 2);
    case 3:
        return recvfrom(fd, buf, len, 0, NULL, NULL);
    case 4: /* as the library receives on a non-blocking socket */
        return syscall(SYS_recvfrom, fd, buf, len, 0, NULL, NULL);
    default:
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        return recvmsg(fd, &m, 0);
    }
}

/*
 * Pushes `rounds` chunks of `chunk` bytes from sv[0] to sv[1], reading each
 * chunk before writing the next so the buffers never fill: then any short
 * count, and any EAGAIN, is the shim's doing.  Checks every byte.
 */
static void stream_rounds(int sv[2], int rounds, size_t chunk, struct tally *w,
                          struct tally *r)
{
    unsigned char out[4096], in[4096];
    size_t pos = 0;

    REQUIRE(chunk <= sizeof out, "chunk too large");
    for (int k = 0; k < rounds; k++) {
        size_t done = 0;

        for (size_t i = 0; i < chunk; i++)
            out[i] = pattern(pos + i);
        while (done < chunk) {
            ssize_t n = put(sv[0], out + done, chunk - done, k);

            note(w, n < 0 || (size_t)n < chunk - done);
            if (n < 0) {
                if (errno == EINTR)
                    w->eintr++;
                else if (errno == EAGAIN)
                    w->eagain++;
                else
                    FAIL("write side: %s", strerror(errno));
                continue;
            }
            if ((size_t)n < chunk - done)
                w->shorts++;
            done += (size_t)n;
        }
        done = 0;
        while (done < chunk) {
            size_t want = chunk - done;
            int q = queued(sv[1]);
            ssize_t n;

            if ((size_t)q < want) {
                /* Still in flight: not a moment to judge counts. */
                usleep(1000);
                continue;
            }
            n = get(sv[1], in + done, want, k);
            note(r, n < 0 || (size_t)n < want);
            if (n < 0) {
                if (errno == EINTR)
                    r->eintr++;
                else if (errno == EAGAIN)
                    r->eagain++;
                else
                    FAIL("read side: %s", strerror(errno));
                continue;
            }
            REQUIRE(n > 0, "end of stream in the middle");
            if ((size_t)n < want)
                r->shorts++;
            done += (size_t)n;
        }
        for (size_t i = 0; i < chunk; i++)
            REQUIRE(in[i] == pattern(pos + i), "byte %zu differs: %u vs %u", pos + i,
                    in[i], pattern(pos + i));
        pos += chunk;
    }
}

static void print_tally(const char *what, const struct tally *t)
{
    fprintf(stderr, "  %-22s calls %ld short %ld eintr %ld eagain %ld emfile %ld longest run %d\n",
            what, t->calls, t->shorts, t->eintr, t->eagain, t->emfile, t->longest_run);
}

/* ---- the checks ------------------------------------------------------------------ */

static int check_stream(void)
{
    int kinds[2][2];

    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kinds[0]) == 0, "socketpair");
    tcp_pair(kinds[1]);
    for (int i = 0; i < 2; i++) {
        struct tally w = { 0 }, r = { 0 };

        stream_rounds(kinds[i], 400, 1000, &w, &r);
        print_tally(i ? "tcp write" : "unix write", &w);
        print_tally(i ? "tcp read" : "unix read", &r);
        REQUIRE(w.shorts > 0 && r.shorts > 0, "no short counts injected");
        REQUIRE(w.eintr > 0 && r.eintr > 0, "no EINTR injected");
        REQUIRE(w.eagain == 0 && r.eagain == 0, "EAGAIN on a blocking socket");
        REQUIRE(w.longest_run <= max_run() && r.longest_run <= max_run(),
                "a run of faults longer than %d", max_run());
    }
    return 0;
}

/* The library's direct system calls (sk__sys_send, lib/internal.h) are
 * faulted like the libc calls, and other system calls pass through. */
static int check_syscall(void)
{
    int sv[2];
    struct tally w = { 0 }, r = { 0 };
    unsigned char out[1000], in[1000];

    tcp_pair(sv);
    REQUIRE(syscall(SYS_getpid) == getpid(), "syscall(SYS_getpid) changed by the shim");
    for (int k = 0; k < 300; k++) {
        size_t sent = 0, got = 0;

        memset(out, k, sizeof out);
        while (sent < sizeof out) {
            long n = syscall(SYS_sendto, sv[0], out + sent, sizeof out - sent, MSG_NOSIGNAL,
                             NULL, 0);
            w.calls++;
            if (n < 0) {
                REQUIRE(errno == EINTR, "sendto: %s", strerror(errno));
                w.eintr++;
                continue;
            }
            w.shorts += (size_t)n < sizeof out - sent;
            sent += (size_t)n;
        }
        while (got < sizeof in) {
            long n = syscall(SYS_recvfrom, sv[1], in + got, sizeof in - got, 0, NULL, NULL);
            r.calls++;
            if (n < 0) {
                REQUIRE(errno == EINTR, "recvfrom: %s", strerror(errno));
                r.eintr++;
                continue;
            }
            REQUIRE(n > 0, "recvfrom: end of stream");
            got += (size_t)n;
        }
        REQUIRE(memcmp(in, out, sizeof in) == 0, "round %d: bytes differ", k);
    }
    print_tally("syscall write", &w);
    print_tally("syscall read", &r);
    REQUIRE(w.shorts > 0, "no short count injected into syscall(SYS_sendto)");
    REQUIRE(w.eintr > 0 && r.eintr > 0, "no EINTR injected into syscall()");
    return 0;
}

/* A pipe must never be shortened and, being blocking here, never EAGAIN. */
static void pipe_rounds(int p[2], int rounds, struct tally *t)
{
    unsigned char buf[100];

    for (int k = 0; k < rounds; k++) {
        ssize_t n;

        memset(buf, k, sizeof buf);
        while ((n = write(p[1], buf, sizeof buf)) < 0) {
            REQUIRE(errno == EINTR, "pipe write: %s", strerror(errno));
            t->eintr++;
        }
        REQUIRE(n == (ssize_t)sizeof buf, "pipe write shortened to %zd", n);
        while ((n = read(p[0], buf, sizeof buf)) < 0) {
            REQUIRE(errno == EINTR, "pipe read: %s", strerror(errno));
            t->eintr++;
        }
        REQUIRE(n == (ssize_t)sizeof buf, "pipe read shortened to %zd", n);
        t->calls += 2;
    }
}

static int check_nonblock(void)
{
    int sv[2], p[2];
    struct tally w = { 0 }, r = { 0 }, pt = { 0 };

    tcp_pair(sv);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    stream_rounds(sv, 400, 1000, &w, &r);
    print_tally("non-blocking write", &w);
    print_tally("non-blocking read", &r);
    REQUIRE(w.eagain > 0 && r.eagain > 0, "no EAGAIN injected on non-blocking sockets");
    REQUIRE(w.shorts > 0 && r.shorts > 0, "no short counts injected");
    REQUIRE(w.longest_run <= max_run() && r.longest_run <= max_run(),
            "a run of faults longer than %d", max_run());

    REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
    pipe_rounds(p, 300, &pt);
    set_nonblock(p[0]);
    set_nonblock(p[1]);
    pipe_rounds(p, 300, &pt);
    print_tally("pipe", &pt);
    REQUIRE(pt.eintr > 0, "no EINTR injected on a pipe");
    return 0;
}

/* Sends datagrams of many sizes and checks each arrives whole. */
static int check_dgram(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unsigned char out[1500], in[2048];
    struct tally t = { 0 }, mm = { 0 };
    long send_eagain = 0;

    REQUIRE(rx >= 0 && tx >= 0, "socket");
    REQUIRE(bind(rx, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    REQUIRE(getsockname(rx, (struct sockaddr *)&a, &len) == 0, "getsockname");
    for (int k = 0; k < 400; k++) {
        size_t size = 1 + (size_t)(k * 37) % 1400;
        struct iovec iov = { in, sizeof in };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        memset(out, k, size);
        while ((n = (k & 1) ? sendto(tx, out, size, 0, (struct sockaddr *)&a, sizeof a)
                            : sendmsg(tx, &(struct msghdr){ .msg_name = &a,
                                                              .msg_namelen = sizeof a,
                                                              .msg_iov = &(struct iovec){ out, size },
                                                              .msg_iovlen = 1 }, 0)) < 0) {
            REQUIRE(errno == EINTR || errno == EAGAIN, "sendto: %s", strerror(errno));
            t.eintr += errno == EINTR;
            send_eagain += errno == EAGAIN;
        }
        REQUIRE((size_t)n == size, "datagram send of %zu bytes said %zd", size, n);
        for (;;) {
            n = (k & 2) ? recvmsg(rx, &m, 0) : recvfrom(rx, in, sizeof in, 0, NULL, NULL);
            if (n >= 0)
                break;
            REQUIRE(errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
            t.eintr += errno == EINTR;
            t.eagain += errno == EAGAIN;
            if (errno == EAGAIN)
                usleep(100);
        }
        REQUIRE((size_t)n == size, "datagram of %zu bytes received as %zd", size, n);
        REQUIRE((m.msg_flags & MSG_TRUNC) == 0, "datagram truncated");
        for (size_t i = 0; i < size; i++)
            REQUIRE(in[i] == (unsigned char)k, "datagram byte %zu differs", i);
        t.calls += 2;
    }
    print_tally("datagrams", &t);
    /* A receive's EAGAIN may be the kernel's (not arrived yet); a send's, with
     * an empty buffer, is the shim's. */
    REQUIRE(t.eintr > 0 && send_eagain > 0, "no EINTR or EAGAIN on datagram sockets");

    /* Batches: 8 out, 8 in, each call may handle fewer. */
    for (int k = 0; k < 100; k++) {
        struct mmsghdr v[8];
        struct iovec iov[8];
        unsigned char rbuf[8][64];
        int sent = 0, got = 0;

        for (int i = 0; i < 8; i++) {
            iov[i] = (struct iovec){ out + i, (size_t)(10 + i) };
            v[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &a, .msg_namelen = sizeof a,
                                                  .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        memset(out, 'x', 64);
        while (sent < 8) {
            int n = sendmmsg(tx, v + sent, (unsigned)(8 - sent), 0);

            if (n < 0) {
                REQUIRE(errno == EINTR || errno == EAGAIN, "sendmmsg: %s", strerror(errno));
                continue;
            }
            mm.shorts += n < 8 - sent;
            sent += n;
        }
        while (got < 8) {
            int n;

            for (int i = got; i < 8; i++) {
                iov[i] = (struct iovec){ rbuf[i], sizeof rbuf[i] };
                v[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
            }
            n = recvmmsg(rx, v + got, (unsigned)(8 - got), 0, NULL);
            if (n < 0) {
                REQUIRE(errno == EINTR || errno == EAGAIN, "recvmmsg: %s", strerror(errno));
                usleep(100);
                continue;
            }
            for (int i = got; i < got + n; i++) {
                REQUIRE(v[i].msg_len == (unsigned)(10 + i), "message %d: %u bytes, sent %d", i,
                        v[i].msg_len, 10 + i);
                REQUIRE((v[i].msg_hdr.msg_flags & MSG_TRUNC) == 0, "message truncated");
            }
            if (n < 8 - got && queued(rx) > 0)
                mm.shorts++;
            got += n;
        }
        mm.calls++;
    }
    print_tally("mmsg batches", &mm);
    REQUIRE(mm.shorts > 0, "recvmmsg/sendmmsg never handled fewer messages");
    return 0;
}

/* Queues `count` connections on a listener, then accepts them all. */
static void accept_all(bool nonblocking, bool four, struct tally *t)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c[40];
    int accepted = 0;

    REQUIRE(l >= 0, "socket");
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    REQUIRE(listen(l, 64) == 0, "listen");
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname");
    if (nonblocking)
        set_nonblock(l);
    for (int i = 0; i < 40; i++) {
        connect_one(&a, false, &c[i]);
    }
    while (accepted < 40) {
        int fd = four ? accept4(l, NULL, NULL, SOCK_CLOEXEC) : accept(l, NULL, NULL);

        note(t, fd < 0);
        if (fd < 0) {
            if (errno == EINTR)
                t->eintr++;
            else if (errno == EMFILE)
                t->emfile++;
            else if (errno == EAGAIN)
                t->eagain++;
            else
                FAIL("accept: %s", strerror(errno));
            REQUIRE(nonblocking || errno != EAGAIN, "EAGAIN from a blocking accept");
            continue;
        }
        close(fd);
        accepted++;
    }
    for (int i = 0; i < 40; i++)
        close(c[i]);
    close(l);
}

static int check_accept(void)
{
    struct tally b = { 0 }, nb = { 0 };

    accept_all(false, false, &b);
    accept_all(false, true, &b);
    accept_all(true, true, &nb);
    accept_all(true, false, &nb);
    print_tally("blocking accept", &b);
    print_tally("non-blocking accept", &nb);
    REQUIRE(b.emfile > 0 && nb.emfile > 0, "no EMFILE injected");
    REQUIRE(b.eagain == 0, "EAGAIN from a blocking accept");
    REQUIRE(nb.eagain > 0, "no EAGAIN from a non-blocking accept");
    REQUIRE(b.longest_run <= max_run() && nb.longest_run <= max_run(), "run too long");
    return 0;
}

static int check_connect(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int eintr = 0;

    REQUIRE(l >= 0, "socket");
    REQUIRE(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    REQUIRE(listen(l, 128) == 0, "listen");
    REQUIRE(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname");
    for (int i = 0; i < 60; i++) {
        int fd, c;

        eintr += connect_one(&a, i % 2 == 1, &fd) == EINTR;
        while ((c = accept(l, NULL, NULL)) < 0)
            REQUIRE(errno == EINTR || errno == EMFILE, "accept: %s", strerror(errno));
        close(c);
        close(fd);
    }
    fprintf(stderr, "  connect: %d of 30 blocking connects interrupted\n", eintr);
    REQUIRE(eintr > 0, "no connect was interrupted");
    close(l);
    return 0;
}

/* poll and epoll_wait: EINTR while idle, never when something is ready. */
static int check_wait(void)
{
    int sv[2], ep = epoll_create1(EPOLL_CLOEXEC), idle_eintr = 0;
    struct epoll_event ev = { .events = EPOLLIN }, out[2];

    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    REQUIRE(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0, "epoll");
    for (int i = 0; i < 100; i++) {
        struct pollfd p = { sv[1], POLLIN, 0 };
        int a = poll(&p, 1, 1), b = epoll_wait(ep, out, 2, 1);

        REQUIRE(a <= 0 && b <= 0, "ready with nothing sent");
        idle_eintr += (a < 0 && errno == EINTR) + (b < 0 && errno == EINTR);
    }
    REQUIRE(write(sv[0], "x", 1) == 1 || errno == EINTR, "write");
    while (queued(sv[1]) == 0)
        REQUIRE(write(sv[0], "x", 1) == 1 || errno == EINTR, "write");
    for (int i = 0; i < 100; i++) {
        struct pollfd p = { sv[1], POLLIN, 0 };

        REQUIRE(poll(&p, 1, 1000) == 1, "poll with data ready: %s", strerror(errno));
        REQUIRE(epoll_wait(ep, out, 2, 1000) == 1, "epoll_wait with data ready: %s",
                strerror(errno));
    }
    fprintf(stderr, "  wait: %d of 200 idle waits interrupted, none of 200 ready ones\n",
            idle_eintr);
    REQUIRE(idle_eintr > 0, "no idle wait was interrupted");
    return 0;
}

static int check_shortmin(void)
{
    int sv[2];
    struct tally w = { 0 }, r = { 0 }, w2 = { 0 }, r2 = { 0 };

    tcp_pair(sv);
    stream_rounds(sv, 200, 10, &w, &r);
    stream_rounds(sv, 200, 1000, &w2, &r2);
    print_tally("10-byte writes", &w);
    print_tally("10-byte reads", &r);
    print_tally("1000-byte writes", &w2);
    print_tally("1000-byte reads", &r2);
    REQUIRE(w.shorts == 0 && r.shorts == 0, "a transfer below SK_FAULT_SHORT_MIN was cut");
    REQUIRE(w.eintr > 0 && r.eintr > 0, "no EINTR on the small transfers");
    REQUIRE(w2.shorts > 0 && r2.shorts > 0, "no short counts on large transfers");
    return 0;
}

/* At a 100% rate every call is faulted until the run limit lets one by. */
static int check_maxrun(void)
{
    int sv[2];
    struct tally w = { 0 }, r = { 0 };

    tcp_pair(sv);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    stream_rounds(sv, 100, 1000, &w, &r);
    print_tally("write at 100%", &w);
    print_tally("read at 100%", &r);
    REQUIRE(w.longest_run == max_run() && r.longest_run == max_run(),
            "longest runs %d and %d, expected exactly %d", w.longest_run, r.longest_run,
            max_run());
    return 0;
}

static int check_off(void)
{
    int sv[2], p[2];
    struct tally w = { 0 }, r = { 0 }, pt = { 0 };

    tcp_pair(sv);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    stream_rounds(sv, 100, 1000, &w, &r);
    REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
    pipe_rounds(p, 100, &pt);
    print_tally("write, no seed", &w);
    print_tally("read, no seed", &r);
    REQUIRE(w.longest_run == 0 && r.longest_run == 0 && pt.eintr == 0,
            "faults injected without SK_FAULT_SEED");
    return 0;
}

/* Prints one letter per call of a fixed sequence: p(ass) s(hort) i a. */
static int trace(void)
{
    int sv[2];
    unsigned char buf[1000];
    char line[301];

    memset(buf, 'z', sizeof buf);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0,
            "socketpair");
    for (int k = 0; k < 300; k++) {
        ssize_t n = send(sv[0], buf, 100, 0);

        line[k] = n < 0 ? (errno == EINTR ? 'i' : 'a') : n < 100 ? 's' : 'p';
        /* Drain whatever arrived, without the shim's involvement in the
         * count: the drain is not part of the trace. */
        while (queued(sv[1]) > 0)
            if (recv(sv[1], buf, sizeof buf, 0) < 0 && errno != EINTR && errno != EAGAIN)
                FAIL("recv: %s", strerror(errno));
    }
    line[300] = '\0';
    puts(line);
    return 0;
}

/* ---- the parent ------------------------------------------------------------------ */

/* Runs this program's `check` under the shim with the given extra
 * variables ("NAME=value" strings, NULL-terminated); captures stdout into
 * out when it is not NULL.  Returns the exit status. */
static int run_check(const char *shim, const char *check, const char *const *vars, char *out,
                     size_t outlen)
{
    int p[2];
    pid_t pid;
    int status;

    REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

        if (n < 0)
            _exit(127);
        self[n] = '\0';
        unsetenv("SK_FAULT_SEED");
        unsetenv("SK_FAULT_RATE");
        unsetenv("SK_FAULT_KINDS");
        unsetenv("SK_FAULT_MAX_RUN");
        unsetenv("SK_FAULT_STATS");
        unsetenv("SK_FAULT_ONLY");
        unsetenv("SK_FAULT_SHORT_MIN");
        for (int i = 0; vars[i] != NULL; i++)
            putenv((char *)vars[i]);
        setenv("LD_PRELOAD", shim, 1);
        if (out != NULL)
            dup2(p[1], STDOUT_FILENO);
        execl(self, self, check, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    if (out != NULL) {
        size_t got = 0;
        ssize_t n;

        while (got < outlen - 1 && (n = read(p[0], out + got, outlen - 1 - got)) > 0)
            got += (size_t)n;
        out[got] = '\0';
    }
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0)
        REQUIRE(errno == EINTR, "waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int check_stats(const char *shim)
{
    char path[] = "/tmp/faultshim-stats-XXXXXX";
    int fd = mkstemp(path);
    char var[64];
    uint64_t c[8] = { 0 };
    const char *vars[] = { "SK_FAULT_SEED=11", "SK_FAULT_RATE=40", var, NULL };
    int rc;

    REQUIRE(fd >= 0, "mkstemp");
    snprintf(var, sizeof var, "SK_FAULT_STATS=%s", path);
    rc = run_check(shim, "nonblock", vars, NULL, 0);
    REQUIRE(pread(fd, c, sizeof c, 0) == (ssize_t)sizeof c, "stats file not written");
    close(fd);
    unlink(path);
    fprintf(stderr, "  stats file: calls %llu short %llu eintr %llu eagain %llu emfile %llu\n",
            (unsigned long long)c[0], (unsigned long long)c[1], (unsigned long long)c[2],
            (unsigned long long)c[3], (unsigned long long)c[4]);
    REQUIRE(rc == 0, "the nonblock check failed under the stats file");
    REQUIRE(c[0] > 1000 && c[1] > 0 && c[2] > 0 && c[3] > 0, "stats do not add up");
    return 0;
}

static int parent(const char *shim)
{
    static const char *const rate50[] = { "SK_FAULT_SEED=1234", "SK_FAULT_RATE=50", NULL };
    static const char *const rate100[] = { "SK_FAULT_SEED=99", "SK_FAULT_RATE=100", NULL };
    static const char *const noseed[] = { "SK_FAULT_RATE=100", NULL };
    static const char *const shortmin[] = { "SK_FAULT_SEED=5", "SK_FAULT_RATE=50",
                                            "SK_FAULT_SHORT_MIN=16", NULL };
    static const char *const nomatch[] = { "SK_FAULT_SEED=99", "SK_FAULT_RATE=100",
                                           "SK_FAULT_ONLY=/no/such/object", NULL };
    static const char *const match[] = { "SK_FAULT_SEED=99", "SK_FAULT_RATE=100",
                                         "SK_FAULT_ONLY=shim_selftest", NULL };
    static const char *const seed_a[] = { "SK_FAULT_SEED=7", "SK_FAULT_RATE=30", NULL };
    static const char *const seed_b[] = { "SK_FAULT_SEED=8", "SK_FAULT_RATE=30", NULL };
    static const char *const checks[] = { "stream", "nonblock", "dgram", "accept", "connect", "wait",
                                          "syscall" };
    char t1[512], t2[512], t3[512];
    int failed = 0;

    if (access(shim, R_OK) != 0)
        FAIL("%s: %s", shim, strerror(errno));
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        fprintf(stderr, "%s (seed 1234, 50%%):\n", checks[i]);
        if (run_check(shim, checks[i], rate50, NULL, 0) != 0) {
            fprintf(stderr, "FAILED %s\n", checks[i]);
            failed++;
        }
    }
    fprintf(stderr, "maxrun (seed 99, 100%%):\n");
    if (run_check(shim, "maxrun", rate100, NULL, 0) != 0) {
        fprintf(stderr, "FAILED maxrun\n");
        failed++;
    }
    fprintf(stderr, "shortmin (seed 5, 50%%, SK_FAULT_SHORT_MIN=16):\n");
    if (run_check(shim, "shortmin", shortmin, NULL, 0) != 0) {
        fprintf(stderr, "FAILED shortmin\n");
        failed++;
    }
    fprintf(stderr, "off (no seed, 100%%):\n");
    if (run_check(shim, "off", noseed, NULL, 0) != 0) {
        fprintf(stderr, "FAILED off\n");
        failed++;
    }
    fprintf(stderr, "off (SK_FAULT_ONLY matching nothing, 100%%):\n");
    if (run_check(shim, "off", nomatch, NULL, 0) != 0) {
        fprintf(stderr, "FAILED off with SK_FAULT_ONLY\n");
        failed++;
    }
    fprintf(stderr, "maxrun (SK_FAULT_ONLY matching this program, 100%%):\n");
    if (run_check(shim, "maxrun", match, NULL, 0) != 0) {
        fprintf(stderr, "FAILED maxrun with SK_FAULT_ONLY\n");
        failed++;
    }
    fprintf(stderr, "stats (seed 11, 40%%):\n");
    check_stats(shim);

    REQUIRE(run_check(shim, "trace", seed_a, t1, sizeof t1) == 0, "trace failed");
    REQUIRE(run_check(shim, "trace", seed_a, t2, sizeof t2) == 0, "trace failed");
    REQUIRE(run_check(shim, "trace", seed_b, t3, sizeof t3) == 0, "trace failed");
    fprintf(stderr, "trace seed 7: %.60s...\ntrace seed 8: %.60s...\n", t1, t3);
    REQUIRE(strlen(t1) == 301, "trace has %zu characters", strlen(t1));
    REQUIRE(strcmp(t1, t2) == 0, "the same seed gave two different traces");
    REQUIRE(strcmp(t1, t3) != 0, "two seeds gave the same trace");
    REQUIRE(strchr(t1, 'p') && strchr(t1, 's') && strchr(t1, 'i') && strchr(t1, 'a'),
            "the trace lacks a kind of outcome: %s", t1);
    if (failed)
        fprintf(stderr, "%d checks failed\n", failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } checks[] = {
        { "stream", check_stream }, { "nonblock", check_nonblock }, { "dgram", check_dgram },
        { "accept", check_accept }, { "connect", check_connect }, { "wait", check_wait }, { "shortmin", check_shortmin }, { "maxrun", check_maxrun },     { "off", check_off },
        { "syscall", check_syscall }, { "trace", trace },
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_SHIM\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(argv[1], checks[i].name) == 0)
            return checks[i].fn();
    return parent(argv[1]);
}
