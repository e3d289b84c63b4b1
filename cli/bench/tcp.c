/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/tcp.c - the echo and stream drivers of `sockit bench`.
 *
 * Each connection sends its own pseudo-random stream (cli/bench/payload.c) and
 * checks every byte that comes back against the offset it should have.
 *
 *  echo:   one message of `size` bytes in flight per connection; a message
 *          is done when all of its bytes are back, and its round trip is one
 *          latency sample.  The next message starts right away, or with
 *          --rate at its scheduled time (cli/bench/pace.c): right after the
 *          reply when that time has passed already, else when the pacer
 *          fires; its latency counts from the scheduled time.
 *  stream: the connection writes `size`-byte blocks as fast as the socket
 *          takes them and reads the echo concurrently; an operation is one
 *          block returned in full.  No latencies (they would measure queue
 *          depth, not the server).
 *
 * Nothing is allocated per operation: bytes to send are sent straight from
 * the payload table when they lie in one block of the stream, else
 * generated into the thread's scratch buffer from the stream offset (a
 * partial send simply regenerates the rest next time), and bytes received
 * land in that buffer to be checked in place.  A connection that sees a
 * wrong, missing or extra byte is counted and closed: after that its
 * stream offsets no longer mean anything.
 */
#include "bench.h"
#include "clock.h"

#include <errno.h>
#include <stdlib.h>

#define SCRATCH_SIZE (256u * 1024u)
/* Bound on send/recv calls per readiness callback, so one busy connection
 * cannot starve the others on the same loop. */
#define CALLS_PER_EVENT 8

typedef enum conn_phase { PHASE_CONNECTING, PHASE_RUNNING, PHASE_CLOSED } conn_phase;

typedef struct tcp_conn {
    bench_thread *t;
    sk_sock *sock;
    sk_io *io;
    long id;           /* connection number across all threads */
    conn_phase phase;
    uint64_t seed;
    uint64_t tx_off;   /* stream bytes sent */
    uint64_t rx_off;   /* stream bytes received and verified */
    uint64_t msg_end;  /* echo: stream offset where the current message ends */
    uint64_t since;    /* connect start, echo message start, or stream's last progress */
    uint64_t sched;    /* --rate: when the current message was scheduled */
    uint64_t k;        /* --rate: the number of the next message on the schedule */
    bool pending;      /* --rate: idle until message k's time */
    bool tcp_up;       /* --tls: connected, the handshake under way */
} tcp_conn;

typedef struct tcp_state {
    tcp_conn *conns;
    bool stream;
    unsigned char *scratch;
} tcp_state;

static void conn_close(tcp_conn *c)
{
    if (c->io != NULL)
        sk_io_stop(c->io);
    sk_sock_free(c->sock);
    c->io = NULL;
    c->sock = NULL;
    c->phase = PHASE_CLOSED;
}

static bool is_stream(const tcp_conn *c)
{
    return ((tcp_state *)c->t->state)->stream;
}

static uint64_t size_of(const tcp_conn *c)
{
    return (uint64_t)c->t->cfg->size;
}

/* Where the write that is in progress ends: the current message (echo) or
 * the current block (stream). */
static uint64_t write_limit(const tcp_conn *c)
{
    if (!is_stream(c))
        return c->msg_end;
    return (c->tx_off / size_of(c) + 1) * size_of(c);
}

/* Watches for what the connection waits for now. */
static void update_events(tcp_conn *c)
{
    unsigned ev = SK_READABLE;

    if (is_stream(c) ? !c->t->draining : c->tx_off < c->msg_end)
        ev |= SK_WRITABLE;
    sk_io_set_events(c->io, ev);
}

/*
 * Where the next `want` bytes to send are: in place in the payload table
 * when they lie in one block of the stream (always, for stream writes of a
 * size that divides the block), or when they need more than one send
 * anyway; else generated into the scratch buffer, so that a message that
 * crosses a block boundary still goes out in one send.  Sets *len to how
 * many bytes are there (at most want).
 */
static const void *tx_bytes(tcp_conn *c, uint64_t want, size_t *len)
{
    tcp_state *st = c->t->state;
    const void *span = bench_payload_span(c->seed, c->tx_off, len);

    if (*len >= want) {
        *len = (size_t)want;
        return span;
    }
    if (want > SCRATCH_SIZE)
        return span;
    *len = (size_t)want;
    bench_payload_fill(c->seed, c->tx_off, st->scratch, *len);
    return st->scratch;
}

/* Sends what the socket takes now.  Returns false if the connection closed. */
static bool conn_write(tcp_conn *c)
{
    for (int calls = 0; calls < CALLS_PER_EVENT; calls++) {
        uint64_t limit = write_limit(c);
        const void *bytes;
        size_t chunk;
        ssize_t n;

        if (c->tx_off >= limit || (is_stream(c) && c->t->draining))
            break;
        bytes = tx_bytes(c, limit - c->tx_off, &chunk);
        n = sk_sock_send(c->sock, bytes, chunk, 0);
        if (bench_would_block(n))
            break;
        if (n < 0) {
            bench_error(c->t, BENCH_ERR_CONN, "connection %ld: send with %llu bytes unreturned: %s",
                        c->id, (unsigned long long)(c->tx_off - c->rx_off),
                        sk_strerror((int)n));
            conn_close(c);
            return false;
        }
        c->tx_off += (uint64_t)n;
        if ((size_t)n < chunk)
            break;
    }
    update_events(c);
    return true;
}

static void start_message(tcp_conn *c, uint64_t now, uint64_t sched)
{
    c->msg_end = c->tx_off + size_of(c);
    c->since = now;
    c->sched = sched;
    conn_write(c);
}

/* --rate: sends message k now if its time has come (it waited for the
 * connection: the server's delay, which its latency includes), else waits
 * for the pacer. */
static void schedule_next(tcp_conn *c, uint64_t now)
{
    uint64_t at = bench_sched(c->t->cfg, c->id, c->k);

    if (at > now) {
        c->pending = true;
        bench_pace_at(c->t, at);
        return;
    }
    c->k++;
    bench_pace_note(c->t, at, now, true);
    start_message(c, now, at);
}

/* Starts the next message: now (closed loop) or on the schedule. */
static void next_message(tcp_conn *c, uint64_t now)
{
    if (c->t->cfg->rate > 0)
        schedule_next(c, now);
    else
        start_message(c, now, now);
}

/* Reports the first byte of buf[0..n) that is not the stream's, if any.
 * Returns false (connection closed) on a mismatch. */
static bool verify(tcp_conn *c, const unsigned char *buf, size_t n)
{
    size_t bad = bench_payload_check(c->seed, c->rx_off, buf, n);
    uint64_t at;

    if (bad == n)
        return true;
    at = c->rx_off + bad;
    bench_error(c->t, BENCH_ERR_DATA,
                "connection %ld: wrong byte at stream offset %llu (%s byte %llu): "
                "expected 0x%02x, got 0x%02x",
                c->id, (unsigned long long)at, is_stream(c) ? "block" : "message",
                (unsigned long long)(at % size_of(c)),
                bench_payload_byte(c->seed, at), buf[bad]);
    conn_close(c);
    return false;
}

/* Accounts for n verified bytes; finishes an echo message when complete. */
static void received(tcp_conn *c, size_t n, uint64_t now)
{
    uint64_t before = c->rx_off / size_of(c);

    c->rx_off += n;
    if (is_stream(c)) {
        c->since = now;
        bench_count_bytes(c->t, now, c->rx_off / size_of(c) - before, n);
        return;
    }
    if (c->rx_off < c->msg_end)
        return;
    bench_count_op(c->t, now, now - c->sched, size_of(c));
    if (!c->t->draining)
        next_message(c, now);
}

/* Handles one recv result.  Returns false when reading must stop. */
static bool conn_read_one(tcp_conn *c, ssize_t n, const unsigned char *buf)
{
    uint64_t owed = c->tx_off - c->rx_off;

    if (bench_would_block(n))
        return false;
    if (n <= 0) {
        bench_error(c->t, BENCH_ERR_CONN,
                    n == 0 ? "connection %ld: closed by the server with %llu bytes unreturned%s"
                           : "connection %ld: recv with %llu bytes unreturned: %s",
                    c->id, (unsigned long long)owed, n == 0 ? "" : sk_strerror((int)n));
        conn_close(c);
        return false;
    }
    if ((uint64_t)n > owed) {
        if (!verify(c, buf, (size_t)owed))
            return false;
        bench_error(c->t, BENCH_ERR_DATA,
                    "connection %ld: %llu bytes more than were sent, after stream offset %llu",
                    c->id, (unsigned long long)((uint64_t)n - owed),
                    (unsigned long long)c->tx_off);
        conn_close(c);
        return false;
    }
    if (!verify(c, buf, (size_t)n))
        return false;
    received(c, (size_t)n, cli_now_ns());
    return c->phase == PHASE_RUNNING;
}

/*
 * Reads what is queued, up to CALLS_PER_EVENT full buffers.  A read that
 * does not fill the buffer has emptied the socket's queue, and asking again
 * would almost always just cost a system call that says EAGAIN (one per
 * message in echo mode); the loop's readiness is level-triggered, so bytes
 * that arrive meanwhile bring us back.
 */
static void conn_read(tcp_conn *c)
{
    tcp_state *st = c->t->state;

    for (int calls = 0; calls < CALLS_PER_EVENT; calls++) {
        ssize_t n = sk_sock_recv(c->sock, st->scratch, SCRATCH_SIZE, 0);
        if (!conn_read_one(c, n, st->scratch))
            return;
        /* Under TLS a record's rest may wait inside the library, where
         * the descriptor's readiness cannot show it. */
        if ((size_t)n < SCRATCH_SIZE && sk_tls_pending(c->sock) == 0)
            return;
    }
}

/* --tls: one handshake step after the connect.  Returns true when the
 * connection is ready to run. */
static bool conn_handshake(tcp_conn *c)
{
    bool first = !c->tcp_up;
    int rc;

    c->tcp_up = true;
    rc = bench_tls_step(c->t, c->sock, first);
    if (rc == 0)
        return true;
    if (rc == SK_ETLS_WANT_READ || rc == SK_ETLS_WANT_WRITE)
        sk_io_set_events(c->io, bench_tls_events(rc));
    else {
        bench_error(c->t, BENCH_ERR_CONN, "connection %ld: TLS handshake with %s: %s", c->id,
                    c->t->cfg->target_text, sk_strerror(rc));
        conn_close(c);
    }
    return false;
}

static void conn_connected(tcp_conn *c)
{
    int rc = c->tcp_up ? 0 : bench_sock_connected(c->sock);
    uint64_t now = cli_now_ns();

    if (rc < 0) {
        bench_error(c->t, BENCH_ERR_CONN, "connection %ld: connect to %s: %s", c->id,
                    c->t->cfg->target_text, sk_strerror(rc));
        conn_close(c);
        return;
    }
    if (c->t->cfg->tls != NULL && !conn_handshake(c))
        return;
    c->t->stats.connects++;
    c->phase = PHASE_RUNNING;
    c->since = now;
    if (!is_stream(c))
        sk_sock_set_nodelay(c->sock, true);
    if (c->t->draining)
        conn_close(c);
    else if (is_stream(c))
        conn_write(c);
    else
        next_message(c, now);
}

static void on_io(sk_io *io, int fd, unsigned events, void *arg)
{
    tcp_conn *c = arg;

    (void)io;
    (void)fd;
    if (c->phase == PHASE_CONNECTING) {
        conn_connected(c);
        return;
    }
    if (events & SK_READABLE)
        conn_read(c);
    if (c->phase == PHASE_RUNNING && (events & SK_WRITABLE))
        conn_write(c);
}

static void conn_open(tcp_conn *c)
{
    int rc = bench_sock_connect(c->t->cfg, SOCK_STREAM, &c->sock);

    c->since = cli_now_ns();
    if (rc < 0 && rc != -EINPROGRESS) {
        bench_error(c->t, BENCH_ERR_CONN, "connection %ld: connect to %s: %s", c->id,
                    c->t->cfg->target_text, sk_strerror(rc));
        c->phase = PHASE_CLOSED;
        return;
    }
    c->phase = PHASE_CONNECTING;
    c->tcp_up = false;
    rc = sk_io_start(c->t->loop, &c->io, sk_sock_fileno(c->sock), SK_WRITABLE, on_io, c);
    if (rc < 0) {
        bench_error(c->t, BENCH_ERR_CONN, "connection %ld: watch: %s", c->id, sk_strerror(rc));
        conn_close(c);
    }
}

static int tcp_start(bench_thread *t)
{
    tcp_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -ENOMEM;
    t->state = st;
    st->stream = t->cfg->mode == BENCH_STREAM;
    st->conns = calloc((size_t)t->nconns, sizeof(*st->conns));
    st->scratch = malloc(SCRATCH_SIZE);
    if (st->conns == NULL || st->scratch == NULL)
        return -ENOMEM;
    for (long i = 0; i < t->nconns; i++) {
        tcp_conn *c = &st->conns[i];
        c->t = t;
        c->id = t->first_conn + i;
        c->seed = bench_payload_seed((uint64_t)c->id, (uint64_t)t->cfg->t_start);
        conn_open(c);
    }
    return 0;
}

/* --rate: starts the idle connections whose time has come (late if the
 * pacer woke us after it: the generator's delay) and asks for the next
 * wake-up.  O(connections of the thread) per call. */
static void tcp_pace(bench_thread *t, uint64_t now)
{
    tcp_state *st = t->state;
    uint64_t next = 0;

    for (long i = 0; i < t->nconns; i++) {
        tcp_conn *c = &st->conns[i];
        uint64_t at;
        if (!c->pending || c->phase != PHASE_RUNNING)
            continue;
        at = bench_sched(t->cfg, c->id, c->k);
        if (at > now) {
            if (next == 0 || at < next)
                next = at;
            continue;
        }
        c->pending = false;
        c->k++;
        bench_pace_note(t, at, now, false);
        start_message(c, now, at);
    }
    if (next != 0)
        bench_pace_at(t, next);
}

/* The measurement is over: stop writing and close what owes nothing. */
static void tcp_drain(bench_thread *t)
{
    tcp_state *st = t->state;

    for (long i = 0; i < t->nconns; i++) {
        tcp_conn *c = &st->conns[i];
        if (c->phase == PHASE_CONNECTING ||
            (c->phase == PHASE_RUNNING && c->tx_off == c->rx_off))
            conn_close(c);
        else if (c->phase == PHASE_RUNNING)
            update_events(c);
    }
}

/* Fails a connection whose operation outlived the timeout; returns true if
 * the connection is idle (closed, or owes nothing while draining). */
static bool conn_tick(tcp_conn *c, uint64_t now, uint64_t timeout)
{
    if (c->phase == PHASE_CLOSED)
        return true;
    if (c->phase == PHASE_RUNNING && c->tx_off == c->rx_off && c->t->draining) {
        conn_close(c);
        return true;
    }
    if (now - c->since < timeout)
        return false;
    if (c->phase == PHASE_CONNECTING) {
        bench_error(c->t, BENCH_ERR_TIMEOUT, "connection %ld: connect to %s timed out", c->id,
                    c->t->cfg->target_text);
    } else if (c->tx_off != c->rx_off) {
        bench_error(c->t, BENCH_ERR_TIMEOUT,
                    "connection %ld: %llu bytes sent but not returned within %g s "
                    "(stream offset %llu)",
                    c->id, (unsigned long long)(c->tx_off - c->rx_off), c->t->cfg->timeout,
                    (unsigned long long)c->rx_off);
    } else {
        return false; /* stream writer blocked with nothing owed: not a fault */
    }
    conn_close(c);
    return true;
}

static bool tcp_tick(bench_thread *t, uint64_t now)
{
    tcp_state *st = t->state;
    uint64_t timeout = (uint64_t)(t->cfg->timeout * 1e9);
    bool idle = true, all_closed = true;

    for (long i = 0; i < t->nconns; i++) {
        if (!conn_tick(&st->conns[i], now, timeout))
            idle = false;
        if (st->conns[i].phase != PHASE_CLOSED)
            all_closed = false;
    }
    /* Failed connections are not reopened, so once all are gone the
     * thread has nothing left to measure. */
    if (all_closed)
        t->finished = true;
    return idle;
}

static void tcp_finish(bench_thread *t)
{
    tcp_state *st = t->state;

    for (long i = 0; st->conns != NULL && i < t->nconns; i++) {
        tcp_conn *c = &st->conns[i];
        if (c->phase == PHASE_RUNNING && c->tx_off != c->rx_off)
            bench_error(t, BENCH_ERR_TIMEOUT,
                        "connection %ld: %llu bytes still unreturned at the hard stop", c->id,
                        (unsigned long long)(c->tx_off - c->rx_off));
        if (c->phase != PHASE_CLOSED)
            conn_close(c);
    }
    free(st->conns);
    free(st->scratch);
    free(st);
    t->state = NULL;
}

const bench_driver bench_driver_tcp = {
    .start = tcp_start,
    .drain = tcp_drain,
    .pace = tcp_pace,
    .tick = tcp_tick,
    .finish = tcp_finish,
};
