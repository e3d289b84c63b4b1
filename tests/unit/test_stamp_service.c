/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_stamp_service.c - services/stamp.c on a real server on
 * 127.0.0.1 (one worker): the reflector's sequence per session and its
 * table (bounded: a full window evicts, a quiet session expires), the
 * stateless mode, the counters by reason, authenticated mode, and the
 * settings svc_stamp_new refuses.  The wire format itself is test_stamp.c's;
 * the same paths against an independent codec are test_stamp.py's.
 */
#include "sk_test.h"

#include "services.h"
#include "stamp.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct running {
    sk_server *srv;
    sk_addr at;
    pthread_t thread;
    int rc;
    svc_env env;
};

/* The loops' clock: CLOCK_MONOTONIC in milliseconds. */
static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *run_thread(void *arg)
{
    struct running *r = arg;

    r->rc = sk_server_run(r->srv);
    return NULL;
}

static void start(struct running *r, const svc_stamp_config *cfg)
{
    sk_server_config scfg = {.size = sizeof(scfg), .threads = 1};
    sk_addr lo;

    memset(r, 0, sizeof(*r));
    CHECK_OK(svc_stamp_new(&r->env.stamp, cfg));
    CHECK_OK(sk_addr_from_ip(&lo, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&r->srv, &scfg));
    CHECK_OK(sk_server_add_udp(r->srv, &lo, SK_SERVER_RXTIME | SK_SERVER_RXTTL,
                               &svc_stamp_udp, &r->env, &r->at));
    CHECK_EQ(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void stop(struct running *r)
{
    sk_server_shutdown(r->srv);
    CHECK_EQ(pthread_join(r->thread, NULL), 0);
    CHECK_OK(r->rc);
    sk_server_free(r->srv);
    svc_stamp_free(r->env.stamp);
}

static int client(void)
{
    struct timeval tv = {2, 0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    return fd;
}

/* Sends a request of `len` bytes (seq, ssid) and returns the reply's
 * length (-1: none within 2 s), decoding it into *r. */
static ssize_t ask(int fd, const sk_addr *to, stamp_mode m, const stamp_key *key,
                   uint32_t seq, uint16_t ssid, size_t len, stamp_reflector *r)
{
    unsigned char req[256] = {0}, rep[256];
    stamp_sender s = {seq, UINT64_C(0x1234567800000000) | seq, 0x0001, ssid};
    ssize_t n;

    stamp_sender_encode(&s, m, req);
    if (key != NULL)
        stamp_auth_sign(key, req);
    CHECK_EQ(sendto(fd, req, len, 0, &to->u.sa, to->len), (ssize_t)len);
    n = recv(fd, rep, sizeof(rep), 0);
    if (n >= (ssize_t)stamp_base_len(m))
        CHECK_EQ(stamp_reflector_decode(r, m, rep, (size_t)n), (int)stamp_base_len(m));
    return n;
}

/* No reply within `ms`. */
static void no_reply(int fd, int ms)
{
    struct timeval tv = {0, ms * 1000};
    char b[256];

    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(recv(fd, b, sizeof(b), 0), -1);
}

SK_TEST(stamp_sessions_numbered)
{
    struct running r;
    stamp_reflector rep;
    svc_stamp_config cfg = {0};
    int a, b;

    start(&r, &cfg);
    a = client();
    b = client();
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 50, 1, 44, &rep), 44);
    CHECK_EQ(rep.seq, 0);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 51, 1, 44, &rep), 44);
    CHECK_EQ(rep.seq, 1);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 52, 2, 44, &rep), 44); /* other SSID */
    CHECK_EQ(rep.seq, 0);
    CHECK_EQ(ask(b, &r.at, STAMP_UNAUTH, NULL, 53, 1, 44, &rep), 44); /* other port */
    CHECK_EQ(rep.seq, 0);
    CHECK_EQ(rep.sender_seq, 53);
    CHECK(rep.sender_timestamp == (UINT64_C(0x1234567800000000) | 53));
    CHECK_EQ(rep.sender_ttl, 64);
    CHECK_EQ(svc_stamp_sessions(r.env.stamp, mono_ms()), 3);
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_REFLECTED), 4);
    close(a);
    close(b);
    stop(&r);
}

SK_TEST(stamp_stateless_copies)
{
    struct running r;
    stamp_reflector rep;
    svc_stamp_config cfg = {.stateless = true};
    int a;

    start(&r, &cfg);
    a = client();
    for (uint32_t seq = 7; seq < 10; seq++) {
        CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, seq, 1, 44, &rep), 44);
        CHECK_EQ(rep.seq, seq);
    }
    CHECK_EQ(svc_stamp_sessions(r.env.stamp, mono_ms()), 0);
    close(a);
    stop(&r);
}

/* A table of 8 (one probe window): a ninth live session evicts the least
 * recently heard, which then starts again from 0. */
SK_TEST(stamp_table_is_bounded)
{
    struct running r;
    stamp_reflector rep;
    svc_stamp_config cfg = {.table_size = 8};
    int a;

    start(&r, &cfg);
    a = client();
    for (uint16_t ssid = 1; ssid <= 8; ssid++)
        CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 0, ssid, 44, &rep), 44);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 1, 2, 44, &rep), 44);
    CHECK_EQ(rep.seq, 1);
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_SESSIONS_EVICTED), 0);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 0, 9, 44, &rep), 44); /* evicts ssid 1 */
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_SESSIONS_EVICTED), 1);
    CHECK_EQ(svc_stamp_sessions(r.env.stamp, mono_ms()), 8);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 1, 1, 44, &rep), 44);
    CHECK_EQ(rep.seq, 0); /* ssid 1 was forgotten */
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 2, 2, 44, &rep), 44);
    close(a);
    stop(&r);
}

SK_TEST(stamp_sessions_expire)
{
    struct running r;
    stamp_reflector rep;
    svc_stamp_config cfg = {.idle_ms = 200};
    int a;

    start(&r, &cfg);
    a = client();
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 0, 1, 44, &rep), 44);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 1, 1, 44, &rep), 44);
    CHECK_EQ(rep.seq, 1);
    sk_test_sleep_ms(600);
    CHECK_EQ(svc_stamp_sessions(r.env.stamp, mono_ms()), 0);
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 2, 1, 44, &rep), 44);
    CHECK_EQ(rep.seq, 0); /* a new session */
    close(a);
    stop(&r);
}

SK_TEST(stamp_drops_counted)
{
    struct running r;
    stamp_reflector rep;
    svc_stamp_config cfg = {.auth = true};
    stamp_key other;
    int a;

    for (size_t i = 0; i < 32; i++)
        cfg.key.bytes[i] = (unsigned char)(i * 7);
    cfg.key.len = 32;
    other = cfg.key;
    other.bytes[3] ^= 1;
    start(&r, &cfg);
    a = client();
    CHECK_EQ(ask(a, &r.at, STAMP_AUTH, &cfg.key, 5, 1, 112, &rep), 112);
    CHECK_EQ(rep.sender_seq, 5);
    CHECK_EQ(ask(a, &r.at, STAMP_AUTH, &other, 6, 1, 112, &rep), -1);   /* bad HMAC */
    CHECK_EQ(ask(a, &r.at, STAMP_UNAUTH, NULL, 7, 1, 44, &rep), -1);    /* short here */
    no_reply(a, 100);
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_REFLECTED), 1);
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_DROP_HMAC), 1);
    CHECK_EQ(svc_stamp_count(r.env.stamp, SVC_STAMP_DROP_SHORT), 1);
    close(a);
    stop(&r);
}

SK_TEST(stamp_config_and_names)
{
    svc_stamp_config cfg = {.auth = true};
    svc_stamp *s;

    cfg.key.len = 15;
    CHECK_ERR(svc_stamp_new(&s, &cfg), -EINVAL);
    cfg.key.len = 65;
    CHECK_ERR(svc_stamp_new(&s, &cfg), -EINVAL);
    for (int c = 0; c < SVC_STAMP_NCOUNTERS; c++)
        CHECK(svc_stamp_counter_name((svc_stamp_counter)c) != NULL);
    CHECK_STR(svc_stamp_counter_name(SVC_STAMP_REFLECTED), "reflected");
    CHECK_STR(svc_stamp_counter_name(SVC_STAMP_NCOUNTERS), "unknown");
    CHECK_EQ(svc_stamp_count(NULL, SVC_STAMP_REFLECTED), 0);
    CHECK_EQ(svc_stamp_sessions(NULL, 0), 0);
}
