/* SPDX-License-Identifier: MIT */
/*
 * services/stamp.c - the STAMP service: a Session-Reflector (RFC 8762
 * section 4.3, with the RFC 8972 extensions) over UDP only.  One datagram,
 * end to end:
 *
 *   1. stamp_request_check: shorter than the mode's base packet (44 bytes,
 *      112 authenticated) or, with a key, an HMAC that does not verify ->
 *      dropped and counted by reason, never answered;
 *   2. the UDP guard (svc_udp_admit): per-source and global rate limits,
 *      no reply to service or privileged source ports nor to broadcast,
 *      multicast or unspecified sources;
 *   3. stateful mode: the session (source address, port, SSID) gives the
 *      reflector's sequence number and its packet counts; stateless mode
 *      copies the sender's sequence number;
 *   4. T2 is the kernel's receive timestamp and the TTL or hop limit and
 *      DSCP/ECN those the kernel received (the service is added with
 *      SK_SERVER_RXTIME | SK_SERVER_RXTTL; 255 when no TTL came);
 *      stamp_reflect answers the TLVs; T3 is read last, right before the
 *      HMACs and the reply (of the request's length) is queued.
 *
 * The error estimate follows the kernel (adjtimex, reread at most once a
 * second per thread): S set while the kernel says it is synchronised, the
 * scale and multiplier from its estimated error (its maximum error when
 * unsynchronised).
 *
 * Sessions live in a fixed-size hash table per worker thread (no locks,
 * bounded memory; a sender's datagrams all reach the same worker since
 * SO_REUSEPORT hashes the 4-tuple).  A lookup probes a short window; an
 * expired entry is reused, and when the window is full of live sessions
 * the least recently heard is evicted (counted).  The hash is keyed with a
 * random seed so a remote sender cannot aim at one window.
 */
#define _GNU_SOURCE /* adjtimex */
#include "services.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#ifdef __linux__
#include <sys/timex.h>
#endif

#define STAMP_PROBE 8           /* slots searched per lookup */
#define STAMP_CLOCK_REFRESH_MS 1000
#define STAMP_UNSYNC_ERROR 16.0 /* seconds, when the kernel gives none */

/* One session.  last_ms is atomic so that svc_stamp_sessions may read it
 * from another thread; everything else is the owning thread's. */
typedef struct stamp_session {
    unsigned char addr[16]; /* IPv6 form; IPv4 as v4-mapped */
    uint16_t port, ssid;
    uint32_t next_seq, rx, tx;
    _Atomic uint64_t last_ms; /* 0: a free slot */
} stamp_session;

typedef struct stamp_thread {
    struct stamp_thread *next; /* in the service's list */
    stamp_session *table;
    size_t mask;
} stamp_thread;

struct svc_stamp {
    svc_stamp_config cfg;
    uint64_t seed;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards `threads` */
    stamp_thread *threads;
    svc_tally *count; /* SVC_STAMP_NCOUNTERS counters */
};

static const char *const counter_names[SVC_STAMP_NCOUNTERS] = {
    "reflected", "short", "long", "hmac", "guard", "tlv_unknown", "tlv_malformed",
    "tlv_integrity", "sessions_evicted",
};

const char *svc_stamp_counter_name(svc_stamp_counter c)
{
    return (unsigned)c < SVC_STAMP_NCOUNTERS ? counter_names[c] : "unknown";
}

/* ---- lifetime and counters ------------------------------------------------------ */

static size_t pow2_at_least(size_t n)
{
    size_t p = STAMP_PROBE;

    while (p < n)
        p <<= 1;
    return p;
}

int svc_stamp_new(svc_stamp **out, const svc_stamp_config *cfg)
{
    svc_stamp *s;

    if (cfg->auth && (cfg->key.len < STAMP_KEY_MIN || cfg->key.len > STAMP_KEY_MAX))
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->cfg = *cfg;
    s->cfg.table_size = pow2_at_least(cfg->table_size ? cfg->table_size : SVC_STAMP_SESSIONS);
    if (s->cfg.idle_ms == 0)
        s->cfg.idle_ms = SVC_STAMP_SESSION_IDLE_MS;
    if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) != (ssize_t)sizeof(s->seed))
        s->seed = (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15) ^ (uintptr_t)s;
    if (svc_tally_new(&s->count, SVC_STAMP_NCOUNTERS) < 0)
        goto fail;
    if (pthread_key_create(&s->key, NULL) != 0)
        goto fail_tally;
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return 0;

fail_tally:
    svc_tally_free(s->count);
fail:
    free(s);
    return -ENOMEM;
}

void svc_stamp_free(svc_stamp *s)
{
    if (s == NULL)
        return;
    for (stamp_thread *t = s->threads, *next; t != NULL; t = next) {
        next = t->next;
        free(t->table);
        free(t);
    }
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    svc_tally_free(s->count);
    free(s);
}

uint64_t svc_stamp_count(const svc_stamp *s, svc_stamp_counter c)
{
    if (s == NULL || (unsigned)c >= SVC_STAMP_NCOUNTERS)
        return 0;
    return svc_tally_sum(s->count, (size_t)c);
}

static void stamp_count(svc_stamp *s, svc_stamp_counter c, uint64_t n)
{
    if (s != NULL && n > 0)
        svc_tally_add(s->count, (size_t)c, n);
}

size_t svc_stamp_sessions(svc_stamp *s, uint64_t now_ms)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->lock);
    for (stamp_thread *t = s->threads; t != NULL; t = t->next)
        for (size_t i = 0; i <= t->mask; i++) {
            uint64_t last = atomic_load_explicit(&t->table[i].last_ms, memory_order_relaxed);
            if (last != 0 && now_ms - last < s->cfg.idle_ms)
                n++;
        }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- sessions --------------------------------------------------------------------- */

/* This thread's table, made on first use.  NULL when out of memory. */
static stamp_thread *thread_get(svc_stamp *s)
{
    stamp_thread *t = pthread_getspecific(s->key);

    if (t != NULL)
        return t;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->table = calloc(s->cfg.table_size, sizeof(*t->table));
    t->mask = s->cfg.table_size - 1;
    if (t->table == NULL || pthread_setspecific(s->key, t) != 0) {
        free(t->table);
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    t->next = s->threads;
    s->threads = t;
    pthread_mutex_unlock(&s->lock);
    return t;
}

/* The address in IPv6 form and the port. */
static void addr_key(const sk_addr *a, unsigned char out[16], uint16_t *port)
{
    memset(out, 0, 16);
    if (a->u.sa.sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a->u.in4.sin_addr, 4);
        *port = ntohs(a->u.in4.sin_port);
    } else if (a->u.sa.sa_family == AF_INET6) {
        memcpy(out, &a->u.in6.sin6_addr, 16);
        *port = ntohs(a->u.in6.sin6_port);
    } else {
        *port = 0;
    }
}

/* A keyed FNV-1a over the session's identity. */
static uint64_t session_hash(uint64_t seed, const unsigned char addr[16], uint16_t port,
                             uint16_t ssid)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed;
    unsigned char tail[4] = {(unsigned char)(port >> 8), (unsigned char)port,
                             (unsigned char)(ssid >> 8), (unsigned char)ssid};

    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * UINT64_C(0x100000001b3);
    for (int i = 0; i < 4; i++)
        h = (h ^ tail[i]) * UINT64_C(0x100000001b3);
    return h ^ (h >> 29);
}

/*
 * Finds the session of (from, ssid), or opens one: in a free or expired
 * slot of its window, else in place of the least recently heard (counted
 * as an eviction).  NULL only when the thread has no table (no memory).
 */
static stamp_session *session_find(svc_stamp *s, const sk_addr *from, uint16_t ssid,
                                   uint64_t now_ms)
{
    stamp_thread *t = thread_get(s);
    unsigned char addr[16];
    uint16_t port;
    stamp_session *spare = NULL, *oldest = NULL;
    uint64_t oldest_ms = 0;
    size_t h;

    if (t == NULL)
        return NULL;
    addr_key(from, addr, &port);
    h = (size_t)session_hash(s->seed, addr, port, ssid);
    for (size_t i = 0; i < STAMP_PROBE; i++) {
        stamp_session *e = &t->table[(h + i) & t->mask];
        uint64_t last = atomic_load_explicit(&e->last_ms, memory_order_relaxed);
        bool live = last != 0 && now_ms - last < s->cfg.idle_ms;

        if (live && e->port == port && e->ssid == ssid && memcmp(e->addr, addr, 16) == 0)
            return e;
        if (!live && spare == NULL)
            spare = e;
        else if (live && (oldest == NULL || last < oldest_ms)) {
            oldest = e;
            oldest_ms = last;
        }
    }
    if (spare == NULL) {
        stamp_count(s, SVC_STAMP_SESSIONS_EVICTED, 1);
        spare = oldest;
    }
    memcpy(spare->addr, addr, 16);
    spare->port = port;
    spare->ssid = ssid;
    spare->next_seq = spare->rx = spare->tx = 0;
    atomic_store_explicit(&spare->last_ms, now_ms ? now_ms : 1, memory_order_relaxed);
    return spare;
}

/* ---- what we say about our clock ------------------------------------------------ */

typedef struct stamp_clock {
    uint16_t error_estimate;
    unsigned sync_src;
} stamp_clock;

/* From the kernel: synchronised or not, and its estimated error.  Where
 * the kernel's state cannot be read (no adjtimex), unsynchronised. */
static stamp_clock clock_read(void)
{
    stamp_clock c = {stamp_ee_make(false, STAMP_UNSYNC_ERROR), STAMP_SYNC_LOCAL};
#ifdef __linux__
    struct timex tx;
    int state;

    memset(&tx, 0, sizeof(tx)); /* modes 0: read only, never set */
    state = adjtimex(&tx);
    if (state < 0)
        return c;
    if (state == TIME_ERROR || (tx.status & STA_UNSYNC)) {
        c.error_estimate = stamp_ee_make(false, (double)tx.maxerror / 1e6);
        return c;
    }
    c.error_estimate = stamp_ee_make(true, (double)tx.esterror / 1e6);
    c.sync_src = STAMP_SYNC_NTP;
#endif
    return c;
}

/* clock_read, reread at most once a second per thread. */
static stamp_clock clock_cached(uint64_t now_ms)
{
    static _Thread_local stamp_clock c;
    static _Thread_local uint64_t at_ms;

    if (at_ms == 0 || now_ms - at_ms >= STAMP_CLOCK_REFRESH_MS) {
        c = clock_read();
        at_ms = now_ms ? now_ms : 1;
    }
    return c;
}

static uint64_t ts_of(const struct timespec *t)
{
    return ntp_ts_from_unix((int64_t)t->tv_sec, (uint32_t)t->tv_nsec);
}

/* ---- the handler ---------------------------------------------------------------- */

/* Fills what the reflector knows about this datagram and itself; opens or
 * finds its session in stateful mode (NULL in stateless mode). */
static stamp_session *reflect_info(sk_dgram *d, svc_stamp *s, const stamp_sender *req,
                                   const sk_addr *from, uint64_t now_ms,
                                   stamp_reflect_info *info)
{
    stamp_clock c = clock_cached(now_ms);
    stamp_session *sess = NULL;
    struct timespec t2;
    int ttl = sk_dgram_ttl(d);

    if (sk_dgram_rxtime(d, &t2) < 0)
        clock_gettime(CLOCK_REALTIME, &t2);
    memset(info, 0, sizeof(*info));
    info->seq = req->seq;
    if (s != NULL && !s->cfg.stateless)
        sess = session_find(s, from, req->ssid, now_ms);
    if (sess != NULL) {
        info->seq = sess->next_seq++;
        info->rx_count = ++sess->rx;
        info->tx_count = sess->tx + 1; /* counting this reply */
        atomic_store_explicit(&sess->last_ms, now_ms ? now_ms : 1, memory_order_relaxed);
    }
    info->receive = ts_of(&t2);
    info->error_estimate = c.error_estimate;
    info->ttl = ttl >= 0 ? (unsigned)ttl : 255;
    info->tos = sk_dgram_tos(d);
    info->sync_src = c.sync_src;
    info->ts_in = STAMP_TSM_SW;       /* the kernel's software timestamp */
    info->ts_out = STAMP_TSM_CONTROL; /* read by this process before the send */
    return sess;
}

static void stamp_on_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    svc_env *env = sk_dgram_arg(d);
    svc_stamp *s = env != NULL ? env->stamp : NULL;
    stamp_mode m = s != NULL && s->cfg.auth ? STAMP_AUTH : STAMP_UNAUTH;
    const stamp_key *key = s != NULL && s->cfg.auth ? &s->cfg.key : NULL;
    uint64_t now_ms = sk_loop_now_ms(sk_dgram_loop(d));
    unsigned char out[STAMP_MAX_LEN];
    stamp_reflect_info info;
    stamp_reflect_report rep;
    stamp_session *sess;
    stamp_sender req;
    struct timespec t3;
    stamp_verdict v = stamp_request_check(&req, m, key, data, len);

    /* Not a request: counted here, like ntp's malformed datagrams, and not
     * as a guard's refusal (sk_dgram_drop).  An IPv6 datagram may be
     * longer than any reply can be (65507 bytes): it cannot be answered at
     * its own length. */
    if (v != STAMP_REQUEST_OK || len > STAMP_MAX_LEN) {
        stamp_count(s, v == STAMP_DROP_HMAC    ? SVC_STAMP_DROP_HMAC
                       : v == STAMP_DROP_SHORT ? SVC_STAMP_DROP_SHORT
                                               : SVC_STAMP_DROP_LONG, 1);
        return;
    }
    if (!svc_udp_admit(d, from)) {
        stamp_count(s, SVC_STAMP_DROP_GUARD, 1);
        return;
    }
    sess = reflect_info(d, s, &req, from, now_ms, &info);
    stamp_reflect(out, data, len, m, key, &req, &info, &rep);
    clock_gettime(CLOCK_REALTIME, &t3);
    stamp_reflect_finish(out, len, m, key, ts_of(&t3));
    if (!svc_udp_send(d, from, out, len, len))
        return;
    if (sess != NULL)
        sess->tx++;
    stamp_count(s, SVC_STAMP_REFLECTED, 1);
    stamp_count(s, SVC_STAMP_TLV_UNKNOWN, rep.unknown);
    stamp_count(s, SVC_STAMP_TLV_MALFORMED, rep.malformed);
    stamp_count(s, SVC_STAMP_TLV_INTEGRITY, rep.integrity_failed);
}

const sk_udp_handler svc_stamp_udp = {
    .on_datagram = stamp_on_datagram,
};
