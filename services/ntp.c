/* SPDX-License-Identifier: MIT */
/*
 * services/ntp.c - the NTP service: answers NTPv1-4 client (mode 3)
 * requests with a server (mode 4) reply built by proto/ntp.c, over UDP
 * only.  One datagram, end to end:
 *
 *   1. ntp_request_check: shorter than 48 bytes, version 0 or 5..7, or any
 *      mode but 3 (no control or private "monlist" queries exist here,
 *      CVE-2013-5211) -> dropped and counted by reason, never answered;
 *   2. the UDP guard, with source port 123 exempt from its port rules (NTP
 *      servers send their own client requests from 123); a source over its
 *      rate limit gets a RATE kiss-o'-death at most once per
 *      SVC_NTP_KISS_INTERVAL_MS (the guard's KISS verdict), otherwise nothing;
 *   3. T2 is the kernel's receive timestamp (sk_dgram_rxtime: the service
 *      is added with SK_SERVER_RXTIME), the header fields describing our
 *      clock come from svc_ntp_self (cached per thread for a second), and
 *      T3 is read last, right before the 48 bytes are queued.  Replies go
 *      out with the rest of their batch (sendmmsg), so T3 precedes the send
 *      by the batch's remaining handler time, microseconds.
 *
 * A plain reply is 48 bytes and never longer than its request (extension
 * fields and MACs after the header are not echoed): no amplification.
 *
 * With NTS (env->ntskeys), a request carrying NTS extension fields goes to
 * services/ntsntp.c after step 2: authenticated, it gets the same header
 * plus the Unique Identifier and an authenticator holding fresh cookies,
 * made before T3 is read; with a bad cookie or authenticator, an NTSN
 * kiss-o'-death; malformed, nothing.  That reply too is never longer than
 * the request.
 */
#define _GNU_SOURCE /* adjtimex */
#include "services.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/timex.h>
#endif

#define NTP_MIN_PRECISION -24 /* reading the clock costs ~100 ns anyway */
#define NTP_SELF_REFRESH_MS 1000

struct svc_ntp {
    svc_ntp_config cfg;
    int precision;
    svc_tally *count; /* SVC_NTP_NCOUNTERS counters */
};

static int clock_precision(void)
{
    struct timespec res;
    int p;

    if (clock_getres(CLOCK_REALTIME, &res) != 0 || (res.tv_sec == 0 && res.tv_nsec == 0))
        return NTP_MIN_PRECISION;
    p = (int)ceil(log2((double)res.tv_sec + (double)res.tv_nsec / 1e9));
    return p < NTP_MIN_PRECISION ? NTP_MIN_PRECISION : p;
}

int svc_ntp_new(svc_ntp **out, const svc_ntp_config *cfg)
{
    svc_ntp *n;

    if (cfg->stratum < 0 || cfg->stratum > NTP_STRATUM_MAX)
        return -EINVAL;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    if (svc_tally_new(&n->count, SVC_NTP_NCOUNTERS) < 0) {
        free(n);
        return -ENOMEM;
    }
    n->cfg = *cfg;
    n->precision = clock_precision();
    *out = n;
    return 0;
}

void svc_ntp_free(svc_ntp *n)
{
    if (n == NULL)
        return;
    svc_tally_free(n->count);
    free(n);
}

uint64_t svc_ntp_count(const svc_ntp *n, svc_ntp_counter c)
{
    if (n == NULL || (unsigned)c >= SVC_NTP_NCOUNTERS)
        return 0;
    return svc_tally_sum(n->count, (size_t)c);
}

static uint64_t ntp_stat(void *n, int id, uint64_t now_ms)
{
    (void)now_ms;
    return svc_ntp_count(n, (svc_ntp_counter)id);
}

SVC_STATS_DEFINE(svc_ntp_stats, SVC_NTP_STATS, "ntp_stats", ntp_stat);
SVC_STATS_DEFINE(svc_nts_stats, SVC_NTS_STATS, "nts_stats", ntp_stat);

void svc_ntp_add(svc_ntp *n, svc_ntp_counter c, uint64_t v)
{
    if (n != NULL && (unsigned)c < SVC_NTP_NCOUNTERS)
        svc_tally_add(n->count, (size_t)c, v);
}

static void ntp_count(svc_ntp *n, svc_ntp_counter c)
{
    if (n != NULL)
        svc_tally_add(n->count, (size_t)c, 1);
}

/* ---- what we say about our clock ---------------------------------------------- */

/* The kernel's view: whether it is synchronised, its leap flags, and its
 * maximum error in seconds. */
struct kernel_clock {
    bool synced;
    unsigned leap;
    double maxerror;
};

/* Where the kernel's state cannot be read (no adjtimex), the clock is
 * taken as unsynchronised: we never claim what we cannot know. */
static struct kernel_clock kernel_clock_read(void)
{
    struct kernel_clock k = {false, NTP_LEAP_UNSYNC, SVC_NTP_MAX_DISP};
#ifdef __linux__
    struct timex tx;
    int state;

    memset(&tx, 0, sizeof(tx)); /* modes 0: read only, never set */
    state = adjtimex(&tx);
    if (state < 0 || state == TIME_ERROR || (tx.status & STA_UNSYNC))
        return k;
    k.synced = true;
    k.leap = (tx.status & STA_INS) ? NTP_LEAP_ADD
             : (tx.status & STA_DEL) ? NTP_LEAP_DEL : NTP_LEAP_NONE;
    k.maxerror = (double)tx.maxerror / 1e6;
#endif
    return k;
}

void svc_ntp_self(const svc_ntp *n, const struct timespec *now, ntp_packet *self)
{
    struct kernel_clock k = kernel_clock_read();
    int stratum = n != NULL ? n->cfg.stratum : 0;

    memset(self, 0, sizeof(*self));
    self->precision = n != NULL ? n->precision : clock_precision();
    if ((n != NULL && n->cfg.unsynced) || (stratum == 0 && !k.synced)) {
        self->leap = NTP_LEAP_UNSYNC;
        self->stratum = NTP_STRATUM_UNSYNC;
        self->root_dispersion = ntp_short_from_seconds(SVC_NTP_MAX_DISP);
        return;
    }
    /* A synchronised kernel's leap flags hold for a local reference too. */
    self->leap = k.synced ? k.leap : NTP_LEAP_NONE;
    self->reference = ntp_ts_from_unix((int64_t)now->tv_sec, 0);
    if (stratum > 0) {
        self->stratum = (unsigned)stratum;
        memcpy(self->refid, "LOCL", 4);
        self->root_dispersion = ntp_short_from_seconds(SVC_NTP_LOCAL_DISP);
    } else {
        self->stratum = SVC_NTP_KERNEL_STRATUM;
        memcpy(self->refid, "KERN", 4);
        self->root_dispersion = ntp_short_from_seconds(k.maxerror);
    }
}

/* svc_ntp_self, reread at most once a second per thread: adjtimex is a
 * system call, and the state it reports changes slowly. */
static const ntp_packet *self_cached(const svc_ntp *n, uint64_t now_ms,
                                     const struct timespec *now)
{
    static _Thread_local ntp_packet self;
    static _Thread_local uint64_t at_ms;
    static _Thread_local const svc_ntp *owner;

    if (at_ms == 0 || owner != n || now_ms - at_ms >= NTP_SELF_REFRESH_MS) {
        svc_ntp_self(n, now, &self);
        at_ms = now_ms ? now_ms : 1;
        owner = n;
    }
    return &self;
}

/* ---- the handler ---------------------------------------------------------------- */

static const svc_ntp_counter verdict_counter[NTP_NVERDICTS] = {
    [NTP_REQUEST_OK] = SVC_NTP_REPLIED,
    [NTP_DROP_SHORT] = SVC_NTP_DROP_SHORT,
    [NTP_DROP_VERSION] = SVC_NTP_DROP_VERSION,
    [NTP_DROP_MODE] = SVC_NTP_DROP_MODE,
};

/* What ntp asks of the UDP guard: port 123 is a client's port too, and a
 * source over its rate is told to slow down now and then. */
static const svc_udp_policy ntp_policy = {
    .allow_port = NTP_PORT,
    .kiss_interval_ms = SVC_NTP_KISS_INTERVAL_MS,
};

/* Sends `out` and counts it as `c`. */
static void ntp_send(sk_dgram *d, svc_ntp *n, const sk_addr *from, const void *out,
                     size_t outlen, size_t len, svc_ntp_counter c)
{
    if (outlen > 0 && svc_udp_send(d, from, out, outlen, len))
        ntp_count(n, c);
}

/*
 * The NTS path for a request of `len` bytes that passed the guard.
 * Returns false when it carries no NTS fields (answer it as plain NTP).
 */
static bool ntp_nts(sk_dgram *d, const svc_env *env, const ntp_packet *req, const void *data,
                    size_t len, const sk_addr *from, uint64_t now_ms, const struct timespec *t2)
{
    static const svc_ntp_counter nak[] = {[SVC_NTS_NAK_COOKIE] = SVC_NTP_NTS_NAK_COOKIE,
                                          [SVC_NTS_NAK_AUTH] = SVC_NTP_NTS_NAK_AUTH};
    svc_ntp *n = env->ntp;
    unsigned char header[NTP_HEADER_LEN], out[SVC_NTS_PLAIN_MAX + 256];
    svc_nts_req r;
    svc_nts_result v = svc_nts_check(env->ntskeys, data, len, &r);
    struct timespec t3;
    ntp_packet rep;
    size_t cookies;

    if (v == SVC_NTS_PLAIN)
        return false;
    if (v == SVC_NTS_MALFORMED) {
        ntp_count(n, SVC_NTP_NTS_MALFORMED);
        return true;
    }
    if (v != SVC_NTS_OK) {
        ntp_kod_make(&rep, req, NTS_KOD_NTSN);
        ntp_encode(&rep, header);
        ntp_send(d, n, from, out, svc_nts_reply(env->ntskeys, &r, header, true, out, sizeof(out)),
                 len, nak[v]);
        return true;
    }
    cookies = svc_nts_cookies(env->ntskeys, &r, len);
    ntp_reply_make(&rep, req, self_cached(n, now_ms, t2),
                   ntp_ts_from_unix((int64_t)t2->tv_sec, (uint32_t)t2->tv_nsec), 0);
    clock_gettime(CLOCK_REALTIME, &t3);
    rep.transmit = ntp_ts_from_unix((int64_t)t3.tv_sec, (uint32_t)t3.tv_nsec);
    ntp_encode(&rep, header);
    ntp_send(d, n, from, out, svc_nts_reply(env->ntskeys, &r, header, false, out, sizeof(out)),
             len, SVC_NTP_NTS_OK);
    if (n != NULL)
        svc_tally_add(n->count, SVC_NTP_NTS_COOKIES, cookies);
    return true;
}

static void ntp_on_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    svc_env *env = sk_dgram_arg(d);
    svc_ntp *n = env != NULL ? env->ntp : NULL;
    uint64_t now_ms = sk_loop_now_ms(sk_dgram_loop(d));
    unsigned char out[NTP_HEADER_LEN];
    struct timespec t2, t3;
    ntp_packet req, rep;
    ntp_verdict v = ntp_request_check(&req, data, len);
    svc_guard_verdict gv = SVC_GUARD_PASS;

    if (v != NTP_REQUEST_OK) {
        ntp_count(n, verdict_counter[v]);
        return;
    }
    if (env != NULL && env->guard != NULL)
        gv = svc_udpguard_judge(env->guard, from, now_ms, &ntp_policy, NULL);
    if (gv == SVC_GUARD_DROP)
        return;
    if (gv == SVC_GUARD_KISS) {
        ntp_kod_make(&rep, &req, "RATE");
        ntp_encode(&rep, out);
        if (svc_udp_send(d, from, out, sizeof(out), len))
            ntp_count(n, SVC_NTP_KOD_RATE);
        return;
    }
    if (sk_dgram_rxtime(d, &t2) < 0)
        clock_gettime(CLOCK_REALTIME, &t2);
    if (len > NTP_HEADER_LEN && env != NULL && env->ntskeys != NULL &&
        ntp_nts(d, env, &req, data, len, from, now_ms, &t2))
        return;
    ntp_reply_make(&rep, &req, self_cached(n, now_ms, &t2),
                   ntp_ts_from_unix((int64_t)t2.tv_sec, (uint32_t)t2.tv_nsec), 0);
    clock_gettime(CLOCK_REALTIME, &t3);
    rep.transmit = ntp_ts_from_unix((int64_t)t3.tv_sec, (uint32_t)t3.tv_nsec);
    ntp_encode(&rep, out);
    if (svc_udp_send(d, from, out, sizeof(out), len))
        ntp_count(n, SVC_NTP_REPLIED);
}

const sk_udp_handler svc_ntp_udp = {
    .on_datagram = ntp_on_datagram,
};
