/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/udp.c - the datagram ping-pong driver of `sockit bench`, for
 * the udp and ntp modes.
 *
 * Each of the thread's slots owns a connected UDP socket and keeps exactly
 * one datagram in flight.  In udp mode a datagram is an 8-byte big-endian
 * sequence number followed by bytes of a stream seeded by (slot, sequence),
 * so a reply is checked against the datagram it claims to answer.  In ntp
 * mode it is an NTP client request whose transmit timestamp holds the
 * slot's tag and the sequence number (cli/bench/ntp.c), and the reply's
 * origin must give them back.  A mode is three functions (dgram_proto):
 * make a datagram, read which one a reply answers, check the reply.
 *
 * A datagram unanswered within the timeout is counted lost and the slot
 * moves on to a new sequence number.  Loss is normal for UDP and does not
 * fail the run; a reply whose bytes or size are wrong, a second reply to
 * the same datagram, or a reply to a datagram never sent is an error.  A
 * reply that arrives after its datagram was counted lost is "late" (still
 * checked).  The slot remembers the fate of its last 64 datagrams; a reply
 * older than that is counted late without the duplicate check.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>

#define HEADER 8
#define RECV_SIZE 65536
#define FATE_WINDOW 64

typedef struct udp_slot {
    bench_thread *t;
    sk_sock *sock;
    sk_io *io;
    long id;
    uint64_t seed;
    uint64_t seq;        /* sequence number of the datagram sent last */
    uint64_t answered;   /* bit i: datagram seq - i got its reply */
    uint64_t sent_at;
    bool outstanding;    /* datagram `seq` awaits its reply */
    bool retry;          /* sending failed: try again at the next tick */
} udp_slot;

/* What a mode sends and accepts. */
typedef struct dgram_proto {
    /* Writes datagram `seq` into buf; returns its size. */
    size_t (*make)(udp_slot *s, uint64_t seq, unsigned char *buf);
    /* The sequence number a reply claims to answer (at most s->seq is
     * trusted by the caller), or false after counting why not. */
    bool (*seq_of)(udp_slot *s, const unsigned char *buf, size_t n, uint64_t *seq);
    /* Checks the rest of a reply to datagram `seq`; false after counting. */
    bool (*check)(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n);
} dgram_proto;

typedef struct udp_state {
    udp_slot *slots;
    unsigned char *buf;
    const dgram_proto *proto;
} udp_state;

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t dgram_seed(const udp_slot *s, uint64_t seq)
{
    return bench_payload_seed(s->seed, seq);
}

/* ---- udp mode: sequence number and payload ---------------------------------- */

static size_t payload_make(udp_slot *s, uint64_t seq, unsigned char *buf)
{
    size_t size = (size_t)s->t->cfg->size;

    put_be64(buf, seq);
    bench_payload_fill(dgram_seed(s, seq), HEADER, buf + HEADER, size - HEADER);
    return size;
}

static bool payload_seq_of(udp_slot *s, const unsigned char *buf, size_t n, uint64_t *seq)
{
    if (n < HEADER) {
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: reply of %zu bytes, shorter than a header",
                    s->id, n);
        return false;
    }
    *seq = get_be64(buf);
    return true;
}

static bool reply_ok(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n);

static const dgram_proto payload_proto = {payload_make, payload_seq_of, reply_ok};

/* ---- ntp mode: client requests -------------------------------------------------- */

static size_t ntp_make(udp_slot *s, uint64_t seq, unsigned char *buf)
{
    bench_ntp_request(s->seed, seq, buf);
    return BENCH_NTP_SIZE;
}

/* The sequence number carries only its low 32 bits: the one nearest
 * below the latest sent is meant. */
static bool ntp_seq_of(udp_slot *s, const unsigned char *buf, size_t n, uint64_t *seq)
{
    uint32_t low;
    const char *why = bench_ntp_reply(s->seed, buf, n, &low);

    if (why != NULL) {
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: %s", s->id, why);
        return false;
    }
    *seq = s->seq - (uint32_t)((uint32_t)s->seq - low);
    return true;
}

static bool ntp_check(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n)
{
    (void)s;
    (void)seq;
    (void)buf;
    (void)n;
    return true; /* ntp_seq_of checked everything */
}

static const dgram_proto ntp_proto = {ntp_make, ntp_seq_of, ntp_check};

/* ---- the slots ------------------------------------------------------------------- */

/* Sends datagram seq + 1.  Failures are counted and retried at the tick. */
static void slot_send_next(udp_slot *s)
{
    udp_state *st = s->t->state;
    size_t size;
    ssize_t n;

    s->seq++;
    s->answered <<= 1;
    size = st->proto->make(s, s->seq, st->buf);
    s->sent_at = bench_now_ns();
    n = sk_sock_send(s->sock, st->buf, size, 0);
    s->retry = n < 0;
    s->outstanding = n >= 0;
    if (n < 0 && n != -EAGAIN)
        bench_error(s->t, BENCH_ERR_CONN, "socket %ld: send to %s: %s", s->id,
                    s->t->cfg->target_text, sk_strerror((int)n));
}

/* Checks a reply's size and bytes against datagram `seq`. */
static bool reply_ok(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n)
{
    size_t size = (size_t)s->t->cfg->size;
    uint64_t seed = dgram_seed(s, seq);
    size_t bad;

    if (n != size) {
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: reply of %zu bytes to datagram %llu of %zu",
                    s->id, n, (unsigned long long)seq, size);
        return false;
    }
    bad = bench_payload_check(seed, HEADER, buf + HEADER, n - HEADER);
    if (bad == n - HEADER)
        return true;
    bench_error(s->t, BENCH_ERR_DATA,
                "socket %ld: datagram %llu byte %zu: expected 0x%02x, got 0x%02x", s->id,
                (unsigned long long)seq, bad + HEADER,
                bench_payload_byte(seed, HEADER + bad), buf[HEADER + bad]);
    return false;
}

/* A reply to an older datagram: duplicate (error) or late (counted). */
static void old_reply(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n)
{
    uint64_t age = s->seq - seq;

    if (age < FATE_WINDOW && (s->answered >> age) & 1) {
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: second reply to datagram %llu", s->id,
                    (unsigned long long)seq);
        return;
    }
    if (!((udp_state *)s->t->state)->proto->check(s, seq, buf, n))
        return;
    if (age < FATE_WINDOW)
        s->answered |= UINT64_C(1) << age;
    s->t->stats.late++;
}

static void on_reply(udp_slot *s, const unsigned char *buf, size_t n)
{
    const dgram_proto *proto = ((udp_state *)s->t->state)->proto;
    uint64_t seq, now;

    if (!proto->seq_of(s, buf, n, &seq))
        return;
    if (seq > s->seq) {
        bench_error(s->t, BENCH_ERR_DATA,
                    "socket %ld: reply to datagram %llu, which was never sent (latest %llu)",
                    s->id, (unsigned long long)seq, (unsigned long long)s->seq);
        return;
    }
    if (seq != s->seq || !s->outstanding) {
        old_reply(s, seq, buf, n);
        return;
    }
    s->outstanding = false;
    if (!proto->check(s, seq, buf, n))
        return;
    s->answered |= 1;
    now = bench_now_ns();
    bench_count_op(s->t, now, now - s->sent_at, n);
    if (!s->t->draining)
        slot_send_next(s);
}

/* One recv per readiness event: a slot expects one reply at a time, so a
 * second call would almost always only report EAGAIN.  The loop is level
 * triggered, so a late reply queued behind the current one brings us back. */
static void on_io(sk_io *io, int fd, unsigned events, void *arg)
{
    udp_slot *s = arg;
    udp_state *st = s->t->state;
    ssize_t n;

    (void)io;
    (void)fd;
    (void)events;
    n = sk_sock_recv(s->sock, st->buf, RECV_SIZE, 0);
    if (n == -EAGAIN)
        return;
    if (n < 0) {
        /* Port unreachable and friends: the datagram in flight is not
         * coming back.  Try again at the next tick, not in a spin. */
        bench_error(s->t, BENCH_ERR_CONN, "socket %ld: recv from %s: %s", s->id,
                    s->t->cfg->target_text, sk_strerror((int)n));
        s->outstanding = false;
        s->retry = true;
        return;
    }
    on_reply(s, st->buf, (size_t)n);
}

static int slot_open(udp_slot *s)
{
    int rc = bench_sock_connect(s->t->cfg, SOCK_DGRAM, &s->sock);

    if (rc < 0) {
        bench_error(s->t, BENCH_ERR_CONN, "socket %ld: connect to %s: %s", s->id,
                    s->t->cfg->target_text, sk_strerror(rc));
        return rc;
    }
    s->t->stats.connects++;
    return sk_io_start(s->t->loop, &s->io, sk_sock_fileno(s->sock), SK_READABLE, on_io, s);
}

static int udp_start(bench_thread *t)
{
    udp_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL)
        return -ENOMEM;
    t->state = st;
    st->proto = t->cfg->mode == BENCH_NTP ? &ntp_proto : &payload_proto;
    st->slots = calloc((size_t)t->nconns, sizeof(*st->slots));
    st->buf = malloc(RECV_SIZE);
    if (st->slots == NULL || st->buf == NULL)
        return -ENOMEM;
    for (long i = 0; i < t->nconns; i++) {
        udp_slot *s = &st->slots[i];
        s->t = t;
        s->id = t->first_conn + i;
        s->seed = bench_payload_seed((uint64_t)s->id, t->cfg->t_start);
        rc = slot_open(s);
        if (rc < 0)
            return rc;
        slot_send_next(s);
    }
    return 0;
}

static void udp_drain(bench_thread *t)
{
    (void)t;
}

static bool udp_tick(bench_thread *t, uint64_t now)
{
    udp_state *st = t->state;
    uint64_t timeout = (uint64_t)(t->cfg->timeout * 1e9);
    bool idle = true;

    for (long i = 0; i < t->nconns; i++) {
        udp_slot *s = &st->slots[i];
        if (s->outstanding && now - s->sent_at >= timeout) {
            s->outstanding = false;
            if (s->sent_at >= t->cfg->t_measure)
                t->stats.lost++;
            s->retry = true;
        }
        if (s->retry && !t->draining)
            slot_send_next(s);
        if (s->outstanding)
            idle = false;
    }
    return idle;
}

static void udp_finish(bench_thread *t)
{
    udp_state *st = t->state;

    for (long i = 0; st->slots != NULL && i < t->nconns; i++) {
        if (st->slots[i].io != NULL)
            sk_io_stop(st->slots[i].io);
        sk_sock_free(st->slots[i].sock);
    }
    free(st->slots);
    free(st->buf);
    free(st);
    t->state = NULL;
}

const bench_driver bench_driver_udp = {
    .start = udp_start,
    .drain = udp_drain,
    .tick = udp_tick,
    .finish = udp_finish,
};
