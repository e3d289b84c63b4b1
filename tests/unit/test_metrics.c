/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_metrics.c - the request reader of `sockit serve --metrics`
 * (cli/metrics.c: metrics_request_status), fed whole and in every prefix,
 * and the exposition text of a running server with a PROXY-protocol
 * listener (metrics_start, metrics_render).
 */
#include "sk_test.h"

#include "metrics.h"

#include <pthread.h>

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
    CHECK_EQ(metrics_start(&m, "127.0.0.1:0", srv, svcs, 2, NULL), 0);
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
