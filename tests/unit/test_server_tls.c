/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_server_tls.c - the server framework's TLS stage on
 * loopback (sk_server_set_tls): the handshake runs before on_open and the
 * handler sees plaintext both ways; a large echo goes through the bounded
 * buffers byte-exact; plaintext, silence past the handshake timeout and
 * an early end of stream close the connection before on_open (no byte
 * sent) and are counted by reason; a handshake in progress holds its
 * per-source slot; the PROXY header comes before the handshake; a
 * context replaced while the server runs serves the new certificate to
 * new connections while an old one goes on; mutual TLS.  The clients are
 * libsockit's own TLS client (sk_tls_connect, sk_tls_wrap); the peers from
 * outside the project are in tests/integration/test_serve_tls.py.
 */
#define _GNU_SOURCE
#include "sk_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- certificates (sk_test_cert: tests/tlscerts.py, once per process) ---- */

static sk_tls_ctx *server_ctx(const char *name)
{
    sk_tls_ctx *ctx;

    CHECK_OK(sk_tls_ctx_new(&ctx, SK_TLS_SERVER));
    CHECK_OK(sk_tls_ctx_load_cert_chain(ctx, sk_test_cert(name, ".pem"), sk_test_cert(name, ".key")));
    return ctx;
}

static sk_tls_ctx *client_ctx(void)
{
    sk_tls_ctx *ctx;

    CHECK_OK(sk_tls_ctx_new(&ctx, SK_TLS_CLIENT));
    CHECK_OK(sk_tls_ctx_load_verify_locations(ctx, sk_test_cert("ca", ".pem"), NULL));
    return ctx;
}

/* ---- the handler: greets in on_open, then echoes -------------------------------- */

static char opened_version[32], opened_peer[SK_ADDRSTRLEN], opened_alpn[16];
static unsigned char opened_key[32];
static int opened_export_rc = 1;
static atomic_int opens;

static void greet_open(sk_conn *c)
{
    const char *v = sk_conn_tls_version(c), *alpn = sk_conn_tls_alpn(c);

    snprintf(opened_alpn, sizeof opened_alpn, "%s", alpn != NULL ? alpn : "none");
    opened_export_rc = sk_conn_tls_export_keying_material(c, "EXPORTER-sockit-test", "ab", 2,
                                                          opened_key, sizeof opened_key);

    snprintf(opened_version, sizeof opened_version, "%s", v != NULL ? v : "none");
    sk_addr_format(sk_conn_peer(c), opened_peer, sizeof(opened_peer));
    atomic_fetch_add(&opens, 1);
    sk_conn_write(c, "G\n", 2);
}

static size_t echo_data(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);

    return n > 0 ? (size_t)n : 0;
}

static const sk_tcp_handler greet_echo = { .on_open = greet_open, .on_data = echo_data };

/* ---- a server in a thread: service 0 over TLS, service 1 plain --------------------- */

struct running {
    sk_server *srv;
    sk_addr tls, plain;
    pthread_t thread;
    int rc;
};

static void *run_thread(void *arg)
{
    struct running *r = arg;

    r->rc = sk_server_run(r->srv);
    return NULL;
}

static void server_start(struct running *r, sk_server_config *cfg, sk_tls_ctx *ctx)
{
    sk_addr any;

    memset(r, 0, sizeof(*r));
    atomic_store(&opens, 0);
    cfg->size = sizeof(*cfg);
    cfg->threads = 1;
    CHECK_OK(sk_addr_from_ip(&any, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&r->srv, cfg));
    CHECK_OK(sk_server_add_tcp(r->srv, &any, 0, &greet_echo, NULL, &r->tls));
    CHECK_OK(sk_server_add_tcp(r->srv, &any, 0, &greet_echo, NULL, &r->plain));
    CHECK_OK(sk_server_set_tls(r->srv, 0, ctx));
    sk_tls_ctx_free(ctx); /* the server holds its own reference */
    CHECK_EQ(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void server_stop(struct running *r)
{
    sk_server_shutdown(r->srv);
    CHECK_EQ(pthread_join(r->thread, NULL), 0);
    CHECK_OK(r->rc);
    sk_server_free(r->srv);
}

static sk_server_stats svc_stats(struct running *r, size_t index)
{
    sk_server_stats st = SK_SERVER_STATS_INIT;

    CHECK_OK(sk_server_stats_get_service(r->srv, index, &st));
    return st;
}

/* Server-wide open connections, those in their handshake included. */
static uint64_t all_active(struct running *r)
{
    sk_server_stats st = SK_SERVER_STATS_INIT;

    sk_server_stats_get(r->srv, &st);
    return st.active;
}

static const char *port_of(const sk_addr *a)
{
    static char buf[8];

    snprintf(buf, sizeof buf, "%d", sk_addr_port(a));
    return buf;
}

static sk_sock *tls_client(struct running *r, sk_tls_ctx *cc)
{
    sk_sock *s;
    char buf[2];

    CHECK_OK(sk_tls_connect(&s, "127.0.0.1", port_of(&r->tls), cc, 20.0));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 2), 2);
    CHECK_MEM(buf, "G\n", 2);
    return s;
}

static int raw_connect(const sk_addr *to)
{
    struct timeval tv = { 20, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    CHECK_EQ(connect(fd, &to->u.sa, to->len), 0);
    return fd;
}

/* The server closed without sending a byte (or only a TLS alert, for a
 * peer that is not speaking TLS: never a byte of the service). */
static void expect_no_greeting(int fd)
{
    char buf[256];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        CHECK(memmem(buf, (size_t)n, "G\n", 2) == NULL);
    CHECK(n == 0 || errno == ECONNRESET);
}

/* ---- scenarios -------------------------------------------------------------------- */

SK_TEST(handshake_before_on_open_then_plaintext)
{
    sk_server_config cfg = {0};
    sk_tls_ctx *cc = client_ctx();
    struct running r;
    sk_sock *s;
    char buf[16];
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    s = tls_client(&r, cc);
    CHECK_STR(opened_version, "TLSv1.3");
    CHECK_OK(sk_sock_sendall(s, "hello", 5, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 5), 5);
    CHECK_MEM(buf, "hello", 5);
    sk_sock_free(s);
    /* The plain service of the same server is untouched. */
    fd = raw_connect(&r.plain);
    CHECK_EQ(recv(fd, buf, 2, MSG_WAITALL), 2);
    CHECK_MEM(buf, "G\n", 2);
    CHECK_STR(opened_version, "none");
    close(fd);
    WAIT_FOR(svc_stats(&r, 0).active == 0 && svc_stats(&r, 1).active == 0, 10);
    CHECK_EQ(svc_stats(&r, 0).tls_full, 1);
    CHECK_EQ(svc_stats(&r, 0).tls_v13, 1);
    CHECK_EQ(svc_stats(&r, 0).bytes_in, 5);      /* plaintext */
    CHECK_EQ(svc_stats(&r, 0).bytes_out, 7);
    CHECK_EQ(svc_stats(&r, 1).tls_full, 0);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

/* 4 MiB through a 16 KiB conn_buffer: the client sends a chunk, then reads
 * the echo of it, so both directions fill and drain many times. */
SK_TEST(large_echo_through_bounded_buffers)
{
    sk_server_config cfg = { .conn_buffer = 16384 };
    sk_tls_ctx *cc = client_ctx();
    static unsigned char out[65536], back[65536];
    struct running r;
    sk_sock *s;

    server_start(&r, &cfg, server_ctx("server"));
    s = tls_client(&r, cc);
    for (int round = 0; round < 64; round++) {
        for (size_t i = 0; i < sizeof(out); i++)
            out[i] = (unsigned char)(i * 7 + (size_t)round);
        CHECK_OK(sk_sock_sendall(s, out, sizeof(out), NULL));
        CHECK_EQ(sk_frame_recv_exact(s, back, sizeof(back)), (ssize_t)sizeof(back));
        CHECK(memcmp(out, back, sizeof(out)) == 0);
    }
    sk_sock_free(s);
    WAIT_FOR(svc_stats(&r, 0).active == 0, 10);
    CHECK_EQ(svc_stats(&r, 0).bytes_in, 64 * 65536);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

SK_TEST(plaintext_closed_before_on_open)
{
    sk_server_config cfg = {0};
    struct running r;
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    fd = raw_connect(&r.tls);
    CHECK_EQ(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), 18);
    expect_no_greeting(fd);
    close(fd);
    WAIT_FOR(svc_stats(&r, 0).tls_failed_not_tls + svc_stats(&r, 0).tls_failed_handshake == 1,
             10);
    CHECK_EQ(atomic_load(&opens), 0);
    CHECK_EQ(svc_stats(&r, 0).accepted, 0);
    /* A client that goes away mid-handshake. */
    fd = raw_connect(&r.tls);
    close(fd);
    WAIT_FOR(svc_stats(&r, 0).tls_failed_eof == 1, 10);
    server_stop(&r);
}

/* A client that resets the connection in mid-handshake (half a
 * ClientHello, then RST): the server's read fails, the connection is
 * counted and closed, and the server goes on serving. */
SK_TEST(reset_in_mid_handshake)
{
    static const unsigned char hello_start[] = {
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    };
    sk_server_config cfg = {0};
    sk_tls_ctx *cc = client_ctx();
    struct linger lg = { 1, 0 };
    struct running r;
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    fd = raw_connect(&r.tls);
    CHECK_EQ(send(fd, hello_start, sizeof(hello_start), MSG_NOSIGNAL),
             (ssize_t)sizeof(hello_start));
    WAIT_FOR(all_active(&r) == 1, 10);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
    WAIT_FOR(all_active(&r) == 0, 10);
    CHECK_EQ(svc_stats(&r, 0).tls_failed_eof + svc_stats(&r, 0).tls_failed_error, 1);
    CHECK_EQ(atomic_load(&opens), 0);
    sk_sock_free(tls_client(&r, cc));
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

SK_TEST(silent_client_times_out)
{
    sk_server_config cfg = { .tls_handshake_timeout = 0.3 };
    struct running r;
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    fd = raw_connect(&r.tls);
    expect_no_greeting(fd);
    close(fd);
    CHECK_EQ(svc_stats(&r, 0).tls_timeout, 1);
    CHECK_EQ(atomic_load(&opens), 0);
    server_stop(&r);
}

SK_TEST(handshake_in_progress_holds_its_source_slot)
{
    sk_server_config cfg = { .max_per_source = 1 };
    sk_tls_ctx *cc = client_ctx();
    struct running r;
    sk_sock *s;
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    fd = raw_connect(&r.tls); /* never says hello */
    WAIT_FOR(all_active(&r) == 1, 10); /* accepted, in its handshake */
    CHECK_INT(sk_tls_connect(&s, "127.0.0.1", port_of(&r.tls), cc, 5.0), <, 0);
    CHECK_INT(svc_stats(&r, 0).refused_limit, >=, 1);
    close(fd);
    /* Once the slot is free the next client gets through. */
    WAIT_FOR(svc_stats(&r, 0).tls_failed_eof == 1, 10);
    CHECK_OK(sk_tls_connect(&s, "127.0.0.1", port_of(&r.tls), cc, 5.0));
    sk_sock_free(s);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

SK_TEST(proxy_header_then_handshake)
{
    sk_server_config cfg = { .proxy_protocol = true };
    sk_tls_ctx *cc = client_ctx();
    struct running r;
    sk_sock *s;
    char buf[8];
    int fd;

    server_start(&r, &cfg, server_ctx("server"));
    fd = raw_connect(&r.tls);
    CHECK_EQ(send(fd, "PROXY TCP4 192.0.2.1 198.51.100.7 5000 9007\r\n", 45, MSG_NOSIGNAL),
             45);
    CHECK_OK(sk_sock_from_fd(&s, fd));
    CHECK_OK(sk_sock_settimeout(s, 20.0));
    CHECK_OK(sk_tls_wrap(s, cc, "localhost"));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 2), 2);
    CHECK_MEM(buf, "G\n", 2);
    CHECK_STR(opened_peer, "192.0.2.1:5000");
    CHECK_OK(sk_sock_sendall(s, "abc", 3, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 3), 3);
    CHECK_MEM(buf, "abc", 3);
    sk_sock_free(s);
    WAIT_FOR(svc_stats(&r, 0).active == 0, 10);
    CHECK_EQ(svc_stats(&r, 0).proxy_proxied, 1);
    CHECK_EQ(svc_stats(&r, 0).tls_full, 1);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

SK_TEST(context_replaced_while_running)
{
    sk_server_config cfg = {0};
    sk_tls_ctx *cc = client_ctx(), *next;
    sk_tls_cert_info info = {.size = sizeof info};
    struct running r;
    sk_sock *old, *s;
    char buf[4];

    server_start(&r, &cfg, server_ctx("server"));
    old = tls_client(&r, cc);
    CHECK_OK(sk_tls_peer_cert(old, &info));
    CHECK_STR(info.serial, "5001");
    next = server_ctx("server2");
    CHECK_OK(sk_server_set_tls(r.srv, 0, next));
    sk_tls_ctx_free(next);
    s = tls_client(&r, cc);
    CHECK_OK(sk_tls_peer_cert(s, &info));
    CHECK(strcmp(info.serial, "5001") != 0);
    sk_sock_free(s);
    /* The connection made on the old context goes on. */
    CHECK_OK(sk_sock_sendall(old, "old", 3, NULL));
    CHECK_EQ(sk_frame_recv_exact(old, buf, 3), 3);
    CHECK_MEM(buf, "old", 3);
    sk_sock_free(old);
    /* A plain service cannot become TLS while running; a client context
     * or a UDP-less index are refused. */
    next = server_ctx("server");
    CHECK_ERR(sk_server_set_tls(r.srv, 1, next), -EBUSY);
    CHECK_ERR(sk_server_set_tls(r.srv, 0, NULL), -EBUSY);
    CHECK_ERR(sk_server_set_tls(r.srv, 7, next), -ENOENT);
    CHECK_ERR(sk_server_set_tls(r.srv, 0, cc), -EINVAL);
    sk_tls_ctx_free(next);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}

SK_TEST(mutual_tls)
{
    sk_server_config cfg = {0};
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx(), *mine = client_ctx();
    struct running r;
    sk_sock *s;
    char buf[2];
    int err;

    CHECK_OK(sk_tls_ctx_load_verify_locations(sc, sk_test_cert("ca", ".pem"), NULL));
    CHECK_OK(sk_tls_ctx_set_verify_mode(sc, SK_TLS_VERIFY_REQUIRED));
    CHECK_OK(sk_tls_ctx_load_cert_chain(mine, sk_test_cert("client", ".pem"), sk_test_cert("client", ".key")));
    server_start(&r, &cfg, sc);
    /* Without a certificate: TLS 1.3 refuses after the client's Finished,
     * so the refusal shows on the first read. */
    err = sk_tls_connect(&s, "127.0.0.1", port_of(&r.tls), cc, 20.0);
    if (err == 0) {
        CHECK_INT(sk_frame_recv_exact(s, buf, 2), <, 0);
        sk_sock_free(s);
    }
    WAIT_FOR(svc_stats(&r, 0).tls_failed_handshake + svc_stats(&r, 0).tls_failed_verify == 1,
             10);
    CHECK_EQ(atomic_load(&opens), 0);
    s = tls_client(&r, mine);
    sk_sock_free(s);
    server_stop(&r);
    sk_tls_ctx_free(cc);
    sk_tls_ctx_free(mine);
}

static void ignore_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    (void)d, (void)data, (void)len, (void)from;
}

static const sk_udp_handler quiet_udp = { .on_datagram = ignore_datagram };

SK_TEST(set_tls_before_run)
{
    sk_server_config cfg = { .threads = 1 };
    sk_tls_ctx *sc = server_ctx("server");
    sk_server *srv;
    sk_addr any;

    CHECK_OK(sk_addr_from_ip(&any, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_ERR(sk_server_set_tls(srv, 0, sc), -ENOENT);
    CHECK_OK(sk_server_add_udp(srv, &any, 0, &quiet_udp, NULL, NULL));
    CHECK_ERR(sk_server_set_tls(srv, 0, sc), -EINVAL);
    sk_server_free(srv);
    CHECK_OK(sk_server_new(&srv, &cfg));
    CHECK_OK(sk_server_add_tcp(srv, &any, 0, &greet_echo, NULL, NULL));
    CHECK_OK(sk_server_set_tls(srv, 0, sc));
    CHECK_OK(sk_server_set_tls(srv, 0, NULL)); /* plain again */
    CHECK_OK(sk_server_set_tls(srv, 0, sc));
    sk_server_free(srv); /* drops the server's reference */
    sk_tls_ctx_free(sc);
    cfg.tls_handshake_timeout = -1.0;
    CHECK_ERR(sk_server_new(&srv, &cfg), -EINVAL);
}

/* A handler sees the ALPN agreed and exports the same keying material as
 * the client (what the NTS key exchange needs); a plain service has none. */
SK_TEST(alpn_and_exporter_in_the_handler)
{
    static const char *const alpn[] = {"ntske/1"};
    sk_server_config cfg = {0};
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();
    unsigned char mine[32];
    struct running r;
    sk_sock *s;
    int fd;

    CHECK_OK(sk_tls_ctx_set_alpn_protocols(sc, alpn, 1));
    CHECK_OK(sk_tls_ctx_set_alpn_protocols(cc, alpn, 1));
    server_start(&r, &cfg, sc);
    s = tls_client(&r, cc);
    CHECK_STR(opened_alpn, "ntske/1");
    CHECK_EQ(opened_export_rc, 0);
    CHECK_OK(sk_tls_export_keying_material(s, "EXPORTER-sockit-test", "ab", 2, mine,
                                           sizeof mine));
    CHECK_MEM(mine, opened_key, sizeof mine);
    sk_sock_free(s);
    fd = raw_connect(&r.plain);
    CHECK_EQ(recv(fd, mine, 2, MSG_WAITALL), 2);
    CHECK_STR(opened_alpn, "none");
    CHECK_EQ(opened_export_rc, -EINVAL);
    close(fd);
    server_stop(&r);
    sk_tls_ctx_free(cc);
}
