/* SPDX-License-Identifier: MIT */
/*
 * cli/stamp.c - `sockit stamp`: a STAMP Session-Sender (RFC 8762, with the
 * RFC 8972 SSID and TLVs).  Sends COUNT test packets at a fixed interval
 * (open loop: replies are read while the next send waits), then waits
 * --timeout for stragglers, and reports round-trip delay, one-way delays,
 * loss, duplicates, reordering and the TTL seen at each end.
 *
 *   options   the option layer (cli/opt.h) into stamp_opts (usage errors exit 2)
 *   packet    the base packet (T1 from CLOCK_REALTIME right before the
 *             send, our adjtimex error estimate), a Direct Measurement TLV
 *             when --size leaves room for it, Extra Padding up to --size
 *   receive   recvmsg with the kernel's receive timestamp (T4) and the
 *             reply's TTL or hop limit; a reply counts when it has our
 *             length, our SSID, a sequence number we sent, that packet's
 *             T1 echoed, and (with --key) HMACs that verify
 *   loss      a stateful reflector numbers the packets of a session it
 *             received (0, 1, ...): for the reply to our packet s carrying
 *             its number r, s - r of ours up to s were lost on the way
 *             there, and the replies it sent that we lack were lost on the
 *             way back.  Packets after the last one answered cannot be
 *             split.  A stateless reflector copies our number, and only
 *             round-trip loss is known.  A reflector counts as stateful
 *             when some reply's number differs from ours or its Direct
 *             Measurement TLV reports received packets.
 */
#define _GNU_SOURCE /* adjtimex */
#include "cli.h"
#include "clock.h"
#include "ntp.h"
#include "opt.h"
#include "stamp.h"

#include "sockit.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#ifdef __linux__
#include <sys/timex.h>
#endif

#define STAMP_DEFAULT_COUNT 10
#define STAMP_MAX_COUNT 1000000
#define STAMP_DEFAULT_INTERVAL 1.0
#define STAMP_MIN_INTERVAL 0.001
#define STAMP_DEFAULT_TIMEOUT 2.0
#define STAMP_DM_TLV (STAMP_TLV_HDR + STAMP_DIRECT_LEN)

static const char stamp_usage[] =
    "usage: sockit stamp [-4|-6] [--count N] [--interval SECONDS] [--size BYTES]\n"
    "                    [--ssid N] [--key FILE] [--timeout SECONDS] [--json] HOST [PORT]\n";

static const char stamp_help[] =
    "\n"
    "Measure the path to a STAMP session-reflector (RFC 8762/8972, e.g. sockit\n"
    "serve's stamp service or a router): send COUNT test packets INTERVAL apart\n"
    "and report round-trip delay (min, p50, p99, max, jitter), forward and\n"
    "backward one-way delay with both ends' clock error estimates and sync flags,\n"
    "loss (split by direction against a stateful reflector), duplicates,\n"
    "reordering and the TTL or hop limit seen at each end.\n"
    "\n"
    "options:\n"
    "  -4                     use IPv4 addresses only\n"
    "  -6                     use IPv6 addresses only\n"
    "  -c, --count N          send N test packets (default 10)\n"
    "  -i, --interval SECONDS send one packet every SECONDS (default 1, at least\n"
    "                         0.001); replies are read in between\n"
    "  -s, --size BYTES       test packet size (default 60, or 128 with --key: the\n"
    "                         base packet and a Direct Measurement TLV; at least 44,\n"
    "                         112 with --key; Extra Padding fills the rest)\n"
    "      --ssid N           the session-sender identifier, 1..65535 (default\n"
    "                         random)\n"
    "  -k, --key FILE         authenticated mode: the HMAC-SHA-256 key in hex on\n"
    "                         FILE's first line (16 to 64 bytes)\n"
    "  -t, --timeout SECONDS  after the last send, wait this long for replies\n"
    "                         (default 2)\n"
    "      --json             print one JSON object\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "PORT is a number or a service name; it defaults to 862.  One-way delays\n"
    "mean something only when both clocks are synchronised (the S flags).\n"
    "\n"
    "Exit status: 0 some reply came back, 1 none did (or a socket error),\n"
    "2 usage error.  See sockit(1).\n";

/* ---- options ----------------------------------------------------------------- */

typedef struct stamp_opts {
    int family;
    long count, size, ssid;
    double interval, timeout;
    bool json, auth;
    stamp_key key;
    const char *host, *port, *size_text;
    char portbuf[8];
    char where[300]; /* "host:port" for messages */
} stamp_opts;

enum { OPT_JSON = 256, OPT_SSID };

static const struct option stamp_longopts[] = {
    {"count", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, 'i'},
    {"size", required_argument, NULL, 's'},
    {"ssid", required_argument, NULL, OPT_SSID},
    {"key", required_argument, NULL, 'k'},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

static void stamp_print_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(stamp_usage, out);
    fputs(stamp_help, out);
}

/* Applies one option; returns 0, or -1 after printing why. */
static int stamp_option(stamp_opts *o, int opt, const char *arg)
{
    uint64_t size;

    switch (opt) {
    case '4':
    case '6':
        o->family = opt == '4' ? AF_INET : AF_INET6;
        return 0;
    case 'c':
        return cli_parse_count("stamp", arg, 1, STAMP_MAX_COUNT, &o->count);
    case 'i':
        if (cli_parse_duration("stamp", arg, CLI_ZERO_BAD, 3600, &o->interval) < 0)
            return -1;
        if (o->interval < STAMP_MIN_INTERVAL) {
            cli_bad_value("stamp", "duration", arg);
            return -1;
        }
        return 0;
    case 's':
        if (cli_parse_size("stamp", arg, STAMP_BASE_LEN, STAMP_MAX_LEN, &size) < 0)
            return -1;
        o->size = (long)size;
        o->size_text = arg;
        return 0;
    case OPT_SSID:
        if (cli_parse_count("stamp", arg, 1, 65535, &o->ssid) < 0)
            return -1;
        return 0;
    case 'k':
        o->auth = true;
        return cli_parse_key_file("stamp", arg, &o->key);
    case 't':
        return cli_parse_duration("stamp", arg, CLI_ZERO_BAD, 86400, &o->timeout);
    case OPT_JSON:
        o->json = true;
        return 0;
    }
    return -1;
}

/* The checks that need every option: the size against the mode. */
static int stamp_finish_opts(stamp_opts *o)
{
    size_t base = stamp_base_len(o->auth ? STAMP_AUTH : STAMP_UNAUTH);

    if (o->size == 0)
        o->size = (long)(base + STAMP_DM_TLV);
    else if ((size_t)o->size < base) {
        cli_bad_value("stamp", "size", o->size_text);
        return -1;
    }
    if (o->ssid == 0) {
        uint16_t r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
            r = (uint16_t)time(NULL);
        o->ssid = r ? r : 1;
    }
    snprintf(o->where, sizeof(o->where), strchr(o->host, ':') ? "[%s]:%s" : "%s:%s",
             o->host, o->port);
    return 0;
}

/* Parses argv; returns -1 to go on, or the exit status to return. */
static int stamp_parse(stamp_opts *o, int argc, char **argv)
{
    const char *arg;
    cli_opts p;
    int opt, port;

    memset(o, 0, sizeof(*o));
    o->family = AF_UNSPEC;
    o->count = STAMP_DEFAULT_COUNT;
    o->interval = STAMP_DEFAULT_INTERVAL;
    o->timeout = STAMP_DEFAULT_TIMEOUT;
    cli_opts_start(&p, "stamp", argc, argv, "46c:i:s:k:t:", stamp_longopts, stamp_print_help,
                   NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0)
        if (stamp_option(o, opt, arg) < 0)
            return CLI_EXIT_USAGE;
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (cli_opts_host_port(&p, "udp", STAMP_PORT, false, &o->host, &port) != 0)
        return CLI_EXIT_USAGE;
    snprintf(o->portbuf, sizeof(o->portbuf), "%d", port);
    o->port = o->portbuf;
    return stamp_finish_opts(o) < 0 ? CLI_EXIT_USAGE : -1;
}

static void stamp_error(const stamp_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "sockit: stamp HOST:PORT: why" */
static void stamp_error(const stamp_opts *o, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sockit: stamp %s: ", o->where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- the session's record -------------------------------------------------------- */

/* What we know about one test packet. */
typedef struct stamp_probe {
    uint64_t t1;
    unsigned replies;      /* 0: lost so far; > 1: duplicated */
    uint32_t refl_seq;
    stamp_delays d;
    unsigned ttl_there, ttl_here; /* 256: unknown */
    uint16_t refl_ee;
} stamp_probe;

typedef struct stamp_run {
    stamp_probe *p;
    long sent, received, duplicates, reordered;
    long max_seq;      /* highest sender seq answered so far, -1: none */
    bool stateful;     /* some evidence the reflector numbers sessions */
    uint16_t our_ee;
} stamp_run;

/* Our clock's error estimate from the kernel (as the stamp service's). */
static uint16_t our_error_estimate(void)
{
#ifdef __linux__
    struct timex tx;
    int state;

    memset(&tx, 0, sizeof(tx));
    state = adjtimex(&tx);
    if (state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC))
        return stamp_ee_make(true, (double)tx.esterror / 1e6);
    if (state >= 0)
        return stamp_ee_make(false, (double)tx.maxerror / 1e6);
#endif
    return stamp_ee_make(false, 16.0);
}

static uint64_t ts_of(const struct timespec *t)
{
    return ntp_ts_from_unix((int64_t)t->tv_sec, (uint32_t)t->tv_nsec);
}

/* ---- packets ----------------------------------------------------------------------- */

/* Builds test packet `seq` of o->size bytes into buf; T1 is written last. */
static void packet_build(const stamp_opts *o, const stamp_run *r, uint32_t seq,
                         unsigned char *buf, uint64_t t1)
{
    stamp_mode m = o->auth ? STAMP_AUTH : STAMP_UNAUTH;
    size_t base = stamp_base_len(m), len = (size_t)o->size, off = base;
    stamp_sender s = {seq, t1, r->our_ee, (uint16_t)o->ssid};
    unsigned char dm[STAMP_DIRECT_LEN] = {0};

    stamp_sender_encode(&s, m, buf);
    memset(buf + base, 0, len - base);
    if (len - off >= STAMP_DM_TLV) {
        uint32_t txc = seq + 1;
        dm[0] = (unsigned char)(txc >> 24), dm[1] = (unsigned char)(txc >> 16);
        dm[2] = (unsigned char)(txc >> 8), dm[3] = (unsigned char)txc;
        off += stamp_tlv_put(buf + off, len - off, 0, STAMP_TLV_DIRECT, dm, sizeof(dm));
    }
    if (len - off >= STAMP_TLV_HDR)
        stamp_tlv_put(buf + off, len - off, 0, STAMP_TLV_PADDING, NULL,
                      len - off - STAMP_TLV_HDR);
    if (o->auth)
        stamp_auth_sign(&o->key, buf);
}

/* The reply's Direct Measurement R_RxC, or 0. */
static uint32_t reply_rxc(const unsigned char *b, size_t len, size_t base)
{
    size_t off = base;
    stamp_tlv t;

    while (stamp_tlv_next(b, len, &off, &t) == STAMP_TLV_OK)
        if (t.type == STAMP_TLV_DIRECT && t.len == STAMP_DIRECT_LEN && t.flags == 0) {
            const unsigned char *v = b + t.off + STAMP_TLV_HDR + 4;
            return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
        }
    return 0;
}

/* Why a datagram is not a reply to this session, or NULL. */
static const char *reply_check(const stamp_opts *o, const stamp_run *r, const unsigned char *b,
                               size_t len, stamp_reflector *rp)
{
    stamp_mode m = o->auth ? STAMP_AUTH : STAMP_UNAUTH;

    if (len != (size_t)o->size || stamp_reflector_decode(rp, m, b, len) < 0)
        return "not the length of our test packets";
    if (rp->ssid != o->ssid)
        return "another session's SSID";
    if (rp->sender_seq >= (uint32_t)r->sent ||
        rp->sender_timestamp != r->p[rp->sender_seq].t1)
        return "not a reflection of a packet we sent";
    if (o->auth && !stamp_auth_verify(&o->key, b))
        return "its HMAC does not verify";
    return NULL;
}

/* Records one accepted reply. */
static void reply_record(const stamp_opts *o, stamp_run *r, const unsigned char *b, size_t len,
                         const stamp_reflector *rp, uint64_t t4, int ttl_here)
{
    stamp_probe *p = &r->p[rp->sender_seq];
    size_t base = stamp_base_len(o->auth ? STAMP_AUTH : STAMP_UNAUTH);

    if (p->replies++ > 0) {
        r->duplicates++;
        return;
    }
    r->received++;
    if ((long)rp->sender_seq < r->max_seq)
        r->reordered++;
    else
        r->max_seq = rp->sender_seq;
    p->refl_seq = rp->seq;
    p->d = stamp_delays_compute(p->t1, rp->receive, rp->timestamp, t4);
    p->ttl_there = rp->sender_ttl;
    p->ttl_here = ttl_here >= 0 ? (unsigned)ttl_here : 256;
    p->refl_ee = rp->error_estimate;
    if (rp->seq != rp->sender_seq || reply_rxc(b, len, base) != 0)
        r->stateful = true;
}

/* The kernel's receive time and the TTL or hop limit of a received message. */
static void msg_meta(struct msghdr *h, struct timespec *t4, int *ttl)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
            memcpy(t4, CMSG_DATA(c), sizeof(*t4));
        else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
            memcpy(ttl, CMSG_DATA(c), sizeof(*ttl));
    }
}

/* Reads every datagram waiting, until `until` (monotonic).  Returns 0, or
 * -1 after a socket error (printed). */
static int receive_until(const stamp_opts *o, stamp_run *r, int fd, const sk_addr *to,
                         double until, unsigned char *buf)
{
    for (;;) {
        double left = until - cli_now();
        struct pollfd pfd = {fd, POLLIN, 0};
        _Alignas(struct cmsghdr) unsigned char ctrl[256];
        sk_addr from;
        struct iovec iov = {buf, STAMP_MAX_LEN + 1};
        struct msghdr h = {.msg_name = &from.u, .msg_namelen = sizeof(from.u),
                           .msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = ctrl, .msg_controllen = sizeof(ctrl)};
        struct timespec t4;
        stamp_reflector rp;
        const char *why;
        ssize_t n;
        int ttl = -1, pr;

        if (left <= 0)
            return 0;
        pr = poll(&pfd, 1, (int)ceil(left * 1000));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return pr < 0 ? (stamp_error(o, "poll: %s", strerror(errno)), -1) : 0;
        n = recvmsg(fd, &h, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED)
                continue;
            stamp_error(o, "receive: %s", strerror(errno));
            return -1;
        }
        clock_gettime(CLOCK_REALTIME, &t4);
        from.len = h.msg_namelen;
        msg_meta(&h, &t4, &ttl);
        if (!sk_addr_equal(&from, to))
            continue;
        why = reply_check(o, r, buf, (size_t)n, &rp);
        if (why != NULL) {
            stamp_error(o, "ignoring a datagram: %s", why);
            continue;
        }
        reply_record(o, r, buf, (size_t)n, &rp, ts_of(&t4), ttl);
    }
}

/* Asks the kernel for receive timestamps and the TTL or hop limit. */
static void socket_options(int fd, int family)
{
    int on = 1;

    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    if (family == AF_INET)
        (void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
    else
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
}

/* Sends the packets on schedule and reads replies in between; then waits
 * o->timeout for the rest.  Returns 0, or -1 after a socket error. */
static int stamp_session_run(const stamp_opts *o, stamp_run *r, sk_sock *s, const sk_addr *to)
{
    static unsigned char out[STAMP_MAX_LEN], in[STAMP_MAX_LEN + 1];
    int fd = sk_sock_fileno(s);
    double start = cli_now();

    socket_options(fd, to->u.sa.sa_family);
    for (long i = 0; i < o->count; i++) {
        struct timespec t1;
        ssize_t n;

        if (i > 0 && receive_until(o, r, fd, to, start + (double)i * o->interval, in) < 0)
            return -1;
        clock_gettime(CLOCK_REALTIME, &t1);
        r->p[i].t1 = ts_of(&t1);
        packet_build(o, r, (uint32_t)i, out, r->p[i].t1);
        r->sent = i + 1;
        n = sk_sock_sendto(s, out, (size_t)o->size, 0, to);
        if (n < 0 && n != -ECONNREFUSED) {
            stamp_error(o, "send: %s", sk_strerror((int)n));
            return -1;
        }
    }
    return receive_until(o, r, fd, to, cli_now() + o->timeout, in);
}

/* ---- the report ------------------------------------------------------------------- */

typedef struct stamp_stats {
    double rtt[4], fwd[4], bwd[4]; /* min, p50, p99, max (seconds) */
    double jitter;
    long lost, lost_fwd, lost_bwd, lost_tail;
    unsigned ttl_there[2], ttl_here[2]; /* min, max; 256: unknown */
    uint16_t refl_ee;
} stamp_stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* min, p50, p99, max of v[0..n) (sorted in place). */
static void quantiles(double *v, size_t n, double out[4])
{
    qsort(v, n, sizeof(*v), cmp_double);
    out[0] = v[0];
    out[1] = v[(n - 1) / 2];
    out[2] = v[(size_t)ceil(0.99 * (double)n) - 1];
    out[3] = v[n - 1];
}

static void ttl_range(unsigned ttl, unsigned range[2])
{
    if (ttl > 255)
        return;
    if (range[0] > 255 || ttl < range[0])
        range[0] = ttl;
    if (range[1] > 255 || ttl > range[1])
        range[1] = ttl;
}

/* Loss by direction (see the file's opening comment). */
static void loss_split(const stamp_run *r, stamp_stats *st)
{
    long s_max = r->max_seq, r_max;

    st->lost = r->sent - r->received;
    if (!r->stateful || s_max < 0)
        return;
    r_max = (long)r->p[s_max].refl_seq;
    st->lost_fwd = s_max - r_max;
    /* Every reply received is for a packet up to s_max, the highest one
     * answered; the reflector sent r_max + 1 replies up to there. */
    st->lost_bwd = (r_max + 1) - r->received;
    st->lost_tail = r->sent - 1 - s_max;
}

static void stats_compute(const stamp_run *r, stamp_stats *st, double *scratch)
{
    size_t n = 0;
    double prev = NAN, jsum = 0;
    long jn = 0;

    memset(st, 0, sizeof(*st));
    st->ttl_there[0] = st->ttl_there[1] = st->ttl_here[0] = st->ttl_here[1] = 256;
    for (long i = 0; i < r->sent; i++) {
        const stamp_probe *p = &r->p[i];
        if (p->replies == 0)
            continue;
        if (!isnan(prev)) {
            jsum += fabs(p->d.rtt - prev);
            jn++;
        }
        prev = p->d.rtt;
        ttl_range(p->ttl_there, st->ttl_there);
        ttl_range(p->ttl_here, st->ttl_here);
        st->refl_ee = p->refl_ee;
        scratch[n++] = p->d.rtt;
    }
    st->jitter = jn ? jsum / (double)jn : 0;
    quantiles(scratch, n, st->rtt);
    n = 0;
    for (long i = 0; i < r->sent; i++)
        if (r->p[i].replies)
            scratch[n++] = r->p[i].d.forward;
    quantiles(scratch, n, st->fwd);
    n = 0;
    for (long i = 0; i < r->sent; i++)
        if (r->p[i].replies)
            scratch[n++] = r->p[i].d.backward;
    quantiles(scratch, n, st->bwd);
    loss_split(r, st);
}

static void ee_text(uint16_t ee, char *buf, size_t size)
{
    snprintf(buf, size, "error %.3g s, %s", stamp_ee_seconds(ee),
             (ee & STAMP_EE_S) ? "synchronised" : "unsynchronised");
}

static void ttl_text(const unsigned range[2], char *buf, size_t size)
{
    if (range[0] > 255)
        snprintf(buf, size, "unknown");
    else if (range[0] == range[1])
        snprintf(buf, size, "%u", range[0]);
    else
        snprintf(buf, size, "%u-%u", range[0], range[1]);
}

static void print_text(const stamp_opts *o, const char *addr, const stamp_run *r,
                       const stamp_stats *st)
{
    char here[64], there[64], t1[16], t2[16];

    printf("stamp %s (%s): %ld sent, %ld bytes each, ssid %ld, %s\n", o->where, addr, r->sent,
           o->size, o->ssid, o->auth ? "authenticated" : "unauthenticated");
    printf("reflector: %s\n", r->stateful ? "stateful" : "stateless (or no forward loss)");
    printf("round trip: min %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms, jitter %.3f ms\n",
           st->rtt[0] * 1e3, st->rtt[1] * 1e3, st->rtt[2] * 1e3, st->rtt[3] * 1e3,
           st->jitter * 1e3);
    printf("forward:  min %.3f ms, p50 %.3f ms, max %.3f ms\n", st->fwd[0] * 1e3,
           st->fwd[1] * 1e3, st->fwd[3] * 1e3);
    printf("backward: min %.3f ms, p50 %.3f ms, max %.3f ms\n", st->bwd[0] * 1e3,
           st->bwd[1] * 1e3, st->bwd[3] * 1e3);
    ee_text(r->our_ee, here, sizeof(here));
    ee_text(st->refl_ee, there, sizeof(there));
    printf("clocks: here %s; reflector %s\n", here, there);
    printf("  (one-way delays mean something only when both clocks are synchronised)\n");
    if (r->stateful)
        printf("loss: %ld of %ld (%.1f%%): forward %ld, backward %ld, after the last reply "
               "%ld (direction unknown)\n", st->lost, r->sent,
               100.0 * (double)st->lost / (double)r->sent, st->lost_fwd, st->lost_bwd,
               st->lost_tail);
    else
        printf("loss: %ld of %ld (%.1f%%), round trip only\n", st->lost, r->sent,
               100.0 * (double)st->lost / (double)r->sent);
    printf("duplicates %ld, reordered %ld\n", r->duplicates, r->reordered);
    ttl_text(st->ttl_there, t1, sizeof(t1));
    ttl_text(st->ttl_here, t2, sizeof(t2));
    printf("ttl: at the reflector %s, here %s\n", t1, t2);
}

static void json_q(const char *name, const double q[4])
{
    printf("\"%s\": {\"min\": %.6f, \"p50\": %.6f, \"p99\": %.6f, \"max\": %.6f}", name,
           q[0] * 1e3, q[1] * 1e3, q[2] * 1e3, q[3] * 1e3);
}

static void json_ttl(const char *name, const unsigned range[2])
{
    if (range[0] > 255)
        printf("\"%s\": null", name);
    else
        printf("\"%s\": {\"min\": %u, \"max\": %u}", name, range[0], range[1]);
}

static void print_json(const stamp_opts *o, const char *addr, const stamp_run *r,
                       const stamp_stats *st)
{
    printf("{\"server\": \"%s\", \"address\": \"%s\", \"sent\": %ld, \"received\": %ld, "
           "\"size\": %ld, \"ssid\": %ld, \"authenticated\": %s, \"stateful\": %s, ",
           o->where, addr, r->sent, r->received, o->size, o->ssid, o->auth ? "true" : "false",
           r->stateful ? "true" : "false");
    if (r->received > 0) {
        json_q("rtt_ms", st->rtt);
        printf(", \"jitter_ms\": %.6f, ", st->jitter * 1e3);
        json_q("forward_ms", st->fwd);
        printf(", ");
        json_q("backward_ms", st->bwd);
        printf(", ");
    }
    printf("\"error_estimate\": {\"here_s\": %.9g, \"here_synchronised\": %s, "
           "\"reflector_s\": %.9g, \"reflector_synchronised\": %s}, ",
           stamp_ee_seconds(r->our_ee), (r->our_ee & STAMP_EE_S) ? "true" : "false",
           stamp_ee_seconds(st->refl_ee), (st->refl_ee & STAMP_EE_S) ? "true" : "false");
    printf("\"lost\": %ld, ", st->lost);
    if (r->stateful)
        printf("\"lost_forward\": %ld, \"lost_backward\": %ld, \"lost_unknown\": %ld, ",
               st->lost_fwd, st->lost_bwd, st->lost_tail);
    else
        printf("\"lost_forward\": null, \"lost_backward\": null, \"lost_unknown\": %ld, ",
               st->lost);
    printf("\"duplicates\": %ld, \"reordered\": %ld, ", r->duplicates, r->reordered);
    json_ttl("ttl_at_reflector", st->ttl_there);
    printf(", ");
    json_ttl("ttl_here", st->ttl_here);
    printf("}\n");
}

/* ---- the command ---------------------------------------------------------------- */

/* Resolves HOST PORT for UDP and opens a socket of the first address's
 * family.  Returns 0, or -1 after printing why. */
static int stamp_open(const stamp_opts *o, sk_sock **s, sk_addr *to)
{
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(o->host, o->port, o->family, SOCK_DGRAM, 0, 0, 10.0, &list);

    if (rc < 0) {
        stamp_error(o, "%s", sk_strerror(rc));
        return -1;
    }
    *to = list->addr;
    rc = sk_sock_open(s, list->family, SOCK_DGRAM, 0);
    sk_addrinfo_free(list);
    if (rc < 0) {
        stamp_error(o, "socket: %s", sk_strerror(rc));
        return -1;
    }
    return 0;
}

int cmd_stamp(int argc, char **argv)
{
    stamp_opts o;
    stamp_run r = {0};
    stamp_stats st;
    sk_sock *s;
    sk_addr to;
    char addr[SK_ADDRSTRLEN];
    double *scratch;
    int status = stamp_parse(&o, argc, argv), rc;

    if (status >= 0)
        return status;
    r.p = calloc((size_t)o.count, sizeof(*r.p));
    scratch = calloc((size_t)o.count, sizeof(*scratch));
    if (r.p == NULL || scratch == NULL || stamp_open(&o, &s, &to) < 0) {
        free(r.p);
        free(scratch);
        return CLI_EXIT_FAIL;
    }
    if (sk_addr_format_ip(&to, addr, sizeof(addr)) < 0)
        snprintf(addr, sizeof(addr), "?");
    r.max_seq = -1;
    r.our_ee = our_error_estimate();
    rc = stamp_session_run(&o, &r, s, &to);
    sk_sock_free(s);
    status = CLI_EXIT_FAIL;
    if (rc == 0 && r.received == 0)
        stamp_error(&o, "no reply to %ld test packet%s", r.sent, r.sent == 1 ? "" : "s");
    if (rc == 0 && r.received > 0) {
        stats_compute(&r, &st, scratch);
        if (o.json)
            print_json(&o, addr, &r, &st);
        else
            print_text(&o, addr, &r, &st);
        status = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    free(r.p);
    free(scratch);
    return status;
}
