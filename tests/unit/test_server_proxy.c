/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_server_proxy.c - the server framework with
 * sk_server_config.proxy_protocol on loopback: the header's client address
 * becomes sk_conn_peer and is what max_per_source counts, the bytes after
 * the header reach on_data, and an invalid, late, truncated or forbidden
 * header closes the connection before on_open (so before any byte is
 * sent); the per-service counters (sk_server_stats_get_service) say which.
 *
 * The handler greets in on_open (as daytime does), so "no byte before the
 * header" is observable, and echoes what it gets.
 */
#define _GNU_SOURCE
#include "sk_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the handler ---------------------------------------------------------- */

static char opened_peer[SK_ADDRSTRLEN], opened_local[SK_ADDRSTRLEN], opened_via[SK_ADDRSTRLEN];
static atomic_int opens;

static void greet_open(sk_conn *c)
{
    const sk_addr *via = sk_conn_via(c);

    sk_addr_format(sk_conn_peer(c), opened_peer, sizeof(opened_peer));
    sk_addr_format(sk_conn_local(c), opened_local, sizeof(opened_local));
    if (via != NULL)
        sk_addr_format(via, opened_via, sizeof(opened_via));
    else
        strcpy(opened_via, "none");
    atomic_fetch_add(&opens, 1);
    sk_conn_write(c, "G\n", 2);
}

static size_t echo_data(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);

    return n > 0 ? (size_t)n : 0;
}

static const sk_tcp_handler greet_echo = { .on_open = greet_open, .on_data = echo_data };

/* ---- running a server in a thread ------------------------------------------- */

struct running {
    sk_server *srv;
    sk_addr tcp;
    pthread_t thread;
    int rc;
};

static void *run_thread(void *arg)
{
    struct running *r = arg;

    r->rc = sk_server_run(r->srv);
    return NULL;
}

static void server_start(struct running *r, sk_server_config *cfg)
{
    sk_addr any;

    memset(r, 0, sizeof(*r));
    cfg->proxy_protocol = true;
    cfg->threads = 1;
    CHECK_OK(sk_addr_from_ip(&any, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&r->srv, cfg));
    CHECK_OK(sk_server_add_tcp(r->srv, &any, 0, &greet_echo, NULL, &r->tcp));
    CHECK_EQ(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void server_stop(struct running *r)
{
    sk_server_shutdown(r->srv);
    CHECK_EQ(pthread_join(r->thread, NULL), 0);
    CHECK_OK(r->rc);
    sk_server_free(r->srv);
}

static sk_server_stats svc_stats(struct running *r)
{
    sk_server_stats st = SK_SERVER_STATS_INIT;

    CHECK_OK(sk_server_stats_get_service(r->srv, 0, &st));
    return st;
}

/* ---- a client ------------------------------------------------------------------ */

static int client_connect(const sk_addr *to)
{
    struct timeval tv = { 20, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(connect(fd, &to->u.sa, to->len), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    CHECK_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void expect_bytes(int fd, const char *want)
{
    char buf[256];
    size_t len = strlen(want), got = 0;

    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);

        CHECK_INT(n, >, 0);
        got += (size_t)n;
    }
    CHECK_MEM(buf, want, len);
}

/* The server closed without sending a byte: EOF or a reset first. */
static void expect_closed_silently(int fd)
{
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);

    if (n > 0)
        sk_test_fail(__FILE__, __LINE__, "got %zd bytes before the close", n);
    CHECK(n == 0 || errno == ECONNRESET);
}

/* ---- scenarios ---------------------------------------------------------------------- */

SK_TEST(v1_header_names_the_client)
{
    sk_server_config cfg = { .max_per_source = 10 };
    struct running r;
    int fd;

    server_start(&r, &cfg);
    fd = client_connect(&r.tcp);
    /* The header and the first request in one segment. */
    send_str(fd, "PROXY TCP4 192.0.2.1 198.51.100.7 5000 8007\r\nhello");
    expect_bytes(fd, "G\nhello");
    CHECK_STR(opened_peer, "192.0.2.1:5000");
    CHECK_STR(opened_local, "198.51.100.7:8007");
    CHECK(strncmp(opened_via, "127.0.0.1:", 10) == 0);
    close(fd);
    WAIT_FOR(svc_stats(&r).active == 0, 10);
    CHECK_EQ(svc_stats(&r).proxy_proxied, 1);
    CHECK_EQ(svc_stats(&r).accepted, 1);
    CHECK_EQ(svc_stats(&r).bytes_in, 5);
    server_stop(&r);
}

SK_TEST(v2_header_in_single_bytes_and_local)
{
    static const unsigned char v2[] = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
        0x21, 0x11, 0x00, 0x0C, 10, 1, 2, 3, 127, 0, 0, 1, 0x30, 0x39, 0x1f, 0x47,
    };
    static const unsigned char local[] = {
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
        0x20, 0x00, 0x00, 0x00,
    };
    sk_server_config cfg = {0};
    struct running r;
    int fd;

    server_start(&r, &cfg);
    fd = client_connect(&r.tcp);
    for (size_t i = 0; i < sizeof(v2); i++) {
        CHECK_EQ(send(fd, v2 + i, 1, MSG_NOSIGNAL), 1);
        sk_test_sleep_ms(2);
    }
    expect_bytes(fd, "G\n");
    CHECK_STR(opened_peer, "10.1.2.3:12345");
    close(fd);
    fd = client_connect(&r.tcp);
    CHECK_EQ(send(fd, local, sizeof(local), MSG_NOSIGNAL), (ssize_t)sizeof(local));
    expect_bytes(fd, "G\n");
    CHECK(strncmp(opened_peer, "127.0.0.1:", 10) == 0); /* its own address */
    CHECK_STR(opened_via, "none");
    close(fd);
    WAIT_FOR(svc_stats(&r).proxy_local == 1, 10);
    CHECK_EQ(svc_stats(&r).proxy_proxied, 1);
    server_stop(&r);
}

SK_TEST(invalid_header_closes_before_on_open)
{
    sk_server_config cfg = {0};
    struct running r;
    int fd;

    atomic_store(&opens, 0);
    server_start(&r, &cfg);
    fd = client_connect(&r.tcp);
    send_str(fd, "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\nhello");
    expect_closed_silently(fd);
    close(fd);
    fd = client_connect(&r.tcp);
    send_str(fd, "GET / HTTP/1.0\r\n\r\n");
    expect_closed_silently(fd);
    close(fd);
    WAIT_FOR(svc_stats(&r).proxy_invalid == 2, 10);
    CHECK_EQ(atomic_load(&opens), 0);
    CHECK_EQ(svc_stats(&r).accepted, 0);
    server_stop(&r);
}

SK_TEST(late_or_truncated_header_closes)
{
    sk_server_config cfg = { .proxy_timeout = 0.3 };
    struct running r;
    double t0;
    int fd;

    atomic_store(&opens, 0);
    server_start(&r, &cfg);
    fd = client_connect(&r.tcp);
    send_str(fd, "PROXY TCP4 1.2.3.4");
    t0 = sk_test_now();
    expect_closed_silently(fd);
    CHECK_TIME(sk_test_now() - t0, 0.2, 15.0);
    close(fd);
    fd = client_connect(&r.tcp);
    send_str(fd, "PROXY TCP4 1.2.3.4");
    shutdown(fd, SHUT_WR);
    expect_closed_silently(fd);
    close(fd);
    WAIT_FOR(svc_stats(&r).proxy_truncated == 1, 10);
    CHECK_EQ(svc_stats(&r).proxy_timeout, 1);
    CHECK_EQ(atomic_load(&opens), 0);
    server_stop(&r);
}

SK_TEST(source_outside_allow_list_is_refused)
{
    sk_cidr only[1];
    sk_server_config cfg = { .proxy_from = only, .proxy_from_count = 1 };
    struct running r;
    int fd;

    CHECK_OK(sk_cidr_parse(&only[0], "10.0.0.0/8"));
    server_start(&r, &cfg);
    fd = client_connect(&r.tcp);
    send_str(fd, "PROXY TCP4 192.0.2.1 198.51.100.7 5000 8007\r\n");
    expect_closed_silently(fd);
    close(fd);
    WAIT_FOR(svc_stats(&r).refused_proxy_source == 1, 10);
    CHECK_EQ(svc_stats(&r).accepted, 0);
    server_stop(&r);
}

SK_TEST(per_source_limit_counts_the_client)
{
    sk_server_config cfg = { .max_per_source = 1 };
    struct running r;
    int a, b, c;

    server_start(&r, &cfg);
    a = client_connect(&r.tcp);
    send_str(a, "PROXY TCP4 192.0.2.1 198.51.100.7 5000 8007\r\n");
    expect_bytes(a, "G\n");
    b = client_connect(&r.tcp);
    send_str(b, "PROXY TCP4 192.0.2.1 198.51.100.7 5001 8007\r\n");
    expect_closed_silently(b);
    c = client_connect(&r.tcp);
    send_str(c, "PROXY TCP4 192.0.2.2 198.51.100.7 5000 8007\r\n");
    expect_bytes(c, "G\n");
    CHECK_EQ(svc_stats(&r).refused_limit, 1);
    CHECK_EQ(svc_stats(&r).accepted, 2);
    close(a);
    close(b);
    close(c);
    server_stop(&r);
}

SK_TEST(stats_per_service_index)
{
    sk_server_config cfg = {0};
    sk_server_stats st = SK_SERVER_STATS_INIT;
    struct running r;

    server_start(&r, &cfg);
    CHECK_ERR(sk_server_stats_get_service(r.srv, 1, &st), -ENOENT);
    CHECK_OK(sk_server_stats_get_service(r.srv, 0, &st));
    CHECK_EQ(st.accepted, 0);
    server_stop(&r);
}

SK_TEST(config_rejects_bad_proxy_settings)
{
    sk_server_config cfg = { .proxy_timeout = -1 };
    sk_server *srv;

    CHECK_ERR(sk_server_new(&srv, &cfg), -EINVAL);
    cfg.proxy_timeout = 0;
    cfg.proxy_from_count = 2; /* without the array */
    CHECK_ERR(sk_server_new(&srv, &cfg), -EINVAL);
}
