/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_select.c - sk_select: readiness of each kind, reordering of the
 * arrays, timeouts (accuracy and EINTR), closed sockets, many sockets and
 * descriptors above FD_SETSIZE.
 */
#define _GNU_SOURCE
#include "sk_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

static void pair(sk_sock *p[2])
{
    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
}

SK_TEST(readable_after_data)
{
    sk_sock *p[2], *q[2], *r[2];

    pair(p);
    pair(q);
    pair(r);

    sk_sock *rd[3] = {p[0], q[0], r[0]};
    size_t nrd = 3;

    /* Only the last one has data: it moves to the front. */
    CHECK_EQ(sk_sock_send(r[1], "x", 1, 0), 1);
    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 5.0), 1);
    CHECK_EQ(nrd, 1);
    CHECK(rd[0] == r[0]);
    /* The others keep their order behind it. */
    CHECK(rd[1] == p[0]);
    CHECK(rd[2] == q[0]);

    /* Two ready, in their original relative order. */
    sk_sock *rd2[3] = {p[0], q[0], r[0]};

    nrd = 3;
    CHECK_EQ(sk_sock_send(p[1], "y", 1, 0), 1);
    CHECK_EQ(sk_select(rd2, &nrd, NULL, NULL, NULL, NULL, 5.0), 2);
    CHECK_EQ(nrd, 2);
    CHECK(rd2[0] == p[0]);
    CHECK(rd2[1] == r[0]);
    CHECK(rd2[2] == q[0]);
    for (int i = 0; i < 2; i++) {
        sk_sock_free(p[i]);
        sk_sock_free(q[i]);
        sk_sock_free(r[i]);
    }
}

SK_TEST(end_of_stream_is_readable)
{
    sk_sock *p[2];

    pair(p);
    sk_sock_close(p[1]);

    sk_sock *rd[1] = {p[0]};
    size_t nrd = 1;

    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 5.0), 1);
    CHECK_EQ(nrd, 1);

    char c;

    CHECK_EQ(sk_sock_recv(p[0], &c, 1, 0), 0);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(writable_and_mixed)
{
    sk_sock *p[2];

    pair(p);

    sk_sock *rd[2] = {p[0], p[1]};
    sk_sock *wr[2] = {p[0], p[1]};
    size_t nrd = 2, nwr = 2;

    /* Fresh sockets are writable, not readable; a socket may be in both. */
    CHECK_EQ(sk_select(rd, &nrd, wr, &nwr, NULL, NULL, 5.0), 2);
    CHECK_EQ(nrd, 0);
    CHECK_EQ(nwr, 2);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(writable_after_buffer_drains)
{
    sk_sock *p[2];
    char buf[65536] = {0};

    pair(p);
    CHECK_OK(sk_sock_setblocking(p[0], false));
    while (sk_sock_send(p[0], buf, sizeof buf, 0) > 0)
        ;

    sk_sock *wr[1] = {p[0]};
    size_t nwr = 1;

    CHECK_EQ(sk_select(NULL, NULL, wr, &nwr, NULL, NULL, 0.05), 0);
    CHECK_EQ(nwr, 0);
    while (sk_sock_recv(p[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    nwr = 1;
    CHECK_EQ(sk_select(NULL, NULL, wr, &nwr, NULL, NULL, 5.0), 1);
    CHECK_EQ(nwr, 1);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* Urgent (out-of-band) TCP data is select's "exceptional condition". */
SK_TEST(exceptional_condition)
{
    sk_sock *l, *c, *a;
    sk_addr addr;

    memset(&addr, 0, sizeof addr);
    addr.u.in4.sin_family = AF_INET;
    addr.u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.len = sizeof addr.u.in4;
    CHECK_OK(sk_sock_open(&l, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_bind(l, &addr));
    CHECK_OK(sk_sock_listen(l, 1));
    CHECK_OK(sk_sock_getsockname(l, &addr));
    CHECK_OK(sk_sock_open(&c, AF_INET, SOCK_STREAM, 0));
    CHECK_OK(sk_sock_connect(c, &addr));
    CHECK_OK(sk_sock_accept(l, &a, NULL));

    sk_sock *ex[1] = {a};
    size_t nex = 1;

    CHECK_EQ(sk_select(NULL, NULL, NULL, NULL, ex, &nex, 0.05), 0);
    CHECK_EQ(sk_sock_send(c, "!", 1, MSG_OOB), 1);
    nex = 1;
    CHECK_EQ(sk_select(NULL, NULL, NULL, NULL, ex, &nex, 5.0), 1);
    CHECK_EQ(nex, 1);
    sk_sock_free(a);
    sk_sock_free(c);
    sk_sock_free(l);
}

/*
 * The timeout must never fire early, and must fire within 50 ms of its
 * setting in at least one of three attempts (a loaded machine may delay
 * one; a library that is late by design is late every time).
 */
SK_TEST(timeout_accuracy)
{
    sk_sock *p[2];
    double el[3];
    bool on_time = false;

    pair(p);
    for (int i = 0; i < 3 && !on_time; i++) {
        sk_sock *rd[1] = {p[0]};
        size_t nrd = 1;
        double t0 = sk_test_now();

        CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 0.2), 0);
        el[i] = sk_test_now() - t0;
        CHECK_EQ(nrd, 0);
        CHECK_TIME(el[i], 0.19, 1e9);
        on_time = el[i] <= 0.25;
    }
    if (!on_time)
        sk_test_fail(__FILE__, __LINE__, "late every time: %.3f %.3f %.3f s", el[0],
                     el[1], el[2]);

    /* Zero polls without waiting. */
    sk_sock *rd[1] = {p[0]};
    size_t nrd = 1;
    double t0 = sk_test_now();

    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 0.0), 0);
    CHECK_TIME(sk_test_now() - t0, 0.0, 1.0);

    /* No sockets at all: a plain sleep. */
    t0 = sk_test_now();
    CHECK_EQ(sk_select(NULL, NULL, NULL, NULL, NULL, NULL, 0.1), 0);
    CHECK_TIME(sk_test_now() - t0, 0.09, 2.0);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

static atomic_int handled;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

struct pester {
    pthread_t target;
    atomic_bool stop;
};

static void *pester_main(void *arg)
{
    struct pester *p = arg;

    while (!atomic_load(&p->stop)) {
        pthread_kill(p->target, SIGUSR1);
        usleep(5000);
    }
    return NULL;
}

SK_TEST(eintr_keeps_deadline)
{
    struct sigaction sa;
    struct pester p = {.target = pthread_self()};
    pthread_t t;
    sk_sock *s[2];

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pair(s);

    sk_sock *rd[1] = {s[0]};
    size_t nrd = 1;

    CHECK_EQ(pthread_create(&t, NULL, pester_main, &p), 0);

    double t0 = sk_test_now();
    int r = sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 0.3);
    double el = sk_test_now() - t0;

    atomic_store(&p.stop, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* A timer restarted by each signal (every 5 ms) would never expire. */
    CHECK_EQ(r, 0);
    CHECK_TIME(el, 0.29, 2.0);
    CHECK_INT(atomic_load(&handled), >, 5);
    sk_sock_free(s[0]);
    sk_sock_free(s[1]);
}

SK_TEST(errors)
{
    sk_sock *p[2];

    pair(p);

    sk_sock *rd[2] = {p[0], p[1]};
    size_t nrd = 2;

    CHECK_ERR(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, NAN), -EINVAL);
    CHECK_ERR(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, -0.5), -EINVAL);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 0.0), -EBADF);
    /* A failed call leaves the counts alone. */
    CHECK_EQ(nrd, 2);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* Enough sockets to leave the stack arrays, with the ready ones last. */
SK_TEST(many_sockets)
{
    enum { N = 150 };
    sk_sock *p[N][2], *rd[N];
    size_t nrd = N;

    for (int i = 0; i < N; i++) {
        pair(p[i]);
        rd[i] = p[i][0];
    }
    for (int i = N - 3; i < N; i++)
        CHECK_EQ(sk_sock_send(p[i][1], "x", 1, 0), 1);
    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 5.0), 3);
    CHECK_EQ(nrd, 3);
    CHECK(rd[0] == p[N - 3][0]);
    CHECK(rd[1] == p[N - 2][0]);
    CHECK(rd[2] == p[N - 1][0]);
    CHECK(rd[3] == p[0][0]);
    CHECK(rd[N - 1] == p[N - 4][0]);
    for (int i = 0; i < N; i++) {
        sk_sock_free(p[i][0]);
        sk_sock_free(p[i][1]);
    }
}

/* select(2) cannot watch a descriptor >= FD_SETSIZE; sk_select can. */
SK_TEST(descriptor_above_fd_setsize)
{
    struct rlimit rl;
    sk_sock *p[2], *hi;

    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= FD_SETSIZE + 10) {
        rl.rlim_cur = rl.rlim_max < FD_SETSIZE + 100 ? rl.rlim_max : FD_SETSIZE + 100;
        setrlimit(RLIMIT_NOFILE, &rl);
        CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_cur <= FD_SETSIZE + 10)
            SK_SKIP("descriptor limit too low to go above FD_SETSIZE");
    }
    pair(p);

    int fd = dup2(sk_sock_fileno(p[0]), FD_SETSIZE + 5);

    CHECK_EQ(fd, FD_SETSIZE + 5);
    CHECK_OK(sk_sock_from_fd(&hi, fd));

    sk_sock *rd[1] = {hi};
    size_t nrd = 1;

    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 0.0), 0);
    CHECK_EQ(sk_sock_send(p[1], "x", 1, 0), 1);
    nrd = 1;
    CHECK_EQ(sk_select(rd, &nrd, NULL, NULL, NULL, NULL, 5.0), 1);
    CHECK_EQ(nrd, 1);
    sk_sock_free(hi);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}
