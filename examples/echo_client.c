/* SPDX-License-Identifier: MIT */
/*
 * examples/echo_client.c - sends three lines to an echo server and prints what comes
 * back, the C twin of the classic Python tutorial client:
 *
 *     s = socket.create_connection((HOST, PORT))
 *     for line in LINES:
 *         s.sendall(line)
 *         print("Sent:", line)
 *         print("Received:", s.recv(1024))
 *
 * Unlike that client it reads back exactly as many bytes as it sent (TCP is
 * a byte stream: one recv may return part of a reply, or parts of two), and
 * a reply that differs from what was sent is an error.  With --udp each line
 * is one datagram.
 *
 * Usage: echo_client [--udp] [HOST] [PORT]   (default localhost 8881)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROG "echo_client"

static const char *const LINES[] = {
    "Hello, world",
    "This is the echo client",
    "Goodbye",
};

/*
 * Sends each line and waits for its echo.  Returns 0, 1 when a reply
 * differed (already reported), or a negative error code.
 */
static int converse(sk_sock *s, bool udp)
{
    for (size_t i = 0; i < sizeof LINES / sizeof LINES[0]; i++) {
        const char *line = LINES[i];
        size_t len = strlen(line);
        char reply[1024];
        ssize_t n;
        int rc = sk_sock_sendall(s, line, len, NULL);

        if (rc < 0)
            return rc;
        if (udp)
            n = sk_sock_recv(s, reply, sizeof reply - 1, 0); /* one datagram */
        else
            n = sk_frame_recv_exact(s, reply, len);
        if (n < 0)
            return (int)n;
        reply[n] = '\0';
        printf("Sent: %s\n", line);
        printf("Received: %s\n", reply);
        if ((size_t)n != len || memcmp(reply, line, len) != 0) {
            fprintf(stderr, PROG ": the reply differs from what was sent\n");
            return 1;
        }
    }
    return 0;
}

/* TCP: create_connection tries every address of `host` for us. */
static int converse_tcp(const char *host, const char *port)
{
    sk_sock *s;
    int rc = sk_create_connection(&s, host, port, AF_UNSPEC, SK_TIMEOUT_DEFAULT, NULL);

    if (rc < 0)
        return rc;
    rc = converse(s, false);
    sk_sock_free(s);
    return rc;
}

/*
 * UDP: tries each address of `host` until one is not refused.  connect() on
 * a datagram socket only fixes the peer, but it lets the kernel report
 * "connection refused" instead of leaving us waiting for a reply.
 */
static int converse_udp(const char *host, const char *port)
{
    sk_addrinfo *list, *ai;
    sk_sock *s;
    int rc = sk_getaddrinfo(host, port, AF_UNSPEC, SOCK_DGRAM, 0, 0, 10.0, &list);

    if (rc < 0)
        return rc;
    for (ai = list; ai != NULL; ai = ai->next) {
        rc = sk_sock_open(&s, ai->family, SOCK_DGRAM, 0);
        if (rc < 0)
            break;
        rc = sk_sock_connect(s, &ai->addr);
        if (rc == 0)
            rc = converse(s, true);
        sk_sock_free(s);
        if (rc != -ECONNREFUSED)
            break;
    }
    sk_addrinfo_free(list);
    return rc;
}

int main(int argc, char **argv)
{
    const char *args[2] = { "localhost", "8881" };
    bool udp = false;
    int nargs = 0, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--udp") == 0)
            udp = true;
        else if (argv[i][0] != '-' && nargs < 2)
            args[nargs++] = argv[i];
        else
            goto usage;
    }
    if (sk_port_parse(args[1], udp ? "udp" : "tcp") < 0)
        goto usage;

    /* Like socket.setdefaulttimeout(10): a silent server (or a lost
     * datagram) makes us fail instead of hang. */
    sk_setdefaulttimeout(10.0);
    rc = udp ? converse_udp(args[0], args[1]) : converse_tcp(args[0], args[1]);
    if (rc < 0)
        fprintf(stderr, PROG ": %s port %s: %s\n", args[0], args[1], sk_strerror(rc));
    return rc == 0 ? 0 : 1;

usage:
    fprintf(stderr, "usage: " PROG " [--udp] [HOST] [PORT]\n");
    return 2;
}
