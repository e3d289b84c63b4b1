/* SPDX-License-Identifier: MIT */
/*
 * examples/hello_client.c - connects, prints what the server says, and exits: the C
 * twin of the classic first Python socket client:
 *
 *     s = socket.create_connection((HOST, 12345))
 *     print(s.recv(1024).decode())
 *     s.close()
 *
 * It reads until the server closes rather than trusting one recv to return
 * the whole greeting.
 *
 * Usage: hello_client [HOST] [PORT]        (default localhost 12345)
 */
#include "sockit.h"

#include <stdio.h>

#define PROG "hello_client"

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    const char *port = argc > 2 ? argv[2] : "12345";
    char data[1024];
    size_t len = 0;
    ssize_t n = 0;
    sk_sock *s;
    int rc;

    if (argc > 3 || host[0] == '-' || sk_port_parse(port, "tcp") < 0) {
        fprintf(stderr, "usage: " PROG " [HOST] [PORT]\n");
        return 2;
    }
    /* Like socket.setdefaulttimeout(10): never wait forever. */
    sk_setdefaulttimeout(10.0);
    rc = sk_create_connection(&s, host, port, AF_UNSPEC, SK_TIMEOUT_DEFAULT, NULL);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s port %s: %s\n", host, port, sk_strerror(rc));
        return 1;
    }
    /* recv() returning 0 means the server has closed: the message is whole. */
    while (len < sizeof data && (n = sk_sock_recv(s, data + len, sizeof data - len, 0)) > 0)
        len += (size_t)n;
    sk_sock_free(s);
    if (n < 0) {
        fprintf(stderr, PROG ": recv: %s\n", sk_strerror((int)n));
        return 1;
    }
    printf("%.*s\n", (int)len, data);
    return 0;
}
