/* SPDX-License-Identifier: MIT */
/*
 * examples/daytime_client.c - prints the line a daytime server sends, the C twin of
 * the classic Python tutorial client:
 *
 *     s = socket.create_connection((HOST, 9999))
 *     tm = s.recv(1024)
 *     s.close()
 *     print("The time got from the server is %s" % tm.decode("ascii"))
 *
 * It reads until the server closes rather than trusting one recv to return
 * the whole line, and drops the line's CR LF before printing.
 *
 * Usage: daytime_client [HOST] [PORT]      (default localhost 9999)
 */
#include "sockit.h"

#include <stdio.h>

#define PROG "daytime_client"

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "localhost";
    const char *port = argc > 2 ? argv[2] : "9999";
    char tm[1024];
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
    /* recv() returning 0 means the server has closed: the line is whole. */
    while (len < sizeof tm && (n = sk_sock_recv(s, tm + len, sizeof tm - len, 0)) > 0)
        len += (size_t)n;
    sk_sock_free(s);
    if (n < 0) {
        fprintf(stderr, PROG ": recv: %s\n", sk_strerror((int)n));
        return 1;
    }
    while (len > 0 && (tm[len - 1] == '\n' || tm[len - 1] == '\r'))
        len--;
    printf("The time got from the server is %.*s\n", (int)len, tm);
    return 0;
}
