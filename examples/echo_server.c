/* SPDX-License-Identifier: MIT */
/*
 * examples/echo_server.c - sends back everything a client sends, one client at a
 * time, the C twin of the classic Python tutorial server:
 *
 *     s = socket.create_server(("", PORT))
 *     while True:
 *         conn, addr = s.accept()
 *         print("Connected from", addr)
 *         while data := conn.recv(1024):
 *             conn.sendall(data)
 *         conn.close()
 *         print("Disconnected from", addr)
 *
 * With --udp it sends every datagram back to its sender.
 *
 * Usage: echo_server [--udp] [PORT]        (default port 8881)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROG "echo_server"
#define DEFAULT_PORT "8881"

static void fail(const char *what, int code)
{
    fprintf(stderr, PROG ": %s: %s\n", what, sk_strerror(code));
}

/*
 * Python's create_server(("", port), family=AF_INET6, dualstack_ipv6=True)
 * where the system has dual-stack IPv6, else create_server(("", port)).
 * Prints the ready line.  Returns 0 or a negative error code.
 */
static int open_server(sk_sock **out, int port, int type)
{
    bool dual = sk_has_dualstack_ipv6();
    sk_addr addr;
    char text[SK_ADDRSTRLEN];
    int rc;

    sk_addr_from_ip(&addr, dual ? "::" : "0.0.0.0", port, dual ? AF_INET6 : AF_INET);
    rc = sk_create_server(out, &addr, type, 5, dual ? SK_SERVER_DUALSTACK : 0);
    if (rc < 0)
        return rc;
    sk_sock_getsockname(*out, &addr);
    sk_addr_format(&addr, text, sizeof text);
    printf("Listening on %s%s\n", text, type == SOCK_DGRAM ? " (UDP)" : "");
    return 0;
}

/* Echoes until the client closes (or the connection fails). */
static void echo_stream(sk_sock *conn)
{
    char data[1024];
    ssize_t n;

    while ((n = sk_sock_recv(conn, data, sizeof data, 0)) > 0) {
        int rc = sk_sock_sendall(conn, data, (size_t)n, NULL);

        if (rc < 0) {
            n = rc;
            break;
        }
    }
    if (n < 0)
        fail("connection", (int)n);
}

/* Serves TCP clients one after another, forever.  Returns 1 on a failure
 * of the listening socket itself. */
static int serve_tcp(sk_sock *s)
{
    for (;;) {
        sk_sock *conn;
        sk_addr addr;
        char text[SK_ADDRSTRLEN];
        int rc = sk_sock_accept(s, &conn, &addr);

        if (rc == -ECONNABORTED)
            continue; /* the client gave up before we got to it */
        if (rc < 0) {
            fail("accept", rc);
            return 1;
        }
        sk_addr_format(&addr, text, sizeof text);
        printf("Connected from %s\n", text);
        /* We serve one client at a time: one that goes quiet for a minute
         * is dropped so that it cannot keep the others waiting forever. */
        sk_sock_settimeout(conn, 60.0);
        echo_stream(conn);
        sk_sock_free(conn);
        printf("Disconnected from %s\n", text);
    }
}

/* Sends every datagram back where it came from. */
static int serve_udp(sk_sock *s)
{
    for (;;) {
        char data[65536];
        sk_addr addr;
        char text[SK_ADDRSTRLEN];
        ssize_t n = sk_sock_recvfrom(s, data, sizeof data, 0, &addr);

        if (n < 0) {
            fail("recvfrom", (int)n);
            return 1;
        }
        sk_addr_format(&addr, text, sizeof text);
        printf("Echoing %zd bytes to %s\n", n, text);
        n = sk_sock_sendto(s, data, (size_t)n, 0, &addr);
        if (n < 0)
            fail("sendto", (int)n);
    }
}

int main(int argc, char **argv)
{
    const char *port_text = DEFAULT_PORT;
    bool udp = false;
    int nargs = 0, port, rc;
    sk_sock *s;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--udp") == 0)
            udp = true;
        else if (argv[i][0] != '-' && nargs++ == 0)
            port_text = argv[i];
        else
            goto usage;
    }
    port = sk_port_parse(port_text, udp ? "udp" : "tcp");
    if (port < 0)
        goto usage;

    /* Line-buffered, so whoever reads our output through a pipe sees each
     * line as soon as it is printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = open_server(&s, port, udp ? SOCK_DGRAM : SOCK_STREAM);
    if (rc < 0) {
        fail(port_text, rc);
        return 1;
    }
    rc = udp ? serve_udp(s) : serve_tcp(s);
    sk_sock_free(s);
    return rc;

usage:
    fprintf(stderr, "usage: " PROG " [--udp] [PORT]\n");
    return 2;
}
