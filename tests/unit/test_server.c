/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_server.c - the server framework on loopback: an echo and a producer
 * handler defined here, checked for data integrity with several workers and
 * clients, backpressure against a peer that never reads, the connection
 * limits, the idle timeout, graceful shutdown (from a thread and from a
 * signal handler), notify, UDP echo, descriptor exhaustion, the memory an
 * idle connection costs, and logging.
 */
#define _GNU_SOURCE
#include "sk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- handlers -------------------------------------------------------------- */

static size_t echo_data(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);

    return n > 0 ? (size_t)n : 0;
}

static atomic_int echo_closes;

static void echo_close(sk_conn *c)
{
    atomic_fetch_add(&echo_closes, 1);
}

static const sk_tcp_handler echo_handler = {
    .on_data = echo_data,
    .on_close = echo_close,
};

/* The byte at stream offset i of the producer and of the test clients. */
static unsigned char pattern(uint64_t i)
{
    return (unsigned char)((i * 7 + i / 251) & 0xff);
}

struct producer {
    uint64_t sent;
};

static uint64_t producer_total = 1 << 20;
static _Atomic uint64_t producer_accepted;

/* Writes the pattern in chunks until the buffer is full, 64 KiB have gone
 * out or the total is reached, then closes.  The bound matters: a reader
 * faster than the producer would otherwise keep this loop (and the worker)
 * busy forever; the server calls on_drain again after a bounded call. */
static void produce(sk_conn *c)
{
    struct producer *p = sk_conn_data(c);
    unsigned char chunk[4096];

    for (int k = 0; k < 16; k++) {
        if (p->sent >= producer_total) {
            sk_conn_close(c);
            return;
        }
        size_t n = sizeof(chunk);
        ssize_t w;

        if (n > producer_total - p->sent)
            n = (size_t)(producer_total - p->sent);
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(p->sent + i);
        w = sk_conn_write(c, chunk, n);
        if (w <= 0)
            return;
        p->sent += (uint64_t)w;
        atomic_fetch_add(&producer_accepted, (uint64_t)w);
        if ((size_t)w < n)
            return; /* full: on_drain follows */
    }
}

/* The last connection opened, for tests that act on it from the worker.
 * Atomic: with several workers, connections open on different threads. */
static sk_conn *_Atomic held_conn;

static void producer_open(sk_conn *c)
{
    atomic_store(&held_conn, c);
    produce(c);
}

static const sk_tcp_handler producer_handler = {
    .conn_size = sizeof(struct producer),
    .on_open = producer_open,
    .on_drain = produce,
};


/* A producer that writes one small chunk per call and never fills the
 * buffer on its own: it relies on on_drain being called again. */
static void produce_one(sk_conn *c)
{
    struct producer *p = sk_conn_data(c);
    unsigned char chunk[1000];
    size_t n = sizeof(chunk);
    ssize_t w;

    if (p->sent >= producer_total) {
        sk_conn_close(c);
        return;
    }
    if (n > producer_total - p->sent)
        n = (size_t)(producer_total - p->sent);
    for (size_t i = 0; i < n; i++)
        chunk[i] = pattern(p->sent + i);
    w = sk_conn_write(c, chunk, n);
    if (w > 0)
        p->sent += (uint64_t)w;
}

static const sk_tcp_handler trickle_handler = {
    .conn_size = sizeof(struct producer),
    .on_open = produce_one,
    .on_drain = produce_one,
};

static void udp_echo(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    static const char too_big[SK_SERVER_UDP_MAX + 1];

    /* Too big is refused without using up the one reply. */
    CHECK_ERR(sk_dgram_reply(d, too_big, sizeof(too_big)), SK_EMSGSIZE);
    CHECK_OK(sk_dgram_reply(d, data, len));
    CHECK_ERR(sk_dgram_reply(d, data, len), -EALREADY);
}

static const sk_udp_handler udp_echo_handler = { .on_datagram = udp_echo };

/* ---- running a server in a thread ---------------------------------------------- */

struct running {
    sk_server *srv;
    sk_addr tcp, udp;
    pthread_t thread;
    int rc;
};

static void *run_thread(void *arg)
{
    struct running *r = arg;

    r->rc = sk_server_run(r->srv);
    return NULL;
}

static void loopback(sk_addr *a)
{
    CHECK_OK(sk_addr_from_ip(a, "127.0.0.1", 0, AF_INET));
}

static void server_start(struct running *r, const sk_server_config *cfg,
                         const sk_tcp_handler *th, const sk_udp_handler *uh)
{
    sk_addr any;

    memset(r, 0, sizeof(*r));
    loopback(&any);
    CHECK_OK(sk_server_new(&r->srv, cfg));
    if (th != NULL)
        CHECK_OK(sk_server_add_tcp(r->srv, &any, 0, th, NULL, &r->tcp));
    if (uh != NULL)
        CHECK_OK(sk_server_add_udp(r->srv, &any, 0, uh, NULL, &r->udp));
    CHECK_EQ(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void server_stop(struct running *r)
{
    sk_server_shutdown(r->srv);
    CHECK_EQ(pthread_join(r->thread, NULL), 0);
    CHECK_OK(r->rc);
    sk_server_free(r->srv);
}

static sk_server_stats stats(struct running *r)
{
    sk_server_stats st = SK_SERVER_STATS_INIT;

    sk_server_stats_get(r->srv, &st);
    return st;
}

/* ---- clients ----------------------------------------------------------------------- */

/* A blocking TCP client with a 10 s receive timeout, optionally bound to
 * `source` (another loopback address). */
static int client_connect(const sk_addr *to, const char *source)
{
    struct timeval tv = { 10, 0 };
    int fd = socket(to->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    if (source != NULL) {
        sk_addr src;

        CHECK_OK(sk_addr_from_ip(&src, source, 0, AF_INET));
        CHECK_EQ(bind(fd, &src.u.sa, src.len), 0);
    }
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(connect(fd, &to->u.sa, to->len), 0);
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void recv_exact(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);

        CHECK_INT(n, >, 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Returns what recv returns once: > 0 bytes, 0 for EOF, -errno. */
static ssize_t recv_once(int fd, void *buf, size_t len)
{
    ssize_t n = recv(fd, buf, len, 0);

    return n < 0 ? -errno : n;
}

/* Checks that the server closed the connection: EOF (or a reset), within
 * the receive timeout. */
static void expect_closed(int fd)
{
    char buf[64];
    ssize_t n = recv_once(fd, buf, sizeof(buf));

    CHECK(n == 0 || n == -ECONNRESET);
}

static void echo_roundtrip(int fd, const char *msg)
{
    char buf[256];
    size_t len = strlen(msg);

    send_all(fd, msg, len);
    recv_exact(fd, buf, len);
    CHECK_MEM(buf, msg, len);
}

/*
 * Sends `total` pattern bytes and reads the echo at the same time
 * (non-blocking, under poll), checking every byte; then shuts down its
 * sending side and expects a clean end of stream.
 */
static void echo_stream(const sk_addr *to, uint64_t total, unsigned seed)
{
    int fd = client_connect(to, NULL);
    uint64_t sent = 0, got = 0;
    unsigned char buf[65536];
    bool shut = false;
    double t0 = sk_test_now();

    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    while (got < total) {
        struct pollfd p = { fd, POLLIN, 0 };

        CHECK(sk_test_now() - t0 < 60.0);
        if (sent < total)
            p.events |= POLLOUT;
        else if (!shut) {
            CHECK_EQ(shutdown(fd, SHUT_WR), 0);
            shut = true;
        }
        CHECK_INT(poll(&p, 1, 10000), >, 0);
        if (p.revents & POLLOUT) {
            size_t n = 1 + (seed = seed * 1103515245u + 12345u) % sizeof(buf);
            ssize_t w;

            if (n > total - sent)
                n = (size_t)(total - sent);
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(sent + i);
            w = send(fd, buf, n, MSG_NOSIGNAL);
            if (w > 0)
                sent += (uint64_t)w;
            else
                CHECK_EQ(errno, EAGAIN);
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);

            if (n < 0) {
                CHECK_EQ(errno, EAGAIN);
                continue;
            }
            CHECK_INT(n, >, 0);
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != pattern(got + (uint64_t)i))
                    sk_test_fail(__FILE__, __LINE__, "byte %llu differs",
                                 (unsigned long long)(got + (uint64_t)i));
            got += (uint64_t)n;
        }
    }
    if (!shut)
        CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_EQ(fcntl(fd, F_SETFL, 0), 0);
    CHECK_EQ(recv_once(fd, buf, 1), 0);
    close(fd);
}

/* Reads a producer's stream to the end, checking every byte; returns the
 * count. */
static uint64_t read_pattern_to_eof(int fd)
{
    unsigned char buf[65536];
    uint64_t got = 0;

    for (;;) {
        ssize_t n = recv_once(fd, buf, sizeof(buf));

        CHECK_INT(n, >=, 0);
        if (n == 0)
            return got;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(got + (uint64_t)i))
                sk_test_fail(__FILE__, __LINE__, "byte %llu differs",
                             (unsigned long long)(got + (uint64_t)i));
        got += (uint64_t)n;
    }
}

/* Sends the pattern from offset *sent on, without reading, until the whole
 * path (our buffers, the server's) is full: no progress for 0.5 s, or
 * cap_s seconds in all (the kernel may keep growing the server socket's
 * send buffer for a while).  Returns true when it stopped for lack of
 * progress. */
static bool send_pattern_until_stalled(int fd, uint64_t *sent, double cap_s)
{
    unsigned char buf[65536];
    double t0 = sk_test_now(), tlast = t0;

    while (sk_test_now() - tlast < 0.5 && sk_test_now() - t0 < cap_s) {
        ssize_t n;

        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = pattern(*sent + i);
        n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
        if (n > 0) {
            *sent += (uint64_t)n;
            tlast = sk_test_now();
        } else {
            CHECK_EQ(errno, EAGAIN);
            sk_test_sleep_ms(20);
        }
        CHECK(*sent < (64u << 20)); /* the server must push back long before */
    }
    return sk_test_now() - tlast >= 0.5;
}

/* ---- data integrity ------------------------------------------------------------------ */

struct stream_job {
    const sk_addr *to;
    uint64_t total;
    unsigned seed;
};

static void *stream_thread(void *arg)
{
    struct stream_job *j = arg;

    echo_stream(j->to, j->total, j->seed);
    return NULL;
}

static void scenario_echo_load(void)
{
    sk_server_config cfg = { .threads = 2, .conn_buffer = 8192 };
    struct running r;
    enum { CLIENTS = 6 };
    struct stream_job jobs[CLIENTS];
    pthread_t th[CLIENTS];
    sk_server_stats st = SK_SERVER_STATS_INIT;

    server_start(&r, &cfg, &echo_handler, NULL);
    for (int i = 0; i < CLIENTS; i++) {
        jobs[i] = (struct stream_job){ &r.tcp, 400000 + 77777u * (unsigned)i, 17u + (unsigned)i };
        CHECK_EQ(pthread_create(&th[i], NULL, stream_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    WAIT_FOR(stats(&r).active == 0, 5.0);
    st = stats(&r);
    CHECK_EQ(st.accepted, CLIENTS);
    CHECK_EQ(st.bytes_in, st.bytes_out);
    CHECK_EQ(st.bytes_in, CLIENTS * 400000ull + 77777ull * (CLIENTS * (CLIENTS - 1) / 2));
    WAIT_FOR(atomic_load(&echo_closes) == CLIENTS, 5.0);
    server_stop(&r);
}

SK_TEST(echo_integrity_under_load)
{
    scenario_echo_load();
}

SK_TEST(echo_integrity_under_load_poll)
{
    setenv("SK_LOOP_BACKEND", "poll", 1);
    scenario_echo_load();
}

SK_TEST(producer_stream_integrity)
{
    sk_server_config cfg = { .threads = 2 };
    struct running r;

    producer_total = 3 << 20;
    server_start(&r, &cfg, &producer_handler, NULL);
    for (int i = 0; i < 3; i++) {
        int fd = client_connect(&r.tcp, NULL);

        CHECK_EQ(read_pattern_to_eof(fd), producer_total);
        close(fd);
    }
    server_stop(&r);
}

/* on_drain keeps coming while one-chunk writes go straight out. */
SK_TEST(producer_one_chunk_per_drain)
{
    sk_server_config cfg = { .threads = 1 };
    struct running r;
    int fd;

    producer_total = 1 << 20;
    server_start(&r, &cfg, &trickle_handler, NULL);
    fd = client_connect(&r.tcp, NULL);
    CHECK_EQ(read_pattern_to_eof(fd), producer_total);
    close(fd);
    server_stop(&r);
}

/* ---- backpressure ------------------------------------------------------------------------ */

/* A client that sends without reading: the server stops reading (its input
 * count stops growing), keeps at most conn_buffer bytes of output, and when
 * the client finally reads, every byte comes back in order. */
SK_TEST(backpressure_pauses_reading)
{
    sk_server_config cfg = { .threads = 1, .conn_buffer = 16384 };
    struct running r;
    unsigned char buf[65536];
    uint64_t sent = 0, got = 0, in1, in2;
    int fd, rcv = 8192, snd = 8192;
    bool stalled;

    server_start(&r, &cfg, &echo_handler, NULL);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)), 0);
    CHECK_EQ(connect(fd, &r.tcp.u.sa, r.tcp.len), 0);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    stalled = send_pattern_until_stalled(fd, &sent, 3.0);
    printf("sent %llu bytes before the path filled; server read %llu, wrote %llu\n",
           (unsigned long long)sent, (unsigned long long)stats(&r).bytes_in,
           (unsigned long long)stats(&r).bytes_out);
    if (stalled) {
        /* At rest: the server reads nothing more. */
        in1 = stats(&r).bytes_in;
        sk_test_sleep_ms(300);
        in2 = stats(&r).bytes_in;
        CHECK_EQ(in1, in2);
    }
    CHECK_INT(stats(&r).read_pauses, >=, 1);
    /* What the server holds beyond the kernel buffers is bounded by its
     * output buffer plus one read of unconsumed input. */
    CHECK_INT(stats(&r).bytes_in - stats(&r).bytes_out, <=, 2 * 16384);
    /* Now read everything back while sending nothing more. */
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    CHECK_EQ(fcntl(fd, F_SETFL, 0), 0);
    {
        struct timeval tv = { 10, 0 };

        CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    }
    while (got < sent) {
        ssize_t n = recv_once(fd, buf, sizeof(buf));

        CHECK_INT(n, >, 0);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(got + (uint64_t)i))
                sk_test_fail(__FILE__, __LINE__, "byte %llu differs",
                             (unsigned long long)(got + (uint64_t)i));
        got += (uint64_t)n;
    }
    CHECK_EQ(recv_once(fd, buf, 1), 0);
    close(fd);
    server_stop(&r);
}

/* ---- limits ---------------------------------------------------------------------------------- */

SK_TEST(max_conns_refuses)
{
    sk_server_config cfg = { .threads = 2, .max_conns = 3 };
    struct running r;
    int fd[4];

    server_start(&r, &cfg, &echo_handler, NULL);
    for (int i = 0; i < 3; i++) {
        fd[i] = client_connect(&r.tcp, NULL);
        echo_roundtrip(fd[i], "hello");
    }
    fd[3] = client_connect(&r.tcp, NULL);
    expect_closed(fd[3]);
    close(fd[3]);
    WAIT_FOR(stats(&r).refused_limit == 1, 2.0);
    CHECK_EQ(stats(&r).active, 3);
    /* A slot frees up: the next one is admitted. */
    close(fd[0]);
    WAIT_FOR(stats(&r).active == 2, 2.0);
    fd[0] = client_connect(&r.tcp, NULL);
    echo_roundtrip(fd[0], "again");
    CHECK_EQ(stats(&r).accepted, 4);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    server_stop(&r);
}

SK_TEST(max_per_source_refuses)
{
    sk_server_config cfg = { .threads = 2, .max_per_source = 2 };
    struct running r;
    int a[3], b;

    server_start(&r, &cfg, &echo_handler, NULL);
    a[0] = client_connect(&r.tcp, "127.0.0.1");
    a[1] = client_connect(&r.tcp, "127.0.0.1");
    echo_roundtrip(a[0], "one");
    echo_roundtrip(a[1], "two");
    a[2] = client_connect(&r.tcp, "127.0.0.1");
    expect_closed(a[2]);
    /* Another source address is counted apart. */
    b = client_connect(&r.tcp, "127.0.0.2");
    echo_roundtrip(b, "other");
    CHECK_EQ(stats(&r).refused_limit, 1);
    close(a[0]);
    WAIT_FOR(stats(&r).active == 2, 2.0);
    close(a[2]);
    a[2] = client_connect(&r.tcp, "127.0.0.1");
    echo_roundtrip(a[2], "three");
    close(a[1]);
    close(a[2]);
    close(b);
    server_stop(&r);
}

/* ---- idle timeout ------------------------------------------------------------------------------ */

SK_TEST(idle_timeout_closes)
{
    sk_server_config cfg = { .threads = 1, .idle_timeout = 0.3 };
    struct running r;
    int idle, busy;
    double t0;

    server_start(&r, &cfg, &echo_handler, NULL);
    idle = client_connect(&r.tcp, NULL);
    busy = client_connect(&r.tcp, NULL);
    echo_roundtrip(idle, "x");
    t0 = sk_test_now();
    /* The busy one talks every 100 ms and stays open past the timeout. */
    for (int i = 0; i < 8; i++) {
        sk_test_sleep_ms(100);
        echo_roundtrip(busy, "ping");
    }
    CHECK_TIME(sk_test_now() - t0, 0.75, 5.0);
    {
        struct pollfd p = { idle, POLLIN, 0 };

        CHECK_EQ(poll(&p, 1, 2000), 1); /* closed (timing: see the next test) */
    }
    expect_closed(idle);
    CHECK_EQ(stats(&r).idle_closed, 1);
    echo_roundtrip(busy, "still here");
    close(idle);
    close(busy);
    server_stop(&r);
}

/* The idle close happens within +50 ms of the setting, never early.  Three
 * attempts for lateness, as a loaded machine's scheduler can be late too. */
SK_TEST(idle_timeout_accuracy)
{
    sk_server_config cfg = { .threads = 1, .idle_timeout = 0.25 };
    struct running r;
    double late = 1.0;

    server_start(&r, &cfg, &echo_handler, NULL);
    for (int i = 0; i < 3 && late > 0.05; i++) {
        int fd = client_connect(&r.tcp, NULL);
        double t0, dt;

        echo_roundtrip(fd, "x");
        t0 = sk_test_now();
        expect_closed(fd);
        dt = sk_test_now() - t0;
        printf("idle close after %.4f s\n", dt);
        /* The server's clock started a little before ours did. */
        CHECK(dt >= 0.24);
        if (dt - 0.25 < late)
            late = dt - 0.25;
        close(fd);
    }
    CHECK_TIME(late, -0.01, 0.05);
    server_stop(&r);
}

/* ---- memory per idle connection ---------------------------------------------------------------- */

SK_TEST(idle_connection_memory)
{
    sk_server_config cfg = { .threads = 1 };
    struct running r;
    struct rlimit rl;
    struct mallinfo2 before, after;
    enum { N = 500 };
    int fd[N];
    double per;

    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * N + 100)
        SK_SKIP("descriptor limit too low for this test");
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 4096 : rl.rlim_max;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    /* One arena, so that mallinfo2 sees the worker thread's allocations. */
    mallopt(M_ARENA_MAX, 1);
    server_start(&r, &cfg, &echo_handler, NULL);
    /* Warm up: the loop's tables and the worker's scratch buffer. */
    fd[0] = client_connect(&r.tcp, NULL);
    echo_roundtrip(fd[0], "warm");
    WAIT_FOR(stats(&r).active == 1, 2.0);
    before = mallinfo2();
    for (int i = 1; i < N; i++)
        fd[i] = client_connect(&r.tcp, NULL);
    WAIT_FOR(stats(&r).active == N, 10.0);
    echo_roundtrip(fd[N - 1], "last");
    after = mallinfo2();
    per = ((double)after.uordblks - (double)before.uordblks) / (N - 1);
    printf("user-space bytes per idle connection: %.0f\n", per);
    CHECK_INT((long long)per, <, 1024);
    for (int i = 0; i < N; i++)
        close(fd[i]);
    server_stop(&r);
}

/* ---- shutdown ---------------------------------------------------------------------------------- */

/* Run on the worker (sk_server_notify) once the path to the client is full:
 * whatever this writes stays in the server's own output buffer. */
static atomic_int pushed;

static void push_more(sk_server *srv, void *arg)
{
    sk_conn *c = atomic_load(&held_conn);
    struct producer *p = sk_conn_data(c);
    unsigned char chunk[32768];

    /* The kernel may still take a little; write until the buffer is full. */
    for (int k = 0; k < 1000; k++) {
        ssize_t w;

        for (size_t i = 0; i < sizeof(chunk); i++)
            chunk[i] = pattern(p->sent + i);
        w = sk_conn_write(c, chunk, sizeof(chunk));
        if (w > 0) {
            p->sent += (uint64_t)w;
            atomic_fetch_add(&producer_accepted, (uint64_t)w);
        }
        if (w < (ssize_t)sizeof(chunk))
            break;
    }
    atomic_store(&pushed, 1);
}

/* Waits until the server's output to its one client stops moving. */
static void wait_path_full(struct running *r)
{
    double t0 = sk_test_now();
    uint64_t last = 0, now = 1;

    while (now != last && sk_test_now() - t0 < 10.0) {
        last = now;
        sk_test_sleep_ms(200);
        now = stats(r).bytes_out;
    }
    CHECK_EQ(now, last);
}

/* Fills the path to the client, then has the server queue more than the
 * kernel takes, and checks that it is queued in user space. */
static void fill_server_output(struct running *r)
{
    wait_path_full(r);
    atomic_store(&pushed, 0);
    sk_server_notify(r->srv, push_more, NULL);
    WAIT_FOR(atomic_load(&pushed) == 1, 5.0);
    CHECK_INT(atomic_load(&producer_accepted) - stats(r).bytes_out, >, 0);
}

/* Output pending at shutdown (in the server's buffer and in the kernel's)
 * is delivered in full, then a clean end of stream; sk_server_run returns 0. */
SK_TEST(shutdown_drains_pending_output)
{
    sk_server_config cfg = { .threads = 1, .grace = 10.0 };
    struct running r;
    uint64_t got;
    int fd;

    producer_total = 64ull << 20; /* far more than fits anywhere */
    atomic_store(&producer_accepted, 0);
    server_start(&r, &cfg, &producer_handler, NULL);
    fd = client_connect(&r.tcp, NULL);
    fill_server_output(&r);
    sk_server_shutdown(r.srv);
    sk_test_sleep_ms(100);
    got = read_pattern_to_eof(fd);
    CHECK_EQ(got, atomic_load(&producer_accepted));
    CHECK(got < producer_total);
    close(fd);
    CHECK_EQ(pthread_join(r.thread, NULL), 0);
    CHECK_OK(r.rc);
    CHECK_EQ(stats(&r).bytes_out, got);
    sk_server_free(r.srv);
}

/* An echo client that sent until flow control stopped it, without reading:
 * at shutdown the server holds output it could not send and input it read
 * but could not echo yet.  Both are part of the response in flight: once the
 * client reads, it gets the echo of every byte the server had read. */
SK_TEST(shutdown_echoes_input_already_read)
{
    sk_server_config cfg = { .threads = 1, .conn_buffer = 16384, .grace = 10.0 };
    struct running r;
    uint64_t sent = 0, got;
    int fd;

    server_start(&r, &cfg, &echo_handler, NULL);
    fd = client_connect(&r.tcp, NULL);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    send_pattern_until_stalled(fd, &sent, 5.0);
    CHECK_INT(stats(&r).read_pauses, >=, 1);
    sk_server_shutdown(r.srv);
    sk_test_sleep_ms(100);
    CHECK_EQ(fcntl(fd, F_SETFL, 0), 0);
    got = read_pattern_to_eof(fd);
    close(fd);
    CHECK_EQ(pthread_join(r.thread, NULL), 0);
    CHECK_OK(r.rc);
    printf("sent %llu, the server read %llu and echoed %llu\n", (unsigned long long)sent,
           (unsigned long long)stats(&r).bytes_in, (unsigned long long)got);
    CHECK_EQ(got, stats(&r).bytes_in);
    CHECK_EQ(got, stats(&r).bytes_out);
    CHECK(got <= sent);
    sk_server_free(r.srv);
}

/* A peer that never reads cannot hold shutdown beyond the grace period. */
SK_TEST(shutdown_grace_bounds_stuck_peer)
{
    sk_server_config cfg = { .threads = 1, .grace = 0.3 };
    struct running r;
    double t0;
    int fd;

    producer_total = 64ull << 20;
    atomic_store(&producer_accepted, 0);
    server_start(&r, &cfg, &producer_handler, NULL);
    fd = client_connect(&r.tcp, NULL);
    fill_server_output(&r);
    t0 = sk_test_now();
    sk_server_shutdown(r.srv);
    CHECK_EQ(pthread_join(r.thread, NULL), 0);
    CHECK_TIME(sk_test_now() - t0, 0.29, 3.0);
    CHECK_OK(r.rc);
    sk_server_free(r.srv);
    close(fd);
}

static sk_server *signal_srv;

static void on_term(int sig)
{
    sk_server_shutdown(signal_srv);
}

static void *kill_later(void *arg)
{
    sk_test_sleep_ms(100);
    kill(getpid(), SIGTERM);
    return NULL;
}

SK_TEST(shutdown_from_signal_handler)
{
    sk_server_config cfg = { .threads = 2 };
    struct sigaction sa = { 0 };
    sk_addr any, bound;
    pthread_t th;
    int fd;
    double t0 = sk_test_now();

    loopback(&any);
    CHECK_OK(sk_server_new(&signal_srv, &cfg));
    CHECK_OK(sk_server_add_tcp(signal_srv, &any, 0, &echo_handler, NULL, &bound));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGTERM, &sa, NULL));
    CHECK_EQ(pthread_create(&th, NULL, kill_later, NULL), 0);
    CHECK_OK(sk_server_run(signal_srv)); /* in this thread */
    CHECK_TIME(sk_test_now() - t0, 0.09, 3.0);
    pthread_join(th, NULL);
    /* The listeners are closed. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(fd, &bound.u.sa, bound.len) < 0);
    close(fd);
    sk_server_free(signal_srv);
}

SK_TEST(shutdown_before_run)
{
    sk_server *srv;
    sk_addr any;
    double t0 = sk_test_now();

    loopback(&any);
    CHECK_OK(sk_server_new(&srv, NULL));
    CHECK_OK(sk_server_add_tcp(srv, &any, 0, &echo_handler, NULL, NULL));
    sk_server_shutdown(srv);
    sk_server_shutdown(srv);
    CHECK_OK(sk_server_run(srv));
    CHECK_TIME(sk_test_now() - t0, 0.0, 2.0);
    CHECK_ERR(sk_server_run(srv), -EBUSY);
    CHECK_ERR(sk_server_add_tcp(srv, &any, 0, &echo_handler, NULL, NULL), -EBUSY);
    sk_server_free(srv);
}

/* ---- notify -------------------------------------------------------------------------------------- */

static atomic_int notified;
static pthread_t notify_main;
static atomic_int notified_off_main;

static void notify_cb(sk_server *srv, void *arg)
{
    atomic_fetch_add(&notified, *(int *)arg);
    if (!pthread_equal(pthread_self(), notify_main))
        atomic_fetch_add(&notified_off_main, 1);
}

static int one = 1, hundred = 100;

static void on_hup(int sig)
{
    sk_server_notify(signal_srv, notify_cb, &hundred);
}

SK_TEST(notify_runs_on_worker)
{
    sk_server_config cfg = { .threads = 2 };
    struct sigaction sa = { 0 };
    struct running r;

    notify_main = pthread_self();
    server_start(&r, &cfg, &echo_handler, NULL);
    signal_srv = r.srv;
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGHUP, &sa, NULL));
    sk_server_notify(r.srv, notify_cb, &one);
    WAIT_FOR(atomic_load(&notified) == 1, 2.0);
    kill(getpid(), SIGHUP);
    WAIT_FOR(atomic_load(&notified) == 101, 2.0);
    for (int i = 0; i < 5; i++)
        sk_server_notify(r.srv, notify_cb, &one);
    WAIT_FOR(atomic_load(&notified) == 106, 2.0);
    CHECK_EQ(atomic_load(&notified_off_main), 7);
    server_stop(&r);
}

SK_TEST(notify_reports_full_queue)
{
    sk_server_config cfg = { .threads = 1 };
    sk_server *srv;

    CHECK_OK(sk_server_new(&srv, &cfg));
    /* Before sk_server_run nothing runs the requests, so they pile up. */
    for (int i = 0; i < SK_SERVER_NOTIFY_SLOTS; i++)
        CHECK_OK(sk_server_notify(srv, notify_cb, &one));
    CHECK_ERR(sk_server_notify(srv, notify_cb, &one), -EAGAIN);
    CHECK_ERR(sk_server_notify(srv, notify_cb, &one), -EAGAIN);
    sk_server_free(srv);
    CHECK_EQ(atomic_load(&notified), 0);
}

/* A caller built against a newer sockit.h: its config is larger.  Unknown
 * fields left zero are accepted; a set one is refused, not ignored. */
SK_TEST(config_from_newer_header)
{
    struct {
        sk_server_config known;
        uint64_t future_field;
    } newer = { .known = { .size = sizeof(newer), .threads = 1 } };
    sk_server *srv;

    CHECK_OK(sk_server_new(&srv, &newer.known));
    sk_server_free(srv);
    newer.future_field = 1;
    CHECK_ERR(sk_server_new(&srv, &newer.known), -E2BIG);
    newer.known.size = 2; /* smaller than the size field itself */
    CHECK_ERR(sk_server_new(&srv, &newer.known), -EINVAL);
}

/* A caller built against an older sockit.h: its stats struct is shorter,
 * and the library must not write past it; a newer one gets zeros for the
 * fields this library lacks. */
SK_TEST(stats_sized_by_caller)
{
    sk_server_config cfg = { .threads = 1 };
    struct {
        sk_server_stats st;
        uint64_t future_field;
        uint64_t guard;
    } out;
    sk_server *srv;

    CHECK_OK(sk_server_new(&srv, &cfg));
    memset(&out, 0xab, sizeof(out));
    out.st.size = offsetof(sk_server_stats, refused_limit);
    sk_server_stats_get(srv, &out.st);
    CHECK_EQ(out.st.accepted, 0);
    CHECK_EQ(out.st.refused_limit, UINT64_C(0xabababababababab));
    memset(&out, 0xab, sizeof(out));
    out.st.size = sizeof(out.st) + sizeof(out.future_field);
    sk_server_stats_get(srv, &out.st);
    CHECK_EQ(out.st.read_pauses, 0);
    CHECK_EQ(out.future_field, 0);
    CHECK_EQ(out.guard, UINT64_C(0xabababababababab));
    sk_server_free(srv);
}

/* The struct is the table: one uint64_t per row of SK_SERVER_STATS_MAP, in
 * its order.  A size of 0 is the 0.2 layout, which ends at
 * datagrams_refused: the rows added since are left alone. */
#define COUNT_ROW(field, kind, proto, metric, label, help) +1
#define ROW_OFFSET(field, kind, proto, metric, label, help) offsetof(sk_server_stats, field),

SK_TEST(stats_struct_is_the_table)
{
    static const size_t offsets[] = {SK_SERVER_STATS_MAP(ROW_OFFSET)};
    sk_server_config cfg = { .threads = 1 };
    sk_server_stats st;
    sk_server *srv;
    size_t rows = 0 SK_SERVER_STATS_MAP(COUNT_ROW);

    CHECK_EQ(sizeof(sk_server_stats), sizeof(size_t) + rows * sizeof(uint64_t));
    for (size_t i = 0; i < rows; i++)
        CHECK_EQ(offsets[i], sizeof(size_t) + i * sizeof(uint64_t));
    CHECK_OK(sk_server_new(&srv, &cfg));
    memset(&st, 0xab, sizeof(st));
    st.size = 0;
    sk_server_stats_get(srv, &st);
    CHECK_EQ(st.size, 0);
    CHECK_EQ(st.accepted, 0);
    CHECK_EQ(st.datagrams_refused, 0);
    CHECK_EQ(st.refused_proxy_header, UINT64_C(0xabababababababab));
    st.size = sizeof(st);
    sk_server_stats_get(srv, &st);
    CHECK_EQ(st.refused_proxy_header, 0);
    sk_server_free(srv);
}

/* ---- UDP ------------------------------------------------------------------------------------------- */

static void scenario_udp_echo(void)
{
    sk_server_config cfg = { .threads = 2 };
    struct running r;
    enum { SOURCES = 4, EACH = 50 };
    int fd[SOURCES];
    struct timeval tv = { 5, 0 };

    server_start(&r, &cfg, NULL, &udp_echo_handler);
    for (int s = 0; s < SOURCES; s++) {
        fd[s] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK(fd[s] >= 0);
        CHECK_EQ(setsockopt(fd[s], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    }
    /* Bursts of datagrams from each source, then the replies, in order
     * per source (loopback does not reorder). */
    for (int s = 0; s < SOURCES; s++) {
        for (int i = 0; i < EACH; i++) {
            char msg[64];
            int len = snprintf(msg, sizeof(msg), "source %d datagram %d", s, i);

            CHECK_EQ(sendto(fd[s], msg, (size_t)len, 0, &r.udp.u.sa, r.udp.len), len);
        }
    }
    for (int s = 0; s < SOURCES; s++) {
        for (int i = 0; i < EACH; i++) {
            char msg[64], buf[128];
            int len = snprintf(msg, sizeof(msg), "source %d datagram %d", s, i);
            ssize_t n = recv(fd[s], buf, sizeof(buf), 0);

            CHECK_EQ(n, len);
            CHECK_MEM(buf, msg, (size_t)len);
        }
    }
    /* An empty datagram gets an empty reply; a large one comes back whole. */
    {
        static unsigned char big[60000], back[65536];

        CHECK_EQ(sendto(fd[0], "", 0, 0, &r.udp.u.sa, r.udp.len), 0);
        CHECK_EQ(recv(fd[0], back, sizeof(back), 0), 0);
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = pattern(i);
        CHECK_EQ(sendto(fd[0], big, sizeof(big), 0, &r.udp.u.sa, r.udp.len),
                 (ssize_t)sizeof(big));
        CHECK_EQ(recv(fd[0], back, sizeof(back), 0), (ssize_t)sizeof(big));
        CHECK_MEM(back, big, sizeof(big));
    }
    /* The worker counts a reply after sendmmsg returns, which may be just
     * after the client has read it. */
    WAIT_FOR(stats(&r).datagrams_out == SOURCES * EACH + 2, 2.0);
    CHECK_EQ(stats(&r).datagrams_in, SOURCES * EACH + 2);
    CHECK_EQ(stats(&r).datagrams_dropped, 0);
    for (int s = 0; s < SOURCES; s++)
        close(fd[s]);
    server_stop(&r);
}

SK_TEST(udp_echo_several_sources)
{
    scenario_udp_echo();
}

SK_TEST(udp_echo_several_sources_poll)
{
    setenv("SK_LOOP_BACKEND", "poll", 1);
    scenario_udp_echo();
}

/* ---- descriptor exhaustion ------------------------------------------------------------------------ */

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

SK_TEST(emfile_does_not_spin_and_recovers)
{
    sk_server_config cfg = { .threads = 1 };
    struct running r;
    struct rlimit rl;
    int fillers[256], nfill = 0, ok, victim;
    double cpu0, cpu1;
    char buf[8];

    server_start(&r, &cfg, &echo_handler, NULL);
    ok = client_connect(&r.tcp, NULL);
    echo_roundtrip(ok, "before");
    /* Leave a little headroom above the descriptors in use, then fill it. */
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    {
        int probe = dup(0);

        CHECK(probe >= 0);
        close(probe);
        rl.rlim_cur = (rlim_t)probe + 64;
    }
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    for (;;) {
        int d = dup(0);

        if (d < 0)
            break;
        CHECK(nfill < 256);
        fillers[nfill++] = d;
    }
    /* One slot for the client socket; none left for the server's accept. */
    close(fillers[--nfill]);
    victim = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(victim >= 0);
    {
        struct timeval tv = { 10, 0 };

        CHECK_EQ(setsockopt(victim, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    }
    CHECK_EQ(connect(victim, &r.tcp.u.sa, r.tcp.len), 0); /* queued in the backlog */
    WAIT_FOR(stats(&r).accept_errors >= 1, 2.0);
    cpu0 = cpu_seconds();
    sk_test_sleep_ms(500);
    cpu1 = cpu_seconds();
    printf("cpu while out of descriptors: %.3f s over 0.5 s, accept errors %llu\n",
           cpu1 - cpu0, (unsigned long long)stats(&r).accept_errors);
    CHECK(cpu1 - cpu0 < 0.1);
    CHECK_INT(stats(&r).accept_errors, <=, 20); /* ~5 retries, not a spin */
    /* Established connections keep working meanwhile. */
    echo_roundtrip(ok, "during");
    /* Free descriptors: the queued connection is accepted and served. */
    while (nfill > 0)
        close(fillers[--nfill]);
    send_all(victim, "after", 5);
    recv_exact(victim, buf, 5);
    CHECK_MEM(buf, "after", 5);
    CHECK_EQ(stats(&r).accepted, 2);
    close(victim);
    close(ok);
    server_stop(&r);
}

/* ---- closing and logging ---------------------------------------------------------------------------- */

static void greet_open(sk_conn *c)
{
    static const char msg[] = "Thank you for connecting\r\n";

    CHECK_EQ(sk_conn_write(c, msg, sizeof(msg) - 1), (ssize_t)(sizeof(msg) - 1));
    sk_conn_close(c);
    CHECK_ERR(sk_conn_write(c, "x", 1), -EPIPE);
    CHECK_EQ(sk_conn_write_space(c), 0);
}

static const sk_tcp_handler greet_handler = { .on_open = greet_open };

/* A peer that sent bytes the server never reads still gets the whole
 * response and a clean end of stream (no reset). */
SK_TEST(close_with_unread_input_delivers)
{
    sk_server_config cfg = { .threads = 1 };
    struct running r;
    static const char msg[] = "Thank you for connecting\r\n";
    char buf[64], junk[20000];
    int fd;

    memset(junk, 'j', sizeof(junk));
    server_start(&r, &cfg, &greet_handler, NULL);
    for (int i = 0; i < 5; i++) {
        fd = client_connect(&r.tcp, NULL);
        send_all(fd, junk, sizeof(junk));
        recv_exact(fd, buf, sizeof(msg) - 1);
        CHECK_MEM(buf, msg, sizeof(msg) - 1);
        CHECK_EQ(recv_once(fd, buf, sizeof(buf)), 0);
        close(fd);
    }
    server_stop(&r);
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void capture_log(void *arg, const char *line)
{
    pthread_mutex_lock(&log_lock);
    if (strlen(log_text) + strlen(line) + 2 < sizeof(log_text)) {
        strcat(log_text, line);
        strcat(log_text, "\n");
    }
    pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *needle)
{
    bool found;

    pthread_mutex_lock(&log_lock);
    found = strstr(log_text, needle) != NULL;
    pthread_mutex_unlock(&log_lock);
    return found;
}

SK_TEST(verbose_log_lines)
{
    sk_server_config cfg = { .threads = 1, .verbose = true, .log = capture_log,
                             .max_conns = 1 };
    struct running r;
    char want[128];
    sk_addr local;
    int fd, fd2;

    server_start(&r, &cfg, &echo_handler, NULL);
    fd = client_connect(&r.tcp, NULL);
    local.len = sizeof(local.u);
    CHECK_EQ(getsockname(fd, &local.u.sa, &local.len), 0);
    echo_roundtrip(fd, "12345");
    fd2 = client_connect(&r.tcp, NULL);
    expect_closed(fd2);
    close(fd2);
    CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(log_has("reason=eof"), 2.0);
    snprintf(want, sizeof(want), "event=open peer=127.0.0.1:%d local=127.0.0.1:%d",
             sk_addr_port(&local), sk_addr_port(&r.tcp));
    CHECK(log_has(want));
    snprintf(want, sizeof(want),
             "event=close peer=127.0.0.1:%d local=127.0.0.1:%d bytes_in=5 bytes_out=5 reason=eof",
             sk_addr_port(&local), sk_addr_port(&r.tcp));
    CHECK(log_has(want));
    CHECK(log_has("event=refuse peer=127.0.0.1:"));
    server_stop(&r);
}

/* ---- configuration and binding ------------------------------------------------------------------------ */

SK_TEST(config_and_bind_errors)
{
    sk_server_config bad = { .threads = -1 };
    sk_server_config two = { .threads = 2 };
    sk_server *srv;
    sk_addr any, bound, bound2;
    int holder;

    CHECK_ERR(sk_server_new(&srv, &bad), -EINVAL);
    bad = (sk_server_config){ .idle_timeout = -1.0 };
    CHECK_ERR(sk_server_new(&srv, &bad), -EINVAL);
    bad = (sk_server_config){ .grace = 0.0 / 0.0 };
    CHECK_ERR(sk_server_new(&srv, &bad), -EINVAL);
    CHECK_OK(sk_server_new(&srv, &two));
    loopback(&any);
    CHECK_ERR(sk_server_add_tcp(srv, &any, SK_SERVER_REUSEPORT, &echo_handler, NULL, NULL),
              -EINVAL);
    CHECK_OK(sk_server_add_tcp(srv, &any, 0, &echo_handler, NULL, &bound));
    CHECK_INT(sk_addr_port(&bound), >, 0);
    /* The same port again: taken, even though the workers use SO_REUSEPORT. */
    CHECK_ERR(sk_server_add_tcp(srv, &bound, 0, &echo_handler, NULL, NULL), -EADDRINUSE);
    /* A port a plain socket holds. */
    holder = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(bind(holder, &any.u.sa, any.len), 0);
    bound2.len = sizeof(bound2.u);
    CHECK_EQ(getsockname(holder, &bound2.u.sa, &bound2.len), 0);
    CHECK_ERR(sk_server_add_udp(srv, &bound2, 0, &udp_echo_handler, NULL, NULL), -EADDRINUSE);
    close(holder);
    sk_server_free(srv);
    sk_server_free(NULL);
}

/* IPv6 with dual stack: an IPv4 client is served and appears mapped.
 * The worker publishes the text with a release store of mapped_ready and
 * the test reads it after an acquire load, so the ordering does not rest on
 * the echo round trip (which a sanitizer may not see as synchronisation). */
static char mapped_peer[SK_ADDRSTRLEN];
static atomic_int mapped_ready;

static void peer_open(sk_conn *c)
{
    sk_addr_format(sk_conn_peer(c), mapped_peer, sizeof(mapped_peer));
    atomic_store_explicit(&mapped_ready, 1, memory_order_release);
}

static const sk_tcp_handler peer_handler = { .on_open = peer_open, .on_data = echo_data };

SK_TEST(dualstack_ipv4_client)
{
    sk_server_config cfg = { .threads = 2 };
    sk_server *srv;
    sk_addr any6, bound, to4;
    struct running r;
    int fd;

    if (!sk_has_dualstack_ipv6())
        SK_SKIP("no dual-stack IPv6");
    CHECK_OK(sk_addr_from_ip(&any6, "", 0, AF_INET6));
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_tcp(srv, &any6, SK_SERVER_DUALSTACK, &peer_handler, NULL, &bound));
    memset(&r, 0, sizeof(r));
    r.srv = srv;
    CHECK_EQ(pthread_create(&r.thread, NULL, run_thread, &r), 0);
    CHECK_OK(sk_addr_from_ip(&to4, "127.0.0.1", sk_addr_port(&bound), AF_INET));
    fd = client_connect(&to4, NULL);
    echo_roundtrip(fd, "v4 over v6");
    /* on_open ran before the echo, so the text is there. */
    CHECK(atomic_load_explicit(&mapped_ready, memory_order_acquire) == 1);
    CHECK(strncmp(mapped_peer, "[::ffff:127.0.0.1]:", 19) == 0);
    close(fd);
    server_stop(&r);
}

/* ---- accessors, timers on the connection's loop, abort ---------------------------------------------- */

static int marker;
static atomic_int accessor_ok;

struct delayed {
    sk_timer *timer;
};

/* Fires on the connection's loop, outside its callbacks: write, then reset. */
static void delayed_abort(sk_timer *t, void *arg)
{
    sk_conn *c = arg;
    struct delayed *d = sk_conn_data(c);

    CHECK_EQ(sk_conn_write(c, "bye", 3), 3);
    sk_conn_abort(c);
    sk_conn_abort(c); /* idempotent */
    CHECK_ERR(sk_conn_write(c, "x", 1), -EPIPE);
    sk_timer_stop(t);
    d->timer = NULL;
}

static void accessor_open(sk_conn *c)
{
    struct delayed *d = sk_conn_data(c);
    const sk_addr *local = sk_conn_local(c);

    if (sk_conn_arg(c) == &marker && sk_addr_family(local) == AF_INET &&
        sk_addr_equal(sk_conn_peer(c), sk_conn_peer(c)))
        atomic_fetch_add(&accessor_ok, 1);
    CHECK_OK(sk_timer_start(sk_conn_loop(c), &d->timer, 0.05, 0, delayed_abort, c));
}

static void accessor_close(sk_conn *c)
{
    struct delayed *d = sk_conn_data(c);

    sk_timer_stop(d->timer);
    atomic_fetch_add(&echo_closes, 1);
}

static const sk_tcp_handler accessor_handler = {
    .conn_size = sizeof(struct delayed),
    .on_open = accessor_open,
    .on_close = accessor_close,
};

static void accessor_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    if (sk_dgram_arg(d) == &marker && sk_dgram_loop(d) != NULL && sk_loop_now_ms(sk_dgram_loop(d)) > 0)
        CHECK_OK(sk_dgram_reply(d, "ok", 2));
    CHECK_ERR(sk_dgram_reply(d, "again", 5), -EALREADY);
}

static const sk_udp_handler accessor_udp = { .on_datagram = accessor_datagram };

SK_TEST(accessors_timer_and_abort)
{
    sk_server_config cfg = { .threads = 2 };
    sk_server *srv;
    sk_addr any, tcp, udp;
    struct running r;
    char buf[16];
    ssize_t n;
    int fd, ufd;
    struct timeval tv = { 5, 0 };

    loopback(&any);
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_tcp(srv, &any, 0, &accessor_handler, &marker, &tcp));
    CHECK_OK(sk_server_add_udp(srv, &any, 0, &accessor_udp, &marker, &udp));
    memset(&r, 0, sizeof(r));
    r.srv = srv;
    CHECK_EQ(pthread_create(&r.thread, NULL, run_thread, &r), 0);
    atomic_store(&echo_closes, 0);
    fd = client_connect(&tcp, NULL);
    /* "bye" may arrive before the reset; the reset always comes. */
    n = recv_once(fd, buf, sizeof(buf));
    if (n > 0) {
        CHECK_EQ(n, 3);
        CHECK_MEM(buf, "bye", 3);
        n = recv_once(fd, buf, sizeof(buf));
    }
    CHECK_EQ(n, -ECONNRESET);
    close(fd);
    CHECK_EQ(atomic_load(&accessor_ok), 1);
    WAIT_FOR(atomic_load(&echo_closes) == 1, 2.0);
    ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(setsockopt(ufd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(sendto(ufd, "hi", 2, 0, &udp.u.sa, udp.len), 2);
    CHECK_EQ(recv(ufd, buf, sizeof(buf), 0), 2);
    CHECK_MEM(buf, "ok", 2);
    close(ufd);
    server_stop(&r);
}

/* Replies with what sk_dgram_rxtime says: its return code and the time.
 * A datagram "slow" first holds the loop for 300 ms. */
static void rxtime_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    struct timespec ts = {0, 0}, nap = {0, 300000000};
    int64_t out[3];

    (void)from;
    if (len == 4 && memcmp(data, "slow", 4) == 0)
        nanosleep(&nap, NULL);
    out[0] = sk_dgram_rxtime(d, &ts);
    out[1] = ts.tv_sec;
    out[2] = ts.tv_nsec;
    CHECK_OK(sk_dgram_reply(d, out, sizeof(out)));
}

static const sk_udp_handler rxtime_udp = { .on_datagram = rxtime_datagram };

static double realtime_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends one datagram to `to`; returns the reply's three numbers and the
 * wall clock just before the send and just after the reply. */
static void rxtime_ask(const sk_addr *to, int64_t out[3], double *before, double *after)
{
    struct timeval tv = { 0, 500000 };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ssize_t n = -1;

    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    /* UDP (and the fault shim) may lose a reply: ask again, up to 10 times. */
    for (int i = 0; i < 10 && n != 3 * (ssize_t)sizeof(int64_t); i++) {
        *before = realtime_now();
        CHECK_EQ(sendto(fd, "t", 1, 0, &to->u.sa, to->len), 1);
        n = recv(fd, out, 3 * sizeof(int64_t), 0);
        *after = realtime_now();
    }
    CHECK_EQ(n, 3 * sizeof(int64_t));
    close(fd);
}

SK_TEST(udp_rxtime_opt_in)
{
    sk_server_config cfg = { .threads = 2 };
    sk_server *srv;
    sk_addr any, with, without;
    struct running r;
    int64_t got[3];
    double before, after, rx;

    loopback(&any);
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_ERR(sk_server_add_tcp(srv, &any, SK_SERVER_RXTIME, &accessor_handler, NULL, NULL),
              -EINVAL);
    CHECK_OK(sk_server_add_udp(srv, &any, SK_SERVER_RXTIME, &rxtime_udp, NULL, &with));
    CHECK_OK(sk_server_add_udp(srv, &any, 0, &rxtime_udp, NULL, &without));
    memset(&r, 0, sizeof(r));
    r.srv = srv;
    CHECK_EQ(pthread_create(&r.thread, NULL, run_thread, &r), 0);

    for (int i = 0; i < 3; i++) {
        rxtime_ask(&with, got, &before, &after);
        CHECK_EQ(got[0], 0);
        rx = (double)got[1] + (double)got[2] / 1e9;
        CHECK_INT(got[2], >=, 0);
        CHECK_INT(got[2], <, 1000000000);
        /* Between our send and the reply (the kernel stamps the arrival);
         * 1 ms of slack for the two clocks' rounding. */
        CHECK_TIME(rx - before, -1e-3, after - before + 1e-3);
    }
    rxtime_ask(&without, got, &before, &after);
    CHECK_EQ(got[0], -ENOENT);
    server_stop(&r);
}

/* Replies with what sk_dgram_ttl and sk_dgram_tos say. */
static void rxttl_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    int out[2] = {sk_dgram_ttl(d), sk_dgram_tos(d)};

    (void)data, (void)len, (void)from;
    CHECK_OK(sk_dgram_reply(d, out, sizeof(out)));
}

static const sk_udp_handler rxttl_udp = { .on_datagram = rxttl_datagram };

/* Sends one datagram with TTL/hop limit `ttl` and TOS/traffic class `tos`
 * to `to` and returns the two numbers of the reply. */
static void rxttl_ask(const sk_addr *to, int ttl, int tos, int out[2])
{
    struct timeval tv = { 0, 500000 };
    bool v6 = to->u.sa.sa_family == AF_INET6;
    int fd = socket(to->u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ssize_t n = -1;

    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
                        v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl, sizeof(ttl)), 0);
    CHECK_EQ(setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TCLASS : IP_TOS,
                        &tos, sizeof(tos)), 0);
    for (int i = 0; i < 10 && n != 2 * (ssize_t)sizeof(int); i++) {
        CHECK_EQ(sendto(fd, "t", 1, 0, &to->u.sa, to->len), 1);
        n = recv(fd, out, 2 * sizeof(int), 0);
    }
    CHECK_EQ(n, 2 * sizeof(int));
    close(fd);
}

/* Both families through one dual-stack socket, IPv4 alone, and a service
 * without the flag. */
SK_TEST(udp_rxttl_opt_in)
{
    sk_server_config cfg = { .threads = 2 };
    sk_server *srv;
    sk_addr any, any6, with, with6, without, to;
    struct running r;
    int got[2];
    bool v6 = sk_has_dualstack_ipv6();

    loopback(&any);
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_ERR(sk_server_add_tcp(srv, &any, SK_SERVER_RXTTL, &accessor_handler, NULL, NULL),
              -EINVAL);
    CHECK_OK(sk_server_add_udp(srv, &any, SK_SERVER_RXTTL, &rxttl_udp, NULL, &with));
    CHECK_OK(sk_server_add_udp(srv, &any, 0, &rxttl_udp, NULL, &without));
    if (v6) {
        CHECK_OK(sk_addr_from_ip(&any6, "::", 0, AF_INET6));
        CHECK_OK(sk_server_add_udp(srv, &any6, SK_SERVER_RXTTL | SK_SERVER_DUALSTACK,
                                   &rxttl_udp, NULL, &with6));
    }
    memset(&r, 0, sizeof(r));
    r.srv = srv;
    CHECK_EQ(pthread_create(&r.thread, NULL, run_thread, &r), 0);

    rxttl_ask(&with, 42, 0xb8, got);
    CHECK_EQ(got[0], 42);
    CHECK_EQ(got[1], 0xb8);
    rxttl_ask(&without, 42, 0xb8, got);
    CHECK_EQ(got[0], -ENOENT);
    CHECK_EQ(got[1], -ENOENT);
    if (v6) {
        CHECK_OK(sk_addr_from_ip(&to, "::1", sk_addr_port(&with6), AF_INET6));
        rxttl_ask(&to, 17, 0x29, got);
        CHECK_EQ(got[0], 17);
        CHECK_EQ(got[1], 0x29);
        CHECK_OK(sk_addr_from_ip(&to, "127.0.0.1", sk_addr_port(&with6), AF_INET));
        rxttl_ask(&to, 9, 0x10, got);
        CHECK_EQ(got[0], 9);
        CHECK_EQ(got[1], 0x10);
    }
    server_stop(&r);
}

/* The time is the datagram's arrival, not when the loop got to it: while
 * the loop is held for 300 ms by one datagram, a second one arrives; its
 * receive time is within 0.15 s of its send, though it was read 0.25 s
 * later.  (Were both read in one batch, the check still holds.) */
SK_TEST(udp_rxtime_is_the_arrival_time)
{
#ifdef SO_TIMESTAMPNS
    sk_server_config cfg = { .threads = 1 };
    struct timeval tv = { 5, 0 };
    sk_server *srv;
    sk_addr any, with;
    struct running r;
    int64_t got[3];
    double sent_b, rx;
    struct timespec gap = {0, 50000000};
    int fd;

    loopback(&any);
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_udp(srv, &any, SK_SERVER_RXTIME, &rxtime_udp, NULL, &with));
    memset(&r, 0, sizeof(r));
    r.srv = srv;
    CHECK_EQ(pthread_create(&r.thread, NULL, run_thread, &r), 0);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(sendto(fd, "slow", 4, 0, &with.u.sa, with.len), 4);
    nanosleep(&gap, NULL);
    sent_b = realtime_now();
    CHECK_EQ(sendto(fd, "b", 1, 0, &with.u.sa, with.len), 1);
    CHECK_EQ(recv(fd, got, sizeof(got), 0), sizeof(got)); /* "slow" */
    CHECK_EQ(recv(fd, got, sizeof(got), 0), sizeof(got)); /* "b" */
    CHECK_EQ(got[0], 0);
    rx = (double)got[1] + (double)got[2] / 1e9;
    CHECK_TIME(rx - sent_b, -1e-3, 0.15);
    close(fd);
    server_stop(&r);
#else
    SK_SKIP("no SO_TIMESTAMPNS on this system: receive times are read after the batch");
#endif
}
