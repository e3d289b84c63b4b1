/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_tls_stage.c - the server framework's TLS handshake stage
 * (lib/server/tls_stage.c) fed arbitrary client bytes: a running sk_server
 * with one TLS service on loopback (its greeting, written in on_open, is
 * the plaintext "SK-GREETING"), and per input one connection that sends
 * the bytes (in chunks the first byte chooses), ends its stream and reads
 * until the server closes.
 *
 * Properties: the server always closes the connection (no input, however
 * it ends, leaves a handshake waiting: the peer's end of stream fails it);
 * what comes back is nothing or TLS records (its first byte a handshake
 * or alert record's type), never the greeting; on_open never runs, as no
 * byte string completes a handshake without the client's keys; and the
 * server keeps serving.
 *
 * The certificate is a throwaway self-signed test certificate (ECDSA
 * P-256, valid to 2126), written to a temporary file at start.
 *
 * Input: [chunk control][client bytes]: control 0 sends the bytes in one
 * write, n > 0 in writes of n bytes.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include "sockit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUFm96Im/pSSd1w2fFVE4BEBE9ttwwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNzAzMjgwMFoYDzIxMjYxMTEz\n"
    "MDMyODAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAATZ71gvviBEb+09KhOumE9TFUt2RbcnZFoz4P3WygdaQLrXBlvxTLs+\n"
    "8CVVX9uE3iAX6GTDHpMuaUxZ5bKhgatKo28wbTAdBgNVHQ4EFgQUlqUPWcbJhQiJ\n"
    "dId+pW3A1nzaXgwwHwYDVR0jBBgwFoAUlqUPWcbJhQiJdId+pW3A1nzaXgwwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIgLgXf9vbh86xGma98d0ETWGzAWqbrqkMuB7h9EABCrM8CIQCI\n"
    "lJMy+5//ZKPDP39HiElo8TyzHT8R5wuNECYgzpYU3g==\n"
    "-----END CERTIFICATE-----\n";

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCHATDkxUP3vUIUvL\n"
    "9dlCykwp3iidGxb0DqpMrmV9G1OhRANCAATZ71gvviBEb+09KhOumE9TFUt2Rbcn\n"
    "ZFoz4P3WygdaQLrXBlvxTLs+8CVVX9uE3iAX6GTDHpMuaUxZ5bKhgatK\n"
    "-----END PRIVATE KEY-----\n";

static sk_server *srv;
static sk_addr bound;
static atomic_int opens;

static void greet(sk_conn *c)
{
    atomic_fetch_add(&opens, 1);
    sk_conn_write(c, "SK-GREETING", 11);
}

static const sk_tcp_handler handler = { .on_open = greet };

static void *run(void *arg)
{
    (void)arg;
    sk_server_run(srv);
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    FUZZ_ASSERT(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Logs of refused handshakes are expected by the thousand: dropped. */
static void quiet(void *arg, const char *line)
{
    (void)arg, (void)line;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/sk-fuzz-tls-XXXXXX", cert[64], key[64];
    sk_server_config cfg = SK_SERVER_CONFIG_INIT;
    sk_tls_ctx *ctx;
    sk_addr any;
    pthread_t t;

    (void)argc, (void)argv;
    if (!sk_tls_available())
        return 0;
    FUZZ_ASSERT(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    write_file(cert, cert_pem);
    write_file(key, key_pem);
    FUZZ_ASSERT(sk_tls_ctx_new(&ctx, SK_TLS_SERVER) == 0, "ctx");
    FUZZ_ASSERT(sk_tls_ctx_load_cert_chain(ctx, cert, key) == 0, "cert");
    unlink(cert);
    unlink(key);
    rmdir(dir);
    cfg.threads = 1;
    cfg.tls_handshake_timeout = 5.0;
    cfg.log = quiet;
    FUZZ_ASSERT(sk_server_new(&srv, &cfg) == 0, "server");
    FUZZ_ASSERT(sk_addr_from_ip(&any, "127.0.0.1", 0, AF_INET) == 0, "addr");
    FUZZ_ASSERT(sk_server_add_tcp(srv, &any, 0, &handler, NULL, &bound) == 0, "add");
    FUZZ_ASSERT(sk_server_set_tls(srv, 0, ctx) == 0, "set_tls");
    sk_tls_ctx_free(ctx);
    FUZZ_ASSERT(pthread_create(&t, NULL, run, NULL) == 0, "thread");
    pthread_detach(t);
    return 0;
}

/* Sends data in writes of `chunk` bytes (0: one write); a reset by the
 * server (it refused what came first) ends the sending. */
static void send_all(int fd, const uint8_t *data, size_t size, size_t chunk)
{
    size_t off = 0;

    while (off < size) {
        size_t n = chunk == 0 || size - off < chunk ? size - off : chunk;
        ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL);

        if (w < 0) {
            FUZZ_ASSERT(errno == EPIPE || errno == ECONNRESET || errno == EINTR,
                        "send: %s", strerror(errno));
            if (errno != EINTR)
                return;
            continue;
        }
        off += (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct timeval tv = { 20, 0 };
    uint8_t reply[4096];
    size_t got = 0;
    int fd;

    if (srv == NULL || size == 0)
        return 0;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_ASSERT(fd >= 0, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    FUZZ_ASSERT(connect(fd, &bound.u.sa, bound.len) == 0, "connect: %s", strerror(errno));
    send_all(fd, data + 1, size - 1, data[0]);
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, got < sizeof reply ? reply + got : reply,
                         got < sizeof reply ? sizeof reply - got : sizeof reply, 0);

        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        FUZZ_ASSERT(n > 0 || errno == EINTR, "the server did not close: %s", strerror(errno));
        if (n > 0 && got < sizeof reply)
            got += (size_t)n;
    }
    close(fd);
    FUZZ_ASSERT(got == 0 || reply[0] == 0x15 || reply[0] == 0x16,
                "reply starts with 0x%02x, not a TLS record", reply[0]);
    FUZZ_ASSERT(memmem(reply, got, "SK-GREETING", 11) == NULL, "the greeting went out");
    FUZZ_ASSERT(atomic_load(&opens) == 0, "on_open ran");
    return 0;
}
