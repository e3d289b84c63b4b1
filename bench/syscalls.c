/* SPDX-License-Identifier: MIT */
/*
 * bench/syscalls.c - the steady-state blocking path of libsockit, for counting
 * system calls with `strace -c -f`.
 *
 *   syscalls N [unix|tcp]
 *
 * Makes a connected pair (a socketpair, or a loopback TCP connection made
 * with the public API), gives both sockets a 5-second timeout, then N times:
 * sk_sock_send on one side, sk_sock_recv on the other, sk_sock_sendall back
 * and sk_frame_recv_exact to read it - every call finds its data or buffer
 * space ready.  A library that tries the call first and waits only on
 * EAGAIN makes 2N send-type and 2N receive-type system calls and no
 * poll-type call at all in that loop; bench/syscall_count checks this.
 *
 * Prints `calls send=2N recv=2N` on success (exit 0); any error or wrong
 * byte is reported on stderr with exit 1.
 */
#include <sockit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN 64
#define TIMEOUT_S 5.0

static int fail(const char *what, long rc)
{
    fprintf(stderr, "syscalls: %s: %s\n", what, sk_strerror((int)rc));
    return 1;
}

/* A connected loopback TCP pair, built without the resolver or threads. */
static int tcp_pair(sk_sock *pair[2])
{
    sk_sock *listener = NULL;
    sk_addr addr;
    int rc = sk_addr_from_ip(&addr, "127.0.0.1", 0, AF_INET);

    if (rc < 0)
        return rc;
    rc = sk_create_server(&listener, &addr, SOCK_STREAM, -1, 0);
    if (rc < 0)
        return rc;
    rc = sk_sock_getsockname(listener, &addr);
    if (rc < 0)
        goto out_listener;
    rc = sk_sock_open(&pair[0], AF_INET, SOCK_STREAM, 0);
    if (rc < 0)
        goto out_listener;
    rc = sk_sock_connect(pair[0], &addr);
    if (rc < 0)
        goto out_client;
    rc = sk_sock_accept(listener, &pair[1], NULL);
    if (rc < 0)
        goto out_client;
    sk_sock_free(listener);
    return 0;

out_client:
    sk_sock_free(pair[0]);
out_listener:
    sk_sock_free(listener);
    return rc;
}

/* One round: a -> b with send/recv, b -> a with sendall/recv_exact. */
static int round_trip(sk_sock *a, sk_sock *b, long i)
{
    char msg[MSG_LEN], got[MSG_LEN];
    ssize_t n;
    int rc;

    memset(msg, 'a' + (int)(i % 26), sizeof msg);
    n = sk_sock_send(a, msg, sizeof msg, 0);
    if (n != MSG_LEN)
        return fail("send", n < 0 ? n : SK_ETIMEOUT);
    n = sk_sock_recv(b, got, sizeof got, 0);
    if (n != MSG_LEN || memcmp(msg, got, MSG_LEN) != 0)
        return fail("recv", n < 0 ? n : -EIO);
    rc = sk_sock_sendall(b, got, sizeof got, NULL);
    if (rc < 0)
        return fail("sendall", rc);
    n = sk_frame_recv_exact(a, got, sizeof got);
    if (n < 0)
        return fail("recv_exact", n);
    if (memcmp(msg, got, MSG_LEN) != 0)
        return fail("recv_exact", -EIO);
    return 0;
}

int main(int argc, char **argv)
{
    sk_sock *pair[2] = {NULL, NULL};
    long n = argc > 1 ? atol(argv[1]) : 0;
    const char *mode = argc > 2 ? argv[2] : "unix";
    int rc, status = 1;

    if (n <= 0 || argc > 3 || (strcmp(mode, "unix") != 0 && strcmp(mode, "tcp") != 0)) {
        fprintf(stderr, "usage: syscalls N [unix|tcp]\n");
        return 2;
    }
    rc = strcmp(mode, "tcp") == 0 ? tcp_pair(pair) : sk_sock_pair(pair, AF_UNIX, SOCK_STREAM);
    if (rc < 0)
        return fail("pair", rc);
    for (int k = 0; k < 2; k++) {
        rc = sk_sock_settimeout(pair[k], TIMEOUT_S);
        if (rc < 0) {
            fail("settimeout", rc);
            goto out;
        }
    }
    for (long i = 0; i < n; i++)
        if (round_trip(pair[0], pair[1], i) != 0)
            goto out;
    printf("calls send=%ld recv=%ld\n", 2 * n, 2 * n);
    status = 0;
out:
    sk_sock_free(pair[0]);
    sk_sock_free(pair[1]);
    return status;
}
