/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/connect.c - the connect-churn driver of `sockit bench`.
 *
 * For services that send a reply and close (time, daytime, qotd): each of
 * the thread's slots runs connect, read until end of stream, close, and
 * starts over, with a non-blocking connect to the address resolved once up
 * front.  One cycle is one operation, timed from the connect to the end of
 * stream.  A reply is complete when end of stream follows at least one byte
 * (and exactly --expect bytes when given); an empty reply, a reset or a
 * failed connect is an error.  The content cannot be checked (it is the
 * server's clock or quote); the sizes are reported instead.
 *
 * The socket object and its watcher are the library's and cost one small
 * allocation each per cycle; the connect, read and close system calls
 * dominate by far.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>

#define READ_SIZE 4096

typedef struct churn_slot {
    bench_thread *t;
    sk_sock *sock;      /* NULL between cycles */
    sk_io *io;
    long id;
    uint64_t started;   /* when this cycle's connect began */
    uint64_t got;       /* reply bytes so far */
    bool retry;         /* the last cycle failed: wait for the next tick */
} churn_slot;

typedef struct churn_state {
    churn_slot *slots;
    unsigned char buf[READ_SIZE];
} churn_state;

static void slot_close(churn_slot *s)
{
    if (s->io != NULL)
        sk_io_stop(s->io);
    sk_sock_free(s->sock);
    s->io = NULL;
    s->sock = NULL;
}

static void slot_begin(churn_slot *s);

/* Ends a cycle with an error; the slot tries again at the next tick, so a
 * refusing server does not make the loop spin. */
static void slot_fail(churn_slot *s, bench_err_kind kind, const char *what, int code)
{
    bench_error(s->t, kind, "connection %ld: %s (after %llu reply bytes): %s", s->id, what,
                (unsigned long long)s->got, sk_strerror(code));
    slot_close(s);
    s->retry = true;
}

/* End of stream: judge the reply and start the next cycle. */
static void slot_eof(churn_slot *s)
{
    const bench_config *cfg = s->t->cfg;
    uint64_t now = bench_now_ns();

    if (s->got == 0) {
        s->t->stats.connects++; /* a refused connect would not end this way */
        bench_error(s->t, BENCH_ERR_DATA, "connection %ld: empty reply", s->id);
    } else if (cfg->expect >= 0 && s->got != (uint64_t)cfg->expect) {
        bench_error(s->t, BENCH_ERR_DATA, "connection %ld: reply of %llu bytes, expected %ld",
                    s->id, (unsigned long long)s->got, cfg->expect);
    } else {
        bench_stats *st = &s->t->stats;
        if (st->reply_max == 0 || s->got < st->reply_min)
            st->reply_min = s->got;
        if (s->got > st->reply_max)
            st->reply_max = s->got;
        bench_count_op(s->t, now, now - s->started, s->got);
    }
    slot_close(s);
    if (!s->t->draining)
        slot_begin(s);
}

static void on_io(sk_io *io, int fd, unsigned events, void *arg)
{
    churn_slot *s = arg;
    churn_state *st = s->t->state;

    (void)io;
    (void)fd;
    (void)events;
    for (;;) {
        ssize_t n = sk_sock_recv(s->sock, st->buf, sizeof(st->buf), 0);
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            slot_eof(s);
            return;
        }
        if (n < 0) {
            slot_fail(s, BENCH_ERR_CONN, s->got || n == -ECONNRESET ? "recv" : "connect",
                      (int)n);
            return;
        }
        /* The first byte proves the connection was established. */
        if (s->got == 0)
            s->t->stats.connects++;
        s->got += (uint64_t)n;
    }
}

/* Starts one cycle.  The connect's outcome arrives as readability: data,
 * end of stream, or the error (refused, reset) on the first recv. */
static void slot_begin(churn_slot *s)
{
    int rc;

    s->retry = false;
    s->got = 0;
    s->started = bench_now_ns();
    rc = bench_sock_connect(s->t->cfg, SOCK_STREAM, &s->sock);
    if (rc < 0 && rc != -EINPROGRESS) {
        s->sock = NULL;
        slot_fail(s, BENCH_ERR_CONN, "connect", rc);
        return;
    }
    rc = sk_io_start(s->t->loop, &s->io, sk_sock_fileno(s->sock), SK_READABLE, on_io, s);
    if (rc < 0)
        slot_fail(s, BENCH_ERR_CONN, "watch", rc);
}

static int churn_start(bench_thread *t)
{
    churn_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -ENOMEM;
    t->state = st;
    st->slots = calloc((size_t)t->nconns, sizeof(*st->slots));
    if (st->slots == NULL)
        return -ENOMEM;
    for (long i = 0; i < t->nconns; i++) {
        st->slots[i].t = t;
        st->slots[i].id = t->first_conn + i;
        slot_begin(&st->slots[i]);
    }
    return 0;
}

/* Cycles in progress are allowed to finish; none start from now on. */
static void churn_drain(bench_thread *t)
{
    (void)t;
}

static bool churn_tick(bench_thread *t, uint64_t now)
{
    churn_state *st = t->state;
    uint64_t timeout = (uint64_t)(t->cfg->timeout * 1e9);
    bool idle = true;

    for (long i = 0; i < t->nconns; i++) {
        churn_slot *s = &st->slots[i];
        if (s->sock == NULL) {
            if (s->retry && !t->draining)
                slot_begin(s);
        } else if (now - s->started >= timeout) {
            slot_fail(s, BENCH_ERR_TIMEOUT, "no end of stream in time", SK_ETIMEOUT);
        }
        if (s->sock != NULL)
            idle = false;
    }
    return idle;
}

static void churn_finish(bench_thread *t)
{
    churn_state *st = t->state;

    for (long i = 0; st->slots != NULL && i < t->nconns; i++)
        if (st->slots[i].sock != NULL)
            slot_close(&st->slots[i]);
    free(st->slots);
    free(st);
    t->state = NULL;
}

const bench_driver bench_driver_connect = {
    .start = churn_start,
    .drain = churn_drain,
    .tick = churn_tick,
    .finish = churn_finish,
};
