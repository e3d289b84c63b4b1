/* SPDX-License-Identifier: MIT */
/*
 * services/udpguard.c - the rules that keep the UDP services from being used as
 * reflectors, amplifiers or loop partners (CERT CA-1996-01, US-CERT
 * TA14-017A).  Every UDP handler asks svc_udpguard_judge() before replying
 * and gets one verdict: pass, drop, or kiss (chrony's CLG_LimitServiceRate).
 *
 * A datagram gets no reply when its source
 *   - is unspecified, broadcast or multicast (v4, v6, v4-mapped v6): a reply
 *     there reaches many hosts or nobody;
 *   - has a port below 1024 or equal to a simple-service port: two services
 *     answering each other (echo <-> chargen) loop forever;
 *   - has used up its per-address token bucket, or the global bucket is
 *     empty: a spoofed flood is reflected at a bounded rate.
 *
 * Per-source buckets live in a fixed-size hash table per thread (no locks,
 * bounded memory).  A table slot is found by probing a short window; when
 * the window is full the least recently seen entry is evicted, so an
 * address that comes back after eviction starts with a full bucket - the
 * global bucket bounds what a flood of many addresses can get that way.
 * The hash is keyed with a random seed so a remote sender cannot aim at one
 * window.  Only the global bucket is shared, behind a mutex that is taken
 * once per admitted datagram.
 *
 * Every drop is counted per reason and logged at most once per reason per
 * second, with the number of drops not logged in between (through
 * lib/server/log.h, the logger every "suppressed=N" line uses).
 *
 * A service's policy (svc_udp_policy) adds two things NTP needs: one source
 * port may be exempted from the port rules (ntp answers port 123), and a
 * source over its limit may be told to slow down once in a while (the
 * KISS verdict, remembered in the source's entry).
 */
#include "services.h"

#include "server/log.h" /* lib/server's rate-limited logger */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define GUARD_PROBE 8 /* slots searched per lookup */

/* One source address's bucket. */
typedef struct guard_entry {
    unsigned char key[16]; /* IPv6 form; IPv4 as v4-mapped */
    double tokens;
    uint64_t last_ms; /* last refill; 0 marks a free slot */
    uint64_t kiss_ms; /* last SVC_GUARD_KISS given; 0: never */
} guard_entry;

/* What one thread owns: its table. */
typedef struct guard_thread {
    struct guard_thread *next; /* in the guard's list, for freeing */
    guard_entry *table;
    size_t mask;
} guard_thread;

struct svc_udpguard {
    svc_udpguard_config cfg;
    int *ports;
    uint64_t seed[2];
    pthread_key_t key;         /* -> this thread's guard_thread */
    pthread_mutex_t lock;      /* guards `threads` and the global bucket */
    guard_thread *threads;
    svc_tally *dropped;        /* per reason, counted per thread */
    double global_tokens;
    uint64_t global_last_ms;
    sk__ratelog logs[SVC_UDP_NREASONS]; /* one line per reason per second, shared */
};

static const char *const reason_names[SVC_UDP_NREASONS] = {
    "pass", "private_port", "service_port", "bad_address",
    "rate_source", "rate_global", "reply_size",
};

const char *svc_udp_reason_name(svc_udp_reason v)
{
    return (unsigned)v < SVC_UDP_NREASONS ? reason_names[v] : "unknown";
}

/* ---- creation -------------------------------------------------------------- */

int svc_udpguard_new(svc_udpguard **out, const svc_udpguard_config *cfg)
{
    svc_udpguard *g = calloc(1, sizeof(*g));
    size_t size;

    if (g == NULL)
        return -ENOMEM;
    g->cfg = *cfg;
    /* A bucket smaller than one token would never admit anything. */
    if (g->cfg.per_source_burst <= 0)
        g->cfg.per_source_burst = 2 * g->cfg.per_source;
    if (g->cfg.per_source_burst < 1)
        g->cfg.per_source_burst = 1;
    if (g->cfg.global_burst <= 0)
        g->cfg.global_burst = 2 * g->cfg.global;
    if (g->cfg.global_burst < 1)
        g->cfg.global_burst = 1;
    /* Round the table up to a power of two so a mask picks the slot. */
    for (size = GUARD_PROBE; size < (cfg->table_size ? cfg->table_size : 4096); size *= 2)
        ;
    g->cfg.table_size = size;
    if (cfg->nports > 0) {
        g->ports = malloc(cfg->nports * sizeof(*g->ports));
        if (g->ports == NULL)
            goto fail_ports;
        memcpy(g->ports, cfg->ports, cfg->nports * sizeof(*g->ports));
    }
    g->cfg.ports = g->ports;
    if (getrandom(g->seed, sizeof(g->seed), GRND_NONBLOCK) != (ssize_t)sizeof(g->seed)) {
        g->seed[0] = (uint64_t)(uintptr_t)g ^ 0x9E3779B97F4A7C15ULL;
        g->seed[1] = (uint64_t)(uintptr_t)&size;
    }
    if (svc_tally_new(&g->dropped, SVC_UDP_NREASONS) < 0)
        goto fail_tally;
    if (pthread_key_create(&g->key, NULL) != 0)
        goto fail_key;
    pthread_mutex_init(&g->lock, NULL);
    g->global_tokens = g->cfg.global_burst;
    *out = g;
    return 0;

fail_key:
    svc_tally_free(g->dropped);
fail_tally:
    free(g->ports);
fail_ports:
    free(g);
    return -ENOMEM;
}

void svc_udpguard_free(svc_udpguard *g)
{
    if (g == NULL)
        return;
    for (guard_thread *t = g->threads, *next; t != NULL; t = next) {
        next = t->next;
        free(t->table);
        free(t);
    }
    pthread_key_delete(g->key);
    pthread_mutex_destroy(&g->lock);
    svc_tally_free(g->dropped);
    free(g->ports);
    free(g);
}

/* This thread's state, created on first use.  NULL when out of memory. */
static guard_thread *guard_thread_get(svc_udpguard *g)
{
    guard_thread *t = pthread_getspecific(g->key);

    if (t != NULL)
        return t;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->table = calloc(g->cfg.table_size, sizeof(*t->table));
    if (t->table == NULL || pthread_setspecific(g->key, t) != 0) {
        free(t->table);
        free(t);
        return NULL;
    }
    t->mask = g->cfg.table_size - 1;
    pthread_mutex_lock(&g->lock);
    t->next = g->threads;
    g->threads = t;
    pthread_mutex_unlock(&g->lock);
    return t;
}

size_t svc_udpguard_table_size(svc_udpguard *g)
{
    guard_thread *t = guard_thread_get(g);

    return t != NULL ? t->mask + 1 : 0;
}

/* ---- address rules ----------------------------------------------------------- */

/* 0.0.0.0/8 ("this network"), 224.0.0.0/4 (multicast) and 240.0.0.0/4
 * (reserved, with 255.255.255.255) are never a real sender. */
static bool v4_is_bad(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 28) == 0xE || (a >> 28) == 0xF;
}

bool svc_addr_is_bad_source(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return v4_is_bad(ntohl(a->u.in4.sin_addr.s_addr));
    if (a->u.sa.sa_family == AF_INET6) {
        const struct in6_addr *v6 = &a->u.in6.sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            uint32_t v4;
            memcpy(&v4, v6->s6_addr + 12, 4);
            return v4_is_bad(ntohl(v4));
        }
        return IN6_IS_ADDR_UNSPECIFIED(v6) || IN6_IS_ADDR_MULTICAST(v6);
    }
    return false;
}

static int addr_port(const sk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in4.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return -1;
}

static bool port_is_service(const svc_udpguard *g, int port)
{
    for (int i = 0; i < SVC_COUNT; i++)
        if (svc_table[i].std_port == port)
            return true;
    for (size_t i = 0; i < g->cfg.nports; i++)
        if (g->ports[i] == port)
            return true;
    return false;
}

/* The table key: the address in IPv6 form (IPv4 as ::ffff:a.b.c.d, so a
 * sender counts once whichever socket it reached). */
static void addr_key(const sk_addr *a, unsigned char key[16])
{
    memset(key, 0, 16);
    if (a->u.sa.sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &a->u.in4.sin_addr, 4);
    } else if (a->u.sa.sa_family == AF_INET6) {
        memcpy(key, &a->u.in6.sin6_addr, 16);
    }
}

/* ---- token buckets ------------------------------------------------------------ */

/* Refills a bucket for the time since `*last` and takes one token if there
 * is one.  A clock that went backwards refills nothing. */
static bool bucket_take(double *tokens, uint64_t *last, uint64_t now_ms, double rate,
                        double burst)
{
    if (now_ms > *last) {
        *tokens += (double)(now_ms - *last) * rate / 1000.0;
        if (*tokens > burst)
            *tokens = burst;
        *last = now_ms;
    }
    if (*tokens < 1.0)
        return false;
    *tokens -= 1.0;
    return true;
}

static uint64_t key_hash(const svc_udpguard *g, const unsigned char key[16])
{
    uint64_t a, b, h;

    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    h = (a ^ g->seed[0]) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    h += (b ^ g->seed[1]) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

/*
 * Finds the source's entry in the thread's table, or claims one for it:
 * a free slot in the probe window, else the least recently seen entry.
 * O(GUARD_PROBE).
 */
static guard_entry *entry_find(svc_udpguard *g, guard_thread *t,
                               const unsigned char key[16], uint64_t now_ms)
{
    size_t h = (size_t)key_hash(g, key);
    guard_entry *victim = NULL;

    for (size_t i = 0; i < GUARD_PROBE; i++) {
        guard_entry *e = &t->table[(h + i) & t->mask];
        if (e->last_ms != 0 && memcmp(e->key, key, 16) == 0)
            return e;
        if (victim == NULL || (victim->last_ms != 0 && e->last_ms < victim->last_ms))
            victim = e;
    }
    memcpy(victim->key, key, 16);
    victim->tokens = g->cfg.per_source_burst;
    victim->kiss_ms = 0;
    /* 0 marks a free slot, so a clock reading of 0 is stored as 1. */
    victim->last_ms = now_ms ? now_ms : 1;
    return victim;
}

static bool source_take(svc_udpguard *g, guard_thread *t, const sk_addr *from,
                        uint64_t now_ms)
{
    unsigned char key[16];
    guard_entry *e;

    addr_key(from, key);
    e = entry_find(g, t, key, now_ms);
    return bucket_take(&e->tokens, &e->last_ms, now_ms ? now_ms : 1,
                       g->cfg.per_source, g->cfg.per_source_burst);
}

static void source_refund(svc_udpguard *g, guard_thread *t, const sk_addr *from,
                          uint64_t now_ms)
{
    unsigned char key[16];

    addr_key(from, key);
    entry_find(g, t, key, now_ms)->tokens += 1.0;
}

static bool global_take(svc_udpguard *g, uint64_t now_ms)
{
    bool ok;

    pthread_mutex_lock(&g->lock);
    ok = bucket_take(&g->global_tokens, &g->global_last_ms, now_ms, g->cfg.global,
                     g->cfg.global_burst);
    pthread_mutex_unlock(&g->lock);
    return ok;
}

/* ---- counting and logging --------------------------------------------------- */

/* Logs the drop unless this reason has logged within the last second
 * (lib/server/log.c's rate-limited logger); the line says how many were
 * not logged in between. */
static void drop_log(svc_udpguard *g, svc_udp_reason v, const sk_addr *from,
                     uint64_t now_ms)
{
    char addr[SK_ADDRSTRLEN], line[256];
    uint64_t suppressed;

    if (!sk__ratelog_due(&g->logs[v], now_ms, &suppressed))
        return;
    if (sk_addr_format(from, addr, sizeof(addr)) < 0)
        snprintf(addr, sizeof(addr), "?");
    snprintf(line, sizeof(line),
             "event=udp_drop reason=%s from=%s suppressed=%llu total=%llu",
             svc_udp_reason_name(v), addr, (unsigned long long)suppressed,
             (unsigned long long)svc_udpguard_dropped(g, v));
    sk__log_emit(g->cfg.log, g->cfg.log_arg, line);
}

/* Counts a drop (in the calling thread's tally block) and logs it. */
static void guard_drop(svc_udpguard *g, svc_udp_reason v, const sk_addr *from,
                       uint64_t now_ms)
{
    svc_tally_add(g->dropped, (size_t)v, 1);
    drop_log(g, v, from, now_ms);
}

void svc_udpguard_count(svc_udpguard *g, svc_udp_reason v, const sk_addr *from,
                        uint64_t now_ms)
{
    if (v == SVC_UDP_PASS || (unsigned)v >= SVC_UDP_NREASONS)
        return;
    guard_drop(g, v, from, now_ms);
}

uint64_t svc_udpguard_dropped(svc_udpguard *g, svc_udp_reason v)
{
    if ((unsigned)v >= SVC_UDP_NREASONS)
        return 0;
    return svc_tally_sum(g->dropped, (size_t)v);
}

/* ---- the check ----------------------------------------------------------------- */

static svc_udp_reason guard_decide(svc_udpguard *g, guard_thread *t,
                                    const sk_addr *from, uint64_t now_ms, int allow_port)
{
    int port = addr_port(from);

    if (svc_addr_is_bad_source(from) || port < 0)
        return SVC_UDP_DROP_BADADDR;
    if (port != allow_port && port < 1024)
        return SVC_UDP_DROP_PRIVPORT;
    if (port != allow_port && port_is_service(g, port))
        return SVC_UDP_DROP_SVCPORT;
    if (g->cfg.per_source > 0) {
        /* Without memory for a table we cannot limit per source: refuse. */
        if (t == NULL || !source_take(g, t, from, now_ms))
            return SVC_UDP_DROP_SOURCE;
    }
    if (g->cfg.global > 0 && !global_take(g, now_ms)) {
        if (g->cfg.per_source > 0)
            source_refund(g, t, from, now_ms);
        return SVC_UDP_DROP_GLOBAL;
    }
    return SVC_UDP_PASS;
}

/* After a per-source rate drop: true at most once per `interval_ms` for
 * the source, and only when the global bucket has a token to spend. */
static bool kiss_due(svc_udpguard *g, guard_thread *t, const sk_addr *from,
                     uint64_t now_ms, uint64_t interval_ms)
{
    unsigned char key[16];
    guard_entry *e;

    if (t == NULL)
        return false;
    addr_key(from, key);
    e = entry_find(g, t, key, now_ms);
    if (e->kiss_ms != 0 && now_ms - e->kiss_ms < interval_ms && now_ms >= e->kiss_ms)
        return false;
    if (g->cfg.global > 0 && !global_take(g, now_ms))
        return false;
    /* 0 means "never", so a clock reading of 0 is stored as 1. */
    e->kiss_ms = now_ms ? now_ms : 1;
    return true;
}

svc_guard_verdict svc_udpguard_judge(svc_udpguard *g, const sk_addr *from, uint64_t now_ms,
                                     const svc_udp_policy *policy, svc_udp_reason *why)
{
    guard_thread *t = guard_thread_get(g);
    int allow_port = policy != NULL ? policy->allow_port : -1;
    svc_udp_reason r = guard_decide(g, t, from, now_ms, allow_port);

    if (why != NULL)
        *why = r;
    if (r == SVC_UDP_PASS)
        return SVC_GUARD_PASS;
    guard_drop(g, r, from, now_ms);
    if (r == SVC_UDP_DROP_SOURCE && policy != NULL && policy->kiss_interval_ms > 0 &&
        kiss_due(g, t, from, now_ms, policy->kiss_interval_ms))
        return SVC_GUARD_KISS;
    return SVC_GUARD_DROP;
}
