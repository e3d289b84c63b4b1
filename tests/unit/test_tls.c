/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_tls.c - TLS contexts and wrapped sockets on loopback: a
 * server thread on libsockit's own server context faces a client on its
 * client context.  Certificates come from tests/tlscerts.py (the openssl
 * command), made afresh for each scenario.  The peers outside the project
 * (openssl s_server/s_client, Python's ssl, GnuTLS) are in
 * tests/integration/test_tls.py.
 */
#include "sk_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/select.h>
#include <unistd.h>

/* ---- certificates (sk_test_cert: tests/tlscerts.py, once per process) ---- */

static sk_tls_ctx *server_ctx(const char *name)
{
    sk_tls_ctx *ctx;

    sk_test_cert("ca", ".pem"); /* skips in a build without TLS */
    CHECK_OK(sk_tls_ctx_new(&ctx, SK_TLS_SERVER));
    CHECK_OK(sk_tls_ctx_load_cert_chain(ctx, sk_test_cert(name, ".pem"), sk_test_cert(name, ".key")));
    return ctx;
}

static sk_tls_ctx *client_ctx(void)
{
    sk_tls_ctx *ctx;

    sk_test_cert("ca", ".pem");
    CHECK_OK(sk_tls_ctx_new(&ctx, SK_TLS_CLIENT));
    CHECK_OK(sk_tls_ctx_load_verify_locations(ctx, sk_test_cert("ca", ".pem"), NULL));
    return ctx;
}

/* ---- the server thread ------------------------------------------------------ */

enum behaviour {
    ECHO,      /* echo until the client's close_notify, send ours, close */
    RAGGED,    /* send "bye", close the descriptor without close_notify */
    CLEAN,     /* send "bye", then close_notify (sk_sock_shutdown) */
    STALL,     /* never read */
    ONE_BYTE,  /* send 1000 bytes as 1000 records */
    STARTTLS,  /* echo until close_notify, unwrap, then one plain exchange */
    EXPORT,    /* send 32 bytes of exported keying material, then echo */
};

struct peer {
    sk_tls_ctx *ctx;
    sk_sock *lsock;
    char port[8];
    enum behaviour what;
    int conns;             /* connections to serve */
    atomic_int handshakes; /* that succeeded */
    atomic_int last_error; /* of a failed server handshake */
    atomic_bool stop;
    atomic_bool hold;      /* do not accept until cleared */
    pthread_t thread;
};

static void serve_echo(sk_sock *c)
{
    char buf[4096];
    ssize_t n;

    while ((n = sk_sock_recv(c, buf, sizeof buf, 0)) > 0)
        if (sk_sock_sendall(c, buf, (size_t)n, NULL) < 0)
            return;
}

/* The orderly end: close_notify waited for under the socket's timeout
 * (sk_sock_free alone sends it only if the socket takes it at once). */
static void end_clean(sk_sock *c)
{
    sk_sock_shutdown(c, SHUT_WR);
}

static void serve_one(struct peer *p, sk_sock *c)
{
    switch (p->what) {
    case ECHO:
        serve_echo(c);
        end_clean(c);
        break;
    case RAGGED:
        sk_sock_sendall(c, "bye", 3, NULL);
        close(sk_sock_detach(c));
        break;
    case CLEAN:
        sk_sock_sendall(c, "bye", 3, NULL);
        end_clean(c);
        break;
    case STALL:
        while (!p->stop)
            sk_test_sleep_ms(10);
        break;
    case ONE_BYTE:
        for (int i = 0; i < 1000; i++) {
            char b = (char)('a' + i % 26);

            if (sk_sock_send(c, &b, 1, 0) != 1)
                break;
        }
        serve_echo(c);
        break;
    case EXPORT: {
        unsigned char key[32];

        if (sk_tls_export_keying_material(c, "EXPORTER-sockit-test", "\0\0\0\x0f\0", 5,
                                          key, sizeof key) == 0)
            sk_sock_sendall(c, key, sizeof key, NULL);
        serve_echo(c);
        break;
    }
    case STARTTLS: {
        char buf[16];

        serve_echo(c);
        if (sk_tls_unwrap(c) == 0 && sk_sock_recv(c, buf, 5, 0) == 5)
            sk_sock_sendall(c, "PLAIN", 5, NULL);
        break;
    }
    }
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;

    while (p->hold && !p->stop)
        sk_test_sleep_ms(1);

    for (int i = 0; i < p->conns && !p->stop; i++) {
        sk_sock *c;

        if (sk_sock_accept(p->lsock, &c, NULL) < 0)
            break;
        sk_sock_settimeout(c, 10.0);
        int r = sk_tls_wrap(c, p->ctx, NULL);

        if (r == 0) {
            p->handshakes++;
            serve_one(p, c);
        } else
            p->last_error = r;
        sk_sock_free(c);
    }
    return NULL;
}

/* Starts the server thread; with `hold` it accepts only once p->hold is
 * cleared. */
static void peer_begin(struct peer *p, sk_tls_ctx *ctx, enum behaviour what, int conns,
                       bool hold)
{
    sk_addr a;

    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->what = what;
    p->conns = conns;
    p->hold = hold;
    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_create_server(&p->lsock, &a, SOCK_STREAM, 16, 0));
    CHECK_OK(sk_sock_getsockname(p->lsock, &a));
    snprintf(p->port, sizeof p->port, "%d", sk_addr_port(&a));
    CHECK_EQ(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_start(struct peer *p, sk_tls_ctx *ctx, enum behaviour what, int conns)
{
    peer_begin(p, ctx, what, conns, false);
}

static void peer_stop(struct peer *p)
{
    p->stop = true;
    sk_sock_shutdown(p->lsock, SHUT_RDWR);
    pthread_join(p->thread, NULL);
    sk_sock_free(p->lsock);
    sk_tls_ctx_free(p->ctx);
}

/* Connects with `ctx` to the peer, checking `name`. */
static int connect_to(struct peer *p, sk_tls_ctx *ctx, const char *name, sk_sock **out)
{
    return sk_tls_connect_ex(out, "127.0.0.1", p->port, AF_INET, ctx, name, 10.0);
}

/* ---- contexts and errors ----------------------------------------------------- */

SK_TEST(ctx_new_and_settings)
{
    sk_tls_ctx *c, *s;
    const char *alpn[] = {"h2", "http/1.1"};
    const char *bad[] = {""};

    sk_test_cert("ca", ".pem");
    CHECK(sk_tls_available());
    CHECK_ERR(sk_tls_ctx_new(&c, 3), -EINVAL);
    CHECK_OK(sk_tls_ctx_new(&c, SK_TLS_CLIENT));
    CHECK_OK(sk_tls_ctx_new(&s, SK_TLS_SERVER));
    CHECK_OK(sk_tls_ctx_set_verify_mode(c, SK_TLS_VERIFY_REQUIRED));
    CHECK_ERR(sk_tls_ctx_set_verify_mode(c, 7), -EINVAL);
    CHECK_OK(sk_tls_ctx_set_check_hostname(c, true));
    CHECK_OK(sk_tls_ctx_set_alpn_protocols(c, alpn, 2));
    CHECK_ERR(sk_tls_ctx_set_alpn_protocols(c, bad, 1), -EINVAL);
    CHECK_OK(sk_tls_ctx_set_alpn_protocols(c, NULL, 0));
    CHECK_OK(sk_tls_ctx_set_minimum_version(c, SK_TLS_VERSION_1_3));
    CHECK_ERR(sk_tls_ctx_set_minimum_version(c, 0x0200), -EINVAL);
    CHECK_OK(sk_tls_ctx_set_maximum_version(c, 0));
    CHECK_OK(sk_tls_ctx_set_resumption(c, false));
    CHECK_ERR(sk_tls_ctx_rotate_ticket_keys(c), -EINVAL);
    CHECK_OK(sk_tls_ctx_rotate_ticket_keys(s));
    CHECK_ERR(sk_tls_ctx_add_sni_cert(c, "x", sk_test_cert("other", ".pem"), NULL), -EINVAL);
    CHECK_ERR(sk_tls_ctx_load_cert_chain(s, "/nonexistent/cert.pem", NULL), -ENOENT);
    CHECK_ERR(sk_tls_ctx_load_cert_chain(s, sk_test_cert("ca", ".srl"), NULL), SK_ETLS_CERT);
    /* A key that is not the certificate's. */
    CHECK_ERR(sk_tls_ctx_load_cert_chain(s, sk_test_cert("server", ".pem"), sk_test_cert("other", ".key")),
              SK_ETLS_CERT);
    CHECK_ERR(sk_tls_ctx_load_verify_locations(c, NULL, NULL), -EINVAL);
    CHECK_ERR(sk_tls_ctx_load_verify_locations(c, "/nonexistent/ca.pem", NULL), -ENOENT);
    sk_tls_ctx_free(c);
    sk_tls_ctx_free(s);
    sk_tls_ctx_free(NULL);
}

SK_TEST(error_codes)
{
    CHECK_EQ(sk_errkind_of(SK_ETLS_VERIFY_HOSTNAME), SK_ERRKIND_TLS);
    CHECK_EQ(sk_errkind_of(SK_ETLS_UNAVAILABLE), SK_ERRKIND_TLS);
    CHECK_EQ(sk_errkind_of(SK_ETLS_EOF), SK_ERRKIND_TLS);
    CHECK_EQ(sk_errkind_of(SK_ETIMEOUT), SK_ERRKIND_TIMEOUT);
    CHECK_STR(sk_strerror(SK_ETLS_VERIFY_HOSTNAME), "certificate verify failed: hostname mismatch");
    CHECK_STR(sk_strerror(SK_ETLS_UNAVAILABLE), "built without TLS");
    CHECK_STR(sk_errname(SK_ETLS_EOF), "SK_ETLS_EOF");
    CHECK(SK_ETLS_IS_VERIFY(SK_ETLS_VERIFY_EXPIRED));
    CHECK(!SK_ETLS_IS_VERIFY(SK_ETLS_HANDSHAKE));
    /* Every verify code has a message of its own. */
    for (int c = SK_ETLS_VERIFY_UNKNOWN_ISSUER; c >= SK_ETLS_VERIFY_OTHER; c--)
        CHECK(strncmp(sk_strerror(c), "certificate verify failed", 25) == 0);
}

/* What a library built with -DSK_TLS=OFF does (skipped in a TLS build). */
SK_TEST(built_without_tls_fails_clearly)
{
    sk_tls_ctx *ctx = (sk_tls_ctx *)1;
    sk_sock *p[2], *s = (sk_sock *)1;

    if (sk_tls_available())
        SK_SKIP("this build has TLS (configure with -DSK_TLS=OFF to run this)");
    CHECK_ERR(sk_tls_ctx_new(&ctx, SK_TLS_CLIENT), SK_ETLS_UNAVAILABLE);
    CHECK(ctx == NULL);
    CHECK_ERR(sk_tls_ctx_load_cert_chain(NULL, "c", "k"), SK_ETLS_UNAVAILABLE);
    CHECK_ERR(sk_tls_ctx_rotate_ticket_keys(NULL), SK_ETLS_UNAVAILABLE);
    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
    CHECK_ERR(sk_tls_connect(&s, "127.0.0.1", "1", NULL, 1.0), -EINVAL);
    CHECK(sk_tls_version(p[0]) == NULL);
    CHECK_STR(sk_strerror(SK_ETLS_UNAVAILABLE), "built without TLS");
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* ---- handshakes --------------------------------------------------------------- */

SK_TEST(connect_echo_and_accessors)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();
    const char *alpn[] = {"sockit", "other"};
    sk_tls_cert_info info = {.size = sizeof info};
    sk_sock *s;
    char buf[64];

    CHECK_OK(sk_tls_ctx_set_alpn_protocols(sc, alpn, 1));
    CHECK_OK(sk_tls_ctx_set_alpn_protocols(cc, alpn, 2));
    peer_start(&p, sc, ECHO, 1);
    CHECK_OK(sk_tls_connect(&s, "127.0.0.1", p.port, cc, 10.0));
    CHECK_STR(sk_tls_version(s), "TLSv1.3");
    CHECK(sk_tls_cipher(s) != NULL && strncmp(sk_tls_cipher(s), "TLS_", 4) == 0);
    CHECK_STR(sk_tls_alpn(s), "sockit");
    CHECK(!sk_tls_session_reused(s));
    CHECK_EQ(sk_tls_verify_result(s), 0);
    CHECK_OK(sk_tls_peer_cert(s, &info));
    CHECK_STR(info.subject, "O=sockit test,CN=localhost");
    CHECK_STR(info.issuer, "CN=sockit test CA");
    CHECK_STR(info.sans, "IP:127.0.0.1, IP:::1, DNS:localhost");
    CHECK_STR(info.serial, "5001");
    CHECK(info.not_after - info.not_before >= 29 * 86400);
    CHECK_EQ(sk_sock_gettimeout(s) == 10.0, 1);
    CHECK_OK(sk_sock_sendall(s, "hello", 5, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 5), 5);
    CHECK_MEM(buf, "hello", 5);
    CHECK_EQ(sk_tls_pending(s), 0);
    CHECK_ERR(sk_tls_wrap(s, cc, "localhost"), -EALREADY);
    CHECK_ERR(sk_sock_recvfrom(s, buf, 1, 0, NULL), -EOPNOTSUPP);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(framing_and_file_over_tls)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;
    sk_file *f;
    char buf[64];

    peer_start(&p, server_ctx("server"), ECHO, 1);
    CHECK_OK(sk_tls_connect(&s, "localhost", p.port, cc, 10.0));
    CHECK_OK(sk_frame_send_msg(s, "message", 7));
    CHECK_OK(sk_file_open(&f, s, 256));
    CHECK_EQ(sk_frame_recv_msg(f, buf, sizeof buf), 7);
    CHECK_MEM(buf, "message", 7);
    CHECK_EQ(sk_file_write(f, "line one\n", 9), 9);
    CHECK_OK(sk_file_flush(f));
    CHECK_EQ(sk_file_readline(f, buf, sizeof buf), 9);
    CHECK_STR(buf, "line one\n");
    CHECK_OK(sk_file_close(f));
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

/* Each refusal with its own code (the server presents the named certificate). */
static void refused(const char *name, const char *servername, int code)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s = NULL;

    peer_start(&p, server_ctx(name), ECHO, 1);
    CHECK_ERR(connect_to(&p, cc, servername, &s), code);
    CHECK(s == NULL);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(refuse_wrong_name)
{
    refused("wrongname", "127.0.0.1", SK_ETLS_VERIFY_HOSTNAME);
}

SK_TEST(refuse_name_not_in_sans)
{
    refused("server", "example.org", SK_ETLS_VERIFY_HOSTNAME);
}

SK_TEST(refuse_expired)
{
    refused("expired", "localhost", SK_ETLS_VERIFY_EXPIRED);
}

SK_TEST(refuse_not_yet_valid)
{
    refused("notyet", "localhost", SK_ETLS_VERIFY_NOT_YET_VALID);
}

SK_TEST(refuse_self_signed)
{
    refused("selfsigned", "localhost", SK_ETLS_VERIFY_SELF_SIGNED);
}

SK_TEST(refuse_unknown_issuer)
{
    struct peer p;
    sk_tls_ctx *cc;
    sk_sock *s;

    sk_test_cert("ca", ".pem");
    CHECK_OK(sk_tls_ctx_new(&cc, SK_TLS_CLIENT)); /* the system store only */
    peer_start(&p, server_ctx("server"), ECHO, 1);
    CHECK_ERR(connect_to(&p, cc, "localhost", &s), SK_ETLS_VERIFY_UNKNOWN_ISSUER);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(insecure_connects_and_reports)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;

    CHECK_OK(sk_tls_ctx_set_verify_mode(cc, SK_TLS_VERIFY_NONE));
    peer_start(&p, server_ctx("wrongname"), ECHO, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_EQ(sk_tls_verify_result(s), SK_ETLS_VERIFY_HOSTNAME);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(check_hostname_needs_a_name)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;

    peer_start(&p, server_ctx("server"), ECHO, 1);
    CHECK_OK(sk_create_connection(&s, "127.0.0.1", p.port, AF_INET, 10.0, NULL));
    CHECK_ERR(sk_tls_wrap(s, cc, NULL), -EINVAL);
    CHECK(sk_tls_version(s) == NULL);
    CHECK_OK(sk_tls_ctx_set_check_hostname(cc, false));
    CHECK_OK(sk_tls_wrap(s, cc, NULL));
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(minimum_version)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();
    sk_sock *s;

    CHECK_OK(sk_tls_ctx_set_maximum_version(sc, SK_TLS_VERSION_1_2));
    CHECK_OK(sk_tls_ctx_set_minimum_version(cc, SK_TLS_VERSION_1_3));
    peer_start(&p, sc, ECHO, 2);
    int r = connect_to(&p, cc, "localhost", &s);

    /* The server's protocol_version alert is the last thing it writes
     * before it gives up: where the fault shim fails that write (EAGAIN on
     * a blocking socket, which only the shim makes), the alert never
     * leaves and the client sees the stream end instead.  Either way the
     * handshake is refused; the alert's reason is checked without the shim. */
    if (getenv("SK_FAULT_SEED") != NULL && r == SK_ETLS_EOF)
        r = SK_ETLS_VERSION;
    CHECK_ERR(r, SK_ETLS_VERSION);
    CHECK_OK(sk_tls_ctx_set_minimum_version(cc, SK_TLS_VERSION_1_2));
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_STR(sk_tls_version(s), "TLSv1.2");
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(mutual_tls)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();
    sk_sock *s;
    char buf[8];

    CHECK_OK(sk_tls_ctx_load_verify_locations(sc, sk_test_cert("ca", ".pem"), NULL));
    CHECK_OK(sk_tls_ctx_set_verify_mode(sc, SK_TLS_VERIFY_REQUIRED));
    peer_start(&p, sc, ECHO, 2);
    /* Without a certificate: TLS 1.3 finishes the client's handshake first,
     * the server's refusal arrives with the first read. */
    int r = connect_to(&p, cc, "localhost", &s);

    if (r == 0) {
        sk_sock_sendall(s, "x", 1, NULL);
        r = (int)sk_sock_recv(s, buf, 1, 0);
        sk_sock_free(s);
    }
    CHECK(r < 0);
    CHECK_EQ(sk_errkind_of(r), SK_ERRKIND_TLS);
    WAIT_FOR(p.last_error != 0, 10);
    CHECK_OK(sk_tls_ctx_load_cert_chain(cc, sk_test_cert("client", ".pem"), sk_test_cert("client", ".key")));
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_OK(sk_sock_sendall(s, "mtls", 4, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 4), 4);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(sni_chooses_certificate)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();
    sk_tls_cert_info info = {.size = sizeof info};
    sk_sock *s;

    CHECK_OK(sk_tls_ctx_add_sni_cert(sc, "OTHER.test", sk_test_cert("other", ".pem"),
                                     sk_test_cert("other", ".key")));
    peer_start(&p, sc, ECHO, 2);
    CHECK_OK(connect_to(&p, cc, "other.test", &s));
    CHECK_OK(sk_tls_peer_cert(s, &info));
    CHECK_STR(info.subject, "CN=other.test");
    sk_sock_free(s);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_OK(sk_tls_peer_cert(s, &info));
    CHECK_STR(info.subject, "O=sockit test,CN=localhost");
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

/* One connection that reads (so TLS 1.3 tickets arrive) and closes. */
static bool one_session(struct peer *p, sk_tls_ctx *cc)
{
    sk_sock *s;
    char buf[4];

    CHECK_OK(connect_to(p, cc, "localhost", &s));
    CHECK_OK(sk_sock_sendall(s, "ping", 4, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 4), 4);
    bool reused = sk_tls_session_reused(s);

    sk_sock_free(s);
    return reused;
}

SK_TEST(resumption_and_ticket_rotation)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server"), *cc = client_ctx();

    peer_start(&p, sc, ECHO, 6);
    CHECK(!one_session(&p, cc));
    CHECK(one_session(&p, cc));
    /* One rotation: the previous key still opens the ticket. */
    CHECK_OK(sk_tls_ctx_rotate_ticket_keys(sc));
    CHECK(one_session(&p, cc));
    /* Two more: the client's ticket is under a forgotten key. */
    CHECK_OK(sk_tls_ctx_rotate_ticket_keys(sc));
    CHECK_OK(sk_tls_ctx_rotate_ticket_keys(sc));
    CHECK(!one_session(&p, cc));
    /* Resumption off on the client: always a full handshake. */
    CHECK_OK(sk_tls_ctx_set_resumption(cc, false));
    CHECK(!one_session(&p, cc));
    CHECK(!one_session(&p, cc));
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(nonblocking_handshake_wants)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;
    int r, wants = 0;

    peer_begin(&p, server_ctx("server"), ECHO, 1, true);
    CHECK_OK(sk_create_connection(&s, "127.0.0.1", p.port, AF_INET, 10.0, NULL));
    CHECK_OK(sk_sock_settimeout(s, 0.0));
    /* Nobody answers yet: the ClientHello goes out and the call must not
     * wait for the reply. */
    r = sk_tls_wrap(s, cc, "localhost");
    CHECK_ERR(r, SK_ETLS_WANT_READ);
    CHECK(sk_tls_version(s) == NULL);
    p.hold = false;
    while (r == SK_ETLS_WANT_READ || r == SK_ETLS_WANT_WRITE) {
        fd_set rd, wr;

        wants++;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(sk_sock_fileno(s), r == SK_ETLS_WANT_READ ? &rd : &wr);
        CHECK(select(sk_sock_fileno(s) + 1, &rd, &wr, NULL, NULL) == 1);
        r = sk_tls_handshake(s);
    }
    CHECK_OK(r);
    CHECK_INT(wants, >=, 1);
    CHECK_STR(sk_tls_version(s), "TLSv1.3");
    char buf[4];

    CHECK_ERR(sk_sock_recv(s, buf, sizeof buf, 0), SK_ETLS_WANT_READ);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

/* ---- ends of stream ------------------------------------------------------------ */

SK_TEST(ragged_eof_is_not_clean)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;
    char buf[8];

    peer_start(&p, server_ctx("server"), RAGGED, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 3), 3);
    CHECK_ERR(sk_sock_recv(s, buf, sizeof buf, 0), SK_ETLS_EOF);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(close_notify_is_clean_eof)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;
    char buf[8];

    peer_start(&p, server_ctx("server"), CLEAN, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 3), 3);
    CHECK_EQ(sk_sock_recv(s, buf, sizeof buf, 0), 0);
    CHECK_ERR(sk_frame_recv_exact(s, buf, 1), SK_EOF);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(unwrap_back_to_plain)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    sk_sock *s;
    char buf[8];

    peer_start(&p, server_ctx("server"), STARTTLS, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_OK(sk_sock_sendall(s, "tls", 3, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 3), 3);
    CHECK_OK(sk_tls_unwrap(s));
    CHECK(sk_tls_version(s) == NULL);
    CHECK_ERR(sk_tls_unwrap(s), -EINVAL);
    CHECK_OK(sk_sock_sendall(s, "plain", 5, NULL));
    CHECK_EQ(sk_frame_recv_exact(s, buf, 5), 5);
    CHECK_MEM(buf, "PLAIN", 5);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

/* ---- deadlines and records ------------------------------------------------------ */

SK_TEST(sendall_reports_bytes_at_deadline)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    size_t big = 64u << 20, sent = 0;
    char *data = calloc(1, big);
    sk_sock *s;

    CHECK(data != NULL);
    peer_start(&p, server_ctx("server"), STALL, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_OK(sk_sock_settimeout(s, 0.5));
    double t0 = sk_test_now();

    CHECK_ERR(sk_sock_sendall(s, data, big, &sent), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.4, 10.0);
    CHECK_INT(sent, >, 0);
    CHECK_INT(sent, <, big);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
    free(data);
}

SK_TEST(recv_exact_across_one_byte_records)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    char buf[1000];
    sk_sock *s;

    peer_start(&p, server_ctx("server"), ONE_BYTE, 1);
    CHECK_OK(connect_to(&p, cc, "localhost", &s));
    CHECK_EQ(sk_frame_recv_exact(s, buf, sizeof buf), 1000);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(buf[i], 'a' + i % 26);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

SK_TEST(handshake_times_out_on_silent_peer)
{
    sk_tls_ctx *cc = client_ctx();
    sk_sock *l, *s;
    sk_addr a;
    char port[8];

    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_create_server(&l, &a, SOCK_STREAM, 4, 0));
    CHECK_OK(sk_sock_getsockname(l, &a));
    snprintf(port, sizeof port, "%d", sk_addr_port(&a));
    double t0 = sk_test_now();

    /* The kernel accepts; nobody answers the ClientHello. */
    CHECK_ERR(sk_tls_connect(&s, "127.0.0.1", port, cc, 0.3), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.25, 10.0);
    sk_sock_free(l);
    sk_tls_ctx_free(cc);
}

SK_TEST(not_tls_peer)
{
    sk_tls_ctx *cc = client_ctx();
    sk_sock *l, *s, *c;
    sk_addr a;
    char port[8];

    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_create_server(&l, &a, SOCK_STREAM, 4, 0));
    CHECK_OK(sk_sock_getsockname(l, &a));
    snprintf(port, sizeof port, "%d", sk_addr_port(&a));
    CHECK_OK(sk_create_connection(&s, "127.0.0.1", port, AF_INET, 10.0, NULL));
    CHECK_OK(sk_sock_accept(l, &c, NULL));
    CHECK_OK(sk_sock_sendall(c, "HTTP/1.0 400 Bad Request\r\n\r\n", 28, NULL));
    CHECK_ERR(sk_tls_wrap(s, cc, "localhost"), SK_ETLS_NOT_TLS);
    CHECK(sk_tls_version(s) == NULL);
    sk_sock_free(s);
    sk_sock_free(c);
    sk_sock_free(l);
    sk_tls_ctx_free(cc);
}

/* Both ends export the same keying material (what NTS's keys are). */
SK_TEST(export_keying_material_agrees)
{
    struct peer p;
    sk_tls_ctx *cc = client_ctx();
    unsigned char mine[32], theirs[32], other[32];
    sk_sock *s;

    peer_start(&p, server_ctx("server"), EXPORT, 1);
    CHECK_OK(sk_tls_connect(&s, "127.0.0.1", p.port, cc, 10.0));
    CHECK_OK(sk_tls_export_keying_material(s, "EXPORTER-sockit-test", "\0\0\0\x0f\0", 5,
                                           mine, sizeof mine));
    CHECK_EQ(sk_frame_recv_exact(s, theirs, sizeof theirs), (ssize_t)sizeof theirs);
    CHECK_MEM(mine, theirs, sizeof mine);
    CHECK_OK(sk_tls_export_keying_material(s, "EXPORTER-sockit-test", "\0\0\0\x0f\1", 5,
                                           other, sizeof other));
    CHECK(memcmp(mine, other, sizeof mine) != 0);
    CHECK_ERR(sk_tls_export_keying_material(NULL, "x", NULL, 0, mine, 1), -EINVAL);
    sk_sock_free(s);
    peer_stop(&p);
    sk_tls_ctx_free(cc);
}

/* ---- the server side against clients that are not sockit ----------------------- */

/* Runs `cmd` (a shell command line) and returns its standard output in
 * out[size]; *status is its exit status. */
static void run_capture(const char *cmd, char *out, size_t size, int *status)
{
    FILE *f = popen(cmd, "r");
    size_t n = 0;

    CHECK(f != NULL);
    while (n + 1 < size) {
        size_t got = fread(out + n, 1, size - 1 - n, f);

        if (got == 0)
            break;
        n += got;
    }
    out[n] = '\0';
    *status = pclose(f);
}

static void require(const char *program)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    if (system(cmd) != 0)
        SK_SKIP("a TLS peer program is not installed (scripts/install-deps.sh test)");
}

SK_TEST(server_against_openssl_s_client)
{
    struct peer p;
    sk_tls_ctx *sc = server_ctx("server");
    char cmd[1024], out[4096];
    int status;

    require("openssl");
    CHECK_OK(sk_tls_ctx_load_verify_locations(sc, sk_test_cert("ca", ".pem"), NULL));
    CHECK_OK(sk_tls_ctx_set_verify_mode(sc, SK_TLS_VERIFY_REQUIRED));
    peer_start(&p, sc, CLEAN, 1);
    /* Mutual TLS: s_client presents the test client certificate. */
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%s -servername localhost -CAfile %s "
             "-verify_return_error -verify_hostname localhost -cert %s -key %s -ign_eof "
             "-quiet </dev/null 2>/dev/null",
             p.port, sk_test_cert("ca", ".pem"), sk_test_cert("client", ".pem"), sk_test_cert("client", ".key"));
    run_capture(cmd, out, sizeof out, &status);
    CHECK_STR(out, "bye");
    CHECK_EQ(status, 0);
    peer_stop(&p);
    CHECK_EQ(p.handshakes, 1);
}

SK_TEST(server_against_gnutls_cli)
{
    struct peer p;
    char cmd[1024], out[8192];
    int status;

    require("gnutls-cli");
    peer_start(&p, server_ctx("server"), CLEAN, 2);
    /* --resume: a second connection resumes the first one's session (our
     * ticket).  Standard input stays open until the server has closed. */
    snprintf(cmd, sizeof cmd,
             "sleep 5 | gnutls-cli --resume --x509cafile %s -p %s localhost 2>&1",
             sk_test_cert("ca", ".pem"), p.port);
    run_capture(cmd, out, sizeof out, &status);
    CHECK(strstr(out, "Handshake was completed") != NULL);
    CHECK(strstr(out, "This is a resumed session") != NULL);
    CHECK(strstr(out, "\nbye") != NULL);
    peer_stop(&p);
    CHECK_EQ(p.handshakes, 2);
}

SK_TEST(server_against_python_ssl)
{
    struct peer p;
    char cmd[2048], out[256];
    int status;

    require("python3");
    peer_start(&p, server_ctx("server"), ECHO, 1);
    /* Python's client sends, reads the echo, then unwraps (close_notify
     * both ways: the server's echo loop ends on the clean close). */
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import socket, ssl\n"
             "c = ssl.create_default_context(cafile='%s')\n"
             "s = c.wrap_socket(socket.create_connection(('127.0.0.1', %s), 10),"
             " server_hostname='localhost')\n"
             "s.sendall(b'x' * 100000)\n"
             "got = b''\n"
             "while len(got) < 100000: got += s.recv(65536)\n"
             "print(s.version(), len(got), got == b'x' * 100000)\n"
             "s.unwrap().close()\"",
             sk_test_cert("ca", ".pem"), p.port);
    run_capture(cmd, out, sizeof out, &status);
    CHECK_STR(out, "TLSv1.3 100000 True\n");
    CHECK_EQ(status, 0);
    peer_stop(&p);
}
