/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/udp.c - the datagram driver of `sockit bench`, for the udp, ntp
 * and stamp modes.
 *
 * Each of the thread's slots owns a connected UDP socket: one flow.  In
 * udp mode a datagram is an 8-byte big-endian sequence number (1, 2, ...
 * per flow) followed by bytes of a stream seeded by (slot, sequence), so a
 * reply is checked against the datagram it claims to answer; a wrong size
 * or byte, or a sequence never sent, is an error.  In ntp mode it is an
 * NTP client request whose transmit timestamp holds the slot's tag and the
 * sequence number (cli/bench/ntp.c), and the reply's origin must give them
 * back.  In stamp mode it is a STAMP test packet that carries them in its
 * sequence number and timestamp (cli/bench/stamp.c), and the reflected copy
 * must give them back.  A mode is three functions (dgram_proto): make a datagram, read
 * which one a reply answers, check the reply.
 *
 * In ntp mode with --nts each request also carries a unique identifier, a
 * cookie and an authenticator (cli/ntp_nts.c); a reply must echo the
 * identifier and authenticate, else it is an error.  The slots of a thread
 * share an association by groups of up to 4 (cli/bench/ntp.c), whose 8
 * cookies leave 4 spare: each request spends one and its reply brings a
 * fresh one, and a request asks for more (placeholders) when lost replies
 * took cookies away.  A slot that finds none left waits for the next reply
 * of its group (retrying at the tick); when none is due, the group makes a
 * new key exchange (not reported; the server counts its key exchanges),
 * whose failure is an error.  A cookie is never sent twice.
 *
 * Closed loop (no --rate): one datagram in flight per slot; a datagram
 * unanswered within the timeout is given up on and the slot moves on to
 * the next sequence.  A reply that comes after that is "late": it is not
 * lost, but it is not a latency sample either.  With --rate each slot
 * sends on its schedule (cli/bench/pace.c) whatever came back, and every
 * first reply is a latency sample from its scheduled time.
 *
 * Accounting, over the datagrams sent inside the measurement window (the
 * drain waits up to the timeout after the last send for their replies):
 *   lost       sent and never answered by the end of the run;
 *   duplicate  an answer to a datagram already answered (each extra copy);
 *   reordered  a first answer that arrives after the answer to a higher
 *              sequence of the same flow.
 * Each slot remembers which of its last W sequences were answered in a
 * bitmap (W = 1024, more with --rate: four timeouts' worth of sends); an
 * answer older than that is counted late and its datagram stays lost.
 * Loss, duplicates and reordering are normal for UDP and do not fail the
 * run.  O(1) per datagram.
 */
#include "bench.h"
#include "clock.h"
#include "ntp_nts.h"

#include <errno.h>
#include <stdlib.h>

#define HEADER 8
#define RECV_SIZE 65536
#define MIN_WINDOW 1024u
#define MAX_WINDOW (1u << 22)
/* --rate: at most this many overdue datagrams per slot per wake-up, so one
 * slot far behind cannot starve the rest of the loop. */
#define BURST 64
#define RATE_READS 16

typedef struct udp_slot {
    bench_thread *t;
    sk_sock *sock;
    sk_io *io;
    long id;
    uint64_t seed;
    uint64_t seq;        /* sequence number of the datagram sent last */
    uint64_t *answered;  /* bit (s % W): datagram s got its first answer */
    uint64_t highest;    /* the highest sequence answered */
    uint64_t first_in;   /* first and last sequences sent in the window */
    uint64_t last_in;
    uint64_t sent_all;   /* datagrams sent and answered over the whole run */
    uint64_t answered_all;
    uint64_t sent_at;    /* when datagram `seq` went out */
    uint64_t k;          /* --rate: the next datagram's place on the schedule */
    bool outstanding;    /* closed loop: datagram `seq` awaits its reply */
    bool retry;          /* closed loop: sending failed or timed out */
    /* --nts */
    ntp_nts *assoc;      /* shared with the other slots of its group */
    struct udp_slot *group; /* the group's first slot */
    long group_size;
    unsigned char uid[NTS_UID_LEN]; /* of request `seq` */
} udp_slot;

/* What a mode sends and accepts. */
typedef struct dgram_proto {
    /* Writes datagram `seq` into buf; returns its size. */
    size_t (*make)(udp_slot *s, uint64_t seq, unsigned char *buf);
    /* The sequence number a reply claims to answer, or false after
     * counting why it cannot say. */
    bool (*seq_of)(udp_slot *s, const unsigned char *buf, size_t n, uint64_t *seq);
    /* Checks the rest of a reply to datagram `seq`; false after counting. */
    bool (*check)(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n);
} dgram_proto;

typedef struct udp_state {
    udp_slot *slots;
    unsigned char *buf;
    uint64_t window;     /* W, a power of two */
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

static uint64_t window_of(const udp_slot *s)
{
    return ((udp_state *)s->t->state)->window;
}

static bool bit_get(const udp_slot *s, uint64_t seq)
{
    uint64_t i = seq & (window_of(s) - 1);

    return (s->answered[i / 64] >> (i % 64)) & 1;
}

static void bit_put(udp_slot *s, uint64_t seq, bool on)
{
    uint64_t i = seq & (window_of(s) - 1), m = UINT64_C(1) << (i % 64);

    s->answered[i / 64] = on ? s->answered[i / 64] | m : s->answered[i / 64] & ~m;
}

static bool in_window(const bench_thread *t, uint64_t when)
{
    return !t->draining && when >= t->cfg->t_measure && when < t->cfg->t_end;
}

/*
 * Sends datagram seq + 1, due at `due` (now in the closed loop).  Returns
 * false when the send failed: counted; the closed loop retries at the tick,
 * the open loop moves on (the datagram was never sent, so it is not lost).
 */
static bool slot_send_next(udp_slot *s, uint64_t due)
{
    udp_state *st = s->t->state;
    size_t size;
    ssize_t n;

    s->seq++;
    bit_put(s, s->seq, false);
    size = st->proto->make(s, s->seq, st->buf);
    if (size == 0) { /* --nts: no cookie left; make said so */
        s->seq--;
        s->retry = s->t->cfg->rate <= 0;
        s->outstanding = false;
        return false;
    }
    s->sent_at = cli_now_ns();
    n = sk_sock_send(s->sock, st->buf, size, 0);
    s->retry = n < 0;
    s->outstanding = n >= 0;
    if (n < 0) {
        if (n != -EAGAIN || s->t->cfg->rate > 0)
            bench_error(s->t, BENCH_ERR_CONN, "socket %ld: send to %s: %s", s->id,
                        s->t->cfg->target_text, sk_strerror((int)n));
        return false;
    }
    s->sent_all++;
    if (in_window(s->t, due)) {
        if (s->first_in == 0)
            s->first_in = s->seq;
        s->last_in = s->seq;
        s->t->stats.sent++;
    }
    return true;
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

static const dgram_proto payload_proto = {payload_make, payload_seq_of, reply_ok};

/* ---- ntp mode: client requests -------------------------------------------------- */

static size_t ntp_make(udp_slot *s, uint64_t seq, unsigned char *buf)
{
    bench_ntp_request(s->seed, seq, buf);
    return BENCH_NTP_SIZE;
}

/* The request carries only the low 32 bits of the sequence number: the
 * one nearest at or below the latest sent is meant. */
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

/* bench_ntp_reply (in ntp_seq_of) has checked everything. */
static bool ntp_check(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n)
{
    (void)s;
    (void)seq;
    (void)buf;
    (void)n;
    return true;
}

static const dgram_proto ntp_proto = {ntp_make, ntp_seq_of, ntp_check};

/* ---- ntp --nts: authenticated requests ------------------------------------------ */

/* The cookies the group needs back beyond the one this request replaces:
 * enough to hold NTS_COOKIES_MAX again, counting those waiting and those
 * the requests out will bring (a group of BENCH_NTS_GROUP keeps the rest
 * spare for lost replies). */
static size_t nts_placeholders(const udp_slot *s)
{
    long have = (long)s->assoc->ncookies; /* less the one spent, which comes back */

    for (long i = 0; i < s->group_size; i++)
        if (&s->group[i] != s && s->group[i].outstanding)
            have++;
    return have < NTS_COOKIES_MAX ? (size_t)(NTS_COOKIES_MAX - have) : 0;
}

/* The group has no cookie and no request out: lost replies took them all.
 * A key exchange (blocking, within the timeout) gives it keys and cookies
 * afresh; none of its requests is under the old keys any more.  false
 * after counting why it failed. */
static bool nts_rekey(udp_slot *s)
{
    const bench_config *cfg = s->t->cfg;
    ntp_nts fresh;
    char why[256];
    ntp_nts_step st = ntp_nts_ke(&fresh, cfg->host, cfg->nts_port, cfg->family, cfg->cafile,
                                 cfg->servername, cfg->timeout, why, sizeof(why));

    if (st != NTP_NTS_OK) {
        ntp_nts_free(&fresh);
        bench_error(s->t, BENCH_ERR_CONN,
                    "socket %ld: out of NTS cookies, and a new key exchange failed: %s: %s",
                    s->id, ntp_nts_step_name(st), why);
        return false;
    }
    ntp_nts_free(s->assoc);
    *s->assoc = fresh;
    return true;
}

static size_t nts_make(udp_slot *s, uint64_t seq, unsigned char *buf)
{
    unsigned char hdr[BENCH_NTP_SIZE];
    size_t n;

    bench_ntp_request(s->seed, seq, hdr);
    if (s->assoc->ncookies == 0) {
        /* A reply still due asks for the cookie this slot lacks (its
         * request counts the slots with none): wait for it, retrying at
         * the tick.  With none due, a new key exchange. */
        for (long i = 0; i < s->group_size; i++)
            if (s->group[i].outstanding)
                return 0;
        if (!nts_rekey(s))
            return 0;
    }
    n = ntp_nts_request_uid(s->assoc, hdr, s->uid, nts_placeholders(s), buf, RECV_SIZE);
    if (n == 0)
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: cannot build an NTS request", s->id);
    return n;
}

/* Only the reply to the request in flight can be authenticated (its
 * identifier is the one kept); an older one is late and counts no more. */
static bool nts_check(udp_slot *s, uint64_t seq, const unsigned char *buf, size_t n)
{
    ntp_nts_step st;

    if (seq != s->seq || !s->outstanding)
        return true;
    st = ntp_nts_reply_uid(s->assoc, s->uid, buf, n, false);
    if (st == NTP_NTS_OK)
        return true;
    bench_error(s->t, BENCH_ERR_DATA, "socket %ld: datagram %llu: %s", s->id,
                (unsigned long long)seq, ntp_nts_step_name(st));
    return false;
}

static const dgram_proto nts_proto = {nts_make, ntp_seq_of, nts_check};

/* ---- stamp mode: test packets --------------------------------------------------- */

static size_t stamp_make(udp_slot *s, uint64_t seq, unsigned char *buf)
{
    size_t size = (size_t)s->t->cfg->size;

    bench_stamp_request(s->seed, seq, size, buf);
    return size;
}

/* Like ntp_seq_of: the packet carries the low 32 bits. */
static bool stamp_seq_of(udp_slot *s, const unsigned char *buf, size_t n, uint64_t *seq)
{
    uint32_t low;
    const char *why = bench_stamp_reply(s->seed, buf, n, (size_t)s->t->cfg->size, &low);

    if (why != NULL) {
        bench_error(s->t, BENCH_ERR_DATA, "socket %ld: %s", s->id, why);
        return false;
    }
    *seq = s->seq - (uint32_t)((uint32_t)s->seq - low);
    return true;
}

/* bench_stamp_reply (in stamp_seq_of) has checked everything. */
static const dgram_proto stamp_proto = {stamp_make, stamp_seq_of, ntp_check};

/* ---- replies ----------------------------------------------------------------------- */

static bool measured(const udp_slot *s, uint64_t seq)
{
    return s->first_in != 0 && seq >= s->first_in && seq <= s->last_in;
}

/* The first answer to datagram seq: its accounting and, when it is the
 * one the slot waits for or with --rate, its latency. */
static void first_answer(udp_slot *s, uint64_t seq, size_t n, uint64_t now)
{
    const bench_config *cfg = s->t->cfg;

    bit_put(s, seq, true);
    s->answered_all++;
    if (measured(s, seq)) {
        s->t->stats.received++;
        if (seq < s->highest)
            s->t->stats.reordered++;
    }
    if (seq > s->highest)
        s->highest = seq;
    if (cfg->rate > 0) {
        bench_count_op(s->t, now, now - bench_sched(cfg, s->id, seq - 1), n);
        return;
    }
    if (seq != s->seq || !s->outstanding) {
        s->t->stats.late++;
        return;
    }
    s->outstanding = false;
    bench_count_op(s->t, now, now - s->sent_at, n);
    if (!s->t->draining)
        slot_send_next(s, now);
}

static void on_reply(udp_slot *s, const unsigned char *buf, size_t n)
{
    const dgram_proto *proto = ((udp_state *)s->t->state)->proto;
    uint64_t seq;

    if (!proto->seq_of(s, buf, n, &seq))
        return;
    if (seq > s->seq || seq == 0) {
        bench_error(s->t, BENCH_ERR_DATA,
                    "socket %ld: reply to datagram %llu, which was never sent (latest %llu)",
                    s->id, (unsigned long long)seq, (unsigned long long)s->seq);
        return;
    }
    if (!proto->check(s, seq, buf, n))
        return;
    if (s->seq - seq >= window_of(s)) {
        s->t->stats.late++; /* too old to tell: its datagram stays lost */
        return;
    }
    if (bit_get(s, seq)) {
        if (measured(s, seq))
            s->t->stats.duplicates++;
        return;
    }
    first_answer(s, seq, n, cli_now_ns());
}

/* Closed loop: one recv per readiness event: a slot expects one reply at a
 * time, so a second call would almost always only report EAGAIN.  The loop
 * is level triggered, so a late reply queued behind the current one brings
 * us back.  With --rate several replies may be queued: up to RATE_READS. */
static void on_io(sk_io *io, int fd, unsigned events, void *arg)
{
    udp_slot *s = arg;
    udp_state *st = s->t->state;
    ssize_t n;

    (void)io;
    (void)fd;
    (void)events;
    for (int reads = s->t->cfg->rate > 0 ? RATE_READS : 1; reads > 0; reads--) {
        n = sk_sock_recv(s->sock, st->buf, RECV_SIZE, 0);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            /* Port unreachable and friends: the datagram in flight is not
             * coming back.  Try again at the next tick, not in a spin. */
            bench_error(s->t, BENCH_ERR_CONN, "socket %ld: recv from %s: %s", s->id,
                        s->t->cfg->target_text, sk_strerror((int)n));
            s->outstanding = false;
            s->retry = s->t->cfg->rate <= 0;
            return;
        }
        on_reply(s, st->buf, (size_t)n);
    }
}

static int slot_open(udp_slot *s)
{
    udp_state *st = s->t->state;
    int rc;

    s->answered = calloc(st->window / 64, sizeof(uint64_t));
    if (s->answered == NULL)
        return -ENOMEM;
    rc = bench_sock_connect(s->t->cfg, SOCK_DGRAM, &s->sock);

    if (rc < 0) {
        bench_error(s->t, BENCH_ERR_CONN, "socket %ld: connect to %s: %s", s->id,
                    s->t->cfg->target_text, sk_strerror(rc));
        return rc;
    }
    s->t->stats.connects++;
    return sk_io_start(s->t->loop, &s->io, sk_sock_fileno(s->sock), SK_READABLE, on_io, s);
}

/* W: 1024 sequences, or with --rate four timeouts' worth of one slot's
 * sends, rounded up to a power of two and capped (512 KiB per slot). */
static uint64_t window_size(const bench_config *cfg)
{
    double want = cfg->rate > 0 ? 4.0 * cfg->rate / (double)cfg->conns * cfg->timeout : 0;
    uint64_t w = MIN_WINDOW;

    while ((double)w < want && w < MAX_WINDOW)
        w <<= 1;
    return w;
}

static int udp_start(bench_thread *t)
{
    udp_state *st = calloc(1, sizeof(*st));
    uint64_t now = cli_now_ns();
    int rc;

    if (st == NULL)
        return -ENOMEM;
    t->state = st;
    st->proto = t->cfg->nts                   ? &nts_proto
                : t->cfg->mode == BENCH_NTP   ? &ntp_proto
                : t->cfg->mode == BENCH_STAMP ? &stamp_proto
                                              : &payload_proto;
    st->window = window_size(t->cfg);
    st->slots = calloc((size_t)t->nconns, sizeof(*st->slots));
    st->buf = malloc(RECV_SIZE);
    if (st->slots == NULL || st->buf == NULL)
        return -ENOMEM;
    for (long i = 0; i < t->nconns; i++) {
        udp_slot *s = &st->slots[i];
        s->t = t;
        s->id = t->first_conn + i;
        s->seed = bench_payload_seed((uint64_t)s->id, t->cfg->t_start);
        if (t->cfg->nts) {
            long g = i / BENCH_NTS_GROUP;
            s->assoc = &t->cfg->nts_assoc[t->cfg->nts_first[t->index] + g];
            s->group = &st->slots[g * BENCH_NTS_GROUP];
            s->group_size = t->nconns - g * BENCH_NTS_GROUP < BENCH_NTS_GROUP
                                ? t->nconns - g * BENCH_NTS_GROUP : BENCH_NTS_GROUP;
        }
        rc = slot_open(s);
        if (rc < 0)
            return rc;
        if (t->cfg->rate > 0)
            bench_pace_at(t, bench_sched(t->cfg, s->id, 0));
        else
            slot_send_next(s, now);
    }
    return 0;
}

/* --rate: sends every datagram whose time has come, whatever came back
 * (a late wake-up is the generator's delay), and asks for the next one.
 * O(slots) per call. */
static void udp_pace(bench_thread *t, uint64_t now)
{
    udp_state *st = t->state;
    uint64_t next = 0;

    for (long i = 0; i < t->nconns; i++) {
        udp_slot *s = &st->slots[i];
        uint64_t at = bench_sched(t->cfg, s->id, s->k);
        /* The schedule ends with the measurement: the datagrams sent are
         * exactly those scheduled inside it (with no warm-up, 1..N). */
        for (int burst = 0; at <= now && at < t->cfg->t_end && burst < BURST; burst++) {
            bench_pace_note(t, at, now, false);
            s->k++;
            slot_send_next(s, at);
            at = bench_sched(t->cfg, s->id, s->k);
        }
        if (at < t->cfg->t_end && (next == 0 || at < next))
            next = at;
    }
    if (next != 0)
        bench_pace_at(t, next);
}

static void udp_drain(bench_thread *t)
{
    (void)t;
}

/* Closed loop: gives up on datagrams unanswered within the timeout and
 * retries failed sends.  Idle once every datagram is answered or the last
 * one went out a timeout ago. */
static bool udp_tick(bench_thread *t, uint64_t now)
{
    udp_state *st = t->state;
    uint64_t timeout = (uint64_t)(t->cfg->timeout * 1e9);
    bool idle = true;

    for (long i = 0; i < t->nconns; i++) {
        udp_slot *s = &st->slots[i];
        if (s->outstanding && now - s->sent_at >= timeout) {
            s->outstanding = false;
            s->retry = t->cfg->rate <= 0;
        }
        if (s->retry && !t->draining && t->cfg->rate <= 0)
            slot_send_next(s, now);
        if (s->answered_all < s->sent_all && now - s->sent_at < timeout)
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
        free(st->slots[i].answered);
    }
    free(st->slots);
    free(st->buf);
    free(st);
    t->state = NULL;
}

const bench_driver bench_driver_udp = {
    .start = udp_start,
    .drain = udp_drain,
    .pace = udp_pace,
    .tick = udp_tick,
    .finish = udp_finish,
};
