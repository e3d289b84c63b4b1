/* SPDX-License-Identifier: MIT */
/*
 * bench/holdconns.c - opens and holds many idle TCP connections to an echo
 * server, then checks that every one of them still echoes.
 *
 *   holdconns COUNT PORT [DESTINATIONS]
 *
 * Connection i goes to 127.0.0.(1 + i % DESTINATIONS):PORT (DESTINATIONS
 * defaults to 16), so the 4-tuples stay distinct without exhausting one
 * destination's ephemeral ports; the server must listen on 0.0.0.0 or [::].
 * The steps are driven over stdin/stdout so the caller can look at the
 * server in between:
 *
 *   1. connect COUNT sockets (non-blocking, at most WINDOW handshakes in
 *      flight), then print `held N` (N = connections established)
 *   2. wait for a line on stdin, then send a distinct 16-byte message on
 *      every connection, read every reply, and print
 *      `echoed OK BAD` (OK = exact echoes, BAD = wrong, short or failed)
 *   3. wait for a line (or end of file) on stdin, close everything, exit
 *
 * Exit status: 0 when every connection was held and echoed correctly, 1
 * otherwise, 2 on a usage error.  One process holds everything, so it needs
 * a descriptor limit above COUNT (it raises its soft limit to the hard one).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 256
#define MSG_SIZE 16
#define STEP_TIMEOUT_S 60

typedef struct conn {
    int fd;
    int got;             /* reply bytes received so far */
    char reply[MSG_SIZE];
} conn;

static conn *conns;
static long count;
static int epfd;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The message connection i sends: its index, padded, always 16 bytes. */
static void message(long i, char out[MSG_SIZE])
{
    char text[32];

    snprintf(text, sizeof text, "conn%011ld\n", i % 100000000000L);
    memcpy(out, text, MSG_SIZE);
}

/* Starts a non-blocking connect for connection i; returns 0 or -errno. */
static int start_connect(long i, int port, int dests)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    sin.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % dests));
    conns[i].fd = fd;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 && errno != EINPROGRESS)
        return -errno;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

/* Connects every socket; returns how many connections were established. */
static long connect_all(int port, int dests)
{
    struct epoll_event evs[WINDOW];
    long next = 0, pending = 0, done = 0;
    double deadline = now() + STEP_TIMEOUT_S;

    while ((next < count || pending > 0) && now() < deadline) {
        while (next < count && pending < WINDOW) {
            int rc = start_connect(next, port, dests);

            if (rc < 0) {
                fprintf(stderr, "holdconns: connect %ld: %s\n", next, strerror(-rc));
                return done;
            }
            next++;
            pending++;
        }
        int n = epoll_wait(epfd, evs, WINDOW, 1000);
        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u64;
            int err = 0;
            socklen_t len = sizeof err;

            getsockopt(conns[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            pending--;
            if (err) {
                fprintf(stderr, "holdconns: connect %ld: %s\n", i, strerror(err));
                continue;
            }
            done++;
            /* Idle from now on: no events until the echo step. */
            struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)i};
            epoll_ctl(epfd, EPOLL_CTL_MOD, conns[i].fd, &ev);
        }
    }
    return done;
}

/* Reads what connection i has; returns 1 when its reply is complete. */
static int read_reply(long i)
{
    conn *c = &conns[i];
    ssize_t n = recv(c->fd, c->reply + c->got, MSG_SIZE - (size_t)c->got, 0);

    if (n <= 0)
        return n == 0 || errno != EAGAIN ? -1 : 0;
    c->got += (int)n;
    return c->got == MSG_SIZE;
}

/* Sends one message on every connection and checks every reply. */
static void echo_all(long *ok, long *bad)
{
    struct epoll_event evs[WINDOW];
    long waiting = 0;
    double deadline = now() + STEP_TIMEOUT_S;
    char msg[MSG_SIZE];

    *ok = *bad = 0;
    for (long i = 0; i < count; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};

        message(i, msg);
        if (send(conns[i].fd, msg, MSG_SIZE, MSG_NOSIGNAL) != MSG_SIZE ||
            epoll_ctl(epfd, EPOLL_CTL_MOD, conns[i].fd, &ev) < 0) {
            (*bad)++;
            continue;
        }
        waiting++;
    }
    while (waiting > 0 && now() < deadline) {
        int n = epoll_wait(epfd, evs, WINDOW, 1000);

        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u64;
            int rc = read_reply(i);

            if (rc == 0)
                continue;
            message(i, msg);
            if (rc > 0 && memcmp(msg, conns[i].reply, MSG_SIZE) == 0)
                (*ok)++;
            else
                (*bad)++;
            waiting--;
            epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i].fd, NULL);
        }
    }
    *bad += waiting; /* no reply within the step's time */
}

static void wait_line(void)
{
    char line[64];

    if (!fgets(line, sizeof line, stdin))
        return;
}

int main(int argc, char **argv)
{
    int port, dests;
    long held, ok, bad;

    if (argc < 3 || argc > 4 || (count = atol(argv[1])) <= 0 || (port = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: holdconns COUNT PORT [DESTINATIONS]\n");
        return 2;
    }
    dests = argc == 4 ? atoi(argv[3]) : 16;
    if (dests < 1 || dests > 254) {
        fprintf(stderr, "holdconns: DESTINATIONS must be 1..254\n");
        return 2;
    }
    raise_fd_limit();
    conns = calloc((size_t)count, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || epfd < 0) {
        fprintf(stderr, "holdconns: out of memory or descriptors\n");
        return 1;
    }
    for (long i = 0; i < count; i++)
        conns[i].fd = -1;

    held = connect_all(port, dests);
    printf("held %ld\n", held);
    fflush(stdout);
    wait_line();
    echo_all(&ok, &bad);
    printf("echoed %ld %ld\n", ok, bad);
    fflush(stdout);
    wait_line();
    for (long i = 0; i < count; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    return held == count && ok == count ? 0 : 1;
}
