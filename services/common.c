/* SPDX-License-Identifier: MIT */
/*
 * services/common.c - what several services share: the wall clock, a per-thread
 * random number generator, "send one message then close" for TCP, and the
 * guarded UDP reply path.
 */
#include "services.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t svc_wallclock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/*
 * xorshift64* per thread, seeded from getrandom() on first use.  Quote and
 * datagram-size choices need variety, not secrecy, and a per-thread state
 * needs no lock.
 */
uint64_t svc_random(void)
{
    static _Thread_local uint64_t state;

    if (state == 0) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&state;
        state = seed | 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

/* Writes what the output buffer takes; closes once the whole message is queued. */
static void oneshot_push(sk_conn *c, svc_oneshot *s)
{
    while (s->off < s->len) {
        ssize_t n = sk_conn_write(c, s->msg + s->off, s->len - s->off);
        if (n < 0) {
            sk_conn_abort(c);
            return;
        }
        if (n == 0)
            return; /* on_drain continues */
        s->off += (size_t)n;
    }
    sk_conn_close(c);
}

void svc_oneshot_start(sk_conn *c, svc_oneshot *s, const void *msg, size_t len)
{
    if (len > sizeof(s->msg))
        len = sizeof(s->msg);
    memcpy(s->msg, msg, len);
    s->len = len;
    s->off = 0;
    oneshot_push(c, s);
}

void svc_oneshot_drain(sk_conn *c)
{
    svc_oneshot *s = sk_conn_data(c);

    if (s->off < s->len)
        oneshot_push(c, s);
}

/* RFC 865/867/868 servers throw away whatever the client sends. */
size_t svc_ignore_input(sk_conn *c, const void *data, size_t len)
{
    (void)c;
    (void)data;
    return len;
}

bool svc_udp_admit(sk_dgram *d, const sk_addr *from)
{
    svc_env *env = sk_dgram_arg(d);

    if (env == NULL || env->guard == NULL)
        return true;
    if (svc_udpguard_judge(env->guard, from, sk_loop_now_ms(sk_dgram_loop(d)), NULL, NULL) ==
        SVC_GUARD_PASS)
        return true;
    sk_dgram_drop(d); /* counted per service too (the metrics) */
    return false;
}

bool svc_udp_send(sk_dgram *d, const sk_addr *from, const void *reply, size_t len,
                  size_t max)
{
    svc_env *env = sk_dgram_arg(d);

    /* The handlers never build an oversized reply; this is the backstop
     * that keeps the amplification bound true whatever changes later. */
    if (len > max) {
        if (env != NULL && env->guard != NULL)
            svc_udpguard_count(env->guard, SVC_UDP_DROP_SIZE, from,
                               sk_loop_now_ms(sk_dgram_loop(d)));
        sk_dgram_drop(d);
        return false;
    }
    return sk_dgram_reply(d, reply, len) == 0;
}
