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
 * The connect latency (SYN sent to established) is a second histogram: a
 * cycle watches for writability too until its first event, which is when
 * the handshake completed (a refused connect shows up at the first recv
 * instead, and records nothing).  --expect 0 makes a cycle connect only:
 * established, then closed at once (any TCP port will do).  With --rate a
 * cycle starts at its scheduled time, and both latencies count from it.
 *
 * The socket object and its watcher are the library's and cost one small
 * allocation each per cycle; the connect, read and close system calls
 * dominate by far.
 */
#include "bench.h"
#include "clock.h"

#include <errno.h>
#include <stdlib.h>

#define READ_SIZE 4096

typedef struct churn_slot {
    bench_thread *t;
    sk_sock *sock;      /* NULL between cycles */
    sk_io *io;
    long id;
    uint64_t started;   /* when this cycle's connect began */
    uint64_t sched;     /* when it was due: started, or its --rate time */
    uint64_t got;       /* reply bytes so far */
    uint64_t k;         /* --rate: the number of the next cycle on the schedule */
    bool retry;         /* the last cycle failed: wait for the next tick */
    bool pending;       /* --rate: idle until cycle k's time */
    bool established;   /* the first event came: the handshake is done */
    bool timed;         /* this cycle's connect latency is recorded */
    bool tcp_up;        /* --tls: connected, the handshake under way */
    bool ticket_wait;   /* --tls-resume, connect only: reading the tickets */
    uint64_t est_at;    /* when the first event came */
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

static void slot_begin(churn_slot *s, uint64_t now, uint64_t sched);
static void slot_next(churn_slot *s, uint64_t now);

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
    uint64_t now = cli_now_ns();

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
        bench_count_op(s->t, now, now - s->sched, s->got);
    }
    slot_close(s);
    if (!s->t->draining)
        slot_next(s, now);
}

/* The first event of a cycle: the handshake has completed (or failed, which
 * the first recv reports).  Connect-only cycles end here. */
static bool slot_established(churn_slot *s, uint64_t now)
{
    int rc;

    if (s->t->cfg->expect != 0)
        return true;
    rc = bench_sock_connected(s->sock);
    if (rc < 0) {
        slot_fail(s, BENCH_ERR_CONN, "connect", rc);
        return false;
    }
    s->t->stats.connects++;
    bench_count_connect(s->t, now, now - s->sched);
    bench_count_op(s->t, now, now - s->sched, 0);
    slot_close(s);
    if (!s->t->draining)
        slot_next(s, now);
    return false;
}

/* The first recv of a cycle did not fail: the handshake that completed at
 * the first event (s->started then) is a connect latency sample. */
static void note_connected(churn_slot *s)
{
    if (s->timed)
        return;
    s->timed = true;
    bench_count_connect(s->t, s->est_at, s->est_at - s->sched);
}

/* A connect-only cycle is complete. */
static void slot_connect_only_done(churn_slot *s, uint64_t now)
{
    s->t->stats.connects++;
    bench_count_op(s->t, now, now - s->sched, 0);
    slot_close(s);
    if (!s->t->draining)
        slot_next(s, now);
}

/*
 * --tls: the first events of a cycle, the TCP connect and then the
 * handshake a step at a time.  Its end is the connect latency sample (TCP
 * and TLS together).  A connect-only cycle ends there, except with
 * --tls-resume under TLS 1.3, where it first reads the session tickets the
 * server sends after the handshake (the next cycle resumes with them).
 * Returns true when the cycle goes on to read the reply.
 */
static bool slot_tls(churn_slot *s, uint64_t now)
{
    const bench_config *cfg = s->t->cfg;
    int rc = s->tcp_up ? 0 : bench_sock_connected(s->sock);

    if (rc == 0)
        rc = bench_tls_step(s->t, s->sock, !s->tcp_up);
    s->tcp_up = true;
    if (rc == SK_ETLS_WANT_READ || rc == SK_ETLS_WANT_WRITE) {
        sk_io_set_events(s->io, bench_tls_events(rc));
        return false;
    }
    if (rc < 0) {
        slot_fail(s, BENCH_ERR_CONN, "TLS handshake", rc);
        return false;
    }
    s->established = true;
    s->est_at = now;
    s->timed = true;
    bench_count_connect(s->t, now, now - s->sched);
    sk_io_set_events(s->io, SK_READABLE);
    if (cfg->expect != 0)
        return true;
    const char *v = sk_tls_version(s->sock);

    if (cfg->tls_resume && v != NULL && v[6] == '3')
        s->ticket_wait = true;
    else
        slot_connect_only_done(s, now);
    return false;
}

static void on_io(sk_io *io, int fd, unsigned events, void *arg)
{
    churn_slot *s = arg;
    churn_state *st = s->t->state;

    (void)fd;
    if (s->ticket_wait) {
        ssize_t n = sk_sock_recv(s->sock, st->buf, sizeof(st->buf), 0);

        if (n < 0 && !bench_would_block(n))
            slot_fail(s, BENCH_ERR_CONN, "recv", (int)n);
        else
            slot_connect_only_done(s, cli_now_ns());
        return;
    }
    if (!s->established && s->t->cfg->tls != NULL) {
        if (!slot_tls(s, cli_now_ns()))
            return;
    } else if (!s->established) {
        uint64_t now = cli_now_ns();
        s->established = true;
        s->est_at = now;
        if (!slot_established(s, now))
            return;
        /* Writable alone: established, nothing to read yet (an error
         * would have come as readable too).  Read from now on. */
        if (!(events & SK_READABLE)) {
            note_connected(s);
            sk_io_set_events(io, SK_READABLE);
            return;
        }
    }
    for (;;) {
        ssize_t n = sk_sock_recv(s->sock, st->buf, sizeof(st->buf), 0);
        if (n >= 0 || bench_would_block(n))
            note_connected(s);
        if (bench_would_block(n)) {
            sk_io_set_events(io, SK_READABLE);
            return;
        }
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
static void slot_begin(churn_slot *s, uint64_t now, uint64_t sched)
{
    int rc;

    s->retry = false;
    s->pending = false;
    s->established = false;
    s->timed = false;
    s->tcp_up = false;
    s->ticket_wait = false;
    s->got = 0;
    s->started = now;
    s->sched = sched;
    rc = bench_sock_connect(s->t->cfg, SOCK_STREAM, &s->sock);
    if (rc < 0 && rc != -EINPROGRESS) {
        s->sock = NULL;
        slot_fail(s, BENCH_ERR_CONN, "connect", rc);
        return;
    }
    rc = sk_io_start(s->t->loop, &s->io, sk_sock_fileno(s->sock), SK_READABLE | SK_WRITABLE,
                     on_io, s);
    if (rc < 0)
        slot_fail(s, BENCH_ERR_CONN, "watch", rc);
}

/* Starts the next cycle: now (closed loop), or at its --rate time: now if
 * that has passed (the slot was busy: the server's delay), else when the
 * pacer fires. */
static void slot_next(churn_slot *s, uint64_t now)
{
    uint64_t at;

    if (s->t->cfg->rate <= 0) {
        slot_begin(s, now, now);
        return;
    }
    at = bench_sched(s->t->cfg, s->id, s->k);
    s->retry = false;
    if (at > now) {
        s->pending = true;
        bench_pace_at(s->t, at);
        return;
    }
    s->k++;
    bench_pace_note(s->t, at, now, true);
    slot_begin(s, now, at);
}

/* --rate: starts the idle slots whose time has come.  O(slots). */
static void churn_pace(bench_thread *t, uint64_t now)
{
    churn_state *st = t->state;
    uint64_t next = 0;

    for (long i = 0; i < t->nconns; i++) {
        churn_slot *s = &st->slots[i];
        uint64_t at;
        if (!s->pending)
            continue;
        at = bench_sched(t->cfg, s->id, s->k);
        if (at > now) {
            if (next == 0 || at < next)
                next = at;
            continue;
        }
        s->k++;
        bench_pace_note(t, at, now, false);
        slot_begin(s, now, at);
    }
    if (next != 0)
        bench_pace_at(t, next);
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
        slot_next(&st->slots[i], cli_now_ns());
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
                slot_next(s, now);
        } else if (now - s->started >= timeout) {
            slot_fail(s, BENCH_ERR_TIMEOUT,
                      s->established ? "no end of stream in time" : "connect timed out",
                      SK_ETIMEOUT);
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
    .pace = churn_pace,
    .tick = churn_tick,
    .finish = churn_finish,
};
