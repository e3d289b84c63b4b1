/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_metrics.c - the request reader of `sockit serve --metrics`
 * (cli/metrics.c: metrics_request_status), fed whole and in every prefix,
 * and the exposition text of a running server with a PROXY-protocol
 * listener (metrics_start, metrics_render), and the per-service count of
 * datagrams a handler leaves unanswered (sk_dgram_drop), which the
 * endpoint reports as sockit_datagrams_dropped_total{reason="guard"}.
 */
#include "sk_test.h"

#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static void check_request(const char *req, int want)
{
    size_t len = strlen(req);

    /* Every proper prefix before the blank line is "not yet". */
    for (size_t k = 0; k < len; k++) {
        int rc = metrics_request_status(req, k);

        if (rc != 0 && rc != want)
            sk_test_fail(__FILE__, __LINE__, "prefix %zu of \"%s\" gave %d", k, req, rc);
    }
    CHECK_EQ(metrics_request_status(req, len), want);
}

SK_TEST(request_status)
{
    check_request("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    check_request("GET /metrics HTTP/1.0\r\n\r\n", 200);
    check_request("GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200);
    check_request("GET /metrics HTTP/1.1\n\n", 200);
    check_request("GET / HTTP/1.1\r\n\r\n", 404);
    check_request("GET /metricsx HTTP/1.1\r\n\r\n", 404);
    check_request("HEAD /metrics HTTP/1.1\r\n\r\n", 404);
    check_request("POST /metrics HTTP/1.1\r\n\r\n", 404);
    check_request("GET /metrics HTTP/2.0\r\n\r\n", 400);
    check_request("GET /metrics\r\n\r\n", 400);
    check_request("get /metrics HTTP/1.1\r\n\r\n", 400);
    check_request("GET  /metrics HTTP/1.1\r\n\r\n", 400);
    check_request("GET /metrics HTTP/1.1 \r\n\r\n", 400);
    check_request("\r\n\r\n", 400);
    CHECK_EQ(metrics_request_status("GET /metrics HTTP/1.1\r\n", 23), 0);
}

static void *run_thread(void *arg)
{
    sk_server_run(arg);
    return NULL;
}

static const sk_tcp_handler nothing = { .conn_size = 0 };

SK_TEST(render_names_every_service)
{
    sk_server_config cfg = { .threads = 2, .proxy_protocol = true };
    metrics_service svcs[2] = { { "echo", true }, { "echo", false } };
    static const sk_udp_handler udp_nothing = { .on_datagram = NULL };
    serve_metrics *m;
    sk_server *srv;
    sk_addr a, bound;
    pthread_t t;
    char *text;
    size_t len;

    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_tcp(srv, &a, 0, &nothing, NULL, &bound));
    CHECK_OK(sk_server_add_udp(srv, &a, 0, &udp_nothing, NULL, NULL));
    CHECK_EQ(metrics_start(&m, "127.0.0.1:0", srv, svcs, 2, NULL, NULL), 0);
    CHECK_EQ(pthread_create(&t, NULL, run_thread, srv), 0);
    CHECK_OK(metrics_render(m, &text, &len));
    CHECK_EQ(strlen(text), len);
    CHECK(strstr(text, "sockit_connections_total{service=\"echo\",proto=\"tcp\"} 0\n") != NULL);
    CHECK(strstr(text, "sockit_proxy_headers_total{service=\"echo\",proto=\"tcp\","
                       "result=\"invalid\"} 0\n") != NULL);
    CHECK(strstr(text, "sockit_datagrams_received_total{service=\"echo\",proto=\"udp\"} 0\n")
          != NULL);
    CHECK(strstr(text, "sockit_build_info{version=\"" SK_VERSION_STRING "\"} 1\n") != NULL);
    CHECK(strstr(text, "process_start_time_seconds ") != NULL);
    free(text);
    sk_server_shutdown(srv);
    CHECK_EQ(pthread_join(t, NULL), 0);
    metrics_stop(m);
    sk_server_free(srv);
}

/* A UDP handler that answers "r..." and drops the rest on purpose. */
static void answer_or_drop(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    (void)from;
    if (len > 0 && ((const char *)data)[0] == 'r') {
        CHECK_OK(sk_dgram_reply(d, data, len));
        sk_dgram_drop(d); /* ignored after a reply */
        return;
    }
    sk_dgram_drop(d);
    sk_dgram_drop(d); /* counted once */
    CHECK_ERR(sk_dgram_reply(d, "x", 1), -EALREADY);
}

SK_TEST(dgram_drop_counts_per_service)
{
    static const sk_udp_handler h = { .on_datagram = answer_or_drop };
    sk_server_config cfg = { .threads = 1 };
    sk_server_stats st = SK_SERVER_STATS_INIT;
    sk_server *srv;
    sk_addr a, bound;
    pthread_t t;
    char buf[16];
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { 10, 0 };

    CHECK(fd >= 0);
    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_udp(srv, &a, 0, &h, NULL, &bound));
    CHECK_EQ(pthread_create(&t, NULL, run_thread, srv), 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(sendto(fd, "drop", 4, 0, &bound.u.sa, bound.len), 4);
    CHECK_EQ(sendto(fd, "drop", 4, 0, &bound.u.sa, bound.len), 4);
    CHECK_EQ(sendto(fd, "reply", 5, 0, &bound.u.sa, bound.len), 5);
    CHECK_EQ(recv(fd, buf, sizeof(buf), 0), 5); /* after both drops: one batch or in order */
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(sk_server_stats_get_service(srv, 0, &st));
        if (st.datagrams_out == 1)
            break;
        usleep(10000);
    }
    CHECK_EQ(st.datagrams_in, 3);
    CHECK_EQ(st.datagrams_refused, 2);
    CHECK_EQ(st.datagrams_out, 1);
    sk_server_shutdown(srv);
    CHECK_EQ(pthread_join(t, NULL), 0);
    sk_server_free(srv);
    close(fd);
}
